// FRI folding, as stwo's CPU backend computes it. Secure columns are four M31 coordinate
// columns; `itwiddles` are the inverse twiddles of the source domain's first layer (x for a
// line domain, y for a circle domain), one per output value.
#include "field.cuh"

OBELYSK_FN qm31 load_qm31(const u32* const* c, u32 i) { return {c[0][i], c[1][i], c[2][i], c[3][i]}; }

OBELYSK_FN void store_qm31(u32* const* c, u32 i, qm31 v) {
    c[0][i] = v.a; c[1][i] = v.b; c[2][i] = v.c; c[3][i] = v.d;
}

// dst[i] = f0 + alpha·f1 where (f0, f1) = ibutterfly(src[2i], src[2i+1], itwiddles[i]).
// Folds a line evaluation into one of half the size, and (with the circle layer's twiddles) a
// circle evaluation into a line evaluation.
extern "C" __global__ void fri_fold(
    const u32* const* __restrict__ src, u32* const* __restrict__ dst,
    const u32* __restrict__ itwiddles, qm31 alpha, u32 n_dst)
{
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_dst) return;
    qm31 f_x = load_qm31(src, 2 * i), f_neg_x = load_qm31(src, 2 * i + 1);
    qm31 f0 = qm31_add(f_x, f_neg_x);
    qm31 f1 = qm31_mul_m31(qm31_sub(f_x, f_neg_x), itwiddles[i]);
    store_qm31(dst, i, qm31_add(f0, qm31_mul(alpha, f1)));
}
