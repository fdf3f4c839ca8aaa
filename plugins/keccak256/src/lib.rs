//! Input: a byte payload (`[byte_len, bytes packed little-endian...]`, see the SDK codec);
//! output: the 8 words of its Keccak-256 digest (the original Keccak padding, as Ethereum
//! uses, not SHA3-256), each word the digest's next 4 bytes read big-endian (so `0xc5d24601`
//! first for the empty message). The hash is RustCrypto's `sha3` crate, unchanged: Keccak-f
//! is u64 lanes, so the run is mostly i64 rotations and XORs.
#![no_std]

extern crate alloc;

use obelysk_guest as guest;
use sha3::{Digest, Keccak256};

fn main() {
    let digest = Keccak256::digest(guest::input_bytes());
    for word in digest.chunks_exact(4) {
        guest::write_word(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
}

guest::entry!(main);
