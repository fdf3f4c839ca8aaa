// M31, CM31 and QM31 arithmetic (stwo's fields) and circle-domain index helpers.
//
// Included at the top of every kernel source. Compiles as CUDA (NVRTC / nvcc) and as plain
// C++20 (g++/clang++ with -pthread): on the host the kernel entry points become ordinary
// functions and obelysk_host_launch runs them as a grid, which is how tests run the very same
// kernel text on a CPU.
#pragma once

typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define OBELYSK_FN __device__ __forceinline__
#define OBELYSK_BREV(x) __brev(x)
#define OBELYSK_CTZ(x) (__ffs(x) - 1)
#else
// Host emulation: a launch runs blocks one after another; the threads of a block run
// concurrently when the kernel synchronises (real threads, so __syncthreads is a barrier and
// __shared__ data is shared), else in turn.
#include <barrier>
#include <thread>
#include <vector>
#define OBELYSK_FN static inline
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct obelysk_dim3 { u32 x, y, z; };
static thread_local obelysk_dim3 threadIdx;
static obelysk_dim3 blockIdx, blockDim, gridDim;
static std::barrier<>* obelysk_block_barrier = nullptr;
static inline void __syncthreads() {
    if (blockDim.x > 1) obelysk_block_barrier->arrive_and_wait();
}
static inline u32 atomicMin(u32* address, u32 value) {
    u32 old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (value < old &&
           !__atomic_compare_exchange_n(address, &old, value, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
static inline u32 obelysk_brev(u32 x) {
    u32 r = 0;
    for (int i = 0; i < 32; i++) { r = (r << 1) | (x & 1u); x >>= 1; }
    return r;
}
#define OBELYSK_BREV(x) obelysk_brev(x)
#define OBELYSK_CTZ(x) __builtin_ctz(x)

// Runs body(ctx) once per thread of a (grid_x, grid_y) × block_x launch. With `cooperative`, a
// block's threads run concurrently (kernels that use __syncthreads); otherwise one after another.
extern "C" void obelysk_host_launch(void (*body)(void*), void* ctx, u32 grid_x, u32 grid_y,
                                    u32 block_x, int cooperative) {
    gridDim = {grid_x, grid_y, 1};
    blockDim = {block_x, 1, 1};
    for (u32 by = 0; by < grid_y; by++) {
        for (u32 bx = 0; bx < grid_x; bx++) {
            blockIdx = {bx, by, 0};
            if (!cooperative || block_x == 1) {
                for (u32 t = 0; t < block_x; t++) { threadIdx = {t, 0, 0}; body(ctx); }
                continue;
            }
            std::barrier<> barrier(block_x);
            obelysk_block_barrier = &barrier;
            std::vector<std::thread> threads;
            for (u32 t = 0; t < block_x; t++) {
                threads.emplace_back([=] { threadIdx = {t, 0, 0}; body(ctx); });
            }
            for (auto& thread : threads) thread.join();
        }
    }
}
#endif

#define M31_P 0x7fffffffu

// ---- M31: integers mod p = 2^31 - 1, kept in [0, p) ----

OBELYSK_FN u32 m31_add(u32 a, u32 b) {
    u32 s = a + b;
    return s >= M31_P ? s - M31_P : s;
}

OBELYSK_FN u32 m31_sub(u32 a, u32 b) {
    return a >= b ? a - b : a + M31_P - b;
}

OBELYSK_FN u32 m31_neg(u32 a) {
    return a == 0 ? 0 : M31_P - a;
}

OBELYSK_FN u32 m31_mul(u32 a, u32 b) {
    u64 t = (u64)a * (u64)b;
    // t = hi·2^31 + lo and 2^31 ≡ 1.
    return m31_add((u32)(t & M31_P), (u32)(t >> 31));
}

OBELYSK_FN u32 m31_inv(u32 a) {
    // a^(p-2); p - 2 = 2^31 - 3 = 0b111...1101.
    u32 result = 1, base = a;
    u32 e = M31_P - 2;
    while (e) {
        if (e & 1u) result = m31_mul(result, base);
        base = m31_mul(base, base);
        e >>= 1;
    }
    return result;
}

// ---- CM31 = M31[i] / (i^2 + 1) ----

struct cm31 { u32 a, b; };

OBELYSK_FN cm31 cm31_add(cm31 x, cm31 y) { return {m31_add(x.a, y.a), m31_add(x.b, y.b)}; }
OBELYSK_FN cm31 cm31_sub(cm31 x, cm31 y) { return {m31_sub(x.a, y.a), m31_sub(x.b, y.b)}; }
OBELYSK_FN cm31 cm31_neg(cm31 x) { return {m31_neg(x.a), m31_neg(x.b)}; }

OBELYSK_FN cm31 cm31_mul(cm31 x, cm31 y) {
    return {m31_sub(m31_mul(x.a, y.a), m31_mul(x.b, y.b)),
            m31_add(m31_mul(x.a, y.b), m31_mul(x.b, y.a))};
}

// (2 + i) · x, the non-residue QM31 is built over.
OBELYSK_FN cm31 cm31_mul_r(cm31 x) {
    return {m31_sub(m31_add(x.a, x.a), x.b), m31_add(x.a, m31_add(x.b, x.b))};
}

OBELYSK_FN cm31 cm31_inv(cm31 x) {
    u32 norm_inv = m31_inv(m31_add(m31_mul(x.a, x.a), m31_mul(x.b, x.b)));
    return {m31_mul(x.a, norm_inv), m31_neg(m31_mul(x.b, norm_inv))};
}

// ---- QM31 = CM31[u] / (u^2 - (2 + i)); {a, b, c, d} = (a + b·i) + (c + d·i)·u ----

struct qm31 { u32 a, b, c, d; };

OBELYSK_FN qm31 qm31_make(cm31 lo, cm31 hi) { return {lo.a, lo.b, hi.a, hi.b}; }
OBELYSK_FN cm31 qm31_lo(qm31 x) { return {x.a, x.b}; }
OBELYSK_FN cm31 qm31_hi(qm31 x) { return {x.c, x.d}; }
OBELYSK_FN qm31 qm31_from_m31(u32 a) { return {a, 0, 0, 0}; }
OBELYSK_FN qm31 qm31_zero() { return {0, 0, 0, 0}; }

OBELYSK_FN qm31 qm31_add(qm31 x, qm31 y) {
    return {m31_add(x.a, y.a), m31_add(x.b, y.b), m31_add(x.c, y.c), m31_add(x.d, y.d)};
}

OBELYSK_FN qm31 qm31_sub(qm31 x, qm31 y) {
    return {m31_sub(x.a, y.a), m31_sub(x.b, y.b), m31_sub(x.c, y.c), m31_sub(x.d, y.d)};
}

OBELYSK_FN qm31 qm31_neg(qm31 x) { return {m31_neg(x.a), m31_neg(x.b), m31_neg(x.c), m31_neg(x.d)}; }

OBELYSK_FN qm31 qm31_mul(qm31 x, qm31 y) {
    // (x0 + x1·u)(y0 + y1·u) = x0·y0 + (2 + i)·x1·y1 + (x0·y1 + x1·y0)·u
    cm31 x0 = qm31_lo(x), x1 = qm31_hi(x), y0 = qm31_lo(y), y1 = qm31_hi(y);
    return qm31_make(cm31_add(cm31_mul(x0, y0), cm31_mul_r(cm31_mul(x1, y1))),
                     cm31_add(cm31_mul(x0, y1), cm31_mul(x1, y0)));
}

OBELYSK_FN qm31 qm31_mul_m31(qm31 x, u32 k) {
    return {m31_mul(x.a, k), m31_mul(x.b, k), m31_mul(x.c, k), m31_mul(x.d, k)};
}

OBELYSK_FN qm31 qm31_inv(qm31 x) {
    // 1 / (x0 + x1·u) = (x0 - x1·u) / (x0^2 - (2 + i)·x1^2)
    cm31 x0 = qm31_lo(x), x1 = qm31_hi(x);
    cm31 denom_inv = cm31_inv(cm31_sub(cm31_mul(x0, x0), cm31_mul_r(cm31_mul(x1, x1))));
    return qm31_make(cm31_mul(x0, denom_inv), cm31_neg(cm31_mul(x1, denom_inv)));
}

// ---- circle-domain indices (bit-reversed evaluation order) ----

OBELYSK_FN u32 bit_reverse_index(u32 i, u32 log_size) {
    return log_size == 0 ? i : OBELYSK_BREV(i) >> (32 - log_size);
}

// Index of the value `offset` trace steps away from `row`, both in the bit-reversed order of a
// circle domain of size 2^eval_log_size that extends a trace of size 2^trace_log_size.
OBELYSK_FN u32 offset_row(u32 row, u32 trace_log_size, u32 eval_log_size, i32 offset) {
    u32 i = bit_reverse_index(row, eval_log_size);
    u32 half = 1u << (eval_log_size - 1);
    u32 step = (u32)offset << (eval_log_size - trace_log_size - 1);
    // The first half of the domain walks forward, the second (its conjugate) backward.
    i = i < half ? ((i + step) & (half - 1)) : (((i - step) & (half - 1)) + half);
    return bit_reverse_index(i, eval_log_size);
}
