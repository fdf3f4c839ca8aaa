//! `unary` (IR `Unary{Clz, Ctz, Popcnt, Extend8S, Extend16S}`, `[op, dst, src, 0]`):
//! `dst ← op src`.
//!
//! Columns after the frame: flags `ctz, popcnt, extend8_s, extend16_s` (`clz` when none is
//! set), the bits `b0..b31` of x, `hi_1..hi_30` and `lo_1..lo_31` (below), `r_lo, r_hi,
//! old_lo, old_hi`, then the read of `src` (x) and the write of `dst` (r).
//!
//! - flags boolean, at most one; `clz = enabler − Σ flags`;
//! - `b_i` boolean; the value read is `(Σ_{i<16} 2^i·b_i, Σ_{i≥16} 2^(i−16)·b_i)`, so the bits
//!   are x's (and the read's limbs were range-checked when written);
//! - `hi_i` = "a bit at or above i is set": `hi_31 = b31`,
//!   `hi_i = b_i + hi_{i+1} − b_i·hi_{i+1}` (an OR of booleans is boolean); `lo_i` = "a bit
//!   at or below i is set": `lo_0 = b0`, `lo_i = b_i + lo_{i−1} − b_i·lo_{i−1}`. Then
//!   `ctz = 32 − Σ_{i≤31} lo_i` and `clz = 32 − Σ_{1≤i≤31} hi_i − lo_31` (`hi_0` would be
//!   `[x ≠ 0]`, which is `lo_31`);
//! - `popcnt = Σ b_i`; `extend8_s = (Σ_{i<8} 2^i·b_i + b7·0xff00, b7·0xffff)`,
//!   `extend16_s = (Σ_{i<16} 2^i·b_i, b15·0xffff)`;
//! - `r_lo`, `r_hi` are the flag-selected sums of those (degree 2). Each is a limb by
//!   construction: no range check.

use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{Frame, Space, access, boolean, constant, flagged_opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let flags: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let b: [E::F; 32] = std::array::from_fn(|_| eval.next_trace_mask());
    let hi_cols: [E::F; 30] = std::array::from_fn(|_| eval.next_trace_mask());
    let lo_cols: [E::F; 31] = std::array::from_fn(|_| eval.next_trace_mask());
    let [r_lo, r_hi, old_lo, old_hi] = std::array::from_fn(|_| eval.next_trace_mask());
    let c = constant::<E::F>;
    let en = frame.enabler.clone();

    let mut flag_sum = c(0);
    for flag in &flags {
        boolean(eval, flag);
        flag_sum += flag.clone();
    }
    boolean(eval, &flag_sum);
    let clz = en.clone() - flag_sum;
    let [ctz, popcnt, ext8, ext16] = flags.clone();

    let or = |x: &E::F, y: &E::F| x.clone() + y.clone() - x.clone() * y.clone();
    // hi[i] for i in 1..32: hi[31] = b31, hi[1..=30] columns.
    let mut hi: Vec<E::F> = vec![c(0); 32];
    hi[31] = b[31].clone();
    for i in (1..31).rev() {
        eval.add_constraint(hi_cols[i - 1].clone() - or(&b[i], &hi[i + 1]));
        hi[i] = hi_cols[i - 1].clone();
    }
    // lo[i] for i in 0..32: lo[0] = b0, lo[1..=31] columns.
    let mut lo: Vec<E::F> = vec![c(0); 32];
    lo[0] = b[0].clone();
    for i in 1..32 {
        eval.add_constraint(lo_cols[i - 1].clone() - or(&b[i], &lo[i - 1]));
        lo[i] = lo_cols[i - 1].clone();
    }

    let mut popcount = c(0);
    let (mut x_lo, mut x_hi) = (c(0), c(0));
    for (i, bit) in b.iter().enumerate() {
        boolean(eval, bit);
        popcount += bit.clone();
        if i < 16 {
            x_lo += bit.clone() * c(1 << i);
        } else {
            x_hi += bit.clone() * c(1 << (i - 16));
        }
    }
    let low_byte = (0..8).fold(c(0), |acc, i| acc + b[i].clone() * c(1 << i));
    let sum = |v: &[E::F]| v.iter().fold(c(0), |acc, x| acc + x.clone());
    // `Σ_{i≤31} hi_i` needs `hi_0 = [x ≠ 0]`, which is `lo_31`: a column, where `hi_0` would
    // be degree 2 (and `clz·hi_0` degree 3).
    let trailing = c(32) - sum(&lo);
    let nonzero = lo[31].clone();
    let leading = c(32) - sum(&hi[1..]) - nonzero;
    eval.add_constraint(
        r_lo.clone()
            - clz.clone() * leading
            - ctz * trailing
            - popcnt * popcount
            - ext8.clone() * (low_byte + b[7].clone() * c(0xff00))
            - ext16.clone() * x_lo.clone(),
    );
    eval.add_constraint(
        r_hi.clone() - ext8 * b[7].clone() * c(0xffff) - ext16 * b[15].clone() * c(0xffff),
    );

    let opcode = flagged_opcode(Kind::Unary.opcodes(), &flags);
    step(eval, rel, &frame, opcode, frame.fall_through());
    let fp = frame.fp.clone();
    access(
        eval,
        rel,
        en.clone(),
        Space::Stack,
        fp.clone() + frame.b.clone(),
        frame.ts(0),
        [x_lo.clone(), x_hi.clone()],
        [x_lo, x_hi],
    );
    access(
        eval,
        rel,
        en,
        Space::Stack,
        fp + frame.a.clone(),
        frame.ts(1),
        [old_lo, old_hi],
        [r_lo, r_hi],
    );
}
