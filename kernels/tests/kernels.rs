//! The hand-written kernels (`cuda/*.cu`), built as C++ and run on the CPU by the host launcher
//! (blocks in turn, each block's threads concurrently), against stwo's CPU and SIMD backends on
//! random inputs: bit reversal, circle FFT (evaluate, interpolate, in global layers and in
//! shared-memory tiles, batched columns), lifted Blake2s Merkle leaves and layers, proof of
//! work, FRI folds, lifted accumulation, FRI quotients (numerators and combination), barycentric out-of-domain
//! evaluation (weights and block sums).

mod common;

use common::Rng;
use common::host::{HostModule, Shared};
use obelysk_cuda::domain;
use obelysk_cuda::fft::{self, FftLaunch};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::{ColumnSampleBatch, NumeratorData};
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::poly::line::LineDomain;
use stwo::core::poly::utils::domain_line_twiddles_from_tree;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::utils::bit_reverse;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::{Column, CpuBackend};
use stwo::prover::fri::FriOps;
use stwo::prover::line::LineEvaluation;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::{CircleCoefficients, CircleEvaluation, PolyOps, SecureEvaluation};
use stwo::prover::secure_column::SecureColumnByCoords;
use stwo::prover::vcs_lifted::ops::MerkleOpsLifted;
use stwo::prover::{AccumulationOps, QuotientOps};

/// QM31 as kernels take it by value.
#[repr(C)]
#[derive(Clone, Copy)]
struct Qm31([u32; 4]);

impl From<SecureField> for Qm31 {
    fn from(v: SecureField) -> Self {
        Qm31(v.to_m31_array().map(|m| m.0))
    }
}

fn words(values: &[BaseField]) -> Vec<u32> {
    values.iter().map(|v| v.0).collect()
}

fn random_column(rng: &mut Rng, log_size: u32) -> Vec<BaseField> {
    (0..1 << log_size).map(|_| rng.m31()).collect()
}

#[test]
fn bit_reverse_matches_stwo() {
    let module = HostModule::build("bit_reverse.cu");
    let kernel: unsafe extern "C" fn(*mut u32, u32) = module.kernel("bit_reverse_u32");
    let mut rng = Rng::new(10);
    for log_size in [1, 4, 9, 12] {
        let column = random_column(&mut rng, log_size);
        let mut expected = column.clone();
        bit_reverse(&mut expected);
        let mut actual = words(&column);
        let ptr = Shared(actual.as_mut_ptr());
        let n = 1u32 << log_size;
        module.launch((n.div_ceil(256), 1), 256.min(n), || unsafe {
            kernel(ptr.get(), log_size)
        });
        assert_eq!(actual, words(&expected), "2^{log_size}");
    }
}

type FftKernel = unsafe extern "C" fn(*const *mut u32, *const u32, u32, u32, u32);

/// Runs a planned forward or inverse transform on a batch of columns.
fn run_fft(
    module: &HostModule,
    columns: &mut [Vec<u32>],
    twiddles: &[u32],
    log_n: u32,
    inverse: bool,
    max_tile_log: u32,
) {
    let layer: FftKernel = module.kernel("fft_layer");
    let tile: FftKernel = module.kernel("fft_tile");
    let scale: unsafe extern "C" fn(*const *mut u32, u32, u32) = module.kernel("scale_columns");
    let pointers: Vec<*mut u32> = columns.iter_mut().map(|c| c.as_mut_ptr()).collect();
    let (cols, tw) = (
        Shared(pointers.as_ptr() as *mut *mut u32),
        Shared(twiddles.as_ptr() as *mut u32),
    );
    for launch in fft::plan(log_n, inverse, max_tile_log) {
        let dims = launch.dims(log_n, columns.len() as u32);
        let inverse = inverse as u32;
        match launch {
            FftLaunch::Layer { layer: i } => module.launch(dims.grid, dims.block, || unsafe {
                layer(cols.get(), tw.get(), log_n, i, inverse)
            }),
            FftLaunch::Tile { tile_log } => {
                module.launch_cooperative(dims.grid, dims.block, || unsafe {
                    tile(cols.get(), tw.get(), log_n, tile_log, inverse)
                })
            }
            FftLaunch::Scale { factor } => module.launch(dims.grid, dims.block, || unsafe {
                scale(cols.get(), 1 << log_n, factor)
            }),
        }
    }
}

#[test]
fn circle_fft_matches_stwo_evaluate_and_interpolate() {
    let module = HostModule::build("fft.cu");
    let mut rng = Rng::new(11);
    // One twiddle tree for a larger coset than any domain, as the prover keeps one.
    let tree = CpuBackend::precompute_twiddles(CanonicCoset::new(14).circle_domain().half_coset);
    for log_n in [3, 4, 7, 10, 12] {
        for max_tile_log in [3, 5, fft::MAX_TILE_LOG] {
            let domain = CanonicCoset::new(log_n).circle_domain();
            // Evaluate: polynomials of half the domain size (an LDE), three columns at once.
            let polys: Vec<CircleCoefficients<CpuBackend>> = (0..3)
                .map(|_| {
                    let mut coeffs = random_column(&mut rng, log_n - 1);
                    coeffs.resize(1 << log_n, BaseField::from(0));
                    CircleCoefficients::new(coeffs)
                })
                .collect();
            let expected: Vec<Vec<u32>> = polys
                .iter()
                .map(|p| words(&CpuBackend::evaluate(p, domain, &tree).values))
                .collect();
            let mut columns: Vec<Vec<u32>> = polys.iter().map(|p| words(&p.coeffs)).collect();
            let twiddles = fft::packed_twiddles(domain, &tree.twiddles);
            run_fft(&module, &mut columns, &twiddles, log_n, false, max_tile_log);
            assert_eq!(
                columns, expected,
                "evaluate 2^{log_n}, tiles of 2^{max_tile_log}"
            );

            // Interpolate random evaluations.
            let evals: Vec<Vec<BaseField>> =
                (0..2).map(|_| random_column(&mut rng, log_n)).collect();
            let expected: Vec<Vec<u32>> = evals
                .iter()
                .map(|e| {
                    let eval =
                        CircleEvaluation::<CpuBackend, _, BitReversedOrder>::new(domain, e.clone());
                    words(&CpuBackend::interpolate(eval, &tree).coeffs)
                })
                .collect();
            let mut columns: Vec<Vec<u32>> = evals.iter().map(|e| words(e)).collect();
            let itwiddles = fft::packed_twiddles(domain, &tree.itwiddles);
            run_fft(&module, &mut columns, &itwiddles, log_n, true, max_tile_log);
            assert_eq!(
                columns, expected,
                "interpolate 2^{log_n}, tiles of 2^{max_tile_log}"
            );
        }
    }
}

fn hash_words(hash: &stwo::core::vcs::blake2_hash::Blake2sHash) -> [u32; 8] {
    std::array::from_fn(|i| u32::from_le_bytes(hash.0[4 * i..4 * i + 4].try_into().unwrap()))
}

#[test]
fn lifted_merkle_leaves_and_layers_match_stwo() {
    let module = HostModule::build("merkle.cu");
    let leaves_kernel: unsafe extern "C" fn(*const *const u32, *const u32, u32, u32, *mut u32) =
        module.kernel("merkle_leaves");
    let layer_kernel: unsafe extern "C" fn(*const u32, *mut u32, u32) =
        module.kernel("merkle_layer");
    let mut rng = Rng::new(12);
    // Column sizes in increasing order (as stwo commits them); 0, 15, 16, 17, 33 columns cross
    // the 16-word block boundary in every way.
    for (n_columns, max_log) in [(1, 4), (15, 6), (16, 6), (17, 7), (33, 8)] {
        for extra_lift in [0, 2] {
            let log_sizes: Vec<u32> = (0..n_columns)
                .map(|i| 1 + (i as u32 * (max_log - 1)) / (n_columns as u32).max(1))
                .map(|l| l.min(max_log))
                .collect();
            let columns: Vec<Vec<BaseField>> = log_sizes
                .iter()
                .map(|&l| random_column(&mut rng, l))
                .collect();
            let lifting_log_size = max_log + extra_lift;
            let refs: Vec<&Vec<BaseField>> = columns.iter().collect();
            let expected = <CpuBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_leaves(
                &refs,
                lifting_log_size,
            );

            let host_columns: Vec<Vec<u32>> = columns.iter().map(|c| words(c)).collect();
            let pointers: Vec<*const u32> = host_columns.iter().map(|c| c.as_ptr()).collect();
            let mut leaves = vec![0u32; 8 << lifting_log_size];
            let (cols, sizes, out) = (
                Shared(pointers.as_ptr() as *mut *const u32),
                Shared(log_sizes.as_ptr() as *mut u32),
                Shared(leaves.as_mut_ptr()),
            );
            let n = 1u32 << lifting_log_size;
            module.launch((n.div_ceil(64), 1), 64.min(n), || unsafe {
                leaves_kernel(
                    cols.get(),
                    sizes.get(),
                    n_columns as u32,
                    lifting_log_size,
                    out.get(),
                )
            });
            let expected_words: Vec<u32> = expected.iter().flat_map(hash_words).collect();
            assert_eq!(
                leaves, expected_words,
                "{n_columns} columns lifted to 2^{lifting_log_size}"
            );

            // The layers above, up to the root.
            let mut layer = expected;
            let mut layer_words = leaves;
            while layer.len() > 1 {
                layer =
                    <CpuBackend as MerkleOpsLifted<Blake2sMerkleHasher>>::build_next_layer(&layer);
                let n_parents = layer.len() as u32;
                let mut parents = vec![0u32; 8 * layer.len()];
                let (children, out) = (
                    Shared(layer_words.as_mut_ptr()),
                    Shared(parents.as_mut_ptr()),
                );
                module.launch((n_parents.div_ceil(64), 1), 64.min(n_parents), || unsafe {
                    layer_kernel(children.get(), out.get(), n_parents)
                });
                assert_eq!(
                    parents,
                    layer.iter().flat_map(hash_words).collect::<Vec<_>>()
                );
                layer_words = parents;
            }
        }
    }
}

#[test]
fn proof_of_work_finds_the_nonce_stwo_finds() {
    let module = HostModule::build("merkle.cu");
    let grind: unsafe extern "C" fn(*const u32, u32, u32, *mut u32) =
        module.kernel("grind_blake2s");
    let mut rng = Rng::new(13);
    for pow_bits in [1, 5, 10, 14] {
        let mut channel = Blake2sChannel::default();
        channel.mix_u64(rng.next());
        let expected = <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel, pow_bits);

        let prefixed = obelysk_cuda::grind::prefixed_digest(&channel, pow_bits);
        let nonce = obelysk_cuda::grind::search(|hi| {
            let mut best = u32::MAX;
            let (digest, out) = (
                Shared(prefixed.as_ptr() as *mut u32),
                Shared(&mut best as *mut u32),
            );
            module.launch(((1 << 20) / 256, 1), 256, || unsafe {
                grind(digest.get(), hi, pow_bits, out.get())
            });
            (best != u32::MAX).then_some(best)
        });
        assert_eq!(nonce, expected, "pow_bits {pow_bits}");
        assert!(channel.verify_pow_nonce(pow_bits, nonce));
    }
}

type FoldKernel = unsafe extern "C" fn(*const *const u32, *const *mut u32, *const u32, Qm31, u32);

fn run_fold(
    module: &HostModule,
    src: &SecureColumnByCoords<CpuBackend>,
    itwiddles: &[u32],
    alpha: SecureField,
) -> Vec<SecureField> {
    let kernel: FoldKernel = module.kernel("fri_fold");
    let n_dst = (src.len() / 2) as u32;
    let src_cols: Vec<Vec<u32>> = src.columns.iter().map(|c| words(c)).collect();
    let src_ptrs: Vec<*const u32> = src_cols.iter().map(|c| c.as_ptr()).collect();
    let mut dst_cols = vec![vec![0u32; n_dst as usize]; 4];
    let dst_ptrs: Vec<*mut u32> = dst_cols.iter_mut().map(|c| c.as_mut_ptr()).collect();
    let (s, d, t) = (
        Shared(src_ptrs.as_ptr() as *mut *const u32),
        Shared(dst_ptrs.as_ptr() as *mut *mut u32),
        Shared(itwiddles.as_ptr() as *mut u32),
    );
    let alpha = Qm31::from(alpha);
    module.launch((n_dst.div_ceil(64), 1), 64.min(n_dst), || unsafe {
        kernel(s.get(), d.get(), t.get(), alpha, n_dst)
    });
    (0..n_dst as usize)
        .map(|i| {
            SecureField::from_m31_array(std::array::from_fn(|k| BaseField::from(dst_cols[k][i])))
        })
        .collect()
}

#[test]
fn fri_folds_match_stwo() {
    let module = HostModule::build("fri.cu");
    let mut rng = Rng::new(14);
    let tree = CpuBackend::precompute_twiddles(CanonicCoset::new(12).circle_domain().half_coset);
    for log_n in [3, 6, 10] {
        let domain = CanonicCoset::new(log_n).circle_domain();
        let values: SecureColumnByCoords<CpuBackend> =
            (0..1 << log_n).map(|_| rng.qm31()).collect();
        let alpha = rng.qm31();

        // Circle into line: the circle layer's inverse twiddles.
        let circle = SecureEvaluation::<CpuBackend, BitReversedOrder>::new(domain, values);
        let expected = CpuBackend::fold_circle_into_line(&circle, alpha, &tree);
        let circle_itw = &fft::packed_twiddles(domain, &tree.itwiddles)[..1 << (log_n - 1)];
        let actual = run_fold(&module, &circle.values, circle_itw, alpha);
        assert_eq!(
            actual,
            expected.values.to_vec(),
            "circle into line, 2^{log_n}"
        );

        // Line into line, on the domain the circle fold produced.
        let line: LineEvaluation<CpuBackend> = expected;
        let line_domain: LineDomain = line.domain();
        let expected = CpuBackend::fold_line(&line, alpha, &tree, 1);
        let line_itw = words(domain_line_twiddles_from_tree(line_domain, &tree.itwiddles)[0]);
        let actual = run_fold(&module, &line.values, &line_itw, alpha);
        assert_eq!(actual, expected.values.to_vec(), "line, 2^{}", log_n - 1);
    }
}

type NumeratorKernel = unsafe extern "C" fn(
    *const *const u32,
    *const u32,
    *const Qm31,
    u32,
    Qm31,
    *mut u32,
    *mut u32,
    *mut u32,
    *mut u32,
    u32,
);
type CombineKernel = unsafe extern "C" fn(
    *const *const u32,
    *const u32,
    *const Qm31,
    *const Qm31,
    u32,
    *const u32,
    *const u32,
    *mut u32,
    *mut u32,
    *mut u32,
    *mut u32,
    u32,
);

fn secure_column(coords: &[Vec<u32>; 4]) -> Vec<SecureField> {
    (0..coords[0].len())
        .map(|i| {
            SecureField::from_m31_array(std::array::from_fn(|k| BaseField::from(coords[k][i])))
        })
        .collect()
}

#[test]
fn fri_quotients_match_stwo() {
    let module = HostModule::build("quotients.cu");
    let numerators: NumeratorKernel = module.kernel("quotient_numerators");
    let combine: CombineKernel = module.kernel("quotient_combine");
    let mut rng = Rng::new(15);
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(rng.next());
    let log_size = 7;
    let domain = CanonicCoset::new(log_size).circle_domain();
    // Two column groups: 2^7 rows and 2^6 rows (lifted in the combination).
    let groups: Vec<(u32, Vec<Vec<BaseField>>)> = vec![
        (
            log_size,
            (0..5).map(|_| random_column(&mut rng, log_size)).collect(),
        ),
        (
            log_size - 1,
            (0..3)
                .map(|_| random_column(&mut rng, log_size - 1))
                .collect(),
        ),
    ];

    let mut expected = Vec::new();
    let mut actual_numerators = Vec::new();
    for (group_log_size, columns) in &groups {
        let group_domain = CanonicCoset::new(*group_log_size).circle_domain();
        let evals: Vec<CircleEvaluation<CpuBackend, BaseField, BitReversedOrder>> = columns
            .iter()
            .map(|c| CircleEvaluation::new(group_domain, c.clone()))
            .collect();
        let refs: Vec<_> = evals.iter().collect();
        // Two sample points; the first samples every column, the second some.
        let batches: Vec<ColumnSampleBatch> = (0..2)
            .map(|b| ColumnSampleBatch {
                point: CirclePoint::get_random_point(&mut channel),
                cols_vals_randpows: (0..columns.len())
                    .filter(|i| b == 0 || i % 2 == 1)
                    .map(|column_index| NumeratorData {
                        column_index,
                        sample_value: rng.qm31(),
                        random_coeff: rng.qm31(),
                    })
                    .collect(),
            })
            .collect();
        CpuBackend::accumulate_numerators(&refs, &batches, &mut expected, 0);

        let host_columns: Vec<Vec<u32>> = columns.iter().map(|c| words(c)).collect();
        let pointers: Vec<*const u32> = host_columns.iter().map(|c| c.as_ptr()).collect();
        for (terms, batch) in domain::numerator_terms(&batches).into_iter().zip(&batches) {
            let n_rows = 1u32 << group_log_size;
            let mut out: [Vec<u32>; 4] = std::array::from_fn(|_| vec![0; n_rows as usize]);
            let c: Vec<Qm31> = terms.c.iter().map(|&v| v.into()).collect();
            let (cols, idx, cs) = (
                Shared(pointers.as_ptr() as *mut *const u32),
                Shared(terms.columns.as_ptr() as *mut u32),
                Shared(c.as_ptr() as *mut Qm31),
            );
            let o: [Shared<u32>; 4] = std::array::from_fn(|k| Shared(out[k].as_mut_ptr()));
            let b_sum = Qm31::from(terms.b_sum);
            let n_terms = c.len() as u32;
            module.launch((n_rows.div_ceil(64), 1), 64.min(n_rows), || unsafe {
                numerators(
                    cols.get(),
                    idx.get(),
                    cs.get(),
                    n_terms,
                    b_sum,
                    o[0].get(),
                    o[1].get(),
                    o[2].get(),
                    o[3].get(),
                    n_rows,
                )
            });
            actual_numerators.push((batch.point, *group_log_size, terms.first_linear_term, out));
        }
    }
    assert_eq!(expected.len(), actual_numerators.len());
    for (e, (point, _, first_linear, out)) in expected.iter().zip(&actual_numerators) {
        assert_eq!(e.sample_point, *point);
        assert_eq!(e.first_linear_term_acc, *first_linear);
        assert_eq!(
            e.partial_numerators_acc.to_vec(),
            secure_column(out),
            "partial numerators"
        );
    }

    // The combination over the whole domain (blowup 0, so stwo's interpolate-and-evaluate
    // round trip is the identity and its output is the kernel's).
    let twiddles = CpuBackend::precompute_twiddles(domain.half_coset);
    let expected = CpuBackend::compute_quotients_and_combine(expected, log_size, 0, &twiddles);
    let (xs, ys) = domain::point_tables(domain);
    let num_ptrs: Vec<*const u32> = actual_numerators
        .iter()
        .flat_map(|(.., out)| out.iter().map(|c| c.as_ptr()))
        .collect();
    let log_sizes: Vec<u32> = actual_numerators.iter().map(|(_, l, ..)| *l).collect();
    let first: Vec<Qm31> = actual_numerators
        .iter()
        .map(|(_, _, f, _)| (*f).into())
        .collect();
    let points: Vec<Qm31> = actual_numerators
        .iter()
        .flat_map(|(p, ..)| [p.x.into(), p.y.into()])
        .collect();
    let n = 1u32 << log_size;
    let mut out: [Vec<u32>; 4] = std::array::from_fn(|_| vec![0; n as usize]);
    let o: [Shared<u32>; 4] = std::array::from_fn(|k| Shared(out[k].as_mut_ptr()));
    let (nums, sizes, fl, pts, x, y) = (
        Shared(num_ptrs.as_ptr() as *mut *const u32),
        Shared(log_sizes.as_ptr() as *mut u32),
        Shared(first.as_ptr() as *mut Qm31),
        Shared(points.as_ptr() as *mut Qm31),
        Shared(xs.as_ptr() as *mut u32),
        Shared(ys.as_ptr() as *mut u32),
    );
    let n_acc = first.len() as u32;
    module.launch((n.div_ceil(64), 1), 64, || unsafe {
        combine(
            nums.get(),
            sizes.get(),
            fl.get(),
            pts.get(),
            n_acc,
            x.get(),
            y.get(),
            o[0].get(),
            o[1].get(),
            o[2].get(),
            o[3].get(),
            log_size,
        )
    });
    assert_eq!(secure_column(&out), expected.values.to_vec());
}

#[test]
fn barycentric_out_of_domain_evaluation_matches_stwo() {
    let module = HostModule::build("barycentric.cu");
    let weights_kernel: unsafe extern "C" fn(
        *const u32,
        *const u32,
        Qm31,
        Qm31,
        Qm31,
        *mut Qm31,
        u32,
    ) = module.kernel("barycentric_weights");
    let sums_kernel: unsafe extern "C" fn(*const *const u32, *const Qm31, u32, *mut Qm31) =
        module.kernel("barycentric_partial_sums");
    let mut rng = Rng::new(16);
    let mut channel = Blake2sChannel::default();
    channel.mix_u64(rng.next());
    for log_size in [3, 5, 9, 11, 14, 17] {
        let coset = CanonicCoset::new(log_size);
        let domain = coset.circle_domain();
        let p = CirclePoint::<SecureField>::get_random_point(&mut channel);
        let expected_weights = SimdBackend::barycentric_weights(coset, p).to_cpu();

        let (xs, ys) = domain::point_tables(domain);
        let n = 1u32 << log_size;
        let mut weights = vec![Qm31([0; 4]); n as usize];
        let (x, y, w) = (
            Shared(xs.as_ptr() as *mut u32),
            Shared(ys.as_ptr() as *mut u32),
            Shared(weights.as_mut_ptr()),
        );
        let k = Qm31::from(domain::barycentric_constant(coset, p));
        let (px, py) = (Qm31::from(p.x), Qm31::from(p.y));
        module.launch((n.div_ceil(64), 1), 64.min(n), || unsafe {
            weights_kernel(x.get(), y.get(), px, py, k, w.get(), n)
        });
        let weights_field: Vec<SecureField> = weights
            .iter()
            .map(|q| SecureField::from_m31_array(q.0.map(BaseField::from)))
            .collect();
        assert_eq!(weights_field, expected_weights, "weights 2^{log_size}");

        // Two columns at once; 3 blocks so blocks stride over the domain.
        let columns: Vec<Vec<BaseField>> =
            (0..2).map(|_| random_column(&mut rng, log_size)).collect();
        let host_columns: Vec<Vec<u32>> = columns.iter().map(|c| words(c)).collect();
        let pointers: Vec<*const u32> = host_columns.iter().map(|c| c.as_ptr()).collect();
        let blocks = 3u32;
        let mut partials = vec![Qm31([0; 4]); (blocks * 2) as usize];
        let (cols, ws, out) = (
            Shared(pointers.as_ptr() as *mut *const u32),
            Shared(weights.as_mut_ptr()),
            Shared(partials.as_mut_ptr()),
        );
        module.launch_cooperative((blocks, 2), 256, || unsafe {
            sums_kernel(cols.get(), ws.get(), n, out.get())
        });
        for (c, column) in columns.iter().enumerate() {
            let value: SecureField = partials[c * blocks as usize..(c + 1) * blocks as usize]
                .iter()
                .map(|q| SecureField::from_m31_array(q.0.map(BaseField::from)))
                .sum();
            let eval = CircleEvaluation::<CpuBackend, BaseField, BitReversedOrder>::new(
                domain,
                column.clone(),
            );
            let expected = eval.interpolate().eval_at_point(p);
            assert_eq!(value, expected, "f(p) on 2^{log_size}");
        }
    }
}

#[test]
fn lifted_accumulation_matches_stwo() {
    let module = HostModule::build("accumulate.cu");
    let kernel: unsafe extern "C" fn(*const *mut u32, *const *const u32, u32, u32) =
        module.kernel("accumulate_lifted");
    let mut rng = Rng::new(17);
    let log_sizes = [1, 3, 4, 7];
    let columns: Vec<SecureColumnByCoords<CpuBackend>> = log_sizes
        .iter()
        .map(|&l| (0..1 << l).map(|_| rng.qm31()).collect())
        .collect();
    let expected = CpuBackend::lift_and_accumulate(columns.clone()).unwrap();

    // Everything into the largest column, in place.
    let host: Vec<Vec<Vec<u32>>> = columns
        .iter()
        .map(|c| c.columns.iter().map(|coord| words(coord)).collect())
        .collect();
    let (last, rest) = host.split_last().unwrap();
    let mut dst = last.clone();
    let dst_ptrs: Vec<*mut u32> = dst.iter_mut().map(|c| c.as_mut_ptr()).collect();
    let top = *log_sizes.last().unwrap();
    for (src, &src_log) in rest.iter().zip(&log_sizes) {
        let src_ptrs: Vec<*const u32> = src.iter().map(|c| c.as_ptr()).collect();
        let (d, s) = (
            Shared(dst_ptrs.as_ptr() as *mut *mut u32),
            Shared(src_ptrs.as_ptr() as *mut *const u32),
        );
        module.launch((2, 1), 64, || unsafe {
            kernel(d.get(), s.get(), top, src_log)
        });
    }
    let coords: [Vec<u32>; 4] = dst.try_into().unwrap();
    assert_eq!(secure_column(&coords), expected.to_vec());

    // Equal sizes: plain accumulate.
    let mut a = columns[3].clone();
    CpuBackend::accumulate(&mut a, &columns[3]);
    let mut twice: Vec<Vec<u32>> = host[3].clone();
    let dst_ptrs: Vec<*mut u32> = twice.iter_mut().map(|c| c.as_mut_ptr()).collect();
    let src_ptrs: Vec<*const u32> = host[3].iter().map(|c| c.as_ptr()).collect();
    let (d, s) = (
        Shared(dst_ptrs.as_ptr() as *mut *mut u32),
        Shared(src_ptrs.as_ptr() as *mut *const u32),
    );
    module.launch((2, 1), 64, || unsafe { kernel(d.get(), s.get(), top, top) });
    let coords: [Vec<u32>; 4] = twice.try_into().unwrap();
    assert_eq!(secure_column(&coords), a.to_vec());
}
