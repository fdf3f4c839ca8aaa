//! The Obelysk prover: turns traces into stwo columns and interaction (LogUp) traces.
//!
//! Today: the `range16` lookup table every written limb of the VM AIR uses ([`range_check`])
//! and the `program` table that binds a proof to the verifier's own lowering ([`program`]).
//! The VM's other components join them (see `host/air/DESIGN.md`).

pub mod logup;
pub mod program;
pub mod range_check;
pub mod transcript;

pub use transcript::Prover;
