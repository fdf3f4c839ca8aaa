//! The Obelysk IR: what the VM executes and, later, what the AIR proves.
//!
//! A [`Program`] is a flat list of fixed-width instructions. Operands are *slots* relative to
//! the frame pointer `fp`: a function's frame holds its parameters (slots `0..params`), its
//! other locals, then its operand stack, whose height at every instruction is known statically,
//! so every Wasm stack value has a fixed slot. Structured control flow (`block`, `loop`, `if`,
//! `br*`) becomes jumps to absolute program counters.
//!
//! Calls: the callee's frame starts at the caller's first argument slot (`fp' = fp + frame`), and
//! the callee returns its result in its slot 0, which is where the caller expects it. The return
//! address and the caller's `fp` are saved in the FRAME memory space, keyed by `fp'`.
//!
//! Every instruction encodes to four words `[opcode, a, b, c]` ([`Instr::encode`]), each
//! below 2^20 so that it is one M31 field element with no wrap-around (a 32-bit immediate is
//! split into two 16-bit limbs); the [`Program::id`] hashes those words, so the id commits to
//! exactly what is executed.

use std::fmt;

use blake2::{Blake2s256, Digest};

/// Version of the IR and its lowering rules. Bump it whenever the supported set or the
/// lowering of any instruction changes: stored facts about modules are recomputed on start.
pub const IR_VERSION: u32 = 5;

/// Largest program (instructions) and frame (slots) the VM accepts: every encoded field then
/// stays far below the M31 modulus, so the prover can use it as one field element.
pub const MAX_CODE_LEN: usize = 1 << 20;
/// See [`MAX_CODE_LEN`].
pub const MAX_FRAME_SLOTS: u32 = 1 << 16;
/// The largest word an instruction may encode to ([`Instr::encode`]): `2^20 − 1`.
pub const MAX_ENCODED_WORD: u32 = (1 << 20) - 1;

/// A frame-relative slot index.
pub type Slot = u32;
/// An absolute program counter (index into [`Program::code`]).
pub type Pc = u32;

/// Two-operand i32 operations: `dst ← lhs op rhs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Eq,
    Ne,
    LtU,
    GtU,
    LeU,
    GeU,
}

impl BinOp {
    /// All binary operations, in opcode order.
    pub const ALL: [BinOp; 8] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::LtU,
        BinOp::GtU,
        BinOp::LeU,
        BinOp::GeU,
    ];

    /// The Wasm result of `lhs op rhs`.
    pub fn apply(self, lhs: u32, rhs: u32) -> u32 {
        match self {
            BinOp::Add => lhs.wrapping_add(rhs),
            BinOp::Sub => lhs.wrapping_sub(rhs),
            BinOp::Eq => u32::from(lhs == rhs),
            BinOp::Ne => u32::from(lhs != rhs),
            BinOp::LtU => u32::from(lhs < rhs),
            BinOp::GtU => u32::from(lhs > rhs),
            BinOp::LeU => u32::from(lhs <= rhs),
            BinOp::GeU => u32::from(lhs >= rhs),
        }
    }

    fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Eq => "eq",
            BinOp::Ne => "ne",
            BinOp::LtU => "lt_u",
            BinOp::GtU => "gt_u",
            BinOp::LeU => "le_u",
            BinOp::GeU => "ge_u",
        }
    }
}

/// One Obelysk VM instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instr {
    /// `dst ← value`.
    Const { dst: Slot, value: u32 },
    /// `dst ← src`.
    Copy { dst: Slot, src: Slot },
    /// `dst ← lhs op rhs`.
    Binary {
        op: BinOp,
        dst: Slot,
        lhs: Slot,
        rhs: Slot,
    },
    /// `dst ← (src = 0)`.
    Eqz { dst: Slot, src: Slot },
    /// `pc ← target`.
    Jump { target: Pc },
    /// `pc ← target` when `cond ≠ 0`.
    JumpIf { cond: Slot, target: Pc },
    /// `pc ← target` when `cond = 0`.
    JumpIfZero { cond: Slot, target: Pc },
    /// Saves `(pc + 1, fp)` at FRAME[fp + frame], then `fp ← fp + frame`, `pc ← target`.
    Call { frame: Slot, target: Pc },
    /// Restores `(pc, fp)` from FRAME[fp].
    Return,
    /// `dst ← number of input words`.
    InputLen { dst: Slot },
    /// `dst ← input[index]` (a run with `index` out of range traps).
    Read { dst: Slot, index: Slot },
    /// Appends `src` to the output.
    Write { src: Slot },
    /// Wasm `unreachable`: a run that gets here traps, so it has no proof.
    Trap,
    /// The end of the run (the entry stub's last instruction, after `main` returns).
    Halt,
}

impl Instr {
    /// The fixed-width encoding `[opcode, a, b, c]` that the program id commits to; every
    /// word is below 2^20 for programs within [`MAX_CODE_LEN`] and [`MAX_FRAME_SLOTS`].
    pub fn encode(&self) -> [u32; 4] {
        match *self {
            Instr::Const { dst, value } => [0, dst, value & 0xffff, value >> 16],
            Instr::Copy { dst, src } => [1, dst, src, 0],
            Instr::Binary { op, dst, lhs, rhs } => {
                let code = BinOp::ALL.iter().position(|o| *o == op).expect("listed") as u32;
                [16 + code, dst, lhs, rhs]
            }
            Instr::Eqz { dst, src } => [2, dst, src, 0],
            Instr::Jump { target } => [3, 0, target, 0],
            Instr::JumpIf { cond, target } => [4, cond, target, 0],
            Instr::JumpIfZero { cond, target } => [5, cond, target, 0],
            Instr::Call { frame, target } => [6, frame, target, 0],
            Instr::Return => [7, 0, 0, 0],
            Instr::InputLen { dst } => [8, dst, 0, 0],
            Instr::Read { dst, index } => [9, dst, index, 0],
            Instr::Write { src } => [10, 0, src, 0],
            Instr::Trap => [11, 0, 0, 0],
            Instr::Halt => [12, 0, 0, 0],
        }
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Instr::Const { dst, value } => write!(f, "s{dst} ← {value}"),
            Instr::Copy { dst, src } => write!(f, "s{dst} ← s{src}"),
            Instr::Binary { op, dst, lhs, rhs } => {
                write!(f, "s{dst} ← {} s{lhs} s{rhs}", op.name())
            }
            Instr::Eqz { dst, src } => write!(f, "s{dst} ← eqz s{src}"),
            Instr::Jump { target } => write!(f, "jump @{target}"),
            Instr::JumpIf { cond, target } => write!(f, "jump @{target} if s{cond}"),
            Instr::JumpIfZero { cond, target } => write!(f, "jump @{target} unless s{cond}"),
            Instr::Call { frame, target } => write!(f, "call @{target} frame +{frame}"),
            Instr::Return => f.write_str("return"),
            Instr::InputLen { dst } => write!(f, "s{dst} ← input_len"),
            Instr::Read { dst, index } => write!(f, "s{dst} ← read s{index}"),
            Instr::Write { src } => write!(f, "write s{src}"),
            Instr::Trap => f.write_str("trap"),
            Instr::Halt => f.write_str("halt"),
        }
    }
}

/// A lowered function (for entry points and diagnostics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Wasm function index (imports included).
    pub index: u32,
    /// First instruction.
    pub entry: Pc,
    pub params: u32,
    pub results: u32,
    /// Slots used: parameters, locals and the deepest operand stack.
    pub frame_size: u32,
}

/// A lowered module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub code: Vec<Instr>,
    /// The index in `functions` of the entry: a stub (function index `u32::MAX`) that calls
    /// the exported `main` and halts.
    pub main: usize,
    /// Every defined (non-imported) function.
    pub functions: Vec<Function>,
}

crate::hash::hex_id!(
    /// Hash of a lowered program: what proofs bind the program by.
    ProgramId
);

impl Program {
    /// `Blake2s("obelysk/program/ir" ‖ IR_VERSION ‖ main entry ‖ code length ‖ encoded
    /// instructions)`: the tag carries the IR version, so one id never means two programs.
    pub fn id(&self) -> ProgramId {
        let mut hasher = Blake2s256::new();
        hasher.update(b"obelysk/program/ir");
        hasher.update(IR_VERSION.to_le_bytes());
        hasher.update(self.functions[self.main].entry.to_le_bytes());
        hasher.update((self.code.len() as u32).to_le_bytes());
        for instr in &self.code {
            for word in instr.encode() {
                hasher.update(word.to_le_bytes());
            }
        }
        ProgramId(hasher.finalize().into())
    }

    /// A readable listing, one instruction per line.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        for (pc, instr) in self.code.iter().enumerate() {
            match self.functions.iter().find(|f| f.entry as usize == pc) {
                Some(f) if f.index == u32::MAX => out.push_str("entry:\n"),
                Some(f) => out.push_str(&format!(
                    "func {} (params {}, results {}, frame {}):\n",
                    f.index, f.params, f.results, f.frame_size
                )),
                None => {}
            }
            out.push_str(&format!("  @{pc:<5} {instr}\n"));
        }
        out
    }
}
