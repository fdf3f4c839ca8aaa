//! `halt` (IR `Halt`): the end of `main`. Only the frame: it consumes its state and
//! yields `Halted(clk, out)`, which the verifier consumes with the statement's step count and
//! output length.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Next, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    step(eval, rel, &frame, opcode(Opcode::Halt), Next::Halt);
}
