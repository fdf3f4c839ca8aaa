//! Launch sequences shared by the backend's operations: batched circle FFTs, FRI folds,
//! quotients, barycentric evaluation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use stwo::core::circle::{CirclePoint, Coset};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::core::poly::line::LineDomain;
use stwo::core::poly::utils::domain_line_twiddles_from_tree;
use stwo::prover::backend::Column;
use stwo::prover::poly::twiddles::{TwiddleBuffer, TwiddleTree};
use stwo::prover::secure_column::SecureColumnByCoords;

use super::{CudaBackend, DeviceColumn, dims_for};
use crate::device::{Arg, Device, DeviceBuffer, DevicePtr, Module};
use crate::domain;
use crate::fft::{self, FftLaunch};

pub(crate) fn qm31_arg(v: SecureField) -> Arg {
    Arg::Qm31(v.to_m31_array().map(|m| m.0))
}

pub(crate) fn secure_words(values: &[SecureField]) -> Vec<u32> {
    values
        .iter()
        .flat_map(|v| v.to_m31_array().map(|m| m.0))
        .collect()
}

/// A forward (`inverse = false`) or inverse circle FFT of the columns at `columns`, each of
/// `2^log_n` words, in place; `twiddles` as [`fft::packed_twiddles`] lays them out.
pub(crate) fn run_fft(
    device: &Arc<dyn Device>,
    columns: &[DevicePtr],
    twiddles: &DeviceBuffer,
    log_n: u32,
    inverse: bool,
) {
    let pointers = DeviceBuffer::from_ptrs(device.clone(), columns);
    let n_columns = columns.len() as u32;
    // A tile of 2^t values takes 2^(t-1) threads.
    let max_tile_log = (device.cooperative_block_limit().ilog2() + 1).min(fft::MAX_TILE_LOG);
    for launch in fft::plan(log_n, inverse, max_tile_log) {
        let dims = launch.dims(log_n, n_columns);
        let (kernel, cooperative, args) = match launch {
            FftLaunch::Layer { layer } => (
                "fft_layer",
                false,
                vec![
                    Arg::Ptr(pointers.ptr()),
                    Arg::Ptr(twiddles.ptr()),
                    Arg::U32(log_n),
                    Arg::U32(layer),
                    Arg::U32(inverse as u32),
                ],
            ),
            FftLaunch::Tile { tile_log } => (
                "fft_tile",
                true,
                vec![
                    Arg::Ptr(pointers.ptr()),
                    Arg::Ptr(twiddles.ptr()),
                    Arg::U32(log_n),
                    Arg::U32(tile_log),
                    Arg::U32(inverse as u32),
                ],
            ),
            FftLaunch::Scale { factor } => (
                "scale_columns",
                false,
                vec![
                    Arg::Ptr(pointers.ptr()),
                    Arg::U32(1 << log_n),
                    Arg::U32(factor),
                ],
            ),
        };
        device.launch(Module::Builtin("fft.cu"), kernel, dims, cooperative, &args);
    }
}

/// `dst[i] = f0 + α·f1`, `(f0, f1) = ibutterfly(src[2i], src[2i+1], itwiddles[i])`.
pub(crate) fn fold(
    src: &SecureColumnByCoords<CudaBackend>,
    itwiddles: &DeviceBuffer,
    alpha: SecureField,
) -> SecureColumnByCoords<CudaBackend> {
    let device = src.columns[0].buffer().device().clone();
    let n_dst = src.len() / 2;
    let dst = SecureColumnByCoords::<CudaBackend>::zeros(n_dst);
    let src_ptrs =
        DeviceBuffer::from_ptrs(device.clone(), &src.columns.each_ref().map(|c| c.ptr()));
    let dst_ptrs =
        DeviceBuffer::from_ptrs(device.clone(), &dst.columns.each_ref().map(|c| c.ptr()));
    assert!(itwiddles.words() >= n_dst, "one twiddle per folded value");
    let itw = itwiddles;
    device.launch(
        Module::Builtin("fri.cu"),
        "fri_fold",
        dims_for(n_dst),
        false,
        &[
            Arg::Ptr(src_ptrs.ptr()),
            Arg::Ptr(dst_ptrs.ptr()),
            Arg::Ptr(itw.ptr()),
            qm31_arg(alpha),
            Arg::U32(n_dst as u32),
        ],
    );
    dst
}

/// What a device table (see [`cached`]) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Table {
    /// [`fft::packed_twiddles`] of a circle domain, forward or inverse.
    Fft {
        inverse: bool,
    },
    /// The same for a subdomain, from twiddles extracted for it out of a larger domain's.
    SubdomainFft {
        domain_log_size: u32,
    },
    /// Inverse twiddles of a line domain's first layer (for folds).
    LineFold,
    PointsX,
    PointsY,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TableKey {
    device: usize,
    table: Table,
    /// The domain's half coset: initial index, step, log size.
    domain: (usize, usize, u32),
    /// The twiddle tree's root coset: initial index, log size.
    root: (usize, u32),
}

type Tables = HashMap<TableKey, Arc<DeviceBuffer>>;
static TABLES: Mutex<Option<Tables>> = Mutex::new(None);

fn coset_key(c: Coset) -> (usize, usize, u32) {
    (c.initial_index.0, c.step_size.0, c.log_size)
}

/// A table that depends only on a domain (and twiddle tree), made on the host and copied to
/// `device` once per process: FFTs and folds reuse it instead of uploading it each time.
fn cached(
    device: &Arc<dyn Device>,
    table: Table,
    domain: Coset,
    root: Coset,
    make: impl FnOnce() -> Vec<u32>,
) -> Arc<DeviceBuffer> {
    let key = TableKey {
        // The device outlives its tables: each holds an `Arc` to it.
        device: Arc::as_ptr(device) as *const () as usize,
        table,
        domain: coset_key(domain),
        root: (root.initial_index.0, root.log_size),
    };
    if let Some(t) = TABLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .get(&key)
    {
        return t.clone();
    }
    let buffer = Arc::new(DeviceBuffer::from_words(device.clone(), &make()));
    TABLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .entry(key)
        .or_insert(buffer)
        .clone()
}

/// The packed twiddles of `domain` from `tree` (inverse ones to interpolate), on the device.
pub(crate) fn packed_twiddles(
    device: &Arc<dyn Device>,
    domain: CircleDomain,
    tree: &TwiddleTree<CudaBackend>,
    inverse: bool,
) -> Arc<DeviceBuffer> {
    cached(
        device,
        Table::Fft { inverse },
        domain.half_coset,
        tree.root_coset,
        || {
            fft::packed_twiddles(
                domain,
                if inverse {
                    &tree.itwiddles
                } else {
                    &tree.twiddles
                },
            )
        },
    )
}

/// The packed inverse twiddles of `subdomain` (the first part of `domain` split), extracted
/// from `tree`'s as stwo does for evaluations on a subdomain.
pub(crate) fn subdomain_itwiddles(
    device: &Arc<dyn Device>,
    subdomain: CircleDomain,
    domain: CircleDomain,
    tree: &TwiddleTree<CudaBackend>,
) -> Arc<DeviceBuffer> {
    let table = Table::SubdomainFft {
        domain_log_size: domain.log_size(),
    };
    cached(device, table, subdomain.half_coset, tree.root_coset, || {
        let extracted = tree
            .itwiddles
            .extract_subdomain_twiddles(domain.log_size(), subdomain.log_size());
        fft::packed_twiddles(subdomain, &extracted)
    })
}

/// The inverse twiddles of `domain`'s first layer, for folding it.
pub(crate) fn line_itwiddles(
    device: &Arc<dyn Device>,
    domain: LineDomain,
    tree: &TwiddleTree<CudaBackend>,
) -> Arc<DeviceBuffer> {
    cached(
        device,
        Table::LineFold,
        domain.coset(),
        tree.root_coset,
        || {
            domain_line_twiddles_from_tree(domain, &tree.itwiddles)[0]
                .iter()
                .map(|v| v.0)
                .collect()
        },
    )
}

/// The x and y tables of `domain`'s points (bit-reversed order), on the device.
pub(crate) fn point_tables(
    device: &Arc<dyn Device>,
    domain: CircleDomain,
) -> (Arc<DeviceBuffer>, Arc<DeviceBuffer>) {
    let root = domain.half_coset;
    let xs = cached(device, Table::PointsX, domain.half_coset, root, || {
        domain::point_tables(domain).0
    });
    let ys = cached(device, Table::PointsY, domain.half_coset, root, || {
        domain::point_tables(domain).1
    });
    (xs, ys)
}

/// Barycentric weights for `p` on `coset`'s circle domain.
pub(crate) fn barycentric_weights(
    coset: CanonicCoset,
    p: CirclePoint<SecureField>,
) -> DeviceColumn<SecureField> {
    let device = crate::device::current();
    let domain = coset.circle_domain();
    let (xs, ys) = point_tables(&device, domain);
    let weights = DeviceColumn::<SecureField>::zeros(domain.size());
    device.launch(
        Module::Builtin("barycentric.cu"),
        "barycentric_weights",
        dims_for(domain.size()),
        false,
        &[
            Arg::Ptr(xs.ptr()),
            Arg::Ptr(ys.ptr()),
            qm31_arg(p.x),
            qm31_arg(p.y),
            qm31_arg(domain::barycentric_constant(coset, p)),
            Arg::Ptr(weights.ptr()),
            Arg::U32(domain.size() as u32),
        ],
    );
    weights
}

/// Most threads per block of `barycentric_partial_sums` (its `BARYCENTRIC_BLOCK`).
const SUM_BLOCK: u32 = 256;

/// `Σ values[i] · weights[i]`.
pub(crate) fn barycentric_sum(
    values: &DeviceColumn<BaseField>,
    weights: &DeviceColumn<SecureField>,
) -> SecureField {
    let device = values.buffer().device().clone();
    let n = values.len() as u32;
    // A power of two (the block reduces by halves); enough blocks to fill a GPU, each summing a
    // strided share.
    let block = SUM_BLOCK
        .min(device.cooperative_block_limit())
        .next_power_of_two();
    let blocks = n.div_ceil(block * 16).clamp(1, 1024);
    let columns = DeviceBuffer::from_ptrs(device.clone(), &[values.ptr()]);
    let partials = DeviceBuffer::zeroed(device.clone(), 4 * blocks as usize);
    device.launch(
        Module::Builtin("barycentric.cu"),
        "barycentric_partial_sums",
        crate::fft::LaunchDims {
            grid: (blocks, 1),
            block,
        },
        true,
        &[
            Arg::Ptr(columns.ptr()),
            Arg::Ptr(weights.ptr()),
            Arg::U32(n),
            Arg::Ptr(partials.ptr()),
        ],
    );
    partials
        .to_words()
        .chunks_exact(4)
        .map(|w| {
            SecureField::from_m31_array(std::array::from_fn(|k| {
                BaseField::from_u32_unchecked(w[k])
            }))
        })
        .sum()
}
