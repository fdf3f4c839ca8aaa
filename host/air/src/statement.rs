//! The public statement of a proof and the 32-byte attestation derived from it.
//!
//! A proof says: "program `program_id`, run on `input`, halted after `steps` steps having
//! written `output`". The verifier mixes the whole statement into the Fiat–Shamir channel
//! ([`Statement::mix_into`]) before any relation element is drawn, so a proof for one statement
//! says nothing about another.
//!
//! The attestation binds program, input, output, proof and security in 32 bytes:
//!
//! ```text
//! attestation = Blake2s("obelysk/attest/v1" ‖ program_id ‖ H(input) ‖ H(output) ‖ Blake2s(proof) ‖ bits_le32)
//! H(words)    = Blake2s("obelysk/words/v1" ‖ len_le32 ‖ word_0 le32 ‖ word_1 le32 ‖ ...)
//! ```
//!
//! Anyone holding the parts recomputes it ([`attestation`]); the chain stores it with its parts.

use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};
use stwo::core::channel::Channel;

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

/// The 32-byte attestation of a proven statement.
pub fn attestation(statement: &Statement, proof_bytes: &[u8], security_bits: u32) -> [u8; 32] {
    attestation_of_parts(&AttestationParts {
        program_id: statement.program_id,
        input_hash: hash_words(&statement.input),
        output_hash: hash_words(&statement.output),
        proof_hash: Blake2s256::digest(proof_bytes).into(),
        security_bits,
    })
}

/// The hashed parts an attestation binds (what the chain stores beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestationParts {
    pub program_id: [u8; 32],
    /// `H(input)`.
    pub input_hash: [u8; 32],
    /// `H(output)`.
    pub output_hash: [u8; 32],
    /// Blake2s of the proof bytes.
    pub proof_hash: [u8; 32],
    pub security_bits: u32,
}

/// The attestation of already-hashed parts (the registry contract computes the same).
pub fn attestation_of_parts(parts: &AttestationParts) -> [u8; 32] {
    let mut hasher = Blake2s256::new();
    hasher.update(b"obelysk/attest/v1");
    hasher.update(parts.program_id);
    hasher.update(parts.input_hash);
    hasher.update(parts.output_hash);
    hasher.update(parts.proof_hash);
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
        let proof = b"proof bytes";
        let base = attestation(&statement(), proof, 96);
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
        ];
        for other in &other_statements {
            assert_ne!(attestation(other, proof, 96), base, "{other:?}");
        }
        assert_ne!(attestation(&statement(), b"proof bytez", 96), base);
        assert_ne!(attestation(&statement(), proof, 128), base);
        // The step count is in the proof, not in the attestation's formula.
        assert_eq!(
            attestation(
                &Statement {
                    steps: 5,
                    ..statement()
                },
                proof,
                96
            ),
            base
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
