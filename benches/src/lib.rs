//! Shared helpers for Obelysk's criterion benchmarks.

use std::path::PathBuf;

/// A first-party plugin built by `make plugins` (`<target>/plugins/<name>.wasm`).
///
/// Panics with the command to run when the module is missing.
pub fn plugin(name: &str) -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("plugins").join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make plugins` first", path.display()))
}

/// `tests/fixtures/mixed.wat` (loop + calls + branches + recursion + I/O), the program the
/// `vm` benches and `examples/proof_profile` run at a chosen size.
pub mod mixed {
    use obelysk_vm::ir::Program;

    /// The module.
    pub fn wasm() -> Vec<u8> {
        wat::parse_str(include_str!("../../tests/fixtures/mixed.wat")).unwrap()
    }

    /// The input that runs `program` (the lowered module) close to `2^log_steps` steps.
    pub fn input(program: &Program, log_steps: u32) -> Vec<u32> {
        let steps = |n: u32| {
            obelysk_vm::interp::run(program, &[n, 6], u64::MAX)
                .unwrap()
                .steps
                .len() as u64
        };
        let (base, per_iteration) = (steps(0), steps(1) - steps(0));
        vec![
            ((1u64 << log_steps).saturating_sub(base) / per_iteration) as u32,
            6,
        ]
    }

    /// `count` inputs that run exactly as `input` does (it followed by one more word, which
    /// `main` never reads), each a different statement with its own proof-of-work draw.
    pub fn statements(input: &[u32], count: u32) -> Vec<Vec<u32>> {
        (0..count)
            .map(|extra| input.iter().copied().chain([extra]).collect())
            .collect()
    }
}

/// stwo's wide-Fibonacci AIR (`c[i+2] = c[i]² + c[i+1]²` across the columns of a row), the
/// common yardstick of STARK provers, proven with Obelysk's transcript on any backend.
pub mod wide_fib {
    use obelysk_air::security::SecurityLevel;
    use obelysk_prover::Prover;
    use obelysk_prover::vm::ProverBackend;
    use stwo::core::fields::m31::BaseField;
    use stwo::core::poly::circle::CanonicCoset;
    use stwo::prover::ComponentProver;
    use stwo::prover::backend::simd::column::BaseColumn;
    use stwo::prover::poly::circle::CircleEvaluation;
    use stwo_constraint_framework::{
        EvalAtRow, FrameworkComponent, FrameworkEval, TraceLocationAllocator,
    };

    /// The AIR over `columns` columns of `2^log_size` rows.
    #[derive(Clone)]
    pub struct WideFib {
        pub log_size: u32,
        pub columns: usize,
    }

    impl FrameworkEval for WideFib {
        fn log_size(&self) -> u32 {
            self.log_size
        }
        fn max_constraint_log_degree_bound(&self) -> u32 {
            self.log_size + 1
        }
        fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
            let mut a = eval.next_trace_mask();
            let mut b = eval.next_trace_mask();
            for _ in 2..self.columns {
                let c = eval.next_trace_mask();
                eval.add_constraint(c.clone() - (a.clone() * a + b.clone() * b.clone()));
                a = b;
                b = c;
            }
            eval
        }
    }

    /// The trace: row `r` starts `(1, r)`.
    pub fn trace(log_size: u32, n_columns: usize) -> Vec<obelysk_prover::Column> {
        let rows = 1usize << log_size;
        let mut columns: Vec<Vec<BaseField>> =
            (0..n_columns).map(|_| Vec::with_capacity(rows)).collect();
        for row in 0..rows {
            let (mut a, mut b) = (BaseField::from(1), BaseField::from(row as u32));
            columns[0].push(a);
            columns[1].push(b);
            for column in columns.iter_mut().skip(2) {
                let c = a * a + b * b;
                column.push(c);
                (a, b) = (b, c);
            }
        }
        columns
            .into_iter()
            .map(|values| {
                let values: BaseColumn = values.into_iter().collect();
                CircleEvaluation::new(CanonicCoset::new(log_size).circle_domain(), values)
            })
            .collect()
    }

    /// Commits `trace` (built on the CPU, moved to `B`) and proves it on backend `B`.
    pub fn prove<B: ProverBackend>(
        level: SecurityLevel,
        log_size: u32,
        trace: &[obelysk_prover::Column],
    ) -> obelysk_air::verifier::Proof
    where
        obelysk_air::components::VmComponent: ComponentProver<B>,
        FrameworkComponent<WideFib>: ComponentProver<B>,
    {
        let config = level.pcs_config();
        let twiddles = Prover::<B>::twiddles(config, log_size);
        let mut prover = Prover::<B>::new(config, &twiddles);
        // The VM prover's settings, so the two compare like for like.
        if B::KEEPS_COEFFICIENTS {
            prover.keep_coefficients();
        }
        prover.commit(Vec::new());
        prover.commit(trace.iter().cloned().map(B::from_simd).collect());
        let component = FrameworkComponent::new(
            &mut TraceLocationAllocator::default(),
            WideFib {
                log_size,
                columns: trace.len(),
            },
            Default::default(),
        );
        prover.prove(&[&component]).expect("wide-Fibonacci proves")
    }
}

/// Time per stwo tracing span (per phase of a proof), for breakdowns printed beside the
/// criterion numbers. Spans entered on several threads at once add up their threads' time.
/// On a GPU, launches are asynchronous: a phase is charged when the host waits for its work.
pub mod phases {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use tracing::Subscriber;
    use tracing::span::Id;
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::registry::LookupSpan;

    /// Totals per span name since the last [`PhaseTimes::take`].
    #[derive(Default)]
    pub struct PhaseTimes {
        totals: Mutex<BTreeMap<&'static str, Duration>>,
    }

    struct Entered(Instant);

    impl PhaseTimes {
        /// The totals so far, resetting them.
        pub fn take(&self) -> BTreeMap<&'static str, Duration> {
            std::mem::take(&mut *self.totals.lock().unwrap_or_else(|e| e.into_inner()))
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for &'static PhaseTimes {
        fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Entered(Instant::now()));
            }
        }

        fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id)
                && let Some(Entered(start)) = span.extensions_mut().remove::<Entered>()
            {
                let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
                *totals.entry(span.name()).or_default() += start.elapsed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use stwo::prover::backend::simd::SimdBackend;
    use tracing_subscriber::prelude::*;

    use super::phases::PhaseTimes;
    use super::wide_fib;

    /// The phase breakdown the GPU benchmark prints sees stwo's spans of a real proof.
    #[test]
    fn phase_times_see_a_proofs_phases() {
        let phases: &'static PhaseTimes = Box::leak(Box::default());
        let subscriber = tracing_subscriber::registry()
            .with(phases.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
        let level = obelysk_air::security::SecurityLevel::Bits96;
        tracing::subscriber::with_default(subscriber, || {
            wide_fib::prove::<SimdBackend>(level, 8, &wide_fib::trace(8, 10));
        });
        let totals = phases.take();
        for phase in [
            "Merkle",
            "Compute FRI quotients",
            "Constraint point-wise eval",
        ] {
            assert!(
                totals.contains_key(phase),
                "{phase} missing from {totals:?}"
            );
        }
        assert!(phases.take().is_empty(), "take resets");
    }
}
