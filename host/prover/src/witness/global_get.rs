//! `global_get`: `v_lo, v_hi, old_lo, old_hi`; the read of GLOBAL[`global`], the write of
//! `dst`.

use obelysk_air::components::frame::Space;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::GlobalGet { dst, global } = instr else {
        unreachable!("registered for GlobalGet")
    };
    let v = row.access(Space::Global, global, None)?;
    let old = row.write(dst, value(v))?;
    row.expect([value(v), 0, 0])?;
    row.push(v.into_iter().chain(old));
    Ok(())
}
