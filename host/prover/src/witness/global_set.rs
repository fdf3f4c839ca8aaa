//! `global_set`: `v_lo, v_hi, old_lo, old_hi`; the read of `src`, the write of
//! GLOBAL[`global`].

use obelysk_air::components::frame::Space;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::GlobalSet { global, src } = instr else {
        unreachable!("registered for GlobalSet")
    };
    let v = row.read(src)?;
    let old = row.access(Space::Global, global, Some(v))?;
    row.expect([value(v), 0, 0])?;
    row.push(v.into_iter().chain(old));
    Ok(())
}
