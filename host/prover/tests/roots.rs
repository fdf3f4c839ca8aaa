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
