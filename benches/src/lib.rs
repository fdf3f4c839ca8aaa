//! Shared helpers for Obelysk's criterion benchmarks.

use std::path::PathBuf;

/// A first-party plugin built by `make plugins` (`<target>/plugins/<name>.wasm`).
///
/// Panics with the command to run when the module is missing.
pub fn plugin(name: &str) -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("plugins").join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make plugins` first", path.display()))
}
