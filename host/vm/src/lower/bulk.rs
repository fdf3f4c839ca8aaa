//! Bulk memory: `memory.fill`, `memory.copy` and `memory.init` lower to byte loops of i32
//! instructions (`fill`: 4 steps a byte, `copy`: 6, `init`: 9), after a bounds check of the
//! whole range, so an access past the memory (or the segment) traps before anything is
//! written. Their cost is bounded like any other code: a run is at most the step limit (a
//! fill of 2^20 bytes is about 2^22 steps).
//!
//! A passive segment's bytes are code: `memory.init` reads byte `k` through a jump table on
//! the source offset whose entry `k` jumps to a `Const` of that byte (one per distinct byte
//! value), so the program id commits to them. Whether it was dropped is a GLOBAL cell
//! (0, then 1 after `data.drop`), and a dropped segment reads as empty.

use super::{FunctionState, Lowering, ModuleParts, Refusal};
use crate::ir::{BinOp, Instr, LoadOp, MAX_TABLE_TARGETS, Pc, Slot, StoreOp};

impl Lowering {
    /// Traps unless `[addr, addr + n)` lies in the memory: `addr + n` neither wraps nor
    /// passes `memory.size · 2^16` (at most 2^28, so the shift cannot wrap). Scratch `t..t+3`.
    fn check_range(&mut self, addr: Slot, n: Slot, t: Slot) {
        self.bin(BinOp::Add, t, addr, n);
        self.bin(BinOp::LtU, t + 1, t, addr); // wrapped past 2^32
        self.emit(Instr::MemorySize { dst: t + 2 });
        self.int(t + 3, 16);
        self.bin(BinOp::Shl, t + 2, t + 2, t + 3);
        self.bin(BinOp::GtU, t + 2, t, t + 2); // past the end
        self.bin(BinOp::Or, t + 1, t + 1, t + 2);
        self.trap_if(t + 1);
    }

    /// Traps when `cond ≠ 0`.
    fn trap_if(&mut self, cond: Slot) {
        let target = self.pc() + 2;
        self.emit(Instr::JumpIfZero { cond, target });
        self.emit(Instr::Trap);
    }

    /// A byte loop's tail: `pointers += 1`, `n −= 1`, back to `head` while `n ≠ 0`.
    fn next_byte(&mut self, pointers: &[Slot], n: Slot, one: Slot, head: Pc) {
        for &p in pointers {
            self.bin(BinOp::Add, p, p, one);
        }
        self.bin(BinOp::Sub, n, n, one);
        self.emit(Instr::JumpIf {
            cond: n,
            target: head,
        });
    }

    fn jump_if_zero(&mut self, cond: Slot) -> usize {
        self.emit(Instr::JumpIfZero { cond, target: 0 })
    }

    /// `memory.fill(d, value, n)`.
    pub(super) fn memory_fill(&mut self, s: &mut FunctionState) -> Result<(), Refusal> {
        let t = s.scratch(5)?;
        let n = s.pop()?.slot;
        let value = s.pop()?.slot;
        let d = s.pop()?.slot;
        self.check_range(d, n, t);
        let done = self.jump_if_zero(n);
        let one = t;
        self.int(one, 1);
        let head = self.pc();
        self.emit(Instr::Store {
            op: StoreOp::B8,
            src: value,
            base: d,
            offset: 0,
        });
        self.next_byte(&[d], n, one, head);
        let end = self.pc();
        self.patch(done, end);
        Ok(())
    }

    /// `memory.copy(d, src, n)`, as `memmove`: forwards when `d ≤ src`, else backwards.
    pub(super) fn memory_copy(&mut self, s: &mut FunctionState) -> Result<(), Refusal> {
        let t = s.scratch(6)?;
        let n = s.pop()?.slot;
        let src = s.pop()?.slot;
        let d = s.pop()?.slot;
        self.check_range(src, n, t);
        self.check_range(d, n, t);
        let done = self.jump_if_zero(n);
        let (one, byte, back, at) = (t, t + 1, t + 2, t + 3);
        self.int(one, 1);
        self.bin(BinOp::GtU, back, d, src);
        let backwards = self.emit(Instr::JumpIf {
            cond: back,
            target: 0,
        });
        // Forwards.
        let head = self.pc();
        self.load_byte(byte, src);
        self.store_byte(d, byte);
        self.next_byte(&[src, d], n, one, head);
        let forwards_exit = self.emit(Instr::Jump { target: 0 });
        // Backwards: bytes n − 1, …, 0.
        let head = self.pc();
        self.patch(backwards, head);
        self.bin(BinOp::Sub, n, n, one);
        self.bin(BinOp::Add, at, src, n);
        self.load_byte(byte, at);
        self.bin(BinOp::Add, at, d, n);
        self.store_byte(at, byte);
        self.emit(Instr::JumpIf {
            cond: n,
            target: head as Pc,
        });
        let end = self.pc();
        self.patch(done, end);
        self.patch(forwards_exit, end);
        Ok(())
    }

    /// `memory.init x (d, src, n)`: bytes `src..src + n` of data segment `x` to `d..d + n`.
    pub(super) fn memory_init(
        &mut self,
        module: &ModuleParts<'_>,
        s: &mut FunctionState,
        segment: u32,
    ) -> Result<(), Refusal> {
        let passive = module.segments[segment as usize].passive;
        let bytes = passive.map_or(&[][..], |(bytes, _)| bytes);
        if bytes.len() >= MAX_TABLE_TARGETS as usize {
            return Err(Refusal::Unsupported(format!(
                "memory.init of a segment of more than {} bytes",
                MAX_TABLE_TARGETS - 1
            )));
        }
        let t = s.scratch(7)?;
        let n = s.pop()?.slot;
        let src = s.pop()?.slot;
        let d = s.pop()?.slot;
        let (len, byte) = (t + 4, t + 5);
        match passive {
            // len ← dropped ? 0 : |bytes|.
            Some((_, cell)) => {
                self.int(t, 0);
                self.int(t + 1, bytes.len() as u32);
                self.emit(Instr::GlobalGet {
                    dst: t + 6,
                    global: cell,
                });
                self.pick(len, t, t + 6);
            }
            None => self.int(len, 0),
        }
        // Trap unless src + n ≤ len, without wrapping.
        self.bin(BinOp::Add, t, src, n);
        self.bin(BinOp::LtU, t + 1, t, src);
        self.bin(BinOp::GtU, t + 2, t, len);
        self.bin(BinOp::Or, t + 1, t + 1, t + 2);
        self.trap_if(t + 1);
        self.check_range(d, n, t);
        let done = self.jump_if_zero(n);
        let one = t;
        self.int(one, 1);
        let head = self.pc();
        let count = bytes.len() as u32;
        self.emit(Instr::JumpTable { index: src, count });
        let entries: Vec<usize> = (0..=count)
            .map(|_| self.emit(Instr::Jump { target: 0 }))
            .collect();
        // One `Const` per distinct byte value, each jumping to the store.
        let mut stubs: [Option<Pc>; 256] = [None; 256];
        let mut to_store = Vec::new();
        for (&entry, &value) in entries.iter().zip(bytes) {
            let stub = match stubs[value as usize] {
                Some(stub) => stub,
                None => {
                    let stub = self.pc();
                    self.int(byte, u32::from(value));
                    to_store.push(self.emit(Instr::Jump { target: 0 }));
                    stubs[value as usize] = Some(stub);
                    stub
                }
            };
            self.patch(entry, stub);
        }
        // Past the segment: unreachable after the bounds check.
        let trap = self.pc();
        self.emit(Instr::Trap);
        self.patch(entries[count as usize], trap);
        let store = self.pc();
        for jump in to_store {
            self.patch(jump, store);
        }
        self.store_byte(d, byte);
        self.next_byte(&[src, d], n, one, head);
        let end = self.pc();
        self.patch(done, end);
        Ok(())
    }

    /// `data.drop x`: a passive segment reads as empty from now on (an active one already
    /// does).
    pub(super) fn data_drop(
        &mut self,
        module: &ModuleParts<'_>,
        s: &mut FunctionState,
        segment: u32,
    ) -> Result<(), Refusal> {
        if let Some((_, cell)) = module.segments[segment as usize].passive {
            let t = s.scratch(1)?;
            self.int(t, 1);
            self.emit(Instr::GlobalSet {
                global: cell,
                src: t,
            });
        }
        Ok(())
    }

    fn load_byte(&mut self, dst: Slot, base: Slot) {
        self.emit(Instr::Load {
            op: LoadOp::U8,
            dst,
            base,
            offset: 0,
        });
    }

    fn store_byte(&mut self, base: Slot, src: Slot) {
        self.emit(Instr::Store {
            op: StoreOp::B8,
            src,
            base,
            offset: 0,
        });
    }
}
