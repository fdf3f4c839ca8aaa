//! Every backend operation of `CudaBackend` against `SimdBackend` on random inputs, on every
//! device this machine has: the host device (sizes 2^4 … 2^12) and each CUDA GPU (2^4 … 2^22).
//! Without a GPU the CUDA half prints a visible SKIP: it is not verified then.

mod common;

use std::sync::Arc;

use common::Rng;
use obelysk_cuda::CudaBackend;
use obelysk_cuda::device::{self, CudaDevice, Device, HostDevice};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::{ColumnSampleBatch, NumeratorData};
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Col, Column, ColumnOps};
use stwo::prover::fri::FriOps;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::{CircleEvaluation, PolyOps, SecureEvaluation};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::vcs_lifted::ops::{MerkleOpsLifted, PackLeavesOps};
use stwo::prover::{AccumulationOps, QuotientOps};

fn cols<B: ColumnOps<BaseField>>(values: &[BaseField]) -> Col<B, BaseField> {
    values.iter().copied().collect()
}

fn secure<B: ColumnOps<BaseField>>(values: &[SecureField]) -> SecureColumnByCoords<B> {
    let mut out = SecureColumnByCoords::<B>::zeros(values.len());
    let coords: [Vec<BaseField>; 4] =
        std::array::from_fn(|k| values.iter().map(|v| v.to_m31_array()[k]).collect());
    out.columns = coords.map(|c| cols::<B>(&c));
    out
}

fn random_column(rng: &mut Rng, log_size: u32) -> Vec<BaseField> {
    (0..1 << log_size).map(|_| rng.m31()).collect()
}

/// Runs every comparison on the current device for domains of `2^log_size`.
fn compare_ops(log_size: u32, rng: &mut Rng) {
    let domain = CanonicCoset::new(log_size).circle_domain();
    let twiddle_log = log_size + 1;
    let simd_tw =
        SimdBackend::precompute_twiddles(CanonicCoset::new(twiddle_log).circle_domain().half_coset);
    let ours_tw: TwiddleTree<CudaBackend> =
        CudaBackend::precompute_twiddles(CanonicCoset::new(twiddle_log).circle_domain().half_coset);

    // Interpolate, then evaluate on a domain twice as large (an LDE).
    let values = random_column(rng, log_size);
    let simd_poly = CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
        domain,
        cols::<SimdBackend>(&values),
    )
    .interpolate_with_twiddles(&simd_tw);
    let ours_poly = CircleEvaluation::<CudaBackend, BaseField, BitReversedOrder>::new(
        domain,
        cols::<CudaBackend>(&values),
    )
    .interpolate_with_twiddles(&ours_tw);
    assert_eq!(
        ours_poly.coeffs.to_cpu(),
        simd_poly.coeffs.to_cpu(),
        "interpolate 2^{log_size}"
    );
    let big = CanonicCoset::new(log_size + 1).circle_domain();
    let simd_lde = simd_poly.evaluate_with_twiddles(big, &simd_tw);
    let ours_lde = ours_poly.evaluate_with_twiddles(big, &ours_tw);
    assert_eq!(
        ours_lde.values.to_cpu(),
        simd_lde.values.to_cpu(),
        "evaluate 2^{}",
        log_size + 1
    );

    // Bit reversal.
    let mut simd_col = cols::<SimdBackend>(&values);
    let mut ours_col = cols::<CudaBackend>(&values);
    <SimdBackend as ColumnOps<BaseField>>::bit_reverse_column(&mut simd_col);
    // Reading an element first fills the host mirror; the kernel's write must drop it.
    assert_eq!(ours_col.at(1), values[1]);
    <CudaBackend as ColumnOps<BaseField>>::bit_reverse_column(&mut ours_col);
    assert_eq!(
        ours_col.at(1),
        simd_col.at(1),
        "a stale mirror after a kernel wrote"
    );
    assert_eq!(
        ours_col.to_cpu(),
        simd_col.to_cpu(),
        "bit reverse 2^{log_size}"
    );

    // Merkle: three columns of different sizes lifted to the largest, then one layer.
    let columns: Vec<Vec<BaseField>> = [log_size.saturating_sub(2).max(1), log_size - 1, log_size]
        .iter()
        .map(|&l| random_column(rng, l))
        .collect();
    let simd_cols: Vec<_> = columns.iter().map(|c| cols::<SimdBackend>(c)).collect();
    let ours_cols: Vec<_> = columns.iter().map(|c| cols::<CudaBackend>(c)).collect();
    let simd_leaves = <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(
        &simd_cols.iter().collect::<Vec<_>>(),
        log_size,
    );
    let ours_leaves = <CudaBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(
        &ours_cols.iter().collect::<Vec<_>>(),
        log_size,
    );
    assert_eq!(
        ours_leaves.to_cpu(),
        simd_leaves.to_cpu(),
        "merkle leaves 2^{log_size}"
    );
    let simd_layer =
        <SimdBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(&simd_leaves);
    let ours_layer =
        <CudaBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(&ours_leaves);
    assert_eq!(
        ours_layer.to_cpu(),
        simd_layer.to_cpu(),
        "merkle layer 2^{}",
        log_size - 1
    );
    // Leaf packing (FRI layers that fold by more than 2): four coordinate columns.
    let coords: [Vec<BaseField>; 4] = std::array::from_fn(|_| random_column(rng, log_size));
    let simd_coords = coords.each_ref().map(|c| cols::<SimdBackend>(c));
    let ours_coords = coords.each_ref().map(|c| cols::<CudaBackend>(c));
    let simd_packed = SimdBackend::pack_leaves_input(&simd_coords.each_ref());
    let ours_packed = CudaBackend::pack_leaves_input(&ours_coords.each_ref());
    for (i, (o, s)) in ours_packed.iter().zip(&simd_packed).enumerate() {
        assert_eq!(
            o.to_cpu(),
            s.to_cpu(),
            "packed leaf column {i}, 2^{log_size}"
        );
    }

    // FRI: circle into line, then line folds (one and two steps).
    let secure_values: Vec<SecureField> = (0..1 << log_size).map(|_| rng.qm31()).collect();
    let alpha = rng.qm31();
    let simd_eval = SecureEvaluation::<SimdBackend, BitReversedOrder>::new(
        domain,
        secure::<SimdBackend>(&secure_values),
    );
    let ours_eval = SecureEvaluation::<CudaBackend, BitReversedOrder>::new(
        domain,
        secure::<CudaBackend>(&secure_values),
    );
    let simd_line = SimdBackend::fold_circle_into_line(&simd_eval, alpha, &simd_tw);
    let ours_line = CudaBackend::fold_circle_into_line(&ours_eval, alpha, &ours_tw);
    assert_eq!(
        ours_line.values.to_cpu().to_vec(),
        simd_line.values.to_cpu().to_vec(),
        "circle fold 2^{log_size}"
    );
    for step in [1, 2] {
        if log_size - 1 < step + 4 {
            continue; // SIMD folds need at least 16 values left
        }
        let simd = SimdBackend::fold_line(&simd_line, alpha, &simd_tw, step);
        let ours = CudaBackend::fold_line(&ours_line, alpha, &ours_tw, step);
        assert_eq!(
            ours.values.to_cpu().to_vec(),
            simd.values.to_cpu().to_vec(),
            "line fold 2^{} by {step}",
            log_size - 1
        );
    }

    // Accumulation: a smaller column lifted into a larger one.
    let small: Vec<SecureField> = (0..1 << (log_size - 1)).map(|_| rng.qm31()).collect();
    let simd_acc = SimdBackend::lift_and_accumulate(vec![
        secure::<SimdBackend>(&small),
        secure::<SimdBackend>(&secure_values),
    ])
    .unwrap();
    let ours_acc = CudaBackend::lift_and_accumulate(vec![
        secure::<CudaBackend>(&small),
        secure::<CudaBackend>(&secure_values),
    ])
    .unwrap();
    assert_eq!(
        ours_acc.to_cpu().to_vec(),
        simd_acc.to_cpu().to_vec(),
        "lift and accumulate 2^{log_size}"
    );

    // Out-of-domain evaluation.
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(rng.next());
    let p = CirclePoint::<SecureField>::get_random_point(&mut channel);
    let coset = CanonicCoset::new(log_size);
    let simd_w = SimdBackend::barycentric_weights(coset, p);
    let ours_w = CudaBackend::barycentric_weights(coset, p);
    assert_eq!(
        ours_w.to_cpu(),
        simd_w.to_cpu(),
        "barycentric weights 2^{log_size}"
    );
    let simd_e = CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
        domain,
        cols::<SimdBackend>(&values),
    );
    let ours_e = CircleEvaluation::<CudaBackend, BaseField, BitReversedOrder>::new(
        domain,
        cols::<CudaBackend>(&values),
    );
    assert_eq!(
        CudaBackend::barycentric_eval_at_point(&ours_e, &ours_w),
        SimdBackend::barycentric_eval_at_point(&simd_e, &simd_w),
        "f(p) 2^{log_size}"
    );

    // FRI quotients over the committed domain (blowup 1), for two sample points.
    let columns: Vec<Vec<BaseField>> = (0..3).map(|_| random_column(rng, log_size)).collect();
    let batches = || -> Vec<ColumnSampleBatch> {
        let mut ch = Blake2sChannel::default();
        ch.mix_u64(u64::from(log_size));
        (0..2)
            .map(|b| ColumnSampleBatch {
                point: CirclePoint::get_random_point(&mut ch),
                cols_vals_randpows: (0..3)
                    .filter(|i| b == 0 || *i != 1)
                    .map(|column_index| NumeratorData {
                        column_index,
                        sample_value: SecureField::from(column_index as u32 + 7 * b as u32),
                        random_coeff: SecureField::from(3 + column_index as u32),
                    })
                    .collect(),
            })
            .collect()
    };
    let simd_cols: Vec<_> = columns
        .iter()
        .map(|c| {
            CircleEvaluation::<SimdBackend, BaseField, BitReversedOrder>::new(
                domain,
                cols::<SimdBackend>(c),
            )
        })
        .collect();
    let ours_cols: Vec<_> = columns
        .iter()
        .map(|c| {
            CircleEvaluation::<CudaBackend, BaseField, BitReversedOrder>::new(
                domain,
                cols::<CudaBackend>(c),
            )
        })
        .collect();
    let mut simd_acc = Vec::new();
    let mut ours_acc = Vec::new();
    SimdBackend::accumulate_numerators(
        &simd_cols.iter().collect::<Vec<_>>(),
        &batches(),
        &mut simd_acc,
        1,
    );
    CudaBackend::accumulate_numerators(
        &ours_cols.iter().collect::<Vec<_>>(),
        &batches(),
        &mut ours_acc,
        1,
    );
    for (s, o) in simd_acc.iter().zip(&ours_acc) {
        assert_eq!(
            o.partial_numerators_acc.to_cpu().to_vec(),
            s.partial_numerators_acc.to_cpu().to_vec(),
            "numerators 2^{log_size}"
        );
        assert_eq!(o.first_linear_term_acc, s.first_linear_term_acc);
    }
    let tw_log = log_size;
    let simd_q_tw =
        SimdBackend::precompute_twiddles(CanonicCoset::new(tw_log).circle_domain().half_coset);
    let ours_q_tw =
        CudaBackend::precompute_twiddles(CanonicCoset::new(tw_log).circle_domain().half_coset);
    let simd_q = SimdBackend::compute_quotients_and_combine(simd_acc, log_size, 1, &simd_q_tw);
    let ours_q = CudaBackend::compute_quotients_and_combine(ours_acc, log_size, 1, &ours_q_tw);
    assert_eq!(
        ours_q.values.to_cpu().to_vec(),
        simd_q.values.to_cpu().to_vec(),
        "quotients 2^{log_size}"
    );
}

fn run_on(device: Arc<dyn Device>, log_sizes: impl Iterator<Item = u32>) {
    device::set_current(device.clone());
    let mut rng = Rng::new(21);
    for log_size in log_sizes {
        eprintln!("{}: 2^{log_size}", device.name());
        compare_ops(log_size, &mut rng);
    }
    // Proof of work: the nonce SIMD finds.
    for pow_bits in [4, 12, 20] {
        let mut channel = Blake2sChannel::default();
        channel.mix_u64(rng.next());
        assert_eq!(
            <CudaBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits),
            <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits),
            "grind {pow_bits} bits on {}",
            device.name()
        );
    }
}

#[test]
fn backend_ops_match_simd_on_every_device() {
    if common::test_devices_include("host") {
        run_on(Arc::new(HostDevice::new()), (5..=12).step_by(1));
    }
    let status = obelysk_cuda::detect();
    if !common::test_devices_include("cuda") {
        return;
    }
    if !status.available {
        eprintln!(
            "SKIP CUDA half: {} (not verified)",
            status.reason.as_deref().unwrap_or("no GPU")
        );
        return;
    }
    for gpu in &status.devices {
        let device = CudaDevice::new(gpu.ordinal as usize).unwrap_or_else(|e| panic!("{e}"));
        run_on(Arc::new(device), (4..=22).step_by(2).filter(|l| *l >= 5));
    }
}
