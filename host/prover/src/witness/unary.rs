//! `unary`: flags `ctz, popcnt, extend8_s, extend16_s`, bits `b0..b31`, `hi_1..hi_30`,
//! `lo_1..lo_31`, `r_lo, r_hi, old_lo, old_hi`; the read of `src`, the write of `dst`.

use obelysk_air::components::Kind;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, limbs, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Unary { op, dst, src } = instr else {
        unreachable!("registered for the unary operations")
    };
    let x = value(row.read(src)?);
    let r = op.apply(x);
    let old = row.write(dst, r)?;
    row.expect([x, r, 0])?;
    let opcode = instr.opcode();
    row.push(Kind::Unary.opcodes()[1..].iter().map(|&o| u32::from(o == opcode)));
    row.push((0..32).map(|i| (x >> i) & 1));
    // Some bit at or above i (i = 1..=30); at or below i (i = 1..=31).
    row.push((1..31).map(|i| u32::from(x >> i != 0)));
    row.push((1..32).map(|i| u32::from(x << (31 - i) != 0)));
    row.push(limbs(r).into_iter().chain(old));
    Ok(())
}
