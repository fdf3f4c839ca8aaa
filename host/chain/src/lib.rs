//! Starknet side of Obelysk.
//!
//! - [`contract`]: the attestation registry's compiled class (Cairo source in `contract/`), with
//!   its class hashes pinned.
//! - [`registry`]: what the registry stores ([`AttestationParts`], [`OnChainRecord`]) and how it
//!   travels as calldata.
//! - [`client`]: declare, deploy, allowlist, attest and read back over JSON-RPC
//!   (`starknet-rust`), with nonce management and typed reverts.
//! - [`devnet`]: starts a local `starknet-devnet` for tests.

pub mod client;
pub mod contract;
pub mod devnet;
pub mod registry;

pub use client::{AttestedEvent, ChainError, Client, Submitted};
pub use registry::{AttestationParts, OnChainRecord};
pub use starknet_rust::core::types::Felt;
