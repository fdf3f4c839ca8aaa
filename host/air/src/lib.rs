//! The verifier side of Obelysk: it builds without stwo's `prover` feature.
//!
//! Today: the proof security parameters ([`security`]) and the public statement with its
//! 32-byte attestation ([`statement`]). The VM components and the verifier join it with the
//! prover.

pub mod components;
pub mod security;
pub mod statement;
pub mod verifier;
