//! `obelysk build`: compile a guest crate to a module the VM supports.
//!
//! Runs `cargo build --release --target wasm32-unknown-unknown -Zbuild-std=core,alloc` on the
//! pinned toolchain with rustc's default target features, all of which the VM accepts: sign
//! extension, bulk memory, mutable globals, multi-value, reference types (and non-trapping
//! float conversions, which only float code uses, and floats are refused). The caller's
//! `RUSTFLAGS` are not passed on, so a `+simd128` there cannot leak in. Panics abort (a trap).
//! The result is checked against the guest ABI.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The toolchain named in the workspace's `rust-toolchain.toml`.
pub fn guest_toolchain() -> &'static str {
    const TOOLCHAIN_FILE: &str = include_str!("../../../../rust-toolchain.toml");
    TOOLCHAIN_FILE
        .lines()
        .find_map(|line| line.trim().strip_prefix("channel = "))
        .map(|v| v.trim_matches('"'))
        .expect("rust-toolchain.toml names a channel")
}

/// Builds the guest crate in `crate_dir` and returns the path of the checked module
/// (`output` when given, else cargo's artifact).
pub fn build_guest(crate_dir: &Path, output: Option<&Path>) -> anyhow::Result<PathBuf> {
    let manifest = crate_dir.join("Cargo.toml");
    let manifest = manifest
        .canonicalize()
        .with_context(|| format!("{} has no Cargo.toml", crate_dir.display()))?;

    let mut cargo = Command::new("cargo");
    // Build with the pinned nightly (build-std needs it) regardless of the caller's toolchain.
    cargo.env("RUSTUP_TOOLCHAIN", guest_toolchain());
    cargo.env("CARGO_ENCODED_RUSTFLAGS", "");
    cargo.env_remove("RUSTFLAGS");
    cargo
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-Zbuild-std=core,alloc",
        ])
        .args(["--message-format", "json-render-diagnostics"])
        .args(["--config", "profile.release.panic=\"abort\""])
        .args(["--config", "profile.release.opt-level=3"])
        .args(["--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.codegen-units=1"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cargo
        .spawn()
        .context("cannot run cargo (is rustup installed?)")?;

    let mut artifact = None;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path())
        {
            artifact = message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build failed for {}", crate_dir.display());
    }
    let artifact = artifact.with_context(|| {
        format!(
            "{} produced no .wasm; is it a `crate-type = [\"cdylib\"]` library?",
            crate_dir.display()
        )
    })?;

    let bytes =
        std::fs::read(&artifact).with_context(|| format!("reading {}", artifact.display()))?;
    let sandbox = obelysk_sandbox::Sandbox::new(obelysk_sandbox::Limits::default())?;
    let module = sandbox
        .load(&bytes)
        .with_context(|| format!("{} does not follow the guest ABI", artifact.display()))?;
    let target = match output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(&artifact, path)
                .with_context(|| format!("writing {}", path.display()))?;
            path.to_path_buf()
        }
        None => artifact,
    };
    eprintln!(
        "built {} ({} bytes, plugin id {})",
        target.display(),
        module.info.size,
        module.info.id
    );
    Ok(target)
}
