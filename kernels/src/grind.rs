//! Host side of the proof-of-work kernel (`grind_blake2s` in `cuda/merkle.cu`): the digest it
//! starts from and the order nonces are searched in, which make it return exactly the nonce
//! stwo's `SimdBackend` returns (so proofs stay byte-identical).

use stwo::core::channel::Blake2sChannel;
use stwo::core::vcs::blake2_hash::Blake2sHasher;

/// Nonces tried per high word before moving to the next: `(hi << 32) + low`, `low < 2^20`.
pub const LOW_BITS: u32 = 20;

/// `H(POW_PREFIX ‖ 0^12 ‖ digest ‖ pow_bits)` as 8 little-endian words: the fixed part of every
/// attempt's message.
pub fn prefixed_digest(channel: &Blake2sChannel, pow_bits: u32) -> [u32; 8] {
    let mut hasher = Blake2sHasher::default();
    hasher.update(&Blake2sChannel::POW_PREFIX.to_le_bytes());
    hasher.update(&[0u8; 12]);
    hasher.update(&channel.digest().0);
    hasher.update(&pow_bits.to_le_bytes());
    let digest = hasher.finalize();
    std::array::from_fn(|i| {
        u32::from_le_bytes(digest.0[4 * i..4 * i + 4].try_into().expect("4 bytes"))
    })
}

/// The first good nonce: `smallest_low(hi)` runs the kernel for one high word and returns the
/// smallest good low word, if any; high words are tried in order.
pub fn search(mut smallest_low: impl FnMut(u32) -> Option<u32>) -> u64 {
    (0u32..)
        .find_map(|hi| smallest_low(hi).map(|low| (u64::from(hi) << 32) | u64::from(low)))
        .expect("a nonce exists below 2^64")
}
