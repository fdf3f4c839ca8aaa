//! [`CudaBackend`]: stwo's `Backend` with every column in device memory and the prover's hot
//! paths as kernels from `cuda/`. It runs on the [`device::current`] device: a CUDA GPU, or
//! [`device::HostDevice`] (the same kernels on the CPU), which is how proofs made with it are
//! held byte-identical to `SimdBackend`'s where no GPU is lent.
//!
//! Operations without a kernel yet run through stwo's `CpuBackend` on a host copy (marked
//! "host round trip" below); each is a place where the GPU path still copies.

mod column;
mod constraints;

use serde::{Deserialize, Serialize};
use stwo::core::channel::Blake2sChannel;
use stwo::core::circle::{CirclePoint, Coset};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SECURE_EXTENSION_DEGREE;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::ColumnSampleBatch;
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::vcs_lifted::verifier::PACKED_LEAF_SIZE;
use stwo::prover::backend::{Backend, BackendForChannel, Col, Column, ColumnOps, CpuBackend};
use stwo::prover::fri::FriOps;
use stwo::prover::line::LineEvaluation;
use stwo::prover::lookups::gkr_prover::{GkrMultivariatePolyOracle, GkrOps, Layer};
use stwo::prover::lookups::mle::{Mle, MleOps};
use stwo::prover::lookups::utils::UnivariatePoly;
use stwo::prover::pcs::quotient_ops::AccumulatedNumerators;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::{CircleCoefficients, CircleEvaluation, PolyOps, SecureEvaluation};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::vcs_lifted::ops::{MerkleOpsLifted, PackLeavesOps};
use stwo::prover::{AccumulationOps, QuotientOps};

pub use column::{DeviceColumn, Element};

use crate::device::{self, Arg, DeviceBuffer, LaunchDims, Module};

/// The stwo backend whose columns live on a [`device::Device`].
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct CudaBackend;

const THREADS: u32 = 256;

/// Dimensions for one thread per item.
pub(crate) fn dims_for(items: usize) -> LaunchDims {
    let items = u32::try_from(items).expect("fewer than 2^32 threads");
    LaunchDims {
        grid: (items.div_ceil(THREADS).max(1), 1),
        block: THREADS.min(items.max(1)),
    }
}

// ---- host round trips ----

fn to_cpu_eval<O>(
    e: &CircleEvaluation<CudaBackend, BaseField, O>,
) -> CircleEvaluation<CpuBackend, BaseField, O> {
    CircleEvaluation::new(e.domain, e.values.to_cpu())
}

fn to_device_eval<O>(
    e: CircleEvaluation<CpuBackend, BaseField, O>,
) -> CircleEvaluation<CudaBackend, BaseField, O> {
    CircleEvaluation::new(e.domain, DeviceColumn::from_slice(&e.values))
}

fn to_cpu_coeffs(p: &CircleCoefficients<CudaBackend>) -> CircleCoefficients<CpuBackend> {
    CircleCoefficients::new(p.coeffs.to_cpu())
}

fn to_device_coeffs(p: CircleCoefficients<CpuBackend>) -> CircleCoefficients<CudaBackend> {
    CircleCoefficients::new(DeviceColumn::from_slice(&p.coeffs))
}

fn to_device_secure(c: SecureColumnByCoords<CpuBackend>) -> SecureColumnByCoords<CudaBackend> {
    SecureColumnByCoords {
        columns: c.columns.map(|col| DeviceColumn::from_slice(&col)),
    }
}

fn to_cpu_line(e: &LineEvaluation<CudaBackend>) -> LineEvaluation<CpuBackend> {
    LineEvaluation::new(e.domain(), e.values.to_cpu())
}

fn to_device_line(e: LineEvaluation<CpuBackend>) -> LineEvaluation<CudaBackend> {
    LineEvaluation::new(e.domain(), to_device_secure(e.values))
}

fn to_cpu_twiddles(t: &TwiddleTree<CudaBackend>) -> TwiddleTree<CpuBackend> {
    TwiddleTree {
        root_coset: t.root_coset,
        twiddles: t.twiddles.clone(),
        itwiddles: t.itwiddles.clone(),
    }
}

// ---- columns ----

impl ColumnOps<BaseField> for CudaBackend {
    type Column = DeviceColumn<BaseField>;

    fn bit_reverse_column(column: &mut Self::Column) {
        let log_size = column.len().ilog2();
        column.buffer().device().launch(
            Module::Builtin("bit_reverse.cu"),
            "bit_reverse_u32",
            dims_for(column.len()),
            false,
            &[Arg::Ptr(column.ptr()), Arg::U32(log_size)],
        );
    }
}

impl ColumnOps<SecureField> for CudaBackend {
    type Column = DeviceColumn<SecureField>;

    /// Host round trip (not on the proving path).
    fn bit_reverse_column(column: &mut Self::Column) {
        let mut values = column.to_cpu();
        stwo::core::utils::bit_reverse(&mut values);
        *column = DeviceColumn::from_slice(&values);
    }
}

impl ColumnOps<Blake2sHash> for CudaBackend {
    type Column = DeviceColumn<Blake2sHash>;

    /// Host round trip (not on the proving path).
    fn bit_reverse_column(column: &mut Self::Column) {
        let mut values = column.to_cpu();
        stwo::core::utils::bit_reverse(&mut values);
        *column = DeviceColumn::from_slice(&values);
    }
}

// ---- polynomials ----

impl PolyOps for CudaBackend {
    type Twiddles = Vec<BaseField>;

    fn interpolate(
        eval: CircleEvaluation<Self, BaseField, BitReversedOrder>,
        twiddles: &TwiddleTree<Self>,
    ) -> CircleCoefficients<Self> {
        to_device_coeffs(CpuBackend::interpolate(
            to_cpu_eval(&eval),
            &to_cpu_twiddles(twiddles),
        ))
    }

    fn eval_at_point(
        poly: &CircleCoefficients<Self>,
        point: CirclePoint<SecureField>,
    ) -> SecureField {
        CpuBackend::eval_at_point(&to_cpu_coeffs(poly), point)
    }

    fn barycentric_weights(
        coset: CanonicCoset,
        p: CirclePoint<SecureField>,
    ) -> Col<Self, SecureField> {
        DeviceColumn::from_slice(&CpuBackend::barycentric_weights(coset, p))
    }

    fn barycentric_eval_at_point(
        evals: &CircleEvaluation<Self, BaseField, BitReversedOrder>,
        weights: &Col<Self, SecureField>,
    ) -> SecureField {
        CpuBackend::barycentric_eval_at_point(&to_cpu_eval(evals), &weights.to_cpu())
    }

    fn eval_at_point_by_folding(
        evals: &CircleEvaluation<Self, BaseField, BitReversedOrder>,
        point: CirclePoint<SecureField>,
        twiddles: &TwiddleTree<Self>,
    ) -> SecureField {
        CpuBackend::eval_at_point_by_folding(&to_cpu_eval(evals), point, &to_cpu_twiddles(twiddles))
    }

    fn extend(poly: &CircleCoefficients<Self>, log_size: u32) -> CircleCoefficients<Self> {
        to_device_coeffs(CpuBackend::extend(&to_cpu_coeffs(poly), log_size))
    }

    fn evaluate(
        poly: &CircleCoefficients<Self>,
        domain: CircleDomain,
        twiddles: &TwiddleTree<Self>,
    ) -> CircleEvaluation<Self, BaseField, BitReversedOrder> {
        to_device_eval(CpuBackend::evaluate(
            &to_cpu_coeffs(poly),
            domain,
            &to_cpu_twiddles(twiddles),
        ))
    }

    fn evaluate_into(
        poly: &CircleCoefficients<Self>,
        domain: CircleDomain,
        twiddles: &TwiddleTree<Self>,
        _buffer: Col<Self, BaseField>,
    ) -> CircleEvaluation<Self, BaseField, BitReversedOrder> {
        Self::evaluate(poly, domain, twiddles)
    }

    fn precompute_twiddles(coset: Coset) -> TwiddleTree<Self> {
        let tree = CpuBackend::precompute_twiddles(coset);
        TwiddleTree {
            root_coset: tree.root_coset,
            twiddles: tree.twiddles,
            itwiddles: tree.itwiddles,
        }
    }

    fn split_at_mid(
        poly: CircleCoefficients<Self>,
    ) -> (CircleCoefficients<Self>, CircleCoefficients<Self>) {
        let (left, right) = poly.coeffs.split_at_mid();
        (
            CircleCoefficients::new(left),
            CircleCoefficients::new(right),
        )
    }
}

// ---- FRI quotients, folds, accumulation ----

impl QuotientOps for CudaBackend {
    fn accumulate_numerators(
        columns: &[&CircleEvaluation<Self, BaseField, BitReversedOrder>],
        sample_batches: &[ColumnSampleBatch],
        accumulated_numerators_vec: &mut Vec<AccumulatedNumerators<Self>>,
        log_blowup_factor: u32,
    ) {
        let cpu: Vec<_> = columns.iter().map(|c| to_cpu_eval(c)).collect();
        let refs: Vec<_> = cpu.iter().collect();
        let mut out = Vec::new();
        CpuBackend::accumulate_numerators(&refs, sample_batches, &mut out, log_blowup_factor);
        accumulated_numerators_vec.extend(out.into_iter().map(|a| AccumulatedNumerators {
            sample_point: a.sample_point,
            partial_numerators_acc: to_device_secure(a.partial_numerators_acc),
            first_linear_term_acc: a.first_linear_term_acc,
        }));
    }

    fn compute_quotients_and_combine(
        accs: Vec<AccumulatedNumerators<Self>>,
        lifting_log_size: u32,
        log_blowup_factor: u32,
        twiddles: &TwiddleTree<Self>,
    ) -> SecureEvaluation<Self, BitReversedOrder> {
        let cpu = accs
            .into_iter()
            .map(|a| AccumulatedNumerators {
                sample_point: a.sample_point,
                partial_numerators_acc: a.partial_numerators_acc.to_cpu(),
                first_linear_term_acc: a.first_linear_term_acc,
            })
            .collect();
        let e = CpuBackend::compute_quotients_and_combine(
            cpu,
            lifting_log_size,
            log_blowup_factor,
            &to_cpu_twiddles(twiddles),
        );
        SecureEvaluation::new(e.domain, to_device_secure(e.values))
    }
}

impl FriOps for CudaBackend {
    fn fold_line(
        eval: &LineEvaluation<Self>,
        alpha: SecureField,
        twiddles: &TwiddleTree<Self>,
        fold_step: u32,
    ) -> LineEvaluation<Self> {
        to_device_line(CpuBackend::fold_line(
            &to_cpu_line(eval),
            alpha,
            &to_cpu_twiddles(twiddles),
            fold_step,
        ))
    }

    fn fold_circle_into_line(
        src: &SecureEvaluation<Self, BitReversedOrder>,
        alpha: SecureField,
        twiddles: &TwiddleTree<Self>,
    ) -> LineEvaluation<Self> {
        let cpu = SecureEvaluation::new(src.domain, src.values.to_cpu());
        to_device_line(CpuBackend::fold_circle_into_line(
            &cpu,
            alpha,
            &to_cpu_twiddles(twiddles),
        ))
    }

    fn decompose(
        eval: &SecureEvaluation<Self, BitReversedOrder>,
    ) -> (SecureEvaluation<Self, BitReversedOrder>, SecureField) {
        let cpu = SecureEvaluation::new(eval.domain, eval.values.to_cpu());
        let (g, lambda) = CpuBackend::decompose(&cpu);
        (
            SecureEvaluation::new(g.domain, to_device_secure(g.values)),
            lambda,
        )
    }
}

impl AccumulationOps for CudaBackend {
    fn accumulate(column: &mut SecureColumnByCoords<Self>, other: &SecureColumnByCoords<Self>) {
        let log_size = column.len().ilog2();
        accumulate_lifted(column, other, log_size, log_size);
    }

    fn generate_secure_powers(felt: SecureField, n_powers: usize) -> Vec<SecureField> {
        CpuBackend::generate_secure_powers(felt, n_powers)
    }

    fn lift_and_accumulate(
        cols: Vec<SecureColumnByCoords<Self>>,
    ) -> Option<SecureColumnByCoords<Self>> {
        let mut cols = cols;
        let mut top = cols.pop()?;
        let top_log = top.len().ilog2();
        for col in &cols {
            accumulate_lifted(&mut top, col, top_log, col.len().ilog2());
        }
        Some(top)
    }
}

/// `dst[i] += src[lift(i)]` on the device (`accumulate.cu`).
fn accumulate_lifted(
    dst: &mut SecureColumnByCoords<CudaBackend>,
    src: &SecureColumnByCoords<CudaBackend>,
    dst_log_size: u32,
    src_log_size: u32,
) {
    let device = dst.columns[0].buffer().device().clone();
    let dst_ptrs =
        DeviceBuffer::from_ptrs(device.clone(), &dst.columns.each_ref().map(|c| c.ptr()));
    let src_ptrs =
        DeviceBuffer::from_ptrs(device.clone(), &src.columns.each_ref().map(|c| c.ptr()));
    device.launch(
        Module::Builtin("accumulate.cu"),
        "accumulate_lifted",
        dims_for(1 << dst_log_size),
        false,
        &[
            Arg::Ptr(dst_ptrs.ptr()),
            Arg::Ptr(src_ptrs.ptr()),
            Arg::U32(dst_log_size),
            Arg::U32(src_log_size),
        ],
    );
}

// ---- Merkle, proof of work ----

impl MerkleOpsLifted<Blake2sMerkleHasher> for CudaBackend {
    fn build_leaves(
        columns: &[&Col<Self, BaseField>],
        lifting_log_size: u32,
    ) -> Col<Self, Blake2sHash> {
        if columns.is_empty() {
            // One leaf: the hash of nothing (stwo's convention).
            let cpu = <CpuBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(
                &[],
                lifting_log_size,
            );
            return DeviceColumn::from_slice(&cpu);
        }
        let device = columns[0].buffer().device().clone();
        let ptrs = DeviceBuffer::from_ptrs(
            device.clone(),
            &columns.iter().map(|c| c.ptr()).collect::<Vec<_>>(),
        );
        let log_sizes: Vec<u32> = columns.iter().map(|c| c.len().ilog2()).collect();
        let log_sizes = DeviceBuffer::from_words(device.clone(), &log_sizes);
        let n_leaves = 1usize << lifting_log_size;
        let leaves = DeviceBuffer::zeroed(device.clone(), 8 * n_leaves);
        device.launch(
            Module::Builtin("merkle.cu"),
            "merkle_leaves",
            dims_for(n_leaves),
            false,
            &[
                Arg::Ptr(ptrs.ptr()),
                Arg::Ptr(log_sizes.ptr()),
                Arg::U32(columns.len() as u32),
                Arg::U32(lifting_log_size),
                Arg::Ptr(leaves.ptr()),
            ],
        );
        DeviceColumn::from_buffer(leaves, n_leaves)
    }

    fn build_next_layer(prev_layer: &Col<Self, Blake2sHash>) -> Col<Self, Blake2sHash> {
        let device = prev_layer.buffer().device().clone();
        let n_parents = prev_layer.len() / 2;
        let parents = DeviceBuffer::zeroed(device.clone(), 8 * n_parents);
        device.launch(
            Module::Builtin("merkle.cu"),
            "merkle_layer",
            dims_for(n_parents),
            false,
            &[
                Arg::Ptr(prev_layer.ptr()),
                Arg::Ptr(parents.ptr()),
                Arg::U32(n_parents as u32),
            ],
        );
        DeviceColumn::from_buffer(parents, n_parents)
    }
}

impl PackLeavesOps for CudaBackend {
    /// Host round trip.
    fn pack_leaves_input(
        values: &[&Col<Self, BaseField>; SECURE_EXTENSION_DEGREE],
    ) -> [Col<Self, BaseField>; SECURE_EXTENSION_DEGREE * PACKED_LEAF_SIZE] {
        let cpu: [Vec<BaseField>; SECURE_EXTENSION_DEGREE] = values.map(|c| c.to_cpu());
        let refs = cpu.each_ref();
        CpuBackend::pack_leaves_input(&refs).map(|c| DeviceColumn::from_slice(&c))
    }
}

impl GrindOps<Blake2sChannel> for CudaBackend {
    fn grind(channel: &Blake2sChannel, pow_bits: u32) -> u64 {
        let device = device::current();
        let prefixed = DeviceBuffer::from_words(
            device.clone(),
            &crate::grind::prefixed_digest(channel, pow_bits),
        );
        let mut best = DeviceBuffer::zeroed(device.clone(), 1);
        crate::grind::search(|hi| {
            best.write(0, &[u32::MAX]);
            device.launch(
                Module::Builtin("merkle.cu"),
                "grind_blake2s",
                dims_for(1 << crate::grind::LOW_BITS),
                false,
                &[
                    Arg::Ptr(prefixed.ptr()),
                    Arg::U32(hi),
                    Arg::U32(pow_bits),
                    Arg::Ptr(best.ptr()),
                ],
            );
            let low = best.read(0, 1)[0];
            (low != u32::MAX).then_some(low)
        })
    }
}

// ---- GKR (stwo's prove never calls it; Obelysk's AIR has no GKR lookups) ----

const NO_GKR: &str = "CudaBackend has no GKR operations: stwo's prove does not use them";

impl MleOps<BaseField> for CudaBackend {
    fn fix_first_variable(_: Mle<Self, BaseField>, _: SecureField) -> Mle<Self, SecureField> {
        unimplemented!("{NO_GKR}")
    }
}

impl MleOps<SecureField> for CudaBackend {
    fn fix_first_variable(_: Mle<Self, SecureField>, _: SecureField) -> Mle<Self, SecureField> {
        unimplemented!("{NO_GKR}")
    }
}

impl GkrOps for CudaBackend {
    fn gen_eq_evals(_: &[SecureField], _: SecureField) -> Mle<Self, SecureField> {
        unimplemented!("{NO_GKR}")
    }
    fn next_layer(_: &Layer<Self>) -> Layer<Self> {
        unimplemented!("{NO_GKR}")
    }
    fn sum_as_poly_in_first_variable(
        _: &GkrMultivariatePolyOracle<'_, Self>,
        _: SecureField,
    ) -> UnivariatePoly<SecureField> {
        unimplemented!("{NO_GKR}")
    }
}

impl Backend for CudaBackend {}
impl BackendForChannel<Blake2sMerkleChannel> for CudaBackend {}
