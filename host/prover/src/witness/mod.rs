//! From a run's trace to the main trace of every VM component (`obelysk_air::components`).
//!
//! [`Witness::build`] replays the trace against a model of the AIR's memory (each cell's last
//! timestamp and value) and writes one row per step into its family's table, in the column
//! order the component reads them (one module per family, registered in [`families!`]).
//! Values come from the memory model, which is what the AIR sees; they are checked against
//! the interpreter's own record of each step.

use obelysk_air::components::boundary::{MAX_LOG_ADDRESSES, MIN_LOG_ADDRESSES};
use obelysk_air::components::byte_table::{self, ByteOp};
use obelysk_air::components::frame::{ACCESSES_PER_STEP, Space};
use obelysk_air::components::memory::MAX_MEMORY_END;
use obelysk_air::components::rom::RomRow;
use obelysk_air::components::{Kind, family};
use obelysk_air::vm::{Claim, MAX_LOG_ROWS, MAX_STEPS, rom_rows, rows_log_size};
use std::collections::HashMap;

use obelysk_vm::interp::Trace;
use obelysk_vm::ir::{Instr, Program};
use stwo::core::fields::m31::M31;

/// Why a trace cannot be turned into a witness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error("the run took {0} steps; proofs cover at most {MAX_STEPS}")]
    TooManySteps(u64),
    #[error("{rows} `{family}` steps exceed one component's 2^{MAX_LOG_ROWS} rows")]
    FamilyTooLarge { family: &'static str, rows: usize },
    #[error("the run touched memory address {0}, past the provable 2^{MAX_LOG_ADDRESSES}")]
    AddressTooLarge(u32),
    #[error("step {clk} (@{pc}): the trace disagrees with the memory model: {what}")]
    Inconsistent { clk: usize, pc: u32, what: String },
}

/// A component's main trace, column-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<Vec<M31>>,
}

impl Table {
    fn new(width: usize) -> Self {
        Table {
            columns: vec![Vec::new(); width],
        }
    }

    fn push(&mut self, row: &[M31]) {
        self.push_parts(&[row]);
    }

    /// Pushes one row given in consecutive parts.
    fn push_parts(&mut self, parts: &[&[M31]]) {
        let mut columns = self.columns.iter_mut();
        for &value in parts.iter().copied().flatten() {
            columns.next().expect("row width").push(value);
        }
        assert!(columns.next().is_none(), "row width");
    }

    /// Rows written (before padding).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }
}

/// Every component's rows (unpadded) and the claim.
#[derive(Debug, Clone)]
pub struct Witness {
    pub tables: Vec<Table>,
    pub claim: Claim,
}

impl Witness {
    /// The table of `kind`.
    pub fn table(&self, kind: Kind) -> &Table {
        &self.tables[kind.index()]
    }

    /// Mutable table (tests forge witnesses).
    pub fn table_mut(&mut self, kind: Kind) -> &mut Table {
        &mut self.tables[kind.index()]
    }

    /// Builds every table for `trace`, a run of `program` on `input`.
    pub fn build(program: &Program, input: &[u32], trace: &Trace) -> Result<Self, WitnessError> {
        let steps = trace.steps.len() as u64;
        if steps > MAX_STEPS {
            return Err(WitnessError::TooManySteps(steps));
        }
        let rom = rom_rows(program, input);
        let mut builder = Builder {
            tables: Kind::ALL.iter().map(|&k| Table::new(k.width())).collect(),
            memory: Default::default(),
            heap: program
                .data
                .iter()
                .map(|&(a, b)| (a, (0, u32::from(b), 0)))
                .collect(),
            data: program
                .data
                .iter()
                .map(|&(a, b)| (a, u32::from(b)))
                .collect(),
            pages: 0,
            range16: vec![0; 1 << 16],
            range10: vec![0; 1 << 10],
            bytes: std::array::from_fn(|_| vec![0; 1 << byte_table::LOG_SIZE]),
            rom_uses: vec![0; rom.len()],
            input_row: program.code.len(),
            input,
            out: 0,
        };
        for (clk, step) in trace.steps.iter().enumerate() {
            builder.step(program, clk, step)?;
        }
        builder.finish(&rom)
    }
}

/// A cell's last access: `(ts, v0, v1)`.
type Cell = (u32, u32, u32);

struct Builder<'a> {
    tables: Vec<Table>,
    /// Per dense space (`Space::DENSE`), each address's last access.
    memory: [Vec<Cell>; 3],
    /// Linear memory: each byte address's last access (data bytes start at timestamp 0).
    heap: HashMap<u32, Cell>,
    /// The data bytes, by address.
    data: HashMap<u32, u32>,
    /// The memory's size in pages.
    pages: u32,
    range16: Vec<u32>,
    range10: Vec<u32>,
    /// Uses of each byte-table row, per [`ByteOp`].
    bytes: [Vec<u32>; 4],
    rom_uses: Vec<u32>,
    /// ROM row of input word 0.
    input_row: usize,
    input: &'a [u32],
    out: u32,
}

/// The right operand of a binary instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    Slot(u32),
    Imm(u32),
}

/// `(op, dst, lhs, rhs)` of a `Binary` or `BinaryImm`.
fn binary(instr: Instr) -> Option<(obelysk_vm::ir::BinOp, u32, u32, Operand)> {
    match instr {
        Instr::Binary { op, dst, lhs, rhs } => Some((op, dst, lhs, Operand::Slot(rhs))),
        Instr::BinaryImm { op, dst, lhs, imm } => Some((op, dst, lhs, Operand::Imm(imm))),
        _ => None,
    }
}

impl Operand {
    /// The frame's `d` column (the immediate's high limb) and the `imm` flag.
    fn columns(self) -> (u32, u32) {
        match self {
            Operand::Slot(_) => (0, 0),
            Operand::Imm(imm) => (imm >> 16, 1),
        }
    }
}

fn m(x: u32) -> M31 {
    M31::from_u32_unchecked(x)
}

/// A 32-bit value's 16-bit limbs `(lo, hi)`.
fn limbs(x: u32) -> [u32; 2] {
    [x & 0xffff, x >> 16]
}

/// The value of limbs `(lo, hi)`.
fn value(v: [u32; 2]) -> u32 {
    v[0] | (v[1] << 16)
}

/// A 32-bit value's bytes, little-endian.
fn bytes(x: u32) -> [u32; 4] {
    x.to_le_bytes().map(u32::from)
}

/// One step's row as its family writes it: the frame (written first), then the family's
/// columns ([`StepRow::push`]), then each memory access's `(prev_ts, d_hi)`, in access order.
struct StepRow<'b, 'a> {
    builder: &'b mut Builder<'a>,
    clk: u32,
    pc: u32,
    fp: u32,
    /// What the interpreter recorded for this step.
    values: [u32; 3],
    columns: Vec<M31>,
    accesses: Vec<M31>,
    /// The next access's index in the step.
    j: u32,
}

impl StepRow<'_, '_> {
    /// Appends family columns.
    fn push(&mut self, values: impl IntoIterator<Item = u32>) {
        self.columns.extend(values.into_iter().map(m));
    }

    fn push_m31(&mut self, values: impl IntoIterator<Item = M31>) {
        self.columns.extend(values);
    }

    /// Accesses `space[addr]`, writing `new` (or reading, for `None`); returns the old value.
    fn access(
        &mut self,
        space: Space,
        addr: u32,
        new: Option<[u32; 2]>,
    ) -> Result<[u32; 2], WitnessError> {
        assert!(
            self.j < ACCESSES_PER_STEP,
            "a step makes at most {ACCESSES_PER_STEP} accesses"
        );
        let ts = ACCESSES_PER_STEP * self.clk + 1 + self.j;
        self.j += 1;
        let cell = if space == Space::Memory {
            self.builder.heap.entry(addr).or_insert((0, 0, 0))
        } else {
            if addr >= 1 << MAX_LOG_ADDRESSES {
                return Err(WitnessError::AddressTooLarge(addr));
            }
            let cells = &mut self.builder.memory[space as usize];
            if cells.len() <= addr as usize {
                cells.resize(addr as usize + 1, (0, 0, 0));
            }
            &mut cells[addr as usize]
        };
        let (prev_ts, v0, v1) = *cell;
        let [n0, n1] = new.unwrap_or([v0, v1]);
        *cell = (ts, n0, n1);
        let d = ts - prev_ts - 1;
        self.range16(d & 0xffff);
        self.range10(d >> 16);
        self.accesses.extend([m(prev_ts), m(d >> 16)]);
        Ok([v0, v1])
    }

    /// Reads stack slot `slot` of this frame.
    fn read(&mut self, slot: u32) -> Result<[u32; 2], WitnessError> {
        self.access(Space::Stack, self.fp + slot, None)
    }

    /// Writes `value` to stack slot `slot`; returns the old limbs.
    fn write(&mut self, slot: u32, value: u32) -> Result<[u32; 2], WitnessError> {
        self.access(Space::Stack, self.fp + slot, Some(limbs(value)))
    }

    /// The address gadget for an `n`-byte access at slot `base`'s value plus `offset`
    /// (`obelysk_air::components::frame::address`): reads the slot (this step's first
    /// access), counts the range checks, returns the value and the columns. An access past the
    /// memory is a trap, which has no trace.
    fn address(&mut self, base: u32, offset: u32, n: u32) -> Result<Address, WitnessError> {
        let x = self.read(base)?;
        let k = n - 1;
        let sum = x[0] + (offset & 0xffff) + k;
        let (carry, a_lo) = (sum >> 16, sum & 0xffff);
        let a_hi = x[1] + (offset >> 16) + carry;
        let pages = self.builder.pages;
        if a_hi >= pages {
            return Err(self.inconsistent(format!(
                "an access at {}+{offset} past {pages} pages",
                value(x)
            )));
        }
        self.range16(a_lo);
        self.range16(pages - 1 - a_hi);
        Ok(Address {
            x,
            carries: [u32::from(carry >= 1), u32::from(carry >= 2)],
            a_lo,
            first: a_lo + (a_hi << 16) - k,
        })
    }

    /// The accesses of the first `n` of the 4 bytes at `first` (the rest are skipped), writing
    /// `new` (or reading, for `None`); returns the old bytes (zero past `n`).
    fn memory_bytes(
        &mut self,
        first: u32,
        n: u32,
        new: Option<[u32; 4]>,
    ) -> Result<[u32; 4], WitnessError> {
        let mut old = [0u32; 4];
        for (i, byte) in (0u32..).zip(&mut old) {
            if i < n {
                let write = new.map(|new| [new[i as usize], 0]);
                *byte = self.access(Space::Memory, first + i, write)?[0];
            } else {
                self.skip();
            }
        }
        Ok(old)
    }

    /// The right operand of a `Binary` (read from its slot, this step's access `j`) or a
    /// `BinaryImm` (its immediate; the access is skipped), as limbs
    /// (`obelysk_air::components::frame::operand_or_immediate`).
    fn operand(&mut self, rhs: Operand) -> Result<[u32; 2], WitnessError> {
        match rhs {
            Operand::Slot(slot) => self.read(slot),
            Operand::Imm(imm) => {
                self.skip();
                Ok(limbs(imm))
            }
        }
    }

    /// A disabled access: zero columns, no effect.
    fn skip(&mut self) {
        self.j += 1;
        self.accesses.extend([m(0), m(0)]);
    }

    /// Counts a `Range16(x)` lookup.
    fn range16(&mut self, x: u32) {
        self.builder.range16[x as usize] += 1;
    }

    /// Counts a `Range10(x)` lookup.
    fn range10(&mut self, x: u32) {
        self.builder.range10[x as usize] += 1;
    }

    /// Counts a `Bytes(op, a, b, a op b)` lookup.
    fn byte_op(&mut self, op: ByteOp, a: u32, b: u32) {
        self.builder.bytes[op as usize][ByteOp::row(a, b)] += 1;
    }

    /// Checks the memory model's values against the interpreter's record.
    fn expect(&self, values: [u32; 3]) -> Result<(), WitnessError> {
        if values != self.values {
            return Err(self.inconsistent(format!("{values:?} vs {:?}", self.values)));
        }
        Ok(())
    }

    fn inconsistent(&self, what: String) -> WitnessError {
        WitnessError::Inconsistent {
            clk: self.clk as usize,
            pc: self.pc,
            what,
        }
    }
}

/// The address gadget's values.
struct Address {
    /// The base slot's limbs.
    x: [u32; 2],
    carries: [u32; 2],
    a_lo: u32,
    /// Byte 0's address.
    first: u32,
}

impl Address {
    /// Its columns: `c1, c2, a_lo`.
    fn columns(&self) -> [u32; 3] {
        [self.carries[0], self.carries[1], self.a_lo]
    }
}

/// The registry's witness side: each family's module writes its columns for one step
/// (`fill`), in the order its component (`obelysk_air::components::<module>`) reads them.
/// The `match` is exhaustive over [`Kind`]: a family without a witness module does not build.
macro_rules! families {
    ($($family:ident => $module:ident),* $(,)?) => {
        $(mod $module;)*

        fn fill(kind: Kind, row: &mut StepRow<'_, '_>, instr: Instr) -> Result<(), WitnessError> {
            match kind {
                $(Kind::$family => $module::fill(row, instr),)*
                Kind::Range16
                | Kind::Range10
                | Kind::Bytes
                | Kind::Rom
                | Kind::Boundary
                | Kind::Memory => {
                    unreachable!("{kind:?} is a table")
                }
            }
        }
    };
}

families! {
    Const => constant,
    Copy => copy,
    AddSub => add_sub,
    Cmp => cmp,
    Mul => mul,
    MulWide => mul_wide,
    Bitwise => bitwise,
    Shift => shift,
    Div => div,
    Unary => unary,
    Select => select,
    GlobalGet => global_get,
    GlobalSet => global_set,
    Load => load,
    Store => store,
    MemorySize => memory_size,
    MemoryGrow => memory_grow,
    Jump => jump,
    JumpTable => jump_table,
    Call => call,
    Ret => ret,
    Io => io,
    Halt => halt,
}

impl<'a> Builder<'a> {
    fn step(
        &mut self,
        program: &Program,
        clk: usize,
        step: &obelysk_vm::interp::Step,
    ) -> Result<(), WitnessError> {
        let (pc, fp) = (step.pc, step.fp);
        let instr = program.code[pc as usize];
        let Some(kind) = family(instr.opcode()) else {
            return Err(WitnessError::Inconsistent {
                clk,
                pc,
                what: format!("`{instr}` has no proof"),
            });
        };
        let [_, a, b, c, _] = instr.encode();
        self.rom_uses[pc as usize] += 1;
        let frame = [1, pc, fp, clk as u32, self.out, self.pages, a, b, c].map(m);
        let mut row = StepRow {
            builder: self,
            clk: clk as u32,
            pc,
            fp,
            values: step.values,
            columns: Vec::new(),
            accesses: Vec::new(),
            j: 0,
        };
        fill(kind, &mut row, instr)?;
        let StepRow {
            columns, accesses, ..
        } = row;
        let table = &mut self.tables[kind.index()];
        let width = frame.len() + columns.len() + accesses.len();
        assert_eq!(width, kind.width(), "`{}` row width", kind.name());
        table.push_parts(&[&frame, &columns, &accesses]);
        Ok(())
    }

    fn finish(mut self, rom: &[RomRow]) -> Result<Witness, WitnessError> {
        for kind in Kind::STEPS {
            let rows = self.tables[kind.index()].rows();
            if rows > 1 << MAX_LOG_ROWS {
                return Err(WitnessError::FamilyTooLarge {
                    family: kind.name(),
                    rows,
                });
            }
        }
        let rom_table = &mut self.tables[Kind::Rom.index()];
        for (row, &uses) in rom.iter().zip(&self.rom_uses) {
            let mut values = vec![m(1)];
            values.extend(row.map(m));
            values.push(m(uses));
            rom_table.push(&values);
        }
        let addresses = self.memory.iter().map(Vec::len).max().unwrap_or(0);
        let boundary_log = rows_log_size(addresses).max(MIN_LOG_ADDRESSES);
        let boundary = &mut self.tables[Kind::Boundary.index()];
        for addr in 0..1usize << boundary_log {
            let row: Vec<M31> = Space::DENSE
                .iter()
                .flat_map(|&space| {
                    let (ts, v0, v1) = self.memory[space as usize]
                        .get(addr)
                        .copied()
                        .unwrap_or((0, 0, 0));
                    [ts, v0, v1].map(m)
                })
                .collect();
            boundary.push(&row);
        }
        let memory_end = self.memory_boundary();
        let bytes = &mut self.tables[Kind::Bytes.index()];
        for row in 0..1 << byte_table::LOG_SIZE {
            let uses: Vec<M31> = self.bytes.iter().map(|op| m(op[row])).collect();
            bytes.push(&uses);
        }
        for (kind, counts) in [
            (Kind::Range16, &self.range16),
            (Kind::Range10, &self.range10),
        ] {
            let table = &mut self.tables[kind.index()];
            for &count in counts {
                table.push(&[m(count)]);
            }
        }
        let mut log_sizes = [0; obelysk_air::components::N_COMPONENTS];
        for kind in Kind::ALL {
            log_sizes[kind.index()] = match kind {
                Kind::Range16 => 16,
                Kind::Range10 => 10,
                Kind::Bytes => byte_table::LOG_SIZE,
                Kind::Boundary => boundary_log,
                _ => rows_log_size(self.tables[kind.index()].rows()),
            };
        }
        Ok(Witness {
            tables: self.tables,
            claim: Claim {
                log_sizes,
                memory_end,
            },
        })
    }

    /// The memory boundary's rows, by increasing address (bridging gaps of 2^16 or more with
    /// untouched rows), and their chain's end.
    fn memory_boundary(&mut self) -> u32 {
        let mut addrs: Vec<u32> = self.heap.keys().copied().collect();
        addrs.sort_unstable();
        let mut lower = 0u32;
        let mut rows = Vec::new();
        for addr in addrs {
            while addr - lower >= 1 << 16 {
                let bridge = lower + (1 << 16) - 1;
                rows.push((lower, bridge, None, (0, 0, 0)));
                lower = bridge + 1;
            }
            let init = self.data.get(&addr).copied();
            rows.push((lower, addr, init, self.heap[&addr]));
            lower = addr + 1;
        }
        debug_assert!(lower <= MAX_MEMORY_END);
        let table = &mut self.tables[Kind::Memory.index()];
        for (lower, addr, init, (last_ts, fin, _)) in rows {
            self.range16[(addr & 0xffff) as usize] += 1;
            self.range16[(addr >> 16) as usize] += 1;
            self.range16[((addr >> 16) << 4) as usize] += 1;
            self.range16[(addr - lower) as usize] += 1;
            table.push(
                &[
                    1,
                    lower,
                    addr & 0xffff,
                    addr >> 16,
                    u32::from(init.is_some()),
                    init.unwrap_or(0),
                    last_ts,
                    fin,
                ]
                .map(m),
            );
        }
        lower
    }
}

fn inverse_or_zero(x: M31) -> M31 {
    if x == M31::from(0) { x } else { x.inverse() }
}
