//! The Obelysk VM crate.
//!
//! - [`abi`]: checks a module against the guest ABI (exports `memory` and `main: [] -> []`,
//!   imports only `obelysk.{input_len, read, write}`);
//! - [`sandbox`]: runs a checked module in wasmtime under hard limits (fuel, memory,
//!   native stack, wall clock) and maps every failure to a typed [`VmError`];
//! - [`lower`]: the front end, Wasm → the Obelysk IR ([`ir`]) with static stack slots;
//! - [`interp`]: the tracing interpreter over the IR, whose trace the prover will prove.

pub mod abi;
mod error;
mod hash;
pub mod interp;
pub mod ir;
pub mod lower;
pub mod sandbox;

pub use abi::{ModuleId, ModuleInfo};
pub use error::VmError;
pub use sandbox::{Budget, Execution, Limits, LoadedModule, Sandbox};
