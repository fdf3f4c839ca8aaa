//! Helpers shared by the kernel tests: a seeded generator, stwo's wide-Fibonacci AIR, and a
//! runner that compiles CUDA kernel text as C++ and runs it on the host.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use num_traits::Zero;
use obelysk_cuda::constraints::ConstraintKernel;
use stwo::core::channel::Blake2sChannel;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::proof::StarkProof;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::prover::backend::BackendForChannel;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo::prover::{CommitmentSchemeProver, ComponentProver, prove};
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, TraceLocationAllocator,
};

/// Whether `OBELYSK_TEST_DEVICES` (a comma-separated list; default `host,cuda`) names `kind`:
/// a GPU machine without a C++ compiler runs only the CUDA half with `cuda`.
pub fn test_devices_include(kind: &str) -> bool {
    let devices = std::env::var("OBELYSK_TEST_DEVICES").unwrap_or_else(|_| "host,cuda".into());
    let included = devices.split(',').any(|d| d.trim() == kind);
    if !included {
        eprintln!("SKIP {kind} device: not in OBELYSK_TEST_DEVICES={devices} (not verified)");
    }
    included
}

/// xorshift64*: deterministic test data without another dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn m31(&mut self) -> BaseField {
        BaseField::from((self.next() >> 33) as u32 % 0x7fff_ffff)
    }

    pub fn qm31(&mut self) -> SecureField {
        SecureField::from_m31_array([self.m31(), self.m31(), self.m31(), self.m31()])
    }
}

/// stwo's wide-Fibonacci AIR: `c[i+2] = c[i]² + c[i+1]²` across `columns` columns.
#[derive(Clone)]
pub struct WideFib {
    pub log_size: u32,
    pub columns: usize,
}

impl FrameworkEval for WideFib {
    fn log_size(&self) -> u32 {
        self.log_size
    }
    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + 1
    }
    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let mut a = eval.next_trace_mask();
        let mut b = eval.next_trace_mask();
        for _ in 2..self.columns {
            let c = eval.next_trace_mask();
            eval.add_constraint(c.clone() - (a.clone() * a + b.clone() * b.clone()));
            a = b;
            b = c;
        }
        eval
    }
}

/// The wide-Fibonacci trace in natural row order: row `r` starts `(1, r)`.
pub fn wide_fib_columns(log_size: u32, n_columns: usize) -> Vec<Vec<BaseField>> {
    let rows = 1usize << log_size;
    let mut columns = vec![Vec::with_capacity(rows); n_columns];
    for row in 0..rows {
        let (mut a, mut b) = (BaseField::from(1), BaseField::from(row as u32));
        columns[0].push(a);
        columns[1].push(b);
        for column in columns.iter_mut().skip(2) {
            let c = a * a + b * b;
            column.push(c);
            (a, b) = (b, c);
        }
    }
    columns
}

/// The wide-Fibonacci component over `n_columns` columns of `2^log_size` rows.
pub fn component(log_size: u32, n_columns: usize) -> FrameworkComponent<WideFib> {
    FrameworkComponent::new(
        &mut TraceLocationAllocator::default(),
        WideFib {
            log_size,
            columns: n_columns,
        },
        SecureField::zero(),
    )
}

/// The proof configuration the backend tests use (stwo's default).
pub fn config() -> PcsConfig {
    PcsConfig::default()
}

/// A wide-Fibonacci proof on backend `B`.
pub fn prove_wide_fib<B: BackendForChannel<Blake2sMerkleChannel>>(
    log_size: u32,
    n_columns: usize,
) -> StarkProof<Blake2sMerkleHasher>
where
    FrameworkComponent<WideFib>: ComponentProver<B>,
{
    let config = config();
    let twiddles = B::precompute_twiddles(
        CanonicCoset::new(log_size + 1 + config.fri_config.log_blowup_factor)
            .circle_domain()
            .half_coset,
    );
    let channel = &mut Blake2sChannel::default();
    let mut scheme = CommitmentSchemeProver::<B, Blake2sMerkleChannel>::new(config, &twiddles);
    let tree = scheme.tree_builder();
    tree.commit(channel);
    let domain = CanonicCoset::new(log_size).circle_domain();
    let trace: Vec<CircleEvaluation<B, BaseField, BitReversedOrder>> =
        wide_fib_columns(log_size, n_columns)
            .into_iter()
            .map(|c| {
                let mut values: Vec<BaseField> = c;
                stwo::core::utils::bit_reverse(&mut values);
                CircleEvaluation::new(domain, values.into_iter().collect())
            })
            .collect();
    let mut tree = scheme.tree_builder();
    tree.extend_evals(trace);
    tree.commit(channel);
    let component = component(log_size, n_columns);
    prove::<B, Blake2sMerkleChannel>(&[&component], channel, scheme).expect("proof")
}

/// The proof as postcard bytes, to compare proofs byte for byte.
pub fn bytes(proof: &StarkProof<Blake2sMerkleHasher>) -> Vec<u8> {
    postcard::to_allocvec(proof).expect("serialise proof")
}

/// A C++ `main` that reads the kernel's inputs from a file, launches the kernel once per row
/// (blockDim = 1), and writes the four accumulator columns to stdout.
const HOST_DRIVER: &str = r#"
int main(int argc, char** argv) {
    FILE* in = fopen(argv[1], "rb");
    if (!in) return 2;
    u32 header[5];
    if (fread(header, 4, 5, in) != 5) return 3;
    u32 n_cols = header[0], n_coeffs = header[1], n_consts = header[2];
    u32 trace_log_size = header[3], eval_log_size = header[4];
    u32 n = 1u << eval_log_size;
    std::vector<std::vector<u32>> cols(n_cols, std::vector<u32>(n));
    for (auto& c : cols) if (fread(c.data(), 4, n, in) != n) return 4;
    std::vector<qm31> coeffs(n_coeffs + 1), consts(n_consts + 1);
    if (fread(coeffs.data(), 16, n_coeffs, in) != n_coeffs) return 5;
    if (fread(consts.data(), 16, n_consts, in) != n_consts) return 6;
    std::vector<u32> denom_inv(1u << (eval_log_size - trace_log_size));
    if (fread(denom_inv.data(), 4, denom_inv.size(), in) != denom_inv.size()) return 7;
    std::vector<const u32*> col_ptrs;
    for (auto& c : cols) col_ptrs.push_back(c.data());
    col_ptrs.push_back(nullptr);
    std::vector<u32> acc[4];
    for (auto& a : acc) a.assign(n, 0);
    blockDim.x = 1;
    threadIdx.x = 0;
    for (u32 row = 0; row < n; row++) {
        blockIdx.x = row;
        obelysk_constraint_quotients(col_ptrs.data(), coeffs.data(), consts.data(), denom_inv.data(),
            acc[0].data(), acc[1].data(), acc[2].data(), acc[3].data(), trace_log_size, eval_log_size);
    }
    for (auto& a : acc) fwrite(a.data(), 4, n, stdout);
    return 0;
}
"#;

fn scratch_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("host-kernels");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Compiles `kernel.source` with the host C++ compiler and runs it on the inputs; returns each
/// row's accumulated value. Panics with the compiler's message if it does not compile.
pub fn run_kernel_on_host(
    kernel: &ConstraintKernel,
    columns: &[Vec<BaseField>],
    coeffs: &[SecureField],
    denom_inv: &[BaseField],
    trace_log_size: u32,
    eval_log_size: u32,
) -> Vec<SecureField> {
    let dir = scratch_dir();
    let stem = format!("kernel-{:016x}", {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        kernel.source.hash(&mut h);
        h.finish()
    });
    let source_path = dir.join(format!("{stem}.cpp"));
    let binary_path = dir.join(&stem);
    let input_path = dir.join(format!("{stem}-{}.in", std::process::id()));
    std::fs::write(
        &source_path,
        format!(
            "#include <cstdio>\n#include <vector>\n{}\n{HOST_DRIVER}",
            kernel.source
        ),
    )
    .expect("write kernel source");
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let output = Command::new(&compiler)
        .args(["-std=c++20", "-O1", "-pthread", "-w", "-o"])
        .arg(&binary_path)
        .arg(&source_path)
        .output()
        .unwrap_or_else(|e| panic!("running the host C++ compiler `{compiler}`: {e}"));
    assert!(
        output.status.success(),
        "the kernel text does not compile as C++:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut input = Vec::new();
    let words = |w: &mut Vec<u8>, values: &[u32]| {
        for v in values {
            w.extend_from_slice(&v.to_le_bytes());
        }
    };
    let qm31_words = |values: &[SecureField]| -> Vec<u32> {
        values
            .iter()
            .flat_map(|v| v.to_m31_array().map(|m| m.0))
            .collect()
    };
    words(
        &mut input,
        &[
            columns.len() as u32,
            coeffs.len() as u32,
            kernel.constants().len() as u32,
            trace_log_size,
            eval_log_size,
        ],
    );
    for c in columns {
        words(&mut input, &c.iter().map(|m| m.0).collect::<Vec<_>>());
    }
    words(&mut input, &qm31_words(coeffs));
    words(&mut input, &qm31_words(kernel.constants()));
    words(
        &mut input,
        &denom_inv.iter().map(|m| m.0).collect::<Vec<_>>(),
    );
    std::fs::File::create(&input_path)
        .and_then(|mut f| f.write_all(&input))
        .expect("write kernel input");

    let run = Command::new(&binary_path)
        .arg(&input_path)
        .output()
        .expect("run host kernel");
    let _ = std::fs::remove_file(&input_path);
    assert!(
        run.status.success(),
        "host kernel exited with {:?}",
        run.status
    );
    let n = 1usize << eval_log_size;
    let out: Vec<u32> = run
        .stdout
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(out.len(), 4 * n, "host kernel output size");
    (0..n)
        .map(|row| {
            SecureField::from_m31_array(std::array::from_fn(|k| BaseField::from(out[k * n + row])))
        })
        .collect()
}
pub mod host;
