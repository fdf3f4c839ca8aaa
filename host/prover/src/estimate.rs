//! What a proof will cost before it is made: time and peak memory as a function of the VM's
//! step count, from a linear model ([`CostModel::fit`]).
//!
//! Every proof pays a fixed part (twiddles, the quotients and FRI over the preprocessed
//! columns, the verifier-side lowering; the preprocessed tree itself is committed once per
//! process) and a part proportional to the steps (one main-trace row per step, its
//! interaction columns, the blown-up evaluations). `cargo bench -p obelysk-benches --bench
//! vm_prove` prints the fit on the machine it runs on.

/// A linear cost model: `fixed + per_step · steps`, for time and for memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    /// Time of a proof of (almost) no steps, in ms.
    pub fixed_ms: f64,
    /// Marginal time per step, in ns.
    pub ns_per_step: f64,
    /// Peak memory of a proof of (almost) no steps, in bytes.
    pub fixed_bytes: f64,
    /// Marginal peak memory per step, in bytes.
    pub bytes_per_step: f64,
}

/// The time model of a node's proofs on a 2-core x86_64 machine, `SimdBackend`, 96 bits,
/// LogUp in pairs, coefficients kept, built for the CPU it runs on (`target-cpu=native`): a
/// line through the proof times a node measured in stop 31 on an otherwise idle machine
/// (`cargo test -p obelysk-node --test e2e timing_ -- --nocapture`, the test profile, four
/// runs: 3,517 steps 265–370 ms, 14,017 steps 322–429 ms, 56,017 steps 432–560 ms), fitted on
/// relative error. The bench's in-process proofs run faster (release profile, no sandbox run
/// or store; its fit: about 100 ms + 2,200 ns a step). Memory: the earlier bench fit.
pub const CALIBRATED: CostModel = CostModel {
    fixed_ms: 300.0,
    ns_per_step: 3_400.0,
    fixed_bytes: 256.0 * 1024.0 * 1024.0,
    bytes_per_step: 1_200.0,
};

/// The predicted cost of proving a run of `steps` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub steps: u64,
    /// Rows of the largest main-trace table: `steps` rounded up to a power of two.
    pub trace_rows: u64,
    /// Predicted wall time of execute + trace + commit + prove, alone on the machine, in ms.
    pub prove_ms: u64,
    /// Predicted peak memory of the proof, in bytes.
    pub peak_bytes: u64,
}

impl CostModel {
    /// The prediction for `steps` steps.
    pub fn estimate(&self, steps: u64) -> Estimate {
        let s = steps as f64;
        Estimate {
            steps,
            trace_rows: steps.max(1).next_power_of_two(),
            prove_ms: (self.fixed_ms + self.ns_per_step * s / 1e6).round() as u64,
            peak_bytes: (self.fixed_bytes + self.bytes_per_step * s).round() as u64,
        }
    }

    /// Fit of `fixed + per_step · steps` to `(steps, ms, peak bytes)` samples (what the bench
    /// prints), by least squares on the *relative* error (each sample weighted by `1/y²`):
    /// a prediction is judged by its ratio to the measurement, and a plain least-squares line
    /// is pulled by the largest sizes (whose cost per step grows) far below what small proofs
    /// cost. `None` with fewer than two distinct step counts.
    pub fn fit(samples: &[(u64, f64, f64)]) -> Option<CostModel> {
        let line = |ys: &dyn Fn(&(u64, f64, f64)) -> f64| -> Option<(f64, f64)> {
            let weight = |s: &(u64, f64, f64)| 1.0 / ys(s).max(f64::MIN_POSITIVE).powi(2);
            let total: f64 = samples.iter().map(weight).sum();
            let mean_x = samples.iter().map(|s| weight(s) * s.0 as f64).sum::<f64>() / total;
            let mean_y = samples.iter().map(|s| weight(s) * ys(s)).sum::<f64>() / total;
            let sxx: f64 = samples
                .iter()
                .map(|s| weight(s) * (s.0 as f64 - mean_x).powi(2))
                .sum();
            if sxx == 0.0 || !sxx.is_finite() {
                return None;
            }
            let sxy: f64 = samples
                .iter()
                .map(|s| weight(s) * (s.0 as f64 - mean_x) * (ys(s) - mean_y))
                .sum();
            let slope = sxy / sxx;
            Some((mean_y - slope * mean_x, slope))
        };
        let (fixed_ms, ms_per_step) = line(&|s| s.1)?;
        let (fixed_bytes, bytes_per_step) = line(&|s| s.2)?;
        Some(CostModel {
            fixed_ms: fixed_ms.max(0.0),
            ns_per_step: (ms_per_step * 1e6).max(0.0),
            fixed_bytes: fixed_bytes.max(0.0),
            bytes_per_step: bytes_per_step.max(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_grow_with_steps() {
        let small = CALIBRATED.estimate(1 << 10);
        let large = CALIBRATED.estimate(1 << 20);
        assert!(small.prove_ms < large.prove_ms && small.peak_bytes < large.peak_bytes);
        assert_eq!(
            (small.trace_rows, CALIBRATED.estimate(1025).trace_rows),
            (1024, 2048)
        );
        assert_eq!(CALIBRATED.estimate(0).trace_rows, 1);
    }

    #[test]
    fn fit_recovers_a_line() {
        let model = CostModel {
            fixed_ms: 1000.0,
            ns_per_step: 5000.0,
            fixed_bytes: 1e8,
            bytes_per_step: 1000.0,
        };
        let samples: Vec<_> = [1u64 << 12, 1 << 16, 1 << 20]
            .iter()
            .map(|&s| {
                let e = model.estimate(s);
                (s, e.prove_ms as f64, e.peak_bytes as f64)
            })
            .collect();
        let fitted = CostModel::fit(&samples).unwrap();
        assert!((fitted.fixed_ms - 1000.0).abs() < 1.0, "{fitted:?}");
        assert!((fitted.ns_per_step - 5000.0).abs() < 5.0, "{fitted:?}");
        assert!((fitted.bytes_per_step - 1000.0).abs() < 1.0, "{fitted:?}");
        assert_eq!(CostModel::fit(&samples[..1]), None);
    }
}
