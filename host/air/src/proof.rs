//! The proof file: self-describing, versioned, postcard-encoded.
//!
//! ```text
//! b"OBELYSK\0" ‖ format version (u32 LE) ‖ producer version (u16 LE length ‖ UTF-8)
//!             ‖ postcard(ProofFile)
//! ```
//! The fixed header is read before anything else, so a verifier explains a version mismatch
//! ("format 2, this verifier reads 1, made by obelysk 0.3.0") instead of failing to parse. The
//! producer is informational: nothing verifies it and the attestation does not bind it.
//!
//! Decoding is strict: the file and its body must be postcard's canonical encoding of what
//! they decode to (no over-long integers, no trailing bytes), and every field element must be
//! canonical ([`crate::shape::check_canonical`]), so one proof has one byte string.

use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;

use crate::components::N_COMPONENTS;
use crate::security::SecurityLevel;
use crate::statement::{Statement, attestation};
use crate::verifier::Proof;
use crate::vm::Claim;

/// Magic bytes at the start of every proof file.
pub const MAGIC: &[u8; 8] = b"OBELYSK\0";
/// The proof format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// This build's version (written into proofs as the producer).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a proof file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofFile {
    /// IR version of the lowering that produced `statement.program_id`.
    pub ir_version: u32,
    pub statement: Statement,
    /// The level the proof's preset guarantees ([`SecurityLevel::bits`]), bound by the
    /// attestation.
    pub security_bits: u32,
    /// postcard([`ProofBody`]).
    pub body: Vec<u8>,
    /// The 32-byte attestation of the statement at `security_bits` (recomputed by every
    /// verifier; stored for convenience).
    pub attestation: [u8; 32],
}

/// The cryptographic part of a proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofBody {
    pub config: PcsConfig,
    pub claim: Claim,
    /// The nonce ground before the relation elements are drawn
    /// ([`SecurityLevel::interaction_pow_bits`]).
    pub interaction_pow: u64,
    pub claimed_sums: [SecureField; N_COMPONENTS],
    pub stark: Proof,
}

/// A proof file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not an Obelysk proof file (bad magic bytes)")]
    NotAProof,
    #[error(
        "proof format version {found} (written by obelysk {producer}); this verifier \
         (obelysk {VERSION}) reads format {FORMAT_VERSION}: verify it with obelysk {producer}"
    )]
    Version { found: u32, producer: String },
    #[error("corrupt proof file: {0}")]
    Corrupt(String),
}

impl ProofFile {
    /// Packs a statement proven at `level`: serializes the body and computes the attestation.
    pub fn new(statement: Statement, level: SecurityLevel, body: &ProofBody) -> Self {
        let security_bits = level.bits();
        let attestation = attestation(&statement, security_bits);
        ProofFile {
            ir_version: obelysk_vm::ir::IR_VERSION,
            statement,
            security_bits,
            body: postcard::to_allocvec(body).expect("proof bodies serialize"),
            attestation,
        }
    }

    /// `Blake2s(body)`: the proof's content address (the store files proofs by it).
    pub fn proof_hash(&self) -> [u8; 32] {
        Blake2s256::digest(&self.body).into()
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend(FORMAT_VERSION.to_le_bytes());
        bytes.extend((VERSION.len() as u16).to_le_bytes());
        bytes.extend(VERSION.as_bytes());
        bytes.extend(postcard::to_allocvec(self).expect("proof files serialize"));
        bytes
    }

    /// Parses a file, checking the header first, then the body's encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        Self::decode(bytes).map(|(file, _)| file)
    }

    /// Parses a file and decodes its body, once: what a verifier of raw bytes needs (see
    /// [`crate::api::verify_body`]).
    pub fn decode(bytes: &[u8]) -> Result<(Self, ProofBody), FormatError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(FormatError::NotAProof)?;
        let corrupt = || FormatError::Corrupt("truncated header".into());
        let (version, rest) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let (len, rest) = rest.split_first_chunk::<2>().ok_or_else(corrupt)?;
        let len = u16::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(corrupt());
        }
        let (producer, rest) = rest.split_at(len);
        let found = u32::from_le_bytes(*version);
        if found != FORMAT_VERSION {
            return Err(FormatError::Version {
                found,
                producer: String::from_utf8_lossy(producer).into_owned(),
            });
        }
        let file: ProofFile = decode_exact(rest, "proof file")?;
        let body = file.decode_body()?;
        Ok((file, body))
    }

    /// Decodes the body: canonically encoded, every field element canonical.
    pub fn decode_body(&self) -> Result<ProofBody, FormatError> {
        let body: ProofBody = decode_exact(&self.body, "proof body")?;
        crate::shape::check_canonical(&body.claimed_sums, &body.stark)
            .map_err(|e| FormatError::Corrupt(e.0))?;
        Ok(body)
    }
}

/// Decodes `bytes` as a `T` that re-encodes to exactly `bytes`.
fn decode_exact<T: Serialize + serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, FormatError> {
    let (value, trailing) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|e| FormatError::Corrupt(format!("{what}: {e}")))?;
    if !trailing.is_empty() {
        return Err(FormatError::Corrupt(format!(
            "{what}: {} trailing bytes",
            trailing.len()
        )));
    }
    if postcard::to_allocvec(&value).ok().as_deref() != Some(bytes) {
        return Err(FormatError::Corrupt(format!(
            "{what}: not in canonical encoding"
        )));
    }
    Ok(value)
}
