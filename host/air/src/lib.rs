//! The verifier side of Obelysk: the VM AIR and everything needed to check a proof. It builds
//! without stwo's `prover` feature.
//!
//! - [`components`]: one stwo component per instruction family, plus ROM, memory boundary and
//!   range-check tables; [`relations`]: the LogUp relations between them.
//! - [`vm`]: the claim, the verifier's public data and [`vm::verify_air`].
//! - [`proof`]: the versioned proof file; [`shape`]: what a decoded proof must look like
//!   before stwo reads it; [`statement`]: what a proof proves and its 32-byte attestation.
//! - [`security`]: the presets, named by their worst-case level; [`soundness`]: the level of
//!   one proof, term by term (FRI and the field-bounded challenges).
//! - [`api::verify`]: module + statement + proof bytes → verdict.

pub mod api;
pub mod components;
pub mod proof;
pub mod relations;
pub mod security;
pub mod shape;
pub mod soundness;
pub mod statement;
pub mod verifier;
pub mod vm;

pub use api::{VerifyError, verify};
