// Accumulation of secure columns (AccumulationOps): dst[i] += src[lift(i)], where a source of
// 2^src_log_size values is lifted to the destination's 2^dst_log_size as stwo lifts columns:
// lift(i) = ((i >> (ratio + 1)) << 1) | (i & 1), ratio = dst_log_size − src_log_size (the
// identity for equal sizes). Summing every column into the largest this way is stwo's
// lift_and_accumulate.
#include "field.cuh"

extern "C" __global__ void accumulate_lifted(
    u32* const* __restrict__ dst, const u32* const* __restrict__ src, u32 dst_log_size,
    u32 src_log_size)
{
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (1u << dst_log_size)) return;
    u32 ratio = dst_log_size - src_log_size;
    u32 j = ((i >> (ratio + 1)) << 1) | (i & 1u);
    for (int k = 0; k < 4; k++) dst[k][i] = m31_add(dst[k][i], src[k][j]);
}
