//! End-to-end tests: real `obelysk` processes, real HTTP on 127.0.0.1, real SQLite files (and a
//! throwaway PostgreSQL server for the shared queue).
//!
//! One binary (fast to link); the modules:
//! - `support` — start/kill nodes, build the first-party plugins, reference implementations
//! - `api`     — upload every plugin, run jobs, check outputs; listing, paging, OpenAPI, metrics
//! - `errors`  — bad input gets 4xx with a JSON reason and the node keeps serving
//! - `bombs`   — fuel, memory, stack and wall-clock limits; a full queue answers 429
//! - `crash`   — SIGKILL with 50 jobs in flight, restart, every job completes exactly once
//! - `cli`     — `obelysk run`, `submit --wait`, `status`, exit codes
//! - `proving` — proven jobs end to end: SSE, proof download, pool load, crash, tamper, estimate
//! - `chain`   — attestations on a local Starknet devnet: deploy, outbox across a restart, CLI
//! - `keys`    — API keys: `obelysk keys`, `[auth] required`, roles, per-key limits
//! - `workers` — remote provers: a pure coordinator, tampering and killed workers
//! - `shared_queue` — two coordinators on one PostgreSQL queue, one of them killed
//! - `browser` — the status page and the browser verifier in headless Chromium

mod support;

mod api;
mod bombs;
mod browser;
mod chain;
mod cli;
mod crash;
mod errors;
mod keys;
mod proving;
mod shared_queue;
mod workers;
