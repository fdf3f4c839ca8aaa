//! LogUp interaction traces, derived from the AIR itself.
//!
//! [`interaction_trace`] runs a component's own `evaluate` over each packed row of its main
//! trace with an evaluator that records the LogUp fractions instead of checking constraints,
//! then writes one interaction column per batch of fractions, batched as the component's
//! `finalize_logup*` call says. The prover therefore never restates a component's lookups or
//! their batching: what it commits is, by construction, what the verifier checks.

use std::collections::HashMap;
use std::ops::Mul;

use num_traits::Zero;
use stwo::core::Fraction;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::{SECURE_EXTENSION_DEGREE, SecureField};
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::Column as _;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::m31::{LOG_N_LANES, PackedM31};
use stwo::prover::backend::simd::prefix_sum::inclusive_prefix_sum;
use stwo::prover::backend::simd::qm31::{PackedSecureField, batch_inverse_packed_qm31};
use stwo::prover::poly::circle::CircleEvaluation;
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkEval};

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
        self.set_batching(|i| batching[i]);
    }

    // The batchings of stwo's own `finalize_logup` and `finalize_logup_in_pairs`.
    fn finalize_logup(&mut self) {
        self.set_batching(|i| i);
    }

    fn finalize_logup_in_pairs(&mut self) {
        self.set_batching(|i| i / 2);
    }
}

impl FractionEvaluator<'_> {
    fn set_batching(&mut self, batch_of: impl Fn(usize) -> usize) {
        self.batching.clear();
        self.batching
            .extend((0..self.fractions.len()).map(batch_of));
    }

    /// Writes the sum of each batch's fractions into `sums`, in batch order (the batches are
    /// `0..n`, as stwo requires), and empties the row's buffers for the next row.
    fn batch_sums(
        &mut self,
        sums: &mut Vec<Option<Fraction<PackedSecureField, PackedSecureField>>>,
    ) {
        let batches = self.batching.iter().max().map_or(0, |&last| last + 1);
        sums.clear();
        sums.resize(batches, None);
        for (fraction, &batch) in self.fractions.iter().zip(&self.batching) {
            sums[batch] = Some(match sums[batch].take() {
                Some(sum) => sum + *fraction,
                None => *fraction,
            });
        }
        assert!(
            sums.iter().all(Option::is_some),
            "stwo requires every batch in 0..n"
        );
        self.fractions.clear();
        self.batching.clear();
    }
}

/// Packed rows per parallel task: each task inverts its rows' denominators in one batch.
const CHUNK_PACKED_ROWS: usize = 64;

/// The interaction trace of the component `eval` over its `main` columns, and its claimed sum.
///
/// The layout is stwo's `LogupTraceGenerator`'s: column `i` (four base columns) holds, per
/// row, the running sum of batches `0..=i`; the last column is then shifted by
/// `claimed_sum / 2^log_size` and prefix-summed over the rows. Rows are evaluated in
/// parallel chunks that write straight into the output columns, so no per-row fractions are
/// kept.
pub fn interaction_trace<E: FrameworkEval + Sync>(
    eval: &E,
    main: &[Column],
    preprocessed: &Preprocessed<'_>,
) -> (Vec<Column>, SecureField) {
    use rayon::prelude::*;
    let log_size = eval.log_size();
    let packed_rows = 1usize << (log_size - LOG_N_LANES);
    let evaluator = |row, fractions, batching| FractionEvaluator {
        main,
        preprocessed,
        next_column: 0,
        row,
        fractions,
        batching,
    };
    let mut sums = Vec::new();
    eval.evaluate(evaluator(0, Vec::new(), Vec::new()))
        .batch_sums(&mut sums);
    let batches = sums.len();
    assert!(batches > 0, "every VM component has a LogUp fraction");

    let mut coordinates: Vec<BaseColumn> = (0..batches * SECURE_EXTENSION_DEGREE)
        .map(|_| BaseColumn::zeros(1 << log_size))
        .collect();
    let chunk = CHUNK_PACKED_ROWS.min(packed_rows);
    let mut tasks: Vec<Vec<&mut [PackedM31]>> = (0..packed_rows / chunk)
        .map(|_| Vec::with_capacity(coordinates.len()))
        .collect();
    for column in &mut coordinates {
        for (task, slice) in tasks.iter_mut().zip(column.data.chunks_mut(chunk)) {
            task.push(slice);
        }
    }
    tasks
        .into_par_iter()
        .enumerate()
        .for_each(|(task, mut out)| {
            let first_row = task * chunk;
            let mut numerators = Vec::with_capacity(chunk * batches);
            let mut denominators = Vec::with_capacity(chunk * batches);
            let mut sums = Vec::with_capacity(batches);
            let (mut fractions, mut batching) = (Vec::new(), Vec::new());
            for row in first_row..first_row + chunk {
                let mut row_evaluator = eval.evaluate(evaluator(row, fractions, batching));
                row_evaluator.batch_sums(&mut sums);
                (fractions, batching) = (row_evaluator.fractions, row_evaluator.batching);
                assert_eq!(sums.len(), batches, "every row has the same batches");
                for sum in sums.drain(..).flatten() {
                    numerators.push(sum.numerator);
                    denominators.push(sum.denominator);
                }
            }
            let mut inverses = vec![PackedSecureField::zero(); denominators.len()];
            batch_inverse_packed_qm31(&denominators, &mut inverses);
            for (r, (numerators, inverses)) in numerators
                .chunks(batches)
                .zip(inverses.chunks(batches))
                .enumerate()
            {
                let mut running = PackedSecureField::zero();
                for (i, (&n, &inv)) in numerators.iter().zip(inverses).enumerate() {
                    running += n * inv;
                    for (k, value) in running.into_packed_m31s().into_iter().enumerate() {
                        out[i * SECURE_EXTENSION_DEGREE + k][r] = value;
                    }
                }
            }
        });

    // The last column: its total is the claimed sum; shifted so that its prefix sum over the
    // rows ends at the claimed sum, as stwo's verifier expects.
    let last = coordinates.split_off((batches - 1) * SECURE_EXTENSION_DEGREE);
    let coordinate_sums: [M31; SECURE_EXTENSION_DEGREE] = std::array::from_fn(|k| {
        last[k]
            .data
            .iter()
            .copied()
            .sum::<PackedM31>()
            .pointwise_sum()
    });
    let claimed_sum = SecureField::from_m31_array(coordinate_sums);
    let shift = (claimed_sum / M31::from_u32_unchecked(1 << log_size)).to_m31_array();
    coordinates.extend(last.into_iter().zip(shift).map(|(mut column, shift)| {
        let shift = PackedM31::broadcast(shift);
        column.data.iter_mut().for_each(|x| *x -= shift);
        inclusive_prefix_sum(column)
    }));
    let domain = CanonicCoset::new(log_size).circle_domain();
    let columns = coordinates
        .into_iter()
        .map(|column| CircleEvaluation::new(domain, column))
        .collect();
    (columns, claimed_sum)
}
