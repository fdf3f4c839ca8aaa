//! The CLI as a user runs it: local runs, submit --wait, status, exit codes.

use std::process::{Command, Output};

use crate::support::*;

fn obelysk(args: &[&str]) -> Output {
    Command::new(OBELYSK).args(args).output().unwrap()
}

/// `obelysk` from async tests, off the runtime's threads.
async fn obelysk_async(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || Command::new(OBELYSK).args(&args).output().unwrap())
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_locally() {
    plugin("fibonacci");
    plugin("sha256");
    let dir = plugins_dir();
    let fib = dir.join("fibonacci.wasm");
    let out = obelysk(&["run", fib.to_str().unwrap(), "--input", "10", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(words(&json["output"]), vec![55]);

    let sha = dir.join("sha256.wasm");
    let out = obelysk(&["run", sha.to_str().unwrap(), "--input-text", "abc"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains(&format!("{}", sha256(b"abc")[0])), "{text}");

    // Failures exit non-zero with the reason.
    let out = obelysk(&[
        "run",
        fib.to_str().unwrap(),
        "--input",
        "100000000",
        "--fuel",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("out_of_fuel"),
        "{out:?}"
    );
    let out = obelysk(&["run", fib.to_str().unwrap(), "--input", "12,x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`x` is not a u32"),
        "{out:?}"
    );
    let out = obelysk(&["run", "/nonexistent.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    let out = obelysk(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = obelysk(&["build", "/nonexistent/guest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no Cargo.toml"),
        "{out:?}"
    );
}

#[test]
fn inspect_explains_what_the_vm_supports() {
    let dir = temp_dir();
    let stage1 = dir.path().join("sum_input.wasm");
    std::fs::write(&stage1, fixture("sum_input")).unwrap();
    let out = obelysk(&["inspect", stage1.to_str().unwrap(), "--ir"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("supported:") && text.contains("halt"),
        "{text}"
    );

    let dynamic = dir.path().join("table_set.wasm");
    std::fs::write(&dynamic, fixture("table_set")).unwrap();
    let out = obelysk(&["inspect", dynamic.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["vm"]["supported"], false);
    assert!(
        json["vm"]["unsupported"]["table.set"].as_u64().unwrap() > 0,
        "{json}"
    );
    assert_eq!(json["id"].as_str().unwrap().len(), 64);

    // Floats are refused outright, by name, before anything runs.
    let floats = dir.path().join("float_sqrt.wasm");
    std::fs::write(&floats, fixture("float_sqrt")).unwrap();
    for command in ["inspect", "run"] {
        let out = obelysk(&[command, floats.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unsupported_feature") && stderr.contains("f64.sqrt"),
            "{command}: {stderr}"
        );
    }

    let wasi = dir.path().join("wasi.wasm");
    std::fs::write(&wasi, fixture("wasi_import")).unwrap();
    let out = obelysk(&["inspect", wasi.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported_import"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_wait_and_status_against_a_node() {
    let tmp = temp_dir();
    let node = Node::start(tmp.path(), DEFAULT_CONFIG);
    plugin("collatz");
    let module = plugins_dir().join("collatz.wasm");
    let module = module.to_str().unwrap();
    let url = node.url.as_str();
    // A module outside the provable subset is refused unless only run.
    let dynamic = tmp.path().join("table_set.wasm");
    std::fs::write(&dynamic, fixture("table_set")).unwrap();
    let dynamic = dynamic.to_str().unwrap();
    let out = obelysk_async(&["submit", dynamic, "--input", "27", "--node", url]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not_provable") && stderr.contains("table.set"),
        "{stderr}"
    );
    let out = obelysk_async(&[
        "submit",
        module,
        "--input",
        "27",
        "--node",
        url,
        "--wait",
        "--json",
        "--no-prove",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let job: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(job["status"], "completed");
    assert_eq!(words(&job["output"]), collatz(27));

    let out = obelysk_async(&["status", job["id"].as_str().unwrap(), "--node", url]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("completed"));

    // A job that fails makes `submit --wait` exit non-zero.
    let out = obelysk_async(&[
        "submit",
        module,
        "--input",
        "0",
        "--node",
        url,
        "--wait",
        "--no-prove",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).contains("trap"));

    // An unreachable node is a clear error.
    let out = obelysk(&["status", "x", "--node", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach the node"),
        "{out:?}"
    );
}

#[test]
fn prove_and_verify_locally() {
    let dir = temp_dir();
    let module = fixture_path("sum_input.wat");
    let proof = dir.path().join("job.proof");
    let (module, proof_path) = (module.to_str().unwrap(), proof.to_str().unwrap());
    let out = obelysk(&["prove", module, "--input", "48,18,7", "-o", proof_path]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("output       [73]"), "{out:?}");

    let out = obelysk(&["verify", module, proof_path, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(words(&json["output"]), vec![73]);
    assert_eq!(json["security_bits"], 96);
    assert!(json["steps"].as_u64().unwrap() > 10);
    let attestation = json["attestation"].as_str().unwrap();
    assert!(
        attestation.starts_with("0x") && attestation.len() == 66,
        "{attestation}"
    );
    let text = stdout(&obelysk(&["verify", module, proof_path]));
    assert!(text.contains(attestation), "{text}");

    // Refusals exit non-zero with a reason: a stronger minimum, another module, a changed byte.
    let out = obelysk(&["verify", module, proof_path, "--min-security", "128"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("insufficient_security"),
        "{out:?}"
    );
    let other = fixture_path("deep_recursion.wat");
    let out = obelysk(&["verify", other.to_str().unwrap(), proof_path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["error"]["code"], "program_mismatch");
    let mut bytes = std::fs::read(&proof).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&proof, bytes).unwrap();
    let out = obelysk(&["verify", module, proof_path]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid proof"),
        "{out:?}"
    );

    // A module outside the provable subset is refused with the instructions it lacks.
    let dynamic = dir.path().join("table_set.wasm");
    std::fs::write(&dynamic, fixture("table_set")).unwrap();
    let out = obelysk(&["prove", dynamic.to_str().unwrap(), "-o", proof_path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported"),
        "{out:?}"
    );
}

/// `[prover] backend = "cuda"` on a machine without a GPU: the node refuses to start and says
/// why (with one, it starts and reports the backend).
#[tokio::test(flavor = "multi_thread")]
async fn serve_with_cuda_backend_needs_a_device() {
    let tmp = temp_dir();
    let config = tmp.path().join("node.toml");
    std::fs::write(
        &config,
        "[prover]\nbackend = \"cuda\"\n[limits]\nworkers = 1\n",
    )
    .unwrap();
    if obelysk_cuda::detect().available {
        let node = Node::start(
            tmp.path(),
            "[prover]\nbackend = \"cuda\"\n[limits]\nworkers = 1\n",
        );
        let (_, gpu) = node.get("/gpu/status").await;
        assert_eq!(gpu["backend"], "cuda", "{gpu}");
        return;
    }
    let out = obelysk(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--port",
        "0",
        "--data-dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a CUDA device"), "{stderr}");
}

/// `obelysk prove --backend`: `auto` on a machine without a GPU makes the very proof `simd`
/// makes; `cuda` there exits non-zero saying why; an unknown name is refused.
#[test]
fn prove_backend_flag() {
    let dir = temp_dir();
    let module = fixture_path("sum_input.wat");
    let module = module.to_str().unwrap();
    let prove = |backend: &str, name: &str| {
        let path = dir.path().join(name);
        let out = obelysk(&[
            "prove",
            module,
            "--input",
            "1,2",
            "-o",
            path.to_str().unwrap(),
            "--backend",
            backend,
        ]);
        (out, path)
    };
    let (out, simd) = prove("simd", "simd.proof");
    assert!(out.status.success(), "{out:?}");
    if !obelysk_cuda::detect().available {
        let (out, auto) = prove("auto", "auto.proof");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(std::fs::read(auto).unwrap(), std::fs::read(&simd).unwrap());
        let (out, _) = prove("cuda", "cuda.proof");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("needs a CUDA device"),
            "{out:?}"
        );
    }
    let (out, _) = prove("gpu", "gpu.proof");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not one of"),
        "{out:?}"
    );
}

/// Ordinary `no_std` Rust as a new user writes it (`tests/fixtures/guest-user`: structs in a
/// `Vec`, slices, a recursive quicksort and a recursive split, u32 arithmetic), built with
/// `obelysk build`, run, proven and verified (rustc moves its 8-byte structs with
/// `i64.load`/`i64.store`).
#[test]
fn a_users_rust_crate_builds_runs_and_proves() {
    let dir = temp_dir();
    let module = dir.path().join("user.wasm");
    let out = obelysk(&[
        "build",
        user_crate().to_str().unwrap(),
        "-o",
        module.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    runs_proves_and_verifies(&module);
}

/// The same crate built the ordinary way, with no Obelysk tooling: `cargo build --release
/// --target wasm32-unknown-unknown` on stable Rust with rustc's default features (reference
/// types and multi-value included). `make test` installs that toolchain
/// (`$OBELYSK_STABLE_RUST`, with its wasm32 standard library).
#[test]
fn a_plain_stable_cargo_build_proves() {
    let toolchain = std::env::var("OBELYSK_STABLE_RUST").unwrap_or_else(|_| "1.95.0".into());
    let dir = temp_dir();
    let out = std::process::Command::new("cargo")
        .arg(format!("+{toolchain}"))
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .arg("--manifest-path")
        .arg(user_crate().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.path())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "stable {toolchain} with the wasm32 target is needed (`make stable-wasm`): {out:?}"
    );
    let module = dir
        .path()
        .join("wasm32-unknown-unknown/release/guest_user.wasm");
    runs_proves_and_verifies(&module);
}

fn user_crate() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/guest-user")
}

/// Runs the user crate's module on a fixed set of points, proves that run and verifies it.
fn runs_proves_and_verifies(module: &std::path::Path) {
    let module_arg = module.to_str().unwrap();
    let points: [(u32, u32); 7] = [
        (5, 1),
        (0, 0),
        (u32::MAX, 2),
        (3, 3),
        (1 << 31, 1 << 31),
        (2, 4),
        (5, 1),
    ];
    let input: Vec<String> = points
        .iter()
        .flat_map(|&(x, y)| [x.to_string(), y.to_string()])
        .collect();
    let out = obelysk(&["run", module_arg, "--input", &input.join(","), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(words(&json["output"]), user_crate_output(&points));
    let proof = module.with_extension("proof");
    let proof = proof.to_str().unwrap();
    let out = obelysk(&[
        "prove",
        module_arg,
        "--input",
        &input.join(","),
        "-o",
        proof,
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = obelysk(&["verify", module_arg, proof]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let expected = user_crate_output(&points);
    assert!(
        text.contains("valid        yes") && text.contains(&format!("{expected:?}")),
        "{text}"
    );
}

/// What `tests/fixtures/guest-user` computes, on the host.
fn user_crate_output(points: &[(u32, u32)]) -> Vec<u32> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|&(x, y)| (x.wrapping_add(y), x));
    fn split(points: &[(u32, u32)]) -> (u32, u32) {
        match points {
            [] => (0, 0),
            [(x, y)] => (0, x.rotate_left(5) ^ y.wrapping_mul(0x9e37_79b9)),
            _ => {
                let (a, b) = points.split_at(points.len() / 2);
                let ((da, ca), (db, cb)) = (split(a), split(b));
                (1 + da.max(db), ca.wrapping_mul(31).wrapping_add(cb))
            }
        }
    }
    let (depth, checksum) = split(&sorted);
    let mut out: Vec<u32> = sorted.iter().flat_map(|&(x, y)| [x, y]).collect();
    out.extend([checksum, depth]);
    out
}
