//! The compiled constraints run on the CPU inside stwo's prover flow: what
//! `ComponentProver<SimdBackend>::evaluate_constraint_quotients_on_domain` computes, but from the
//! recorded [`Graph`](super::Graph). It fixes the host-side contract the CUDA launch follows (which columns,
//! which domain, which coefficients in which order) and lets tests hold a compiled component
//! equal to stwo's own evaluation.

use std::borrow::Cow;

use stwo::core::constraints::coset_vanishing;
use stwo::core::fields::m31::BaseField;
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::core::utils::bit_reverse;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Backend, Column, CpuBackend};
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::{DomainEvaluationAccumulator, EvaluationMode, Trace};
use stwo_constraint_framework::{FrameworkComponent, FrameworkEval, PREPROCESSED_TRACE_IDX};

use super::ConstraintKernel;
use super::interpret::evaluate_domain;

/// The domain a component's constraints are evaluated on, as stwo's provers choose it.
pub fn evaluation_domain(
    max_constraint_log_degree_bound: u32,
    mode: EvaluationMode,
) -> CircleDomain {
    match mode {
        EvaluationMode::SubDomain { log_expansion } => {
            CanonicCoset::new(max_constraint_log_degree_bound + log_expansion)
                .circle_domain()
                .split(log_expansion)
                .0
        }
        EvaluationMode::ExtendToEvalDomain => {
            CanonicCoset::new(max_constraint_log_degree_bound).circle_domain()
        }
    }
}

/// `1 / Z_trace(p)` for the first `2^(eval - trace)` points of `eval_domain`, bit-reversed: row
/// `r` of the evaluation domain uses entry `r >> trace_log_size`.
pub fn denominator_inverses(trace_log_size: u32, eval_domain: CircleDomain) -> Vec<BaseField> {
    let trace_coset = CanonicCoset::new(trace_log_size).coset();
    let mut inverses: Vec<BaseField> = (0..1 << (eval_domain.log_size() - trace_log_size))
        .map(|i| coset_vanishing(trace_coset, eval_domain.at(i)).inverse())
        .collect();
    bit_reverse(&mut inverses);
    inverses
}

/// The component's columns in the order the kernel numbers them: interaction by interaction,
/// preprocessed columns through the component's indices into the shared preprocessed tree.
pub fn kernel_columns<'t, E: FrameworkEval, B: Backend>(
    component: &FrameworkComponent<E>,
    trace: &Trace<'t, B>,
) -> Vec<Vec<&'t stwo::prover::Poly<B>>> {
    component
        .trace_locations()
        .iter()
        .enumerate()
        .map(|(interaction, span)| {
            if interaction == PREPROCESSED_TRACE_IDX {
                component
                    .preprocessed_column_indices()
                    .iter()
                    .map(|&i| trace.polys[PREPROCESSED_TRACE_IDX][i])
                    .collect()
            } else {
                trace.polys[span.tree_index][span.col_start..span.col_end].to_vec()
            }
        })
        .collect()
}

/// [`kernel_columns`] on (at least) `eval_domain`: in `SubDomain` mode the committed
/// evaluations themselves (their first `2^eval` values, in bit-reversed order, are the
/// evaluation domain), otherwise each column extended to it, as stwo's provers do.
pub fn simd_columns_on_domain<'t, E: FrameworkEval>(
    component: &FrameworkComponent<E>,
    trace: &Trace<'t, SimdBackend>,
    mode: EvaluationMode,
    eval_domain: CircleDomain,
) -> Vec<Vec<Cow<'t, CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>>>> {
    let polys = kernel_columns(component, trace);
    match mode {
        EvaluationMode::SubDomain { .. } => polys
            .iter()
            .map(|tree| tree.iter().map(|p| Cow::Borrowed(&p.evals)).collect())
            .collect(),
        EvaluationMode::ExtendToEvalDomain => {
            let twiddles = SimdBackend::precompute_twiddles(eval_domain.half_coset);
            polys
                .iter()
                .map(|tree| {
                    tree.iter()
                        .map(|p| Cow::Owned(p.get_evaluation_on_domain(eval_domain, &twiddles)))
                        .collect()
                })
                .collect()
        }
    }
}

/// Adds `component`'s constraint quotients to `accumulator`, evaluating `kernel`'s graph on the
/// CPU. Equal, element for element, to stwo's `SimdBackend` component prover.
pub fn accumulate_quotients<E: FrameworkEval>(
    component: &FrameworkComponent<E>,
    kernel: &ConstraintKernel,
    trace: &Trace<'_, SimdBackend>,
    accumulator: &mut DomainEvaluationAccumulator<SimdBackend>,
) {
    let n_constraints = kernel.n_constraints();
    if n_constraints == 0 {
        return;
    }
    if component.is_disabled() {
        accumulator.skip_coeffs(n_constraints);
        return;
    }
    let mode = accumulator.evaluation_mode();
    let eval_domain = evaluation_domain(component.max_constraint_log_degree_bound(), mode);
    let trace_log_size = component.log_size();

    let columns = simd_columns_on_domain(component, trace, mode, eval_domain);
    let host: Vec<Vec<Vec<BaseField>>> = columns
        .iter()
        .map(|tree| tree.iter().map(|c| c.values.to_cpu()).collect())
        .collect();
    let host_refs: Vec<Vec<&[BaseField]>> = host
        .iter()
        .map(|tree| tree.iter().map(Vec::as_slice).collect())
        .collect();

    let [mut column] = accumulator.columns([(eval_domain.log_size(), n_constraints)]);
    // The first constraint takes the last power (the verifier folds `acc·α + c`).
    column.random_coeff_powers.reverse();
    let quotients = evaluate_domain(
        &kernel.graph,
        &host_refs,
        trace_log_size,
        eval_domain.log_size(),
        &denominator_inverses(trace_log_size, eval_domain),
        &column.random_coeff_powers,
    );
    let mut sum: SecureColumnByCoords<CpuBackend> = column.col.to_cpu();
    for (row, q) in quotients.into_iter().enumerate() {
        sum.set(row, sum.at(row) + q);
    }
    *column.col = SecureColumnByCoords::from_cpu(sum);
}
