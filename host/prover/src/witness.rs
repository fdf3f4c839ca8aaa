//! From a run's trace to the main trace of every VM component (`obelysk_air::components`).
//!
//! [`Witness::build`] replays the trace against a model of the AIR's memory (each cell's last
//! timestamp and value) and writes one row per step into its family's table, in the column
//! order the component reads them. Values come from the memory model, which is what the AIR
//! sees; they are checked against the interpreter's own record of each step.

use obelysk_air::components::Kind;
use obelysk_air::components::boundary::{MAX_LOG_ADDRESSES, MIN_LOG_ADDRESSES};
use obelysk_air::components::frame::{ACCESSES_PER_STEP, Space};
use obelysk_air::components::rom::RomRow;
use obelysk_air::vm::{Claim, MAX_LOG_ROWS, MAX_STEPS, rom_rows, rows_log_size};
use obelysk_vm::interp::Trace;
use obelysk_vm::ir::{BinOp, Instr, Program};
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
        assert_eq!(row.len(), self.columns.len(), "row width");
        for (column, &value) in self.columns.iter_mut().zip(row) {
            column.push(value);
        }
    }

    /// Rows written (before padding).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }
}

/// Main-trace widths, by component.
pub fn width(kind: Kind) -> usize {
    const FRAME: usize = 8;
    const ACCESS: usize = 2;
    match kind {
        Kind::Range16 | Kind::Range10 => 1,
        Kind::Rom => 8,
        Kind::Boundary => 6,
        Kind::Const => FRAME + 2 + ACCESS,
        Kind::Copy => FRAME + 4 + 2 * ACCESS,
        Kind::AddSub => FRAME + 11 + 3 * ACCESS,
        Kind::Cmp => FRAME + 7 + 14 + 3 * ACCESS,
        Kind::Jump => FRAME + 8 + ACCESS,
        Kind::Call | Kind::Ret => FRAME + 2 + ACCESS,
        Kind::Io => FRAME + 9 + 2 * ACCESS,
        Kind::Halt => FRAME,
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
            tables: Kind::ALL.iter().map(|&k| Table::new(width(k))).collect(),
            memory: [Vec::new(), Vec::new()],
            range16: vec![0; 1 << 16],
            range10: vec![0; 1 << 10],
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
    memory: [Vec<Cell>; 2],
    range16: Vec<u32>,
    range10: Vec<u32>,
    rom_uses: Vec<u32>,
    /// ROM row of input word 0.
    input_row: usize,
    input: &'a [u32],
    out: u32,
}

fn m(x: u32) -> M31 {
    M31::from_u32_unchecked(x)
}

fn limbs(x: u32) -> [u32; 2] {
    [x & 0xffff, x >> 16]
}

/// One step's accesses, in order, as their `(prev_ts, d_hi)` columns.
struct Accesses<'b, 'a> {
    builder: &'b mut Builder<'a>,
    clk: u32,
    j: u32,
    columns: Vec<M31>,
}

impl Accesses<'_, '_> {
    /// Accesses `space[addr]`, writing `new` (or reading, for `None`); returns the old value.
    fn access(
        &mut self,
        space: Space,
        addr: u32,
        new: Option<[u32; 2]>,
    ) -> Result<[u32; 2], WitnessError> {
        if addr >= 1 << MAX_LOG_ADDRESSES {
            return Err(WitnessError::AddressTooLarge(addr));
        }
        let ts = ACCESSES_PER_STEP * self.clk + 1 + self.j;
        self.j += 1;
        let cells = &mut self.builder.memory[space as usize];
        if cells.len() <= addr as usize {
            cells.resize(addr as usize + 1, (0, 0, 0));
        }
        let (prev_ts, v0, v1) = cells[addr as usize];
        let [n0, n1] = new.unwrap_or([v0, v1]);
        cells[addr as usize] = (ts, n0, n1);
        let d = ts - prev_ts - 1;
        self.builder.range16[(d & 0xffff) as usize] += 1;
        self.builder.range10[(d >> 16) as usize] += 1;
        self.columns.extend([m(prev_ts), m(d >> 16)]);
        Ok([v0, v1])
    }

    /// A disabled access: zero columns, no effect.
    fn skip(&mut self) {
        self.j += 1;
        self.columns.extend([m(0), m(0)]);
    }
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
        let [_, a, b, c] = instr.encode();
        self.rom_uses[pc as usize] += 1;
        let mut row: Vec<M31> = [1, pc, fp, clk as u32, self.out, a, b, c]
            .into_iter()
            .map(m)
            .collect();
        let inconsistent = |what: String| WitnessError::Inconsistent { clk, pc, what };
        let mut acc = Accesses {
            builder: self,
            clk: clk as u32,
            j: 0,
            columns: Vec::new(),
        };
        let value = |v: [u32; 2]| v[0] | (v[1] << 16);
        let kind = match instr {
            Instr::Const { dst, value: v } => {
                let old = acc.access(Space::Stack, fp + dst, Some(limbs(v)))?;
                row.extend(old.map(m));
                Kind::Const
            }
            Instr::Copy { dst, src } => {
                let v = acc.access(Space::Stack, fp + src, None)?;
                let old = acc.access(Space::Stack, fp + dst, Some(v))?;
                row.extend(v.into_iter().chain(old).map(m));
                Kind::Copy
            }
            Instr::Binary { op, dst, lhs, rhs } => {
                let x = acc.access(Space::Stack, fp + lhs, None)?;
                let y = acc.access(Space::Stack, fp + rhs, None)?;
                let r = op.apply(value(x), value(y));
                let old = acc.access(Space::Stack, fp + dst, Some(limbs(r)))?;
                if [value(x), value(y), r] != step.values {
                    return Err(inconsistent(format!(
                        "{:?} vs {:?}",
                        [value(x), value(y), r],
                        step.values
                    )));
                }
                match op {
                    BinOp::Add | BinOp::Sub => {
                        row.extend(add_sub_columns(
                            op == BinOp::Sub,
                            x,
                            y,
                            limbs(r),
                            &mut acc.builder.range16,
                        ));
                        row.extend(old.map(m));
                        Kind::AddSub
                    }
                    _ => {
                        let flag = 1 + BinOp::ALL[2..].iter().position(|o| *o == op).expect("cmp");
                        row.extend(cmp_columns(flag, x, y, r, &mut acc.builder.range16));
                        row.extend(old.map(m));
                        Kind::Cmp
                    }
                }
            }
            Instr::Eqz { dst, src } => {
                let x = acc.access(Space::Stack, fp + src, None)?;
                acc.skip();
                let r = u32::from(value(x) == 0);
                let old = acc.access(Space::Stack, fp + dst, Some([r, 0]))?;
                row.extend(cmp_columns(0, x, [0, 0], r, &mut acc.builder.range16));
                row.extend(old.map(m));
                Kind::Cmp
            }
            Instr::Jump { target } => {
                acc.skip();
                row.extend([0, 0, 0, 0, 0, 0, 1, target].map(m));
                Kind::Jump
            }
            Instr::JumpIf { cond, target } | Instr::JumpIfZero { cond, target } => {
                let is_if = matches!(instr, Instr::JumpIf { .. });
                let v = acc.access(Space::Stack, fp + cond, None)?;
                let s = m(v[0]) + m(v[1]);
                let nz = u32::from(value(v) != 0);
                let taken = if is_if { nz } else { 1 - nz };
                let next = if taken == 1 { target } else { pc + 1 };
                row.extend([m(u32::from(is_if)), m(u32::from(!is_if)), m(v[0]), m(v[1])]);
                row.extend([inverse_or_zero(s), m(nz), m(taken), m(next)]);
                Kind::Jump
            }
            Instr::Call { frame, .. } => {
                let old = acc.access(Space::Frame, fp + frame, Some([pc + 1, fp]))?;
                row.extend(old.map(m));
                Kind::Call
            }
            Instr::Return => {
                let saved = acc.access(Space::Frame, fp, None)?;
                row.extend(saved.map(m));
                Kind::Ret
            }
            Instr::InputLen { dst } => {
                acc.skip();
                let len = acc.builder.input.len() as u32;
                let old = acc.access(Space::Stack, fp + dst, Some(limbs(len)))?;
                acc.builder.rom_uses[acc.builder.input_row + acc.builder.input.len()] += 1;
                row.extend([1, 0, 0, 0, 0].map(m));
                row.extend(limbs(len).into_iter().chain(old).map(m));
                Kind::Io
            }
            Instr::Read { dst, index } => {
                let i = acc.access(Space::Stack, fp + index, None)?;
                let word =
                    *acc.builder.input.get(value(i) as usize).ok_or_else(|| {
                        inconsistent(format!("read({}) past the input", value(i)))
                    })?;
                let old = acc.access(Space::Stack, fp + dst, Some(limbs(word)))?;
                acc.builder.rom_uses[acc.builder.input_row + value(i) as usize] += 1;
                row.extend([0, 1, 0].map(m));
                row.extend(i.into_iter().chain(limbs(word)).chain(old).map(m));
                Kind::Io
            }
            Instr::Write { src } => {
                let x = acc.access(Space::Stack, fp + src, None)?;
                acc.skip();
                row.extend([0, 0, 1].map(m));
                row.extend(x.into_iter().chain([0, 0, 0, 0]).map(m));
                acc.builder.out += 1;
                Kind::Io
            }
            Instr::Halt => Kind::Halt,
            Instr::Trap => return Err(inconsistent("a trap has no proof".into())),
        };
        let columns = std::mem::take(&mut acc.columns);
        row.extend(columns);
        self.tables[kind.index()].push(&row);
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
            let cell = |space: usize| self.memory[space].get(addr).copied().unwrap_or((0, 0, 0));
            let ((t0, a0, b0), (t1, a1, b1)) = (cell(0), cell(1));
            boundary.push(&[t0, a0, b0, t1, a1, b1].map(m));
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
                Kind::Boundary => boundary_log,
                _ => rows_log_size(self.tables[kind.index()].rows()),
            };
        }
        Ok(Witness {
            tables: self.tables,
            claim: Claim { log_sizes },
        })
    }
}

fn inverse_or_zero(x: M31) -> M31 {
    if x == M31::from(0) { x } else { x.inverse() }
}

/// `is_sub, x_lo, x_hi, y_lo, y_hi, r_lo, r_hi, carry0, carry1` (and range-checks `r`).
fn add_sub_columns(
    is_sub: bool,
    x: [u32; 2],
    y: [u32; 2],
    r: [u32; 2],
    range16: &mut [u32],
) -> Vec<M31> {
    // p + y = q with (p, q) = (x, r) for add, (r, x) for sub.
    let (p, q) = if is_sub { (r, x) } else { (x, r) };
    let carry0 = (p[0] + y[0]) >> 16;
    let carry1 = (p[1] + y[1] + carry0) >> 16;
    debug_assert_eq!((p[0] + y[0]) & 0xffff, q[0]);
    range16[r[0] as usize] += 1;
    range16[r[1] as usize] += 1;
    [
        u32::from(is_sub),
        x[0],
        x[1],
        y[0],
        y[1],
        r[0],
        r[1],
        carry0,
        carry1,
    ]
    .into_iter()
    .map(m)
    .collect()
}

/// Seven flags (`flag` set), then `x_lo, x_hi, y_lo, y_hi, d_lo, d_hi, borrow0, borrow1, inv,
/// nz, gt, r` (and range-checks the difference limbs).
fn cmp_columns(flag: usize, x: [u32; 2], y: [u32; 2], r: u32, range16: &mut [u32]) -> Vec<M31> {
    let mut columns: Vec<M31> = (0..7).map(|k| m(u32::from(k == flag))).collect();
    let borrow0 = u32::from(x[0] < y[0]);
    let d_lo = (x[0] + (borrow0 << 16)) - y[0];
    let borrow1 = u32::from(x[1] < y[1] + borrow0);
    let d_hi = (x[1] + (borrow1 << 16)) - y[1] - borrow0;
    range16[d_lo as usize] += 1;
    range16[d_hi as usize] += 1;
    let s = m(d_lo) + m(d_hi);
    let nz = u32::from(s != M31::from(0));
    let gt = (1 - borrow1) * nz;
    columns.extend([x[0], x[1], y[0], y[1], d_lo, d_hi, borrow0, borrow1].map(m));
    columns.extend([inverse_or_zero(s), m(nz), m(gt), m(r)]);
    columns
}
