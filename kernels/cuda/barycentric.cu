// Out-of-domain evaluation by barycentric interpolation, as stwo's SIMD backend computes it:
// f(p) = Σ_i f_i · w_i with w_i = ±K / v_i(p), v_i(p) = h.y / (1 + h.x), h = p − q_i for the
// domain point q_i (bit-reversed order), + for even i and − for odd i, and K = s_0 · Z(p) the
// same for every i (computed by the host).
#include "field.cuh"

// weights[i] for the domain whose points' coordinates are in domain_xs / domain_ys.
extern "C" __global__ void barycentric_weights(
    const u32* __restrict__ domain_xs, const u32* __restrict__ domain_ys,
    qm31 px, qm31 py, qm31 k, qm31* __restrict__ weights, u32 n)
{
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    u32 qx = domain_xs[i], qy = domain_ys[i];
    // h = p + conj(q) = (px·qx + py·qy, py·qx − px·qy)
    qm31 hx = qm31_add(qm31_mul_m31(px, qx), qm31_mul_m31(py, qy));
    qm31 hy = qm31_sub(qm31_mul_m31(py, qx), qm31_mul_m31(px, qy));
    qm31 one_plus_hx = qm31_add(hx, qm31_from_m31(1));
    qm31 w = qm31_mul(qm31_mul(k, one_plus_hx), qm31_inv(hy));
    weights[i] = (i & 1u) ? qm31_neg(w) : w;
}

#define BARYCENTRIC_BLOCK 256

// Partial sums of Σ values[i] · weights[i]: one per block (blockDim.x = BARYCENTRIC_BLOCK), for
// the column picked by blockIdx.y; partials[blockIdx.y · gridDim.x + blockIdx.x].
extern "C" __global__ void barycentric_partial_sums(
    const u32* const* __restrict__ columns, const qm31* __restrict__ weights, u32 n,
    qm31* __restrict__ partials)
{
    __shared__ qm31 sums[BARYCENTRIC_BLOCK];
    const u32* values = columns[blockIdx.y];
    qm31 acc = qm31_zero();
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        acc = qm31_add(acc, qm31_mul_m31(weights[i], values[i]));
    }
    sums[threadIdx.x] = acc;
    __syncthreads();
    for (u32 stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) sums[threadIdx.x] = qm31_add(sums[threadIdx.x], sums[threadIdx.x + stride]);
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[blockIdx.y * gridDim.x + blockIdx.x] = sums[0];
}
