//! LogUp interaction traces, derived from the AIR itself.
//!
//! [`interaction_trace`] runs a component's own `evaluate` over each packed row of its main
//! trace with an evaluator that records the LogUp fractions instead of checking constraints,
//! then writes one interaction column per batch of fractions, batched as the component's
//! `finalize_logup*` call says. The prover therefore never restates a component's lookups or
//! their batching: what it commits is, by construction, what the verifier checks.

use std::collections::HashMap;
use std::ops::Mul;

use stwo::core::Fraction;
use stwo::core::fields::qm31::{SECURE_EXTENSION_DEGREE, SecureField};
use stwo::prover::backend::simd::m31::{LOG_N_LANES, PackedM31};
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkEval, LogupTraceGenerator};

use crate::Column;

/// Preprocessed columns by id.
pub type Preprocessed<'a> = HashMap<String, &'a Column>;

/// Reads one packed row and collects its fractions.
struct FractionEvaluator<'a> {
    main: &'a [Column],
    preprocessed: &'a Preprocessed<'a>,
    next_column: usize,
    row: usize,
    fractions: Vec<Fraction<PackedSecureField, PackedSecureField>>,
    /// The batch of each fraction, as the component finalized its LogUp.
    batching: Vec<usize>,
}

impl EvalAtRow for FractionEvaluator<'_> {
    type F = PackedM31;
    type EF = PackedSecureField;

    fn next_interaction_mask<const N: usize>(
        &mut self,
        interaction: usize,
        offsets: [isize; N],
    ) -> [Self::F; N] {
        assert_eq!(interaction, 1, "VM components read only their main trace");
        assert!(
            offsets.iter().all(|&o| o == 0),
            "VM constraints are row-local"
        );
        let value = self.main[self.next_column].values.data[self.row];
        self.next_column += 1;
        [value; N]
    }

    fn get_preprocessed_column(&mut self, column: PreProcessedColumnId) -> Self::F {
        self.preprocessed[&column.id].values.data[self.row]
    }

    fn add_constraint<G>(&mut self, _constraint: G)
    where
        Self::EF: Mul<G, Output = Self::EF> + From<G>,
    {
    }

    fn combine_ef(values: [Self::F; SECURE_EXTENSION_DEGREE]) -> Self::EF {
        PackedSecureField::from_packed_m31s(values)
    }

    fn write_logup_frac(&mut self, fraction: Fraction<Self::EF, Self::EF>) {
        self.fractions.push(fraction);
    }

    fn finalize_logup_batched(&mut self, batching: &Vec<usize>) {
        self.set_batching(batching.clone());
    }

    // The batchings of stwo's own `finalize_logup` and `finalize_logup_in_pairs`.
    fn finalize_logup(&mut self) {
        self.set_batching((0..self.fractions.len()).collect());
    }

    fn finalize_logup_in_pairs(&mut self) {
        self.set_batching((0..self.fractions.len()).map(|i| i / 2).collect());
    }
}

impl FractionEvaluator<'_> {
    fn set_batching(&mut self, batching: Vec<usize>) {
        assert_eq!(
            batching.len(),
            self.fractions.len(),
            "one batch per fraction"
        );
        self.batching = batching;
    }

    /// The sum of each batch's fractions, in batch order (the batches are `0..n`, as stwo
    /// requires).
    fn batch_sums(self) -> Vec<Fraction<PackedSecureField, PackedSecureField>> {
        let batches = self.batching.iter().max().map_or(0, |&last| last + 1);
        let mut sums: Vec<Option<Fraction<_, _>>> = vec![None; batches];
        for (fraction, &batch) in self.fractions.into_iter().zip(&self.batching) {
            sums[batch] = Some(match sums[batch].take() {
                Some(sum) => sum + fraction,
                None => fraction,
            });
        }
        sums.into_iter()
            .map(|sum| sum.expect("stwo requires every batch in 0..n"))
            .collect()
    }
}

/// The interaction trace of the component `eval` over its `main` columns, and its claimed sum.
pub fn interaction_trace<E: FrameworkEval + Sync>(
    eval: &E,
    main: &[Column],
    preprocessed: &Preprocessed<'_>,
) -> (Vec<Column>, SecureField) {
    use rayon::prelude::*;
    let log_size = eval.log_size();
    let packed_rows = 1usize << (log_size - LOG_N_LANES);
    let batches: Vec<Vec<Fraction<PackedSecureField, PackedSecureField>>> = (0..packed_rows)
        .into_par_iter()
        .map(|row| {
            let evaluator = FractionEvaluator {
                main,
                preprocessed,
                next_column: 0,
                row,
                fractions: Vec::new(),
                batching: Vec::new(),
            };
            eval.evaluate(evaluator).batch_sums()
        })
        .collect();
    let mut logup = LogupTraceGenerator::new(log_size);
    for i in 0..batches[0].len() {
        let mut column = logup.new_col();
        for (row, batches) in batches.iter().enumerate() {
            column.write_frac(row, batches[i].numerator, batches[i].denominator);
        }
        column.finalize_col();
    }
    logup.finalize_last()
}
