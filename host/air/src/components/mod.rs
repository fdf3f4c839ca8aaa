//! The VM AIR's components: one per instruction family, the state chain's frame and memory
//! gadget they share ([`frame`]), and the tables (ROM, memory boundary, range checks).
//! See `host/air/DESIGN.md` for the relations and the attack each constraint stops.

pub mod add_sub;
pub mod boundary;
pub mod call;
pub mod cmp;
pub mod constant;
pub mod copy;
pub mod frame;
pub mod halt;
pub mod io;
pub mod jump;
pub mod range_check;
pub mod rom;

use serde::{Deserialize, Serialize};
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkComponent, FrameworkEval};

use crate::relations::Relations;
use range_check::RangeTable;

/// Every component of the VM AIR, in the order their columns are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    Range16,
    Range10,
    Rom,
    Boundary,
    Const,
    Copy,
    AddSub,
    Cmp,
    Jump,
    Call,
    Ret,
    Io,
    Halt,
}

/// Number of components.
pub const N_COMPONENTS: usize = 13;

impl Kind {
    /// All components, in commitment order.
    pub const ALL: [Kind; N_COMPONENTS] = [
        Kind::Range16,
        Kind::Range10,
        Kind::Rom,
        Kind::Boundary,
        Kind::Const,
        Kind::Copy,
        Kind::AddSub,
        Kind::Cmp,
        Kind::Jump,
        Kind::Call,
        Kind::Ret,
        Kind::Io,
        Kind::Halt,
    ];

    /// The instruction families: components whose rows are VM steps.
    pub const STEPS: [Kind; 9] = [
        Kind::Const,
        Kind::Copy,
        Kind::AddSub,
        Kind::Cmp,
        Kind::Jump,
        Kind::Call,
        Kind::Ret,
        Kind::Io,
        Kind::Halt,
    ];

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).expect("listed")
    }

    /// A short name (`add_sub`, `range16`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Range16 => "range16",
            Kind::Range10 => "range10",
            Kind::Rom => "rom",
            Kind::Boundary => "boundary",
            Kind::Const => "const",
            Kind::Copy => "copy",
            Kind::AddSub => "add_sub",
            Kind::Cmp => "cmp",
            Kind::Jump => "jump",
            Kind::Call => "call",
            Kind::Ret => "ret",
            Kind::Io => "io",
            Kind::Halt => "halt",
        }
    }
}

/// Every preprocessed column, in tree order: the two range tables and `seq` columns for each
/// boundary size. None depends on the program, so the tree's root is a constant.
pub fn preprocessed_columns() -> Vec<PreProcessedColumnId> {
    let mut columns = vec![RangeTable::Bits16.column(), RangeTable::Bits10.column()];
    columns.extend(
        (boundary::MIN_LOG_ADDRESSES..=boundary::MAX_LOG_ADDRESSES).map(boundary::seq_column),
    );
    columns
}

/// The log sizes of [`preprocessed_columns`].
pub fn preprocessed_log_sizes() -> Vec<u32> {
    let mut sizes = vec![RangeTable::Bits16.bits(), RangeTable::Bits10.bits()];
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

    /// Every constraint has degree ≤ 2 (see `DESIGN.md`).
    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + 1
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let rel = &self.rel;
        match self.kind {
            Kind::Range16 => RangeTable::Bits16.evaluate(&mut eval, rel),
            Kind::Range10 => RangeTable::Bits10.evaluate(&mut eval, rel),
            Kind::Rom => rom::evaluate(&mut eval, rel),
            Kind::Boundary => boundary::evaluate(&mut eval, rel, self.log_size),
            Kind::Const => constant::evaluate(&mut eval, rel),
            Kind::Copy => copy::evaluate(&mut eval, rel),
            Kind::AddSub => add_sub::evaluate(&mut eval, rel),
            Kind::Cmp => cmp::evaluate(&mut eval, rel),
            Kind::Jump => jump::evaluate(&mut eval, rel),
            Kind::Call => call::evaluate_call(&mut eval, rel),
            Kind::Ret => call::evaluate_ret(&mut eval, rel),
            Kind::Io => io::evaluate(&mut eval, rel),
            Kind::Halt => halt::evaluate(&mut eval, rel),
        }
        eval.finalize_logup();
        eval
    }
}

/// A VM component as stwo proves and verifies it.
pub type VmComponent = FrameworkComponent<VmEval>;
