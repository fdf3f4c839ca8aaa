//! Executors with their own devices: each runs its proofs in a thread pool bound to its
//! device (`device::thread_pool`), the way a node proves on several GPUs at once. Checked on
//! host devices (separate instances, separate memory).

mod common;

use std::sync::Arc;

use common::WideFib;
use num_traits::Zero;
use obelysk_cuda::CudaBackend;
use obelysk_cuda::device::{self, HostDevice};
use stwo::core::channel::Blake2sChannel;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::proof::StarkProof;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::prover::backend::BackendForChannel;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo::prover::{CommitmentSchemeProver, ComponentProver, prove};
use stwo_constraint_framework::{FrameworkComponent, TraceLocationAllocator};

fn prove_wide_fib<B: BackendForChannel<Blake2sMerkleChannel>>(
    log_size: u32,
    n_columns: usize,
) -> Vec<u8>
where
    FrameworkComponent<WideFib>: ComponentProver<B>,
{
    let config = PcsConfig::default();
    let twiddles = B::precompute_twiddles(
        CanonicCoset::new(log_size + 1 + config.fri_config.log_blowup_factor)
            .circle_domain()
            .half_coset,
    );
    let channel = &mut Blake2sChannel::default();
    let mut scheme = CommitmentSchemeProver::<B, Blake2sMerkleChannel>::new(config, &twiddles);
    scheme.tree_builder().commit(channel);
    let domain = CanonicCoset::new(log_size).circle_domain();
    let trace: Vec<CircleEvaluation<B, BaseField, BitReversedOrder>> =
        common::wide_fib_columns(log_size, n_columns)
            .into_iter()
            .map(|mut values| {
                stwo::core::utils::bit_reverse(&mut values);
                CircleEvaluation::new(domain, values.into_iter().collect())
            })
            .collect();
    let mut tree = scheme.tree_builder();
    tree.extend_evals(trace);
    tree.commit(channel);
    let component = FrameworkComponent::new(
        &mut TraceLocationAllocator::default(),
        WideFib {
            log_size,
            columns: n_columns,
        },
        SecureField::zero(),
    );
    let proof: StarkProof<Blake2sMerkleHasher> =
        prove::<B, Blake2sMerkleChannel>(&[&component], channel, scheme).expect("proof");
    postcard::to_allocvec(&proof).expect("serialise proof")
}

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
        .map(|&(l, n)| prove_wide_fib::<SimdBackend>(l, n))
        .collect();
    let before = default.allocations();
    std::thread::scope(|s| {
        let handles: Vec<_> = pools
            .iter()
            .zip(shapes)
            .map(|(pool, (l, n))| {
                s.spawn(move || pool.install(|| prove_wide_fib::<CudaBackend>(l, n)))
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
