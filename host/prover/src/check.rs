//! Checks a witness without proving: every constraint on every row, and the LogUp balance with
//! the verifier's public part. A witness that fails either has no valid proof (the STARK
//! enforces the constraints, the verifier the balance), so tests that forge witnesses use this
//! to see which defence stops them, and the prover uses it in debug builds.

use std::ops::Mul;

use num_traits::Zero;
use obelysk_air::components::Kind;
use obelysk_air::relations::Relations;
use obelysk_air::statement::Statement;
use obelysk_air::vm::{eval, public_sum, rom_rows};
use obelysk_vm::ir::Program;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::{SECURE_EXTENSION_DEGREE, SecureField};
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkEval};

use crate::vm::table_columns;
use crate::witness::Witness;
use crate::{interaction, preprocessed};

/// The first defence a witness fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("constraint {constraint} of `{component}` fails on row {row}")]
    Constraint {
        component: &'static str,
        row: usize,
        constraint: usize,
    },
    #[error("the LogUp sum does not balance")]
    Unbalanced,
}

/// Evaluates one row's constraints.
struct RowEvaluator<'a> {
    columns: &'a [Vec<M31>],
    next_column: usize,
    row: usize,
    constraints: Vec<SecureField>,
}

impl EvalAtRow for RowEvaluator<'_> {
    type F = M31;
    type EF = SecureField;

    fn next_interaction_mask<const N: usize>(
        &mut self,
        _interaction: usize,
        _offsets: [isize; N],
    ) -> [Self::F; N] {
        let value = self.columns[self.next_column]
            .get(self.row)
            .copied()
            .unwrap_or_default();
        self.next_column += 1;
        [value; N]
    }

    fn get_preprocessed_column(&mut self, column: PreProcessedColumnId) -> Self::F {
        // Every preprocessed column is a sequence of its row index (`preprocessed::columns`).
        let _ = column;
        M31::from_u32_unchecked(self.row as u32)
    }

    fn add_constraint<G>(&mut self, constraint: G)
    where
        Self::EF: Mul<G, Output = Self::EF> + From<G>,
    {
        self.constraints.push(SecureField::from(constraint));
    }

    fn combine_ef(values: [Self::F; SECURE_EXTENSION_DEGREE]) -> Self::EF {
        SecureField::from_m31_array(values)
    }

    fn write_logup_frac(&mut self, _fraction: stwo::core::Fraction<Self::EF, Self::EF>) {}
    fn finalize_logup_batched(&mut self, _batching: &Vec<usize>) {}
    fn finalize_logup(&mut self) {}
    fn finalize_logup_in_pairs(&mut self) {}
}

/// Checks `witness` for `statement` about `program`.
pub fn check_witness(
    program: &Program,
    statement: &Statement,
    witness: &Witness,
) -> Result<(), CheckError> {
    let claim = witness.claim;
    let rel = Relations::draw(&mut {
        let mut channel = Blake2sChannel::default();
        statement.mix_into(&mut channel);
        channel.mix_u64(0x0b31);
        channel
    });
    for kind in Kind::ALL {
        let log_size = claim.log_size(kind);
        let eval = eval(&claim, kind, &rel);
        let columns = &witness.table(kind).columns;
        for row in 0..1usize << log_size {
            let evaluator = RowEvaluator {
                columns,
                next_column: 0,
                row,
                constraints: Vec::new(),
            };
            let result = eval.evaluate(evaluator);
            if let Some(constraint) = result.constraints.iter().position(|c| !c.is_zero()) {
                return Err(CheckError::Constraint {
                    component: kind.name(),
                    row,
                    constraint,
                });
            }
        }
    }
    let preprocessed = preprocessed::columns();
    let by_id = preprocessed::by_id(preprocessed);
    let mut total = public_sum(
        &rel,
        program,
        &rom_rows(program, &statement.input),
        statement,
        claim.memory_end,
    );
    for kind in Kind::ALL {
        let log_size = claim.log_size(kind);
        let eval = eval(&claim, kind, &rel);
        let main = table_columns(witness.table(kind).clone(), log_size);
        total += interaction::interaction_trace(&eval, &main, &by_id).1;
    }
    if total.is_zero() {
        Ok(())
    } else {
        Err(CheckError::Unbalanced)
    }
}
