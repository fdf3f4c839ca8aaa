// Lifted Blake2s Merkle tree, as stwo's `MerkleOpsLifted<Blake2sMerkleHasher>`.
#include "blake2s.cuh"

// One thread per leaf of a tree of 2^lifting_log_size leaves. The leaf hashes the row's values
// of every column in order (little-endian words); a column of 2^k < 2^lifting_log_size values
// is lifted: leaf `i` reads its value at ((i >> (lifting_log_size - k + 1)) << 1) | (i & 1).
extern "C" __global__ void merkle_leaves(
    const u32* const* __restrict__ columns,
    const u32* __restrict__ column_log_sizes,
    u32 n_columns,
    u32 lifting_log_size,
    u32* __restrict__ leaves)
{
    u32 leaf = blockIdx.x * blockDim.x + threadIdx.x;
    if (leaf >= (1u << lifting_log_size)) return;
    blake2s_state s;
    blake2s_init(s);
    for (u32 j = 0; j < n_columns; j++) {
        u32 shift = lifting_log_size - column_log_sizes[j];
        u32 row = ((leaf >> (shift + 1)) << 1) | (leaf & 1u);
        blake2s_update_word(s, columns[j][row]);
    }
    blake2s_finalize(s, leaves + 8 * (u64)leaf);
}

// One thread per parent: parent i = H(child 2i || child 2i+1), 8 words each.
extern "C" __global__ void merkle_layer(
    const u32* __restrict__ children, u32* __restrict__ parents, u32 n_parents)
{
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_parents) return;
    u32 m[16];
    for (int k = 0; k < 16; k++) m[k] = children[16 * (u64)i + k];
    blake2s_single_block(m, 64, parents + 8 * (u64)i);
}

// Proof of work, as stwo's SIMD grinder: nonce = (hi << 32) + low for low in [0, 2^20); a
// nonce is good when H(prefixed_digest || nonce) has at least pow_bits trailing zero bits in its
// first word. The smallest good low of this `hi` ends in *best_low (initialised to ~0 by the
// caller).
extern "C" __global__ void grind_blake2s(
    const u32* __restrict__ prefixed_digest, u32 hi, u32 pow_bits, u32* __restrict__ best_low)
{
    u32 low = blockIdx.x * blockDim.x + threadIdx.x;
    if (low >= (1u << 20)) return;
    u32 m[16];
    for (int k = 0; k < 8; k++) m[k] = prefixed_digest[k];
    m[8] = low;
    m[9] = hi;
    for (int k = 10; k < 16; k++) m[k] = 0;
    u32 digest[8];
    blake2s_single_block(m, 40, digest);
    u32 zeros = digest[0] == 0 ? 32 : OBELYSK_CTZ(digest[0]);
    if (zeros >= pow_bits) atomicMin(best_low, low);
}

// stwo's `PackLeavesOps` for one coordinate column of an FRI layer: a leaf holds 4 consecutive
// rows, so value i goes to row i / 4 of output column i mod 4. One thread per input value.
extern "C" __global__ void pack_leaves(
    const u32* __restrict__ column,
    u32* __restrict__ out0,
    u32* __restrict__ out1,
    u32* __restrict__ out2,
    u32* __restrict__ out3,
    u32 n)
{
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    u32* outs[4] = {out0, out1, out2, out3};
    outs[i & 3][i >> 2] = column[i];
}
