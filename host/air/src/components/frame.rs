//! What every step component shares: the step frame (state chain + instruction fetch) and the
//! memory access gadget.
//!
//! Step frame columns, in order: `enabler, pc, fp, clk, out, pages, a, b, c` (and `d` for
//! the families that read a wide instruction, [`Frame::read_wide`]; for the others `d = 0`).
//! - `enabler · (enabler − 1) = 0`; every lookup of the row is multiplied by `enabler` (or by
//!   a flag that is zero when `enabler` is), so a padding row (all zero) contributes nothing.
//! - consumes `State(pc, fp, clk, out, pages)`, yields the next state with `clk + 1` (or, for
//!   `halt`, yields `Halted(clk, out)`): the steps form one chain from the verifier's initial
//!   state to its final one, one clock per step. `pages` (the linear memory's size) passes
//!   through unchanged except in `memory_grow`.
//! - consumes `Rom(0, pc, opcode, a, b, c, d)`: the executed instruction is the program's
//!   instruction at `pc`, with the component's opcode.
//!
//! Memory access `j` of the step at `clk` happens at `ts = 8·clk + 1 + j` (timestamp 0 is the
//! boundary's initial value). Columns per access, in order: `prev_ts, d_hi`. It consumes
//! `Mem(space, addr, prev_ts, old)` and yields `Mem(space, addr, ts, new)` (a read has
//! `new = old`), and proves `prev_ts < ts` by range-checking `ts − prev_ts − 1 = d_lo + 2^16·d_hi`
//! with `d_lo ∈ Range16`, `d_hi ∈ Range10`. Clocks stay below 2^23 (the verifier bounds the
//! step count), so timestamps are at most 2^26 and the sum cannot wrap modulo p: a step cannot
//! read a value from its future, and every chain of a cell's tokens starts at the boundary.

use num_traits::One;
use obelysk_vm::ir::Opcode;
use stwo::core::fields::m31::BaseField;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use crate::relations::Relations;

/// Memory spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Space {
    /// Wasm values: address `fp + slot`, value `(lo, hi)` 16-bit limbs.
    Stack = 0,
    /// Call records: address = callee `fp`, value `(return pc, caller fp)`.
    Frame = 1,
    /// Mutable globals: address = global index, value `(lo, hi)` 16-bit limbs.
    Global = 2,
    /// Linear memory: address = byte address (below 2^28), value `(byte, 0)`. Its boundary is
    /// sparse (`components::memory`).
    Memory = 3,
}

impl Space {
    /// The spaces the dense boundary covers, in its column order.
    pub const DENSE: [Space; 3] = [Space::Stack, Space::Frame, Space::Global];
}

/// Accesses per step (timestamps `8·clk + 1 + j`, `j < ACCESSES_PER_STEP`): a load or store
/// makes six (two slots, four bytes).
pub const ACCESSES_PER_STEP: u32 = 8;

/// The largest timestamp, `ACCESSES_PER_STEP · MAX_STEPS`, plus the largest gap the range
/// checks accept (`2^26`) stays below p, so `ts − prev_ts − 1` never wraps.
const _: () = assert!(
    (ACCESSES_PER_STEP as u64) * crate::vm::MAX_STEPS + (1 << 26) < (1u64 << 31) - 1,
    "timestamps could wrap modulo p"
);

/// The step frame's columns.
#[derive(Clone)]
pub struct Frame<F> {
    pub enabler: F,
    pub pc: F,
    pub fp: F,
    pub clk: F,
    pub out: F,
    /// The linear memory's size in pages.
    pub pages: F,
    pub a: F,
    pub b: F,
    pub c: F,
    /// The fifth encoded word (zero unless read by [`Frame::read_wide`]).
    pub d: F,
}

/// Where a step goes next.
pub enum Next<F> {
    /// `(pc, fp, out)` of the next state (`pages` unchanged).
    Step { pc: F, fp: F, out: F },
    /// `pc + 1`, `fp` and `out` unchanged, the memory now `pages` long (`memory_grow`).
    Resize { pages: F },
    /// The run ends here (`Halted(clk, out)`).
    Halt,
}

impl<F: Clone + std::ops::Add<Output = F> + std::ops::Mul<BaseField, Output = F> + From<BaseField>>
    Frame<F>
{
    /// Reads the frame's columns (`d = 0`).
    pub fn read<E: EvalAtRow<F = F>>(eval: &mut E) -> Self {
        let [enabler, pc, fp, clk, out, pages, a, b, c] =
            std::array::from_fn(|_| eval.next_trace_mask());
        Frame {
            enabler,
            pc,
            fp,
            clk,
            out,
            pages,
            a,
            b,
            c,
            d: F::from(BaseField::from(0)),
        }
    }

    /// Reads the frame's columns and then a `d` column (loads and stores: their offset is
    /// `(c, d)`).
    pub fn read_wide<E: EvalAtRow<F = F>>(eval: &mut E) -> Self {
        let frame = Self::read(eval);
        Frame {
            d: eval.next_trace_mask(),
            ..frame
        }
    }

    /// The timestamp of this step's access `j`.
    pub fn ts(&self, j: u32) -> F {
        assert!(j < ACCESSES_PER_STEP, "access {j} of a step");
        self.clk.clone() * BaseField::from(ACCESSES_PER_STEP) + F::from(BaseField::from(1 + j))
    }

    /// The next state when execution falls through to `pc + 1` with `fp` and `out` unchanged.
    pub fn fall_through(&self) -> Next<F> {
        Next::Step {
            pc: self.pc.clone() + F::from(BaseField::one()),
            fp: self.fp.clone(),
            out: self.out.clone(),
        }
    }
}

/// The frame's constraint and lookups, for a component whose instruction has `opcode`.
pub fn step<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    frame: &Frame<E::F>,
    opcode: E::F,
    next: Next<E::F>,
) {
    let e = frame.enabler.clone();
    let one = E::F::one();
    eval.add_constraint(e.clone() * (e.clone() - one.clone()));
    eval.add_to_relation(RelationEntry::new(
        &rel.state,
        E::EF::from(e.clone()),
        &[
            frame.pc.clone(),
            frame.fp.clone(),
            frame.clk.clone(),
            frame.out.clone(),
            frame.pages.clone(),
        ],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.rom,
        E::EF::from(e.clone()),
        &[
            E::F::from(BaseField::from(0)),
            frame.pc.clone(),
            opcode,
            frame.a.clone(),
            frame.b.clone(),
            frame.c.clone(),
            frame.d.clone(),
        ],
    ));
    let clk = frame.clk.clone() + one.clone();
    match next {
        Next::Step { pc, fp, out } => eval.add_to_relation(RelationEntry::new(
            &rel.state,
            -E::EF::from(e),
            &[pc, fp, clk, out, frame.pages.clone()],
        )),
        Next::Resize { pages } => eval.add_to_relation(RelationEntry::new(
            &rel.state,
            -E::EF::from(e),
            &[
                frame.pc.clone() + one,
                frame.fp.clone(),
                clk,
                frame.out.clone(),
                pages,
            ],
        )),
        Next::Halt => eval.add_to_relation(RelationEntry::new(
            &rel.halted,
            -E::EF::from(e),
            &[frame.clk.clone(), frame.out.clone()],
        )),
    }
}

/// One memory access (reads its two columns `prev_ts, d_hi`). `multiplicity` is the row's
/// enabler, or a flag that implies it.
#[allow(clippy::too_many_arguments)]
pub fn access<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    multiplicity: E::F,
    space: Space,
    addr: E::F,
    ts: E::F,
    old: [E::F; 2],
    new: [E::F; 2],
) {
    let prev_ts = eval.next_trace_mask();
    let d_hi = eval.next_trace_mask();
    let space = E::F::from(BaseField::from(space as u32));
    let [old0, old1] = old;
    let [new0, new1] = new;
    eval.add_to_relation(RelationEntry::new(
        &rel.mem,
        E::EF::from(multiplicity.clone()),
        &[space.clone(), addr.clone(), prev_ts.clone(), old0, old1],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.mem,
        -E::EF::from(multiplicity.clone()),
        &[space, addr, ts.clone(), new0, new1],
    ));
    let d_lo = ts - prev_ts - E::F::one() - d_hi.clone() * BaseField::from(1 << 16);
    eval.add_to_relation(RelationEntry::new(
        &rel.range16,
        E::EF::from(multiplicity.clone()),
        &[d_lo],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.range10,
        E::EF::from(multiplicity),
        &[d_hi],
    ));
}

/// The right operand `y` of a family with immediate forms (`obelysk_vm::ir::Instr::BinaryImm`),
/// under the row's boolean flag `imm`: with `imm`, `y` is the instruction's immediate `(c, d)`
/// (limbs the verifier's own ROM holds); without, `y` is read from stack slot `c` as access
/// `j`. `imm` is set only on a step (`imm · (1 − enabler) = 0`), so the read's multiplicity
/// `enabler − imm` is 0 or 1.
pub fn operand_or_immediate<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    frame: &Frame<E::F>,
    imm: &E::F,
    y: [E::F; 2],
    j: u32,
) {
    let e = frame.enabler.clone();
    boolean(eval, imm);
    eval.add_constraint(imm.clone() * (E::F::one() - e.clone()));
    let [y_lo, y_hi] = y.clone();
    eval.add_constraint(imm.clone() * (y_lo - frame.c.clone()));
    eval.add_constraint(imm.clone() * (y_hi - frame.d.clone()));
    access(
        eval,
        rel,
        e - imm.clone(),
        Space::Stack,
        frame.fp.clone() + frame.c.clone(),
        frame.ts(j),
        y.clone(),
        y,
    );
}

/// A family's opcode `register` (its flags' selection) moved to the immediate form when the
/// boolean `imm` is set: `register + IMM_OFFSET · imm`.
pub fn with_immediate<F>(register: F, imm: &F) -> F
where
    F: Clone + std::ops::Add<Output = F> + std::ops::Mul<BaseField, Output = F>,
{
    register + imm.clone() * BaseField::from(obelysk_vm::ir::IMM_OFFSET)
}

/// Consumes `Range16(x)`: `x ∈ [0, 2^16)`, for a limb the step writes.
pub fn range16<E: EvalAtRow>(eval: &mut E, rel: &Relations, multiplicity: E::F, x: E::F) {
    eval.add_to_relation(RelationEntry::new(
        &rel.range16,
        E::EF::from(multiplicity),
        &[x],
    ));
}

/// Consumes `Bytes(pair, a, b, 0)`: both `a` and `b` are in `[0, 2^8)`, one lookup.
pub fn byte_pair<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    multiplicity: E::F,
    a: E::F,
    b: E::F,
) {
    eval.add_to_relation(RelationEntry::new(
        &rel.bytes,
        E::EF::from(multiplicity),
        &[
            constant(super::byte_table::ByteOp::Pair as u32),
            a,
            b,
            constant(0),
        ],
    ));
}

/// The limbs `(b0 + 2^8·b1, b2 + 2^8·b3)` of a word's four little-endian bytes.
pub fn word_of_bytes<F>(b: &[F]) -> [F; 2]
where
    F: Clone + std::ops::Add<Output = F> + std::ops::Mul<BaseField, Output = F>,
{
    assert_eq!(b.len(), 4, "a word is four bytes");
    let byte = BaseField::from(1 << 8);
    [
        b[0].clone() + b[1].clone() * byte,
        b[2].clone() + b[3].clone() * byte,
    ]
}

/// `x · (x − 1) = 0`.
pub fn boolean<E: EvalAtRow>(eval: &mut E, x: &E::F) {
    eval.add_constraint(x.clone() * (x.clone() - E::F::one()));
}

/// The is-non-zero gadget for `s` (a sum of limbs below 2^17, so `s = 0` exactly when every
/// limb is zero): columns `inv, nz` with `s · inv = nz` and `s · (1 − nz) = 0`, so `nz ∈ {0, 1}`
/// is 1 exactly when `s ≠ 0`. An all-zero padding row satisfies both.
pub fn non_zero<E: EvalAtRow>(eval: &mut E, s: E::F, inv: E::F, nz: E::F) {
    eval.add_constraint(s.clone() * inv - nz.clone());
    eval.add_constraint(s * (E::F::one() - nz));
}

/// The constant `opcode`.
pub fn opcode<F: From<BaseField>>(opcode: Opcode) -> F {
    constant(opcode.word())
}

/// The opcode selected by a family's flags, from its row in the registry
/// (`Kind::opcodes`): with one flag per opcode, `Σ flag_k · opcode_k`; with one fewer, the
/// first opcode is the default, `opcode_0 + Σ flag_k · (opcode_{k+1} − opcode_0)`. Linear, so
/// it can stand in a lookup's tuple.
pub fn flagged_opcode<F>(opcodes: &[Opcode], flags: &[F]) -> F
where
    F: Clone + From<BaseField> + std::ops::Add<Output = F> + std::ops::Mul<BaseField, Output = F>,
{
    let word = |op: &Opcode| BaseField::from(op.word());
    if flags.len() + 1 == opcodes.len() {
        let base = word(&opcodes[0]);
        flags
            .iter()
            .zip(&opcodes[1..])
            .fold(F::from(base), |acc, (f, op)| {
                acc + f.clone() * (word(op) - base)
            })
    } else {
        assert_eq!(flags.len(), opcodes.len(), "one flag per opcode");
        flags
            .iter()
            .zip(opcodes)
            .fold(F::from(BaseField::from(0)), |acc, (f, op)| {
                acc + f.clone() * word(op)
            })
    }
}

/// `E::F` constant.
pub fn constant<F: From<BaseField>>(value: u32) -> F {
    F::from(BaseField::from(value))
}

/// The effective address of an access of `k + 1` bytes (`k` linear in the row's flags) at
/// `x + (c, d)`, where `x = (x_lo, x_hi)` is slot `b`'s value (read here, as access 0) and the
/// offset is the frame's `(c, d)`; returns byte 0's address `A − k`. Columns (the caller's):
/// `c1, c2, a_lo`.
/// - `c1, c2` boolean and `a_lo + 2^16·(c1 + c2) = x_lo + c + k` (the sum reaches
///   `2^17 + 1`, so it needs two carries), `a_lo ∈ Range16`;
/// - `a_hi = x_hi + d + c1 + c2` and `pages − 1 − a_hi ∈ Range16`.
///
/// So `A = a_lo + 2^16·a_hi = x + off + k` exactly (no wrap: every term is a small integer),
/// and `a_hi < pages ≤ MAX_MEMORY_PAGES = 2^12`: the last byte is inside the memory (so every
/// byte is), below 2^28, and `x + off` did not pass 2^32. With `pages = 0` no access passes.
pub fn address<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    frame: &Frame<E::F>,
    x: [E::F; 2],
    [c1, c2, a_lo]: [E::F; 3],
    k: E::F,
) -> E::F {
    let e = frame.enabler.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        frame.fp.clone() + frame.b.clone(),
        frame.ts(0),
        x.clone(),
        x.clone(),
    );
    boolean(eval, &c1);
    boolean(eval, &c2);
    let [x_lo, x_hi] = x;
    let carry = c1 + c2;
    eval.add_constraint(
        a_lo.clone() + carry.clone() * BaseField::from(1 << 16)
            - x_lo
            - frame.c.clone()
            - k.clone(),
    );
    let a_hi = x_hi + frame.d.clone() + carry;
    range16(eval, rel, e.clone(), a_lo.clone());
    range16(
        eval,
        rel,
        e,
        frame.pages.clone() - E::F::one() - a_hi.clone(),
    );
    a_lo + a_hi * BaseField::from(1 << 16) - k
}

/// The accesses of bytes `first + i` of MEMORY, `i < 4`, as accesses `j0 + i`, from `old` to
/// `new` (a read passes the same bytes twice). Byte 0 is enabled by the row, byte 1 by
/// `w2 + w4`, bytes 2 and 3 by `w4` (the access is 2 or 4 bytes long).
#[allow(clippy::too_many_arguments)]
pub fn memory_bytes<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    frame: &Frame<E::F>,
    first: E::F,
    j0: u32,
    [w2, w4]: [E::F; 2],
    old: [E::F; 4],
    new: [E::F; 4],
) {
    let enabled = [frame.enabler.clone(), w2 + w4.clone(), w4.clone(), w4];
    for (i, ((m, old), new)) in enabled.into_iter().zip(old).zip(new).enumerate() {
        let i = i as u32;
        access(
            eval,
            rel,
            m,
            Space::Memory,
            first.clone() + E::F::from(BaseField::from(i)),
            frame.ts(j0 + i),
            [old, constant(0)],
            [new, constant(0)],
        );
    }
}
