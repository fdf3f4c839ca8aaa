//! `range16`: the lookup table that proves a value lies in `[0, 2^16)`.
//!
//! Columns: preprocessed `value` (0, 1, …, 2^16 − 1, each once), main `multiplicity`.
//! Relation: yields `Range16(value)` with multiplicity `multiplicity`.
//! A component that needs `x < 2^16` consumes `Range16(x)` once; the LogUp sum over all
//! components balances only if every consumed `x` is one of the table's values.
//! No polynomial constraint: the preprocessed column is fixed (its root is pinned by the
//! verifier) and `multiplicity` is free (a wrong one unbalances the sum).

use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, RelationEntry, relation,
};

/// Bits checked by the table.
pub const RANGE16_BITS: u32 = 16;

relation!(Range16, 1);

/// The id of the preprocessed column `0..2^16`.
pub fn range16_column() -> PreProcessedColumnId {
    PreProcessedColumnId {
        id: "range16".into(),
    }
}

/// The table component.
#[derive(Clone)]
pub struct Range16TableEval {
    pub lookup: Range16,
}

impl FrameworkEval for Range16TableEval {
    fn log_size(&self) -> u32 {
        RANGE16_BITS
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        RANGE16_BITS + 1
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let value = eval.get_preprocessed_column(range16_column());
        let multiplicity = eval.next_trace_mask();
        eval.add_to_relation(RelationEntry::new(
            &self.lookup,
            -E::EF::from(multiplicity),
            &[value],
        ));
        eval.finalize_logup();
        eval
    }
}

/// The table as a stwo component, given its claimed LogUp sum.
pub type Range16Table = FrameworkComponent<Range16TableEval>;

/// The components' claimed sums plus the verifier's public part must cancel (stwo does not
/// check this).
pub fn logup_balanced(claimed_sums: &[SecureField], public_sum: SecureField) -> bool {
    claimed_sums.iter().copied().sum::<SecureField>() + public_sum == SecureField::from(0u32)
}

/// The root of the preprocessed tree for each security preset. The tree does not depend on the
/// program, so the verifier compares the proof's root with this constant: a prover cannot
/// commit a different "table" (say, one that contains 2^16). The prover crate's tests
/// recompute these values.
pub fn pinned_preprocessed_root(level: crate::security::SecurityLevel) -> [u8; 32] {
    let hex = match level {
        crate::security::SecurityLevel::Bits96 => {
            "c961d1fd83346f2f86fe3ca69b5517fa46f58bd7ee23615edf5c8ff6bbac2e92"
        }
        crate::security::SecurityLevel::Bits128 => {
            "f7938aacb4b2ae3fac7bb4c7177d25261f8237180f6a1cbafc57345b3fa10fb0"
        }
    };
    let mut root = [0u8; 32];
    for (i, byte) in root.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("a hex constant");
    }
    root
}
