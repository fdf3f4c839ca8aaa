//! `bytes`: the byte table, `Bytes(op, a, b, r)` for every pair of bytes `a, b`.
//!
//! Preprocessed columns (2^16 rows, row `i`): `bytes_a = i mod 2^8`, `bytes_b = ⌊i / 2^8⌋`,
//! `bytes_and = a & b`, `bytes_or = a | b`, `bytes_xor = a ^ b`. Main columns: one multiplicity
//! per operation, in [`ByteOp`] order. Row `i` yields `Bytes(op, a, b, a op b)` for `and`, `or`,
//! `xor` and `Bytes(pair, a, b, 0)` with that operation's multiplicity. No polynomial
//! constraint: the preprocessed columns are pinned by the verifier, and a wrong multiplicity
//! unbalances the LogUp sum.
//!
//! Consuming `Bytes(op, a, b, r)` therefore proves `a, b ∈ [0, 2^8)` and `r = a op b`; `pair`
//! is a range check of two bytes at the cost of one lookup.

use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::frame::constant;
use crate::relations::Relations;

/// The table's log size: every pair of bytes.
pub const LOG_SIZE: u32 = 16;

/// The preprocessed columns, in tree order.
pub const COLUMNS: [&str; 5] = ["bytes_a", "bytes_b", "bytes_and", "bytes_or", "bytes_xor"];

/// The operations of the table, with their `op` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ByteOp {
    And = 0,
    Or = 1,
    Xor = 2,
    /// `r = 0`: both operands are bytes.
    Pair = 3,
}

impl ByteOp {
    /// Every operation, in multiplicity-column order.
    pub const ALL: [ByteOp; 4] = [ByteOp::And, ByteOp::Or, ByteOp::Xor, ByteOp::Pair];

    /// `a op b`.
    pub fn apply(self, a: u32, b: u32) -> u32 {
        match self {
            ByteOp::And => a & b,
            ByteOp::Or => a | b,
            ByteOp::Xor => a ^ b,
            ByteOp::Pair => 0,
        }
    }

    /// The table row holding `(a, b)`.
    pub fn row(a: u32, b: u32) -> usize {
        (a | (b << 8)) as usize
    }
}

/// A preprocessed column by name.
pub fn column(name: &str) -> PreProcessedColumnId {
    PreProcessedColumnId { id: name.into() }
}

/// The value of preprocessed column `k` of [`COLUMNS`] at row `i`.
pub fn value(k: usize, i: usize) -> u32 {
    let (a, b) = ((i & 0xff) as u32, (i >> 8) as u32);
    match k {
        0 => a,
        1 => b,
        k => ByteOp::ALL[k - 2].apply(a, b),
    }
}

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let [a, b, and, or, xor] = COLUMNS.map(|name| eval.get_preprocessed_column(column(name)));
    let results = [and, or, xor, constant::<E::F>(0)];
    for (op, r) in ByteOp::ALL.into_iter().zip(results) {
        let multiplicity = eval.next_trace_mask();
        eval.add_to_relation(RelationEntry::new(
            &rel.bytes,
            -E::EF::from(multiplicity),
            &[constant(op as u32), a.clone(), b.clone(), r],
        ));
    }
}
