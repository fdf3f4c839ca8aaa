//! `global_set` (IR `GlobalSet`, `[global_set, global, src, 0]`): `GLOBAL[global] ← src`.
//!
//! Columns after the frame: `v_lo, v_hi, old_lo, old_hi`, then the read of STACK[`fp + b`]
//! (access 0) and the write of GLOBAL[`a`] (access 1). The limbs read were range-checked when
//! written. Initial values are written by the entry stub (`Const` then `GlobalSet`), so they
//! are in the ROM and the boundary's "every cell starts at zero" holds for globals too.

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
        opcode(Opcode::GlobalSet),
        frame.fall_through(),
    );
    let e = frame.enabler.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        frame.fp.clone() + frame.b.clone(),
        frame.ts(0),
        value.clone(),
        value.clone(),
    );
    access(
        eval,
        rel,
        e,
        Space::Global,
        frame.a.clone(),
        frame.ts(1),
        [old_lo, old_hi],
        value,
    );
}
