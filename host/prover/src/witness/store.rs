//! `store`: `d`, flags, `x_lo, x_hi, c1, c2, a_lo`, the value's bytes `q0..q3`, the old bytes
//! `o0..o3`; the reads of `base` and `src`, the writes of bytes 0..3 (skipped past the
//! length).

use obelysk_air::components::Kind;
use obelysk_air::components::byte_table::ByteOp;
use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, bytes, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    let Instr::Store {
        op,
        src,
        base,
        offset,
    } = instr
    else {
        unreachable!("registered for Store")
    };
    row.push([offset >> 16]);
    let address = row.address(base, offset, op.bytes())?;
    let x = address.x;
    let v = row.read(src)?;
    let q = bytes(value(v));
    row.byte_op(ByteOp::Pair, q[0], q[1]);
    row.byte_op(ByteOp::Pair, q[2], q[3]);
    let o = row.memory_bytes(address.first, op.bytes(), Some(q))?;
    row.expect([value(x), value(v), 0])?;
    row.push(
        Kind::Store
            .opcodes()
            .iter()
            .map(|&o| u32::from(o == op.opcode())),
    );
    row.push(x.into_iter().chain(address.columns()).chain(q).chain(o));
    Ok(())
}
