//! Executors with their own devices: each runs its proofs in a thread pool bound to its
//! device (`device::thread_pool`), the way a node proves on several GPUs at once. Checked on
//! host devices (separate instances, separate memory).

mod common;

use std::sync::Arc;

use common::{bytes, prove_wide_fib};
use obelysk_cuda::CudaBackend;
use obelysk_cuda::device::{self, HostDevice};
use stwo::prover::backend::simd::SimdBackend;

/// Two executors, each with a thread pool bound to its own device, prove at once: both proofs
/// equal SIMD's, each device holds its executor's columns, and the process-wide device none.
#[test]
fn executors_on_different_devices_prove_at_once() {
    if !common::test_devices_include("host") {
        return;
    }
    let (a, b, default) = (
        Arc::new(HostDevice::new()),
        Arc::new(HostDevice::new()),
        Arc::new(HostDevice::new()),
    );
    device::set_current(default.clone());
    let pools = [
        device::thread_pool(a.clone(), 2),
        device::thread_pool(b.clone(), 2),
    ];
    let shapes = [(7, 12), (8, 10)];
    let expected: Vec<Vec<u8>> = shapes
        .iter()
        .map(|&(l, n)| bytes(&prove_wide_fib::<SimdBackend>(l, n)))
        .collect();
    let before = default.allocations();
    std::thread::scope(|s| {
        let handles: Vec<_> = pools
            .iter()
            .zip(shapes)
            .map(|(pool, (l, n))| {
                s.spawn(move || pool.install(|| bytes(&prove_wide_fib::<CudaBackend>(l, n))))
            })
            .collect();
        for (handle, want) in handles.into_iter().zip(&expected) {
            assert_eq!(&handle.join().expect("executor"), want);
        }
    });
    assert!(
        a.allocations() > 0 && b.allocations() > 0,
        "each executor used its device"
    );
    assert_eq!(
        default.allocations(),
        before,
        "nothing landed on the process-wide device"
    );
}
