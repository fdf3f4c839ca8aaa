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
    let carries = column_carries(xb, yb, 4);
    for b in [xb, yb, rb] {
        row.byte_op(ByteOp::Pair, b[0], b[1]);
        row.byte_op(ByteOp::Pair, b[2], b[3]);
    }
    for &k in &carries {
        row.range10(k);
    }
    row.push(xb.into_iter().chain(yb).chain(rb).chain(carries).chain(old));
    Ok(())
}

/// The carries out of the first `columns` columns of the byte product `x·y`
/// (`obelysk_air::components::mul::byte_product`): column `n` sums `x_i·y_j` over `i + j = n`
/// and the carry in, keeps its low byte and carries the rest.
pub(super) fn column_carries(x: [u32; 4], y: [u32; 4], columns: usize) -> Vec<u32> {
    let mut carry = 0;
    (0..columns)
        .map(|n| {
            let c: u32 = (n.saturating_sub(3)..=n.min(3))
                .map(|i| x[i] * y[n - i])
                .sum::<u32>()
                + carry;
            carry = c >> 8;
            carry
        })
        .collect()
}
