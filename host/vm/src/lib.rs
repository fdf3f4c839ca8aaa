//! The Obelysk VM crate. It does not run Wasm natively: the wasmtime sandbox is
//! `obelysk-sandbox`, so what a verifier links (the module check and the lowering) stays
//! free of wasmtime.
//!
//! - [`abi`]: checks a module against the guest ABI (exports `memory` and `main: [] -> []`,
//!   imports only `obelysk.{input_len, read, write}`);
//! - [`lower`]: the front end, Wasm → the Obelysk IR ([`ir`]) with static stack slots;
//! - [`interp`]: the tracing interpreter over the IR, whose trace the prover will prove.

pub mod abi;
mod error;
mod hash;
pub mod interp;
pub mod ir;
pub mod lower;

pub use abi::{ModuleId, ModuleInfo};
pub use error::VmError;
