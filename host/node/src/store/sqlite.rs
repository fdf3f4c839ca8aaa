//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! Writes go through a single-connection pool so that read-then-write statements (claiming a
//! job) never race another writer; reads use a separate pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::keys::{KeyGrant, KeyRecord, QuotaExceeded};
use crate::workers::WorkerRecord;

use super::group_commit::{GroupCommit, Write};
use super::rows::{
    JOB_COLUMNS, KEY_COLUMNS, PROOF_COLUMNS, WORKER_SELECT, chain_from_row, clamp_i64,
    job_from_row, key_from_row, now_ms, parse_job_id, plugin_from_row, prefixed, proof_from_row,
    to_ms, worker_from_row,
};
use super::{
    ChainState, Idempotency, Inserted, JobPage, JobPhase, JobRecord, JobStatus, Minute, NewJob,
    OutboxEntry, OutboxUpdate, Outcome, PluginRecord, ProofRecord, Store, StoreError, VmSupport,
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
    // The status page's throughput chart reads completions by time.
    r#"
CREATE INDEX jobs_completed ON jobs (finished_at) WHERE status = 'completed';
"#,
];

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

/// Records the ends of job runs (see [`Store::finish`]) on `conn`, all in one statement.
pub(super) async fn finish_all_on(
    conn: &mut sqlx::SqliteConnection,
    finishes: &[(Uuid, &Outcome)],
) -> Result<(), StoreError> {
    if finishes.is_empty() {
        return Ok(());
    }
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; finishes.len()].join(", ");
    // A failure may end a job in any unfinished state; a run result only a running one.
    let sql = format!(
        "WITH f(id, status, phase, progress, output, fuel_used, vm_steps, error_code, \
                error_message, finished_at, any_unfinished) AS (VALUES {rows}) \
         UPDATE jobs SET status = f.status, phase = f.phase, progress = f.progress, \
         output = COALESCE(f.output, jobs.output), fuel_used = COALESCE(f.fuel_used, jobs.fuel_used), \
         vm_steps = COALESCE(f.vm_steps, jobs.vm_steps), error_code = f.error_code, \
         error_message = f.error_message, finished_at = f.finished_at \
         FROM f WHERE jobs.id = f.id AND (jobs.status = 'running' \
         OR (f.any_unfinished AND jobs.status IN ('proving', 'verifying')))"
    );
    let mut query = sqlx::query(&sql);
    let now = now_ms();
    for (id, outcome) in finishes {
        let row = outcome.columns(now);
        query = query
            .bind(id.to_string())
            .bind(row.status)
            .bind(row.phase)
            .bind(row.progress)
            .bind(row.output)
            .bind(row.fuel_used)
            .bind(row.vm_steps)
            .bind(row.error_code)
            .bind(row.error_message)
            .bind(row.finished_at)
            .bind(row.from_any_unfinished);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Inserts queued jobs in one statement, with no quota check; their records, in order.
pub(super) async fn insert_rows_on(
    conn: &mut sqlx::SqliteConnection,
    jobs: &[&NewJob],
) -> Result<Vec<JobRecord>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = vec!["(?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)"; jobs.len()].join(", ");
    let sql = format!(
        "INSERT INTO jobs (id, plugin, input, status, prove, fuel_limit, timeout_ms, max_steps, \
         key_id, created_at) VALUES {rows} RETURNING {JOB_COLUMNS}"
    );
    let (mut query, now) = (sqlx::query(&sql), now_ms());
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::now_v7()).collect();
    for (id, job) in ids.iter().zip(jobs) {
        query = query
            .bind(id.to_string())
            .bind(&job.plugin)
            .bind(serde_json::to_string(&job.input).expect("words serialize"))
            .bind(job.prove)
            .bind(job.fuel_limit.map(clamp_i64))
            .bind(job.timeout_ms.map(clamp_i64))
            .bind(job.max_steps.map(clamp_i64))
            .bind(job.key.as_ref().map(|k| k.id.clone()))
            .bind(now);
    }
    // RETURNING gives no order: put the records in the order of the jobs.
    let mut records: std::collections::HashMap<Uuid, JobRecord> = query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| job_from_row(row).map(|job| (job.id, job)))
        .collect::<Result<_, _>>()?;
    ids.iter()
        .map(|id| {
            records
                .remove(id)
                .ok_or_else(|| StoreError::Corrupt(format!("inserted job {id} not returned")))
        })
        .collect()
}

/// Inserts a job row after checking its key's limits; run inside a transaction on the single
/// writer, so the key's counts cannot change between the check and the insert.
async fn insert_job_row(
    conn: &mut sqlx::SqliteConnection,
    job: &NewJob,
) -> Result<JobRecord, StoreError> {
    if let Some(key) = &job.key {
        check_key_quota(conn, key, now_ms()).await?;
    }
    let mut records = insert_rows_on(conn, &[job]).await?;
    records
        .pop()
        .ok_or_else(|| StoreError::Corrupt("the inserted job was not returned".into()))
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
        .bind(to_ms(record.created_at))
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
            prefixed(JOB_COLUMNS, "j")
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

    async fn throughput(&self, since_ms: i64) -> Result<Vec<Minute>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(super::THROUGHPUT_SQL)
            .bind(since_ms)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(Minute::from_row).collect())
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
                prefixed(PROOF_COLUMNS, "p")
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
        sqlx::query(
            "INSERT INTO workers (id, name, key_id, backend, devices, memory_bytes, version, \
             registered_at, last_heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&worker.id)
        .bind(&worker.name)
        .bind(&worker.key)
        .bind(&worker.backend)
        .bind(serde_json::to_string(&worker.devices).expect("devices serialize"))
        .bind(clamp_i64(worker.memory_bytes))
        .bind(&worker.version)
        .bind(to_ms(worker.registered_at))
        .bind(to_ms(worker.last_heartbeat))
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

    async fn heartbeat(
        &self,
        worker: &str,
        lease_until_ms: i64,
        holding: Option<&[Uuid]>,
    ) -> Result<bool, StoreError> {
        let holding = super::holding_json(holding);
        let mut tx = self.writer.begin().await?;
        // Jobs before workers, as every transaction that writes both: no deadlock.
        sqlx::query(
            "UPDATE jobs SET lease_expires = ? WHERE lease_owner = ? \
             AND (? IS NULL OR id IN (SELECT value FROM json_each(?)))",
        )
        .bind(lease_until_ms)
        .bind(worker)
        .bind(&holding)
        .bind(&holding)
        .execute(&mut *tx)
        .await?;
        let known = sqlx::query("UPDATE workers SET last_heartbeat = ? WHERE id = ?")
            .bind(now_ms())
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
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
            .map(|(job, _)| parse_job_id(&job))
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
        .bind(key.limits.max_steps.map(clamp_i64))
        .bind(key.limits.jobs_per_minute.map(i64::from))
        .bind(to_ms(key.created_at))
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
}
