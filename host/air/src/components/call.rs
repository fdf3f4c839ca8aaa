//! `call` (IR `Call`, opcode 6, `[6, frame, target, 0]`) and `ret` (IR `Return`, opcode 7).
//!
//! `call` columns after the frame: `old0, old1`, then the write of FRAME[`fp + frame`] ←
//! `(pc + 1, fp)`; the next state is `(target, fp + frame)`. Every `fp` is therefore an
//! address of the FRAME space's boundary (below 2^20), so `fp + slot` never wraps.
//!
//! `ret` columns after the frame: `ret_pc, caller_fp`, then the read of FRAME[`fp`]; the next
//! state is `(ret_pc, caller_fp)`: exactly what the matching `call` saved, since the FRAME
//! cell's tokens are chained by timestamp.

use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Next, Space, access, constant, step};
use crate::relations::Relations;

/// Opcode of `Call`.
pub const OPCODE_CALL: u32 = 6;
/// Opcode of `Return`.
pub const OPCODE_RET: u32 = 7;

pub fn evaluate_call<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let old = [eval.next_trace_mask(), eval.next_trace_mask()];
    let callee_fp = frame.fp.clone() + frame.a.clone();
    let next = Next::Step {
        pc: frame.b.clone(),
        fp: callee_fp.clone(),
        out: frame.out.clone(),
    };
    step(eval, rel, &frame, constant(OPCODE_CALL), next);
    access(
        eval,
        rel,
        frame.enabler.clone(),
        Space::Frame,
        callee_fp,
        frame.ts(0),
        old,
        [frame.pc.clone() + constant::<E::F>(1), frame.fp.clone()],
    );
}

pub fn evaluate_ret<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let saved = [eval.next_trace_mask(), eval.next_trace_mask()];
    let next = Next::Step {
        pc: saved[0].clone(),
        fp: saved[1].clone(),
        out: frame.out.clone(),
    };
    step(eval, rel, &frame, constant(OPCODE_RET), next);
    access(
        eval,
        rel,
        frame.enabler.clone(),
        Space::Frame,
        frame.fp.clone(),
        frame.ts(0),
        saved.clone(),
        saved,
    );
}
