//! Trace generation for the `range16` table (`obelysk_air::components::range_check`).

use obelysk_air::components::range_check::{RANGE16_BITS, Range16};
use stwo::core::ColumnVec;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo_constraint_framework::{LogupTraceGenerator, Relation};

/// A column of a trace, as stwo commits it.
pub type Column = CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>;

/// How often each value in `[0, 2^16)` is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range16Counts(Vec<u32>);

/// A value that cannot be range-checked because it is not below 2^16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not below 2^16")]
pub struct OutOfRange(pub u32);

impl Default for Range16Counts {
    fn default() -> Self {
        Range16Counts(vec![0; 1 << RANGE16_BITS])
    }
}

impl Range16Counts {
    /// Records one lookup of `value`.
    pub fn add(&mut self, value: u32) -> Result<(), OutOfRange> {
        let slot = self.0.get_mut(value as usize).ok_or(OutOfRange(value))?;
        *slot += 1;
        Ok(())
    }

    /// The count of every value, in table order.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// Mutable counts (for tests that forge a table).
    pub fn as_mut_slice(&mut self) -> &mut [u32] {
        &mut self.0
    }
}

fn column(log_size: u32, values: impl IntoIterator<Item = BaseField>) -> Column {
    let values: BaseColumn = values.into_iter().collect();
    CircleEvaluation::new(CanonicCoset::new(log_size).circle_domain(), values)
}

/// The preprocessed column `0, 1, …, 2^16 − 1`.
pub fn preprocessed_column() -> Column {
    column(
        RANGE16_BITS,
        (0..1u32 << RANGE16_BITS).map(BaseField::from_u32_unchecked),
    )
}

/// The table's main trace: one multiplicity column.
pub fn main_trace(counts: &Range16Counts) -> Column {
    column(
        RANGE16_BITS,
        counts.0.iter().map(|&m| BaseField::from_u32_unchecked(m)),
    )
}

/// The table's interaction trace and its claimed LogUp sum: `Σ −multiplicity / Range16(value)`.
pub fn interaction_trace(
    counts: &Range16Counts,
    lookup: &Range16,
) -> (ColumnVec<Column>, SecureField) {
    let values = preprocessed_column();
    let multiplicities = main_trace(counts);
    let mut logup = LogupTraceGenerator::new(RANGE16_BITS);
    crate::logup::fraction_column(&mut logup, RANGE16_BITS, |row| {
        let denominator: PackedSecureField = lookup.combine(&[values.values.data[row]]);
        (
            -PackedSecureField::from(multiplicities.values.data[row]),
            denominator,
        )
    });
    logup.finalize_last()
}

/// The commitment root of the preprocessed tree (the `range16` column) under `config`: what a
/// verifier pins (see `obelysk_air::components::range_check::pinned_preprocessed_root`).
pub fn preprocessed_root(config: stwo::core::pcs::PcsConfig) -> [u8; 32] {
    use stwo::core::channel::Blake2sChannel;
    use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
    use stwo::prover::CommitmentSchemeProver;
    use stwo::prover::poly::circle::PolyOps;
    let twiddles = SimdBackend::precompute_twiddles(
        CanonicCoset::new(RANGE16_BITS + 1 + config.fri_config.log_blowup_factor)
            .circle_domain()
            .half_coset,
    );
    let mut scheme =
        CommitmentSchemeProver::<SimdBackend, Blake2sMerkleChannel>::new(config, &twiddles);
    let mut tree = scheme.tree_builder();
    tree.extend_evals(vec![preprocessed_column()]);
    tree.commit(&mut Blake2sChannel::default());
    scheme.roots()[0].0
}
