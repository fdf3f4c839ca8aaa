//! The VM prover against stwo's wide Fibonacci, in one run, on `SimdBackend`, same PCS config
//! (the 96-bit preset).
//!
//! - `vm/prove+verify/2^k`: the `mixed.wat` program (loop + calls + branches + recursion +
//!   I/O) run to ~2^k steps, proven and verified. Throughput is in VM steps.
//! - `wide_fib/prove/2^k`: stwo's wide-Fibonacci AIR (100 columns, `c[i+2] = c[i]² + c[i+1]²`)
//!   at 2^k rows. Throughput is in main-trace cells.
//!
//! - `vm/plugins/<name>/<size>`: the `sum-array` plugin on `n` input words, `matmul` on
//!   two `n × n` matrices, `sha256` and `keccak256` on an `n`-byte message, `collatz` of `n`
//!   (u64 arithmetic), `json-order` with `n` items, `merkle-proof` of a given depth and `mlp`
//!   on one 28×28 image, built by `make plugins`, proven and verified. Throughput is in VM
//!   steps.
//!
//! After each size it prints the main-trace cells, the proof size, the verify time and the
//! process's peak RSS so far (sizes run in increasing order), so cells/s can be compared:
//! `cargo bench -p obelysk-benches --bench vm_prove`.

use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obelysk_air::security::SecurityLevel;
use obelysk_benches::{mixed, plugin, wide_fib};
use obelysk_guest::codec::pack_bytes as pack;
use obelysk_prover::vm::{prove_witness, statement};
use obelysk_prover::witness::Witness;
use stwo::prover::backend::simd::SimdBackend;

const LEVEL: SecurityLevel = SecurityLevel::Bits96;

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

/// Runs, proves and verifies `program` on `input` once and prints the run's steps, main-trace
/// cells, proof size, verify time and the peak RSS so far; returns the steps.
fn report(label: &str, program: &obelysk_vm::ir::Program, input: &[u32]) -> u64 {
    let trace = obelysk_vm::interp::run(program, input, u64::MAX).unwrap();
    let witness = Witness::build(program, input, &trace).unwrap();
    let cells: usize = witness
        .tables
        .iter()
        .zip(witness.claim.log_sizes)
        .map(|(t, log)| t.columns.len() << log)
        .sum();
    let proven = statement(program, input, &trace);
    let file = prove_witness(&proven, witness, LEVEL, &mut |_| {}).unwrap();
    let started = Instant::now();
    obelysk_air::api::verify_program(program, &file, 96).unwrap();
    println!(
        "{label}: {} steps, {cells} main-trace cells, proof {} bytes, verify {:.1} ms, peak RSS {} MiB",
        trace.steps.len(),
        file.to_bytes().len(),
        started.elapsed().as_secs_f64() * 1e3,
        peak_rss_mib()
    );
    trace.steps.len() as u64
}

/// Statements each size cycles through: one run, different inputs (an extra word `main` never
/// reads), so different transcripts. A statement's proof-of-work costs a lottery draw (at 20
/// bits 2^20 hashes on average, 0.1–3× that for one draw), which a single statement would
/// fix for every iteration.
const STATEMENTS: u32 = 8;

/// What each bench iteration measures: one proof and its verification.
fn prove_and_verify(program: &obelysk_vm::ir::Program, input: &[u32]) {
    let (_, file) =
        obelysk_prover::prove_program(program, input, LEVEL, u64::MAX, &mut |_| {}).unwrap();
    obelysk_air::api::verify_program(program, &file, 96).unwrap();
}

fn vm(c: &mut Criterion) {
    let wasm = mixed::wasm();
    let program = obelysk_vm::lower::lower(&wasm).unwrap();
    let mut group = c.benchmark_group("vm/prove+verify");
    group.sample_size(10);
    // (steps, one proof's ms, peak RSS bytes) per size, for the cost model's fit.
    let mut samples = Vec::new();
    for log_steps in [10u32, 14, 16, 18, 20] {
        let input = mixed::input(&program, log_steps);
        let steps = report(&format!("vm 2^{log_steps}"), &program, &input);
        let timed = Instant::now();
        obelysk_prover::prove_program(&program, &input, LEVEL, u64::MAX, &mut |_| {}).unwrap();
        samples.push((
            steps,
            timed.elapsed().as_secs_f64() * 1e3,
            (peak_rss_mib() << 20) as f64,
        ));
        group.throughput(Throughput::Elements(steps));
        let statements = mixed::statements(&input, STATEMENTS);
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("2^{log_steps}")),
            &statements,
            |b, statements| {
                let mut next = statements.iter().cycle();
                b.iter(|| prove_and_verify(&program, next.next().expect("cycles")))
            },
        );
    }
    group.finish();
    // The peak RSS only grows, and sizes grow, so each sample's peak is its own proof's.
    if let Some(model) = obelysk_prover::estimate::CostModel::fit(&samples) {
        println!(
            "cost model fit (host/prover/src/estimate.rs CALIBRATED): fixed_ms {:.0}, ns_per_step {:.0}, \
             fixed_bytes {:.0} MiB, bytes_per_step {:.0}",
            model.fixed_ms,
            model.ns_per_step,
            model.fixed_bytes / f64::from(1 << 20),
            model.bytes_per_step
        );
    }
}

/// Postcard of `(a, b)` for two `n × n` matrices, packed as the guest codec does.
fn matmul_input(n: u32) -> Vec<u32> {
    let matrix = |seed: u32| {
        (
            n,
            n,
            (0..n * n)
                .map(|i| i.wrapping_mul(seed) ^ seed)
                .collect::<Vec<u32>>(),
        )
    };
    pack(&postcard::to_allocvec(&(matrix(7), matrix(13))).unwrap())
}

/// A `merkle-proof` input of `depth` levels: postcard `(leaf, index, siblings, root)` with
/// arbitrary siblings and a zero root. The root never matches, which costs the same as a
/// match: every level is hashed either way.
fn merkle_input(depth: usize) -> Vec<u32> {
    #[derive(serde::Serialize)]
    struct Proof {
        leaf: Vec<u8>,
        index: u64,
        siblings: Vec<[u8; 32]>,
        root: [u8; 32],
    }
    let proof = Proof {
        leaf: b"a leaf of the tree".to_vec(),
        index: 0b1011_0110,
        siblings: (0..depth).map(|i| [i as u8; 32]).collect(),
        root: [0; 32],
    };
    pack(&postcard::to_allocvec(&proof).unwrap())
}

/// A 28×28 image for `mlp`: a bright ring on black.
fn mlp_image() -> Vec<u8> {
    (0..28 * 28)
        .map(|i: i32| {
            let (x, y) = (i % 28 - 14, i / 28 - 14);
            if (25..=64).contains(&(x * x + y * y)) {
                230
            } else {
                0
            }
        })
        .collect()
}

fn plugins(c: &mut Criterion) {
    let mut group = c.benchmark_group("vm/plugins");
    group.sample_size(10);
    let cases: Vec<(&str, String, Vec<u32>)> = [256u32, 2048, 8192]
        .into_iter()
        .map(|n| {
            (
                "sum-array",
                format!("n={n}"),
                (0..n).map(|i| i * 7919).collect(),
            )
        })
        .chain(
            [4u32, 8, 16]
                .into_iter()
                .map(|n| ("matmul", format!("{n}x{n}"), matmul_input(n))),
        )
        .chain([64usize, 1024, 4096].into_iter().map(|n| {
            let message: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            ("sha256", format!("{n}B"), pack(&message))
        }))
        .chain(
            [27u32, 77_031]
                .into_iter()
                .map(|n| ("collatz", format!("n={n}"), vec![n])),
        )
        .chain([136usize, 1024].into_iter().map(|n| {
            let message: Vec<u8> = (0..n).map(|i| (i * 17 % 253) as u8).collect();
            ("keccak256", format!("{n}B"), pack(&message))
        }))
        .chain([1usize, 16].into_iter().map(|n| {
            let items: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        r#"{{"sku": {i}, "qty": {}, "price": {}}}"#,
                        i + 1,
                        100 * i + 99
                    )
                })
                .collect();
            let order = format!(
                r#"{{"id": 7, "buyer": "bench", "paid": true, "items": [{}]}}"#,
                items.join(", ")
            );
            ("json-order", format!("{n} items"), pack(order.as_bytes()))
        }))
        .chain([8usize, 16].into_iter().map(|depth| {
            (
                "merkle-proof",
                format!("depth={depth}"),
                merkle_input(depth),
            )
        }))
        .chain(std::iter::once((
            "mlp",
            "28x28".to_string(),
            pack(&mlp_image()),
        )))
        .collect();
    for (name, size, input) in cases {
        let program = obelysk_vm::lower::lower(&plugin(name)).unwrap();
        let steps = report(&format!("{name} {size}"), &program, &input);
        group.throughput(Throughput::Elements(steps));
        group.bench_with_input(BenchmarkId::new(name, &size), &input, |b, input| {
            b.iter(|| prove_and_verify(&program, input))
        });
    }
    group.finish();
}

const WIDE_FIB_COLUMNS: usize = 100;

fn wide_fib_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("wide_fib/prove");
    group.sample_size(10);
    for log_size in [14u32, 16, 18] {
        let cells = (WIDE_FIB_COLUMNS << log_size) as u64;
        let trace = wide_fib::trace(log_size, WIDE_FIB_COLUMNS);
        wide_fib::prove::<SimdBackend>(LEVEL, log_size, &trace);
        println!(
            "wide_fib 2^{log_size}: {cells} main-trace cells, peak RSS {} MiB",
            peak_rss_mib()
        );
        group.throughput(Throughput::Elements(cells));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("2^{log_size}")),
            &log_size,
            |b, &log_size| b.iter(|| wide_fib::prove::<SimdBackend>(LEVEL, log_size, &trace)),
        );
    }
    group.finish();
}

// `vm` before `plugins`, which needs `make plugins`: `-- "vm/prove|wide_fib"` runs without them.
criterion_group!(benches, wide_fib_bench, vm, plugins);
criterion_main!(benches);
