// FRI quotients, as stwo's CPU backend computes them (QuotientOps). Secure columns are four M31
// coordinate columns. Circle-domain points come from tables of their x and y coordinates in
// bit-reversed order (computed once per domain by the host).
#include "field.cuh"

OBELYSK_FN qm31 qm31_mul_cm31(qm31 x, cm31 c) {
    return qm31_make(cm31_mul(qm31_lo(x), c), cm31_mul(qm31_hi(x), c));
}

// One sample batch's partial numerators on the evaluation subdomain (its first n_rows rows):
// out[row] = Σ_k c_k · columns[term_columns[k]][row] − b_sum.
extern "C" __global__ void quotient_numerators(
    const u32* const* __restrict__ columns,
    const u32* __restrict__ term_columns,
    const qm31* __restrict__ term_c,
    u32 n_terms,
    qm31 b_sum,
    u32* __restrict__ out0, u32* __restrict__ out1, u32* __restrict__ out2, u32* __restrict__ out3,
    u32 n_rows)
{
    u32 row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= n_rows) return;
    qm31 acc = qm31_neg(b_sum);
    for (u32 k = 0; k < n_terms; k++) {
        acc = qm31_add(acc, qm31_mul_m31(term_c[k], columns[term_columns[k]][row]));
    }
    out0[row] = acc.a; out1[row] = acc.b; out2[row] = acc.c; out3[row] = acc.d;
}

// The quotient on the evaluation subdomain (2^log_size rows), summed over the accumulations
// (one per sample point): Σ_j (num_j[lift(row)] − first_linear_j · y) · 1/den_j(row), where
// den_j = (Re p_x − x)·Im p_y − (Re p_y − y)·Im p_x for sample point p_j and domain point (x, y).
// numerators holds 4 coordinate pointers per accumulation; sample_points holds (p_x, p_y).
extern "C" __global__ void quotient_combine(
    const u32* const* __restrict__ numerators,
    const u32* __restrict__ numerator_log_sizes,
    const qm31* __restrict__ first_linear_terms,
    const qm31* __restrict__ sample_points,
    u32 n_accumulations,
    const u32* __restrict__ domain_xs,
    const u32* __restrict__ domain_ys,
    u32* __restrict__ out0, u32* __restrict__ out1, u32* __restrict__ out2, u32* __restrict__ out3,
    u32 log_size)
{
    u32 row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= (1u << log_size)) return;
    u32 x = domain_xs[row], y = domain_ys[row];
    qm31 quotient = qm31_zero();
    for (u32 j = 0; j < n_accumulations; j++) {
        qm31 px = sample_points[2 * j], py = sample_points[2 * j + 1];
        cm31 dx = cm31_sub(qm31_lo(px), cm31{x, 0});
        cm31 dy = cm31_sub(qm31_lo(py), cm31{y, 0});
        cm31 den = cm31_sub(cm31_mul(dx, qm31_hi(py)), cm31_mul(dy, qm31_hi(px)));
        u32 log_ratio = log_size - numerator_log_sizes[j];
        u32 lifted = ((row >> (log_ratio + 1)) << 1) + (row & 1u);
        const u32* const* num = numerators + 4 * j;
        qm31 numerator = {num[0][lifted], num[1][lifted], num[2][lifted], num[3][lifted]};
        numerator = qm31_sub(numerator, qm31_mul_m31(first_linear_terms[j], y));
        quotient = qm31_add(quotient, qm31_mul_cm31(numerator, cm31_inv(den)));
    }
    out0[row] = quotient.a; out1[row] = quotient.b; out2[row] = quotient.c; out3[row] = quotient.d;
}
