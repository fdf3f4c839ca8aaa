//! `add_sub` (IR `Binary{Add, Sub}`, `[op, dst, lhs, rhs]`, and `BinaryImm{Add, Sub}`,
//! `[op, dst, lhs, imm_lo, imm_hi]`): `dst ← lhs ± rhs` modulo 2^32.
//!
//! Columns after the wide frame: `is_sub, is_imm, x_lo, x_hi, y_lo, y_hi, r_lo, r_hi, carry0,
//! carry1, old_lo, old_hi`, then reads of `lhs` (x), `rhs` (y; skipped for an immediate,
//! `frame::operand_or_immediate`) and the write of `dst` (r).
//!
//! Both are one addition `p + y = q` limb by limb with boolean carries: `(p, q) = (x, r)` for
//! add, `(r, x)` for sub (`r = x − y ⇔ r + y = x`):
//! - `p_lo + y_lo = q_lo + 2^16·carry0`, `p_hi + y_hi + carry0 = q_hi + 2^16·carry1`.
//!
//! With every limb below 2^16 (`r` is range-checked here; `x`, `y` when they were written)
//! and boolean carries, both sides are below 2^18, so the equations hold over the integers:
//! a wrong carry cannot be compensated by a wrapped result.

use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{
    Frame, Space, access, boolean, constant, flagged_opcode, operand_or_immediate, range16, step,
    with_immediate,
};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read_wide(eval);
    let [
        is_sub,
        is_imm,
        x_lo,
        x_hi,
        y_lo,
        y_hi,
        r_lo,
        r_hi,
        carry0,
        carry1,
        old_lo,
        old_hi,
    ] = std::array::from_fn(|_| eval.next_trace_mask());
    boolean(eval, &is_sub);
    boolean(eval, &carry0);
    boolean(eval, &carry1);
    let pick = |add: &E::F, sub: &E::F| add.clone() + is_sub.clone() * (sub.clone() - add.clone());
    let (p_lo, q_lo) = (pick(&x_lo, &r_lo), pick(&r_lo, &x_lo));
    let (p_hi, q_hi) = (pick(&x_hi, &r_hi), pick(&r_hi, &x_hi));
    let base = constant::<E::F>(1 << 16);
    eval.add_constraint(p_lo + y_lo.clone() - q_lo - carry0.clone() * base.clone());
    eval.add_constraint(p_hi + y_hi.clone() + carry0 - q_hi - carry1 * base);

    let register = flagged_opcode(
        Kind::AddSub.register_opcodes(),
        std::slice::from_ref(&is_sub),
    );
    let opcode = with_immediate(register, &is_imm);
    step(eval, rel, &frame, opcode, frame.fall_through());
    let e = frame.enabler.clone();
    let fp = frame.fp.clone();
    range16(eval, rel, e.clone(), r_lo.clone());
    range16(eval, rel, e.clone(), r_hi.clone());
    let x = [x_lo, x_hi];
    let y = [y_lo, y_hi];
    let slot = |s: &E::F| fp.clone() + s.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        slot(&frame.b),
        frame.ts(0),
        x.clone(),
        x,
    );
    operand_or_immediate(eval, rel, &frame, &is_imm, y, 1);
    access(
        eval,
        rel,
        e,
        Space::Stack,
        slot(&frame.a),
        frame.ts(2),
        [old_lo, old_hi],
        [r_lo, r_hi],
    );
}
