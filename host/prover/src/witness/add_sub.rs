//! `add_sub`: `d`, `is_sub, is_imm, x_lo, x_hi, y_lo, y_hi, r_lo, r_hi, carry0, carry1,
//! old_lo, old_hi`; reads of `lhs`, `rhs` (skipped for an immediate), the write of `dst`.

use obelysk_vm::ir::{BinOp, Instr};

use super::{StepRow, WitnessError, binary, limbs, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Some((op, dst, lhs, rhs)) = binary(instr) else {
        unreachable!("registered for Add, Sub and their immediate forms")
    };
    let (x, y) = (row.read(lhs)?, row.operand(rhs)?);
    let r = op.apply(value(x), value(y));
    let old = row.write(dst, r)?;
    row.expect([value(x), value(y), r])?;
    let is_sub = op == BinOp::Sub;
    let r = limbs(r);
    // p + y = q with (p, q) = (x, r) for add, (r, x) for sub.
    let (p, q) = if is_sub { (r, x) } else { (x, r) };
    let carry0 = (p[0] + y[0]) >> 16;
    let carry1 = (p[1] + y[1] + carry0) >> 16;
    debug_assert_eq!((p[0] + y[0]) & 0xffff, q[0]);
    row.range16(r[0]);
    row.range16(r[1]);
    let (d, is_imm) = rhs.columns();
    row.push([d, u32::from(is_sub), is_imm]);
    row.push([x[0], x[1], y[0], y[1], r[0], r[1], carry0, carry1]);
    row.push(old);
    Ok(())
}
