//! `load`: `d`, flags, `x_lo, x_hi, c1, c2, a_lo`, bytes `b0..b3`, signs `n8, n16`, `old_lo,
//! old_hi`; the read of `base`, the reads of bytes 0..3 (skipped past the length), the write
//! of `dst`.

use obelysk_air::components::Kind;
use obelysk_vm::ir::{Instr, LoadOp};

use super::{StepRow, WitnessError, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Load {
        op,
        dst,
        base,
        offset,
    } = instr
    else {
        unreachable!("registered for Load")
    };
    row.push([offset >> 16]);
    let address = row.address(base, offset, op.bytes())?;
    let x = address.x;
    let b = row.memory_bytes(address.first, op.bytes(), None)?;
    let n8 = u32::from(op == LoadOp::S8 && b[0] >= 0x80);
    let n16 = u32::from(op == LoadOp::S16 && b[1] >= 0x80);
    match op {
        LoadOp::S8 => row.range16((b[0] - 0x80 * n8) << 9),
        LoadOp::S16 => row.range16((b[1] - 0x80 * n16) << 9),
        _ => {}
    }
    let r = op.extend(b.map(|byte| byte as u8));
    let old = row.write(dst, r)?;
    row.expect([value(x), r, 0])?;
    row.push(
        Kind::Load
            .opcodes()
            .iter()
            .map(|&o| u32::from(o == op.opcode())),
    );
    row.push(x.into_iter().chain(address.columns()).chain(b));
    row.push([n8, n16].into_iter().chain(old));
    Ok(())
}
