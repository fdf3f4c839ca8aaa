// Bit-reversal permutation of one column in place: each thread swaps one pair (i, rev(i)) with
// i < rev(i), so no element is moved twice.
#include "field.cuh"

extern "C" __global__ void bit_reverse_u32(u32* __restrict__ column, u32 log_size) {
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (1u << log_size)) return;
    u32 j = bit_reverse_index(i, log_size);
    if (i < j) {
        u32 t = column[i];
        column[i] = column[j];
        column[j] = t;
    }
}
