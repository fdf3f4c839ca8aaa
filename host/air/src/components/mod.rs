//! The VM AIR's components: one per instruction family, the state chain's frame and memory
//! gadget they share ([`frame`]), and the tables (ROM, memory boundary, range checks).
//! See `host/air/DESIGN.md` for the relations and the attack each constraint stops.

pub mod add_sub;
pub mod bitwise;
pub mod boundary;
pub mod byte_table;
pub mod call;
pub mod cmp;
pub mod constant;
pub mod copy;
pub mod div;
pub mod frame;
pub mod global_get;
pub mod global_set;
pub mod halt;
pub mod io;
pub mod jump;
pub mod jump_table;
pub mod load;
pub mod memory;
pub mod memory_grow;
pub mod memory_size;
pub mod mul;
pub mod mul_wide;
pub mod range_check;
pub mod ret;
pub mod rom;
pub mod select;
pub mod shift;
pub mod store;
pub mod unary;

use obelysk_vm::ir::Opcode;
use serde::{Deserialize, Serialize};
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkComponent, FrameworkEval};

use crate::relations::Relations;
use range_check::RangeTable;

/// The registry: every component, in commitment order. Tables first, then the instruction
/// families, each with its module (whose `evaluate` holds its constraints) and the opcodes it
/// proves, in the order of its opcode flags. [`family`] is an exhaustive `match` over
/// [`Opcode`]: an opcode with no family (other than the `untraced` ones, which have no proof)
/// does not build, and one listed twice is an unreachable pattern (a `-D warnings` error).
macro_rules! registry {
    (
        tables { $($table:ident: $table_name:literal),* $(,)? }
        families { $($family:ident: $module:ident [$($op:ident),+]),* $(,)? }
        untraced [$($untraced:ident),*]
    ) => {
        /// Every component of the VM AIR, in the order their columns are committed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $($table,)*
            $($family,)*
        }

        /// Number of components.
        pub const N_COMPONENTS: usize = [$(stringify!($table),)* $(stringify!($family),)*].len();
        const N_FAMILIES: usize = [$(stringify!($family),)*].len();

        impl Kind {
            /// All components, in commitment order.
            pub const ALL: [Kind; N_COMPONENTS] = [$(Kind::$table,)* $(Kind::$family,)*];

            /// The instruction families: components whose rows are VM steps.
            pub const STEPS: [Kind; N_FAMILIES] = [$(Kind::$family,)*];

            /// A short name (`add_sub`, `range16`, …).
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$table => $table_name,)*
                    $(Kind::$family => stringify!($module),)*
                }
            }

            /// The opcodes a family proves, in the order of its opcode flags (empty for
            /// a table).
            pub fn opcodes(self) -> &'static [Opcode] {
                match self {
                    $(Kind::$family => &[$(Opcode::$op),+],)*
                    _ => &[],
                }
            }

            fn evaluate_family<E: EvalAtRow>(self, eval: &mut E, rel: &Relations) {
                match self {
                    $(Kind::$family => $module::evaluate(eval, rel),)*
                    _ => unreachable!("{self:?} is a table"),
                }
            }
        }

        /// The family that proves `opcode`; `None` for an instruction no proof contains.
        pub const fn family(opcode: Opcode) -> Option<Kind> {
            match opcode {
                $($(Opcode::$op)|+ => Some(Kind::$family),)*
                $(Opcode::$untraced)|* => None,
            }
        }
    };
}

registry! {
    tables {
        Range16: "range16",
        Range10: "range10",
        Bytes: "bytes",
        Rom: "rom",
        Boundary: "boundary",
        Memory: "memory",
    }
    families {
        Const: constant [Const],
        Copy: copy [Copy],
        AddSub: add_sub [Add, Sub, AddImm, SubImm],
        Cmp: cmp [Eqz, Eq, Ne, LtU, GtU, LeU, GeU, LtS, GtS, LeS, GeS],
        Mul: mul [Mul],
        MulWide: mul_wide [MulWide],
        Bitwise: bitwise [And, Or, Xor],
        Shift: shift [Shl, ShrS, ShrU, Rotl, Rotr, ShlImm, ShrSImm, ShrUImm, RotlImm, RotrImm],
        Div: div [DivS, DivU, RemS, RemU],
        Unary: unary [Clz, Ctz, Popcnt, Extend8S, Extend16S],
        Select: select [Select],
        GlobalGet: global_get [GlobalGet],
        GlobalSet: global_set [GlobalSet],
        Load: load [Load8U, Load8S, Load16U, Load16S, Load32],
        Store: store [Store8, Store16, Store32],
        MemorySize: memory_size [MemorySize],
        MemoryGrow: memory_grow [MemoryGrow],
        Jump: jump [Jump, JumpIf, JumpIfZero],
        JumpTable: jump_table [JumpTable],
        Call: call [Call],
        Ret: ret [Return],
        Io: io [InputLen, Read, Write],
        Halt: halt [Halt],
    }
    untraced [Trap]
}

impl Kind {
    /// The register forms among [`Kind::opcodes`]: all but the immediate forms (words from
    /// `obelysk_vm::ir::IMM_OFFSET`, listed last), what a family's flags select from.
    pub fn register_opcodes(self) -> &'static [Opcode] {
        let opcodes = self.opcodes();
        let registers = opcodes
            .iter()
            .take_while(|o| o.word() < obelysk_vm::ir::IMM_OFFSET)
            .count();
        &opcodes[..registers]
    }

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).expect("listed")
    }

    /// Main-trace columns, read off the component's own constraints.
    pub fn width(self) -> usize {
        static WIDTHS: std::sync::OnceLock<[usize; N_COMPONENTS]> = std::sync::OnceLock::new();
        WIDTHS.get_or_init(|| {
            Kind::ALL.map(|kind| {
                let eval = VmEval {
                    kind,
                    log_size: crate::vm::MIN_LOG_ROWS,
                    rel: Relations::dummy(),
                };
                let info = eval.evaluate(stwo_constraint_framework::InfoEvaluator::empty());
                info.mask_offsets.get(1).map_or(0, Vec::len)
            })
        })[self.index()]
    }
}

/// Every preprocessed column, in tree order: the two range tables, the byte table and `seq`
/// columns for each boundary size. None depends on the program, so the tree's root is a constant.
pub fn preprocessed_columns() -> Vec<PreProcessedColumnId> {
    let mut columns = vec![RangeTable::Bits16.column(), RangeTable::Bits10.column()];
    columns.extend(byte_table::COLUMNS.map(byte_table::column));
    columns.extend(
        (boundary::MIN_LOG_ADDRESSES..=boundary::MAX_LOG_ADDRESSES).map(boundary::seq_column),
    );
    columns
}

/// The log sizes of [`preprocessed_columns`].
pub fn preprocessed_log_sizes() -> Vec<u32> {
    let mut sizes = vec![RangeTable::Bits16.bits(), RangeTable::Bits10.bits()];
    sizes.extend(byte_table::COLUMNS.map(|_| byte_table::LOG_SIZE));
    sizes.extend(boundary::MIN_LOG_ADDRESSES..=boundary::MAX_LOG_ADDRESSES);
    sizes
}

/// One VM component's constraints.
#[derive(Clone)]
pub struct VmEval {
    pub kind: Kind,
    pub log_size: u32,
    pub rel: Relations,
}

impl FrameworkEval for VmEval {
    fn log_size(&self) -> u32 {
        self.log_size
    }

    /// Every constraint has degree ≤ 3 (LogUp fractions in pairs, see `DESIGN.md`): the
    /// quotient of a degree-3 constraint by the trace's vanishing polynomial fits in twice
    /// the trace's size.
    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + 1
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let rel = &self.rel;
        match self.kind {
            Kind::Range16 => RangeTable::Bits16.evaluate(&mut eval, rel),
            Kind::Range10 => RangeTable::Bits10.evaluate(&mut eval, rel),
            Kind::Bytes => byte_table::evaluate(&mut eval, rel),
            Kind::Rom => rom::evaluate(&mut eval, rel),
            Kind::Boundary => boundary::evaluate(&mut eval, rel, self.log_size),
            Kind::Memory => memory::evaluate(&mut eval, rel),
            family => family.evaluate_family(&mut eval, rel),
        }
        // Two fractions per interaction column: half the columns of one per fraction, for
        // degree-3 constraints (numerators of degree ≤ 2, linear denominators).
        eval.finalize_logup_in_pairs();
        eval
    }
}

/// A VM component as stwo proves and verifies it.
pub type VmComponent = FrameworkComponent<VmEval>;
