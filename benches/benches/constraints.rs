//! Constraint quotients of one VM component, `obelysk_prover::constraints::SimdComponent`
//! against stwo's own SIMD evaluator, in one run, on the same random trace of 2^16 rows (2^17
//! evaluation points): `constraints/<component>/{obelysk,stwo}`. Throughput is in
//! evaluation points.
//!
//! `cargo bench -p obelysk-benches --bench constraints`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obelysk_air::components::{Kind, VmEval};
use obelysk_air::relations::Relations;
use obelysk_prover::constraints::SimdComponent;
use stwo::core::air::Component;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::TreeVec;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps};
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, EvaluationMode, Poly, Trace};
use stwo_constraint_framework::{FrameworkComponent, TraceLocationAllocator};

const LOG_ROWS: u32 = 16;

/// Random columns for every column the component reads, committed at blowup 2.
fn random_trace(component: &FrameworkComponent<VmEval>) -> TreeVec<Vec<Poly<SimdBackend>>> {
    let commit_domain = CanonicCoset::new(LOG_ROWS + 1).circle_domain();
    let twiddles = SimdBackend::precompute_twiddles(commit_domain.half_coset);
    let mut state = 1u32;
    let mut random_poly = || {
        let values: BaseColumn = (0..1 << LOG_ROWS)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                BaseField::from(state >> 1)
            })
            .collect();
        let coeffs = CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
            CanonicCoset::new(LOG_ROWS).circle_domain(),
            values,
        )
        .interpolate();
        let evals = coeffs.evaluate_with_twiddles(commit_domain, &twiddles);
        Poly::new(Some(coeffs), evals)
    };
    let preprocessed = component
        .preprocessed_column_indices()
        .iter()
        .map(|i| i + 1)
        .max()
        .unwrap_or(0);
    let mut trees = vec![(0..preprocessed).map(|_| random_poly()).collect::<Vec<_>>()];
    for span in &component.trace_locations()[1..] {
        trees.push((0..span.col_end).map(|_| random_poly()).collect());
    }
    TreeVec::new(trees)
}

fn constraints(c: &mut Criterion) {
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(7);
    let rel = Relations::draw(&mut channel);
    let mut group = c.benchmark_group("constraints");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1 << (LOG_ROWS + 1)));
    for kind in [
        Kind::Range16,
        Kind::Bytes,
        Kind::Copy,
        Kind::AddSub,
        Kind::Cmp,
    ] {
        let eval = VmEval {
            kind,
            log_size: LOG_ROWS,
            rel: rel.clone(),
        };
        let ours = SimdComponent(FrameworkComponent::new(
            &mut TraceLocationAllocator::default(),
            eval,
            SecureField::from(3u32),
        ));
        let stwo = &ours.0;
        let polys = random_trace(stwo);
        let trace = Trace {
            polys: polys.as_ref().map(|tree| tree.iter().collect()),
        };
        let accumulator = || {
            DomainEvaluationAccumulator::<SimdBackend>::new(
                SecureField::from(5u32),
                LOG_ROWS + 1,
                stwo.n_constraints(),
                EvaluationMode::SubDomain { log_expansion: 0 },
            )
        };
        let evaluators: [(&str, &dyn ComponentProver<SimdBackend>); 2] =
            [("obelysk", &ours), ("stwo", stwo)];
        for (name, evaluator) in evaluators {
            group.bench_function(BenchmarkId::new(kind.name(), name), |b| {
                b.iter_batched(
                    accumulator,
                    |mut acc| {
                        evaluator.evaluate_constraint_quotients_on_domain(&trace, &mut acc);
                        acc
                    },
                    criterion::BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, constraints);
criterion_main!(benches);
