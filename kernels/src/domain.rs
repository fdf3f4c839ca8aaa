//! Host-side tables and constants the quotient and barycentric kernels read: domain point
//! coordinates, per-batch numerator terms, the barycentric constant.

use stwo::core::circle::{CirclePoint, CirclePointIndex, Coset};
use stwo::core::constraints::{coset_vanishing, coset_vanishing_derivative};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::quotients::{ColumnSampleBatch, quotient_constants};
use stwo::core::poly::circle::{CanonicCoset, CircleDomain};
use stwo::core::utils::bit_reverse_index;

/// The x and y coordinates of `domain`'s points in bit-reversed order (`xs[i]` is the x of
/// `domain.at(bit_reverse_index(i, log_size))`), as the kernels index rows.
pub fn point_tables(domain: CircleDomain) -> (Vec<u32>, Vec<u32>) {
    let log_size = domain.log_size();
    (0..domain.size())
        .map(|i| {
            let p = domain.at(bit_reverse_index(i, log_size));
            (p.x.0, p.y.0)
        })
        .unzip()
}

/// One sample batch as `quotient_numerators` takes it: which column each term reads, its `c`
/// coefficient, and `Σ b` over the terms; plus `Σ a`, the batch's first linear term.
pub struct NumeratorTerms {
    pub columns: Vec<u32>,
    pub c: Vec<SecureField>,
    pub b_sum: SecureField,
    pub first_linear_term: SecureField,
}

/// The terms of every batch, from stwo's own line coefficients.
pub fn numerator_terms(batches: &[ColumnSampleBatch]) -> Vec<NumeratorTerms> {
    let constants = quotient_constants(batches);
    batches
        .iter()
        .zip(constants.line_coeffs)
        .map(|(batch, coeffs)| NumeratorTerms {
            columns: batch
                .cols_vals_randpows
                .iter()
                .map(|d| u32::try_from(d.column_index).expect("column index fits u32"))
                .collect(),
            c: coeffs.iter().map(|&(_, _, c)| c).collect(),
            b_sum: coeffs.iter().map(|&(_, b, _)| b).sum(),
            first_linear_term: coeffs.iter().map(|&(a, _, _)| a).sum(),
        })
        .collect()
}

/// `K` of the barycentric weights `w_i = ±K / v_i(p)` on `coset`'s circle domain:
/// `Z(p) / (−2·q_0.y · Z'(q_0))` for the domain's first point `q_0`.
pub fn barycentric_constant(coset: CanonicCoset, p: CirclePoint<SecureField>) -> SecureField {
    let domain = coset.circle_domain();
    let q0 = domain.at(0).into_ef::<SecureField>();
    let derivative = coset_vanishing_derivative(
        Coset::new(CirclePointIndex::generator(), domain.log_size()),
        q0,
    );
    let s0 =
        SecureField::from(1u32) / ((q0.y * SecureField::from(-BaseField::from(2))) * derivative);
    s0 * coset_vanishing(coset.coset, p)
}
