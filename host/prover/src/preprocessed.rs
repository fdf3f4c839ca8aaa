//! The preprocessed tree: range tables, the byte table and `seq` columns (`obelysk_air::components::
//! preprocessed_columns`). It is the same for every program, so verifiers pin its root, and a
//! process builds it once per PCS configuration ([`simd_tree`]) and lends it to every proof.

use obelysk_air::components::byte_table;
use obelysk_air::components::{preprocessed_columns, preprocessed_log_sizes};
use stwo::core::fields::m31::BaseField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::poly::circle::CircleEvaluation;

use std::sync::{Mutex, OnceLock};

use stwo::core::utils::MaybeOwned;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::prover::CommitmentTreeProver;
use stwo::prover::backend::simd::SimdBackend;

use crate::Column;
use crate::interaction::Preprocessed;

/// The committed preprocessed tree on `SimdBackend`.
pub type SimdTree = CommitmentTreeProver<SimdBackend, Blake2sMerkleChannel>;

/// A column of `2^log_size` rows, row `i` holding `value(i)`.
fn column(log_size: u32, value: impl Fn(usize) -> u32) -> Column {
    let values: BaseColumn = (0..1usize << log_size)
        .map(|i| BaseField::from_u32_unchecked(value(i)))
        .collect();
    CircleEvaluation::new(CanonicCoset::new(log_size).circle_domain(), values)
}

/// Every preprocessed column, in tree order: the byte table's columns, and sequences
/// `0..2^k` for the rest (a range table's values, a boundary's addresses). Computed once per
/// process.
pub fn columns() -> &'static [Column] {
    static COLUMNS: OnceLock<Vec<Column>> = OnceLock::new();
    COLUMNS.get_or_init(compute_columns)
}

fn compute_columns() -> Vec<Column> {
    preprocessed_columns()
        .into_iter()
        .zip(preprocessed_log_sizes())
        .map(
            |(id, log_size)| match byte_table::COLUMNS.iter().position(|name| *name == id.id) {
                Some(k) => column(log_size, |i| byte_table::value(k, i)),
                None => column(log_size, |i| i as u32),
            },
        )
        .collect()
}

/// `columns` by id, for the interaction evaluator.
pub fn by_id(columns: &[Column]) -> Preprocessed<'_> {
    preprocessed_columns()
        .into_iter()
        .map(|id| id.id)
        .zip(columns)
        .collect()
}

/// The tree's root under `config` (what `obelysk_air::vm::pinned_preprocessed_root` pins),
/// committed afresh (not from [`simd_tree`]'s cache, so a test can compare the two).
pub fn root(config: PcsConfig) -> [u8; 32] {
    build_simd_tree(config).commitment.root().0
}

/// The preprocessed tree under `config` on `SimdBackend`, committed the first time a
/// configuration is asked for and kept for the life of the process (one per security
/// preset, tens of MB each), so a proof does not pay the ~1 s of committing it again.
pub fn simd_tree(config: PcsConfig) -> &'static SimdTree {
    static TREES: Mutex<Vec<(PcsConfig, &'static SimdTree)>> = Mutex::new(Vec::new());
    let mut trees = TREES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, tree)) = trees.iter().find(|(c, _)| *c == config) {
        return tree;
    }
    let tree: &'static SimdTree = Box::leak(Box::new(build_simd_tree(config)));
    trees.push((config, tree));
    tree
}

/// Commits the preprocessed columns under `config` with stwo's own tree builder, and takes
/// the tree out of the scheme.
fn build_simd_tree(config: PcsConfig) -> SimdTree {
    let twiddles = crate::twiddles::simd(crate::Prover::<SimdBackend>::twiddles_log_domain(
        config,
        *preprocessed_log_sizes().iter().max().expect("columns"),
    ));
    let mut prover = crate::Prover::new(config, &twiddles);
    // As every SIMD proof that borrows the tree does (`ProverBackend::KEEPS_COEFFICIENTS`).
    prover.keep_coefficients();
    prover.commit(columns().to_vec());
    match prover.into_trees().pop() {
        Some(MaybeOwned::Owned(tree)) => tree,
        _ => unreachable!("the scheme owns the one tree it just committed"),
    }
}
