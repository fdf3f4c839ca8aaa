//! `obelysk_prover::constraints::SimdComponent` against stwo's own SIMD evaluator: for every VM
//! component, on random traces, both accumulate the same constraint quotients, in every
//! evaluation mode stwo chooses, for traces smaller and larger than one very-packed row.

use obelysk_air::components::{Kind, VmEval};
use obelysk_air::relations::Relations;
use obelysk_prover::constraints::SimdComponent;
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
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, RelationEntry, TraceLocationAllocator,
};

/// xorshift: reproducible random field elements.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn m31(&mut self) -> BaseField {
        BaseField::from((self.next() >> 33) as u32 % 0x7fff_ffff)
    }

    fn qm31(&mut self) -> SecureField {
        SecureField::from_m31_array(std::array::from_fn(|_| self.m31()))
    }
}

/// Random columns for every column `component` reads, committed on a domain `2^log_expansion`
/// times its constraint evaluation domain.
fn random_trace<E: FrameworkEval>(
    component: &FrameworkComponent<E>,
    log_expansion: u32,
    rng: &mut Rng,
) -> TreeVec<Vec<Poly<SimdBackend>>> {
    let log_size = component.log_size();
    let commit_domain =
        CanonicCoset::new(component.max_constraint_log_degree_bound() + log_expansion)
            .circle_domain();
    let twiddles = SimdBackend::precompute_twiddles(commit_domain.half_coset);
    let mut random_poly = || {
        let values: BaseColumn = (0..1 << log_size).map(|_| rng.m31()).collect();
        let coeffs = CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
            CanonicCoset::new(log_size).circle_domain(),
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

fn coefficients(accumulator: DomainEvaluationAccumulator<SimdBackend>) -> Vec<Vec<BaseField>> {
    let twiddles = SimdBackend::precompute_twiddles(
        CanonicCoset::new(accumulator.log_size() + 1)
            .circle_domain()
            .half_coset,
    );
    accumulator
        .finalize(&twiddles)
        .0
        .iter()
        .map(|c| c.coeffs.to_cpu())
        .collect()
}

/// Accumulates `component`'s quotients with stwo's evaluator and with ours, on one random
/// trace, and asserts they are equal (and not all zero).
fn assert_same_quotients<E: FrameworkEval + Sync>(
    ours: &SimdComponent<E>,
    mode: EvaluationMode,
    rng: &mut Rng,
    what: &str,
) {
    let stwo = &ours.0;
    let log_expansion = match mode {
        EvaluationMode::SubDomain { log_expansion } => log_expansion,
        EvaluationMode::ExtendToEvalDomain => 1,
    };
    let polys = random_trace(stwo, log_expansion, rng);
    let trace = Trace {
        polys: polys.as_ref().map(|tree| tree.iter().collect()),
    };
    let n_constraints = stwo::core::air::Component::n_constraints(stwo);
    let random_coeff = rng.qm31();
    let accumulator = || {
        DomainEvaluationAccumulator::<SimdBackend>::new(
            random_coeff,
            stwo::core::air::Component::max_constraint_log_degree_bound(stwo),
            n_constraints,
            mode,
        )
    };
    let mut by_stwo = accumulator();
    stwo.evaluate_constraint_quotients_on_domain(&trace, &mut by_stwo);
    let mut by_ours = accumulator();
    ours.evaluate_constraint_quotients_on_domain(&trace, &mut by_ours);
    let by_stwo = coefficients(by_stwo);
    assert!(by_stwo.iter().flatten().any(|c| c.0 != 0));
    assert_eq!(coefficients(by_ours), by_stwo, "{what}, {mode:?}");
}

const MODES: [EvaluationMode; 3] = [
    EvaluationMode::SubDomain { log_expansion: 0 },
    EvaluationMode::SubDomain { log_expansion: 1 },
    EvaluationMode::ExtendToEvalDomain,
];

/// LogUp batches of one, two and three fractions (the VM's components batch in pairs).
#[derive(Clone)]
struct Batches {
    log_size: u32,
    rel: Relations,
}

impl FrameworkEval for Batches {
    fn log_size(&self) -> u32 {
        self.log_size
    }

    /// A batch of three fractions makes a degree-4 constraint.
    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + 2
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let [a, b] = std::array::from_fn(|_| eval.next_trace_mask());
        let values = [
            a.clone(),
            b.clone(),
            a.clone() + b.clone(),
            a.clone() * b.clone(),
            b.clone(),
            a,
        ];
        for v in values {
            eval.add_to_relation(RelationEntry::new(
                &self.rel.range16,
                E::EF::from(b.clone()),
                &[v],
            ));
        }
        eval.finalize_logup_batched(&vec![0, 1, 1, 2, 2, 2]);
        eval
    }
}

#[test]
fn batches_of_any_size_accumulate_what_stwo_accumulates() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(rng.next());
    let rel = Relations::draw(&mut channel);
    for mode in MODES {
        for log_size in [4, 6] {
            let ours = SimdComponent(FrameworkComponent::new(
                &mut TraceLocationAllocator::default(),
                Batches {
                    log_size,
                    rel: rel.clone(),
                },
                rng.qm31(),
            ));
            assert_same_quotients(&ours, mode, &mut rng, &format!("2^{log_size} rows"));
        }
    }
}

#[test]
fn every_component_accumulates_what_stwo_accumulates() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(rng.next());
    let rel = Relations::draw(&mut channel);
    for mode in MODES {
        // 2^4 rows: one packed vector per coset of the trace domain; 2^6: several.
        for log_size in [4, 6] {
            for kind in Kind::ALL {
                let eval = VmEval {
                    kind,
                    log_size,
                    rel: rel.clone(),
                };
                let ours = SimdComponent(FrameworkComponent::new(
                    &mut TraceLocationAllocator::default(),
                    eval,
                    rng.qm31(),
                ));
                let what = format!("{} at 2^{log_size} rows", kind.name());
                assert_same_quotients(&ours, mode, &mut rng, &what);
            }
        }
    }
}
