// Circle FFT over M31, as stwo's CPU backend computes it, for columns of 2^log_n values in
// bit-reversed order. Layer i pairs values 2^i apart; butterfly (h, l) of layer i touches
// idx0 = h·2^(i+1) + l and idx0 + 2^i and uses twiddle h of that layer. Layer 0 is the circle
// layer (y coordinates), layers 1.. the line layers (x coordinates).
//
// Twiddles of all layers are packed in one array: layer i holds 2^(log_n-1-i) entries starting
// at 2^log_n - 2^(log_n-i). The forward transform (evaluate) runs layers log_n-1 .. 0 with
// butterfly; the inverse (interpolate) runs 0 .. log_n-1 with ibutterfly and the inverse
// twiddles, then scales by 1/2^log_n.
//
// Columns are batched: blockIdx.y picks the column.
#include "field.cuh"

OBELYSK_FN u32 layer_offset(u32 log_n, u32 layer) { return (1u << log_n) - (1u << (log_n - layer)); }

OBELYSK_FN void butterfly(u32& v0, u32& v1, u32 t) {
    u32 tmp = m31_mul(v1, t);
    v1 = m31_sub(v0, tmp);
    v0 = m31_add(v0, tmp);
}

OBELYSK_FN void ibutterfly(u32& v0, u32& v1, u32 it) {
    u32 tmp = v0;
    v0 = m31_add(tmp, v1);
    v1 = m31_mul(m31_sub(tmp, v1), it);
}

// One layer in global memory: one thread per butterfly (2^(log_n-1) per column).
extern "C" __global__ void fft_layer(
    u32* const* __restrict__ columns, const u32* __restrict__ twiddles, u32 log_n, u32 layer,
    u32 inverse)
{
    u32 b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= (1u << (log_n - 1))) return;
    u32* values = columns[blockIdx.y];
    u32 h = b >> layer;
    u32 idx0 = (h << (layer + 1)) + (b & ((1u << layer) - 1));
    u32 idx1 = idx0 + (1u << layer);
    u32 t = twiddles[layer_offset(log_n, layer) + h];
    u32 v0 = values[idx0], v1 = values[idx1];
    if (inverse) ibutterfly(v0, v1, t); else butterfly(v0, v1, t);
    values[idx0] = v0;
    values[idx1] = v1;
}

#define FFT_MAX_TILE_LOG 11

// Layers 0 .. tile_log-1 of 2^tile_log-value tiles in shared memory: blockDim.x = 2^(tile_log-1)
// (one butterfly per thread per layer), gridDim.x = 2^(log_n - tile_log) tiles. Forward runs the
// tile's layers from the top down, inverse from the bottom up.
extern "C" __global__ void fft_tile(
    u32* const* __restrict__ columns, const u32* __restrict__ twiddles, u32 log_n, u32 tile_log,
    u32 inverse)
{
    __shared__ u32 tile[1u << FFT_MAX_TILE_LOG];
    u32* values = columns[blockIdx.y];
    u32 base = blockIdx.x << tile_log;
    u32 t = threadIdx.x;
    u32 half = 1u << (tile_log - 1);
    tile[t] = values[base + t];
    tile[t + half] = values[base + t + half];
    __syncthreads();
    for (u32 step = 0; step < tile_log; step++) {
        u32 layer = inverse ? step : tile_log - 1 - step;
        u32 idx0 = ((t >> layer) << (layer + 1)) + (t & ((1u << layer) - 1));
        u32 idx1 = idx0 + (1u << layer);
        u32 h = (base + idx0) >> (layer + 1);
        u32 tw = twiddles[layer_offset(log_n, layer) + h];
        u32 v0 = tile[idx0], v1 = tile[idx1];
        if (inverse) ibutterfly(v0, v1, tw); else butterfly(v0, v1, tw);
        tile[idx0] = v0;
        tile[idx1] = v1;
        __syncthreads();
    }
    values[base + t] = tile[t];
    values[base + t + half] = tile[t + half];
}

// values[i] *= factor, for the 1/2^log_n of the inverse transform.
extern "C" __global__ void scale_columns(u32* const* __restrict__ columns, u32 n, u32 factor) {
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    u32* values = columns[blockIdx.y];
    values[i] = m31_mul(values[i], factor);
}
