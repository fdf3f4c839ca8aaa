//! `call`: `old0, old1`; the write of FRAME[`fp + frame`] ← `(pc + 1, fp)`.

use obelysk_air::components::frame::Space;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Call { frame, .. } = instr else {
        unreachable!("registered for Call")
    };
    let saved = [row.pc + 1, row.fp];
    let old = row.access(Space::Frame, row.fp + frame, Some(saved))?;
    row.push(old);
    Ok(())
}
