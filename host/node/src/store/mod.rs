//! Durable state of a node: uploaded modules, jobs and the index of their proofs.
//!
//! [`Store`] is what the HTTP API, the workers and the provers use. [`SqliteStore`] is the
//! embedded implementation (WAL, `synchronous=FULL`), with proof bytes in [`ProofFiles`] under
//! the data directory; [`PgStore`] is one PostgreSQL database shared by several nodes, with
//! proof bytes in the database. [`open`] picks one by the URL's scheme.

mod group_commit;
mod pg;
mod proof_files;
mod rows;
mod sqlite;
pub mod temp_postgres;
#[cfg(test)]
mod tests;

pub use pg::PgStore;
pub use proof_files::ProofFiles;
pub(crate) use rows::now_ms;
pub use sqlite::SqliteStore;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use blake2::{Blake2s256, Digest};
use tokio::sync::broadcast;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::failures::FailureCode;
use crate::keys::{KeyGrant, KeyRecord, QuotaExceeded};
use crate::workers::WorkerRecord;

/// An accepted module, as listed by the API (the bytes are fetched separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginRecord {
    /// Hex Blake2s-256 of the module bytes.
    pub id: String,
    pub size: u64,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    pub memory_pages: u64,
    /// What the Obelysk VM makes of the module.
    pub vm: VmSupport,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// Whether the Obelysk VM can lower (and so, once the prover lands, prove) a module.
/// Recomputed on start when the VM's IR version changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VmSupport {
    /// True when every function lowers to the Obelysk IR.
    pub supported: bool,
    /// Hash of the lowered program, when supported.
    pub program_id: Option<String>,
    /// Instructions and constructs the VM does not support yet: name → occurrences.
    pub unsupported: BTreeMap<String, usize>,
    /// Any other reason the module does not lower.
    pub reason: Option<String>,
    /// The IR version this was computed with (0: never computed).
    pub ir_version: u32,
}

impl VmSupport {
    /// Lowers `bytes` and reports the result.
    pub fn of(bytes: &[u8]) -> VmSupport {
        let ir_version = obelysk_vm::ir::IR_VERSION;
        match obelysk_vm::lower::lower(bytes) {
            Ok(program) => VmSupport {
                supported: true,
                program_id: Some(program.id().to_string()),
                ir_version,
                ..VmSupport::default()
            },
            Err(obelysk_vm::lower::LowerError::Unsupported(names)) => VmSupport {
                unsupported: names,
                ir_version,
                ..VmSupport::default()
            },
            Err(other) => VmSupport {
                reason: Some(other.to_string()),
                ir_version,
                ..VmSupport::default()
            },
        }
    }
}

/// Recomputes [`VmSupport`] of every module stored under another IR version; returns how many.
pub async fn refresh_vm_support(store: &dyn Store) -> Result<usize, StoreError> {
    let mut refreshed = 0;
    for plugin in store.plugins().await? {
        if plugin.vm.ir_version == obelysk_vm::ir::IR_VERSION {
            continue;
        }
        let Some(bytes) = store.plugin_bytes(&plugin.id).await? else {
            continue;
        };
        let vm = tokio::task::spawn_blocking(move || VmSupport::of(&bytes))
            .await
            .map_err(|e| StoreError::Corrupt(format!("lowering task: {e}")))?;
        store.set_vm_support(&plugin.id, &vm).await?;
        refreshed += 1;
    }
    Ok(refreshed)
}

/// Where a job is in its life: `queued → running → proving → verifying → completed`, or
/// `failed` from any of the middle three. A job submitted with `"prove": false` goes from
/// `running` straight to `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Proving,
    Verifying,
    Completed,
    Failed,
}

impl JobStatus {
    const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Proving,
        JobStatus::Verifying,
        JobStatus::Completed,
        JobStatus::Failed,
    ];

    /// The name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Proving => "proving",
            JobStatus::Verifying => "verifying",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    /// Parses a stored or query-string status.
    pub fn parse(s: &str) -> Option<JobStatus> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// True for `completed` and `failed`: nothing changes after.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// What a `proving` or `verifying` job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobPhase {
    /// Waiting for a prover (local or remote).
    Waiting,
    /// The VM re-executes the run.
    Execute,
    /// Building the witness columns.
    Trace,
    /// Committing the trees.
    Commit,
    /// stwo's proof.
    Prove,
    /// The node verifies the proof.
    Verify,
}

impl JobPhase {
    const ALL: [JobPhase; 6] = [
        JobPhase::Waiting,
        JobPhase::Execute,
        JobPhase::Trace,
        JobPhase::Commit,
        JobPhase::Prove,
        JobPhase::Verify,
    ];

    /// The name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Waiting => "waiting",
            JobPhase::Execute => "execute",
            JobPhase::Trace => "trace",
            JobPhase::Commit => "commit",
            JobPhase::Prove => "prove",
            JobPhase::Verify => "verify",
        }
    }

    /// Parses a stored phase.
    pub fn parse(s: &str) -> Option<JobPhase> {
        Self::ALL.into_iter().find(|phase| phase.as_str() == s)
    }

    /// Progress (0 to 100) of a job when it enters the phase: the sandbox run is the first
    /// tenth, the proof most of the rest (shares measured by the `vm_prove` bench).
    pub fn progress(self) -> u8 {
        match self {
            JobPhase::Waiting => 10,
            JobPhase::Execute => 12,
            JobPhase::Trace => 15,
            JobPhase::Commit => 25,
            JobPhase::Prove => 55,
            JobPhase::Verify => 95,
        }
    }
}

impl From<obelysk_prover::Phase> for JobPhase {
    fn from(phase: obelysk_prover::Phase) -> Self {
        match phase {
            obelysk_prover::Phase::Execute => JobPhase::Execute,
            obelysk_prover::Phase::Trace => JobPhase::Trace,
            obelysk_prover::Phase::Commit => JobPhase::Commit,
            obelysk_prover::Phase::Prove => JobPhase::Prove,
        }
    }
}

/// Why a job failed: a stable code (see [`crate::failures`]), a human message, and whether
/// resubmitting can succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobError {
    pub code: FailureCode,
    pub message: String,
    pub retryable: bool,
}

impl JobError {
    /// A failure with `retryable` taken from the catalogue.
    pub fn new(code: FailureCode, message: impl Into<String>) -> Self {
        JobError {
            retryable: code.retryable(),
            code,
            message: message.into(),
        }
    }

    /// A sandbox or module failure.
    pub fn vm(error: &obelysk_vm::VmError) -> Self {
        JobError::new(FailureCode::of(error), error.to_string())
    }
}

/// A job and everything known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub id: Uuid,
    /// The plugin id.
    pub plugin: String,
    #[serde(skip)]
    pub input: Vec<u32>,
    pub status: JobStatus,
    /// Whether the job is proven (the default) or only run.
    pub prove: bool,
    /// What the job is doing now: `execute`, `trace`, `commit`, `prove` while `proving`
    /// (`waiting` until a prover takes it), `verify` while `verifying`.
    pub phase: Option<JobPhase>,
    /// Rough progress through the whole job, 0 to 100.
    pub progress: u8,
    pub output: Option<Vec<u32>>,
    pub fuel_used: Option<u64>,
    /// Steps of the Obelysk VM's re-execution, when the module lowers (what proving will cost).
    pub vm_steps: Option<u64>,
    /// The fuel budget the job asked for (`None`: the node's limit).
    pub fuel_limit: Option<u64>,
    /// The wall-clock budget the job asked for, in ms (`None`: the node's limit).
    pub timeout_ms: Option<u64>,
    /// The most VM steps the run may take (`None`: the node's `[prover] max_steps`).
    pub max_steps: Option<u64>,
    /// The id of the API key it was submitted with.
    pub key: Option<String>,
    /// The remote worker that holds the job's lease (proving it now).
    pub worker: Option<String>,
    pub error: Option<JobError>,
    /// The 32-byte attestation (`0x` + 64 hex) of a completed, proven job.
    pub attestation: Option<String>,
    /// Where the job's attestation stands on Starknet (absent when the node attests nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainStatus>,
    /// How many times a worker started this job (more than one after a crash).
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
}

/// Where a job's attestation stands on Starknet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainStatus {
    pub state: ChainState,
    /// `0x` + hex hash of the transaction that carries (or carried) the attestation.
    pub tx_hash: Option<String>,
    /// Submissions tried so far.
    pub attempts: u32,
    /// Why the last try did not settle it, while it is being retried.
    pub error: Option<String>,
}

/// The life of an outbox entry: `pending` → `sent` → `confirmed`, back to `pending` on a
/// retryable failure, `failed` only when the chain holds other parts for the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChainState {
    Pending,
    Sent,
    Confirmed,
    Failed,
}

impl ChainState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainState::Pending => "pending",
            ChainState::Sent => "sent",
            ChainState::Confirmed => "confirmed",
            ChainState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ChainState> {
        [
            ChainState::Pending,
            ChainState::Sent,
            ChainState::Confirmed,
            ChainState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// An attestation waiting in the outbox, with the proof parts it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub job_id: Uuid,
    pub status: ChainStatus,
    pub proof: ProofRecord,
}

/// What one submission try left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxUpdate {
    pub state: ChainState,
    pub tx_hash: Option<String>,
    pub attempts: u32,
    pub error: Option<String>,
    /// When the entry is next due (ms since the epoch); ignored once settled.
    pub next_attempt_ms: i64,
}

/// What `POST /jobs` stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewJob {
    pub plugin: String,
    pub input: Vec<u32>,
    pub fuel_limit: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub prove: bool,
    /// The most VM steps the run may take (the request's, capped by its key's).
    pub max_steps: Option<u64>,
    /// The key it was submitted with: the insert counts the job against the key's in-flight
    /// and per-minute limits in the same transaction, so concurrent submissions cannot both
    /// slip under a limit.
    pub key: Option<KeyGrant>,
}

/// The index entry of a job's proof: its statement's parts, the file, timings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProofRecord {
    /// `0x` + 64 hex: what the chain stores (see `obelysk_air::statement::attestation`).
    pub attestation: String,
    /// Hex hash of the lowered program.
    pub program_id: String,
    /// Hex `H(input)` and `H(output)` as in the attestation.
    pub input_hash: String,
    pub output_hash: String,
    /// Hex Blake2s of the proof body.
    pub proof_hash: String,
    pub security_bits: u32,
    /// Bytes of the proof file.
    pub size: u64,
    /// Executed VM steps.
    pub steps: u64,
    /// Wall time of execute, trace, commit and prove.
    pub prove_ms: u64,
    /// Wall time of the node's own verification.
    pub verify_ms: u64,
    /// Name of the content-addressed file in the proof store.
    #[serde(skip)]
    pub file: String,
}

/// An `Idempotency-Key` and a hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// The result of an idempotent insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new job.
    New(JobRecord),
    /// The key was used before: its job, and whether the request was the same.
    Replayed { job: JobRecord, same_request: bool },
}

/// What a sandbox run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub output: Vec<u32>,
    pub fuel_used: u64,
    pub vm_steps: Option<u64>,
}

/// How a job's sandbox run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: the job asked for no proof.
    Completed(RunResult),
    /// On to the provers (`proving`, phase `waiting`).
    ToProve(RunResult),
    Failed(JobError),
}

/// What finishing a job with an [`Outcome`] writes to its row, as both stores bind it.
pub(super) struct FinishColumns<'a> {
    pub status: &'static str,
    pub phase: Option<&'static str>,
    pub progress: i64,
    /// JSON words.
    pub output: Option<String>,
    pub fuel_used: Option<i64>,
    pub vm_steps: Option<i64>,
    pub error_code: Option<&'static str>,
    pub error_message: Option<&'a str>,
    pub finished_at: Option<i64>,
    /// A failure may end a job in any unfinished state; a run result only a running one.
    pub from_any_unfinished: bool,
}

impl Outcome {
    /// The row's new columns, finishing at `now_ms` (a job sent on to the provers is not
    /// finished: it waits for one).
    pub(super) fn columns(&self, now_ms: i64) -> FinishColumns<'_> {
        let (status, run, error) = match self {
            Outcome::Completed(run) => (JobStatus::Completed, Some(run), None),
            Outcome::ToProve(run) => (JobStatus::Proving, Some(run), None),
            Outcome::Failed(error) => (JobStatus::Failed, None, Some(error)),
        };
        let (phase, progress, finished_at) = match status {
            JobStatus::Proving => (
                Some(JobPhase::Waiting.as_str()),
                JobPhase::Waiting.progress(),
                None,
            ),
            _ => (None, 100, Some(now_ms)),
        };
        FinishColumns {
            status: status.as_str(),
            phase,
            progress: i64::from(progress),
            output: run.map(|r| serde_json::to_string(&r.output).expect("words serialize")),
            fuel_used: run.map(|r| rows::clamp_i64(r.fuel_used)),
            vm_steps: run.and_then(|r| r.vm_steps).map(rows::clamp_i64),
            error_code: error.map(|e| e.code.as_str()),
            error_message: error.map(|e| e.message.as_str()),
            finished_at,
            from_any_unfinished: error.is_some(),
        }
    }
}

/// The jobs completed in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Minute {
    /// Unix ms of the minute's start.
    pub start_ms: i64,
    /// Jobs that completed in it.
    pub jobs: u64,
    /// VM steps of the proven ones among them.
    pub proven_steps: u64,
}

impl Minute {
    /// A row of [`THROUGHPUT_SQL`]: the minute, its jobs and their proven steps.
    fn from_row((start_ms, jobs, steps): (i64, i64, i64)) -> Minute {
        Minute {
            start_ms,
            jobs: jobs.max(0) as u64,
            proven_steps: steps.max(0) as u64,
        }
    }
}

/// `holding` as the JSON array of ids both stores' heartbeat statements read (`None`: every
/// lease).
fn holding_json(holding: Option<&[Uuid]>) -> Option<String> {
    holding.map(|ids| serde_json::to_string(ids).expect("ids serialize"))
}

/// The per-minute throughput query (one dialect: `$1` is read by both databases).
const THROUGHPUT_SQL: &str = "SELECT (finished_at / 60000) * 60000 AS minute, COUNT(*) AS jobs, \
     CAST(COALESCE(SUM(CASE WHEN prove THEN vm_steps ELSE 0 END), 0) AS BIGINT) AS steps \
     FROM jobs WHERE status = 'completed' AND finished_at >= $1 \
     GROUP BY minute ORDER BY minute";

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Pass as `cursor` to get the next (older) page; `None` on the last page.
    pub next_cursor: Option<i64>,
}

/// Failures of the store itself (not of jobs).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported store url `{0}` (expected sqlite://PATH or postgres://USER@HOST/DB)")]
    UnsupportedUrl(String),
    #[error("proof store: {0}")]
    Proofs(std::io::Error),
    /// Not a failure of the store: the job would exceed a limit of its key.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
}

/// Durable storage for modules and jobs.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a module; returns `false` when a module with this id already existed.
    async fn put_plugin(&self, record: &PluginRecord, bytes: &[u8]) -> Result<bool, StoreError>;
    async fn plugin(&self, id: &str) -> Result<Option<PluginRecord>, StoreError>;
    async fn plugin_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError>;
    /// Replaces the stored [`VmSupport`] of a module.
    async fn set_vm_support(&self, id: &str, vm: &VmSupport) -> Result<(), StoreError>;

    /// Inserts a queued job; durable when this returns. A job with a key that would exceed
    /// the key's in-flight or per-minute limit is refused with [`StoreError::Quota`].
    async fn insert_job(&self, job: &NewJob) -> Result<JobRecord, StoreError>;
    /// Inserts a queued job under an idempotency key, atomically: a key already used returns
    /// its job instead.
    async fn insert_job_idempotent(
        &self,
        job: &NewJob,
        key: &Idempotency,
    ) -> Result<Inserted, StoreError>;
    /// The request hash and job stored under an idempotency key.
    async fn idempotent_job(&self, key: &str) -> Result<Option<(String, JobRecord)>, StoreError>;
    async fn job(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError>;
    /// Jobs newest first, optionally only those with `status`, older than `cursor`.
    async fn jobs(
        &self,
        status: Option<JobStatus>,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<JobPage, StoreError>;

    /// Atomically moves the oldest `limit` queued jobs to `running` and returns them, oldest
    /// first.
    async fn claim_queued(&self, limit: usize) -> Result<Vec<JobRecord>, StoreError>;
    /// [`Store::claim_queued`] of one job.
    async fn claim_next(&self) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.claim_queued(1).await?.into_iter().next())
    }
    /// Records the end of a job's sandbox run (or, with `Failed`, of any unfinished job).
    async fn finish(&self, id: Uuid, outcome: &Outcome) -> Result<(), StoreError>;
    /// Atomically gives the oldest job waiting for a prover to the caller (phase `execute`).
    async fn claim_proving(&self) -> Result<Option<JobRecord>, StoreError>;
    /// Records where an unfinished job is: `proving` or `verifying`, and its phase (with the
    /// phase's progress).
    async fn set_phase(
        &self,
        id: Uuid,
        status: JobStatus,
        phase: JobPhase,
    ) -> Result<(), StoreError>;
    /// In one transaction: indexes the proof, marks the job completed and, with `attest`, puts
    /// it in the chain outbox. With `lease`, only while that worker holds the job's lease
    /// (counted as done for it). False when the job was not completed here (finished
    /// already, or the lease is lost).
    async fn complete_proven(
        &self,
        id: Uuid,
        proof: &ProofRecord,
        attest: bool,
        lease: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The proof index entry of a job.
    async fn proof(&self, id: Uuid) -> Result<Option<ProofRecord>, StoreError>;
    /// The file names of every indexed proof.
    async fn proof_files(&self) -> Result<Vec<String>, StoreError>;
    /// After a crash: jobs left `running` go back to the queue, jobs left `proving` or
    /// `verifying` back to waiting for a prover (except those a remote worker holds a live
    /// lease on); returns how many.
    async fn requeue_running(&self) -> Result<u64, StoreError>;
    async fn count(&self, status: JobStatus) -> Result<u64, StoreError>;
    /// Jobs completed at or after `since_ms`, per minute, oldest first (the status page's
    /// chart).
    async fn throughput(&self, since_ms: i64) -> Result<Vec<Minute>, StoreError>;

    /// Outbox entries that are `pending` or `sent` and due at `now_ms`, oldest first; each one
    /// returned is leased (not due again) until `now_ms + lease_ms`.
    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Records a submission try of a job's attestation (outbox and job, in one transaction).
    async fn update_outbox(&self, job_id: Uuid, update: &OutboxUpdate) -> Result<(), StoreError>;
    /// After a restart: every unsettled outbox entry is due now.
    async fn release_outbox(&self) -> Result<u64, StoreError>;
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Registers a remote worker (heartbeat now).
    async fn register_worker(&self, worker: &WorkerRecord) -> Result<(), StoreError>;
    /// Every worker, oldest first; those with no heartbeat since `stale_before_ms` are `lost`.
    async fn workers(&self, stale_before_ms: i64) -> Result<Vec<WorkerRecord>, StoreError>;
    /// One worker (its state as of `stale_before_ms`, as in [`Store::workers`]).
    async fn worker(
        &self,
        id: &str,
        stale_before_ms: i64,
    ) -> Result<Option<WorkerRecord>, StoreError>;
    /// Records a heartbeat and renews the worker's leases until `lease_until_ms`: those on
    /// `holding` (the jobs the worker says it is proving), or all of them when `None` (a worker
    /// that does not say). A lease left out is not renewed and expires. False for an unknown
    /// worker.
    async fn heartbeat(
        &self,
        worker: &str,
        lease_until_ms: i64,
        holding: Option<&[Uuid]>,
    ) -> Result<bool, StoreError>;
    /// Leases the oldest job waiting for a prover to `worker` until `lease_until_ms`.
    async fn lease_proving(
        &self,
        worker: &str,
        lease_until_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Sends a job `worker` holds back to the queue and counts a failure against the worker
    /// (quarantining it until `quarantine_until_ms`, if given); false when it does not hold
    /// the job.
    async fn release_lease(
        &self,
        job: Uuid,
        worker: &str,
        quarantine_until_ms: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Sends every job whose lease expired before `now_ms` back to the queue, counted against
    /// its worker; returns the jobs.
    async fn expire_leases(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError>;

    /// Stores a new API key under the hash of its token.
    async fn put_key(&self, key: &KeyRecord, token_hash: &str) -> Result<(), StoreError>;
    /// The key whose token hashes to `token_hash`, revoked or not.
    async fn key_by_token_hash(&self, token_hash: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Every key, oldest first.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Revokes a key by id or name; the keys it revoked (none when nothing matched, or
    /// everything matching was revoked already).
    async fn revoke_key(&self, id_or_name: &str) -> Result<Vec<KeyRecord>, StoreError>;

    /// Every job change made by any node sharing the store. `None` when the store is this
    /// node's alone (SQLite), so the node's own announcements are all the changes there are.
    fn watch(&self) -> Option<broadcast::Receiver<JobChange>> {
        None
    }
}

/// A job's status or phase changed (on this node or another sharing the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobChange {
    pub id: Uuid,
    pub status: JobStatus,
    pub phase: Option<JobPhase>,
}

/// Where proof bytes are kept, under content-addressed names ([`proof_name`]).
#[async_trait::async_trait]
pub trait ProofBlobs: Send + Sync + 'static {
    /// Stores proof bytes durably; returns their name.
    async fn put_proof(&self, bytes: &[u8]) -> Result<String, StoreError>;
    /// The bytes stored under `name`, if any.
    async fn proof_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The name proof bytes are stored under: hex Blake2s-256 of the bytes, `.proof`.
pub fn proof_name(bytes: &[u8]) -> String {
    format!("{}.proof", hex::encode(Blake2s256::digest(bytes)))
}

/// A node's durable state: the job store and where proof bytes go.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub proofs: Arc<dyn ProofBlobs>,
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the job store that `url` names (see [`open`]) without touching proof bytes: for
/// commands that run beside a live node.
pub async fn open_store(url: &str, lease_ms: u64) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match is_postgres(url) {
        true => Arc::new(PgStore::open(url, lease_ms).await?),
        false => Arc::new(SqliteStore::open(url).await?),
    })
}

/// Opens the store that `url` names: `sqlite://PATH`, with proof files under `data_dir`
/// (swept of files no job points at), or `postgres://…`, shared with other nodes, where a
/// claim this node stops renewing lapses after `lease_ms` (swept of proof blobs no job has
/// pointed at for [`pg::ORPHAN_BLOB_AGE_MS`]).
pub async fn open(
    url: &str,
    data_dir: &std::path::Path,
    lease_ms: u64,
) -> Result<Opened, StoreError> {
    if is_postgres(url) {
        let store = PgStore::open(url, lease_ms).await?;
        let orphans = store
            .sweep_orphan_blobs(now_ms() - pg::ORPHAN_BLOB_AGE_MS)
            .await?;
        if orphans > 0 {
            tracing::warn!(orphans, "removed proof blobs no job points at");
        }
        let (store, proofs) = pg::shared(store);
        return Ok(Opened { store, proofs });
    }
    let store = SqliteStore::open(url).await?;
    let proof_dir = data_dir.join("proofs");
    let files = ProofFiles::open(&proof_dir).map_err(|source| StoreError::DataDir {
        path: proof_dir.display().to_string(),
        source,
    })?;
    let indexed: HashSet<String> = store.proof_files().await?.into_iter().collect();
    let orphans = files.sweep(&indexed).map_err(StoreError::Proofs)?;
    if orphans > 0 {
        tracing::warn!(
            orphans,
            "removed proof files no job points at (a crash before indexing)"
        );
    }
    Ok(Opened {
        store: Arc::new(store),
        proofs: Arc::new(files),
    })
}
