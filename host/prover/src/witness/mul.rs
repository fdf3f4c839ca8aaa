//! `mul`: bytes `x0..x3, y0..y3, r0..r3`, carries `k0..k3`, `old_lo, old_hi`; reads of
//! `lhs`, `rhs`, the write of `dst`.

use obelysk_air::components::byte_table::ByteOp;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, bytes, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Binary { op, dst, lhs, rhs } = instr else {
        unreachable!("registered for Mul")
    };
    let (x, y) = (row.read(lhs)?, row.read(rhs)?);
    let r = op.apply(value(x), value(y));
    let old = row.write(dst, r)?;
    row.expect([value(x), value(y), r])?;
    let (xb, yb, rb) = (bytes(value(x)), bytes(value(y)), bytes(r));
    let mut carries = [0u32; 4];
    let mut carry = 0;
    for n in 0..4 {
        let c: u32 = (0..=n).map(|i| xb[i] * yb[n - i]).sum::<u32>() + carry;
        debug_assert_eq!(c & 0xff, rb[n]);
        carry = c >> 8;
        carries[n] = carry;
    }
    for b in [xb, yb, rb] {
        row.byte_op(ByteOp::Pair, b[0], b[1]);
        row.byte_op(ByteOp::Pair, b[2], b[3]);
    }
    for k in carries {
        row.range10(k);
    }
    row.push(xb.into_iter().chain(yb).chain(rb).chain(carries).chain(old));
    Ok(())
}
