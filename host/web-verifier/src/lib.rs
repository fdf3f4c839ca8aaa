//! The Obelysk verifier for browsers. Built for `wasm32-unknown-unknown` (`make web-verifier`)
//! and wrapped by `wasm-bindgen`, it runs what `obelysk verify` runs (proof decoding, the module
//! check, lowering, AIR verification) in the page, with no server call. The same code builds
//! natively, where its tests run.

use wasm_bindgen::prelude::*;

/// Verifies a proof file's bytes against a module's bytes at `min_security_bits` or more.
/// Returns the verdict as JSON, exactly as `obelysk verify --json` prints it
/// ([`obelysk_air::api::Report`]): `{"valid": true, "output": [...], "steps": ..., ...}` or
/// `{"valid": false, "error": {"code", "message"}}`.
#[wasm_bindgen]
pub fn verify(module: &[u8], proof: &[u8], min_security_bits: u32) -> String {
    let report = obelysk_air::api::check(module, proof, min_security_bits);
    serde_json::to_string(&report).unwrap_or_else(|e| {
        format!(
            r#"{{"valid":false,"error":{{"code":"internal","message":{}}}}}"#,
            serde_json::Value::from(e.to_string())
        )
    })
}

/// The versions this verifier accepts, as JSON: the proof format, the IR and the AIR.
#[wasm_bindgen]
pub fn versions() -> String {
    serde_json::json!({
        "proof_format": obelysk_air::proof::FORMAT_VERSION,
        "ir": obelysk_vm::ir::IR_VERSION,
        "air": obelysk_air::statement::AIR_VERSION,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_format_error_not_a_panic() {
        let report: serde_json::Value =
            serde_json::from_str(&verify(b"\0asm\x01\0\0\0", b"not a proof", 96)).unwrap();
        assert_eq!(report["valid"], false);
        assert_eq!(report["error"]["code"], "proof_format");
    }

    #[test]
    fn versions_name_all_three() {
        let versions: serde_json::Value = serde_json::from_str(&versions()).unwrap();
        for key in ["proof_format", "ir", "air"] {
            assert!(versions[key].as_u64().is_some(), "{key}: {versions}");
        }
    }
}
