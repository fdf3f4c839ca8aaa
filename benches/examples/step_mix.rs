//! Which instructions a run executes: runs a module on an input in the tracing interpreter
//! and prints its steps by opcode, most frequent first.
//!
//! `cargo run --release -p obelysk-benches --example step_mix -- <module.wasm> [sha256 N | words W…]`
//! (`sha256 N`: an `N`-byte message packed as the guest codec does).

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
        _ => Vec::new(),
    };
    let program = obelysk_vm::lower::lower(&module).expect("a supported module");
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
