//! Host side of the circle FFT kernels (`cuda/fft.cu`): the packed twiddle table and the
//! sequence of launches that evaluates or interpolates a batch of columns.

use stwo::core::fields::m31::BaseField;
use stwo::core::poly::circle::CircleDomain;
use stwo::core::poly::utils::domain_line_twiddles_from_tree;

/// Most layers one `fft_tile` launch runs in shared memory (2^11 values, 1024 threads).
pub const MAX_TILE_LOG: u32 = 11;

/// Smallest domain the kernels handle; smaller ones are a few field operations on the host.
pub const MIN_LOG_SIZE: u32 = 3;

/// The twiddles of every layer of a transform over `domain`, packed as `fft.cu` reads them:
/// the circle layer (from the first line layer's `(x, y)` pairs: `y, -y, -x, x`), then each line
/// layer. `tree` is a twiddle buffer in stwo's CPU layout (`TwiddleTree::twiddles` to evaluate,
/// `itwiddles` to interpolate) for a root coset that `domain` fits in.
pub fn packed_twiddles(domain: CircleDomain, tree: &[BaseField]) -> Vec<u32> {
    assert!(
        domain.log_size() >= MIN_LOG_SIZE,
        "domain too small for the FFT kernels"
    );
    let line = domain_line_twiddles_from_tree(domain, tree);
    let mut packed = Vec::with_capacity(domain.size() - 1);
    for pair in line[0].chunks_exact(2) {
        let (x, y) = (pair[0], pair[1]);
        packed.extend([y, -y, -x, x].map(|v| v.0));
    }
    for layer in &line {
        packed.extend(layer.iter().map(|v| v.0));
    }
    debug_assert_eq!(packed.len(), domain.size() - 1);
    packed
}

/// One kernel launch of a transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FftLaunch {
    /// `fft_layer` for one layer in global memory.
    Layer { layer: u32 },
    /// `fft_tile` for layers `0..tile_log` in shared memory.
    Tile { tile_log: u32 },
    /// `scale_columns` by `1 / 2^log_n` (end of an inverse transform).
    Scale { factor: u32 },
}

/// Grid and block sizes of a launch (`grid.1` = number of columns in the batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchDims {
    pub grid: (u32, u32),
    pub block: u32,
}

const THREADS: u32 = 256;

impl FftLaunch {
    /// The launch dimensions for `n_columns` columns of `2^log_n` values.
    pub fn dims(self, log_n: u32, n_columns: u32) -> LaunchDims {
        let blocks = |threads: u32| threads.div_ceil(THREADS);
        match self {
            FftLaunch::Layer { .. } => LaunchDims {
                grid: (blocks(1 << (log_n - 1)), n_columns),
                block: THREADS.min(1 << (log_n - 1)),
            },
            FftLaunch::Tile { tile_log } => LaunchDims {
                grid: (1 << (log_n - tile_log), n_columns),
                block: 1 << (tile_log - 1),
            },
            FftLaunch::Scale { .. } => LaunchDims {
                grid: (blocks(1 << log_n), n_columns),
                block: THREADS.min(1 << log_n),
            },
        }
    }
}

/// The launches of a forward (`evaluate`) or inverse (`interpolate`) transform of `2^log_n`
/// values, running at most `max_tile_log` layers per shared-memory tile.
pub fn plan(log_n: u32, inverse: bool, max_tile_log: u32) -> Vec<FftLaunch> {
    assert!(
        log_n >= MIN_LOG_SIZE,
        "domain too small for the FFT kernels"
    );
    assert!((1..=MAX_TILE_LOG).contains(&max_tile_log));
    let tile_log = log_n.min(max_tile_log);
    let global = (tile_log..log_n).map(|layer| FftLaunch::Layer { layer });
    let tile = FftLaunch::Tile { tile_log };
    if inverse {
        let factor = BaseField::from(1u32 << log_n).inverse().0;
        std::iter::once(tile)
            .chain(global)
            .chain([FftLaunch::Scale { factor }])
            .collect()
    } else {
        global.rev().chain([tile]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_layer_once_in_order() {
        for log_n in MIN_LOG_SIZE..=20 {
            for max_tile in [1, 4, MAX_TILE_LOG] {
                let forward = plan(log_n, false, max_tile);
                let inverse = plan(log_n, true, max_tile);
                let layers = |p: &[FftLaunch]| -> Vec<u32> {
                    p.iter()
                        .flat_map(|l| match *l {
                            FftLaunch::Layer { layer } => vec![layer],
                            FftLaunch::Tile { tile_log } => (0..tile_log).rev().collect(),
                            FftLaunch::Scale { .. } => vec![],
                        })
                        .collect()
                };
                assert_eq!(layers(&forward), (0..log_n).rev().collect::<Vec<_>>());
                let mut inv = layers(&inverse);
                // A tile runs its layers upwards when inverse.
                let tile_log = log_n.min(max_tile);
                inv[..tile_log as usize].reverse();
                assert_eq!(inv, (0..log_n).collect::<Vec<_>>());
                assert!(matches!(inverse.last(), Some(FftLaunch::Scale { .. })));
            }
        }
    }

    #[test]
    fn launch_dims_cover_all_butterflies() {
        let d = FftLaunch::Layer { layer: 3 }.dims(10, 5);
        assert_eq!(d.grid.0 * d.block, 512);
        assert_eq!(d.grid.1, 5);
        let d = FftLaunch::Tile { tile_log: 4 }.dims(10, 1);
        assert_eq!((d.grid.0, d.block), (64, 8));
    }
}
