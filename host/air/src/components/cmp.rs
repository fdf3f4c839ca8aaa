//! `cmp` (IR `Eqz` `[eqz, dst, src, 0]` and `Binary{Eq, Ne, LtU, GtU, LeU, GeU, LtS, GtS,
//! LeS, GeS}` `[op, dst, lhs, rhs]`): `dst ← (lhs op rhs) ∈ {0, 1}`.
//!
//! Columns after the frame: eleven opcode flags in the registry's order (`eqz, eq, ne, lt_u,
//! gt_u, le_u, ge_u, lt_s, gt_s, le_s, ge_s`), then `x_lo, x_hi, y_lo, y_hi, sx, sy, xf_hi,
//! yf_hi, d_lo, d_hi, borrow0, borrow1, inv, nz, gt, r, old_lo, old_hi`, then reads of `lhs`
//! (x) and `rhs` (y; skipped for `eqz`, whose `y` is forced to 0) and the write of `dst`
//! (`(r, 0)`).
//!
//! - flags are boolean and sum to `enabler`: one operation per real row, none on padding;
//! - signed operations compare `x ⊕ 2^31` with `y ⊕ 2^31` unsigned. With `s` = the sum of the
//!   signed flags: `xf_hi = x_hi + s·(2^15 − 2^16·sx)`, `sx` boolean, `xf_hi ∈ Range16`
//!   (the same for y). For `s = 1` that range check forces `sx = [x_hi ≥ 2^15]`, the sign bit
//!   (`x_hi + 2^15` is a limb only when `x_hi < 2^15`, `x_hi − 2^15` only when `x_hi ≥ 2^15`),
//!   so `xf_hi = x_hi ⊕ 2^15`; for `s = 0`, `xf_hi = x_hi`;
//! - `(x_lo, xf_hi) − (y_lo, yf_hi)` limb by limb with boolean borrows and range-checked
//!   difference limbs: `d_lo = x_lo − y_lo + 2^16·borrow0`,
//!   `d_hi = xf_hi − yf_hi − borrow0 + 2^16·borrow1`, so `borrow1 = [x < y]` over the integers
//!   (never on a folded `lo + 2^16·hi`, which wraps);
//! - `x = y ⇔ d_lo + d_hi = 0` (both limbs below 2^16): `nz` from the is-non-zero gadget;
//! - `gt = (1 − borrow1)·nz`, and `r` is the flag-selected combination of these booleans.

use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{
    Frame, Space, access, boolean, constant, flagged_opcode, non_zero, range16, step,
};
use crate::relations::Relations;

/// Number of opcode flags.
pub const FLAGS: usize = 11;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let flags: [E::F; FLAGS] = std::array::from_fn(|_| eval.next_trace_mask());
    let [
        x_lo,
        x_hi,
        y_lo,
        y_hi,
        sx,
        sy,
        xf_hi,
        yf_hi,
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
    let opcode = flagged_opcode(Kind::Cmp.opcodes(), &flags);
    let [
        f_eqz,
        f_eq,
        f_ne,
        f_lt,
        f_gt,
        f_le,
        f_ge,
        f_lt_s,
        f_gt_s,
        f_le_s,
        f_ge_s,
    ] = flags;
    // `eqz` compares with zero.
    eval.add_constraint(f_eqz.clone() * y_lo.clone());
    eval.add_constraint(f_eqz.clone() * y_hi.clone());

    let signed = f_lt_s.clone() + f_gt_s.clone() + f_le_s.clone() + f_ge_s.clone();
    let half = constant::<E::F>(1 << 15);
    for (sign, hi, flipped) in [(&sx, &x_hi, &xf_hi), (&sy, &y_hi, &yf_hi)] {
        boolean(eval, sign);
        eval.add_constraint(
            flipped.clone()
                - hi.clone()
                - signed.clone() * (half.clone() - sign.clone() * base.clone()),
        );
    }

    boolean(eval, &borrow0);
    boolean(eval, &borrow1);
    eval.add_constraint(
        x_lo.clone() - y_lo.clone() + borrow0.clone() * base.clone() - d_lo.clone(),
    );
    eval.add_constraint(
        xf_hi.clone() - yf_hi.clone() - borrow0 + borrow1.clone() * base - d_hi.clone(),
    );
    non_zero(eval, d_lo.clone() + d_hi.clone(), inv, nz.clone());
    eval.add_constraint(gt.clone() - (one.clone() - borrow1.clone()) * nz.clone());
    let eq = one.clone() - nz.clone();
    let result = (f_eqz.clone() + f_eq) * eq
        + f_ne * nz
        + (f_lt + f_lt_s) * borrow1.clone()
        + (f_gt + f_gt_s) * gt.clone()
        + (f_le + f_le_s) * (one.clone() - gt)
        + (f_ge + f_ge_s) * (one - borrow1);
    eval.add_constraint(r.clone() - result);

    step(eval, rel, &frame, opcode, frame.fall_through());
    range16(eval, rel, e.clone(), d_lo);
    range16(eval, rel, e.clone(), d_hi);
    range16(eval, rel, e.clone(), xf_hi);
    range16(eval, rel, e.clone(), yf_hi);
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
