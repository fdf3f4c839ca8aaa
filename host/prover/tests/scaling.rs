//! Loops, calls, branches, recursion and I/O prove and verify from 2^10 to 2^20 steps
//! (2^20 takes about 12 s and 1.6 GB on a 2-core machine).

mod common;

use std::time::Instant;

use common::*;
use obelysk_air::verify;
use obelysk_prover::prove;

fn round_trip_at(log_steps: u32) {
    let wasm = mixed();
    let input = mixed_input(log_steps);
    let started = Instant::now();
    let (output, file) = prove(&wasm, &input, LEVEL).unwrap();
    let proving = started.elapsed();
    let bytes = file.to_bytes();
    let started = Instant::now();
    let statement = verify(&wasm, &input, &output, &bytes, 96).unwrap();
    let steps = statement.steps;
    assert!(
        steps > 1 << (log_steps - 1) && steps <= 1 << log_steps,
        "{steps} steps for 2^{log_steps}"
    );
    assert_eq!(output[1], 8, "fib(6)");
    println!(
        "2^{log_steps}: {steps} steps, prove {:.2} s, verify {:.1} ms, proof {} bytes",
        proving.as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e3,
        bytes.len()
    );
}

#[test]
fn from_2_10_to_2_20_steps() {
    for log_steps in [10, 12, 14, 16, 18, 20] {
        round_trip_at(log_steps);
    }
}
