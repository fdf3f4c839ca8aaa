//! Decoding stored rows into records, shared by the SQLite and PostgreSQL stores: both keep
//! the same columns with the same meanings (integers as 64-bit, JSON as text).

use sqlx::{Postgres, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::failures::FailureCode;
use crate::keys::{KeyLimits, KeyRecord, Role};
use crate::workers::{WorkerRecord, WorkerState};

use super::{
    ChainState, ChainStatus, JobError, JobPhase, JobRecord, JobStatus, PluginRecord, ProofRecord,
    StoreError, VmSupport,
};

/// A column type both databases decode.
pub(super) trait Value:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
{
}

impl<T> Value for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
{
}

/// A row of either database, read by column name.
pub(super) trait Columns {
    fn value<T: Value>(&self, name: &str) -> Result<T, StoreError>;
}

impl Columns for sqlx::sqlite::SqliteRow {
    fn value<T: Value>(&self, name: &str) -> Result<T, StoreError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

impl Columns for sqlx::postgres::PgRow {
    fn value<T: Value>(&self, name: &str) -> Result<T, StoreError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

pub(super) const JOB_COLUMNS: &str = "seq, id, plugin, input, status, prove, phase, progress, output, fuel_used, vm_steps, \
                           fuel_limit, timeout_ms, error_code, error_message, attestation, attempts, \
                           created_at, started_at, finished_at, chain_state, chain_tx, chain_attempts, \
                           chain_error, max_steps, key_id, lease_owner";

pub(super) const KEY_COLUMNS: &str =
    "id, name, role, max_in_flight, max_steps, jobs_per_minute, created_at, revoked_at";

pub(super) const PROOF_COLUMNS: &str = "file, attestation, program_id, input_hash, output_hash, proof_hash, \
                             security_bits, size, steps, prove_ms, verify_ms";

pub(crate) fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
}

/// A time as stored: ms since the epoch.
pub(super) fn to_ms(time: OffsetDateTime) -> i64 {
    (time.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A count or size as stored (a 64-bit signed column).
pub(super) fn clamp_i64(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

/// A stored job id.
pub(super) fn parse_job_id(id: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(id).map_err(|e| StoreError::Corrupt(format!("job id {id}: {e}")))
}

/// A list of columns with each prefixed by `table.`.
pub(super) fn prefixed(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(super) fn plugin_from_row(row: &impl Columns) -> Result<PluginRecord, StoreError> {
    Ok(PluginRecord {
        id: row.value("id")?,
        size: row.value::<i64>("size")? as u64,
        exports: json(&row.value::<String>("exports")?, "plugin exports")?,
        imports: json(&row.value::<String>("imports")?, "plugin imports")?,
        memory_pages: row.value::<i64>("memory_pages")? as u64,
        // NULL (stored before this column existed) reads as "never computed": refreshed on start.
        vm: match row.value::<Option<String>>("vm")? {
            Some(text) => json(&text, "plugin vm support")?,
            None => VmSupport::default(),
        },
        created_at: from_ms(row.value("created_at")?)?,
    })
}

pub(super) fn job_from_row(row: &impl Columns) -> Result<JobRecord, StoreError> {
    let id: String = row.value("id")?;
    let status: String = row.value("status")?;
    let output: Option<String> = row.value("output")?;
    let error_code: Option<String> = row.value("error_code")?;
    let progress: i64 = row.value("progress")?;
    Ok(JobRecord {
        id: parse_job_id(&id)?,
        plugin: row.value("plugin")?,
        input: json(&row.value::<String>("input")?, "job input")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("job status {status}")))?,
        prove: row.value("prove")?,
        phase: row
            .value::<Option<String>>("phase")?
            .map(|phase| {
                JobPhase::parse(&phase)
                    .ok_or_else(|| StoreError::Corrupt(format!("job phase {phase}")))
            })
            .transpose()?,
        progress: progress.clamp(0, 100) as u8,
        output: output.map(|o| json(&o, "job output")).transpose()?,
        fuel_used: row.value::<Option<i64>>("fuel_used")?.map(|f| f as u64),
        vm_steps: row.value::<Option<i64>>("vm_steps")?.map(|s| s as u64),
        fuel_limit: row.value::<Option<i64>>("fuel_limit")?.map(|f| f as u64),
        timeout_ms: row.value::<Option<i64>>("timeout_ms")?.map(|t| t as u64),
        max_steps: row.value::<Option<i64>>("max_steps")?.map(|s| s as u64),
        key: row.value("key_id")?,
        worker: row.value("lease_owner")?,
        error: match error_code {
            Some(code) => Some(JobError::new(
                FailureCode::parse(&code)
                    .ok_or_else(|| StoreError::Corrupt(format!("job failure code {code}")))?,
                row.value::<String>("error_message")?,
            )),
            None => None,
        },
        attestation: row.value("attestation")?,
        chain: chain_from_row(row)?,
        attempts: row.value::<i64>("attempts")? as u32,
        created_at: from_ms(row.value("created_at")?)?,
        started_at: row
            .value::<Option<i64>>("started_at")?
            .map(from_ms)
            .transpose()?,
        finished_at: row
            .value::<Option<i64>>("finished_at")?
            .map(from_ms)
            .transpose()?,
    })
}

pub(super) fn chain_from_row(row: &impl Columns) -> Result<Option<ChainStatus>, StoreError> {
    let Some(state) = row.value::<Option<String>>("chain_state")? else {
        return Ok(None);
    };
    Ok(Some(ChainStatus {
        state: ChainState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("chain state {state}")))?,
        tx_hash: row.value("chain_tx")?,
        attempts: row.value::<i64>("chain_attempts")? as u32,
        error: row.value("chain_error")?,
    }))
}

pub(super) fn proof_from_row(row: &impl Columns) -> Result<ProofRecord, StoreError> {
    let int = |name: &str| -> Result<u64, StoreError> { Ok(row.value::<i64>(name)? as u64) };
    Ok(ProofRecord {
        file: row.value("file")?,
        attestation: row.value("attestation")?,
        program_id: row.value("program_id")?,
        input_hash: row.value("input_hash")?,
        output_hash: row.value("output_hash")?,
        proof_hash: row.value("proof_hash")?,
        security_bits: int("security_bits")? as u32,
        size: int("size")?,
        steps: int("steps")?,
        prove_ms: int("prove_ms")?,
        verify_ms: int("verify_ms")?,
    })
}

/// A worker row with the count of the leases it holds.
pub(super) const WORKER_SELECT: &str =
    "SELECT w.*, (SELECT COUNT(*) FROM jobs j WHERE j.lease_owner = w.id) AS leases FROM workers w";

pub(super) fn worker_from_row(
    row: &impl Columns,
    stale_before_ms: i64,
) -> Result<WorkerRecord, StoreError> {
    let last: i64 = row.value("last_heartbeat")?;
    Ok(WorkerRecord {
        id: row.value("id")?,
        name: row.value("name")?,
        key: row.value("key_id")?,
        backend: row.value("backend")?,
        devices: json(&row.value::<String>("devices")?, "worker devices")?,
        memory_bytes: row.value::<i64>("memory_bytes")?.max(0) as u64,
        version: row.value("version")?,
        state: if last < stale_before_ms {
            WorkerState::Lost
        } else {
            WorkerState::Active
        },
        registered_at: from_ms(row.value("registered_at")?)?,
        last_heartbeat: from_ms(last)?,
        jobs_done: row.value::<i64>("jobs_done")?.max(0) as u64,
        jobs_failed: row.value::<i64>("jobs_failed")?.max(0) as u64,
        leases: row.value::<i64>("leases")?.max(0) as u64,
        quarantined_until: row
            .value::<Option<i64>>("quarantined_until")?
            .map(from_ms)
            .transpose()?,
    })
}

pub(super) fn key_from_row(row: &impl Columns) -> Result<KeyRecord, StoreError> {
    let role: String = row.value("role")?;
    let count = |column: &str| -> Result<Option<u32>, StoreError> {
        Ok(row
            .value::<Option<i64>>(column)?
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32))
    };
    Ok(KeyRecord {
        id: row.value("id")?,
        name: row.value("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("key role {role}")))?,
        limits: KeyLimits {
            max_in_flight: count("max_in_flight")?,
            max_steps: row
                .value::<Option<i64>>("max_steps")?
                .map(|s| s.max(0) as u64),
            jobs_per_minute: count("jobs_per_minute")?,
        },
        created_at: from_ms(row.value("created_at")?)?,
        revoked_at: row
            .value::<Option<i64>>("revoked_at")?
            .map(from_ms)
            .transpose()?,
    })
}
