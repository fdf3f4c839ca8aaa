//! Whole proofs on `CudaBackend`: byte-identical to `SimdBackend`'s and accepted by stwo's
//! verifier, on the host device (the kernels built for the CPU) and on every CUDA GPU present
//! (wide-Fibonacci 100 columns up to 2^18 rows); without a GPU that half prints SKIP.

mod common;

use std::sync::Arc;

use common::{bytes, component, config, prove_wide_fib};
use obelysk_cuda::CudaBackend;
use obelysk_cuda::device::{self, CudaDevice, HostDevice};
use stwo::core::air::Component;
use stwo::core::channel::Blake2sChannel;
use stwo::core::pcs::CommitmentSchemeVerifier;
use stwo::core::proof::StarkProof;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::verifier::verify;
use stwo::prover::backend::simd::SimdBackend;

fn assert_verifies(log_size: u32, n_columns: usize, proof: StarkProof<Blake2sMerkleHasher>) {
    let component = component(log_size, n_columns);
    let channel = &mut Blake2sChannel::default();
    let mut scheme = CommitmentSchemeVerifier::<Blake2sMerkleChannel>::new(config());
    let sizes = component.trace_log_degree_bounds();
    scheme.commit(proof.commitments[0], &sizes[0], channel);
    scheme.commit(proof.commitments[1], &sizes[1], channel);
    verify(&[&component], channel, &mut scheme, proof).expect("stwo verifies the proof");
}

fn prove_and_compare(log_size: u32, n_columns: usize) {
    let simd = prove_wide_fib::<SimdBackend>(log_size, n_columns);
    let ours = prove_wide_fib::<CudaBackend>(log_size, n_columns);
    // Everything but the empty preprocessed tree's single leaf ran as kernels.
    let trips = obelysk_cuda::backend::take_host_round_trips();
    assert_eq!(
        trips,
        vec![("build_leaves (no columns)", 1)],
        "host round trips"
    );
    assert_eq!(bytes(&ours), bytes(&simd), "2^{log_size} × {n_columns}");
    assert_verifies(log_size, n_columns, ours);
}

/// Two provers sharing the current device at once (as two executors of the node's pool do):
/// each proof still equals its SIMD twin.
fn prove_concurrently() {
    let shapes = [(7, 12), (9, 6)];
    let expected: Vec<Vec<u8>> = shapes
        .iter()
        .map(|&(l, n)| bytes(&prove_wide_fib::<SimdBackend>(l, n)))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = shapes
            .iter()
            .map(|&(l, n)| s.spawn(move || bytes(&prove_wide_fib::<CudaBackend>(l, n))))
            .collect();
        for (handle, want) in handles.into_iter().zip(&expected) {
            assert_eq!(
                &handle.join().expect("prover thread"),
                want,
                "concurrent proof"
            );
        }
    });
    obelysk_cuda::backend::take_host_round_trips();
}

#[test]
fn wide_fibonacci_proofs_are_byte_identical_to_simd_and_verify() {
    if common::test_devices_include("host") {
        device::set_current(Arc::new(HostDevice::new()));
        for (log_size, n_columns) in [(5, 8), (8, 20)] {
            prove_and_compare(log_size, n_columns);
        }
        prove_concurrently();
    }
    let status = obelysk_cuda::detect();
    if !common::test_devices_include("cuda") {
        return;
    }
    if !status.available {
        eprintln!(
            "SKIP CUDA proofs: {} (not verified)",
            status.reason.as_deref().unwrap_or("no GPU")
        );
        return;
    }
    for gpu in &status.devices {
        let device = CudaDevice::new(gpu.ordinal as usize).unwrap_or_else(|e| panic!("{e}"));
        device::set_current(Arc::new(device));
        for log_size in [10, 16, 18] {
            eprintln!("cuda:{}: wide-Fibonacci 2^{log_size} × 100", gpu.ordinal);
            prove_and_compare(log_size, 100);
        }
    }
}
