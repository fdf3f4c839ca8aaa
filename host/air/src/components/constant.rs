//! `const` (IR `Const`, `[const, dst, lo, hi]`): `dst ← (lo, hi)`.
//!
//! Columns after the frame: `old_lo, old_hi`, then the write access.
//! The written limbs are the instruction's own `b`, `c`, which the `Rom` lookup ties to the
//! verifier's encoding (`b = value & 0xffff`, `c = value >> 16`), so they need no range check.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Space, access, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let old = [eval.next_trace_mask(), eval.next_trace_mask()];
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::Const),
        frame.fall_through(),
    );
    access(
        eval,
        rel,
        frame.enabler.clone(),
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(0),
        old,
        [frame.b.clone(), frame.c.clone()],
    );
}
