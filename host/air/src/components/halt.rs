//! `halt` (IR `Halt`, opcode 12): the end of `main`. Only the frame: it consumes its state and
//! yields `Halted(clk, out)`, which the verifier consumes with the statement's step count and
//! output length.

use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Next, constant, step};
use crate::relations::Relations;

/// Opcode of `Halt`.
pub const OPCODE: u32 = 12;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    step(eval, rel, &frame, constant(OPCODE), Next::Halt);
}
