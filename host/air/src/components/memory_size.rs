//! `memory_size` (IR `MemorySize`, `[memory_size, dst, 0, 0, 0]`): `dst ← pages`.
//!
//! Columns after the frame: `old_lo, old_hi`, then the write of slot `dst` with
//! `(pages, 0)`: `pages ≤ MAX_MEMORY_PAGES < 2^16` is a valid limb.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Space, access, constant, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [old_lo, old_hi] = std::array::from_fn(|_| eval.next_trace_mask());
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::MemorySize),
        frame.fall_through(),
    );
    access(
        eval,
        rel,
        frame.enabler.clone(),
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(0),
        [old_lo, old_hi],
        [frame.pages.clone(), constant(0)],
    );
}
