//! `jump_table`: `x_lo, x_hi, borrow0, lt, off`; the read of `index`.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, m, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::JumpTable { index, count } = instr else {
        unreachable!("registered for JumpTable")
    };
    let x = row.read(index)?;
    row.expect([value(x), 0, 0])?;
    let borrow0 = u32::from(x[0] < count);
    let lt = u32::from(value(x) < count);
    // `x − count`, negative in the field, below the count; 0 from it on.
    let off = if lt == 1 { m(value(x)) - m(count) } else { m(0) };
    row.range16(x[0] + (borrow0 << 16) - count);
    row.range16(x[1] + (lt << 16) - borrow0);
    row.push([x[0], x[1], borrow0, lt]);
    row.push_m31([off]);
    Ok(())
}
