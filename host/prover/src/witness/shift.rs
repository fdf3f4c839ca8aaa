//! `shift`: `d`, flags `shr_s, shr_u, rotl, rotr`, `imm`, bytes `x0..x3`, `y_lo, y_hi, q`,
//! bits `b0..b4`, `inv, z, u01, u23, wm`, bytes `p0..p3`, carries `k0..k3`, `lo0, lo1, hi0, hi1`,
//! `alpha, sign, ss, fill, fh, r0, r1, old_lo, old_hi`; reads of `lhs`, `rhs` (skipped for
//! an immediate), the write of `dst`.

use obelysk_air::components::Kind;
use obelysk_air::components::byte_table::ByteOp;
use obelysk_vm::ir::{BinOp, Instr};

use super::{StepRow, WitnessError, binary, bytes, inverse_or_zero, limbs, m, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Some((op, dst, lhs, rhs)) = binary(instr) else {
        unreachable!("registered for the shifts and their immediate forms")
    };
    let (x, y) = (row.read(lhs)?, row.operand(rhs)?);
    let r = op.apply(value(x), value(y));
    let old = row.write(dst, r)?;
    row.expect([value(x), value(y), r])?;
    let opcode = op.opcode();
    let opcodes = Kind::Shift.register_opcodes();
    let (d, imm) = rhs.columns();
    row.push([d]);
    row.push(opcodes[1..].iter().map(|&o| u32::from(o == opcode)));
    row.push([imm]);

    let right = matches!(op, BinOp::ShrS | BinOp::ShrU | BinOp::Rotr);
    let shr = matches!(op, BinOp::ShrS | BinOp::ShrU);
    let s = y[0] & 31;
    let e = if right { (32 - s) % 32 } else { s };
    let bits: [u32; 5] = std::array::from_fn(|i| (e >> i) & 1);
    let z = u32::from(e != 0);
    let w = 1u32 << (e & 15);
    let u01 = (1 + bits[0]) * (1 + 3 * bits[1]) - 1;
    let u23 = (1 + 15 * bits[2]) * (1 + 255 * bits[3]) - 1;

    let xb = bytes(value(x));
    let (mut p, mut k) = ([0u32; 4], [0u32; 4]);
    let mut carry = 0;
    for i in 0..4 {
        let v = xb[i] * w + carry;
        p[i] = v & 0xff;
        k[i] = v >> 8;
        carry = k[i];
    }
    let product = (u64::from(value(x)) << (e & 15)) << (16 * bits[4]);
    let (lo, hi) = (limbs(product as u32), limbs((product >> 32) as u32));

    let sign = value(x) >> 31;
    let ss = u32::from(op == BinOp::ShrS) * sign;
    let fill = ss * z;
    let fh = fill * (1 - bits[4]);
    let alpha = 1 - u32::from(shr) * z;
    let u = xb[3] - (sign << 7);

    row.byte_op(ByteOp::Pair, xb[0], xb[1]);
    row.byte_op(ByteOp::Pair, xb[2], xb[3]);
    row.byte_op(ByteOp::Pair, p[0], p[1]);
    row.byte_op(ByteOp::Pair, p[2], p[3]);
    for limb in k.into_iter().chain([y[0] >> 5, u << 9]) {
        row.range16(limb);
    }

    row.push(xb);
    row.push([y[0], y[1], y[0] >> 5]);
    row.push(bits);
    row.push_m31([inverse_or_zero(m(e)), m(z)]);
    row.push([u01, u23, w - 1]);
    row.push(p.into_iter().chain(k));
    row.push(lo.into_iter().chain(hi));
    row.push([alpha, sign, ss, fill, fh]);
    row.push(limbs(r).into_iter().chain(old));
    Ok(())
}
