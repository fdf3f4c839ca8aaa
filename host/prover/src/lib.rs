//! The Obelysk prover: turns traces into stwo columns and interaction (LogUp) traces.
//!
//! Today: the `range16` lookup table every written limb of the VM AIR uses
//! ([`range_check`]), with its preprocessed column, its multiplicities and its interaction
//! trace. The VM's components join it (see `host/air/DESIGN.md`).

pub mod range_check;
