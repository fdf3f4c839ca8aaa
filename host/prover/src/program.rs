//! Trace generation for the `program` table (`obelysk_air::components::program`).

use obelysk_air::components::program::{BindRelation, EncodedInstr, ProgramRelation};
use stwo::core::ColumnVec;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::m31::{LOG_N_LANES, PackedM31};
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo_constraint_framework::{LogupTraceGenerator, Relation};

use crate::range_check::Column;

/// One row of the table, as the prover fills it (honest rows: enabler 1, executions count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramRow {
    /// 1 for a real row; padding rows are all zero. A field element (tests forge others).
    pub enabler: u32,
    pub instr: EncodedInstr,
    pub multiplicity: u32,
}

/// Honest rows: each instruction once, with how often it was executed.
pub fn rows(
    program: &[EncodedInstr],
    executions: impl Fn(&EncodedInstr) -> u32,
) -> Vec<ProgramRow> {
    program
        .iter()
        .map(|instr| ProgramRow {
            enabler: 1,
            instr: *instr,
            multiplicity: executions(instr),
        })
        .collect()
}

/// The table's log size for `n` rows (at least one SIMD vector).
pub fn log_size(n: usize) -> u32 {
    n.next_power_of_two().trailing_zeros().max(LOG_N_LANES)
}

/// The main trace: `enabler, pc, opcode, a, b, c, multiplicity`, padded with zero rows.
pub fn main_trace(rows: &[ProgramRow]) -> ColumnVec<Column> {
    let log_size = log_size(rows.len());
    let padded = rows.iter().copied().chain(std::iter::repeat(ProgramRow {
        enabler: 0,
        instr: [0; 5],
        multiplicity: 0,
    }));
    let table: Vec<ProgramRow> = padded.take(1 << log_size).collect();
    let column = |value: &dyn Fn(&ProgramRow) -> u32| -> Column {
        let values: BaseColumn = table
            .iter()
            .map(|row| BaseField::from_u32_unchecked(value(row)))
            .collect();
        CircleEvaluation::new(CanonicCoset::new(log_size).circle_domain(), values)
    };
    let mut columns = vec![column(&|r| r.enabler)];
    for i in 0..5 {
        columns.push(column(&|r| r.instr[i]));
    }
    columns.push(column(&|r| r.multiplicity));
    columns
}

/// The interaction trace (one column per fraction: `−multiplicity / Program`, `enabler / Bind`)
/// computed from the main trace, and the claimed sum.
pub fn interaction_trace(
    main: &[Column],
    program: &ProgramRelation,
    bind: &BindRelation,
) -> (ColumnVec<Column>, SecureField) {
    let log_size = main[0].domain.log_size();
    let mut logup = LogupTraceGenerator::new(log_size);
    let at = |column: usize, row: usize| -> PackedM31 { main[column].values.data[row] };
    let instr = |row: usize| -> [PackedM31; 5] { std::array::from_fn(|i| at(1 + i, row)) };

    crate::logup::fraction_column(&mut logup, log_size, |row| {
        let denominator: PackedSecureField = program.combine(&instr(row));
        (-PackedSecureField::from(at(6, row)), denominator)
    });
    crate::logup::fraction_column(&mut logup, log_size, |row| {
        let denominator: PackedSecureField = bind.combine(&instr(row));
        (PackedSecureField::from(at(0, row)), denominator)
    });
    logup.finalize_last()
}
