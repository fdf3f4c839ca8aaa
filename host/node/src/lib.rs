//! The Obelysk node: configuration, durable store, job queue and sandbox workers, HTTP API,
//! and the pieces of the `obelysk` CLI that talk to them.

pub mod chain;
pub mod cli;
pub mod config;
pub mod cpu;
pub mod crosscheck;
pub mod failures;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod prover;
pub mod server;
pub mod store;
pub mod worker;
pub mod workers;
