//! The composition polynomial's constraint quotients on the SIMD backend.
//!
//! [`SimdComponent`] wraps a stwo `FrameworkComponent` and evaluates its constraints over the
//! evaluation domain as stwo's own `ComponentProver<SimdBackend>` does (same constraints, same
//! order, same random coefficients, so the same field values and the same proof bytes),
//! without the costs stwo pays on every row:
//! - LogUp: stwo's evaluator groups each row's fractions into fresh hash maps, hash sets and
//!   vectors before it writes the batch constraints; here the fractions go into one buffer
//!   per task, and a pair's constraint `Δ·d1·d2 − n1·d2 − n2·d1` is computed as
//!   `d2·(Δ·d1 − n1) − n2·d1` (three extension products, not four).
//! - Masks at a row offset (the LogUp sum's previous row, `-1`): stwo looks up each of the 32
//!   lanes of a row one by one; here each shifted column is gathered once per component into
//!   a packed column, and a row reads it like any other column.
//!
//! `tests/constraints.rs` holds it to stwo's evaluator for every VM component and for LogUp
//! batches of one, two and three fractions; `round_trip::backends_make_identical_proofs` to
//! the CUDA backend's compiled constraints (the same proof bytes).

use std::ops::Mul;

use num_traits::Zero;
use obelysk_cuda::constraints::reference::{
    denominator_inverses, evaluation_domain, simd_columns_on_domain,
};
use rayon::prelude::*;
use stwo::core::ColumnVec;
use stwo::core::Fraction;
use stwo::core::air::Component;
use stwo::core::air::accumulation::PointEvaluationAccumulator;
use stwo::core::circle::CirclePoint;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::{SECURE_EXTENSION_DEGREE, SecureField};
use stwo::core::pcs::TreeVec;
use stwo::core::utils::bit_reverse_index;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::simd::m31::{LOG_N_LANES, PackedM31};
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo::prover::backend::simd::very_packed_m31::{
    LOG_N_VERY_PACKED_ELEMS, N_VERY_PACKED_ELEMS, Vectorized, VeryPackedBaseField,
    VeryPackedSecureField,
};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, Trace};
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, INTERACTION_TRACE_IDX, InfoEvaluator,
};

/// A framework component whose constraint quotients the SIMD prover evaluates with this
/// module's evaluator (see the module docs). Everything else is the component's own.
pub struct SimdComponent<E: FrameworkEval>(pub FrameworkComponent<E>);

/// Very-packed rows (32 points) per parallel task.
const ROWS_PER_TASK: usize = 32;

/// Packed SIMD vectors per very-packed row.
const VECTORS: usize = N_VERY_PACKED_ELEMS;

impl<E: FrameworkEval> Component for SimdComponent<E> {
    fn n_constraints(&self) -> usize {
        self.0.n_constraints()
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.0.max_constraint_log_degree_bound()
    }

    fn trace_log_degree_bounds(&self) -> TreeVec<ColumnVec<u32>> {
        self.0.trace_log_degree_bounds()
    }

    fn mask_points(
        &self,
        point: CirclePoint<SecureField>,
        max_log_degree_bound: u32,
    ) -> TreeVec<ColumnVec<Vec<CirclePoint<SecureField>>>> {
        self.0.mask_points(point, max_log_degree_bound)
    }

    fn preprocessed_column_indices(&self) -> ColumnVec<usize> {
        Component::preprocessed_column_indices(&self.0)
    }

    fn evaluate_constraint_quotients_at_point(
        &self,
        point: CirclePoint<SecureField>,
        mask: &TreeVec<ColumnVec<Vec<SecureField>>>,
        evaluation_accumulator: &mut PointEvaluationAccumulator,
        max_log_degree_bound: u32,
    ) {
        self.0.evaluate_constraint_quotients_at_point(
            point,
            mask,
            evaluation_accumulator,
            max_log_degree_bound,
        )
    }
}

/// A column of the component: its committed evaluation (offset 0), and for each other row
/// offset the component reads it at, a copy gathered so that row `r` of the copy holds the
/// trace's row `r + offset`.
struct MaskColumn<'a> {
    values: &'a [PackedM31],
    shifted: Vec<(isize, Vec<PackedM31>)>,
}

impl MaskColumn<'_> {
    fn at(&self, offset: isize) -> &[PackedM31] {
        if offset == 0 {
            return self.values;
        }
        let (_, values) = self
            .shifted
            .iter()
            .find(|(o, _)| *o == offset)
            .unwrap_or_else(|| panic!("offset {offset} is not in the component's info"));
        values
    }
}

impl<E: FrameworkEval + Sync> ComponentProver<SimdBackend> for SimdComponent<E> {
    fn evaluate_constraint_quotients_on_domain(
        &self,
        trace: &Trace<'_, SimdBackend>,
        accumulator: &mut DomainEvaluationAccumulator<SimdBackend>,
    ) {
        let component = &self.0;
        let n_constraints = component.n_constraints();
        if n_constraints == 0 {
            return;
        }
        if component.is_disabled() {
            accumulator.skip_coeffs(n_constraints);
            return;
        }
        let eval: &E = component;
        let log_size = eval.log_size();
        let eval_domain = evaluation_domain(
            Component::max_constraint_log_degree_bound(component),
            accumulator.evaluation_mode(),
        );
        let eval_log_size = eval_domain.log_size();
        if log_size < LOG_N_LANES || eval_log_size < LOG_N_LANES + LOG_N_VERY_PACKED_ELEMS {
            // Smaller than one SIMD vector: stwo's own (CPU) evaluation.
            return self
                .0
                .evaluate_constraint_quotients_on_domain(trace, accumulator);
        }

        let _span =
            tracing::info_span!("Constraint point-wise eval", class = "ConstraintEval").entered();
        let evaluations =
            simd_columns_on_domain(component, trace, accumulator.evaluation_mode(), eval_domain);
        let offsets = eval.evaluate(InfoEvaluator::empty()).mask_offsets;

        let columns: Vec<Vec<MaskColumn<'_>>> = evaluations
            .iter()
            .enumerate()
            .map(|(tree, columns)| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| {
                        let wanted = offsets.get(tree).and_then(|t| t.get(i));
                        mask_columns(column, wanted, log_size, eval_log_size)
                    })
                    .collect()
            })
            .collect();
        let denom_inv = denominator_inverses(log_size, eval_domain);

        let [column] = accumulator.columns([(eval_log_size, n_constraints)]);
        let mut coefficients = column.random_coeff_powers;
        // The first constraint takes the last power (the verifier folds `acc·α + c`).
        coefficients.reverse();
        let coefficients: Vec<VeryPackedSecureField> = coefficients
            .into_iter()
            .map(VeryPackedSecureField::broadcast)
            .collect();
        let cumsum_shift = component.claimed_sum() / BaseField::from(1u32 << log_size);
        // Each SIMD vector (16 points) lies in one coset of the trace domain.
        let vectors_per_denominator = log_size - LOG_N_LANES;
        let task = |task: usize, mut out: [&mut [PackedM31]; SECURE_EXTENSION_DEGREE]| {
            let mut fractions = Vec::new();
            for local in 0..out[0].len() / VECTORS {
                let row = task * ROWS_PER_TASK + local;
                let evaluator = eval.evaluate(RowEvaluator {
                    columns: &columns,
                    next_column: [0; 3],
                    row,
                    coefficients: &coefficients,
                    next_constraint: 0,
                    result: VeryPackedSecureField::zero(),
                    fractions,
                    cumsum_shift,
                });
                assert_eq!(evaluator.next_constraint, n_constraints);
                fractions = evaluator.fractions;
                fractions.clear();
                for (v, result) in evaluator.result.0.into_iter().enumerate() {
                    let at = local * VECTORS + v;
                    let vector = row * VECTORS + v;
                    let quotient = result * denom_inv[vector >> vectors_per_denominator];
                    let sum = PackedSecureField::from_packed_m31s(out.each_ref().map(|c| c[at]))
                        + quotient;
                    for (c, value) in out.iter_mut().zip(sum.into_packed_m31s()) {
                        c[at] = value;
                    }
                }
            }
        };
        let packed = 1 << (eval_log_size - LOG_N_LANES);
        let chunk = ROWS_PER_TASK * VECTORS;
        let [c0, c1, c2, c3] = column.col.columns.each_mut().map(|c| &mut c.data[..packed]);
        if packed <= chunk {
            // One task: run it here (a rayon call from outside the pool waits for a worker).
            task(0, [c0, c1, c2, c3]);
        } else {
            c0.par_chunks_mut(chunk)
                .zip(c1.par_chunks_mut(chunk))
                .zip(c2.par_chunks_mut(chunk))
                .zip(c3.par_chunks_mut(chunk))
                .enumerate()
                .for_each(|(i, (((c0, c1), c2), c3))| task(i, [c0, c1, c2, c3]));
        }
    }
}

/// The column, gathered at each non-zero offset its component reads it at (`wanted`: none
/// when the component's info lists none, as for preprocessed columns).
fn mask_columns<'a>(
    column: &'a CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>,
    wanted: Option<&Vec<isize>>,
    log_size: u32,
    eval_log_size: u32,
) -> MaskColumn<'a> {
    let packed = 1 << (eval_log_size - LOG_N_LANES);
    let mut offsets: Vec<isize> = wanted.cloned().unwrap_or_default();
    offsets.retain(|&o| o != 0);
    offsets.sort_unstable();
    offsets.dedup();
    let values = column.values.as_slice();
    let shifted = offsets
        .into_iter()
        .map(|offset| {
            let gather = |p: usize| {
                PackedM31::from_array(std::array::from_fn(|lane| {
                    let i = (p << LOG_N_LANES) + lane;
                    values[shifted_index(i, log_size, eval_log_size, offset)]
                }))
            };
            // Small columns here: a rayon call from outside the pool waits for a worker.
            let gathered: Vec<PackedM31> = if packed <= ROWS_PER_TASK * VECTORS {
                (0..packed).map(gather).collect()
            } else {
                (0..packed).into_par_iter().map(gather).collect()
            };
            (offset, gathered)
        })
        .collect();
    MaskColumn {
        values: &column.values.data[..packed],
        shifted,
    }
}

/// stwo's `offset_bit_reversed_circle_domain_index`: the position, in a bit-reversed
/// evaluation domain of `2^eval_log_size` points, of the trace row `offset` rows from the
/// point at position `i` (a trace of `2^log_size` rows). The half-domains are powers of two,
/// so the wrap is a mask, not stwo's `rem_euclid` (a division per point).
fn shifted_index(i: usize, log_size: u32, eval_log_size: u32, offset: isize) -> usize {
    let natural = bit_reverse_index(i, eval_log_size);
    let half = 1usize << (eval_log_size - 1);
    let step = offset.wrapping_mul(1 << (eval_log_size - log_size - 1)) as usize;
    let shifted = if natural < half {
        natural.wrapping_add(step) & (half - 1)
    } else {
        (natural.wrapping_sub(step) & (half - 1)) + half
    };
    bit_reverse_index(shifted, eval_log_size)
}

/// Evaluates one very-packed row's constraints and folds them with the random coefficients.
struct RowEvaluator<'a> {
    /// Per tree, the component's columns.
    columns: &'a [Vec<MaskColumn<'a>>],
    next_column: [usize; 3],
    row: usize,
    coefficients: &'a [VeryPackedSecureField],
    next_constraint: usize,
    result: VeryPackedSecureField,
    /// The row's LogUp fractions so far (a buffer the task reuses).
    fractions: Vec<Fraction<VeryPackedSecureField, VeryPackedSecureField>>,
    /// `claimed_sum / 2^log_size`, subtracted from every row's total (stwo's LogUp layout).
    cumsum_shift: SecureField,
}

impl EvalAtRow for RowEvaluator<'_> {
    type F = VeryPackedBaseField;
    type EF = VeryPackedSecureField;

    fn next_interaction_mask<const N: usize>(
        &mut self,
        interaction: usize,
        offsets: [isize; N],
    ) -> [Self::F; N] {
        let column = &self.columns[interaction][self.next_column[interaction]];
        self.next_column[interaction] += 1;
        let row = self.row * VECTORS;
        offsets.map(|offset| {
            let values = column.at(offset);
            Vectorized(std::array::from_fn(|v| values[row + v]))
        })
    }

    fn add_constraint<G>(&mut self, constraint: G)
    where
        Self::EF: Mul<G, Output = Self::EF> + From<G>,
    {
        self.result += self.coefficients[self.next_constraint] * constraint;
        self.next_constraint += 1;
    }

    fn combine_ef(values: [Self::F; SECURE_EXTENSION_DEGREE]) -> Self::EF {
        VeryPackedSecureField::from_very_packed_m31s(values)
    }

    fn write_logup_frac(&mut self, fraction: Fraction<Self::EF, Self::EF>) {
        self.fractions.push(fraction);
    }

    /// stwo's `LogupAtRow` constraints: batch `b` of the fractions (all but the last) is
    /// cumulatively summed in interaction column `b`; the last column also carries the
    /// previous row's total and the shift.
    fn finalize_logup_batched(&mut self, batching: &Vec<usize>) {
        assert_eq!(
            batching.len(),
            self.fractions.len(),
            "one batch per fraction"
        );
        self.finalize(|i| batching[i]);
    }

    fn finalize_logup(&mut self) {
        self.finalize(|i| i);
    }

    fn finalize_logup_in_pairs(&mut self) {
        self.finalize(|i| i / 2);
    }
}

impl RowEvaluator<'_> {
    /// The LogUp constraints of the row's fractions, fraction `i` in batch `batch_of(i)` (the
    /// batches are `0..=last`, each non-empty, as stwo requires).
    fn finalize(&mut self, batch_of: impl Fn(usize) -> usize) {
        let fractions = std::mem::take(&mut self.fractions);
        let last = (0..fractions.len())
            .map(&batch_of)
            .max()
            .expect("a LogUp fraction");
        // `Δ = Σ batch` as a polynomial constraint, with the batch's fractions `n_i / d_i`.
        let constraint = |b: usize, delta: VeryPackedSecureField| {
            let mut batch = (0..fractions.len())
                .filter(|&i| batch_of(i) == b)
                .map(|i| fractions[i]);
            let first = batch
                .next()
                .unwrap_or_else(|| panic!("LogUp batch {b} is empty"));
            match (batch.next(), batch.next()) {
                // Δ·d − n.
                (None, _) => delta * first.denominator - first.numerator,
                // Δ·d1·d2 − n1·d2 − n2·d1, as d2·(Δ·d1 − n1) − n2·d1: three products where
                // summing the fractions first takes four.
                (Some(second), None) => {
                    second.denominator * (delta * first.denominator - first.numerator)
                        - second.numerator * first.denominator
                }
                (Some(second), Some(third)) => {
                    let sum = batch.fold(first + second + third, |sum, f| sum + f);
                    delta * sum.denominator - sum.numerator
                }
            }
        };
        let mut previous = VeryPackedSecureField::zero();
        for b in 0..last {
            let [cumsum] = self.next_extension_interaction_mask(INTERACTION_TRACE_IDX, [0]);
            self.add_constraint(constraint(b, cumsum - previous));
            previous = cumsum;
        }
        let [previous_row, cumsum] =
            self.next_extension_interaction_mask(INTERACTION_TRACE_IDX, [-1, 0]);
        let difference = cumsum - previous_row - previous + self.cumsum_shift;
        self.add_constraint(constraint(last, difference));
        self.fractions = fractions;
    }
}

#[cfg(test)]
mod tests {
    use stwo::core::utils::offset_bit_reversed_circle_domain_index;

    use super::shifted_index;

    #[test]
    fn shifted_index_is_stwos() {
        for log_size in 1..8 {
            for eval_log_size in log_size + 1..log_size + 4 {
                for offset in [-3, -1, 1, 2] {
                    for i in 0..1 << eval_log_size {
                        assert_eq!(
                            shifted_index(i, log_size, eval_log_size, offset),
                            offset_bit_reversed_circle_domain_index(
                                i,
                                log_size,
                                eval_log_size,
                                offset
                            ),
                            "row {i} of 2^{eval_log_size}, trace 2^{log_size}, offset {offset}"
                        );
                    }
                }
            }
        }
    }
}
