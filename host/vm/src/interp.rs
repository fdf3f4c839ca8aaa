//! The tracing interpreter: runs a lowered [`Program`] and records every step.
//!
//! The trace is what the prover turns into columns: for each step its `pc`, `fp` and the
//! values the instruction read and wrote ([`Step::values`]). Memory is modelled as the prover
//! will see it: STACK slots addressed `fp + slot`, and FRAME records `(return pc, caller fp)`
//! keyed by the callee's `fp`.

use std::collections::HashMap;

use crate::ir::{Function, Instr, MAX_MEMORY_PAGES, PAGE_BYTES, Pc, Program};

/// The VM's stack limit in slots (4 MiB of words); frames beyond it are a stack overflow.
pub const MAX_STACK_SLOTS: u32 = 1 << 20;

/// One executed instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub pc: Pc,
    pub fp: u32,
    /// Operand values, by instruction: `Const`/`Copy`: `[value]`; `Binary`: `[lhs, rhs, result]`;
    /// `BinaryImm`: `[lhs, imm, result]`; `MulWide`: `[lhs, rhs, low word]`;
    /// `Eqz`, `Unary`: `[src, result]`; `Select`: `[first, second, cond]`; `JumpIf*`: `[cond]`; `JumpTable`: `[index]`; `Call`: `[return pc, caller fp]`;
    /// `Return`: `[return pc, caller fp]`; `GlobalGet`, `GlobalSet`: `[value]`; `Load`: `[base,
    /// result]`; `Store`: `[base, value]`; `MemorySize`: `[pages]`; `MemoryGrow`: `[delta,
    /// result]`; `InputLen`: `[len]`; `Read`: `[index, word]`;
    /// `Write`: `[word]`; others: nothing. Unused entries are 0.
    pub values: [u32; 3],
}

/// A complete run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub steps: Vec<Step>,
    pub output: Vec<u32>,
}

/// Why a run has no trace to prove.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The program trapped (`unreachable`, a bad `read`).
    #[error("trap at @{pc}: {reason}")]
    Trap { pc: Pc, reason: String },
    /// The step budget ran out.
    #[error("step limit: the run exceeded {limit} steps")]
    StepLimit { limit: u64 },
    /// A load or store past the memory's size (or whose address overflows 32 bits).
    #[error("trap at @{pc}: out of bounds memory access at {address}+{bytes}")]
    OutOfBounds { pc: Pc, address: u64, bytes: u32 },
    /// Frames went past [`MAX_STACK_SLOTS`].
    #[error("stack overflow: more than {MAX_STACK_SLOTS} stack slots")]
    StackOverflow,
}

/// The mutable globals' values, by global index (a global never set reads 0).
pub type Globals = HashMap<u32, u32>;

/// Linear memory: `pages` of 64 KiB; bytes past `bytes.len()` (but within the size) are zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    pub bytes: Vec<u8>,
    pub pages: u32,
}

impl Memory {
    /// Zero pages holding the initial `data` bytes (the entry stub grows the memory).
    pub fn with_data(data: &[(u32, u8)]) -> Self {
        let mut memory = Memory::default();
        for &(addr, byte) in data {
            memory.put(addr, byte);
        }
        memory
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        u64::from(self.pages) * u64::from(PAGE_BYTES)
    }

    /// The byte at `addr` (any address; bounds are the caller's).
    pub fn get(&self, addr: u32) -> u8 {
        self.bytes.get(addr as usize).copied().unwrap_or(0)
    }

    fn put(&mut self, addr: u32, byte: u8) {
        if addr as usize >= self.bytes.len() {
            self.bytes
                .resize((addr as usize + 1).next_power_of_two(), 0);
        }
        self.bytes[addr as usize] = byte;
    }

    /// Wasm `memory.grow` by `delta` pages up to `max`: the old size, or `u32::MAX`.
    pub fn grow(&mut self, delta: u32, max: u32) -> u32 {
        let old = self.pages;
        match old.checked_add(delta) {
            Some(new) if new <= max.min(MAX_MEMORY_PAGES) => {
                self.pages = new;
                old
            }
            _ => u32::MAX,
        }
    }

    /// The effective address of an `n`-byte access at `base + offset`, if it is in bounds.
    pub fn address(&self, base: u32, offset: u32, n: u32) -> Option<u32> {
        let at = u64::from(base) + u64::from(offset);
        (at + u64::from(n) <= self.size()).then_some(at as u32)
    }
}

/// What a run changes besides its stack: the mutable globals and linear memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    pub globals: Globals,
    pub memory: Memory,
}

/// Runs `main` on `input` for at most `max_steps` steps. The entry stub sets the globals'
/// initial values and grows the memory to its initial size, so the run starts with every
/// global at zero and a memory of zero pages holding the data bytes.
pub fn run(program: &Program, input: &[u32], max_steps: u64) -> Result<Trace, ExecError> {
    let main = &program.functions[program.main];
    let mut instance = Instance {
        globals: Globals::new(),
        memory: Memory::with_data(&program.data),
    };
    Machine::new(&program.code, input, &mut instance)
        .execute(main.entry, max_steps)
        .map(|(trace, _)| trace)
}

/// Calls `function` (whose code is in `code`) with `args` on `instance` (updated in place),
/// and returns its results with the trace; a `Return` from the outermost frame ends the run.
pub fn invoke(
    code: &[Instr],
    function: &Function,
    args: &[u32],
    input: &[u32],
    max_steps: u64,
    instance: &mut Instance,
) -> Result<(Vec<u32>, Trace), ExecError> {
    let mut machine = Machine::new(code, input, instance);
    machine.stack[..args.len()].copy_from_slice(args);
    let (trace, machine) = machine.execute(function.entry, max_steps)?;
    let results = machine.stack[..function.results as usize].to_vec();
    Ok((results, trace))
}

struct Machine<'a> {
    code: &'a [Instr],
    input: &'a [u32],
    stack: Vec<u32>,
    frames: HashMap<u32, (Pc, u32)>,
    globals: &'a mut Globals,
    memory: &'a mut Memory,
    fp: u32,
}

impl<'a> Machine<'a> {
    fn new(code: &'a [Instr], input: &'a [u32], instance: &'a mut Instance) -> Self {
        Machine {
            code,
            input,
            stack: vec![0; 1 << 10],
            frames: HashMap::new(),
            globals: &mut instance.globals,
            memory: &mut instance.memory,
            fp: 0,
        }
    }

    /// The address of an `n`-byte access, or the trap.
    fn address(&self, pc: Pc, base: u32, offset: u32, n: u32) -> Result<u32, ExecError> {
        self.memory
            .address(base, offset, n)
            .ok_or(ExecError::OutOfBounds {
                pc,
                address: u64::from(base) + u64::from(offset),
                bytes: n,
            })
    }

    fn slot(&mut self, slot: u32) -> Result<&mut u32, ExecError> {
        let at = self
            .fp
            .checked_add(slot)
            .filter(|&a| a < MAX_STACK_SLOTS)
            .ok_or(ExecError::StackOverflow)?;
        if at as usize >= self.stack.len() {
            self.stack.resize((at as usize + 1).next_power_of_two(), 0);
        }
        Ok(&mut self.stack[at as usize])
    }

    fn get(&mut self, slot: u32) -> Result<u32, ExecError> {
        self.slot(slot).map(|v| *v)
    }

    fn set(&mut self, slot: u32, value: u32) -> Result<(), ExecError> {
        *self.slot(slot)? = value;
        Ok(())
    }

    fn execute(mut self, entry: Pc, max_steps: u64) -> Result<(Trace, Self), ExecError> {
        let base_fp = self.fp;
        let mut pc = entry;
        let mut steps = Vec::new();
        let mut output = Vec::new();
        loop {
            if steps.len() as u64 >= max_steps {
                return Err(ExecError::StepLimit { limit: max_steps });
            }
            let instr = self.code[pc as usize];
            let fp = self.fp;
            let mut values = [0u32; 3];
            let mut next = pc + 1;
            match instr {
                Instr::Const { dst, value } => {
                    self.set(dst, value)?;
                    values[0] = value;
                }
                Instr::Copy { dst, src } => {
                    let v = self.get(src)?;
                    self.set(dst, v)?;
                    values[0] = v;
                }
                Instr::Binary { op, dst, lhs, rhs } => {
                    let (a, b) = (self.get(lhs)?, self.get(rhs)?);
                    if let Some(reason) = op.trap(a, b) {
                        return Err(ExecError::Trap {
                            pc,
                            reason: reason.into(),
                        });
                    }
                    let r = op.apply(a, b);
                    self.set(dst, r)?;
                    values = [a, b, r];
                }
                Instr::BinaryImm { op, dst, lhs, imm } => {
                    let a = self.get(lhs)?;
                    let r = op.apply(a, imm);
                    self.set(dst, r)?;
                    values = [a, imm, r];
                }
                Instr::MulWide { dst, lhs, rhs } => {
                    let (a, b) = (self.get(lhs)?, self.get(rhs)?);
                    let product = u64::from(a) * u64::from(b);
                    let hi = dst.checked_add(1).ok_or(ExecError::StackOverflow)?;
                    self.set(dst, product as u32)?;
                    self.set(hi, (product >> 32) as u32)?;
                    values = [a, b, product as u32];
                }
                Instr::Unary { op, dst, src } => {
                    let a = self.get(src)?;
                    let r = op.apply(a);
                    self.set(dst, r)?;
                    values = [a, r, 0];
                }
                Instr::Eqz { dst, src } => {
                    let a = self.get(src)?;
                    let r = u32::from(a == 0);
                    self.set(dst, r)?;
                    values = [a, r, 0];
                }
                Instr::Select { dst, first, cond } => {
                    let second = first.checked_add(1).ok_or(ExecError::StackOverflow)?;
                    let (x, y, c) = (self.get(first)?, self.get(second)?, self.get(cond)?);
                    self.set(dst, if c != 0 { x } else { y })?;
                    values = [x, y, c];
                }
                Instr::Jump { target } => next = target,
                Instr::JumpTable { index, count } => {
                    let i = self.get(index)?;
                    next = pc + 1 + i.min(count);
                    values[0] = i;
                }
                Instr::JumpIf { cond, target } | Instr::JumpIfZero { cond, target } => {
                    let c = self.get(cond)?;
                    values[0] = c;
                    if (c != 0) == matches!(instr, Instr::JumpIf { .. }) {
                        next = target;
                    }
                }
                Instr::Call { frame, target } => {
                    let callee = fp
                        .checked_add(frame)
                        .filter(|&callee| callee < MAX_STACK_SLOTS)
                        .ok_or(ExecError::StackOverflow)?;
                    self.frames.insert(callee, (pc + 1, fp));
                    values = [pc + 1, fp, 0];
                    self.fp = callee;
                    next = target;
                }
                Instr::Return => {
                    if fp == base_fp && !self.frames.contains_key(&fp) {
                        steps.push(Step { pc, fp, values });
                        return Ok((Trace { steps, output }, self));
                    }
                    let (ret, caller) = self
                        .frames
                        .remove(&fp)
                        .expect("every frame above the base was called");
                    values = [ret, caller, 0];
                    self.fp = caller;
                    next = ret;
                }
                Instr::GlobalGet { dst, global } => {
                    let v = self.globals.get(&global).copied().unwrap_or(0);
                    self.set(dst, v)?;
                    values[0] = v;
                }
                Instr::GlobalSet { global, src } => {
                    let v = self.get(src)?;
                    self.globals.insert(global, v);
                    values[0] = v;
                }
                Instr::Load {
                    op,
                    dst,
                    base,
                    offset,
                } => {
                    let x = self.get(base)?;
                    let at = self.address(pc, x, offset, op.bytes())?;
                    let mut bytes = [0u8; 4];
                    for (i, byte) in bytes.iter_mut().take(op.bytes() as usize).enumerate() {
                        *byte = self.memory.get(at + i as u32);
                    }
                    let r = op.extend(bytes);
                    self.set(dst, r)?;
                    values = [x, r, 0];
                }
                Instr::Store {
                    op,
                    src,
                    base,
                    offset,
                } => {
                    let (x, v) = (self.get(base)?, self.get(src)?);
                    let at = self.address(pc, x, offset, op.bytes())?;
                    for (i, &byte) in v.to_le_bytes()[..op.bytes() as usize].iter().enumerate() {
                        self.memory.put(at + i as u32, byte);
                    }
                    values = [x, v, 0];
                }
                Instr::MemorySize { dst } => {
                    let pages = self.memory.pages;
                    self.set(dst, pages)?;
                    values[0] = pages;
                }
                Instr::MemoryGrow { slot, max } => {
                    let delta = self.get(slot)?;
                    let r = self.memory.grow(delta, max);
                    self.set(slot, r)?;
                    values = [delta, r, 0];
                }
                Instr::InputLen { dst } => {
                    let len = self.input.len() as u32;
                    self.set(dst, len)?;
                    values[0] = len;
                }
                Instr::Read { dst, index } => {
                    let i = self.get(index)?;
                    let word = *self.input.get(i as usize).ok_or_else(|| ExecError::Trap {
                        pc,
                        reason: format!(
                            "read({i}): input index out of range (the input has {} words)",
                            self.input.len()
                        ),
                    })?;
                    self.set(dst, word)?;
                    values = [i, word, 0];
                }
                Instr::Write { src } => {
                    let word = self.get(src)?;
                    output.push(word);
                    values[0] = word;
                }
                Instr::Trap => {
                    return Err(ExecError::Trap {
                        pc,
                        reason: "unreachable".into(),
                    });
                }
                Instr::Halt => {
                    steps.push(Step { pc, fp, values });
                    return Ok((Trace { steps, output }, self));
                }
            }
            steps.push(Step { pc, fp, values });
            pc = next;
        }
    }
}
