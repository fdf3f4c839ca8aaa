//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! Writes go through a single-connection pool so that read-then-write statements (claiming a
//! job) never race another writer; reads use a separate pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::failures::FailureCode;
use crate::keys::{KeyGrant, KeyLimits, KeyRecord, QuotaExceeded, Role};
use crate::workers::{WorkerRecord, WorkerState};

use super::group_commit::{GroupCommit, Write};
use super::{
    ChainState, ChainStatus, Idempotency, Inserted, JobError, JobPage, JobPhase, JobRecord,
    JobStatus, NewJob, OutboxEntry, OutboxUpdate, Outcome, PluginRecord, ProofRecord, Store,
    StoreError, VmSupport,
};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE plugins (
    id           TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    exports      TEXT NOT NULL,
    imports      TEXT NOT NULL,
    memory_pages INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE TABLE jobs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    plugin        TEXT NOT NULL REFERENCES plugins(id),
    input         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    output        TEXT,
    fuel_used     INTEGER,
    fuel_limit    INTEGER,
    timeout_ms    INTEGER,
    error_code    TEXT,
    error_message TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX jobs_by_status ON jobs (status, seq);
"#,
    r#"
ALTER TABLE plugins ADD COLUMN vm TEXT;
"#,
    r#"
CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    job_id       TEXT NOT NULL REFERENCES jobs(id),
    created_at   INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE jobs ADD COLUMN vm_steps INTEGER;
"#,
    // Proving: two more statuses (a CHECK cannot be altered in SQLite, so the table is rebuilt;
    // `migrate` turns foreign keys off around it), the phase, and the proof index.
    r#"
CREATE TABLE jobs_v5 (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    plugin        TEXT NOT NULL REFERENCES plugins(id),
    input         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'proving', 'verifying', 'completed', 'failed')),
    prove         INTEGER NOT NULL DEFAULT 0,
    phase         TEXT,
    progress      INTEGER NOT NULL DEFAULT 0,
    output        TEXT,
    fuel_used     INTEGER,
    vm_steps      INTEGER,
    fuel_limit    INTEGER,
    timeout_ms    INTEGER,
    error_code    TEXT,
    error_message TEXT,
    attestation   TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
INSERT INTO jobs_v5 (seq, id, plugin, input, status, output, fuel_used, vm_steps, fuel_limit,
                     timeout_ms, error_code, error_message, attempts, created_at, started_at,
                     finished_at, progress)
SELECT seq, id, plugin, input, status, output, fuel_used, vm_steps, fuel_limit, timeout_ms,
       error_code, error_message, attempts, created_at, started_at, finished_at,
       CASE WHEN status IN ('completed', 'failed') THEN 100 ELSE 0 END
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v5 RENAME TO jobs;
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE TABLE proofs (
    job_id        TEXT PRIMARY KEY REFERENCES jobs(id),
    file          TEXT NOT NULL,
    attestation   TEXT NOT NULL,
    program_id    TEXT NOT NULL,
    input_hash    TEXT NOT NULL,
    output_hash   TEXT NOT NULL,
    proof_hash    TEXT NOT NULL,
    security_bits INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    steps         INTEGER NOT NULL,
    prove_ms      INTEGER NOT NULL,
    verify_ms     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
"#,
    // Starknet attestation: the job shows where its attestation stands; the outbox holds what
    // is still to be settled (a row leaves it when confirmed or failed).
    r#"
ALTER TABLE jobs ADD COLUMN chain_state TEXT
    CHECK (chain_state IN ('pending', 'sent', 'confirmed', 'failed'));
ALTER TABLE jobs ADD COLUMN chain_tx TEXT;
ALTER TABLE jobs ADD COLUMN chain_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN chain_error TEXT;
CREATE TABLE chain_outbox (
    job_id          TEXT PRIMARY KEY REFERENCES jobs(id),
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX chain_outbox_due ON chain_outbox (next_attempt_at);
"#,
    // API keys (only the hash of each token) and what a job was submitted with.
    r#"
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('client', 'worker')),
    token_hash      TEXT NOT NULL UNIQUE,
    max_in_flight   INTEGER,
    max_steps       INTEGER,
    jobs_per_minute INTEGER,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
ALTER TABLE jobs ADD COLUMN key_id TEXT REFERENCES api_keys(id);
ALTER TABLE jobs ADD COLUMN max_steps INTEGER;
CREATE INDEX jobs_by_key ON jobs (key_id, created_at) WHERE key_id IS NOT NULL;
"#,
    // Remote prover workers and the leases they hold on proving jobs.
    r#"
CREATE TABLE workers (
    id             TEXT PRIMARY KEY,
    name           TEXT,
    key_id         TEXT REFERENCES api_keys(id),
    backend        TEXT NOT NULL,
    devices        TEXT NOT NULL,
    memory_bytes   INTEGER NOT NULL,
    version        TEXT NOT NULL,
    registered_at  INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL,
    jobs_done      INTEGER NOT NULL DEFAULT 0,
    jobs_failed    INTEGER NOT NULL DEFAULT 0,
    quarantined_until INTEGER
);
ALTER TABLE jobs ADD COLUMN lease_owner TEXT REFERENCES workers(id);
ALTER TABLE jobs ADD COLUMN lease_expires INTEGER;
CREATE INDEX jobs_by_lease ON jobs (lease_expires) WHERE lease_owner IS NOT NULL;
"#,
];

const JOB_COLUMNS: &str = "seq, id, plugin, input, status, prove, phase, progress, output, fuel_used, vm_steps, \
                           fuel_limit, timeout_ms, error_code, error_message, attestation, attempts, \
                           created_at, started_at, finished_at, chain_state, chain_tx, chain_attempts, \
                           chain_error, max_steps, key_id, lease_owner";

const KEY_COLUMNS: &str =
    "id, name, role, max_in_flight, max_steps, jobs_per_minute, created_at, revoked_at";

const PROOF_COLUMNS: &str = "file, attestation, program_id, input_hash, output_hash, proof_hash, \
                             security_bits, size, steps, prove_ms, verify_ms";

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Inserts, claims and finishes, committed in groups.
    group: GroupCommit,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`) and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
        Self::open_path(Path::new(path)).await
    }

    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub async fn open_path(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let group = GroupCommit::start(writer.clone());
        Ok(SqliteStore {
            writer,
            reader,
            group,
        })
    }
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    // Rebuilding a referenced table needs foreign keys off (outside any transaction), and a
    // check that everything still points somewhere before they are on again.
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let migrated = migrate_on(&mut conn).await;
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await?;
    sqlx::raw_sql("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    migrated?;
    if !dangling.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "{} rows reference missing rows",
            dangling.len()
        )));
    }
    Ok(())
}

async fn migrate_on(conn: &mut sqlx::SqliteConnection) -> Result<(), StoreError> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *tx)
        .await?;
    if applied as usize > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {applied} is newer than this node ({})",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[applied as usize..] {
        sqlx::raw_sql(migration).execute(&mut *tx).await?;
    }
    sqlx::raw_sql(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn plugin_from_row(row: &SqliteRow) -> Result<PluginRecord, StoreError> {
    Ok(PluginRecord {
        id: row.try_get("id")?,
        size: row.try_get::<i64, _>("size")? as u64,
        exports: json(row.try_get("exports")?, "plugin exports")?,
        imports: json(row.try_get("imports")?, "plugin imports")?,
        memory_pages: row.try_get::<i64, _>("memory_pages")? as u64,
        // NULL (stored before this column existed) reads as "never computed": refreshed on start.
        vm: match row.try_get::<Option<String>, _>("vm")? {
            Some(text) => json(&text, "plugin vm support")?,
            None => VmSupport::default(),
        },
        created_at: from_ms(row.try_get("created_at")?)?,
    })
}

fn job_from_row(row: &SqliteRow) -> Result<JobRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let output: Option<String> = row.try_get("output")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    let progress: i64 = row.try_get("progress")?;
    Ok(JobRecord {
        id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("job id {id}: {e}")))?,
        plugin: row.try_get("plugin")?,
        input: json(row.try_get("input")?, "job input")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("job status {status}")))?,
        prove: row.try_get("prove")?,
        phase: row
            .try_get::<Option<String>, _>("phase")?
            .map(|phase| {
                JobPhase::parse(&phase)
                    .ok_or_else(|| StoreError::Corrupt(format!("job phase {phase}")))
            })
            .transpose()?,
        progress: progress.clamp(0, 100) as u8,
        output: output.map(|o| json(&o, "job output")).transpose()?,
        fuel_used: row
            .try_get::<Option<i64>, _>("fuel_used")?
            .map(|f| f as u64),
        vm_steps: row.try_get::<Option<i64>, _>("vm_steps")?.map(|s| s as u64),
        fuel_limit: row
            .try_get::<Option<i64>, _>("fuel_limit")?
            .map(|f| f as u64),
        timeout_ms: row
            .try_get::<Option<i64>, _>("timeout_ms")?
            .map(|t| t as u64),
        max_steps: row
            .try_get::<Option<i64>, _>("max_steps")?
            .map(|s| s as u64),
        key: row.try_get("key_id")?,
        worker: row.try_get("lease_owner")?,
        error: match error_code {
            Some(code) => Some(JobError::new(
                FailureCode::parse(&code)
                    .ok_or_else(|| StoreError::Corrupt(format!("job failure code {code}")))?,
                row.try_get::<String, _>("error_message")?,
            )),
            None => None,
        },
        attestation: row.try_get("attestation")?,
        chain: chain_from_row(row)?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        created_at: from_ms(row.try_get("created_at")?)?,
        started_at: row
            .try_get::<Option<i64>, _>("started_at")?
            .map(from_ms)
            .transpose()?,
        finished_at: row
            .try_get::<Option<i64>, _>("finished_at")?
            .map(from_ms)
            .transpose()?,
    })
}

fn chain_from_row(row: &SqliteRow) -> Result<Option<ChainStatus>, StoreError> {
    let Some(state) = row.try_get::<Option<String>, _>("chain_state")? else {
        return Ok(None);
    };
    Ok(Some(ChainStatus {
        state: ChainState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("chain state {state}")))?,
        tx_hash: row.try_get("chain_tx")?,
        attempts: row.try_get::<i64, _>("chain_attempts")? as u32,
        error: row.try_get("chain_error")?,
    }))
}

fn proof_from_row(row: &SqliteRow) -> Result<ProofRecord, StoreError> {
    let int = |name: &str| -> Result<u64, StoreError> { Ok(row.try_get::<i64, _>(name)? as u64) };
    Ok(ProofRecord {
        file: row.try_get("file")?,
        attestation: row.try_get("attestation")?,
        program_id: row.try_get("program_id")?,
        input_hash: row.try_get("input_hash")?,
        output_hash: row.try_get("output_hash")?,
        proof_hash: row.try_get("proof_hash")?,
        security_bits: int("security_bits")? as u32,
        size: int("size")?,
        steps: int("steps")?,
        prove_ms: int("prove_ms")?,
        verify_ms: int("verify_ms")?,
    })
}

/// Inserts a queued job on `conn` (a pool connection or a transaction).
/// Inserts a job, or with `idempotency` answers the job its key names (see
/// [`Store::insert_job_idempotent`]), on `conn` inside the caller's transaction.
pub(super) async fn insert_on(
    conn: &mut sqlx::SqliteConnection,
    job: &NewJob,
    idempotency: Option<&Idempotency>,
) -> Result<Inserted, StoreError> {
    let Some(key) = idempotency else {
        return insert_job_row(conn, job).await.map(Inserted::New);
    };
    let existing: Option<(String, String)> =
        sqlx::query_as("SELECT request_hash, job_id FROM idempotency WHERE key = ?")
            .bind(&key.key)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((request_hash, job_id)) = existing {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(&job_id)
            .fetch_one(&mut *conn)
            .await?;
        return Ok(Inserted::Replayed {
            job: job_from_row(&row)?,
            same_request: request_hash == key.request_hash,
        });
    }
    let record = insert_job_row(conn, job).await?;
    sqlx::query(
        "INSERT INTO idempotency (key, request_hash, job_id, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(record.id.to_string())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(Inserted::New(record))
}

/// Moves the oldest `limit` queued jobs to `running` on `conn` (see [`Store::claim_queued`]).
pub(super) async fn claim_queued_on(
    conn: &mut sqlx::SqliteConnection,
    limit: usize,
) -> Result<Vec<JobRecord>, StoreError> {
    let mut jobs = sqlx::query(&format!(
        "UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1 \
         WHERE seq IN (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT ?) \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(now_ms())
    .bind(limit.min(i64::MAX as usize) as i64)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(job_from_row)
    .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no order: by id (UUIDv7, time-ordered), about the order they came.
    jobs.sort_by_key(|job| job.id);
    Ok(jobs)
}

/// Records the end of a job's run (see [`Store::finish`]) on `conn`.
pub(super) async fn finish_on(
    conn: &mut sqlx::SqliteConnection,
    id: Uuid,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    let (status, run, error) = match outcome {
        Outcome::Completed(run) => (JobStatus::Completed, Some(run), None),
        Outcome::ToProve(run) => (JobStatus::Proving, Some(run), None),
        Outcome::Failed(error) => (JobStatus::Failed, None, Some(error)),
    };
    let (phase, progress, finished) = match status {
        JobStatus::Proving => (
            Some(JobPhase::Waiting.as_str()),
            JobPhase::Waiting.progress(),
            None,
        ),
        _ => (None, 100, Some(now_ms())),
    };
    // A failure may end a job in any unfinished state; a run result only a running one.
    let from = match outcome {
        Outcome::Failed(_) => "('running', 'proving', 'verifying')",
        _ => "('running')",
    };
    sqlx::query(&format!(
        "UPDATE jobs SET status = ?, phase = ?, progress = ?, \
         output = COALESCE(?, output), fuel_used = COALESCE(?, fuel_used), \
         vm_steps = COALESCE(?, vm_steps), error_code = ?, error_message = ?, finished_at = ? \
         WHERE id = ? AND status IN {from}"
    ))
    .bind(status.as_str())
    .bind(phase)
    .bind(i64::from(progress))
    .bind(run.map(|r| serde_json::to_string(&r.output).expect("words serialize")))
    .bind(run.map(|r| r.fuel_used as i64))
    .bind(run.and_then(|r| r.vm_steps).map(|s| s as i64))
    .bind(error.map(|e| e.code.as_str()))
    .bind(error.map(|e| e.message.as_str()))
    .bind(finished)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a job row; run inside a transaction on the single writer, so its key's counts
/// cannot change between the check and the insert.
async fn insert_job_row(
    conn: &mut sqlx::SqliteConnection,
    job: &NewJob,
) -> Result<JobRecord, StoreError> {
    let now = now_ms();
    if let Some(key) = &job.key {
        check_key_quota(conn, key, now).await?;
    }
    let row = sqlx::query(&format!(
        "INSERT INTO jobs (id, plugin, input, status, prove, fuel_limit, timeout_ms, max_steps, \
         key_id, created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING {JOB_COLUMNS}"
    ))
    .bind(Uuid::now_v7().to_string())
    .bind(&job.plugin)
    .bind(serde_json::to_string(&job.input).expect("words serialize"))
    .bind(job.prove)
    .bind(job.fuel_limit.map(|f| f.min(i64::MAX as u64) as i64))
    .bind(job.timeout_ms.map(|t| t.min(i64::MAX as u64) as i64))
    .bind(job.max_steps.map(|s| s.min(i64::MAX as u64) as i64))
    .bind(job.key.as_ref().map(|k| &k.id))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    job_from_row(&row)
}

/// Refuses a job that would take `key` past its in-flight or per-minute limit.
async fn check_key_quota(
    conn: &mut sqlx::SqliteConnection,
    key: &KeyGrant,
    now: i64,
) -> Result<(), StoreError> {
    if let Some(limit) = key.limits.max_in_flight {
        let in_flight: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE key_id = ? AND status NOT IN ('completed', 'failed')",
        )
        .bind(&key.id)
        .fetch_one(&mut *conn)
        .await?;
        if in_flight >= i64::from(limit) {
            return Err(QuotaExceeded::InFlight {
                key: key.id.clone(),
                limit,
            }
            .into());
        }
    }
    if let Some(limit) = key.limits.jobs_per_minute {
        let recent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE key_id = ? AND created_at > ?")
                .bind(&key.id)
                .bind(now - 60_000)
                .fetch_one(&mut *conn)
                .await?;
        if recent >= i64::from(limit) {
            return Err(QuotaExceeded::Rate {
                key: key.id.clone(),
                limit,
            }
            .into());
        }
    }
    Ok(())
}

/// A worker row with the count of the leases it holds.
const WORKER_SELECT: &str =
    "SELECT w.*, (SELECT COUNT(*) FROM jobs j WHERE j.lease_owner = w.id) AS leases FROM workers w";

fn worker_from_row(row: &SqliteRow, stale_before_ms: i64) -> Result<WorkerRecord, StoreError> {
    let last: i64 = row.try_get("last_heartbeat")?;
    Ok(WorkerRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        key: row.try_get("key_id")?,
        backend: row.try_get("backend")?,
        devices: json(row.try_get("devices")?, "worker devices")?,
        memory_bytes: row.try_get::<i64, _>("memory_bytes")?.max(0) as u64,
        version: row.try_get("version")?,
        state: if last < stale_before_ms {
            WorkerState::Lost
        } else {
            WorkerState::Active
        },
        registered_at: from_ms(row.try_get("registered_at")?)?,
        last_heartbeat: from_ms(last)?,
        jobs_done: row.try_get::<i64, _>("jobs_done")?.max(0) as u64,
        jobs_failed: row.try_get::<i64, _>("jobs_failed")?.max(0) as u64,
        leases: row.try_get::<i64, _>("leases")?.max(0) as u64,
        quarantined_until: row
            .try_get::<Option<i64>, _>("quarantined_until")?
            .map(from_ms)
            .transpose()?,
    })
}

fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    let role: String = row.try_get("role")?;
    let count = |column: &str| -> Result<Option<u32>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32))
    };
    Ok(KeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("key role {role}")))?,
        limits: KeyLimits {
            max_in_flight: count("max_in_flight")?,
            max_steps: row
                .try_get::<Option<i64>, _>("max_steps")?
                .map(|s| s.max(0) as u64),
            jobs_per_minute: count("jobs_per_minute")?,
        },
        created_at: from_ms(row.try_get("created_at")?)?,
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(from_ms)
            .transpose()?,
    })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn put_plugin(&self, record: &PluginRecord, bytes: &[u8]) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO plugins (id, size, exports, imports, memory_pages, vm, bytes, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&record.id)
        .bind(record.size as i64)
        .bind(serde_json::to_string(&record.exports).expect("strings serialize"))
        .bind(serde_json::to_string(&record.imports).expect("strings serialize"))
        .bind(record.memory_pages as i64)
        .bind(serde_json::to_string(&record.vm).expect("vm support serializes"))
        .bind(bytes)
        .bind((record.created_at.unix_timestamp_nanos() / 1_000_000) as i64)
        .execute(&self.writer)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn plugin(&self, id: &str) -> Result<Option<PluginRecord>, StoreError> {
        sqlx::query(
            "SELECT id, size, exports, imports, memory_pages, vm, created_at FROM plugins WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(plugin_from_row)
        .transpose()
    }

    async fn plugin_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar("SELECT bytes FROM plugins WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        sqlx::query("SELECT id, size, exports, imports, memory_pages, vm, created_at FROM plugins ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(plugin_from_row)
            .collect()
    }

    async fn set_vm_support(&self, id: &str, vm: &VmSupport) -> Result<(), StoreError> {
        sqlx::query("UPDATE plugins SET vm = ? WHERE id = ?")
            .bind(serde_json::to_string(vm).expect("vm support serializes"))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn insert_job(&self, job: &NewJob) -> Result<JobRecord, StoreError> {
        let inserted = self
            .group
            .run(|reply| Write::Insert {
                job: job.clone(),
                idempotency: None,
                reply,
            })
            .await?;
        match inserted {
            Inserted::New(record) => Ok(record),
            Inserted::Replayed { job, .. } => Ok(job),
        }
    }

    async fn insert_job_idempotent(
        &self,
        job: &NewJob,
        key: &Idempotency,
    ) -> Result<Inserted, StoreError> {
        self.group
            .run(|reply| Write::Insert {
                job: job.clone(),
                idempotency: Some(key.clone()),
                reply,
            })
            .await
    }

    async fn idempotent_job(&self, key: &str) -> Result<Option<(String, JobRecord)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT i.request_hash AS request_hash, {} FROM idempotency i JOIN jobs j ON j.id = i.job_id WHERE i.key = ?",
            JOB_COLUMNS.split(", ").map(|c| format!("j.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(key)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => Ok(Some((row.try_get("request_hash")?, job_from_row(&row)?))),
            None => Ok(None),
        }
    }

    async fn job(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
        sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(job_from_row)
            .transpose()
    }

    async fn jobs(
        &self,
        status: Option<JobStatus>,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<JobPage, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR seq < ?2) \
             ORDER BY seq DESC LIMIT ?3"
        ))
        .bind(status.map(JobStatus::as_str))
        .bind(cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await?;
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let next_cursor = match (more, rows.last()) {
            (true, Some(last)) => Some(last.try_get("seq")?),
            _ => None,
        };
        Ok(JobPage {
            jobs: rows.iter().map(job_from_row).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    async fn claim_queued(&self, limit: usize) -> Result<Vec<JobRecord>, StoreError> {
        self.group.run(|reply| Write::Claim { limit, reply }).await
    }

    async fn finish(&self, id: Uuid, outcome: &Outcome) -> Result<(), StoreError> {
        self.group
            .run(|reply| Write::Finish {
                id,
                outcome: outcome.clone(),
                reply,
            })
            .await
    }

    async fn claim_proving(&self) -> Result<Option<JobRecord>, StoreError> {
        sqlx::query(&format!(
            "UPDATE jobs SET phase = 'execute', progress = ? \
             WHERE seq = (SELECT seq FROM jobs WHERE status = 'proving' AND phase = 'waiting' \
                          ORDER BY seq LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(i64::from(JobPhase::Execute.progress()))
        .fetch_optional(&self.writer)
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn set_phase(
        &self,
        id: Uuid,
        status: JobStatus,
        phase: JobPhase,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET status = ?, phase = ?, progress = ? \
             WHERE id = ? AND status IN ('proving', 'verifying')",
        )
        .bind(status.as_str())
        .bind(phase.as_str())
        .bind(i64::from(phase.progress()))
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn complete_proven(
        &self,
        id: Uuid,
        proof: &ProofRecord,
        attest: bool,
        lease: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET status = 'completed', phase = NULL, progress = 100, attestation = ?, \
             chain_state = ?, finished_at = ?, lease_owner = NULL, lease_expires = NULL \
             WHERE id = ? AND status IN ('proving', 'verifying') \
             AND (? IS NULL OR lease_owner = ?)",
        )
        .bind(&proof.attestation)
        .bind(attest.then_some(ChainState::Pending.as_str()))
        .bind(now_ms())
        .bind(id.to_string())
        .bind(lease)
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            // Finished already (e.g. failed meanwhile), or the lease is lost: leave both tables
            // as they are.
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(worker) = lease {
            sqlx::query("UPDATE workers SET jobs_done = jobs_done + 1 WHERE id = ?")
                .bind(worker)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO proofs (job_id, {PROOF_COLUMNS}, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id.to_string())
        .bind(&proof.file)
        .bind(&proof.attestation)
        .bind(&proof.program_id)
        .bind(&proof.input_hash)
        .bind(&proof.output_hash)
        .bind(&proof.proof_hash)
        .bind(i64::from(proof.security_bits))
        .bind(proof.size as i64)
        .bind(proof.steps as i64)
        .bind(proof.prove_ms as i64)
        .bind(proof.verify_ms as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if attest {
            sqlx::query(
                "INSERT INTO chain_outbox (job_id, next_attempt_at, created_at) VALUES (?, ?, ?)",
            )
            .bind(id.to_string())
            .bind(now_ms())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn proof(&self, id: Uuid) -> Result<Option<ProofRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROOF_COLUMNS} FROM proofs WHERE job_id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(proof_from_row).transpose()
    }

    async fn proof_files(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT DISTINCT file FROM proofs")
            .fetch_all(&self.reader)
            .await?)
    }

    async fn requeue_running(&self) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let queued = sqlx::query(
            "UPDATE jobs SET status = 'queued', started_at = NULL, phase = NULL, progress = 0 \
             WHERE status = 'running'",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let proving = sqlx::query(
            "UPDATE jobs SET status = 'proving', phase = 'waiting', progress = ?, \
             lease_owner = NULL, lease_expires = NULL \
             WHERE status IN ('proving', 'verifying') AND phase IS NOT 'waiting' \
             AND (lease_owner IS NULL OR lease_expires < ?)",
        )
        .bind(i64::from(JobPhase::Waiting.progress()))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(queued + proving)
    }

    async fn count(&self, status: JobStatus) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = ?")
            .bind(status.as_str())
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT job_id FROM chain_outbox WHERE next_attempt_at <= ? \
             ORDER BY next_attempt_at, created_at LIMIT ?",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids {
            sqlx::query("UPDATE chain_outbox SET next_attempt_at = ? WHERE job_id = ?")
                .bind(now_ms + lease_ms)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(&format!(
                "SELECT j.chain_state, j.chain_tx, j.chain_attempts, j.chain_error, \
                 {} FROM jobs j JOIN proofs p ON p.job_id = j.id WHERE j.id = ?",
                PROOF_COLUMNS
                    .split(", ")
                    .map(|c| format!("p.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
            entries.push(OutboxEntry {
                job_id: Uuid::parse_str(&id)
                    .map_err(|e| StoreError::Corrupt(format!("outbox job id {id}: {e}")))?,
                status: chain_from_row(&row)?
                    .ok_or_else(|| StoreError::Corrupt(format!("outbox job {id} has no state")))?,
                proof: proof_from_row(&row)?,
            });
        }
        tx.commit().await?;
        Ok(entries)
    }

    async fn update_outbox(&self, job_id: Uuid, update: &OutboxUpdate) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE jobs SET chain_state = ?, chain_tx = ?, chain_attempts = ?, chain_error = ? \
             WHERE id = ?",
        )
        .bind(update.state.as_str())
        .bind(&update.tx_hash)
        .bind(i64::from(update.attempts))
        .bind(&update.error)
        .bind(job_id.to_string())
        .execute(&mut *tx)
        .await?;
        let settled = matches!(update.state, ChainState::Confirmed | ChainState::Failed);
        let outbox = if settled {
            sqlx::query("DELETE FROM chain_outbox WHERE job_id = ?").bind(job_id.to_string())
        } else {
            sqlx::query("UPDATE chain_outbox SET next_attempt_at = ? WHERE job_id = ?")
                .bind(update.next_attempt_ms)
                .bind(job_id.to_string())
        };
        outbox.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_outbox(&self) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE chain_outbox SET next_attempt_at = ? WHERE next_attempt_at > ?")
                .bind(now_ms())
                .bind(now_ms())
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn register_worker(&self, worker: &WorkerRecord) -> Result<(), StoreError> {
        let ms = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
        sqlx::query(
            "INSERT INTO workers (id, name, key_id, backend, devices, memory_bytes, version, \
             registered_at, last_heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&worker.id)
        .bind(&worker.name)
        .bind(&worker.key)
        .bind(&worker.backend)
        .bind(serde_json::to_string(&worker.devices).expect("devices serialize"))
        .bind(worker.memory_bytes.min(i64::MAX as u64) as i64)
        .bind(&worker.version)
        .bind(ms(worker.registered_at))
        .bind(ms(worker.last_heartbeat))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn workers(&self, stale_before_ms: i64) -> Result<Vec<WorkerRecord>, StoreError> {
        sqlx::query(&format!("{WORKER_SELECT} ORDER BY registered_at, id"))
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|row| worker_from_row(row, stale_before_ms))
            .collect()
    }

    async fn worker(
        &self,
        id: &str,
        stale_before_ms: i64,
    ) -> Result<Option<WorkerRecord>, StoreError> {
        sqlx::query(&format!("{WORKER_SELECT} WHERE w.id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(|row| worker_from_row(row, stale_before_ms))
            .transpose()
    }

    async fn heartbeat(&self, worker: &str, lease_until_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let known = sqlx::query("UPDATE workers SET last_heartbeat = ? WHERE id = ?")
            .bind(now_ms())
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        sqlx::query("UPDATE jobs SET lease_expires = ? WHERE lease_owner = ?")
            .bind(lease_until_ms)
            .bind(worker)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(known)
    }

    async fn lease_proving(
        &self,
        worker: &str,
        lease_until_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        sqlx::query(&format!(
            "UPDATE jobs SET phase = 'execute', progress = ?, lease_owner = ?, lease_expires = ? \
             WHERE seq = (SELECT seq FROM jobs WHERE status = 'proving' AND phase = 'waiting' \
                          ORDER BY seq LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(i64::from(JobPhase::Execute.progress()))
        .bind(worker)
        .bind(lease_until_ms)
        .fetch_optional(&self.writer)
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn release_lease(
        &self,
        job: Uuid,
        worker: &str,
        quarantine_until_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let released = sqlx::query(
            "UPDATE jobs SET status = 'proving', phase = 'waiting', progress = ?, \
             lease_owner = NULL, lease_expires = NULL \
             WHERE id = ? AND lease_owner = ? AND status IN ('proving', 'verifying')",
        )
        .bind(i64::from(JobPhase::Waiting.progress()))
        .bind(job.to_string())
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "UPDATE workers SET jobs_failed = jobs_failed + 1, \
             quarantined_until = COALESCE(?, quarantined_until) WHERE id = ?",
        )
        .bind(quarantine_until_ms)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(released)
    }

    async fn expire_leases(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let expired: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, lease_owner FROM jobs WHERE lease_owner IS NOT NULL AND lease_expires < ?",
        )
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await?;
        for (job, worker) in &expired {
            sqlx::query(
                "UPDATE jobs SET status = 'proving', phase = 'waiting', progress = ?, \
                 lease_owner = NULL, lease_expires = NULL WHERE id = ?",
            )
            .bind(i64::from(JobPhase::Waiting.progress()))
            .bind(job)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE workers SET jobs_failed = jobs_failed + 1 WHERE id = ?")
                .bind(worker)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        expired
            .into_iter()
            .map(|(job, _)| {
                Uuid::parse_str(&job).map_err(|e| StoreError::Corrupt(format!("job id {job}: {e}")))
            })
            .collect()
    }

    async fn put_key(&self, key: &KeyRecord, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, token_hash, max_in_flight, max_steps, \
             jobs_per_minute, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(token_hash)
        .bind(key.limits.max_in_flight.map(i64::from))
        .bind(key.limits.max_steps.map(|s| s.min(i64::MAX as u64) as i64))
        .bind(key.limits.jobs_per_minute.map(i64::from))
        .bind((key.created_at.unix_timestamp_nanos() / 1_000_000) as i64)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn key_by_token_hash(&self, token_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    async fn revoke_key(&self, id_or_name: &str) -> Result<Vec<KeyRecord>, StoreError> {
        sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL \
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(now_ms())
        .bind(id_or_name)
        .bind(id_or_name)
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunResult;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_path(&dir.path().join("db/obelysk.db"))
            .await
            .unwrap();
        (dir, store)
    }

    fn job(plugin: &str, input: &[u32]) -> NewJob {
        NewJob {
            plugin: plugin.into(),
            input: input.to_vec(),
            ..NewJob::default()
        }
    }

    fn plugin(id: &str) -> PluginRecord {
        PluginRecord {
            id: id.into(),
            size: 3,
            exports: vec!["memory".into(), "main".into()],
            imports: vec!["obelysk.read".into()],
            memory_pages: 1,
            vm: VmSupport::default(),
            created_at: from_ms(now_ms()).unwrap(),
        }
    }

    #[tokio::test]
    async fn plugins_are_content_addressed() {
        let (_dir, store) = store().await;
        assert!(store.put_plugin(&plugin("aa"), b"abc").await.unwrap());
        assert!(!store.put_plugin(&plugin("aa"), b"abc").await.unwrap());
        assert_eq!(store.plugin_bytes("aa").await.unwrap().unwrap(), b"abc");
        assert_eq!(store.plugins().await.unwrap().len(), 1);
        assert!(store.plugin("bb").await.unwrap().is_none());

        let vm = VmSupport {
            supported: true,
            program_id: Some("cc".into()),
            ir_version: 1,
            ..VmSupport::default()
        };
        store.set_vm_support("aa", &vm).await.unwrap();
        assert_eq!(store.plugin("aa").await.unwrap().unwrap().vm, vm);
    }

    #[tokio::test]
    async fn stale_vm_support_is_recomputed() {
        let (_dir, store) = store().await;
        let stage1 =
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "main")))"#)
                .unwrap();
        let needs_floats = wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "main") (drop (f32.add (f32.const 2) (f32.const 3)))))"#,
        )
        .unwrap();
        store.put_plugin(&plugin("aa"), &stage1).await.unwrap();
        store
            .put_plugin(&plugin("bb"), &needs_floats)
            .await
            .unwrap();
        assert_eq!(super::super::refresh_vm_support(&store).await.unwrap(), 2);
        let aa = store.plugin("aa").await.unwrap().unwrap().vm;
        assert!(aa.supported && aa.program_id.is_some(), "{aa:?}");
        let bb = store.plugin("bb").await.unwrap().unwrap().vm;
        assert!(
            !bb.supported && bb.unsupported.contains_key("f32.add"),
            "{bb:?}"
        );
        assert_eq!(bb.ir_version, obelysk_vm::ir::IR_VERSION);
        // Up to date now: nothing to redo.
        assert_eq!(super::super::refresh_vm_support(&store).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn jobs_flow_through_the_queue_in_order() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let first = store.insert_job(&job("aa", &[1, 2])).await.unwrap();
        let second = store
            .insert_job(&NewJob {
                fuel_limit: Some(7),
                timeout_ms: Some(9),
                ..job("aa", &[3])
            })
            .await
            .unwrap();
        assert_eq!((second.fuel_limit, second.timeout_ms), (Some(7), Some(9)));
        assert_eq!(first.status, JobStatus::Queued);

        let claimed = store.claim_next().await.unwrap().unwrap();
        assert_eq!(
            (claimed.id, claimed.status, claimed.attempts),
            (first.id, JobStatus::Running, 1)
        );
        assert_eq!(claimed.input, vec![1, 2]);
        store
            .finish(
                first.id,
                &Outcome::Completed(RunResult {
                    output: vec![9],
                    fuel_used: 5,
                    vm_steps: Some(3),
                }),
            )
            .await
            .unwrap();

        // A crash while `second` runs: it goes back to the queue and is claimed again.
        assert_eq!(store.claim_next().await.unwrap().unwrap().id, second.id);
        assert_eq!(store.claim_next().await.unwrap(), None);
        assert_eq!(store.requeue_running().await.unwrap(), 1);
        let again = store.claim_next().await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (second.id, 2));
        let failure = JobError::new(FailureCode::Trap, "unreachable");
        store
            .finish(second.id, &Outcome::Failed(failure.clone()))
            .await
            .unwrap();

        let done = store.job(first.id).await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.output, done.fuel_used),
            (JobStatus::Completed, Some(vec![9]), Some(5))
        );
        let failed = store.job(second.id).await.unwrap().unwrap();
        assert_eq!(
            (failed.status, failed.error),
            (JobStatus::Failed, Some(failure))
        );
        // Finishing twice does not overwrite the first outcome.
        store
            .finish(
                first.id,
                &Outcome::Failed(JobError::new(FailureCode::Trap, "y")),
            )
            .await
            .unwrap();
        assert_eq!(
            store.job(first.id).await.unwrap().unwrap().status,
            JobStatus::Completed
        );
    }

    fn proof_record(file: &str) -> ProofRecord {
        ProofRecord {
            attestation: format!("0x{}", "ab".repeat(32)),
            program_id: "01".repeat(32),
            input_hash: "02".repeat(32),
            output_hash: "03".repeat(32),
            proof_hash: "04".repeat(32),
            security_bits: 96,
            size: 1000,
            steps: 64,
            prove_ms: 10,
            verify_ms: 1,
            file: file.into(),
        }
    }

    /// A proven job, completed (with `attest`: into the outbox).
    async fn completed_proven(store: &SqliteStore, input: u32, attest: bool) -> Uuid {
        let job = store
            .insert_job(&NewJob {
                prove: true,
                ..job("aa", &[input])
            })
            .await
            .unwrap();
        store.claim_next().await.unwrap().unwrap();
        let run = RunResult {
            output: vec![input],
            fuel_used: 1,
            vm_steps: Some(8),
        };
        store.finish(job.id, &Outcome::ToProve(run)).await.unwrap();
        store.claim_proving().await.unwrap().unwrap();
        let file = format!("{input}.proof");
        store
            .complete_proven(job.id, &proof_record(&file), attest, None)
            .await
            .unwrap();
        job.id
    }

    #[tokio::test]
    async fn the_outbox_leases_records_and_settles_attestations() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let quiet = completed_proven(&store, 1, false).await;
        let first = completed_proven(&store, 2, true).await;
        let second = completed_proven(&store, 3, true).await;
        assert_eq!(store.job(quiet).await.unwrap().unwrap().chain, None);
        let pending = ChainStatus {
            state: ChainState::Pending,
            tx_hash: None,
            attempts: 0,
            error: None,
        };
        assert_eq!(
            store.job(first).await.unwrap().unwrap().chain,
            Some(pending.clone())
        );

        // Claimed oldest first with the proof's parts; a lease hides them until it ends.
        let now = now_ms();
        let claimed = store.claim_outbox(now, 10_000, 10).await.unwrap();
        let ids: Vec<Uuid> = claimed.iter().map(|e| e.job_id).collect();
        assert_eq!(ids, vec![first, second]);
        assert_eq!(claimed[0].status, pending);
        assert_eq!(claimed[0].proof, proof_record("2.proof"));
        assert!(
            store
                .claim_outbox(now, 10_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.claim_outbox(now + 10_000, 1, 1).await.unwrap().len(),
            1
        );

        // A try that sent a transaction and must wait: recorded on the job, due later.
        let sent = OutboxUpdate {
            state: ChainState::Sent,
            tx_hash: Some("0xabc".into()),
            attempts: 1,
            error: Some("timeout".into()),
            next_attempt_ms: now + 60_000,
        };
        store.update_outbox(first, &sent).await.unwrap();
        let chain = store.job(first).await.unwrap().unwrap().chain.unwrap();
        assert_eq!(
            (chain.state, chain.tx_hash.as_deref(), chain.attempts),
            (ChainState::Sent, Some("0xabc"), 1)
        );
        assert!(
            store
                .claim_outbox(now + 59_000, 1, 10)
                .await
                .unwrap()
                .iter()
                .all(|e| e.job_id != first)
        );
        // After a restart every unsettled entry is due at once, its state kept.
        assert_eq!(store.release_outbox().await.unwrap(), 2);
        let resumed = store.claim_outbox(now_ms(), 1, 10).await.unwrap();
        assert_eq!(resumed.len(), 2);
        assert_eq!(resumed[0].status.tx_hash.as_deref(), Some("0xabc"));

        // Settled entries leave the outbox; the job keeps the outcome.
        for (id, state) in [(first, ChainState::Confirmed), (second, ChainState::Failed)] {
            let settled = OutboxUpdate {
                state,
                tx_hash: Some("0xdef".into()),
                attempts: 2,
                error: None,
                next_attempt_ms: 0,
            };
            store.update_outbox(id, &settled).await.unwrap();
            assert_eq!(
                store.job(id).await.unwrap().unwrap().chain.unwrap().state,
                state
            );
        }
        assert!(
            store
                .claim_outbox(now_ms() + 1_000_000, 1, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.release_outbox().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn proven_jobs_pass_through_the_prover_states() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let job = store
            .insert_job(&NewJob {
                prove: true,
                ..job("aa", &[4])
            })
            .await
            .unwrap();
        assert!(job.prove);
        assert_eq!(
            store.claim_proving().await.unwrap(),
            None,
            "nothing ran yet"
        );
        store.claim_next().await.unwrap().unwrap();
        let run = RunResult {
            output: vec![5],
            fuel_used: 9,
            vm_steps: Some(64),
        };
        store.finish(job.id, &Outcome::ToProve(run)).await.unwrap();
        let waiting = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(
            (waiting.status, waiting.phase, waiting.output),
            (JobStatus::Proving, Some(JobPhase::Waiting), Some(vec![5]))
        );
        assert_eq!(store.proof(job.id).await.unwrap(), None);

        let claimed = store.claim_proving().await.unwrap().unwrap();
        assert_eq!(
            (claimed.id, claimed.phase),
            (job.id, Some(JobPhase::Execute))
        );
        assert_eq!(store.claim_proving().await.unwrap(), None, "claimed once");
        store
            .set_phase(job.id, JobStatus::Verifying, JobPhase::Verify)
            .await
            .unwrap();
        // A crash here: the job waits for a prover again, with its output kept.
        assert_eq!(store.requeue_running().await.unwrap(), 1);
        let again = store.claim_proving().await.unwrap().unwrap();
        assert_eq!(
            (again.status, again.output),
            (JobStatus::Proving, Some(vec![5]))
        );

        store
            .complete_proven(job.id, &proof_record("f1.proof"), false, None)
            .await
            .unwrap();
        let done = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.progress, done.attestation),
            (
                JobStatus::Completed,
                100,
                Some(proof_record("").attestation)
            )
        );
        assert_eq!(
            store.proof(job.id).await.unwrap(),
            Some(proof_record("f1.proof"))
        );
        // Completing twice changes nothing and adds no row.
        store
            .complete_proven(job.id, &proof_record("f2.proof"), false, None)
            .await
            .unwrap();
        assert_eq!(
            store.proof_files().await.unwrap(),
            vec!["f1.proof".to_string()]
        );
        assert_eq!(store.requeue_running().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_failure_ends_a_job_in_any_unfinished_state() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let job = store.insert_job(&job("aa", &[4])).await.unwrap();
        store.claim_next().await.unwrap().unwrap();
        let run = RunResult {
            output: vec![5],
            fuel_used: 9,
            vm_steps: Some(64),
        };
        store
            .finish(job.id, &Outcome::ToProve(run.clone()))
            .await
            .unwrap();
        store.claim_proving().await.unwrap().unwrap();
        let failure = JobError::new(FailureCode::ProofRejected, "bad");
        store
            .finish(job.id, &Outcome::Failed(failure.clone()))
            .await
            .unwrap();
        let failed = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(
            (failed.status, failed.error),
            (JobStatus::Failed, Some(failure))
        );
        // A late completion does not resurrect it.
        store
            .complete_proven(job.id, &proof_record("f.proof"), false, None)
            .await
            .unwrap();
        assert_eq!(store.proof(job.id).await.unwrap(), None);
        store
            .finish(job.id, &Outcome::Completed(run))
            .await
            .unwrap();
        assert_eq!(
            store.job(job.id).await.unwrap().unwrap().status,
            JobStatus::Failed
        );
    }

    #[tokio::test]
    async fn idempotency_keys_map_to_one_job() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let key = Idempotency {
            key: "k1".into(),
            request_hash: "h1".into(),
        };
        let Inserted::New(first) = store
            .insert_job_idempotent(&job("aa", &[1]), &key)
            .await
            .unwrap()
        else {
            panic!("first use creates a job")
        };
        let again = store
            .insert_job_idempotent(&job("aa", &[1]), &key)
            .await
            .unwrap();
        assert_eq!(
            again,
            Inserted::Replayed {
                job: first.clone(),
                same_request: true
            }
        );
        let other = Idempotency {
            request_hash: "h2".into(),
            ..key.clone()
        };
        let conflict = store
            .insert_job_idempotent(&job("aa", &[2]), &other)
            .await
            .unwrap();
        assert_eq!(
            conflict,
            Inserted::Replayed {
                job: first.clone(),
                same_request: false
            }
        );
        assert_eq!(
            store.idempotent_job("k1").await.unwrap(),
            Some(("h1".into(), first))
        );
        assert_eq!(store.idempotent_job("k2").await.unwrap(), None);
        assert_eq!(
            store.count(JobStatus::Queued).await.unwrap(),
            1,
            "replays create no job"
        );
    }

    #[tokio::test]
    async fn pages_walk_newest_first() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(store.insert_job(&job("aa", &[i])).await.unwrap().id);
        }
        let page = store.jobs(None, None, 2).await.unwrap();
        assert_eq!(
            page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![ids[4], ids[3]]
        );
        let page2 = store.jobs(None, page.next_cursor, 2).await.unwrap();
        assert_eq!(
            page2.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![ids[2], ids[1]]
        );
        let page3 = store.jobs(None, page2.next_cursor, 2).await.unwrap();
        assert_eq!((page3.jobs.len(), page3.next_cursor), (1, None));
        assert_eq!(
            store
                .jobs(Some(JobStatus::Failed), None, 10)
                .await
                .unwrap()
                .jobs
                .len(),
            0
        );
        assert_eq!(store.count(JobStatus::Queued).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obelysk.db");
        let id = {
            let store = SqliteStore::open_path(&path).await.unwrap();
            store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
            store.insert_job(&job("aa", &[7])).await.unwrap().id
        };
        let store = SqliteStore::open_path(&path).await.unwrap();
        assert_eq!(store.job(id).await.unwrap().unwrap().input, vec![7]);
    }

    fn worker_record(id: &str) -> WorkerRecord {
        let registration = crate::workers::Registration {
            name: None,
            backend: "simd".into(),
            devices: vec![],
            memory_bytes: 1 << 30,
            version: "t".into(),
        };
        WorkerRecord::new(id.into(), None, registration)
    }

    /// Leases: taken oldest first, renewed by heartbeats, expired back to the queue (counted
    /// against the worker), never completed by a worker that lost them, and left alone by a
    /// coordinator restart while live.
    #[tokio::test]
    async fn leases_expire_renew_and_bind_completion_to_their_holder() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        for id in ["w1", "w2"] {
            store.register_worker(&worker_record(id)).await.unwrap();
        }
        let job = store
            .insert_job(&NewJob {
                prove: true,
                ..job("aa", &[1])
            })
            .await
            .unwrap();
        store.claim_next().await.unwrap().unwrap();
        let run = RunResult {
            output: vec![5],
            fuel_used: 9,
            vm_steps: Some(64),
        };
        store.finish(job.id, &Outcome::ToProve(run)).await.unwrap();
        let now = now_ms();
        let leased = store
            .lease_proving("w1", now + 1_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((leased.id, leased.worker.as_deref()), (job.id, Some("w1")));
        assert_eq!(store.lease_proving("w2", now + 1_000).await.unwrap(), None);
        assert_eq!(store.claim_proving().await.unwrap(), None, "leased");
        // A restart leaves a live lease alone; a heartbeat renews it.
        store.requeue_running().await.unwrap();
        assert!(store.heartbeat("w1", now + 5_000).await.unwrap());
        assert!(!store.heartbeat("nobody", now).await.unwrap());
        assert!(store.expire_leases(now + 2_000).await.unwrap().is_empty());
        assert_eq!(store.expire_leases(now + 6_000).await.unwrap(), [job.id]);
        let stale = now + 60_000;
        let workers = store.workers(stale).await.unwrap();
        assert_eq!(
            (workers[0].jobs_failed, workers[0].state),
            (1, WorkerState::Lost)
        );
        // Back in the queue: w2 takes it; w1 can neither complete nor release it.
        store
            .lease_proving("w2", now + 10_000)
            .await
            .unwrap()
            .unwrap();
        let record = proof_record("w.proof");
        assert!(
            !store
                .complete_proven(job.id, &record, false, Some("w1"))
                .await
                .unwrap()
        );
        assert!(!store.release_lease(job.id, "w1", None).await.unwrap());
        assert!(
            store
                .complete_proven(job.id, &record, false, Some("w2"))
                .await
                .unwrap()
        );
        let done = store.job(job.id).await.unwrap().unwrap();
        assert_eq!((done.status, done.worker), (JobStatus::Completed, None));
        let workers = store.workers(i64::MIN).await.unwrap();
        assert_eq!((workers[0].jobs_done, workers[0].jobs_failed), (0, 2));
        assert_eq!((workers[1].jobs_done, workers[1].leases), (1, 0));
        assert_eq!(
            store.worker("w2", i64::MIN).await.unwrap().as_ref(),
            Some(&workers[1])
        );
        assert_eq!(store.worker("nobody", i64::MIN).await.unwrap(), None);
    }

    /// Writes queued together commit together, each in its own savepoint: a failing write
    /// (an unknown plugin breaks the foreign key) is refused alone, and everything answered
    /// `Ok` is on disk.
    #[tokio::test]
    async fn a_group_commit_refuses_a_bad_write_alone() {
        let (dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let store = std::sync::Arc::new(store);
        let handles: Vec<_> = (0..200u32)
            .map(|i| {
                let store = store.clone();
                let plugin = if i % 10 == 0 { "missing" } else { "aa" };
                tokio::spawn(async move { store.insert_job(&job(plugin, &[i])).await })
            })
            .collect();
        let (mut accepted, mut refused) = (0, 0);
        for handle in handles {
            match handle.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(StoreError::Database(_)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((accepted, refused), (180, 20));
        // Claims and finishes join the groups too.
        let claimed = store.claim_next().await.unwrap().unwrap();
        store
            .finish(
                claimed.id,
                &Outcome::Failed(JobError::new(FailureCode::Trap, "x")),
            )
            .await
            .unwrap();
        let reopened = SqliteStore::open_path(&dir.path().join("db/obelysk.db"))
            .await
            .unwrap();
        assert_eq!(reopened.count(JobStatus::Queued).await.unwrap(), 179);
        assert_eq!(reopened.count(JobStatus::Failed).await.unwrap(), 1);
    }

    fn key(id: &str, limits: KeyLimits) -> KeyRecord {
        KeyRecord {
            id: id.into(),
            name: Some(format!("name-{id}")),
            role: Role::Client,
            limits,
            created_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn keys_are_stored_hashed_found_listed_and_revoked() {
        let (_dir, store) = store().await;
        let limits = KeyLimits {
            max_in_flight: Some(2),
            max_steps: Some(1 << 20),
            jobs_per_minute: None,
        };
        store.put_key(&key("k1", limits), "hash1").await.unwrap();
        store
            .put_key(&key("k2", KeyLimits::default()), "hash2")
            .await
            .unwrap();
        // A token hash and a name are unique.
        assert!(store.put_key(&key("k3", limits), "hash1").await.is_err());
        assert!(store.put_key(&key("k1", limits), "hash3").await.is_err());
        let found = store.key_by_token_hash("hash1").await.unwrap().unwrap();
        assert_eq!(found, key("k1", limits));
        assert_eq!(store.key_by_token_hash("nope").await.unwrap(), None);
        assert_eq!(store.keys().await.unwrap().len(), 2);
        // By id, then by name; a second revocation finds nothing live.
        assert_eq!(store.revoke_key("k1").await.unwrap().len(), 1);
        assert!(store.revoke_key("k1").await.unwrap().is_empty());
        assert_eq!(store.revoke_key("name-k2").await.unwrap()[0].id, "k2");
        let revoked = store.key_by_token_hash("hash1").await.unwrap().unwrap();
        assert!(revoked.revoked_at.is_some());
    }

    /// The key's counts are read in the insert's transaction on the single writer: of many
    /// concurrent submissions exactly the limit pass, and finishing one frees a slot.
    #[tokio::test]
    async fn key_limits_hold_under_concurrent_submissions() {
        let (_dir, store) = store().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        let in_flight = KeyLimits {
            max_in_flight: Some(3),
            ..KeyLimits::default()
        };
        store.put_key(&key("busy", in_flight), "h1").await.unwrap();
        let store = std::sync::Arc::new(store);
        let grant = KeyGrant {
            id: "busy".into(),
            limits: in_flight,
        };
        let submit = |store: std::sync::Arc<SqliteStore>, grant: KeyGrant| async move {
            store
                .insert_job(&NewJob {
                    key: Some(grant),
                    ..job("aa", &[1])
                })
                .await
        };
        let handles: Vec<_> = (0..12)
            .map(|_| tokio::spawn(submit(store.clone(), grant.clone())))
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        let (accepted, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
        assert_eq!(accepted.len(), 3);
        for refusal in refused {
            assert!(
                matches!(
                    refusal,
                    Err(StoreError::Quota(QuotaExceeded::InFlight { limit: 3, .. }))
                ),
                "{refusal:?}"
            );
        }
        let first = accepted[0].as_ref().unwrap();
        assert_eq!(first.key.as_deref(), Some("busy"));
        let claimed = store.claim_next().await.unwrap().unwrap();
        store
            .finish(
                claimed.id,
                &Outcome::Failed(JobError::new(FailureCode::Trap, "unreachable")),
            )
            .await
            .unwrap();
        submit(store.clone(), grant.clone()).await.unwrap();
        assert!(submit(store.clone(), grant).await.is_err());

        // The rate counts every job of the key in the last minute; jobs without a key are not
        // counted.
        let rate = KeyLimits {
            jobs_per_minute: Some(2),
            ..KeyLimits::default()
        };
        store.put_key(&key("rate", rate), "h2").await.unwrap();
        let grant = KeyGrant {
            id: "rate".into(),
            limits: rate,
        };
        store.insert_job(&job("aa", &[2])).await.unwrap();
        for _ in 0..2 {
            submit(store.clone(), grant.clone()).await.unwrap();
        }
        assert!(matches!(
            submit(store.clone(), grant).await,
            Err(StoreError::Quota(QuotaExceeded::Rate { limit: 2, .. }))
        ));
    }

    #[tokio::test]
    async fn an_older_schema_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obelysk.db");
        {
            // A database as the first schema version wrote it, then the next three (the
            // fifth rebuilds `jobs`, which `idempotency` references).
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::raw_sql(MIGRATIONS[0]).execute(&pool).await.unwrap();
            sqlx::raw_sql(
                "PRAGMA user_version = 1; \
                 INSERT INTO plugins VALUES ('aa', 3, '[]', '[]', 1, x'616263', 0); \
                 INSERT INTO jobs (id, plugin, input, status, created_at) \
                 VALUES ('01900000-0000-7000-8000-000000000000', 'aa', '[5]', 'queued', 0);",
            )
            .execute(&pool)
            .await
            .unwrap();
            for migration in &MIGRATIONS[1..4] {
                sqlx::raw_sql(migration).execute(&pool).await.unwrap();
            }
            sqlx::raw_sql(
                "PRAGMA user_version = 4; \
                 INSERT INTO idempotency VALUES ('k', 'h', '01900000-0000-7000-8000-000000000000', 0);",
            )
            .execute(&pool)
            .await
            .unwrap();
        }
        let store = SqliteStore::open_path(&path).await.unwrap();
        let plugin = store.plugin("aa").await.unwrap().unwrap();
        assert_eq!(
            plugin.vm,
            VmSupport::default(),
            "not computed yet: refreshed on start"
        );
        assert_eq!(store.plugin_bytes("aa").await.unwrap().unwrap(), b"abc");
        let (_, replayed) = store.idempotent_job("k").await.unwrap().unwrap();
        assert_eq!((replayed.input, replayed.prove), (vec![5], false));
        let job = store.claim_next().await.unwrap().unwrap();
        assert_eq!(job.input, vec![5]);
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }

    #[tokio::test]
    async fn unknown_plugin_is_rejected_by_the_schema() {
        let (_dir, store) = store().await;
        assert!(store.insert_job(&job("missing", &[])).await.is_err());
    }
}
