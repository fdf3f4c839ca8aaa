//! `ret` (IR `Return`, `[return, 0, 0, 0]`): leave a function.
//!
//! Columns after the frame: `ret_pc, caller_fp`, then the read of FRAME[`fp`]; the next
//! state is `(ret_pc, caller_fp)`: exactly what the matching `call` saved, since the FRAME
//! cell's tokens are chained by timestamp.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Next, Space, access, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let saved = [eval.next_trace_mask(), eval.next_trace_mask()];
    let next = Next::Step {
        pc: saved[0].clone(),
        fp: saved[1].clone(),
        out: frame.out.clone(),
    };
    step(eval, rel, &frame, opcode(Opcode::Return), next);
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
