//! What a proof's proof of work costs: grinds `N` different channel states at `BITS` bits on
//! `SimdBackend` (as a proof does before its queries) and prints the spread of the times.
//! A draw is a lottery, so one proof's grind says little; this is the distribution.
//!
//! `cargo run --release -p obelysk-benches --example grind_cost -- BITS [N]` (N = 100).

use std::time::Instant;

use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::proof_of_work::GrindOps;
use stwo::prover::backend::simd::SimdBackend;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let (Some(Ok(bits)), Ok(draws)) = (args.next(), args.next().unwrap_or(Ok(100))) else {
        eprintln!("usage: grind_cost BITS [DRAWS]");
        std::process::exit(2);
    };
    let draws = draws.max(1) as usize;
    let mut ms: Vec<f64> = (0..draws)
        .map(|i| {
            let mut channel = Blake2sChannel::default();
            channel.mix_u64(((bits as u64) << 32) | i as u64);
            let started = Instant::now();
            std::hint::black_box(<SimdBackend as GrindOps<Blake2sChannel>>::grind(
                &channel, bits,
            ));
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let mean = ms.iter().sum::<f64>() / draws as f64;
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[(q * (draws - 1) as f64).round() as usize];
    println!(
        "{bits} bits, {draws} draws: mean {mean:.1} ms, p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
        at(0.5),
        at(0.9),
        at(0.99),
        ms[draws - 1]
    );
}
