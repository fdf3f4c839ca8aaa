// Blake2s-256 (RFC 7693, unkeyed, 32-byte digest) for word-aligned messages, as stwo's Merkle
// hasher, channel and proof of work use it. A digest is 8 little-endian words.
#pragma once
#include "field.cuh"

__device__ const u32 BLAKE2S_IV[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

__device__ const unsigned char BLAKE2S_SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

OBELYSK_FN u32 rotr32(u32 x, u32 n) { return (x >> n) | (x << (32 - n)); }

OBELYSK_FN void blake2s_g(u32* v, int a, int b, int c, int d, u32 x, u32 y) {
    v[a] = v[a] + v[b] + x; v[d] = rotr32(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];     v[b] = rotr32(v[b] ^ v[c], 12);
    v[a] = v[a] + v[b] + y; v[d] = rotr32(v[d] ^ v[a], 8);
    v[c] = v[c] + v[d];     v[b] = rotr32(v[b] ^ v[c], 7);
}

// Compresses one 64-byte block `m` into `h`; `bytes` counts every byte hashed so far including
// this block's; `last` marks the final block.
OBELYSK_FN void blake2s_compress(u32* h, const u32* m, u32 bytes, bool last) {
    u32 v[16];
    for (int i = 0; i < 8; i++) { v[i] = h[i]; v[i + 8] = BLAKE2S_IV[i]; }
    v[12] ^= bytes;
    if (last) v[14] = ~v[14];
#pragma unroll
    for (int r = 0; r < 10; r++) {
        const unsigned char* s = BLAKE2S_SIGMA[r];
        blake2s_g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        blake2s_g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        blake2s_g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        blake2s_g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        blake2s_g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        blake2s_g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        blake2s_g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        blake2s_g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

// Streaming hasher over 32-bit words. A full block is compressed only when another word
// arrives, so the last block is the one finalize() marks.
struct blake2s_state {
    u32 h[8];
    u32 m[16];
    u32 n_words;   // words in m
    u32 bytes;     // bytes compressed so far
};

OBELYSK_FN void blake2s_init(blake2s_state& s) {
    for (int i = 0; i < 8; i++) s.h[i] = BLAKE2S_IV[i];
    s.h[0] ^= 0x01010020u;  // digest length 32, no key, fanout 1, depth 1
    s.n_words = 0;
    s.bytes = 0;
}

OBELYSK_FN void blake2s_update_word(blake2s_state& s, u32 word) {
    if (s.n_words == 16) {
        s.bytes += 64;
        blake2s_compress(s.h, s.m, s.bytes, false);
        s.n_words = 0;
    }
    s.m[s.n_words++] = word;
}

OBELYSK_FN void blake2s_finalize(blake2s_state& s, u32* digest) {
    s.bytes += 4 * s.n_words;
    for (u32 i = s.n_words; i < 16; i++) s.m[i] = 0;
    blake2s_compress(s.h, s.m, s.bytes, true);
    for (int i = 0; i < 8; i++) digest[i] = s.h[i];
}

// Hash of a message of at most 16 words held in `m` (zero-padded to 16): one final block.
OBELYSK_FN void blake2s_single_block(const u32* m, u32 n_bytes, u32* digest) {
    u32 h[8];
    for (int i = 0; i < 8; i++) h[i] = BLAKE2S_IV[i];
    h[0] ^= 0x01010020u;
    blake2s_compress(h, m, n_bytes, true);
    for (int i = 0; i < 8; i++) digest[i] = h[i];
}
