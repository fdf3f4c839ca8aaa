//! `mul_wide`: bytes `x0..x3, y0..y3, r0..r7`, carries `k0..k5`, the old limbs of `dst` and
//! `dst + 1`; reads of `lhs`, `rhs`, the writes of `dst` (low word) and `dst + 1`.

use obelysk_air::components::byte_table::ByteOp;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, bytes, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::MulWide { dst, lhs, rhs } = instr else {
        unreachable!("registered for MulWide")
    };
    let (x, y) = (row.read(lhs)?, row.read(rhs)?);
    let product = u64::from(value(x)) * u64::from(value(y));
    let (low, high) = (product as u32, (product >> 32) as u32);
    let old = row.write(dst, low)?;
    let old2 = row.write(dst + 1, high)?;
    row.expect([value(x), value(y), low])?;
    let (xb, yb) = (bytes(value(x)), bytes(value(y)));
    let rb: Vec<u32> = product.to_le_bytes().map(u32::from).to_vec();
    let mut carries = super::mul::column_carries(xb, yb, 7);
    // The last column's carry out is the top byte.
    let top = carries.pop();
    debug_assert_eq!(top, Some(rb[7]));
    for pair in xb.chunks(2).chain(yb.chunks(2)).chain(rb.chunks(2)) {
        row.byte_op(ByteOp::Pair, pair[0], pair[1]);
    }
    for &k in &carries {
        row.range10(k);
    }
    row.push(xb.into_iter().chain(yb).chain(rb).chain(carries).chain(old).chain(old2));
    Ok(())
}
