//! `call` (IR `Call`, `[call, frame, target, 0]`): enter a function.
//!
//! Columns after the frame: `old0, old1`, then the write of FRAME[`fp + frame`] ←
//! `(pc + 1, fp)`; the next state is `(target, fp + frame)`. Every `fp` is therefore an
//! address of the FRAME space's boundary (below 2^20), so `fp + slot` never wraps.

use stwo_constraint_framework::EvalAtRow;

use obelysk_vm::ir::Opcode;

use super::frame::{Frame, Next, Space, access, constant, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let old = [eval.next_trace_mask(), eval.next_trace_mask()];
    let callee_fp = frame.fp.clone() + frame.a.clone();
    let next = Next::Step {
        pc: frame.b.clone(),
        fp: callee_fp.clone(),
        out: frame.out.clone(),
    };
    step(eval, rel, &frame, opcode(Opcode::Call), next);
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
