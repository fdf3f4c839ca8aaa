//! The attestation registry's class, as committed next to its Cairo source.
//!
//! `contract/build.sh` rebuilds both files from `contract/src/lib.cairo` with registry packages
//! only; `contract/build.sh --check` (run by `make test`) fails when they are stale.

use std::sync::{Arc, OnceLock};

use starknet_rust::core::types::contract::{CompiledClass, SierraClass};
use starknet_rust::core::types::{Felt, FlattenedSierraClass};

const SIERRA_JSON: &str = include_str!("../contract/attestation_registry.sierra.json");
const CASM_JSON: &str = include_str!("../contract/attestation_registry.casm.json");

/// Class hash of the registry's Sierra class (what `deploy` names).
pub const CLASS_HASH: &str = "0x07551bed3a4ebf2ca6a676fb697c1b0174e72ba57b13f5c4f97b482bdfd0d93f";
/// Compiled-class hash of its CASM with Blake2s, the hash current Starknet (0.14.1+) expects.
pub const COMPILED_CLASS_HASH: &str =
    "0x041549492cb3b9c3a90a38328408a8dbd13c048b6e4aa4ba0a3c8b80ab1d9367";

struct Class {
    sierra: Arc<FlattenedSierraClass>,
    class_hash: Felt,
    compiled_class_hash: Felt,
}

fn class() -> &'static Class {
    static CLASS: OnceLock<Class> = OnceLock::new();
    CLASS.get_or_init(|| {
        // The files are compiled in: a parse failure is a build defect, caught by the tests below.
        let sierra: SierraClass =
            serde_json::from_str(SIERRA_JSON).expect("committed Sierra class parses");
        let casm: CompiledClass =
            serde_json::from_str(CASM_JSON).expect("committed CASM class parses");
        let class_hash = sierra.class_hash().expect("Sierra class hashes");
        let compiled_class_hash = casm.class_hash().expect("CASM class hashes");
        Class {
            sierra: Arc::new(sierra.flatten().expect("Sierra class flattens")),
            class_hash,
            compiled_class_hash,
        }
    })
}

/// The Sierra class, flattened for `declare`.
pub fn sierra_class() -> Arc<FlattenedSierraClass> {
    class().sierra.clone()
}

/// Class hash computed from the committed Sierra class.
pub fn class_hash() -> Felt {
    class().class_hash
}

/// Blake2s compiled-class hash computed from the committed CASM class.
pub fn compiled_class_hash() -> Felt {
    class().compiled_class_hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_hashes_are_pinned() {
        assert_eq!(class_hash(), Felt::from_hex(CLASS_HASH).unwrap());
        assert_eq!(
            compiled_class_hash(),
            Felt::from_hex(COMPILED_CLASS_HASH).unwrap()
        );
    }

    #[test]
    fn the_abi_has_every_entry_point() {
        let abi = &sierra_class().abi;
        for name in [
            "submit_attestation",
            "get_attestation",
            "is_attested",
            "attestation_of",
            "add_prover",
            "remove_prover",
            "is_prover",
            "owner",
            "Attested",
            "ProverAdded",
            "ProverRemoved",
        ] {
            assert!(
                abi.contains(&format!("\"{name}\"")),
                "{name} missing from the ABI"
            );
        }
    }
}
