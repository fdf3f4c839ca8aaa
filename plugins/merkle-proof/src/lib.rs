//! Input: a byte payload holding the postcard encoding of [`Proof`]: a leaf, its index, the
//! sibling hashes from the leaf up, and the claimed root. Hashing is RFC 6962's (Certificate
//! Transparency): a leaf hashes as `SHA-256(0x00 ‖ leaf)`, a node as `SHA-256(0x01 ‖ left ‖
//! right)`; bit `i` of the index says whether level `i`'s node is a right child.
//! Output: `[1 if the computed root equals the claimed one else 0, the computed root as 8
//! big-endian words]`. An index with bits above the path length gives `0`. A malformed
//! payload traps.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use obelysk_guest as guest;
use serde::Deserialize;
use sha2::{Digest, Sha256};

type Hash = [u8; 32];

/// An inclusion proof, as the host encodes it with postcard.
#[derive(Deserialize)]
struct Proof {
    leaf: Vec<u8>,
    index: u64,
    siblings: Vec<Hash>,
    root: Hash,
}

fn leaf_hash(leaf: &[u8]) -> Hash {
    Sha256::new().chain_update([0u8]).chain_update(leaf).finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

fn main() {
    let proof: Proof = guest::read_postcard();
    let mut hash = leaf_hash(&proof.leaf);
    let mut index = proof.index;
    for sibling in &proof.siblings {
        hash = if index & 1 == 0 {
            node_hash(&hash, sibling)
        } else {
            node_hash(sibling, &hash)
        };
        index >>= 1;
    }
    let valid = index == 0 && hash == proof.root;
    guest::write_word(u32::from(valid));
    for word in hash.chunks_exact(4) {
        guest::write_word(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
}

guest::entry!(main);
