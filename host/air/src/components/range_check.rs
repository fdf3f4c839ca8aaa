//! Range-check tables: `range16` proves `x ∈ [0, 2^16)`, `range10` proves `x ∈ [0, 2^10)`.
//!
//! Columns: preprocessed `value` (0, 1, …, 2^bits − 1, each once), main `multiplicity`.
//! The table yields `Range*(value)` with `multiplicity`; a component that needs the bound
//! consumes the token once. No polynomial constraint: the preprocessed column is fixed (its
//! root is pinned by the verifier) and a wrong `multiplicity` unbalances the LogUp sum.

use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use crate::relations::Relations;

/// The two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeTable {
    Bits16,
    Bits10,
}

impl RangeTable {
    /// Bits checked by the table (its log size).
    pub fn bits(self) -> u32 {
        match self {
            RangeTable::Bits16 => 16,
            RangeTable::Bits10 => 10,
        }
    }

    /// The preprocessed column `0..2^bits`.
    pub fn column(self) -> PreProcessedColumnId {
        PreProcessedColumnId {
            id: format!("range{}", self.bits()),
        }
    }

    pub fn evaluate<E: EvalAtRow>(self, eval: &mut E, rel: &Relations) {
        let value = eval.get_preprocessed_column(self.column());
        let multiplicity = eval.next_trace_mask();
        let multiplicity = -E::EF::from(multiplicity);
        match self {
            RangeTable::Bits16 => {
                eval.add_to_relation(RelationEntry::new(&rel.range16, multiplicity, &[value]))
            }
            RangeTable::Bits10 => {
                eval.add_to_relation(RelationEntry::new(&rel.range10, multiplicity, &[value]))
            }
        }
    }
}
