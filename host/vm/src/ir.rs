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
//! Every instruction encodes to five words `[opcode, a, b, c, d]` ([`Instr::encode`]), each
//! below 2^20 so that it is one M31 field element with no wrap-around (a 32-bit immediate is
//! split into two 16-bit limbs); the [`Program::id`] hashes those words, so the id commits to
//! exactly what is executed.

use std::fmt;

use blake2::{Blake2s256, Digest};

/// Version of the IR and its lowering rules. Bump it whenever the supported set or the
/// lowering of any instruction changes: stored facts about modules are recomputed on start.
pub const IR_VERSION: u32 = 9;

/// Largest program (instructions) and frame (slots) the VM accepts: every encoded field then
/// stays far below the M31 modulus, so the prover can use it as one field element.
pub const MAX_CODE_LEN: usize = 1 << 20;
/// See [`MAX_CODE_LEN`].
pub const MAX_FRAME_SLOTS: u32 = 1 << 16;
/// `br_table` targets (besides the default) a [`Instr::JumpTable`] may have: its count is
/// one 16-bit limb.
pub const MAX_TABLE_TARGETS: u32 = 1 << 16;
/// Globals a module may have: a global's index is its address in the GLOBAL memory space.
pub const MAX_GLOBALS: u32 = 1 << 16;
/// Wasm pages (64 KiB each) the VM's linear memory may grow to: 256 MiB, so every byte
/// address is below 2^28 (an exact field element, far below p).
pub const MAX_MEMORY_PAGES: u32 = 1 << 12;
/// Bytes per Wasm page.
pub const PAGE_BYTES: u32 = 1 << 16;
/// The largest word an instruction may encode to ([`Instr::encode`]): `2^20 − 1`.
pub const MAX_ENCODED_WORD: u32 = (1 << 20) - 1;

/// A frame-relative slot index.
pub type Slot = u32;
/// An absolute program counter (index into [`Program::code`]).
pub type Pc = u32;

/// Every instruction's opcode: the first word of [`Instr::encode`], and what the AIR's
/// components (`obelysk_air::components`) match on. This table is the only place an opcode
/// number is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Opcode {
    Const = 0,
    Copy = 1,
    Eqz = 2,
    Jump = 3,
    JumpIf = 4,
    JumpIfZero = 5,
    Call = 6,
    Return = 7,
    InputLen = 8,
    Read = 9,
    Write = 10,
    Trap = 11,
    Halt = 12,
    Select = 13,
    JumpTable = 14,
    Add = 16,
    Sub = 17,
    Eq = 18,
    Ne = 19,
    LtU = 20,
    GtU = 21,
    LeU = 22,
    GeU = 23,
    LtS = 24,
    GtS = 25,
    LeS = 26,
    GeS = 27,
    Mul = 28,
    And = 29,
    Or = 30,
    Xor = 31,
    Shl = 32,
    ShrS = 33,
    ShrU = 34,
    Rotl = 35,
    Rotr = 36,
    DivS = 37,
    DivU = 38,
    RemS = 39,
    RemU = 40,
    Clz = 41,
    Ctz = 42,
    Popcnt = 43,
    Extend8S = 44,
    Extend16S = 45,
    GlobalGet = 46,
    GlobalSet = 47,
    Load8U = 48,
    Load8S = 49,
    Load16U = 50,
    Load16S = 51,
    Load32 = 52,
    Store8 = 53,
    Store16 = 54,
    Store32 = 55,
    MemorySize = 56,
    MemoryGrow = 57,
    MulWide = 58,
    // The immediate forms of `Add` … `Rotr` ([`Instr::BinaryImm`]): each is its register
    // form's word plus [`IMM_OFFSET`].
    AddImm = 80,
    SubImm = 81,
    ShlImm = 96,
    ShrSImm = 97,
    ShrUImm = 98,
    RotlImm = 99,
    RotrImm = 100,
}

/// What an immediate form's opcode word adds to its register form's (above every register
/// form's word, so a family's `flags + IMM_OFFSET · imm` names exactly one opcode).
pub const IMM_OFFSET: u32 = 64;

impl Opcode {
    /// Every opcode, in numeric order.
    pub const ALL: [Opcode; 65] = [
        Opcode::Const,
        Opcode::Copy,
        Opcode::Eqz,
        Opcode::Jump,
        Opcode::JumpIf,
        Opcode::JumpIfZero,
        Opcode::Call,
        Opcode::Return,
        Opcode::InputLen,
        Opcode::Read,
        Opcode::Write,
        Opcode::Trap,
        Opcode::Halt,
        Opcode::Select,
        Opcode::JumpTable,
        Opcode::Add,
        Opcode::Sub,
        Opcode::Eq,
        Opcode::Ne,
        Opcode::LtU,
        Opcode::GtU,
        Opcode::LeU,
        Opcode::GeU,
        Opcode::LtS,
        Opcode::GtS,
        Opcode::LeS,
        Opcode::GeS,
        Opcode::Mul,
        Opcode::And,
        Opcode::Or,
        Opcode::Xor,
        Opcode::Shl,
        Opcode::ShrS,
        Opcode::ShrU,
        Opcode::Rotl,
        Opcode::Rotr,
        Opcode::DivS,
        Opcode::DivU,
        Opcode::RemS,
        Opcode::RemU,
        Opcode::Clz,
        Opcode::Ctz,
        Opcode::Popcnt,
        Opcode::Extend8S,
        Opcode::Extend16S,
        Opcode::GlobalGet,
        Opcode::GlobalSet,
        Opcode::Load8U,
        Opcode::Load8S,
        Opcode::Load16U,
        Opcode::Load16S,
        Opcode::Load32,
        Opcode::Store8,
        Opcode::Store16,
        Opcode::Store32,
        Opcode::MemorySize,
        Opcode::MemoryGrow,
        Opcode::MulWide,
        Opcode::AddImm,
        Opcode::SubImm,
        Opcode::ShlImm,
        Opcode::ShrSImm,
        Opcode::ShrUImm,
        Opcode::RotlImm,
        Opcode::RotrImm,
    ];

    /// The encoded word.
    pub const fn word(self) -> u32 {
        self as u32
    }
}

/// Two-operand i32 operations: `dst ← lhs op rhs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
    Shl,
    ShrS,
    ShrU,
    Rotl,
    Rotr,
    DivS,
    DivU,
    RemS,
    RemU,
    Eq,
    Ne,
    LtS,
    LtU,
    GtS,
    GtU,
    LeS,
    LeU,
    GeS,
    GeU,
}

impl BinOp {
    /// All binary operations.
    pub const ALL: [BinOp; 25] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
        BinOp::Shl,
        BinOp::ShrS,
        BinOp::ShrU,
        BinOp::Rotl,
        BinOp::Rotr,
        BinOp::DivS,
        BinOp::DivU,
        BinOp::RemS,
        BinOp::RemU,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::LtS,
        BinOp::LtU,
        BinOp::GtS,
        BinOp::GtU,
        BinOp::LeS,
        BinOp::LeU,
        BinOp::GeS,
        BinOp::GeU,
    ];

    /// Why Wasm traps on `lhs op rhs`, if it does: a division by zero, or `INT_MIN / −1`.
    pub fn trap(self, lhs: u32, rhs: u32) -> Option<&'static str> {
        match self {
            BinOp::DivS | BinOp::DivU | BinOp::RemS | BinOp::RemU if rhs == 0 => {
                Some("integer divide by zero")
            }
            BinOp::DivS if lhs == 1 << 31 && rhs == u32::MAX => Some("integer overflow"),
            _ => None,
        }
    }

    /// The Wasm result of `lhs op rhs`, where it does not [trap](BinOp::trap) (where it does,
    /// 0).
    pub fn apply(self, lhs: u32, rhs: u32) -> u32 {
        let (sl, sr) = (lhs as i32, rhs as i32);
        match self {
            BinOp::Add => lhs.wrapping_add(rhs),
            BinOp::Sub => lhs.wrapping_sub(rhs),
            BinOp::Mul => lhs.wrapping_mul(rhs),
            BinOp::And => lhs & rhs,
            BinOp::Or => lhs | rhs,
            BinOp::Xor => lhs ^ rhs,
            BinOp::Shl => lhs.wrapping_shl(rhs),
            BinOp::ShrS => sl.wrapping_shr(rhs) as u32,
            BinOp::ShrU => lhs.wrapping_shr(rhs),
            BinOp::Rotl => lhs.rotate_left(rhs % 32),
            BinOp::Rotr => lhs.rotate_right(rhs % 32),
            BinOp::DivS => sl.checked_div(sr).unwrap_or(0) as u32,
            BinOp::DivU => lhs.checked_div(rhs).unwrap_or(0),
            BinOp::RemS => sl.checked_rem(sr).map_or(0, |r| r as u32),
            BinOp::RemU => lhs.checked_rem(rhs).unwrap_or(0),
            BinOp::Eq => u32::from(lhs == rhs),
            BinOp::Ne => u32::from(lhs != rhs),
            BinOp::LtS => u32::from(sl < sr),
            BinOp::LtU => u32::from(lhs < rhs),
            BinOp::GtS => u32::from(sl > sr),
            BinOp::GtU => u32::from(lhs > rhs),
            BinOp::LeS => u32::from(sl <= sr),
            BinOp::LeU => u32::from(lhs <= rhs),
            BinOp::GeS => u32::from(sl >= sr),
            BinOp::GeU => u32::from(lhs >= rhs),
        }
    }

    /// Its opcode.
    pub const fn opcode(self) -> Opcode {
        match self {
            BinOp::Add => Opcode::Add,
            BinOp::Sub => Opcode::Sub,
            BinOp::Mul => Opcode::Mul,
            BinOp::And => Opcode::And,
            BinOp::Or => Opcode::Or,
            BinOp::Xor => Opcode::Xor,
            BinOp::Shl => Opcode::Shl,
            BinOp::ShrS => Opcode::ShrS,
            BinOp::ShrU => Opcode::ShrU,
            BinOp::Rotl => Opcode::Rotl,
            BinOp::Rotr => Opcode::Rotr,
            BinOp::DivS => Opcode::DivS,
            BinOp::DivU => Opcode::DivU,
            BinOp::RemS => Opcode::RemS,
            BinOp::RemU => Opcode::RemU,
            BinOp::Eq => Opcode::Eq,
            BinOp::Ne => Opcode::Ne,
            BinOp::LtS => Opcode::LtS,
            BinOp::LtU => Opcode::LtU,
            BinOp::GtS => Opcode::GtS,
            BinOp::GtU => Opcode::GtU,
            BinOp::LeS => Opcode::LeS,
            BinOp::LeU => Opcode::LeU,
            BinOp::GeS => Opcode::GeS,
            BinOp::GeU => Opcode::GeU,
        }
    }

    /// The opcode of the immediate form (`dst ← lhs op imm`), for the operations that have
    /// one: additions and shifts, whose right operand is most often a constant.
    pub const fn imm_opcode(self) -> Option<Opcode> {
        Some(match self {
            BinOp::Add => Opcode::AddImm,
            BinOp::Sub => Opcode::SubImm,
            BinOp::Shl => Opcode::ShlImm,
            BinOp::ShrS => Opcode::ShrSImm,
            BinOp::ShrU => Opcode::ShrUImm,
            BinOp::Rotl => Opcode::RotlImm,
            BinOp::Rotr => Opcode::RotrImm,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Xor => "xor",
            BinOp::Shl => "shl",
            BinOp::ShrS => "shr_s",
            BinOp::ShrU => "shr_u",
            BinOp::Rotl => "rotl",
            BinOp::Rotr => "rotr",
            BinOp::DivS => "div_s",
            BinOp::DivU => "div_u",
            BinOp::RemS => "rem_s",
            BinOp::RemU => "rem_u",
            BinOp::Eq => "eq",
            BinOp::Ne => "ne",
            BinOp::LtS => "lt_s",
            BinOp::LtU => "lt_u",
            BinOp::GtS => "gt_s",
            BinOp::GtU => "gt_u",
            BinOp::LeS => "le_s",
            BinOp::LeU => "le_u",
            BinOp::GeS => "ge_s",
            BinOp::GeU => "ge_u",
        }
    }
}

/// One-operand i32 operations: `dst ← op src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    Clz,
    Ctz,
    Popcnt,
    Extend8S,
    Extend16S,
}

impl UnOp {
    /// All unary operations.
    pub const ALL: [UnOp; 5] = [
        UnOp::Clz,
        UnOp::Ctz,
        UnOp::Popcnt,
        UnOp::Extend8S,
        UnOp::Extend16S,
    ];

    /// The Wasm result of `op x`.
    pub fn apply(self, x: u32) -> u32 {
        match self {
            UnOp::Clz => x.leading_zeros(),
            UnOp::Ctz => x.trailing_zeros(),
            UnOp::Popcnt => x.count_ones(),
            UnOp::Extend8S => x as u8 as i8 as i32 as u32,
            UnOp::Extend16S => x as u16 as i16 as i32 as u32,
        }
    }

    /// Its opcode.
    pub const fn opcode(self) -> Opcode {
        match self {
            UnOp::Clz => Opcode::Clz,
            UnOp::Ctz => Opcode::Ctz,
            UnOp::Popcnt => Opcode::Popcnt,
            UnOp::Extend8S => Opcode::Extend8S,
            UnOp::Extend16S => Opcode::Extend16S,
        }
    }

    fn name(self) -> &'static str {
        match self {
            UnOp::Clz => "clz",
            UnOp::Ctz => "ctz",
            UnOp::Popcnt => "popcnt",
            UnOp::Extend8S => "extend8_s",
            UnOp::Extend16S => "extend16_s",
        }
    }
}

/// Loads from linear memory: how many bytes, and how they extend to 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadOp {
    U8,
    S8,
    U16,
    S16,
    W32,
}

impl LoadOp {
    /// All loads.
    pub const ALL: [LoadOp; 5] = [
        LoadOp::U8,
        LoadOp::S8,
        LoadOp::U16,
        LoadOp::S16,
        LoadOp::W32,
    ];

    /// Bytes read.
    pub const fn bytes(self) -> u32 {
        match self {
            LoadOp::U8 | LoadOp::S8 => 1,
            LoadOp::U16 | LoadOp::S16 => 2,
            LoadOp::W32 => 4,
        }
    }

    /// The loaded value of the little-endian `bytes` (its first [`LoadOp::bytes`]).
    pub fn extend(self, bytes: [u8; 4]) -> u32 {
        let word = u32::from_le_bytes(bytes);
        match self {
            LoadOp::U8 => word & 0xff,
            LoadOp::S8 => word as u8 as i8 as i32 as u32,
            LoadOp::U16 => word & 0xffff,
            LoadOp::S16 => word as u16 as i16 as i32 as u32,
            LoadOp::W32 => word,
        }
    }

    /// Its opcode.
    pub const fn opcode(self) -> Opcode {
        match self {
            LoadOp::U8 => Opcode::Load8U,
            LoadOp::S8 => Opcode::Load8S,
            LoadOp::U16 => Opcode::Load16U,
            LoadOp::S16 => Opcode::Load16S,
            LoadOp::W32 => Opcode::Load32,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LoadOp::U8 => "load8_u",
            LoadOp::S8 => "load8_s",
            LoadOp::U16 => "load16_u",
            LoadOp::S16 => "load16_s",
            LoadOp::W32 => "load",
        }
    }
}

/// Stores to linear memory: the low 1, 2 or 4 bytes of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    B8,
    B16,
    W32,
}

impl StoreOp {
    /// All stores.
    pub const ALL: [StoreOp; 3] = [StoreOp::B8, StoreOp::B16, StoreOp::W32];

    /// Bytes written.
    pub const fn bytes(self) -> u32 {
        match self {
            StoreOp::B8 => 1,
            StoreOp::B16 => 2,
            StoreOp::W32 => 4,
        }
    }

    /// Its opcode.
    pub const fn opcode(self) -> Opcode {
        match self {
            StoreOp::B8 => Opcode::Store8,
            StoreOp::B16 => Opcode::Store16,
            StoreOp::W32 => Opcode::Store32,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StoreOp::B8 => "store8",
            StoreOp::B16 => "store16",
            StoreOp::W32 => "store",
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
    /// `dst ← lhs op imm`, for the operations with an immediate form
    /// ([`BinOp::imm_opcode`]): `i32.const` then the operation, in one step.
    BinaryImm {
        op: BinOp,
        dst: Slot,
        lhs: Slot,
        imm: u32,
    },
    /// `dst ← op src`.
    Unary { op: UnOp, dst: Slot, src: Slot },
    /// `dst ← (src = 0)`.
    Eqz { dst: Slot, src: Slot },
    /// `(dst, dst + 1) ← lhs · rhs`: the full 64-bit product of two u32s, low word first
    /// (how an i64 product is lowered).
    MulWide { dst: Slot, lhs: Slot, rhs: Slot },
    /// `dst ← if cond ≠ 0 { first } else { first + 1 }`: Wasm `select`, whose two values are
    /// adjacent on the operand stack.
    Select { dst: Slot, first: Slot, cond: Slot },
    /// `pc ← target`.
    Jump { target: Pc },
    /// `pc ← target` when `cond ≠ 0`.
    JumpIf { cond: Slot, target: Pc },
    /// `pc ← target` when `cond = 0`.
    JumpIfZero { cond: Slot, target: Pc },
    /// Wasm `br_table`: `pc ← pc + 1 + min(index, count)`, into the `count + 1` jumps that
    /// follow (the last is the default). `count` is below [`MAX_TABLE_TARGETS`].
    JumpTable { index: Slot, count: u32 },
    /// Saves `(pc + 1, fp)` at FRAME[fp + frame], then `fp ← fp + frame`, `pc ← target`.
    Call { frame: Slot, target: Pc },
    /// Restores `(pc, fp)` from FRAME[fp].
    Return,
    /// `dst ← global[global]` (a mutable i32 global; an immutable one lowers to `Const`).
    GlobalGet { dst: Slot, global: u32 },
    /// `global[global] ← src`.
    GlobalSet { global: u32, src: Slot },
    /// `dst ← memory[base + offset ..]` (1, 2 or 4 bytes, extended); traps when `base +
    /// offset` overflows 32 bits or the last byte is past the memory size.
    Load {
        op: LoadOp,
        dst: Slot,
        base: Slot,
        offset: u32,
    },
    /// `memory[base + offset ..] ← src` (its low 1, 2 or 4 bytes); traps like [`Instr::Load`].
    Store {
        op: StoreOp,
        src: Slot,
        base: Slot,
        offset: u32,
    },
    /// `dst ← memory size in pages`.
    MemorySize { dst: Slot },
    /// Wasm `memory.grow` in place: `slot ← old size`, the memory grows by `slot` pages, or
    /// `slot ← −1` and nothing changes when the size would pass `max` (≤ [`MAX_MEMORY_PAGES`]).
    MemoryGrow { slot: Slot, max: u32 },
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
    /// Its opcode.
    pub const fn opcode(&self) -> Opcode {
        match self {
            Instr::Const { .. } => Opcode::Const,
            Instr::Copy { .. } => Opcode::Copy,
            Instr::Binary { op, .. } => op.opcode(),
            Instr::BinaryImm { op, .. } => match op.imm_opcode() {
                Some(opcode) => opcode,
                None => panic!("no immediate form"),
            },
            Instr::Unary { op, .. } => op.opcode(),
            Instr::Eqz { .. } => Opcode::Eqz,
            Instr::MulWide { .. } => Opcode::MulWide,
            Instr::Select { .. } => Opcode::Select,
            Instr::Jump { .. } => Opcode::Jump,
            Instr::JumpIf { .. } => Opcode::JumpIf,
            Instr::JumpIfZero { .. } => Opcode::JumpIfZero,
            Instr::JumpTable { .. } => Opcode::JumpTable,
            Instr::Call { .. } => Opcode::Call,
            Instr::Return => Opcode::Return,
            Instr::GlobalGet { .. } => Opcode::GlobalGet,
            Instr::GlobalSet { .. } => Opcode::GlobalSet,
            Instr::Load { op, .. } => op.opcode(),
            Instr::Store { op, .. } => op.opcode(),
            Instr::MemorySize { .. } => Opcode::MemorySize,
            Instr::MemoryGrow { .. } => Opcode::MemoryGrow,
            Instr::InputLen { .. } => Opcode::InputLen,
            Instr::Read { .. } => Opcode::Read,
            Instr::Write { .. } => Opcode::Write,
            Instr::Trap => Opcode::Trap,
            Instr::Halt => Opcode::Halt,
        }
    }

    /// The operands `[a, b, c, d]`: `a` = destination / condition / call frame, `b` = first
    /// source / jump or call target, `c` = second source (a 32-bit immediate is split into
    /// its 16-bit limbs `b, c`; a memory offset into `c, d`). Only loads and stores use `d`.
    pub const fn operands(&self) -> [u32; 4] {
        let [a, b, c] = match *self {
            Instr::Load {
                dst: slot,
                base,
                offset,
                ..
            }
            | Instr::Store {
                src: slot,
                base,
                offset,
                ..
            } => return [slot, base, offset & 0xffff, offset >> 16],
            Instr::BinaryImm { dst, lhs, imm, .. } => return [dst, lhs, imm & 0xffff, imm >> 16],
            Instr::MemorySize { dst } => [dst, 0, 0],
            Instr::MemoryGrow { slot, max } => [slot, max, 0],
            Instr::Const { dst, value } => [dst, value & 0xffff, value >> 16],
            Instr::Copy { dst, src } => [dst, src, 0],
            Instr::Binary { dst, lhs, rhs, .. } | Instr::MulWide { dst, lhs, rhs } => {
                [dst, lhs, rhs]
            }
            Instr::Unary { dst, src, .. } | Instr::Eqz { dst, src } => [dst, src, 0],
            Instr::Select { dst, first, cond } => [dst, first, cond],
            Instr::Jump { target } => [0, target, 0],
            Instr::JumpIf { cond, target } | Instr::JumpIfZero { cond, target } => {
                [cond, target, 0]
            }
            Instr::JumpTable { index, count } => [index, count, 0],
            Instr::Call { frame, target } => [frame, target, 0],
            Instr::GlobalGet { dst, global } => [dst, global, 0],
            Instr::GlobalSet { global, src } => [global, src, 0],
            Instr::InputLen { dst } => [dst, 0, 0],
            Instr::Read { dst, index } => [dst, index, 0],
            Instr::Write { src } => [0, src, 0],
            Instr::Return | Instr::Trap | Instr::Halt => [0, 0, 0],
        };
        [a, b, c, 0]
    }

    /// The fixed-width encoding `[opcode, a, b, c, d]` that the program id commits to; every
    /// word is below 2^20 for programs within [`MAX_CODE_LEN`] and [`MAX_FRAME_SLOTS`].
    pub const fn encode(&self) -> [u32; 5] {
        let [a, b, c, d] = self.operands();
        [self.opcode().word(), a, b, c, d]
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
            Instr::BinaryImm { op, dst, lhs, imm } => {
                write!(f, "s{dst} ← {} s{lhs} {imm}", op.name())
            }
            Instr::Unary { op, dst, src } => write!(f, "s{dst} ← {} s{src}", op.name()),
            Instr::Eqz { dst, src } => write!(f, "s{dst} ← eqz s{src}"),
            Instr::MulWide { dst, lhs, rhs } => write!(
                f,
                "s{dst}, s{} ← mul_wide s{lhs} s{rhs}",
                dst.wrapping_add(1)
            ),
            Instr::Select { dst, first, cond } => {
                write!(
                    f,
                    "s{dst} ← s{cond} ? s{first} : s{}",
                    first.wrapping_add(1)
                )
            }
            Instr::Jump { target } => write!(f, "jump @{target}"),
            Instr::JumpIf { cond, target } => write!(f, "jump @{target} if s{cond}"),
            Instr::JumpIfZero { cond, target } => write!(f, "jump @{target} unless s{cond}"),
            Instr::JumpTable { index, count } => write!(f, "jump table s{index} of {count}"),
            Instr::Call { frame, target } => write!(f, "call @{target} frame +{frame}"),
            Instr::Return => f.write_str("return"),
            Instr::GlobalGet { dst, global } => write!(f, "s{dst} ← g{global}"),
            Instr::GlobalSet { global, src } => write!(f, "g{global} ← s{src}"),
            Instr::Load {
                op,
                dst,
                base,
                offset,
            } => write!(f, "s{dst} ← {} [s{base} + {offset}]", op.name()),
            Instr::Store {
                op,
                src,
                base,
                offset,
            } => write!(f, "{} [s{base} + {offset}] ← s{src}", op.name()),
            Instr::MemorySize { dst } => write!(f, "s{dst} ← memory.size"),
            Instr::MemoryGrow { slot, max } => {
                write!(f, "s{slot} ← memory.grow s{slot} (max {max})")
            }
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
    /// The initial linear memory's non-zero bytes (from the active data segments), by
    /// increasing address. The entry stub grows the memory to its initial size.
    pub data: Vec<(u32, u8)>,
}

crate::hash::hex_id!(
    /// Hash of a lowered program: what proofs bind the program by.
    ProgramId
);

impl Program {
    /// `Blake2s("obelysk/program/ir" ‖ IR_VERSION ‖ main entry ‖ code length ‖ encoded
    /// instructions ‖ data length ‖ (address, byte) of each data byte)`: the tag carries the IR
    /// version, so one id never means two programs.
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
        hasher.update((self.data.len() as u32).to_le_bytes());
        for &(addr, byte) in &self.data {
            hasher.update(addr.to_le_bytes());
            hasher.update([byte]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_table_is_one_word_per_opcode() {
        for pair in Opcode::ALL.windows(2) {
            assert!(
                pair[0].word() < pair[1].word(),
                "{pair:?}: listed in numeric order"
            );
        }
        for op in BinOp::ALL {
            assert!(Opcode::ALL.contains(&op.opcode()));
            let instr = Instr::Binary {
                op,
                dst: 1,
                lhs: 2,
                rhs: 3,
            };
            assert_eq!(instr.encode(), [op.opcode().word(), 1, 2, 3, 0]);
        }
        let opcodes: std::collections::BTreeSet<_> =
            BinOp::ALL.iter().map(|o| o.opcode()).collect();
        assert_eq!(opcodes.len(), BinOp::ALL.len(), "one opcode per operation");
        // Immediate forms: the register form's word plus IMM_OFFSET, above every register
        // form; the immediate is split into 16-bit limbs like a constant's.
        for op in BinOp::ALL {
            let Some(imm) = op.imm_opcode() else { continue };
            assert!(Opcode::ALL.contains(&imm));
            assert_eq!(imm.word(), op.opcode().word() + IMM_OFFSET);
            let instr = Instr::BinaryImm {
                op,
                dst: 1,
                lhs: 2,
                imm: 0x0005_0007,
            };
            assert_eq!(instr.encode(), [imm.word(), 1, 2, 7, 5]);
        }
        let register_forms = Opcode::ALL.iter().filter(|o| o.word() < IMM_OFFSET);
        assert!(
            register_forms
                .clone()
                .all(|o| o.word() + IMM_OFFSET > Opcode::MulWide.word())
        );
        assert_eq!(register_forms.count() + 7, Opcode::ALL.len());
    }
}
