//! The verifier side of Obelysk: it builds without stwo's `prover` feature.
//!
//! Today it fixes the proof security parameters ([`security`]); the VM components, the public
//! statement and the verifier join it with the prover.

pub mod security;
