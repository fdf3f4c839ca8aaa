//! `global_get` (IR `GlobalGet`, `[global_get, dst, global, 0]`): `dst ← GLOBAL[global]`.
//!
//! Columns after the frame: `v_lo, v_hi, old_lo, old_hi`, then the read of GLOBAL[`b`]
//! (access 0) and the write of STACK[`fp + a`] (access 1). A global's limbs were range-checked
//! when the `global_set` that wrote them read them from a range-checked slot (or are the
//! boundary's zero), so the copy needs no new check.

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
        opcode(Opcode::GlobalGet),
        frame.fall_through(),
    );
    let e = frame.enabler.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Global,
        frame.b.clone(),
        frame.ts(0),
        value.clone(),
        value.clone(),
    );
    access(
        eval,
        rel,
        e,
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(1),
        [old_lo, old_hi],
        value,
    );
}
