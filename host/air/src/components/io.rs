//! `io` (IR `InputLen` `[input_len, dst, 0, 0]`, `Read` `[read, dst, index, 0]`, `Write`
//! `[write, 0, src, 0]`).
//!
//! Columns after the frame: flags `len, read, write`, then `x_lo, x_hi, w_lo, w_hi, old_lo,
//! old_hi`, then the read of slot `b` (`index` or `src`, into x; for `read`, `write`) and the
//! write of slot `a` (`dst` ← w; for `len`, `read`).
//! - flags boolean, summing to `enabler`;
//! - `len`/`read` consume `Rom(2 − read, x_lo, x_hi, w_lo, w_hi, 0, 0)`: the verifier's ROM holds
//!   `(1, i_lo, i_hi, word_lo, word_hi, 0, 0)` for every input word and `(2, 0, 0, len_lo,
//!   len_hi, 0, 0)`, so `w` is the public input word at index `x` (compared limb by limb: an index past the
//!   input has no token) or the input length. `w` needs no range check: the verifier built it.
//! - `write` yields `Output(out, x_lo, x_hi)` and the next state has `out + write`, so outputs
//!   are numbered in execution order and the verifier consumes exactly its output words.

use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::Kind;
use super::frame::{Frame, Next, Space, access, boolean, constant, flagged_opcode, step};
use crate::relations::Relations;

/// ROM tag of input words.
pub const TAG_INPUT: u32 = 1;
/// ROM tag of the input length.
pub const TAG_INPUT_LEN: u32 = 2;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [
        f_len,
        f_read,
        f_write,
        x_lo,
        x_hi,
        w_lo,
        w_hi,
        old_lo,
        old_hi,
    ] = std::array::from_fn(|_| eval.next_trace_mask());
    let e = frame.enabler.clone();
    for flag in [&f_len, &f_read, &f_write] {
        boolean(eval, flag);
    }
    eval.add_constraint(f_len.clone() + f_read.clone() + f_write.clone() - e);
    let opcode = flagged_opcode(
        Kind::Io.opcodes(),
        &[f_len.clone(), f_read.clone(), f_write.clone()],
    );
    let next = Next::Step {
        pc: frame.pc.clone() + constant::<E::F>(1),
        fp: frame.fp.clone(),
        out: frame.out.clone() + f_write.clone(),
    };
    step(eval, rel, &frame, opcode, next);
    let fetches = f_len + f_read.clone();
    eval.add_to_relation(RelationEntry::new(
        &rel.rom,
        E::EF::from(fetches.clone()),
        &[
            constant::<E::F>(TAG_INPUT_LEN) - f_read.clone(),
            x_lo.clone(),
            x_hi.clone(),
            w_lo.clone(),
            w_hi.clone(),
            constant(0),
            constant(0),
        ],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.output,
        -E::EF::from(f_write.clone()),
        &[frame.out.clone(), x_lo.clone(), x_hi.clone()],
    ));
    let fp = frame.fp.clone();
    let x = [x_lo, x_hi];
    access(
        eval,
        rel,
        f_read + f_write,
        Space::Stack,
        fp.clone() + frame.b.clone(),
        frame.ts(0),
        x.clone(),
        x,
    );
    access(
        eval,
        rel,
        fetches,
        Space::Stack,
        fp + frame.a.clone(),
        frame.ts(1),
        [old_lo, old_hi],
        [w_lo, w_hi],
    );
}
