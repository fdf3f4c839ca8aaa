//! `bitwise`: flags `and, or, xor`, bytes `x0..x3, y0..y3, r0..r3`, `old_lo, old_hi`; reads
//! of `lhs`, `rhs`, the write of `dst`.

use obelysk_air::components::Kind;
use obelysk_air::components::byte_table::ByteOp;
use obelysk_vm::ir::{BinOp, Instr};

use super::{StepRow, WitnessError, bytes, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Binary { op, dst, lhs, rhs } = instr else {
        unreachable!("registered for And, Or, Xor")
    };
    let (x, y) = (row.read(lhs)?, row.read(rhs)?);
    let r = op.apply(value(x), value(y));
    let old = row.write(dst, r)?;
    row.expect([value(x), value(y), r])?;
    let byte_op = match op {
        BinOp::And => ByteOp::And,
        BinOp::Or => ByteOp::Or,
        BinOp::Xor => ByteOp::Xor,
        _ => unreachable!("registered for And, Or, Xor"),
    };
    let (xb, yb, rb) = (bytes(value(x)), bytes(value(y)), bytes(r));
    for k in 0..4 {
        row.byte_op(byte_op, xb[k], yb[k]);
    }
    let opcode = instr.opcode();
    row.push(Kind::Bitwise.opcodes().iter().map(|&o| u32::from(o == opcode)));
    row.push(xb.into_iter().chain(yb).chain(rb).chain(old));
    Ok(())
}
