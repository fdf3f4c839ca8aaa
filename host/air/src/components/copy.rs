//! `copy` (IR `Copy`, `[copy, dst, src, 0]`): `dst ← src`.
//!
//! Columns after the frame: `v_lo, v_hi, old_lo, old_hi`, then the read of `src` (access 0)
//! and the write of `dst` (access 1). The copied limbs were range-checked when written, so
//! they need no new check.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Space, access, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [v_lo, v_hi, old_lo, old_hi] = std::array::from_fn(|_| eval.next_trace_mask());
    let value = [v_lo, v_hi];
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::Copy),
        frame.fall_through(),
    );
    let e = frame.enabler.clone();
    let fp = frame.fp.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        fp.clone() + frame.b.clone(),
        frame.ts(0),
        value.clone(),
        value.clone(),
    );
    access(
        eval,
        rel,
        e,
        Space::Stack,
        fp + frame.a.clone(),
        frame.ts(1),
        [old_lo, old_hi],
        value,
    );
}
