//! `memory_size`: `old_lo, old_hi`; the write of `dst`.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::MemorySize { dst } = instr else {
        unreachable!("registered for MemorySize")
    };
    let pages = row.builder.pages;
    let old = row.write(dst, pages)?;
    row.expect([pages, 0, 0])?;
    row.push(old);
    Ok(())
}
