//! The preprocessed root the verifier pins is the root of the tables the prover commits.

use obelysk_air::security::SecurityLevel;
use obelysk_air::vm::pinned_preprocessed_root;
use obelysk_prover::preprocessed;

#[test]
fn pinned_roots_are_the_tables_roots() {
    for level in SecurityLevel::ALL {
        let root = preprocessed::root(level.pcs_config());
        assert_eq!(
            hex::encode(root),
            hex::encode(pinned_preprocessed_root(level)),
            "{level:?}"
        );
    }
}

/// The tree a process keeps and lends to every proof is the pinned one, built once per preset.
#[test]
fn the_shared_tree_is_the_pinned_one_and_built_once() {
    for level in SecurityLevel::ALL {
        let config = level.pcs_config();
        let shared = preprocessed::simd_tree(config);
        assert_eq!(shared.commitment.root().0, pinned_preprocessed_root(level));
        assert!(std::ptr::eq(shared, preprocessed::simd_tree(config)));
    }
}
