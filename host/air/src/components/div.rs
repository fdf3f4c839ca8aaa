//! `div` (IR `Binary{DivS, DivU, RemS, RemU}`, `[op, dst, lhs, rhs]`): `dst ← lhs op rhs`.
//! A run that divides by zero or computes `INT_MIN / −1` traps and has no proof: these rows
//! cannot be satisfied for it.
//!
//! Columns after the frame: flags `div_u, rem_s, rem_u` (`div_s` when none is set), `x_lo,
//! x_hi, y_lo, y_hi, sx, sy`, the magnitudes' bytes `ax0..ax3, ay0..ay3, aq0..aq3, ar0..ar3`,
//! negation carries `cx0, cx1, cy0, cy1`, product carries `k0..k3`, `borrow, sq`, `q_lo, q_hi,
//! cq0, cq1, r_lo, r_hi, cr0, cr1, g, inv, m, res_lo, res_hi, old_lo, old_hi`, then reads of
//! `lhs` (x), `rhs` (y) and the write of `dst` (res).
//!
//! Division of magnitudes, then signs: `|x| = |q|·|y| + |r|` with `|r| < |y|`, `q` negative
//! when the signs differ, `r` with the sign of x (Wasm truncates toward zero).
//! - flags boolean, at most one; `signed = enabler − div_u − rem_u`,
//!   `is_div = enabler − rem_s − rem_u`, `div_s = enabler − Σ flags`;
//! - signs: `sx, sy` boolean, `sx·(1 − signed) = 0`, and `x_hi + signed·2^15 − 2^16·sx ∈
//!   Range16` (cmp's flip: it forces `sx` = bit 31 for a signed operation); so for y;
//! - `neg(v, a, s)`: `v = a` when `s = 0`, `v = −a mod 2^32` when `s = 1`, limb by limb:
//!   `v_lo − a_lo + s·(2·a_lo − 2^16·c0) = 0`, `v_hi − a_hi + s·(2·a_hi + c0 − 2^16·c1) = 0`,
//!   `c·(c − s) = 0` (boolean, zero when `s = 0`). With both sides' limbs below 2^16 the
//!   equations hold over the integers. Applied as `neg(x, ax, sx)`, `neg(y, ay, sy)`,
//!   `neg(q, aq, sq)` and `neg(r, ar, sx)`, with `sq = sx + sy − 2·sx·sy`;
//! - every magnitude byte is one (`Bytes(pair, ·, ·, 0)`, two per lookup);
//! - `ax = aq·ay + ar` byte by byte: `Σ_{i+j=n} aq_i·ay_j + k_{n−1} + ar_n = ax_n + 2^8·k_n`
//!   for `n < 4`, carries in `Range16`, and `Σ_{i+j≥4} aq_i·ay_j + k3 = 0` (a sum of
//!   non-negative terms below 2^20, so each is zero): exact over the integers;
//! - `ar < ay`: `ay_lo − ar_lo − 1 + 2^16·borrow` and `ay_hi − ar_hi − borrow` in `Range16`,
//!   `borrow` boolean. It also rules out `y = 0`;
//! - `INT_MIN / −1`: `|q| ≤ |x| ≤ 2^31`, so `|q|` has bit 31 only as `2^31`, `aq3 = 2^7`,
//!   which is not an i32 when q is positive. `g = div_s·(1 − sq)`, `m = g·inv`,
//!   `(aq3 − 2^7)·m = g`: a positive quotient of `div_s` has `aq3 ≠ 2^7`;
//! - `res = r + is_div·(q − r)` limb by limb, and `res_lo, res_hi ∈ Range16` (which makes the
//!   negation of the written value exact).

use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{
    Frame, Space, access, boolean, byte_pair, constant, flagged_opcode, range16, step,
};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let flags: [E::F; 3] = std::array::from_fn(|_| eval.next_trace_mask());
    let [x_lo, x_hi, y_lo, y_hi, sx, sy] = std::array::from_fn(|_| eval.next_trace_mask());
    let ax: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let ay: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let aq: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let ar: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let [cx0, cx1, cy0, cy1] = std::array::from_fn(|_| eval.next_trace_mask());
    let k: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let [borrow, sq, q_lo, q_hi, cq0, cq1, r_lo, r_hi, cr0, cr1] =
        std::array::from_fn(|_| eval.next_trace_mask());
    let [g, inv, m, res_lo, res_hi, old_lo, old_hi] =
        std::array::from_fn(|_| eval.next_trace_mask());
    let c = constant::<E::F>;
    let byte = c(1 << 8);
    let base = c(1 << 16);
    let en = frame.enabler.clone();

    let mut flag_sum = c(0);
    for flag in &flags {
        boolean(eval, flag);
        flag_sum += flag.clone();
    }
    boolean(eval, &flag_sum);
    let [div_u, rem_s, rem_u] = flags.clone();
    let signed = en.clone() - div_u - rem_u.clone();
    let is_div = en.clone() - rem_s - rem_u;
    let div_s = en.clone() - flag_sum;

    for sign in [&sx, &sy] {
        boolean(eval, sign);
        eval.add_constraint(sign.clone() * (c(1) - signed.clone()));
    }
    let flipped = |hi: &E::F, sign: &E::F| {
        hi.clone() + signed.clone() * c(1 << 15) - sign.clone() * base.clone()
    };
    let (xf, yf) = (flipped(&x_hi, &sx), flipped(&y_hi, &sy));

    let limbs = |b: &[E::F; 4]| {
        [
            b[0].clone() + b[1].clone() * byte.clone(),
            b[2].clone() + b[3].clone() * byte.clone(),
        ]
    };
    let [ay_lo, ay_hi] = limbs(&ay);
    let [ar_lo, ar_hi] = limbs(&ar);
    eval.add_constraint(sq.clone() - sx.clone() - sy.clone() + sx.clone() * sy.clone() * c(2));
    let negations = [
        ([x_lo.clone(), x_hi.clone()], limbs(&ax), &sx, [cx0, cx1]),
        (
            [y_lo.clone(), y_hi.clone()],
            [ay_lo.clone(), ay_hi.clone()],
            &sy,
            [cy0, cy1],
        ),
        ([q_lo.clone(), q_hi.clone()], limbs(&aq), &sq, [cq0, cq1]),
        (
            [r_lo.clone(), r_hi.clone()],
            [ar_lo.clone(), ar_hi.clone()],
            &sx,
            [cr0, cr1],
        ),
    ];
    for ([v_lo, v_hi], [a_lo, a_hi], s, [c0, c1]) in negations {
        eval.add_constraint(
            v_lo - a_lo.clone() + s.clone() * (a_lo * c(2) - c0.clone() * base.clone()),
        );
        eval.add_constraint(
            v_hi - a_hi.clone()
                + s.clone() * (a_hi * c(2) + c0.clone() - c1.clone() * base.clone()),
        );
        for carry in [c0, c1] {
            eval.add_constraint(carry.clone() * (carry - s.clone()));
        }
    }

    let mut high = k[3].clone();
    for n in 0..7 {
        let mut sum = c(0);
        for i in 0..4 {
            if n >= i && n - i < 4 {
                sum += aq[i].clone() * ay[n - i].clone();
            }
        }
        if n < 4 {
            if n > 0 {
                sum += k[n - 1].clone();
            }
            eval.add_constraint(sum + ar[n].clone() - ax[n].clone() - k[n].clone() * byte.clone());
        } else {
            high += sum;
        }
    }
    eval.add_constraint(high);

    boolean(eval, &borrow);
    let d_lo = ay_lo - ar_lo - c(1) + borrow.clone() * base.clone();
    let d_hi = ay_hi - ar_hi - borrow;

    eval.add_constraint(g.clone() - div_s * (c(1) - sq));
    eval.add_constraint(m.clone() - g.clone() * inv);
    eval.add_constraint((aq[3].clone() - c(1 << 7)) * m - g);

    eval.add_constraint(res_lo.clone() - r_lo.clone() - is_div.clone() * (q_lo - r_lo));
    eval.add_constraint(res_hi.clone() - r_hi.clone() - is_div * (q_hi - r_hi));

    let opcode = flagged_opcode(Kind::Div.opcodes(), &flags);
    step(eval, rel, &frame, opcode, frame.fall_through());
    for bytes in [&ax, &ay, &aq, &ar] {
        for pair in bytes.chunks(2) {
            byte_pair(eval, rel, en.clone(), pair[0].clone(), pair[1].clone());
        }
    }
    let checked = k
        .into_iter()
        .chain([xf, yf, d_lo, d_hi, res_lo.clone(), res_hi.clone()]);
    for limb in checked {
        range16(eval, rel, en.clone(), limb);
    }
    let fp = frame.fp.clone();
    for (j, (slot, value)) in [(&frame.b, [x_lo, x_hi]), (&frame.c, [y_lo, y_hi])]
        .into_iter()
        .enumerate()
    {
        access(
            eval,
            rel,
            en.clone(),
            Space::Stack,
            fp.clone() + slot.clone(),
            frame.ts(j as u32),
            value.clone(),
            value,
        );
    }
    access(
        eval,
        rel,
        en,
        Space::Stack,
        fp + frame.a.clone(),
        frame.ts(2),
        [old_lo, old_hi],
        [res_lo, res_hi],
    );
}
