//! `const`: `old_lo, old_hi`; the write of `dst`.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Const { dst, value } = instr else {
        unreachable!("registered for Const")
    };
    let old = row.write(dst, value)?;
    row.push(old);
    Ok(())
}
