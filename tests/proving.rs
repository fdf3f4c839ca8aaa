//! Proving in the node: every job executed, proven, verified by the node, its proof served and
//! checked again from a separate process; the pool under load, crashes mid-proof, tampering,
//! and the estimate against what the proofs really took.

use std::process::Command;
use std::time::{Duration, Instant};

use blake2::{Blake2s256, Digest};
use serde_json::{Value, json};

use crate::support::*;

/// One prover, two sandbox workers, a small step limit so oversized runs fail fast.
const CONFIG: &str = "[limits]\nworkers = 2\n[prover]\nworkers = 1\nmax_steps = 1048576\n";

/// `H(words)` of the attestation formula, recomputed here from the DESIGN.md definition.
fn hash_words(words: &[u32]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(b"obelysk/words/v1");
    h.update((words.len() as u32).to_le_bytes());
    for w in words {
        h.update(w.to_le_bytes());
    }
    h.finalize().into()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

async fn get_bytes(node: &Node, path: &str) -> (u16, Vec<u8>) {
    let response = client().get(node.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_proven_verified_served_and_verifies_elsewhere() {
    let tmp = temp_dir();
    let node = Node::start(tmp.path(), CONFIG);
    let module = fixture("mixed");
    let plugin = node.plugin_id(&module).await;
    let input = [48u32, 18, 7];

    let id = node.submit_proven(&plugin, &input).await;
    // Not ready yet: 409 with a retryable code.
    let (status, body) = node.get(&format!("/jobs/{id}/proof")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        (&body["error"]["code"], &body["error"]["retryable"]),
        (&json!("proof_not_ready"), &json!(true))
    );

    // Pushed progress: the stream walks through the proving phases to `completed`.
    let events = read_events(node.url(&format!("/jobs/{id}/events"))).await;
    let steps: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_string(),
                e["phase"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    eprintln!("events: {steps:?}");
    let last = events.last().unwrap();
    assert_eq!(last["status"], "completed", "{last}");
    for (status, phase) in [
        ("proving", "prove"),
        ("verifying", "verify"),
        ("completed", ""),
    ] {
        assert!(
            steps.contains(&(status.to_string(), phase.to_string())),
            "no {status}/{phase} in {steps:?}"
        );
    }
    let progress: Vec<u64> = events
        .iter()
        .map(|e| e["progress"].as_u64().unwrap())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(*progress.last().unwrap(), 100);

    let job = node.wait(&id).await;
    let output = words(&job["output"]);
    let (status, record) = node.get(&format!("/jobs/{id}/proof")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(job["attestation"], record["attestation"]);
    assert_eq!(record["security_bits"], 96);
    assert_eq!(record["steps"], job["vm_steps"]);
    assert!(record["prove_ms"].as_u64().unwrap() > 0);
    // A proven job is counted once as finished, when the prover completes it.
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("obelysk_jobs_finished_total{outcome=\"completed\"} 1"),
        "{metrics}"
    );

    // The raw proof, verified by a separate `obelysk verify` process.
    let (status, bytes) = get_bytes(&node, &format!("/jobs/{id}/proof.bin")).await;
    assert_eq!(status, 200);
    assert_eq!(bytes.len() as u64, record["size"].as_u64().unwrap());
    let proof_path = tmp.path().join("job.proof");
    std::fs::write(&proof_path, &bytes).unwrap();
    let out = Command::new(OBELYSK)
        .arg("verify")
        .arg(fixture_path("mixed.wat"))
        .arg(&proof_path)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["attestation"], record["attestation"]);
    assert_eq!(words(&verdict["output"]), output);

    // The attestation recomputes from the parts, each recomputed from what it names.
    assert_eq!(
        unhex(record["input_hash"].as_str().unwrap()),
        hash_words(&input)
    );
    assert_eq!(
        unhex(record["output_hash"].as_str().unwrap()),
        hash_words(&output)
    );
    let file = obelysk_air::proof::ProofFile::from_bytes(&bytes).unwrap();
    assert_eq!(
        unhex(record["proof_hash"].as_str().unwrap()),
        Blake2s256::digest(&file.body).to_vec()
    );
    assert_eq!(
        record["program_id"].as_str().unwrap(),
        obelysk_vm::lower::lower(&module).unwrap().id().to_string()
    );
    // The attestation is the statement's, not the proof bytes': v2 binds the step count and
    // the AIR version instead.
    let mut h = Blake2s256::new();
    h.update(b"obelysk/attest/v2");
    for part in ["program_id", "input_hash", "output_hash"] {
        h.update(unhex(record[part].as_str().unwrap()));
    }
    h.update(record["steps"].as_u64().unwrap().to_le_bytes());
    h.update(obelysk_air::statement::AIR_VERSION.to_le_bytes());
    h.update(96u32.to_le_bytes());
    assert_eq!(
        format!("0x{}", hex::encode(h.finalize())),
        record["attestation"].as_str().unwrap()
    );

    // The proof is for this input only.
    let out = Command::new(OBELYSK)
        .arg("verify")
        .arg(fixture_path("sum_input.wat"))
        .arg(&proof_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Idempotency covers `prove`: the same key with `prove: false` is another request.
    let request = json!({"plugin": plugin, "input": [1], "prove": true});
    let keyed = |body: &Value| {
        client()
            .post(node.url("/jobs"))
            .header("Idempotency-Key", "proof-key")
            .json(body)
            .send()
    };
    let first = keyed(&request).await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again: Value = keyed(&request).await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let other = keyed(&json!({"plugin": plugin, "input": [1], "prove": false}))
        .await
        .unwrap();
    assert_eq!(other.status(), 409);

    // Unknown jobs are 404; a job run without a proof has none.
    let (status, body) = node
        .get("/jobs/01900000-0000-7000-8000-000000000000/proof")
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("job_not_found"))
    );
    let (_, unproven) = node
        .submit_json(json!({"plugin": plugin, "input": input, "prove": false}))
        .await;
    let unproven = unproven["id"].as_str().unwrap();
    assert_eq!(node.wait(unproven).await["status"], "completed");
    let (status, body) = node.get(&format!("/jobs/{unproven}/proof.bin")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("proof_not_found"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unprovable_modules_are_refused_unless_only_run() {
    let tmp = temp_dir();
    let node = Node::start(tmp.path(), CONFIG);
    let dynamic = node.plugin_id(&fixture("table_set")).await;
    let (status, body) = node
        .submit_json(json!({"plugin": dynamic, "input": [9], "prove": true}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "not_provable");
    assert_eq!(body["error"]["retryable"], false);
    let unsupported = body["error"]["details"]["unsupported"].as_object().unwrap();
    assert!(unsupported.contains_key("table.set"), "{body}");
    // The default is to prove.
    let (status, _) = client()
        .post(node.url("/jobs"))
        .json(&json!({"plugin": dynamic, "input": [9]}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 422);
    let (status, body) = node
        .submit_json(json!({"plugin": dynamic, "input": [9], "prove": false}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(node.output(body["id"].as_str().unwrap()).await, vec![81]);
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_jobs_complete_on_a_pool_of_two_with_bounded_memory() {
    let tmp = temp_dir();
    let config = "[limits]\nworkers = 2\n[prover]\nworkers = 2\n";
    let node = Node::start(tmp.path(), config);
    let sum = node.plugin_id(&fixture("sum_input")).await;
    let started = Instant::now();
    let mut jobs = Vec::new();
    for i in 0..20u32 {
        let input: Vec<u32> = (0..=i).map(|k| k * 1000 + i).collect();
        jobs.push((node.submit_proven(&sum, &input).await, input));
    }
    // Both provers busy at some point: the estimate endpoint reports the pool.
    let mut max_busy = 0;
    let mut attestations = std::collections::HashSet::new();
    for (id, input) in &jobs {
        loop {
            let response = client()
                .post(node.url("/jobs/estimate"))
                .json(&json!({"plugin": sum, "input": [1]}))
                .send()
                .await
                .unwrap();
            let estimate: Value = response.json().await.unwrap();
            max_busy = max_busy.max(estimate["provers_busy"].as_u64().unwrap());
            let (_, job) = node.get(&format!("/jobs/{id}")).await;
            if job["status"] == "completed" || job["status"] == "failed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let job = node.wait(id).await;
        assert_eq!(job["status"], "completed", "{job}");
        let sum_ref = input.iter().fold(0u32, |s, &w| s.wrapping_add(w));
        assert_eq!(words(&job["output"]), vec![sum_ref]);
        attestations.insert(job["attestation"].as_str().unwrap().to_string());
    }
    let elapsed = started.elapsed();
    assert_eq!(attestations.len(), 20, "one attestation per statement");
    assert_eq!(max_busy, 2, "two provers worked at once");
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    eprintln!(
        "20 proven jobs, pool of 2: {:.1} s, node peak RSS {} MiB",
        elapsed.as_secs_f64(),
        peak_kib >> 10
    );
    assert!(
        peak_kib < 3 << 20,
        "peak RSS {} MiB: memory is not bounded",
        peak_kib >> 10
    );
}

/// Waits until job `id` is proving in one of `phases`.
async fn wait_for_phase(node: &Node, id: &str, phases: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, job) = node.get(&format!("/jobs/{id}")).await;
        if phases.contains(&job["phase"].as_str().unwrap_or("")) {
            return job;
        }
        assert!(
            job["status"] != "completed" && job["status"] != "failed",
            "finished before a phase in {phases:?}: {job}"
        );
        assert!(Instant::now() < deadline, "never reached {phases:?}: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn proof_dir_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("proofs"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_proving_reproves_once() {
    let tmp = temp_dir();
    let mut node = Node::start(tmp.path(), CONFIG);
    let fib = node.plugin_id(&fixture("fib")).await;
    // About 2^17 steps: long enough to be killed mid-proof.
    let id = node.submit_proven(&fib, &[16_000]).await;
    let job = wait_for_phase(&node, &id, &["commit", "prove"]).await;
    node.kill();
    eprintln!("killed while {} / {}", job["status"], job["phase"]);
    // Simulate the worst moment too: a proof file written but never indexed.
    std::fs::write(tmp.path().join("proofs/deadbeef.proof"), b"orphan").unwrap();

    let node = Node::start(tmp.path(), CONFIG);
    let job = node.wait(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(words(&job["output"]), vec![fibonacci(16_000)]);
    assert_eq!(job["attempts"], 1, "the sandbox run was not repeated");
    let (status, record) = node.get(&format!("/jobs/{id}/proof")).await;
    assert_eq!(status, 200, "{record}");
    let files = proof_dir_files(tmp.path());
    assert_eq!(files.len(), 1, "exactly the indexed proof: {files:?}");
    let (_, page) = node.get("/jobs?limit=500").await;
    assert_eq!(
        page["jobs"].as_array().unwrap().len(),
        1,
        "no duplicate job"
    );
    let (status, bytes) = get_bytes(&node, &format!("/jobs/{id}/proof.bin")).await;
    assert_eq!(
        (status, bytes.len() as u64),
        (200, record["size"].as_u64().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_witness_never_completes() {
    let tmp = temp_dir();
    let node = Node::start_with_env(tmp.path(), CONFIG, &[("OBELYSK_TEST_TAMPER", "witness")]);
    let sum = node.plugin_id(&fixture("sum_input")).await;
    let id = node.submit_proven(&sum, &[1, 2, 3]).await;
    let job = node.wait(&id).await;
    assert_eq!(job["status"], "failed", "{job}");
    let code = job["error"]["code"].as_str().unwrap();
    assert!(code == "proof_rejected" || code == "prove_failed", "{job}");
    assert_eq!(job["attestation"], Value::Null);
    let (status, body) = node.get(&format!("/jobs/{id}/proof")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("proof_not_found"))
    );
    assert!(proof_dir_files(tmp.path()).is_empty(), "nothing published");
}

#[tokio::test(flavor = "multi_thread")]
async fn timing_estimates_predict_prove_time_and_enforce_limits() {
    let tmp = temp_dir();
    let node = Node::start(tmp.path(), CONFIG);
    let fib = node.plugin_id(&fixture("fib")).await;
    for n in [500u32, 2_000, 8_000] {
        let response = client()
            .post(node.url("/jobs/estimate"))
            .json(&json!({"plugin": fib, "input": [n]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let estimate: Value = response.json().await.unwrap();
        assert_eq!(estimate["fits"], true, "{estimate}");
        assert_eq!(words(&estimate["output"]), vec![fibonacci(n)]);
        let predicted = estimate["predicted_prove_ms"].as_u64().unwrap();
        assert!(estimate["predicted_peak_memory_bytes"].as_u64().unwrap() > 0);

        let id = node.submit_proven(&fib, &[n]).await;
        let job = node.wait(&id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["vm_steps"], estimate["steps"]);
        let (_, record) = node.get(&format!("/jobs/{id}/proof")).await;
        let measured = record["prove_ms"].as_u64().unwrap();
        let ratio = predicted as f64 / measured as f64;
        eprintln!(
            "fib({n}): {} steps, predicted {predicted} ms, measured {measured} ms, ratio {ratio:.2}",
            estimate["steps"]
        );
        assert!(
            (0.5..=2.0).contains(&ratio),
            "fib({n}): predicted {predicted} ms, measured {measured} ms"
        );
    }

    // Above the step limit: the estimate says so, and the job fails with the same code.
    let big = [200_000u32];
    let response = client()
        .post(node.url("/jobs/estimate"))
        .json(&json!({"plugin": fib, "input": big}))
        .send()
        .await
        .unwrap();
    let estimate: Value = response.json().await.unwrap();
    assert_eq!(estimate["fits"], false, "{estimate}");
    assert_eq!(estimate["error"]["code"], "step_limit");
    let id = node.submit_proven(&fib, &big).await;
    let job = node.wait(&id).await;
    assert_eq!(
        (&job["status"], &job["error"]["code"]),
        (&json!("failed"), &json!("step_limit"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_wait_saves_the_proof_and_obelysk_proof_downloads_it() {
    let tmp = temp_dir();
    let node = Node::start(tmp.path(), CONFIG);
    // A first-party plugin built with the SDK, proven by the node and checked by the CLI.
    plugin("fibonacci");
    let module = plugins_dir().join("fibonacci.wasm");
    let saved = tmp.path().join("saved.proof");
    let url = node.url.clone();
    let (module_arg, saved_arg) = (module.clone(), saved.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(OBELYSK)
            .arg("submit")
            .arg(&module_arg)
            .args(["--input", "30", "--node", &url, "--wait", "-o"])
            .arg(&saved_arg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let attestation = text
        .lines()
        .find_map(|l| l.strip_prefix("attestation "))
        .unwrap_or_else(|| panic!("no attestation printed: {text}"))
        .trim()
        .to_string();
    assert!(
        attestation.starts_with("0x") && attestation.len() == 66,
        "{text}"
    );
    assert!(text.contains("[832040]"), "F(30): {text}");
    let job_id = text
        .lines()
        .find_map(|l| l.strip_prefix("job "))
        .unwrap()
        .trim()
        .to_string();

    let verify = |proof: &std::path::Path| {
        Command::new(OBELYSK)
            .arg("verify")
            .arg(&module)
            .arg(proof)
            .output()
            .unwrap()
    };
    let out = verify(&saved);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&attestation));

    let again = tmp.path().join("again.proof");
    let out = Command::new(OBELYSK)
        .args(["proof", &job_id, "--node", &node.url, "-o"])
        .arg(&again)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&saved).unwrap()
    );
    let out = Command::new(OBELYSK)
        .args([
            "proof",
            "01900000-0000-7000-8000-000000000000",
            "--node",
            &node.url,
            "-o",
        ])
        .arg(tmp.path().join("none.proof"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("job_not_found"),
        "{out:?}"
    );
}

/// The first-party plugins (linear memory, a postcard-decoded payload, u64 arithmetic, crates
/// from crates.io, an int8 network) prove in the node, and their proofs verify in a separate `obelysk verify`. (`fibonacci` is
/// proven by the demo and `proving`'s other tests.)
#[tokio::test(flavor = "multi_thread")]
async fn first_party_plugins_prove_in_the_node_and_verify_elsewhere() {
    let tmp = temp_dir();
    let node = Node::start(tmp.path(), CONFIG);
    let a = Matrix {
        rows: 2,
        cols: 3,
        data: vec![1, 2, 3, 4, 5, u32::MAX],
    };
    let b = Matrix {
        rows: 3,
        cols: 2,
        data: vec![7, 8, 9, 10, 11, 1 << 31],
    };
    let sum_input = vec![5, 1 << 31, 7, u32::MAX, 0];
    const ORDER: &str = r#"{"id": 9, "buyer": "carol", "paid": true, "items": [{"sku": 1, "qty": 3, "price": 700}]}"#;
    let leaves: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 3]).collect();
    let proof = merkle_proof(&leaves, 2);
    let image = disc_image(12, 15, 5, 200);
    let cases = [
        (
            "sum-array",
            sum_input.clone(),
            vec![5, (1 << 31) + 11, u32::MAX],
        ),
        ("matmul", matmul_input(&a, &b), matmul(&a, &b)),
        // u64 arithmetic: i64 in two slots.
        (
            "sha256",
            obelysk_guest::codec::pack_bytes(b"proven in the node"),
            sha256(b"proven in the node"),
        ),
        ("collatz", vec![27], collatz(27)),
        // Crates users bring: RustCrypto's sha3 and sha2, serde-json-core.
        (
            "keccak256",
            obelysk_guest::codec::pack_bytes(b"proven in the node"),
            keccak256(b"proven in the node"),
        ),
        (
            "json-order",
            obelysk_guest::codec::pack_bytes(ORDER.as_bytes()),
            json_order(ORDER),
        ),
        (
            "merkle-proof",
            merkle_input(&proof),
            merkle_output(true, &proof.root),
        ),
        // 784 → 32 → 10, int8: ~25k multiply-adds.
        ("mlp", obelysk_guest::codec::pack_bytes(&image), mlp(&image)),
    ];
    for (name, input, expected) in cases {
        let id = node.plugin_id(&plugin(name)).await;
        let job = node.submit_proven(&id, &input).await;
        let job = node.wait(&job).await;
        assert_eq!(job["status"], "completed", "{name}: {job}");
        assert_eq!(words(&job["output"]), expected, "{name}");
        let job_id = job["id"].as_str().unwrap();
        let (status, bytes) = get_bytes(&node, &format!("/jobs/{job_id}/proof.bin")).await;
        assert_eq!(status, 200, "{name}");
        let proof_path = tmp.path().join(format!("{name}.proof"));
        std::fs::write(&proof_path, &bytes).unwrap();
        let out = Command::new(OBELYSK)
            .arg("verify")
            .arg(plugins_dir().join(format!("{name}.wasm")))
            .arg(&proof_path)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict["valid"], true, "{name}");
        assert_eq!(words(&verdict["output"]), expected, "{name}");
    }
}
