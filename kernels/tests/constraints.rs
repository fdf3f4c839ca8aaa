//! The constraint compiler against stwo: for stwo's wide-Fibonacci AIR and every Obelysk VM
//! component, the recorded graph (run on the CPU inside stwo's prover flow) accumulates exactly
//! what stwo's `SimdBackend` component prover accumulates, on random traces, in every evaluation
//! mode; and the generated kernel text, compiled as C++ and run row by row, computes the same.

mod common;

use common::{Rng, WideFib, run_kernel_on_host};
use obelysk_air::components::{Kind, VmEval};
use obelysk_air::relations::Relations;
use obelysk_cuda::constraints::interpret::evaluate_domain;
use obelysk_cuda::constraints::reference::{accumulate_quotients, denominator_inverses};
use obelysk_cuda::constraints::{ConstraintKernel, Node};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::TreeVec;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::Column;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, EvaluationMode, Poly, Trace};
use stwo_constraint_framework::{FrameworkComponent, FrameworkEval, TraceLocationAllocator};

/// Random low-degree columns for every column `component` reads, committed on a domain
/// `2^log_expansion` times larger than its constraint evaluation domain.
fn random_trace<E: FrameworkEval>(
    component: &FrameworkComponent<E>,
    log_expansion: u32,
    rng: &mut Rng,
) -> TreeVec<Vec<Poly<SimdBackend>>> {
    let log_size = component.log_size();
    let commit_log_size = component.max_constraint_log_degree_bound() + log_expansion;
    let commit_domain = CanonicCoset::new(commit_log_size).circle_domain();
    let twiddles = SimdBackend::precompute_twiddles(commit_domain.half_coset);
    let random_poly = |rng: &mut Rng| {
        let values: BaseColumn = (0..1 << log_size).map(|_| rng.m31()).collect();
        let coeffs = CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
            CanonicCoset::new(log_size).circle_domain(),
            values,
        )
        .interpolate();
        let evals = coeffs.evaluate_with_twiddles(commit_domain, &twiddles);
        Poly::new(Some(coeffs), evals)
    };
    let n_preprocessed = component
        .preprocessed_column_indices()
        .iter()
        .map(|i| i + 1)
        .max()
        .unwrap_or(0);
    let mut trees = vec![
        (0..n_preprocessed)
            .map(|_| random_poly(rng))
            .collect::<Vec<_>>(),
    ];
    for span in &component.trace_locations()[1..] {
        trees.push((0..span.col_end).map(|_| random_poly(rng)).collect());
    }
    TreeVec::new(trees)
}

fn finalized_coefficients(
    accumulator: DomainEvaluationAccumulator<SimdBackend>,
) -> Vec<Vec<BaseField>> {
    let log_size = accumulator.log_size();
    let twiddles = SimdBackend::precompute_twiddles(
        CanonicCoset::new(log_size + 1).circle_domain().half_coset,
    );
    accumulator
        .finalize(&twiddles)
        .0
        .iter()
        .map(|c| c.coeffs.to_cpu())
        .collect()
}

/// Stwo's SIMD component prover and the compiled graph accumulate the same quotients.
fn assert_matches_stwo<E: FrameworkEval + Sync + Clone>(
    eval: E,
    claimed_sum: SecureField,
    mode: EvaluationMode,
    rng: &mut Rng,
) {
    let component = FrameworkComponent::new(
        &mut TraceLocationAllocator::default(),
        eval.clone(),
        claimed_sum,
    );
    let kernel = ConstraintKernel::new(&eval, claimed_sum);
    assert_eq!(
        kernel.n_constraints(),
        stwo::core::air::Component::n_constraints(&component)
    );

    let log_expansion = match mode {
        EvaluationMode::SubDomain { log_expansion } => log_expansion,
        EvaluationMode::ExtendToEvalDomain => 1,
    };
    let polys = random_trace(&component, log_expansion, rng);
    let trace = Trace {
        polys: polys.as_ref().map(|tree| tree.iter().collect()),
    };
    let eval_log_size = component.max_constraint_log_degree_bound();
    let random_coeff = rng.qm31();
    let accumulator = || {
        DomainEvaluationAccumulator::<SimdBackend>::new(
            random_coeff,
            eval_log_size,
            kernel.n_constraints(),
            mode,
        )
    };

    let mut by_stwo = accumulator();
    component.evaluate_constraint_quotients_on_domain(&trace, &mut by_stwo);
    let mut by_graph = accumulator();
    accumulate_quotients(&component, &kernel, &trace, &mut by_graph);

    let by_stwo = finalized_coefficients(by_stwo);
    assert!(
        by_stwo.iter().flatten().any(|c| c.0 != 0),
        "random traces give non-zero quotients"
    );
    assert_eq!(by_stwo, finalized_coefficients(by_graph), "{mode:?}");
}

fn vm_evals(rng: &mut Rng, log_size: u32) -> Vec<VmEval> {
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(rng.next());
    let rel = Relations::draw(&mut channel);
    Kind::ALL
        .iter()
        .map(|&kind| VmEval {
            kind,
            log_size,
            rel: rel.clone(),
        })
        .collect()
}

#[test]
fn wide_fibonacci_matches_stwo_in_every_mode() {
    let mut rng = Rng::new(1);
    for mode in [
        EvaluationMode::SubDomain { log_expansion: 0 },
        EvaluationMode::SubDomain { log_expansion: 1 },
        EvaluationMode::ExtendToEvalDomain,
    ] {
        // 2^4 rows takes stwo's small-trace CPU path, 2^7 its packed SIMD path.
        for log_size in [4, 7] {
            let claimed_sum = rng.qm31();
            assert_matches_stwo(
                WideFib {
                    log_size,
                    columns: 20,
                },
                claimed_sum,
                mode,
                &mut rng,
            );
        }
    }
}

#[test]
fn every_vm_component_matches_stwo() {
    let mut rng = Rng::new(2);
    for eval in vm_evals(&mut rng, 6) {
        let kind = eval.kind;
        let claimed_sum = rng.qm31();
        eprintln!("component {}", kind.name());
        assert_matches_stwo(
            eval,
            claimed_sum,
            EvaluationMode::SubDomain { log_expansion: 1 },
            &mut rng,
        );
    }
}

#[test]
fn kernel_text_is_stable_across_proofs_and_constants_are_not_in_it() {
    let mut rng = Rng::new(3);
    let first = vm_evals(&mut rng, 6);
    let second = vm_evals(&mut rng, 6);
    for (a, b) in first.iter().zip(&second) {
        let ka = ConstraintKernel::new(a, rng.qm31());
        let kb = ConstraintKernel::new(b, rng.qm31());
        assert_eq!(
            ka.source,
            kb.source,
            "{}: kernel text depends only on the AIR",
            a.kind.name()
        );
        assert_ne!(
            ka.constants(),
            kb.constants(),
            "{}: relation elements differ",
            a.kind.name()
        );
        for c in ka.constants() {
            let [x, ..] = c.to_m31_array();
            assert!(
                !ka.source.contains(&format!(" {}u;", x.0)),
                "constant {c:?} leaked into the text"
            );
        }
    }
}

#[test]
fn shared_subexpressions_are_computed_once() {
    let kernel = ConstraintKernel::new(
        &WideFib {
            log_size: 4,
            columns: 10,
        },
        SecureField::from(0),
    );
    let graph = &kernel.graph;
    // Each column's square is used by two constraints but appears once.
    let squares = graph
        .nodes()
        .iter()
        .filter(|n| matches!(n, Node::Mul(a, b) if a == b))
        .count();
    assert_eq!(squares, 10 - 1, "c[0]..c[8] squared once each");
    assert_eq!(graph.constraints().len(), 8);
}

/// The generated CUDA text, compiled by the host C++ compiler and run one thread at a time,
/// equals the graph interpreter (which the tests above hold equal to stwo).
#[test]
fn generated_kernel_text_computes_the_interpreted_values() {
    let mut rng = Rng::new(4);
    let mut kernels = vec![(
        "wide_fib".to_owned(),
        6,
        ConstraintKernel::new(
            &WideFib {
                log_size: 6,
                columns: 30,
            },
            rng.qm31(),
        ),
    )];
    for eval in vm_evals(&mut rng, 5) {
        let kernel = ConstraintKernel::new(&eval, rng.qm31());
        kernels.push((eval.kind.name().to_owned(), 5, kernel));
    }
    for (name, log_size, kernel) in kernels {
        let eval_log_size = log_size + 1;
        let n_columns: usize = kernel.graph.columns_per_interaction().iter().sum();
        let columns: Vec<Vec<BaseField>> = (0..n_columns)
            .map(|_| (0..1 << eval_log_size).map(|_| rng.m31()).collect())
            .collect();
        let coeffs: Vec<SecureField> = (0..kernel.n_constraints()).map(|_| rng.qm31()).collect();
        let eval_domain = CanonicCoset::new(eval_log_size).circle_domain();
        let denom_inv = denominator_inverses(log_size, eval_domain);

        let mut by_interaction = Vec::new();
        let mut rest = columns.as_slice();
        for &n in kernel.graph.columns_per_interaction() {
            let (head, tail) = rest.split_at(n);
            by_interaction.push(head.iter().map(Vec::as_slice).collect::<Vec<_>>());
            rest = tail;
        }
        let expected = evaluate_domain(
            &kernel.graph,
            &by_interaction,
            log_size,
            eval_log_size,
            &denom_inv,
            &coeffs,
        );
        let actual = run_kernel_on_host(
            &kernel,
            &columns,
            &coeffs,
            &denom_inv,
            log_size,
            eval_log_size,
        );
        assert_eq!(actual, expected, "{name}");
    }
}
