//! The Obelysk prover: a run of the VM to a stwo proof of the VM AIR (`obelysk-air`).
//!
//! - [`witness`]: trace → every component's main-trace rows;
//! - [`constraints`]: the constraint quotients on SIMD, without stwo's per-row costs;
//! - [`interaction`]: LogUp interaction columns, derived from the AIR's own `evaluate`;
//! - [`preprocessed`]: the program-independent tables;
//! - [`transcript`]: the Fiat–Shamir transcript (mirrors `obelysk_air::verifier`);
//! - [`twiddles`]: the twiddles a process shares between proofs;
//! - [`vm`]: [`prove`] and the phases it reports;
//! - [`estimate`]: the predicted time and memory of a proof.

pub mod check;
pub mod constraints;
pub mod estimate;
pub mod interaction;
pub mod preprocessed;
pub mod transcript;
pub mod twiddles;
pub mod vm;
pub mod witness;

use stwo::core::fields::m31::BaseField;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;

pub use transcript::Prover;
pub use vm::{Phase, ProveError, prove, prove_program};

/// A column of a trace, as stwo commits it.
pub type Column = CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>;
