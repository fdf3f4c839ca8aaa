//! The shared store: one PostgreSQL database that several nodes use as one queue.
//!
//! - **Claims** take rows with `FOR UPDATE SKIP LOCKED`, so two nodes never take the same job
//!   and never wait on each other's locks.
//! - **Holders.** A node that claims a job (to run it, or to prove it on its own cores) holds
//!   it under a lease: its id and an expiry, renewed by a heartbeat task every third of the
//!   lease. A node that dies stops renewing, and any node's sweep ([`Store::expire_leases`])
//!   or start-up ([`Store::requeue_running`]) sends its jobs back to the queue; a result it
//!   records after losing a job is refused. Start-up never touches jobs other live nodes hold.
//! - **Wake-ups.** A trigger on `jobs` sends `NOTIFY obelysk_jobs` with the job's id, status
//!   and phase on every insert and every status or phase change; [`Store::watch`] hands them
//!   to the node, which wakes its sandbox workers and provers and its event streams.
//! - **Quotas** and **idempotency keys** take a transaction-scoped advisory lock on the key,
//!   so concurrent submissions on different nodes cannot both slip under a limit.
//! - **Proof bytes** live in the `proof_blobs` table, so every node can serve every proof.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::keys::{KeyGrant, KeyRecord, QuotaExceeded};
use crate::workers::WorkerRecord;

use super::rows::{
    JOB_COLUMNS, KEY_COLUMNS, PROOF_COLUMNS, WORKER_SELECT, chain_from_row, clamp_i64,
    job_from_row, key_from_row, now_ms, parse_job_id, plugin_from_row, prefixed, proof_from_row,
    to_ms, worker_from_row,
};
use super::{
    ChainState, Idempotency, Inserted, JobChange, JobPage, JobPhase, JobRecord, JobStatus, Minute,
    NewJob, OutboxEntry, OutboxUpdate, Outcome, PluginRecord, ProofBlobs, ProofRecord, Store,
    StoreError, VmSupport, proof_name,
};

/// The channel the `jobs` trigger notifies.
const CHANNEL: &str = "obelysk_jobs";

/// Advisory lock ids (first half of the two-part key).
const LOCK_MIGRATE: i32 = 0x0b_e1;
const LOCK_KEY_QUOTA: i32 = 0x0b_e2;
const LOCK_IDEMPOTENCY: i32 = 0x0b_e3;

/// Schema migrations, applied in order; `obelysk_schema.version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE plugins (
    id           TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    exports      TEXT NOT NULL,
    imports      TEXT NOT NULL,
    memory_pages BIGINT NOT NULL,
    vm           TEXT,
    bytes        BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('client', 'worker')),
    token_hash      TEXT NOT NULL UNIQUE,
    max_in_flight   BIGINT,
    max_steps       BIGINT,
    jobs_per_minute BIGINT,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE TABLE workers (
    id                TEXT PRIMARY KEY,
    name              TEXT,
    key_id            TEXT REFERENCES api_keys(id),
    backend           TEXT NOT NULL,
    devices           TEXT NOT NULL,
    memory_bytes      BIGINT NOT NULL,
    version           TEXT NOT NULL,
    registered_at     BIGINT NOT NULL,
    last_heartbeat    BIGINT NOT NULL,
    jobs_done         BIGINT NOT NULL DEFAULT 0,
    jobs_failed       BIGINT NOT NULL DEFAULT 0,
    quarantined_until BIGINT
);
CREATE TABLE jobs (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    plugin         TEXT NOT NULL REFERENCES plugins(id),
    input          TEXT NOT NULL,
    status         TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'proving', 'verifying', 'completed', 'failed')),
    prove          BOOLEAN NOT NULL DEFAULT FALSE,
    phase          TEXT,
    progress       BIGINT NOT NULL DEFAULT 0,
    output         TEXT,
    fuel_used      BIGINT,
    vm_steps       BIGINT,
    fuel_limit     BIGINT,
    timeout_ms     BIGINT,
    max_steps      BIGINT,
    error_code     TEXT,
    error_message  TEXT,
    attestation    TEXT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT,
    chain_state    TEXT CHECK (chain_state IN ('pending', 'sent', 'confirmed', 'failed')),
    chain_tx       TEXT,
    chain_attempts BIGINT NOT NULL DEFAULT 0,
    chain_error    TEXT,
    key_id         TEXT REFERENCES api_keys(id),
    -- A remote worker's lease (renewed by its heartbeats).
    lease_owner    TEXT REFERENCES workers(id),
    lease_expires  BIGINT,
    -- The node running or proving the job (renewed by the node's heartbeat).
    holder         TEXT,
    holder_expires BIGINT
);
CREATE INDEX jobs_queued ON jobs (seq) WHERE status = 'queued';
CREATE INDEX jobs_waiting ON jobs (seq) WHERE status = 'proving' AND phase = 'waiting';
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_key ON jobs (key_id, created_at) WHERE key_id IS NOT NULL;
CREATE INDEX jobs_by_lease ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_by_holder ON jobs (holder) WHERE holder IS NOT NULL;
CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    job_id       TEXT NOT NULL REFERENCES jobs(id),
    created_at   BIGINT NOT NULL
);
CREATE TABLE proofs (
    job_id        TEXT PRIMARY KEY REFERENCES jobs(id),
    file          TEXT NOT NULL,
    attestation   TEXT NOT NULL,
    program_id    TEXT NOT NULL,
    input_hash    TEXT NOT NULL,
    output_hash   TEXT NOT NULL,
    proof_hash    TEXT NOT NULL,
    security_bits BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    steps         BIGINT NOT NULL,
    prove_ms      BIGINT NOT NULL,
    verify_ms     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE proof_blobs (
    name  TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);
CREATE TABLE chain_outbox (
    job_id          TEXT PRIMARY KEY REFERENCES jobs(id),
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- The node that last leased the entry.
    holder          TEXT
);
-- Every node's last heartbeat.
CREATE TABLE nodes (
    id        TEXT PRIMARY KEY,
    last_seen BIGINT NOT NULL
);
CREATE INDEX chain_outbox_due ON chain_outbox (next_attempt_at);
CREATE FUNCTION obelysk_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('obelysk_jobs', NEW.id || ' ' || NEW.status || ' ' || COALESCE(NEW.phase, ''));
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION obelysk_job_changed();
CREATE TRIGGER jobs_changed AFTER UPDATE ON jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.phase IS DISTINCT FROM NEW.phase)
    EXECUTE FUNCTION obelysk_job_changed();
"#,
    // The status page's throughput chart reads completions by time.
    r#"
CREATE INDEX jobs_completed ON jobs (finished_at) WHERE status = 'completed';
"#,
    // When a proof blob was last written, so that a sweep spares one a node is about to index.
    r#"
ALTER TABLE proof_blobs ADD COLUMN written_at BIGINT NOT NULL DEFAULT 0;
"#,
];

/// How old an unindexed proof blob must be before a node's start-up deletes it: far longer
/// than the verification between writing a proof and indexing it.
pub const ORPHAN_BLOB_AGE_MS: i64 = 3_600_000;

/// PostgreSQL implementation of [`Store`] and [`ProofBlobs`].
pub struct PgStore {
    pool: PgPool,
    /// This process's id as a job holder.
    node: String,
    /// How long a claim holds without a heartbeat.
    lease_ms: i64,
    changes: broadcast::Sender<JobChange>,
    /// The heartbeat and the listener, stopped when the store is dropped.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`), migrates the schema, and starts this node's
    /// heartbeat (claims held for `lease_ms` without one) and its change listener.
    pub async fn open(url: &str, lease_ms: u64) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrate(&pool).await?;
        let node = format!("node-{}-{}", std::process::id(), Uuid::now_v7());
        let lease_ms = lease_ms.clamp(100, i64::MAX as u64) as i64;
        beat(&pool, &node, lease_ms).await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        let changes = broadcast::channel(4096).0;
        let tasks = vec![
            tokio::spawn(heartbeat(pool.clone(), node.clone(), lease_ms)),
            tokio::spawn(listen(listener, changes.clone())),
        ];
        Ok(PgStore {
            pool,
            node,
            lease_ms,
            changes,
            tasks,
        })
    }

    fn holder_until(&self) -> i64 {
        now_ms() + self.lease_ms
    }

    /// Sends the jobs of holders whose leases expired before `now` back to the queue (running
    /// jobs) or to waiting for a prover (proving ones); returns them.
    async fn requeue_expired_holders(&self, now: i64) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut ids: Vec<String> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'queued', started_at = NULL, phase = NULL, progress = 0, \
             holder = NULL, holder_expires = NULL \
             WHERE status = 'running' AND (holder IS NULL OR holder_expires < $1) RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        ids.extend(
            sqlx::query_scalar::<_, String>(
                "UPDATE jobs SET status = 'proving', phase = 'waiting', progress = $1, \
                 holder = NULL, holder_expires = NULL \
                 WHERE status IN ('proving', 'verifying') AND phase <> 'waiting' \
                 AND lease_owner IS NULL AND (holder IS NULL OR holder_expires < $2) RETURNING id",
            )
            .bind(i64::from(JobPhase::Waiting.progress()))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?,
        );
        tx.commit().await?;
        ids.iter().map(|id| parse_job_id(id)).collect()
    }
}

async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    // Nodes starting together migrate one at a time.
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
        .bind(LOCK_MIGRATE)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS obelysk_schema (version BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM obelysk_schema")
        .fetch_optional(&mut *tx)
        .await?;
    let applied = applied.unwrap_or(0).max(0) as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {applied} is newer than this node ({})",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[applied..] {
        sqlx::raw_sql(migration).execute(&mut *tx).await?;
    }
    sqlx::raw_sql("DELETE FROM obelysk_schema")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO obelysk_schema (version) VALUES ($1)")
        .bind(MIGRATIONS.len() as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records that `node` is alive and renews its claims on jobs.
async fn beat(pool: &PgPool, node: &str, lease_ms: i64) -> Result<(), StoreError> {
    let now = now_ms();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO nodes (id, last_seen) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET last_seen = $2",
    )
    .bind(node)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE jobs SET holder_expires = $1 WHERE holder = $2")
        .bind(now + lease_ms)
        .bind(node)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Beats every third of the lease.
async fn heartbeat(pool: PgPool, node: String, lease_ms: i64) {
    let period = Duration::from_millis((lease_ms / 3).max(1) as u64);
    loop {
        tokio::time::sleep(period).await;
        if let Err(e) = beat(&pool, &node, lease_ms).await {
            tracing::error!(error = %e, "cannot renew this node's job leases");
        }
    }
}

/// Forwards the trigger's notifications as [`JobChange`]s.
async fn listen(mut listener: PgListener, changes: broadcast::Sender<JobChange>) {
    loop {
        match listener.recv().await {
            Ok(notification) => match parse_change(notification.payload()) {
                Some(change) => {
                    let _ = changes.send(change);
                }
                None => tracing::warn!(payload = notification.payload(), "odd job notification"),
            },
            Err(e) => {
                // The listener reconnects on the next `recv`; workers poll meanwhile.
                tracing::warn!(error = %e, "lost the job notification channel; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Parses `"<id> <status> <phase>"`.
fn parse_change(payload: &str) -> Option<JobChange> {
    let mut parts = payload.split(' ');
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let status = JobStatus::parse(parts.next()?)?;
    let phase = match parts.next() {
        None | Some("") => None,
        Some(phase) => Some(JobPhase::parse(phase)?),
    };
    Some(JobChange { id, status, phase })
}

/// Inserts a job row inside `tx`, after checking its key's limits under the key's lock.
async fn insert_job_row(
    tx: &mut sqlx::PgConnection,
    job: &NewJob,
) -> Result<JobRecord, StoreError> {
    let now = now_ms();
    if let Some(key) = &job.key {
        check_key_quota(tx, key, now).await?;
    }
    let row = sqlx::query(&format!(
        "INSERT INTO jobs (id, plugin, input, status, prove, fuel_limit, timeout_ms, max_steps, \
         key_id, created_at) VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9) \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(Uuid::now_v7().to_string())
    .bind(&job.plugin)
    .bind(serde_json::to_string(&job.input).expect("words serialize"))
    .bind(job.prove)
    .bind(job.fuel_limit.map(clamp_i64))
    .bind(job.timeout_ms.map(clamp_i64))
    .bind(job.max_steps.map(clamp_i64))
    .bind(job.key.as_ref().map(|k| &k.id))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    job_from_row(&row)
}

/// Refuses a job that would take `key` past its in-flight or per-minute limit. Holds the
/// key's advisory lock until the transaction ends, so the count stays true until the insert
/// commits, whichever node inserts.
async fn check_key_quota(
    tx: &mut sqlx::PgConnection,
    key: &KeyGrant,
    now: i64,
) -> Result<(), StoreError> {
    if key.limits.max_in_flight.is_none() && key.limits.jobs_per_minute.is_none() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_KEY_QUOTA)
        .bind(&key.id)
        .execute(&mut *tx)
        .await?;
    if let Some(limit) = key.limits.max_in_flight {
        let in_flight: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE key_id = $1 \
             AND status NOT IN ('completed', 'failed')",
        )
        .bind(&key.id)
        .fetch_one(&mut *tx)
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
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE key_id = $1 AND created_at > $2")
                .bind(&key.id)
                .bind(now - 60_000)
                .fetch_one(&mut *tx)
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
impl ProofBlobs for PgStore {
    async fn put_proof(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let name = proof_name(bytes);
        // Writing an existing blob again refreshes its time: a sweep must spare it now.
        sqlx::query(
            "INSERT INTO proof_blobs (name, bytes, written_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET written_at = EXCLUDED.written_at",
        )
        .bind(&name)
        .bind(bytes)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(name)
    }

    async fn proof_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM proof_blobs WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn put_plugin(&self, record: &PluginRecord, bytes: &[u8]) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO plugins (id, size, exports, imports, memory_pages, vm, bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&record.id)
        .bind(clamp_i64(record.size))
        .bind(serde_json::to_string(&record.exports).expect("strings serialize"))
        .bind(serde_json::to_string(&record.imports).expect("strings serialize"))
        .bind(clamp_i64(record.memory_pages))
        .bind(serde_json::to_string(&record.vm).expect("vm support serializes"))
        .bind(bytes)
        .bind(to_ms(record.created_at))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn plugin(&self, id: &str) -> Result<Option<PluginRecord>, StoreError> {
        sqlx::query(
            "SELECT id, size, exports, imports, memory_pages, vm, created_at FROM plugins \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(plugin_from_row)
        .transpose()
    }

    async fn plugin_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM plugins WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        sqlx::query(
            "SELECT id, size, exports, imports, memory_pages, vm, created_at FROM plugins \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(plugin_from_row)
        .collect()
    }

    async fn set_vm_support(&self, id: &str, vm: &VmSupport) -> Result<(), StoreError> {
        sqlx::query("UPDATE plugins SET vm = $1 WHERE id = $2")
            .bind(serde_json::to_string(vm).expect("vm support serializes"))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_job(&self, job: &NewJob) -> Result<JobRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        let record = insert_job_row(&mut tx, job).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn insert_job_idempotent(
        &self,
        job: &NewJob,
        key: &Idempotency,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Two nodes given the same key at once: the second waits, then finds the first's job.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(LOCK_IDEMPOTENCY)
            .bind(&key.key)
            .execute(&mut *tx)
            .await?;
        let existing = sqlx::query(&format!(
            "SELECT i.request_hash AS request_hash, {} FROM idempotency i \
             JOIN jobs j ON j.id = i.job_id WHERE i.key = $1",
            prefixed(JOB_COLUMNS, "j")
        ))
        .bind(&key.key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let request_hash: String = row.try_get("request_hash")?;
            return Ok(Inserted::Replayed {
                job: job_from_row(&row)?,
                same_request: request_hash == key.request_hash,
            });
        }
        let record = insert_job_row(&mut tx, job).await?;
        sqlx::query(
            "INSERT INTO idempotency (key, request_hash, job_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.key)
        .bind(&key.request_hash)
        .bind(record.id.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Inserted::New(record))
    }

    async fn idempotent_job(&self, key: &str) -> Result<Option<(String, JobRecord)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT i.request_hash AS request_hash, {} FROM idempotency i \
             JOIN jobs j ON j.id = i.job_id WHERE i.key = $1",
            prefixed(JOB_COLUMNS, "j")
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((row.try_get("request_hash")?, job_from_row(&row)?))),
            None => Ok(None),
        }
    }

    async fn job(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
        sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
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
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1::text IS NULL OR status = $1) \
             AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3"
        ))
        .bind(status.map(JobStatus::as_str))
        .bind(cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
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
        let mut jobs = sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', started_at = $1, attempts = attempts + 1, \
             holder = $2, holder_expires = $3 \
             WHERE seq IN (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT $4 \
                           FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(now_ms())
        .bind(&self.node)
        .bind(self.holder_until())
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(job_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|job| job.id);
        Ok(jobs)
    }

    async fn finish(&self, id: Uuid, outcome: &Outcome) -> Result<(), StoreError> {
        let row = outcome.columns(now_ms());
        // A failure may end a job in any unfinished state; a run result only a running one.
        // Either only while no other node holds the job (this node may have lost it).
        let from = match row.from_any_unfinished {
            true => "('running', 'proving', 'verifying')",
            false => "('running')",
        };
        sqlx::query(&format!(
            "UPDATE jobs SET status = $1, phase = $2, progress = $3, \
             output = COALESCE($4, output), fuel_used = COALESCE($5, fuel_used), \
             vm_steps = COALESCE($6, vm_steps), error_code = $7, error_message = $8, \
             finished_at = $9, holder = NULL, holder_expires = NULL \
             WHERE id = $10 AND status IN {from} AND (holder IS NULL OR holder = $11)"
        ))
        .bind(row.status)
        .bind(row.phase)
        .bind(row.progress)
        .bind(row.output)
        .bind(row.fuel_used)
        .bind(row.vm_steps)
        .bind(row.error_code)
        .bind(row.error_message)
        .bind(row.finished_at)
        .bind(id.to_string())
        .bind(&self.node)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_proving(&self) -> Result<Option<JobRecord>, StoreError> {
        sqlx::query(&format!(
            "UPDATE jobs SET phase = 'execute', progress = $1, holder = $2, holder_expires = $3 \
             WHERE seq = (SELECT seq FROM jobs WHERE status = 'proving' AND phase = 'waiting' \
                          ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(i64::from(JobPhase::Execute.progress()))
        .bind(&self.node)
        .bind(self.holder_until())
        .fetch_optional(&self.pool)
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
            "UPDATE jobs SET status = $1, phase = $2, progress = $3 \
             WHERE id = $4 AND status IN ('proving', 'verifying')",
        )
        .bind(status.as_str())
        .bind(phase.as_str())
        .bind(i64::from(phase.progress()))
        .bind(id.to_string())
        .execute(&self.pool)
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
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // With a worker's lease: only while it holds it. Without: only while no other node
        // holds the job.
        let updated = sqlx::query(
            "UPDATE jobs SET status = 'completed', phase = NULL, progress = 100, attestation = $1, \
             chain_state = $2, finished_at = $3, lease_owner = NULL, lease_expires = NULL, \
             holder = NULL, holder_expires = NULL \
             WHERE id = $4 AND status IN ('proving', 'verifying') \
             AND (($5::text IS NULL AND (holder IS NULL OR holder = $6)) OR lease_owner = $5)",
        )
        .bind(&proof.attestation)
        .bind(attest.then_some(ChainState::Pending.as_str()))
        .bind(now)
        .bind(id.to_string())
        .bind(lease)
        .bind(&self.node)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(worker) = lease {
            sqlx::query("UPDATE workers SET jobs_done = jobs_done + 1 WHERE id = $1")
                .bind(worker)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO proofs (job_id, {PROOF_COLUMNS}, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(id.to_string())
        .bind(&proof.file)
        .bind(&proof.attestation)
        .bind(&proof.program_id)
        .bind(&proof.input_hash)
        .bind(&proof.output_hash)
        .bind(&proof.proof_hash)
        .bind(i64::from(proof.security_bits))
        .bind(clamp_i64(proof.size))
        .bind(clamp_i64(proof.steps))
        .bind(clamp_i64(proof.prove_ms))
        .bind(clamp_i64(proof.verify_ms))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if attest {
            sqlx::query(
                "INSERT INTO chain_outbox (job_id, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id.to_string())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn proof(&self, id: Uuid) -> Result<Option<ProofRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROOF_COLUMNS} FROM proofs WHERE job_id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(proof_from_row).transpose()
    }

    async fn proof_files(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT DISTINCT file FROM proofs")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Only the jobs of holders whose leases expired: other nodes share the rows.
    async fn requeue_running(&self) -> Result<u64, StoreError> {
        Ok(self.requeue_expired_holders(now_ms()).await?.len() as u64)
    }

    async fn count(&self, status: JobStatus) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = $1")
            .bind(status.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn throughput(&self, since_ms: i64) -> Result<Vec<Minute>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(super::THROUGHPUT_SQL)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Minute::from_row).collect())
    }

    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE chain_outbox SET next_attempt_at = $1, holder = $4 \
             WHERE job_id IN (SELECT job_id FROM chain_outbox WHERE next_attempt_at <= $2 \
                              ORDER BY next_attempt_at, created_at LIMIT $3 \
                              FOR UPDATE SKIP LOCKED) \
             RETURNING job_id",
        )
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .bind(i64::from(limit))
        .bind(&self.node)
        .fetch_all(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT j.id AS job_id, j.chain_state, j.chain_tx, j.chain_attempts, j.chain_error, \
             {} FROM jobs j JOIN proofs p ON p.job_id = j.id JOIN chain_outbox o ON o.job_id = j.id \
             WHERE j.id = ANY($1) ORDER BY o.created_at, j.seq",
            prefixed(PROOF_COLUMNS, "p")
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("job_id")?;
                Ok(OutboxEntry {
                    job_id: parse_job_id(&id)?,
                    status: chain_from_row(row)?.ok_or_else(|| {
                        StoreError::Corrupt(format!("outbox job {id} has no state"))
                    })?,
                    proof: proof_from_row(row)?,
                })
            })
            .collect()
    }

    async fn update_outbox(&self, job_id: Uuid, update: &OutboxUpdate) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE jobs SET chain_state = $1, chain_tx = $2, chain_attempts = $3, \
             chain_error = $4 WHERE id = $5",
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
            sqlx::query("DELETE FROM chain_outbox WHERE job_id = $1").bind(job_id.to_string())
        } else {
            sqlx::query("UPDATE chain_outbox SET next_attempt_at = $1 WHERE job_id = $2")
                .bind(update.next_attempt_ms)
                .bind(job_id.to_string())
        };
        outbox.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Only the entries leased by nodes that stopped beating: a live node's may be in flight.
    async fn release_outbox(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        Ok(sqlx::query(
            "UPDATE chain_outbox SET next_attempt_at = $1 WHERE next_attempt_at > $1 \
             AND (holder IS NULL OR holder NOT IN \
                  (SELECT id FROM nodes WHERE last_seen >= $2))",
        )
        .bind(now)
        .bind(now - self.lease_ms)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn register_worker(&self, worker: &WorkerRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (id, name, key_id, backend, devices, memory_bytes, version, \
             registered_at, last_heartbeat) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn workers(&self, stale_before_ms: i64) -> Result<Vec<WorkerRecord>, StoreError> {
        sqlx::query(&format!("{WORKER_SELECT} ORDER BY registered_at, id"))
            .fetch_all(&self.pool)
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
        sqlx::query(&format!("{WORKER_SELECT} WHERE w.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Jobs before workers, as every transaction that writes both: no deadlock.
        sqlx::query(
            "UPDATE jobs SET lease_expires = $1 WHERE lease_owner = $2 \
             AND ($3::text IS NULL OR id IN (SELECT json_array_elements_text($3::json)))",
        )
        .bind(lease_until_ms)
        .bind(worker)
        .bind(&holding)
        .execute(&mut *tx)
        .await?;
        let known = sqlx::query("UPDATE workers SET last_heartbeat = $1 WHERE id = $2")
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
            "UPDATE jobs SET phase = 'execute', progress = $1, lease_owner = $2, \
             lease_expires = $3 \
             WHERE seq = (SELECT seq FROM jobs WHERE status = 'proving' AND phase = 'waiting' \
                          ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(i64::from(JobPhase::Execute.progress()))
        .bind(worker)
        .bind(lease_until_ms)
        .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let released = sqlx::query(
            "UPDATE jobs SET status = 'proving', phase = 'waiting', progress = $1, \
             lease_owner = NULL, lease_expires = NULL \
             WHERE id = $2 AND lease_owner = $3 AND status IN ('proving', 'verifying')",
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
             quarantined_until = COALESCE($1, quarantined_until) WHERE id = $2",
        )
        .bind(quarantine_until_ms)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(released)
    }

    /// Workers' expired leases, and the jobs of nodes whose leases expired.
    async fn expire_leases(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let expired: Vec<(String, String)> = sqlx::query_as(
            "WITH lost AS (SELECT id, lease_owner FROM jobs \
                           WHERE lease_owner IS NOT NULL AND lease_expires < $1 FOR UPDATE) \
             UPDATE jobs j SET status = 'proving', phase = 'waiting', progress = $2, \
             lease_owner = NULL, lease_expires = NULL FROM lost WHERE j.id = lost.id \
             RETURNING j.id, lost.lease_owner",
        )
        .bind(now_ms)
        .bind(i64::from(JobPhase::Waiting.progress()))
        .fetch_all(&mut *tx)
        .await?;
        let owners: Vec<&str> = expired.iter().map(|(_, worker)| worker.as_str()).collect();
        // One failure per expired lease (a worker may lose several at once).
        sqlx::query(
            "UPDATE workers w SET jobs_failed = jobs_failed + n.lost \
             FROM (SELECT owner, COUNT(*) AS lost FROM UNNEST($1::text[]) AS owner GROUP BY owner) n \
             WHERE w.id = n.owner",
        )
        .bind(&owners)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut jobs = expired
            .iter()
            .map(|(job, _)| parse_job_id(job))
            .collect::<Result<Vec<_>, _>>()?;
        jobs.extend(self.requeue_expired_holders(now_ms).await?);
        Ok(jobs)
    }

    async fn put_key(&self, key: &KeyRecord, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, token_hash, max_in_flight, max_steps, \
             jobs_per_minute, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(token_hash)
        .bind(key.limits.max_in_flight.map(i64::from))
        .bind(key.limits.max_steps.map(clamp_i64))
        .bind(key.limits.jobs_per_minute.map(i64::from))
        .bind(to_ms(key.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn key_by_token_hash(&self, token_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    async fn revoke_key(&self, id_or_name: &str) -> Result<Vec<KeyRecord>, StoreError> {
        sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE (id = $2 OR name = $2) AND revoked_at IS NULL RETURNING {KEY_COLUMNS}"
        ))
        .bind(now_ms())
        .bind(id_or_name)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    fn watch(&self) -> Option<broadcast::Receiver<JobChange>> {
        Some(self.changes.subscribe())
    }
}

/// The store as both trait objects a node needs.
impl PgStore {
    /// Deletes proof blobs no proof record names that were last written before
    /// `written_before_ms` (orphans of a node that died between writing a proof and indexing
    /// it, or whose lease on the job lapsed); returns how many.
    pub async fn sweep_orphan_blobs(&self, written_before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM proof_blobs b WHERE written_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM proofs p WHERE p.file = b.name)",
        )
        .bind(written_before_ms)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

pub(super) fn shared(store: PgStore) -> (Arc<dyn Store>, Arc<dyn ProofBlobs>) {
    let store = Arc::new(store);
    (store.clone(), store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_parse() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_change(&format!("{id} proving waiting")),
            Some(JobChange {
                id,
                status: JobStatus::Proving,
                phase: Some(JobPhase::Waiting)
            })
        );
        assert_eq!(
            parse_change(&format!("{id} queued ")).map(|c| c.phase),
            Some(None)
        );
        assert_eq!(parse_change("x queued "), None);
        assert_eq!(parse_change(&format!("{id} lost ")), None);
    }
}
