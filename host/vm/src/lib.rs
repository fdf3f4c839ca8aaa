//! The Obelysk VM crate.
//!
//! Today it holds the two pieces every job goes through before proving exists:
//! - [`abi`]: reads a module with `wasmparser` and checks it against the guest ABI
//!   (exports `memory` and `main: [] -> []`, imports only `obelysk.{input_len, read, write}`);
//! - [`sandbox`]: runs a checked module in wasmtime under hard limits (fuel, memory,
//!   native stack, wall clock) and maps every failure to a typed [`VmError`].
//!
//! The lowering to the Obelysk IR and the tracing interpreter join this crate with the prover.

pub mod abi;
mod error;
pub mod sandbox;

pub use abi::{ModuleInfo, ProgramHash};
pub use error::VmError;
pub use sandbox::{Budget, Execution, Limits, LoadedModule, Sandbox};
