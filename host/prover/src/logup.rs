//! LogUp interaction columns.

use stwo::prover::backend::simd::m31::LOG_N_LANES;
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo_constraint_framework::LogupTraceGenerator;

/// Writes one interaction column of `numerator / denominator` for every packed row of a
/// component of `log_size` rows; `fraction(row)` gives the pair for packed row `row`.
pub fn fraction_column(
    logup: &mut LogupTraceGenerator,
    log_size: u32,
    fraction: impl Fn(usize) -> (PackedSecureField, PackedSecureField),
) {
    let mut column = logup.new_col();
    for row in 0..1 << (log_size - LOG_N_LANES) {
        let (numerator, denominator) = fraction(row);
        column.write_frac(row, numerator, denominator);
    }
    column.finalize_col();
}
