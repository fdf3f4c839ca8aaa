//! Sandbox cost per job: compile once, then instantiate + run `main` for each input.
//!
//! `cargo bench -p obelysk-benches` (or `make bench`, which builds the plugins first).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obelysk_sandbox::{Limits, Sandbox};

fn fibonacci(c: &mut Criterion) {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let module = sandbox.load(&obelysk_benches::plugin("fibonacci")).unwrap();

    let mut group = c.benchmark_group("sandbox/fibonacci");
    for n in [0u32, 1_000, 100_000] {
        let fuel = sandbox.run(&module, &[n]).unwrap().fuel_used;
        group.throughput(Throughput::Elements(fuel));
        group.bench_with_input(BenchmarkId::new("instantiate+run", n), &n, |b, &n| {
            b.iter(|| sandbox.run(&module, &[n]).unwrap())
        });
    }
    group.finish();

    c.bench_function("sandbox/fibonacci/new engine + compile", |b| {
        let bytes = obelysk_benches::plugin("fibonacci");
        b.iter(|| {
            Sandbox::new(Limits::default())
                .unwrap()
                .load(&bytes)
                .unwrap()
        })
    });
}

criterion_group!(benches, fibonacci);
criterion_main!(benches);
