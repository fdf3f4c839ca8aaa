//! `shift` (IR `Binary{Shl, ShrS, ShrU, Rotl, Rotr}`, `[op, dst, lhs, rhs]`, and their
//! `BinaryImm` forms, `[op, dst, lhs, imm_lo, imm_hi]`): `dst ← lhs op (rhs mod 32)`.
//!
//! Columns after the wide frame: flags `shr_s, shr_u, rotl, rotr` (`shl` is the default, when
//! no flag is set), `imm` (the immediate form, `frame::operand_or_immediate`), the bytes
//! `x0..x3` of `lhs`, `y_lo, y_hi` (`rhs`), `q`, the bits `b0..b4` of the exponent `e`,
//! `inv, z`, `u01, u23, wm`, the bytes `p0..p3` and carries `k0..k3` of `x·2^t`, `lo0, lo1,
//! hi0, hi1`, `alpha, sign, ss, fill, fh, r0, r1, old_lo, old_hi`, then reads of `lhs` (x),
//! `rhs` (y; skipped for an immediate) and the write of `dst` (r).
//!
//! Every operation is one 64-bit product `x·2^e = hi·2^32 + lo` with `e ∈ [0, 32)`: `shl` and
//! `rotl` take `e = s`, the right shifts and `rotr` take `e = (32 − s) mod 32`, where `s` is
//! the amount mod 32. Then `shl = lo`, `rotl = rotr = lo + hi` (disjoint bits), and
//! `shr_u = hi` (or `lo = x` when `s = 0`); `shr_s` adds the sign fill `2^32 − 2^e` when the
//! sign bit is set and `s ≠ 0`.
//! - flags boolean, at most one set; `right = shr_s + shr_u + rotr`, `shr = shr_s + shr_u`;
//! - `b_i` boolean, `e = Σ 2^i·b_i`; `z = [e ≠ 0]` (the is-non-zero gadget, columns `inv, z`);
//! - the amount: `y_lo = s + 32·q` with `s = e + right·(32·z − 2·e)` and `q ∈ Range16`. `s`
//!   is `e` or `32 − e` (`0` when `e = 0`), so `s ∈ [0, 32)` and the split of `y_lo` is unique;
//! - `w = 2^t` with `t = e mod 16`, zero-based so a padding row holds:
//!   `u01 = (1 + b0)(1 + 3·b1) − 1`, `u23 = (1 + 15·b2)(1 + 255·b3) − 1`,
//!   `wm = u01 + u23 + u01·u23`, `w = 1 + wm`;
//! - `x·w` byte by byte: `x0·w = p0 + 2^8·k0`, `x_i·w + k_{i−1} = p_i + 2^8·k_i`; the bytes are
//!   checked as pairs in `Bytes`, the carries in `Range16`, so every equation is below 2^25
//!   and holds over the integers: `x·w = P0 + 2^16·P1 + 2^32·k3` with `P0 = p0 + 2^8·p1`,
//!   `P1 = p2 + 2^8·p3`;
//! - `x·2^e` is that times `2^16·b4`: `lo0 = (1 − b4)·P0`, `lo1 = (1 − b4)·P1 + b4·P0`,
//!   `hi0 = (1 − b4)·k3 + b4·P1`, `hi1 = b4·k3`;
//! - the sign: `x3 = 2^7·sign + u` with `sign` boolean and `2^9·u ∈ Range16`; `x3` is a byte,
//!   so `u ∈ [−2^7, 2^8)` and the check leaves `u ∈ [0, 2^7)`: `sign` is bit 31 of x.
//!   `ss = shr_s·sign`, `fill = ss·z`, `fh = fill·(1 − b4)`;
//! - `alpha = enabler − shr·z`, and with `beta = Σ flags`:
//!   `r0 = alpha·lo0 + beta·hi0 + fh·(2^16 − w)`,
//!   `r1 = alpha·lo1 + beta·hi1 + fill·(2^16 − 1) + (fill − fh)·(1 − w)`: the fill's limbs
//!   are `(2^16 − w, 2^16 − 1)` for `e < 16` and `(0, 2^16 − w)` above. Every term is fixed
//!   by the product, so the written limbs are the honest ones, below 2^16.

use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{
    Frame, Space, access, boolean, byte_pair, constant, flagged_opcode, non_zero,
    operand_or_immediate, range16, step, with_immediate,
};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read_wide(eval);
    let flags: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let imm = eval.next_trace_mask();
    let x: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let [y_lo, y_hi, q] = std::array::from_fn(|_| eval.next_trace_mask());
    let b: [E::F; 5] = std::array::from_fn(|_| eval.next_trace_mask());
    let [inv, z, u01, u23, wm] = std::array::from_fn(|_| eval.next_trace_mask());
    let p: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let k: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let [
        lo0,
        lo1,
        hi0,
        hi1,
        alpha,
        sign,
        ss,
        fill,
        fh,
        r0,
        r1,
        old_lo,
        old_hi,
    ] = std::array::from_fn(|_| eval.next_trace_mask());
    let c = constant::<E::F>;
    let one = c(1);
    let byte = c(1 << 8);
    let en = frame.enabler.clone();

    let mut beta = c(0);
    for flag in &flags {
        boolean(eval, flag);
        beta += flag.clone();
    }
    boolean(eval, &beta);
    let [shr_s, shr_u, _rotl, rotr] = flags.clone();
    let right = shr_s.clone() + shr_u.clone() + rotr;
    let shr = shr_s.clone() + shr_u;

    let mut exponent = c(0);
    for (i, bit) in b.iter().enumerate() {
        boolean(eval, bit);
        exponent += bit.clone() * c(1 << i);
    }
    non_zero(eval, exponent.clone(), inv, z.clone());
    let amount = exponent.clone() + right * (z.clone() * c(32) - exponent.clone() * c(2));
    eval.add_constraint(y_lo.clone() - q.clone() * c(32) - amount);

    let [b0, b1, b2, b3, b4] = b;
    eval.add_constraint(
        u01.clone() - ((one.clone() + b0) * (one.clone() + b1 * c(3)) - one.clone()),
    );
    eval.add_constraint(
        u23.clone() - ((one.clone() + b2 * c(15)) * (one.clone() + b3 * c(255)) - one.clone()),
    );
    eval.add_constraint(wm.clone() - (u01.clone() + u23.clone() + u01 * u23));
    let w = one.clone() + wm;

    for i in 0..4 {
        let mut lhs = x[i].clone() * w.clone();
        if i > 0 {
            lhs += k[i - 1].clone();
        }
        eval.add_constraint(lhs - p[i].clone() - k[i].clone() * byte.clone());
    }
    let p_lo = p[0].clone() + p[1].clone() * byte.clone();
    let p_hi = p[2].clone() + p[3].clone() * byte.clone();
    let low = one.clone() - b4.clone();
    eval.add_constraint(lo0.clone() - low.clone() * p_lo.clone());
    eval.add_constraint(lo1.clone() - low.clone() * p_hi.clone() - b4.clone() * p_lo);
    eval.add_constraint(hi0.clone() - low.clone() * k[3].clone() - b4.clone() * p_hi);
    eval.add_constraint(hi1.clone() - b4 * k[3].clone());

    boolean(eval, &sign);
    let u = x[3].clone() - sign.clone() * c(1 << 7);
    eval.add_constraint(ss.clone() - shr_s * sign);
    eval.add_constraint(fill.clone() - ss * z.clone());
    eval.add_constraint(fh.clone() - fill.clone() * low);

    eval.add_constraint(alpha.clone() - en.clone() + shr * z);
    eval.add_constraint(
        r0.clone()
            - alpha.clone() * lo0
            - beta.clone() * hi0
            - fh.clone() * (c(1 << 16) - w.clone()),
    );
    eval.add_constraint(
        r1.clone()
            - alpha * lo1
            - beta * hi1
            - fill.clone() * c((1 << 16) - 1)
            - (fill - fh) * (one - w),
    );

    let opcode = with_immediate(flagged_opcode(Kind::Shift.register_opcodes(), &flags), &imm);
    step(eval, rel, &frame, opcode, frame.fall_through());
    let pairs = [
        [x[0].clone(), x[1].clone()],
        [x[2].clone(), x[3].clone()],
        [p[0].clone(), p[1].clone()],
        [p[2].clone(), p[3].clone()],
    ];
    for [first, second] in pairs {
        byte_pair(eval, rel, en.clone(), first, second);
    }
    for limb in k.iter().chain([&q]) {
        range16(eval, rel, en.clone(), limb.clone());
    }
    range16(eval, rel, en.clone(), u * c(1 << 9));
    let fp = frame.fp.clone();
    let xv = [
        x[0].clone() + x[1].clone() * byte.clone(),
        x[2].clone() + x[3].clone() * byte,
    ];
    access(
        eval,
        rel,
        en.clone(),
        Space::Stack,
        fp.clone() + frame.b.clone(),
        frame.ts(0),
        xv.clone(),
        xv,
    );
    operand_or_immediate(eval, rel, &frame, &imm, [y_lo, y_hi], 1);
    access(
        eval,
        rel,
        en,
        Space::Stack,
        fp + frame.a.clone(),
        frame.ts(2),
        [old_lo, old_hi],
        [r0, r1],
    );
}
