//! `io`: flags `len, read, write`, `x_lo, x_hi, w_lo, w_hi, old_lo, old_hi`; the read of slot
//! `b` (`read`, `write`), the write of slot `a` (`len`, `read`).

use obelysk_vm::ir::Instr;

use super::{StepRow, WitnessError, limbs, value};

pub(super) fn fill(row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
    match instr {
        Instr::InputLen { dst } => {
            row.skip();
            let len = row.builder.input.len() as u32;
            let old = row.write(dst, len)?;
            let at = row.builder.input_row + row.builder.input.len();
            row.builder.rom_uses[at] += 1;
            row.push([1, 0, 0, 0, 0]);
            row.push(limbs(len).into_iter().chain(old));
        }
        Instr::Read { dst, index } => {
            let i = row.read(index)?;
            let Some(&word) = row.builder.input.get(value(i) as usize) else {
                return Err(row.inconsistent(format!("read({}) past the input", value(i))));
            };
            let old = row.write(dst, word)?;
            let at = row.builder.input_row + value(i) as usize;
            row.builder.rom_uses[at] += 1;
            row.push([0, 1, 0]);
            row.push(i.into_iter().chain(limbs(word)).chain(old));
        }
        Instr::Write { src } => {
            let x = row.read(src)?;
            row.skip();
            row.push([0, 0, 1]);
            row.push(x.into_iter().chain([0, 0, 0, 0]));
            row.builder.out += 1;
        }
        _ => unreachable!("registered for InputLen, Read, Write"),
    }
    Ok(())
}
