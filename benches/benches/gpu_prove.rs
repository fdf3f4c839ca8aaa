//! CUDA against SIMD, one run, same host: full wide-Fibonacci proofs (100 columns) at 2^16,
//! 2^18, 2^20, 2^22 rows on `CudaBackend` (GPU 0) and on `SimdBackend` (all host cores), the
//! ratio per size, per-phase times (stwo's spans), and the throughput of many small proofs
//! (2^12 rows) with several in flight.
//!
//! `cargo bench -p obelysk-benches --bench gpu_prove`. Sizes: `OBELYSK_BENCH_LOG_SIZES=16,18`.
//! Without a CUDA device it prints why and measures nothing (a skip is not a result).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obelysk_air::security::SecurityLevel;
use obelysk_benches::phases::PhaseTimes;
use obelysk_benches::wide_fib;
use obelysk_cuda::CudaBackend;
use obelysk_cuda::device::{self, CudaDevice};
use stwo::prover::backend::simd::SimdBackend;
use tracing_subscriber::prelude::*;

const LEVEL: SecurityLevel = SecurityLevel::Bits96;
const COLUMNS: usize = 100;

fn log_sizes() -> Vec<u32> {
    std::env::var("OBELYSK_BENCH_LOG_SIZES")
        .ok()
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().parse().expect("a log size"))
                .collect()
        })
        .unwrap_or_else(|| vec![16, 18, 20, 22])
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn cuda_vs_simd(c: &mut Criterion) {
    let status = obelysk_cuda::detect();
    if !status.available {
        println!(
            "SKIP gpu_prove: {} (nothing measured)",
            status.reason.as_deref().unwrap_or("no GPU")
        );
        return;
    }
    let gpu = CudaDevice::new(0).unwrap_or_else(|e| panic!("GPU 0: {e}"));
    println!("device: {:?}", status.devices[0]);
    device::set_current(Arc::new(gpu));

    // Per-phase times of one proof per backend and size (stwo's INFO spans).
    let phases: &'static PhaseTimes = Box::leak(Box::default());
    let _ = tracing_subscriber::registry()
        .with(phases.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .try_init();

    let mut group = c.benchmark_group("wide_fib_100/prove");
    group.sample_size(10);
    for log_size in log_sizes() {
        let trace = wide_fib::trace(log_size, COLUMNS);
        // Warm-up (kernel compilation, twiddles) and the byte-identity the numbers rely on.
        let ours = wide_fib::prove::<CudaBackend>(LEVEL, log_size, &trace);
        let simd = wide_fib::prove::<SimdBackend>(LEVEL, log_size, &trace);
        assert_eq!(
            postcard::to_allocvec(&ours).unwrap(),
            postcard::to_allocvec(&simd).unwrap(),
            "CUDA and SIMD proofs differ at 2^{log_size}"
        );
        let t_cuda = time(3, || {
            drop(wide_fib::prove::<CudaBackend>(LEVEL, log_size, &trace))
        });
        let t_simd = time(3, || {
            drop(wide_fib::prove::<SimdBackend>(LEVEL, log_size, &trace))
        });
        println!(
            "wide_fib 2^{log_size} x {COLUMNS}: cuda {:.1} ms, simd {:.1} ms, simd/cuda {:.2}x",
            t_cuda.as_secs_f64() * 1e3,
            t_simd.as_secs_f64() * 1e3,
            t_simd.as_secs_f64() / t_cuda.as_secs_f64()
        );
        group.throughput(Throughput::Elements((COLUMNS << log_size) as u64));
        group.bench_with_input(
            BenchmarkId::new("cuda", format!("2^{log_size}")),
            &trace,
            |b, t| b.iter(|| wide_fib::prove::<CudaBackend>(LEVEL, log_size, t)),
        );
        group.bench_with_input(
            BenchmarkId::new("simd", format!("2^{log_size}")),
            &trace,
            |b, t| b.iter(|| wide_fib::prove::<SimdBackend>(LEVEL, log_size, t)),
        );
    }
    group.finish();

    // Many small proofs, several in flight (threads sharing the device's stream).
    let small = wide_fib::trace(12, COLUMNS);
    for in_flight in [1usize, 4, 8] {
        let proofs = 16;
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..in_flight {
                let small = &small;
                s.spawn(move || {
                    for _ in (t..proofs).step_by(in_flight) {
                        wide_fib::prove::<CudaBackend>(LEVEL, 12, small);
                    }
                });
            }
        });
        let per_s = proofs as f64 / start.elapsed().as_secs_f64();
        println!("wide_fib 2^12 x {COLUMNS}, {in_flight} in flight: {per_s:.1} proofs/s on CUDA");
    }
}

criterion_group!(benches, cuda_vs_simd);
criterion_main!(benches);
