//! Which instructions a run executes: runs a module on an input in the tracing interpreter
//! and prints its steps by opcode, most frequent first.
//!
//! `cargo run --release -p obelysk-benches --example step_mix -- <module.wasm> [sha256 N |
//! matmul N | mlp | words W…]` (the inputs of the `vm/plugins` bench).

use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module = std::fs::read(&args[0]).expect("a module path");
    let input: Vec<u32> = match args.get(1).map(String::as_str) {
        Some("sha256") => {
            let n: usize = args[2].parse().expect("a byte count");
            let message: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            obelysk_guest::codec::pack_bytes(&message)
        }
        Some("words") => args[2..]
            .iter()
            .map(|w| w.parse().expect("a word"))
            .collect(),
        Some("mlp") => {
            // The bench's 28×28 image: a bright ring on black.
            let image: Vec<u8> = (0..28 * 28)
                .map(|i: i32| {
                    let (x, y) = (i % 28 - 14, i / 28 - 14);
                    if (25..=64).contains(&(x * x + y * y)) {
                        230
                    } else {
                        0
                    }
                })
                .collect();
            obelysk_guest::codec::pack_bytes(&image)
        }
        Some("matmul") => {
            let n: u32 = args[2].parse().expect("a size");
            let matrix = |seed: u32| {
                (
                    n,
                    n,
                    (0..n * n)
                        .map(|i| i.wrapping_mul(seed) ^ seed)
                        .collect::<Vec<u32>>(),
                )
            };
            obelysk_guest::codec::pack_bytes(
                &postcard::to_allocvec(&(matrix(7), matrix(13))).unwrap(),
            )
        }
        _ => Vec::new(),
    };
    let program = obelysk_vm::lower::lower(&module).expect("a supported module");
    if std::env::var_os("OBELYSK_PROVE").is_some() {
        prove(&program, &input);
    }
    let trace = obelysk_vm::interp::run(&program, &input, 1 << 24).expect("a run");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for step in &trace.steps {
        let opcode = program.code[step.pc as usize].opcode();
        *counts.entry(format!("{opcode:?}")).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let total = trace.steps.len();
    println!(
        "{total} steps, {} instructions, output {:?}",
        program.code.len(),
        trace.output
    );
    for (opcode, n) in counts {
        println!(
            "{opcode:>12} {n:>9} {:5.1} %",
            100.0 * n as f64 / total as f64
        );
    }
}

/// With `OBELYSK_PROVE` set: proves and verifies the run once at 96 bits and prints the
/// time, proof size and peak RSS (for A/B runs of two builds on one machine).
fn prove(program: &obelysk_vm::ir::Program, input: &[u32]) {
    let started = std::time::Instant::now();
    let level = obelysk_air::security::SecurityLevel::Bits96;
    let (_, file) =
        obelysk_prover::prove_program(program, input, level, u64::MAX, &mut |_| {}).unwrap();
    let proved = started.elapsed();
    obelysk_air::api::verify_program(program, &file, 96).unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    eprintln!(
        "proved {} steps in {:.0} ms, proof {} bytes, peak RSS {} MiB",
        file.statement.steps,
        proved.as_secs_f64() * 1e3,
        file.to_bytes().len(),
        peak / 1024
    );
}
