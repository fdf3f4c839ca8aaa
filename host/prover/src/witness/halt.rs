//! `halt`: the frame only.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError};

pub(super) fn fill(_row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    debug_assert_eq!(instr, Instr::Halt);
    Ok(())
}
