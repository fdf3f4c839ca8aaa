//! The preprocessed tree: range tables, the byte table and `seq` columns (`obelysk_air::components::
//! preprocessed_columns`). It is the same for every program, so verifiers pin its root.

use obelysk_air::components::byte_table;
use obelysk_air::components::{preprocessed_columns, preprocessed_log_sizes};
use stwo::core::fields::m31::BaseField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::poly::circle::CircleEvaluation;

use crate::Column;
use crate::interaction::Preprocessed;

/// A column of `2^log_size` rows, row `i` holding `value(i)`.
fn column(log_size: u32, value: impl Fn(usize) -> u32) -> Column {
    let values: BaseColumn = (0..1usize << log_size)
        .map(|i| BaseField::from_u32_unchecked(value(i)))
        .collect();
    CircleEvaluation::new(CanonicCoset::new(log_size).circle_domain(), values)
}

/// Every preprocessed column, in tree order: the byte table's columns, and sequences
/// `0..2^k` for the rest (a range table's values, a boundary's addresses).
pub fn columns() -> Vec<Column> {
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
