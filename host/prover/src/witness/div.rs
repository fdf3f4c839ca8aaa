//! `div`: flags `div_u, rem_s, rem_u`, `x_lo, x_hi, y_lo, y_hi, sx, sy`, bytes
//! `ax0..ax3, ay0..ay3, aq0..aq3, ar0..ar3`, `cx0, cx1, cy0, cy1`, carries `k0..k3`,
//! `borrow, sq, q_lo, q_hi, cq0, cq1, r_lo, r_hi, cr0, cr1, g, inv, m, res_lo, res_hi, old_lo,
//! old_hi`; reads of `lhs`, `rhs`, the write of `dst`.

use obelysk_air::components::Kind;
use obelysk_air::components::byte_table::ByteOp;
use obelysk_vm::ir::{BinOp, Instr};
use stwo::core::fields::m31::M31;

use super::{StepRow, WitnessError, bytes, inverse_or_zero, limbs, m, value};

/// The carries `(c0, c1)` of `v = −a mod 2^32` (both zero unless `negated`).
fn negation_carries(v: u32, a: u32, negated: bool) -> [u32; 2] {
    if !negated {
        return [0, 0];
    }
    let ([v0, v1], [a0, a1]) = (limbs(v), limbs(a));
    let c0 = (v0 + a0) >> 16;
    [c0, (v1 + a1 + c0) >> 16]
}

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Binary { op, dst, lhs, rhs } = instr else {
        unreachable!("registered for the divisions")
    };
    let (xl, yl) = (row.read(lhs)?, row.read(rhs)?);
    let (x, y) = (value(xl), value(yl));
    let res = op.apply(x, y);
    let old = row.write(dst, res)?;
    row.expect([x, y, res])?;
    let opcode = instr.opcode();
    row.push(Kind::Div.opcodes()[1..].iter().map(|&o| u32::from(o == opcode)));

    let signed = matches!(op, BinOp::DivS | BinOp::RemS);
    let (sx, sy) = (signed && x >> 31 == 1, signed && y >> 31 == 1);
    let magnitude = |v: u32, negative: bool| if negative { v.wrapping_neg() } else { v };
    let (ax, ay) = (magnitude(x, sx), magnitude(y, sy));
    let (aq, ar) = (ax / ay, ax % ay);
    let sq = sx != sy;
    let (q, r) = (magnitude(aq, sq), magnitude(ar, sx));
    debug_assert_eq!(res, if matches!(op, BinOp::DivS | BinOp::DivU) { q } else { r });

    let (axb, ayb, aqb, arb) = (bytes(ax), bytes(ay), bytes(aq), bytes(ar));
    let mut k = [0u32; 4];
    let mut carry = 0;
    for n in 0..4 {
        let sum: u32 = (0..=n).map(|i| aqb[i] * ayb[n - i]).sum::<u32>() + carry + arb[n];
        debug_assert_eq!(sum & 0xff, axb[n]);
        carry = sum >> 8;
        k[n] = carry;
    }
    let [ay_lo, ay_hi] = limbs(ay);
    let [ar_lo, ar_hi] = limbs(ar);
    let borrow = u32::from(ay_lo < ar_lo + 1);
    let d_lo = ay_lo + (borrow << 16) - ar_lo - 1;
    let d_hi = ay_hi - ar_hi - borrow;
    let g = u32::from(op == BinOp::DivS && !sq);
    let inv = if g == 1 {
        inverse_or_zero(m(aqb[3]) - M31::from(1 << 7))
    } else {
        M31::from(0)
    };
    let flip = |hi: u32, negative: bool| {
        if signed {
            hi + (1 << 15) - (u32::from(negative) << 16)
        } else {
            hi
        }
    };

    for b in [axb, ayb, aqb, arb] {
        row.byte_op(ByteOp::Pair, b[0], b[1]);
        row.byte_op(ByteOp::Pair, b[2], b[3]);
    }
    let checked = k.into_iter().chain([flip(xl[1], sx), flip(yl[1], sy), d_lo, d_hi]);
    for limb in checked.chain(limbs(res)) {
        row.range16(limb);
    }

    row.push(xl.into_iter().chain(yl).chain([u32::from(sx), u32::from(sy)]));
    row.push(axb.into_iter().chain(ayb).chain(aqb).chain(arb));
    row.push(negation_carries(x, ax, sx));
    row.push(negation_carries(y, ay, sy));
    row.push(k);
    row.push([borrow, u32::from(sq)]);
    row.push(limbs(q).into_iter().chain(negation_carries(q, aq, sq)));
    row.push(limbs(r).into_iter().chain(negation_carries(r, ar, sx)));
    row.push_m31([m(g), inv, m(g) * inv]);
    row.push(limbs(res).into_iter().chain(old));
    Ok(())
}
