//! `memory_grow`: `δ_lo, δ_hi, inv, h, le, g, ok, next, r_lo`; the read and the write of the
//! slot. The builder's page count becomes `next`.

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, inverse_or_zero, m, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::MemoryGrow { slot, max } = instr else {
        unreachable!("registered for MemoryGrow")
    };
    let delta = row.read(slot)?;
    let pages = row.builder.pages;
    let x = i64::from(max) - i64::from(pages) - i64::from(delta[0]);
    let le = x >= 0;
    let g = if le { x } else { -x - 1 };
    if g >= 1 << 16 {
        return Err(row.inconsistent(format!("{pages} pages past the maximum {max}")));
    }
    row.range16(g as u32);
    let ok = le && delta[1] == 0;
    let next = if ok { pages + delta[0] } else { pages };
    let r = if ok { pages } else { u32::MAX };
    row.write(slot, r)?;
    row.expect([value(delta), r, 0])?;
    row.push(delta);
    row.push_m31([inverse_or_zero(m(delta[1]))]);
    row.push([
        u32::from(delta[1] != 0),
        u32::from(le),
        g as u32,
        u32::from(ok),
        next,
        r & 0xffff,
    ]);
    row.builder.pages = next;
    Ok(())
}
