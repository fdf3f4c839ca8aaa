//! `cmp` (IR `Eqz` opcode 2 `[2, dst, src, 0]`, and `Binary{Eq, Ne, LtU, GtU, LeU, GeU}`
//! opcodes 18..=23 `[op, dst, lhs, rhs]`): `dst ← (lhs op rhs) ∈ {0, 1}`.
//!
//! Columns after the frame: seven opcode flags `eqz, eq, ne, lt_u, gt_u, le_u, ge_u`, then
//! `x_lo, x_hi, y_lo, y_hi, d_lo, d_hi, borrow0, borrow1, inv, nz, gt, r, old_lo, old_hi`, then
//! reads of `lhs` (x) and `rhs` (y; skipped for `eqz`, whose `y` is forced to 0) and the write
//! of `dst` (`(r, 0)`).
//!
//! - flags are boolean and sum to `enabler`: one operation per real row, none on padding;
//! - `x − y` limb by limb with boolean borrows and range-checked difference limbs:
//!   `d_lo = x_lo − y_lo + 2^16·borrow0`, `d_hi = x_hi − y_hi − borrow0 + 2^16·borrow1`,
//!   so `borrow1 = [x < y]` over the integers (never on a folded `lo + 2^16·hi`, which wraps);
//! - `x = y ⇔ d_lo + d_hi = 0` (both limbs below 2^16): `nz` from the is-non-zero gadget;
//! - `gt = (1 − borrow1)·nz`, and `r` is the flag-selected combination of these booleans.

use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Space, access, boolean, constant, non_zero, range16, step};
use crate::relations::Relations;

/// Opcode of `Eqz`.
pub const OPCODE_EQZ: u32 = 2;
/// Opcode of `Binary{Eq}`; `Ne, LtU, GtU, LeU, GeU` follow.
pub const OPCODE_EQ: u32 = 18;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let flags: [E::F; 7] = std::array::from_fn(|_| eval.next_trace_mask());
    let [
        x_lo,
        x_hi,
        y_lo,
        y_hi,
        d_lo,
        d_hi,
        borrow0,
        borrow1,
        inv,
        nz,
        gt,
        r,
        old_lo,
        old_hi,
    ] = std::array::from_fn(|_| eval.next_trace_mask());
    let one = constant::<E::F>(1);
    let base = constant::<E::F>(1 << 16);
    let e = frame.enabler.clone();

    let mut flag_sum = constant::<E::F>(0);
    for flag in &flags {
        boolean(eval, flag);
        flag_sum += flag.clone();
    }
    eval.add_constraint(flag_sum - e.clone());
    let [f_eqz, f_eq, f_ne, f_lt, f_gt, f_le, f_ge] = flags;
    // `eqz` compares with zero.
    eval.add_constraint(f_eqz.clone() * y_lo.clone());
    eval.add_constraint(f_eqz.clone() * y_hi.clone());

    boolean(eval, &borrow0);
    boolean(eval, &borrow1);
    eval.add_constraint(
        x_lo.clone() - y_lo.clone() + borrow0.clone() * base.clone() - d_lo.clone(),
    );
    eval.add_constraint(
        x_hi.clone() - y_hi.clone() - borrow0 + borrow1.clone() * base - d_hi.clone(),
    );
    non_zero(eval, d_lo.clone() + d_hi.clone(), inv, nz.clone());
    eval.add_constraint(gt.clone() - (one.clone() - borrow1.clone()) * nz.clone());
    let eq = one.clone() - nz.clone();
    let result = (f_eqz.clone() + f_eq.clone()) * eq
        + f_ne.clone() * nz
        + f_lt.clone() * borrow1.clone()
        + f_gt.clone() * gt.clone()
        + f_le.clone() * (one.clone() - gt)
        + f_ge.clone() * (one - borrow1);
    eval.add_constraint(r.clone() - result);

    let opcode = f_eqz.clone() * constant::<E::F>(OPCODE_EQZ)
        + [f_eq, f_ne, f_lt, f_gt, f_le, f_ge]
            .into_iter()
            .enumerate()
            .map(|(k, f)| f * constant::<E::F>(OPCODE_EQ + k as u32))
            .fold(constant::<E::F>(0), |acc, x| acc + x);
    step(eval, rel, &frame, opcode, frame.fall_through());
    range16(eval, rel, e.clone(), d_lo);
    range16(eval, rel, e.clone(), d_hi);
    let fp = frame.fp.clone();
    let slot = |s: &E::F| fp.clone() + s.clone();
    let x = [x_lo, x_hi];
    let y = [y_lo, y_hi];
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
    access(
        eval,
        rel,
        e.clone() - f_eqz,
        Space::Stack,
        slot(&frame.c),
        frame.ts(1),
        y.clone(),
        y,
    );
    access(
        eval,
        rel,
        e,
        Space::Stack,
        slot(&frame.a),
        frame.ts(2),
        [old_lo, old_hi],
        [r, constant(0)],
    );
}
