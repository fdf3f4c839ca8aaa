//! Remote prover workers: what a coordinator knows of each, and the messages they exchange.
//!
//! A worker (`obelysk worker`) registers, then pulls: it leases the oldest job waiting for a
//! prover, fetches the module, proves, and uploads the proof file. The coordinator trusts no
//! worker: it verifies every uploaded proof against the job's own statement before it
//! completes the job. A lease lasts `[prover] lease_ms` and each heartbeat renews it; a lease
//! that expires, a proof that does not verify and a proof from a worker whose lease was lost
//! send the job back to the queue and count against the worker; a proof that does not verify
//! also quarantines the worker for [`QUARANTINE_MS`] (no leases), so that a lying worker
//! cannot keep the coordinator verifying its proofs.

/// How long a worker whose proof did not verify gets no lease.
pub const QUARANTINE_MS: i64 = 60_000;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A device a worker proves on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkerDevice {
    pub name: String,
    pub memory_bytes: u64,
}

/// A heartbeat's body: the jobs the worker is proving.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holding {
    /// Only these leases are renewed; one left out expires. Without a body every lease of the
    /// worker is renewed.
    pub jobs: Vec<Uuid>,
}

/// `POST /workers/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// A name for people (defaults to the host name).
    pub name: Option<String>,
    /// The stwo backend it proves on: `simd`, `cpu` or `cuda`.
    pub backend: String,
    /// Its GPUs (empty for a CPU worker).
    #[serde(default)]
    pub devices: Vec<WorkerDevice>,
    /// Memory it has for proofs.
    pub memory_bytes: u64,
    /// Its `obelysk` version.
    pub version: String,
}

/// The answer to a registration: the worker's id and how to behave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registered {
    pub worker_id: String,
    /// A lease lasts this long past the last heartbeat.
    pub lease_ms: u64,
    /// Send a heartbeat this often.
    pub heartbeat_ms: u64,
    /// Prove at this preset (the coordinator verifies at it).
    pub security_bits: u32,
}

/// A job leased to a worker: what it needs to prove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lease {
    pub job: Uuid,
    /// The plugin id; its bytes are at `GET /plugins/{id}/module`.
    pub plugin: String,
    pub input: Vec<u32>,
    /// What the sandbox run wrote: the VM's re-execution must agree.
    pub output: Vec<u32>,
    /// The most VM steps the run may take.
    pub max_steps: u64,
}

/// A registered worker, as `GET /workers` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WorkerRecord {
    pub id: String,
    pub name: Option<String>,
    /// The API key it registered with.
    pub key: Option<String>,
    pub backend: String,
    pub devices: Vec<WorkerDevice>,
    pub memory_bytes: u64,
    pub version: String,
    /// `active` while its heartbeats arrive, `lost` after three missed ones.
    pub state: WorkerState,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub registered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_heartbeat: OffsetDateTime,
    /// Jobs it completed with a verified proof.
    pub jobs_done: u64,
    /// Leases it lost: expired, a proof that did not verify, a proof after its lease ended.
    pub jobs_failed: u64,
    /// Jobs it holds now.
    pub leases: u64,
    /// After a proof that did not verify it gets no lease until then.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub quarantined_until: Option<OffsetDateTime>,
}

impl WorkerRecord {
    /// A worker registering now (its first heartbeat), with nothing done yet.
    pub fn new(id: String, key: Option<String>, registration: Registration) -> WorkerRecord {
        let now = OffsetDateTime::now_utc();
        WorkerRecord {
            id,
            name: registration.name,
            key,
            backend: registration.backend,
            devices: registration.devices,
            memory_bytes: registration.memory_bytes,
            version: registration.version,
            state: WorkerState::Active,
            registered_at: now,
            last_heartbeat: now,
            jobs_done: 0,
            jobs_failed: 0,
            leases: 0,
            quarantined_until: None,
        }
    }
}

/// Whether a worker's heartbeats arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    Active,
    Lost,
}

impl WorkerState {
    /// `active` when the last heartbeat is less than three intervals old.
    pub fn at(last_heartbeat_ms: i64, now_ms: i64, heartbeat_ms: u64) -> WorkerState {
        if now_ms - last_heartbeat_ms < 3 * heartbeat_ms as i64 {
            WorkerState::Active
        } else {
            WorkerState::Lost
        }
    }
}
