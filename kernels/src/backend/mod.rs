//! [`CudaBackend`]: stwo's `Backend` with every column in device memory and the prover's hot
//! paths as kernels from `cuda/`. It runs on the [`device::current`] device: a CUDA GPU, or
//! [`device::HostDevice`] (the same kernels on the CPU), which is how proofs made with it are
//! held byte-identical to `SimdBackend`'s where no GPU is lent.
//!
//! Operations without a kernel yet run through stwo's `CpuBackend` on a host copy (marked
//! "host round trip" below); each is a place where the GPU path still copies.

mod column;
mod constraints;
mod ops;

use serde::{Deserialize, Serialize};
use stwo::core::channel::Blake2sChannel;
use stwo::core::circle::{CirclePoint, Coset};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SECURE_EXTENSION_DEGREE;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::ColumnSampleBatch;
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::core::poly::line::LineDomain;
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
use crate::{domain, fft};

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

static ROUND_TRIPS: std::sync::Mutex<Vec<(&'static str, usize)>> =
    std::sync::Mutex::new(Vec::new());

/// Notes that `op` ran through the CPU backend on a host copy.
fn host_round_trip(op: &'static str) {
    let mut trips = ROUND_TRIPS.lock().unwrap_or_else(|e| e.into_inner());
    match trips.iter_mut().find(|(name, _)| *name == op) {
        Some((_, n)) => *n += 1,
        None => trips.push((op, 1)),
    }
}

/// How often each operation without a kernel ran through the CPU backend on a host copy since
/// the process started (or the last call): each is device↔host traffic a GPU run pays.
pub fn take_host_round_trips() -> Vec<(&'static str, usize)> {
    std::mem::take(&mut *ROUND_TRIPS.lock().unwrap_or_else(|e| e.into_inner()))
}

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
        let device = column.buffer().device().clone();
        device.launch(
            Module::Builtin("bit_reverse.cu"),
            "bit_reverse_u32",
            dims_for(column.len()),
            false,
            &[Arg::Ptr(column.ptr_mut()), Arg::U32(log_size)],
        );
    }
}

impl ColumnOps<SecureField> for CudaBackend {
    type Column = DeviceColumn<SecureField>;

    /// Host round trip (not on the proving path).
    fn bit_reverse_column(column: &mut Self::Column) {
        host_round_trip("bit_reverse_column (secure, hash)");
        let mut values = column.to_cpu();
        stwo::core::utils::bit_reverse(&mut values);
        *column = DeviceColumn::from_slice(&values);
    }
}

impl ColumnOps<Blake2sHash> for CudaBackend {
    type Column = DeviceColumn<Blake2sHash>;

    /// Host round trip (not on the proving path).
    fn bit_reverse_column(column: &mut Self::Column) {
        host_round_trip("bit_reverse_column (secure, hash)");
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
        let log_size = eval.domain.log_size();
        if log_size < fft::MIN_LOG_SIZE {
            host_round_trip("interpolate (< 2^3)");
            let cpu = CpuBackend::interpolate(to_cpu_eval(&eval), &to_cpu_twiddles(twiddles));
            return to_device_coeffs(cpu);
        }
        let domain = eval.domain;
        let mut values = eval.values;
        let device = values.buffer().device().clone();
        let itwiddles = ops::packed_twiddles(&device, domain, twiddles, true);
        ops::run_fft(&device, &[values.ptr_mut()], &itwiddles, log_size, true);
        CircleCoefficients::new(values)
    }

    fn eval_at_point(
        poly: &CircleCoefficients<Self>,
        point: CirclePoint<SecureField>,
    ) -> SecureField {
        host_round_trip("eval_at_point (coefficients)");
        CpuBackend::eval_at_point(&to_cpu_coeffs(poly), point)
    }

    fn barycentric_weights(
        coset: CanonicCoset,
        p: CirclePoint<SecureField>,
    ) -> Col<Self, SecureField> {
        ops::barycentric_weights(coset, p)
    }

    fn barycentric_eval_at_point(
        evals: &CircleEvaluation<Self, BaseField, BitReversedOrder>,
        weights: &Col<Self, SecureField>,
    ) -> SecureField {
        ops::barycentric_sum(&evals.values, weights)
    }

    fn eval_at_point_by_folding(
        evals: &CircleEvaluation<Self, BaseField, BitReversedOrder>,
        point: CirclePoint<SecureField>,
        twiddles: &TwiddleTree<Self>,
    ) -> SecureField {
        host_round_trip("eval_at_point_by_folding");
        CpuBackend::eval_at_point_by_folding(&to_cpu_eval(evals), point, &to_cpu_twiddles(twiddles))
    }

    fn extend(poly: &CircleCoefficients<Self>, log_size: u32) -> CircleCoefficients<Self> {
        host_round_trip("extend");
        to_device_coeffs(CpuBackend::extend(&to_cpu_coeffs(poly), log_size))
    }

    fn evaluate(
        poly: &CircleCoefficients<Self>,
        domain: CircleDomain,
        twiddles: &TwiddleTree<Self>,
    ) -> CircleEvaluation<Self, BaseField, BitReversedOrder> {
        let log_size = domain.log_size();
        if log_size < fft::MIN_LOG_SIZE {
            host_round_trip("evaluate (< 2^3)");
            let cpu =
                CpuBackend::evaluate(&to_cpu_coeffs(poly), domain, &to_cpu_twiddles(twiddles));
            return to_device_eval(cpu);
        }
        assert!(
            poly.coeffs.len() <= domain.size(),
            "a polynomial larger than its domain"
        );
        let device = poly.coeffs.buffer().device().clone();
        let mut values = DeviceColumn::<BaseField>::from_buffer(
            DeviceBuffer::zeroed(device.clone(), domain.size()),
            domain.size(),
        );
        device.copy(values.ptr_mut(), poly.coeffs.ptr(), poly.coeffs.len());
        let packed = ops::packed_twiddles(&device, domain, twiddles, false);
        ops::run_fft(&device, &[values.ptr()], &packed, log_size, false);
        CircleEvaluation::new(domain, values)
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
        let device = columns[0].values.buffer().device().clone();
        let n_rows = columns[0].len() >> log_blowup_factor;
        let pointers: Vec<u64> = columns.iter().map(|c| c.values.ptr()).collect();
        let pointers = DeviceBuffer::from_ptrs(device.clone(), &pointers);
        for (terms, batch) in domain::numerator_terms(sample_batches)
            .into_iter()
            .zip(sample_batches)
        {
            let acc = SecureColumnByCoords::<CudaBackend>::zeros(n_rows);
            let term_columns = DeviceBuffer::from_words(device.clone(), &terms.columns);
            let term_c = DeviceBuffer::from_words(device.clone(), &ops::secure_words(&terms.c));
            let out = acc.columns.each_ref().map(|c| c.ptr());
            device.launch(
                Module::Builtin("quotients.cu"),
                "quotient_numerators",
                dims_for(n_rows),
                false,
                &[
                    Arg::Ptr(pointers.ptr()),
                    Arg::Ptr(term_columns.ptr()),
                    Arg::Ptr(term_c.ptr()),
                    Arg::U32(terms.columns.len() as u32),
                    ops::qm31_arg(terms.b_sum),
                    Arg::Ptr(out[0]),
                    Arg::Ptr(out[1]),
                    Arg::Ptr(out[2]),
                    Arg::Ptr(out[3]),
                    Arg::U32(n_rows as u32),
                ],
            );
            accumulated_numerators_vec.push(AccumulatedNumerators {
                sample_point: batch.point,
                partial_numerators_acc: acc,
                first_linear_term_acc: terms.first_linear_term,
            });
        }
    }

    fn compute_quotients_and_combine(
        accs: Vec<AccumulatedNumerators<Self>>,
        lifting_log_size: u32,
        log_blowup_factor: u32,
        twiddles: &TwiddleTree<Self>,
    ) -> SecureEvaluation<Self, BitReversedOrder> {
        let eval_domain = CanonicCoset::new(lifting_log_size).circle_domain();
        let (subdomain, _) = eval_domain.split(log_blowup_factor);
        let sub_log_size = subdomain.log_size();
        if sub_log_size < fft::MIN_LOG_SIZE {
            return quotients_on_host(accs, lifting_log_size, log_blowup_factor, twiddles);
        }
        let device = device::current();
        let quotients = SecureColumnByCoords::<CudaBackend>::zeros(1 << sub_log_size);
        let numerators: Vec<u64> = accs
            .iter()
            .flat_map(|a| a.partial_numerators_acc.columns.each_ref().map(|c| c.ptr()))
            .collect();
        let numerators = DeviceBuffer::from_ptrs(device.clone(), &numerators);
        let log_sizes: Vec<u32> = accs
            .iter()
            .map(|a| a.partial_numerators_acc.len().ilog2())
            .collect();
        let log_sizes = DeviceBuffer::from_words(device.clone(), &log_sizes);
        let first: Vec<SecureField> = accs.iter().map(|a| a.first_linear_term_acc).collect();
        let first = DeviceBuffer::from_words(device.clone(), &ops::secure_words(&first));
        let points: Vec<SecureField> = accs
            .iter()
            .flat_map(|a| [a.sample_point.x, a.sample_point.y])
            .collect();
        let points = DeviceBuffer::from_words(device.clone(), &ops::secure_words(&points));
        let (xs, ys) = ops::point_tables(&device, subdomain);
        let out = quotients.columns.each_ref().map(|c| c.ptr());
        device.launch(
            Module::Builtin("quotients.cu"),
            "quotient_combine",
            dims_for(1 << sub_log_size),
            false,
            &[
                Arg::Ptr(numerators.ptr()),
                Arg::Ptr(log_sizes.ptr()),
                Arg::Ptr(first.ptr()),
                Arg::Ptr(points.ptr()),
                Arg::U32(accs.len() as u32),
                Arg::Ptr(xs.ptr()),
                Arg::Ptr(ys.ptr()),
                Arg::Ptr(out[0]),
                Arg::Ptr(out[1]),
                Arg::Ptr(out[2]),
                Arg::Ptr(out[3]),
                Arg::U32(sub_log_size),
            ],
        );
        // Interpolate on the subdomain, then evaluate on the whole domain.
        let itwiddles = ops::subdomain_itwiddles(&device, subdomain, eval_domain, twiddles);
        ops::run_fft(&device, &out, &itwiddles, sub_log_size, true);
        let values = SecureColumnByCoords::<CudaBackend>::zeros(1 << lifting_log_size);
        for (dst, src) in values.columns.iter().zip(&quotients.columns) {
            device.copy(dst.ptr(), src.ptr(), src.len());
        }
        let columns = values.columns.each_ref().map(|c| c.ptr());
        let forward = ops::packed_twiddles(&device, eval_domain, twiddles, false);
        ops::run_fft(&device, &columns, &forward, lifting_log_size, false);
        SecureEvaluation::new(eval_domain, values)
    }
}

/// Host round trip of `compute_quotients_and_combine`, for domains too small for the kernels.
fn quotients_on_host(
    accs: Vec<AccumulatedNumerators<CudaBackend>>,
    lifting_log_size: u32,
    log_blowup_factor: u32,
    twiddles: &TwiddleTree<CudaBackend>,
) -> SecureEvaluation<CudaBackend, BitReversedOrder> {
    host_round_trip("compute_quotients_and_combine (< 2^3)");
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

impl FriOps for CudaBackend {
    fn fold_line(
        eval: &LineEvaluation<Self>,
        alpha: SecureField,
        twiddles: &TwiddleTree<Self>,
        fold_step: u32,
    ) -> LineEvaluation<Self> {
        let device = eval.values.columns[0].buffer().device().clone();
        let mut domain = eval.domain();
        let mut alpha = alpha;
        let mut values = ops::fold(
            &eval.values,
            &ops::line_itwiddles(&device, domain, twiddles),
            alpha,
        );
        domain = domain.double();
        for _ in 1..fold_step {
            alpha = alpha * alpha;
            values = ops::fold(
                &values,
                &ops::line_itwiddles(&device, domain, twiddles),
                alpha,
            );
            domain = domain.double();
        }
        LineEvaluation::new(domain, values)
    }

    fn fold_circle_into_line(
        src: &SecureEvaluation<Self, BitReversedOrder>,
        alpha: SecureField,
        twiddles: &TwiddleTree<Self>,
    ) -> LineEvaluation<Self> {
        let log_size = src.domain.log_size();
        if log_size < fft::MIN_LOG_SIZE {
            host_round_trip("fold_circle_into_line (< 2^3)");
            let cpu = SecureEvaluation::new(src.domain, src.values.to_cpu());
            return to_device_line(CpuBackend::fold_circle_into_line(
                &cpu,
                alpha,
                &to_cpu_twiddles(twiddles),
            ));
        }
        // The circle layer's inverse twiddles: 1/y of the points folded together.
        // Its first 2^(n-1) entries are the circle layer: 1/y of the points folded together.
        let device = src.values.columns[0].buffer().device().clone();
        let packed = ops::packed_twiddles(&device, src.domain, twiddles, true);
        let values = ops::fold(&src.values, &packed, alpha);
        LineEvaluation::new(LineDomain::new(Coset::half_odds(log_size - 1)), values)
    }

    fn decompose(
        eval: &SecureEvaluation<Self, BitReversedOrder>,
    ) -> (SecureEvaluation<Self, BitReversedOrder>, SecureField) {
        host_round_trip("decompose");
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
        DeviceBuffer::from_ptrs(device.clone(), &dst.columns.each_mut().map(|c| c.ptr_mut()));
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
            host_round_trip("build_leaves (no columns)");
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
    /// Output column `coord + 4·offset` holds, per leaf, coordinate `coord` of the leaf's row
    /// `offset` (stwo's layout): one kernel per coordinate.
    fn pack_leaves_input(
        values: &[&Col<Self, BaseField>; SECURE_EXTENSION_DEGREE],
    ) -> [Col<Self, BaseField>; SECURE_EXTENSION_DEGREE * PACKED_LEAF_SIZE] {
        let len = values[0].len();
        assert!(values.iter().all(|c| c.len() == len) && len.is_multiple_of(PACKED_LEAF_SIZE));
        let device = values[0].buffer().device().clone();
        let rows = len / PACKED_LEAF_SIZE;
        let mut packed: [DeviceColumn<BaseField>; SECURE_EXTENSION_DEGREE * PACKED_LEAF_SIZE] =
            std::array::from_fn(|_| {
                DeviceColumn::from_buffer(DeviceBuffer::zeroed(device.clone(), rows), rows)
            });
        for (coord, column) in values.iter().enumerate() {
            let out: [_; PACKED_LEAF_SIZE] = std::array::from_fn(|offset| {
                packed[coord + SECURE_EXTENSION_DEGREE * offset].ptr_mut()
            });
            device.launch(
                Module::Builtin("merkle.cu"),
                "pack_leaves",
                dims_for(len),
                false,
                &[
                    Arg::Ptr(column.ptr()),
                    Arg::Ptr(out[0]),
                    Arg::Ptr(out[1]),
                    Arg::Ptr(out[2]),
                    Arg::Ptr(out[3]),
                    Arg::U32(len as u32),
                ],
            );
        }
        packed
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
