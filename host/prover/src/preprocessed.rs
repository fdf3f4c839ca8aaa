//! The preprocessed tree: range tables and `seq` columns (`obelysk_air::components::
//! preprocessed_columns`). It is the same for every program, so verifiers pin its root.

use obelysk_air::components::{preprocessed_columns, preprocessed_log_sizes};
use stwo::core::fields::m31::BaseField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::poly::circle::CircleEvaluation;

use crate::Column;
use crate::interaction::Preprocessed;

/// A column of `0, 1, …, 2^log_size − 1`.
fn sequence(log_size: u32) -> Column {
    let values: BaseColumn = (0..1u32 << log_size)
        .map(BaseField::from_u32_unchecked)
        .collect();
    CircleEvaluation::new(CanonicCoset::new(log_size).circle_domain(), values)
}

/// Every preprocessed column, in tree order. (Each is a sequence: a range table's values are
/// `0..2^bits`, a boundary's addresses `0..2^k`.)
pub fn columns() -> Vec<Column> {
    preprocessed_log_sizes().into_iter().map(sequence).collect()
}

/// `columns` by id, for the interaction evaluator.
pub fn by_id(columns: &[Column]) -> Preprocessed<'_> {
    preprocessed_columns()
        .into_iter()
        .map(|id| id.id)
        .zip(columns)
        .collect()
}

/// The tree's root under `config` (what `obelysk_air::vm::pinned_preprocessed_root` pins).
pub fn root(config: PcsConfig) -> [u8; 32] {
    let twiddles = crate::Prover::twiddles(
        config,
        *preprocessed_log_sizes().iter().max().expect("columns"),
    );
    let mut prover = crate::Prover::new(config, &twiddles);
    prover.commit(columns());
    prover.roots()[0]
}
