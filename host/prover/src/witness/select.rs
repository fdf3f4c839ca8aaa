//! `select`: `x_lo, x_hi, y_lo, y_hi, c_lo, c_hi, inv, nz, r_lo, r_hi, old_lo, old_hi`; reads
//! of `first`, `first + 1`, `cond`, the write of `dst`.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, inverse_or_zero, limbs, m, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Select { dst, first, cond } = instr else {
        unreachable!("registered for Select")
    };
    let x = row.read(first)?;
    let y = row.read(first + 1)?;
    let c = row.read(cond)?;
    let r = if value(c) != 0 { value(x) } else { value(y) };
    let old = row.write(dst, r)?;
    row.expect([value(x), value(y), value(c)])?;
    let s = m(c[0]) + m(c[1]);
    row.push(x.into_iter().chain(y).chain(c));
    row.push_m31([inverse_or_zero(s), m(u32::from(value(c) != 0))]);
    row.push(limbs(r).into_iter().chain(old));
    Ok(())
}
