//! `ret`: `ret_pc, caller_fp`; the read of FRAME[`fp`].

use obelysk_air::components::frame::Space;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    debug_assert_eq!(instr, Instr::Return);
    let saved = row.access(Space::Frame, row.fp, None)?;
    row.push(saved);
    Ok(())
}
