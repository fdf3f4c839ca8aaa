//! The public statement of a proof and the 32-byte attestation derived from it.
//!
//! A proof says: "program `program_id`, run on `input`, halted after `steps` steps having
//! written `output`". The verifier mixes the whole statement into the Fiat–Shamir channel
//! ([`Statement::mix_into`]) before any relation element is drawn, so a proof for one statement
//! says nothing about another.
//!
//! The attestation binds the statement, the AIR it was proven under and the guaranteed
//! security level in 32 bytes:
//!
//! ```text
//! attestation = Blake2s("obelysk/attest/v2" ‖ program_id ‖ H(input) ‖ H(output)
//!                       ‖ steps_le64 ‖ air_version_le32 ‖ security_bits_le32)
//! H(words)    = Blake2s("obelysk/words/v1" ‖ len_le32 ‖ word_0 le32 ‖ word_1 le32 ‖ ...)
//! ```
//!
//! It does not depend on the proof: a prover can make many valid proofs of one statement
//! (other padded sizes, another proof-of-work nonce), and each must attest the same fact, so
//! a statement proven at a preset has exactly one attestation. Anyone holding the parts
//! recomputes it ([`attestation`]); the chain stores it with its parts.

use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};
use stwo::core::channel::Channel;

/// Version of the AIR (its components, relations and statement): bumped whenever a change
/// could make one proof mean something else. Mixed into the transcript and bound by the
/// attestation.
pub const AIR_VERSION: u32 = 8;

/// What a proof proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Hash of the lowered program (`obelysk_vm::ir::Program::id`).
    pub program_id: [u8; 32],
    pub input: Vec<u32>,
    pub output: Vec<u32>,
    /// Executed VM steps.
    pub steps: u64,
}

impl Statement {
    /// Mixes every field, length-prefixed, into `channel`.
    pub fn mix_into(&self, channel: &mut impl Channel) {
        channel.mix_u32s(&words_of_bytes(b"obelysk/statement/v1"));
        channel.mix_u64(u64::from(AIR_VERSION));
        channel.mix_u32s(&words_of_bytes(&self.program_id));
        for words in [&self.input, &self.output] {
            channel.mix_u64(words.len() as u64);
            channel.mix_u32s(words);
        }
        channel.mix_u64(self.steps);
    }
}

/// `H(words)`: domain-separated, length-prefixed Blake2s of little-endian words.
pub fn hash_words(words: &[u32]) -> [u8; 32] {
    let mut hasher = Blake2s256::new();
    hasher.update(b"obelysk/words/v1");
    hasher.update((words.len() as u32).to_le_bytes());
    for word in words {
        hasher.update(word.to_le_bytes());
    }
    hasher.finalize().into()
}

/// The 32-byte attestation of `statement` proven at `security_bits` under this AIR.
pub fn attestation(statement: &Statement, security_bits: u32) -> [u8; 32] {
    attestation_of_parts(&AttestationParts::of(statement, security_bits))
}

/// The parts an attestation binds (what the chain stores beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestationParts {
    pub program_id: [u8; 32],
    /// `H(input)`.
    pub input_hash: [u8; 32],
    /// `H(output)`.
    pub output_hash: [u8; 32],
    pub steps: u64,
    /// [`AIR_VERSION`] of the verifier that accepted the proof.
    pub air_version: u32,
    pub security_bits: u32,
}

impl AttestationParts {
    /// The parts of `statement` at `security_bits`, under this build's AIR.
    pub fn of(statement: &Statement, security_bits: u32) -> Self {
        AttestationParts {
            program_id: statement.program_id,
            input_hash: hash_words(&statement.input),
            output_hash: hash_words(&statement.output),
            steps: statement.steps,
            air_version: AIR_VERSION,
            security_bits,
        }
    }
}

/// The attestation of already-hashed parts (the registry contract computes the same).
pub fn attestation_of_parts(parts: &AttestationParts) -> [u8; 32] {
    let mut hasher = Blake2s256::new();
    hasher.update(b"obelysk/attest/v2");
    hasher.update(parts.program_id);
    hasher.update(parts.input_hash);
    hasher.update(parts.output_hash);
    hasher.update(parts.steps.to_le_bytes());
    hasher.update(parts.air_version.to_le_bytes());
    hasher.update(parts.security_bits.to_le_bytes());
    hasher.finalize().into()
}

/// Bytes as little-endian words, zero-padded (for mixing fixed byte strings).
fn words_of_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|chunk| {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            u32::from_le_bytes(word)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use stwo::core::channel::Blake2sChannel;

    use super::*;

    fn statement() -> Statement {
        Statement {
            program_id: [7; 32],
            input: vec![48, 18, 7],
            output: vec![42],
            steps: 1 << 10,
        }
    }

    fn draw_after_mixing(statement: &Statement) -> Vec<u32> {
        let mut channel = Blake2sChannel::default();
        statement.mix_into(&mut channel);
        channel.draw_u32s()
    }

    #[test]
    fn every_field_changes_the_channel() {
        let base = draw_after_mixing(&statement());
        let variants = [
            Statement {
                program_id: [8; 32],
                ..statement()
            },
            Statement {
                input: vec![48, 18, 8],
                ..statement()
            },
            Statement {
                input: vec![48, 18],
                ..statement()
            },
            Statement {
                output: vec![43],
                ..statement()
            },
            Statement {
                output: vec![42, 0],
                ..statement()
            },
            Statement {
                steps: (1 << 10) + 1,
                ..statement()
            },
            // Moving a word from the input to the output is a different statement.
            Statement {
                input: vec![48, 18],
                output: vec![7, 42],
                ..statement()
            },
        ];
        for variant in variants {
            assert_ne!(draw_after_mixing(&variant), base, "{variant:?}");
        }
        assert_eq!(draw_after_mixing(&statement()), base);
    }

    #[test]
    fn attestation_binds_every_part() {
        let base = attestation(&statement(), 96);
        let other_statements = [
            Statement {
                program_id: [0; 32],
                ..statement()
            },
            Statement {
                input: vec![48, 18, 6],
                ..statement()
            },
            Statement {
                output: vec![],
                ..statement()
            },
            Statement {
                steps: 5,
                ..statement()
            },
        ];
        for other in &other_statements {
            assert_ne!(attestation(other, 96), base, "{other:?}");
        }
        assert_ne!(attestation(&statement(), 98), base);
        let mut parts = AttestationParts::of(&statement(), 96);
        assert_eq!(attestation_of_parts(&parts), base);
        parts.air_version += 1;
        assert_ne!(attestation_of_parts(&parts), base);
    }

    #[test]
    fn attestation_formula_is_pinned() {
        // The registry contract and third-party clients recompute this formula: a fixed
        // vector, so it cannot drift silently.
        let mut h = Blake2s256::new();
        h.update(b"obelysk/attest/v2");
        h.update([7; 32]);
        h.update(hash_words(&[48, 18, 7]));
        h.update(hash_words(&[42]));
        h.update((1u64 << 10).to_le_bytes());
        h.update(AIR_VERSION.to_le_bytes());
        h.update(96u32.to_le_bytes());
        assert_eq!(
            attestation(&statement(), 96),
            <[u8; 32]>::from(h.finalize())
        );
    }

    #[test]
    fn word_hash_is_length_prefixed() {
        assert_ne!(hash_words(&[]), hash_words(&[0]));
        assert_ne!(hash_words(&[1, 2]), hash_words(&[2, 1]));
        // A fixed vector, so the formula cannot drift silently (clients recompute it).
        assert_eq!(
            hex_string(&hash_words(&[1, 2, 3])),
            hex_string(&{
                let mut h = Blake2s256::new();
                h.update(b"obelysk/words/v1");
                h.update([3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
                <[u8; 32]>::from(h.finalize())
            })
        );
    }

    fn hex_string(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
