//! `rom`: the public read-only data of a run, bound to the verifier's own copy.
//!
//! Rows `[tag, w0, w1, w2, w3, w4, w5]`:
//! - tag 0, the program: `[0, pc, opcode, a, b, c, d]` (`obelysk_vm::ir::Instr::encode`);
//! - tag 1, input word `i`: `[1, i_lo, i_hi, word_lo, word_hi, 0, 0]`;
//! - tag 2, the input length: `[2, 0, 0, len_lo, len_hi, 0, 0]`.
//!
//! Every word is below 2^20 (the lowering bounds code and frames; the rest are 16-bit limbs),
//! so each is one field element with no wrap-around.
//!
//! Columns (main): `enabler, tag, w0, w1, w2, w3, w4, w5, multiplicity`.
//! - `enabler · (enabler − 1) = 0`: no `enabler = 2` row yielding twice, no `−1` row
//!   cancelling a fake one's `Bind`;
//! - `(1 − enabler) · multiplicity = 0`: a padding row serves no lookup;
//! - yields `Rom(row)` with `multiplicity` (steps consume one per use);
//! - yields `Bind(row)` with `enabler`: the verifier consumes one `Bind` per row of ITS data
//!   ([`crate::vm::rom_rows`]), so the real rows are exactly the program and input: no
//!   changed opcode, operand or input word, no extra or missing row.

use num_traits::One;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use crate::relations::Relations;

/// One ROM row.
pub type RomRow = [u32; 7];

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let enabler = eval.next_trace_mask();
    let row: [E::F; 7] = std::array::from_fn(|_| eval.next_trace_mask());
    let multiplicity = eval.next_trace_mask();
    eval.add_constraint(enabler.clone() * (enabler.clone() - E::F::one()));
    eval.add_constraint((E::F::one() - enabler.clone()) * multiplicity.clone());
    eval.add_to_relation(RelationEntry::new(
        &rel.rom,
        -E::EF::from(multiplicity),
        &row,
    ));
    eval.add_to_relation(RelationEntry::new(&rel.bind, E::EF::from(enabler), &row));
}
