//! Where one proof's time goes: proves `tests/fixtures/mixed.wat` at about `2^k` steps once to
//! warm up (the shared preprocessed tree, allocator), then again with stwo's tracing spans
//! printed as they close (`time.busy` per span), then the proof's size.
//!
//! `cargo run --release -p obelysk-benches --example proof_profile -- 10 [96|98]` (the
//! security preset, 96 by default).

use std::time::Instant;

use obelysk_air::security::SecurityLevel;
use obelysk_benches::mixed;
use tracing_subscriber::fmt::format::FmtSpan;

fn main() {
    let log_steps: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let program = obelysk_vm::lower::lower(&mixed::wasm()).unwrap();
    let input = mixed::input(&program, log_steps);
    let level = match std::env::args().nth(2).as_deref() {
        None | Some("96") => SecurityLevel::Bits96,
        Some("98") => SecurityLevel::Bits98,
        Some(other) => panic!("no {other}-bit preset: 96 or 98"),
    };
    let prove = || {
        let started = Instant::now();
        let (_, file) =
            obelysk_prover::prove_program(&program, &input, level, u64::MAX, &mut |_| {}).unwrap();
        (file, started.elapsed())
    };
    let (_, warm) = prove();
    eprintln!("warm-up proof: {:.1} ms", warm.as_secs_f64() * 1e3);
    tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let (file, elapsed) = prove();
    let started = Instant::now();
    obelysk_air::api::verify_program(&program, &file, level.bits()).unwrap();
    eprintln!(
        "2^{log_steps}: {} steps, proof {:.1} ms, {} bytes, verify {:.1} ms",
        file.statement.steps,
        elapsed.as_secs_f64() * 1e3,
        file.to_bytes().len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let body = file.decode_body().unwrap();
    let sizes = body.stark.size_breakdown_estimate();
    let config = body.config;
    let rows: Vec<String> = obelysk_air::components::Kind::ALL
        .iter()
        .map(|&k| format!("{} 2^{}", k.name(), body.claim.log_size(k)))
        .collect();
    eprintln!("rows per component: {}", rows.join(", "));
    let per_tree: Vec<usize> = body.stark.sampled_values.iter().map(|t| t.len()).collect();
    eprintln!("columns per tree (preprocessed, main, interaction, composition): {per_tree:?}");
    eprintln!(
        "proof bytes by part (stwo's estimate): queried values {}, trace Merkle paths {}, FRI \
         values {}, FRI Merkle paths {}, OODS samples {}; {} queries at blowup 2^{}",
        sizes.queries_values,
        sizes.trace_decommitments,
        sizes.fri_samples,
        sizes.fri_decommitments,
        sizes.oods_samples,
        config.fri_config.n_queries,
        config.fri_config.log_blowup_factor
    );
}
