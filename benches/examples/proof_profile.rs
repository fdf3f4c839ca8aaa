//! Where one proof's time goes: proves `tests/fixtures/mixed.wat` at about `2^k` steps once to
//! warm up (the shared preprocessed tree, allocator), then again with stwo's tracing spans
//! printed as they close (`time.busy` per span), then the proof's size by part.
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
    let config = body.config;
    let rows: Vec<String> = obelysk_air::components::Kind::ALL
        .iter()
        .map(|&k| format!("{} 2^{}", k.name(), body.claim.log_size(k)))
        .collect();
    eprintln!("rows per component: {}", rows.join(", "));
    let per_tree: Vec<usize> = body.stark.sampled_values.iter().map(|t| t.len()).collect();
    eprintln!("columns per tree (preprocessed, main, interaction, composition): {per_tree:?}");
    let proof = &body.stark.0;
    let values: Vec<usize> = proof.queried_values.iter().map(encoded).collect();
    let paths: Vec<usize> = proof.decommitments.iter().map(encoded).collect();
    eprintln!(
        "proof bytes by part: queried values per tree {values:?}, Merkle paths per tree \
         {paths:?}, out-of-domain samples {}, FRI first layer {}, inner layers {}; {} queries \
         at blowup 2^{}",
        encoded(&proof.sampled_values),
        encoded(&proof.fri_proof.first_layer),
        encoded(&proof.fri_proof.inner_layers),
        config.fri_config.n_queries,
        config.fri_config.log_blowup_factor
    );
}

/// The length of `value`'s postcard encoding (small field elements take fewer bytes).
fn encoded<T: serde::Serialize>(value: &T) -> usize {
    postcard::to_allocvec(value)
        .expect("proof parts serialize")
        .len()
}
