//! `copy`: `v_lo, v_hi, old_lo, old_hi`; the read of `src`, the write of `dst`.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Copy { dst, src } = instr else {
        unreachable!("registered for Copy")
    };
    let v = row.read(src)?;
    let old = row.write(dst, value(v))?;
    row.push(v.into_iter().chain(old));
    Ok(())
}
