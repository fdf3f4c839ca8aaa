//! `cmp`: eleven flags (the registry's order), `x_lo, x_hi, y_lo, y_hi, sx, sy, xf_hi, yf_hi,
//! d_lo, d_hi, borrow0, borrow1, inv, nz, gt, r, old_lo, old_hi`; reads of `lhs`, `rhs`
//! (skipped for `eqz`), the write of `dst`.

use obelysk_air::components::Kind;
use obelysk_vm::ir::{Instr, Opcode};
use stwo::core::fields::m31::M31;

use super::{StepRow, WitnessError, inverse_or_zero, m, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let (dst, x, y) = match instr {
        Instr::Binary { dst, lhs, rhs, .. } => (dst, row.read(lhs)?, row.read(rhs)?),
        Instr::Eqz { dst, src } => {
            let x = row.read(src)?;
            row.skip();
            (dst, x, [0, 0])
        }
        _ => unreachable!("registered for Eqz and the comparisons"),
    };
    let opcode = instr.opcode();
    let r = match instr {
        Instr::Binary { op, .. } => op.apply(value(x), value(y)),
        _ => u32::from(value(x) == 0),
    };
    let old = row.write(dst, r)?;
    match instr {
        Instr::Binary { .. } => row.expect([value(x), value(y), r])?,
        _ => row.expect([value(x), r, 0])?,
    }
    let opcodes = Kind::Cmp.opcodes();
    row.push(opcodes.iter().map(|&o| u32::from(o == opcode)));
    let signed = matches!(
        opcode,
        Opcode::LtS | Opcode::GtS | Opcode::LeS | Opcode::GeS
    );
    // Signed comparisons compare the values with their sign bits flipped.
    let sign = |v: [u32; 2]| u32::from(signed) * (v[1] >> 15);
    let flip = |v: [u32; 2]| if signed { v[1] ^ 0x8000 } else { v[1] };
    let (sx, sy, xf, yf) = (sign(x), sign(y), flip(x), flip(y));
    let borrow0 = u32::from(x[0] < y[0]);
    let d_lo = (x[0] + (borrow0 << 16)) - y[0];
    let borrow1 = u32::from(xf < yf + borrow0);
    let d_hi = (xf + (borrow1 << 16)) - yf - borrow0;
    for limb in [d_lo, d_hi, xf, yf] {
        row.range16(limb);
    }
    let s = m(d_lo) + m(d_hi);
    let nz = u32::from(s != M31::from(0));
    let gt = (1 - borrow1) * nz;
    row.push([x[0], x[1], y[0], y[1], sx, sy, xf, yf, d_lo, d_hi, borrow0, borrow1]);
    row.push_m31([inverse_or_zero(s), m(nz), m(gt), m(r)]);
    row.push(old);
    Ok(())
}
