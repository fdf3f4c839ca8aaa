//! `jump`: flags `if, if_zero`, `v_lo, v_hi, inv, nz, taken, next_pc`; the read of `cond`
//! (skipped for `Jump`).

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, inverse_or_zero, m, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    match instr {
        Instr::Jump { target } => {
            row.skip();
            row.push([0, 0, 0, 0, 0, 0, 1, target]);
        }
        Instr::JumpIf { cond, target } | Instr::JumpIfZero { cond, target } => {
            let is_if = matches!(instr, Instr::JumpIf { .. });
            let v = row.read(cond)?;
            let s = m(v[0]) + m(v[1]);
            let nz = u32::from(value(v) != 0);
            let taken = if is_if { nz } else { 1 - nz };
            let next = if taken == 1 { target } else { row.pc + 1 };
            row.push([u32::from(is_if), u32::from(!is_if), v[0], v[1]]);
            row.push_m31([inverse_or_zero(s), m(nz), m(taken), m(next)]);
        }
        _ => unreachable!("registered for the jumps"),
    }
    Ok(())
}
