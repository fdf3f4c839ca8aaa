//! Group commit for the SQLite store's hot writes (job inserts, claims, finishes).
//!
//! With `synchronous=FULL` every commit waits for the disk, so one transaction per write caps
//! a node at a few thousand writes per second however many clients wait. Here the writes that
//! arrive while a commit is in flight queue up, and the next transaction runs all of them (the
//! finishes as one statement, the plain inserts as another) and commits once. A failing write
//! is rolled back alone and answered with its error: the group then runs again with each write
//! in its own savepoint. Each caller hears back only after that commit: a write is durable when
//! its future resolves, exactly as before. A lone write still goes out at once.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::sqlite::{claim_queued_on, finish_all_on, insert_on, insert_rows_on};
use super::{Idempotency, Inserted, JobRecord, NewJob, Outcome, StoreError};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 512;

/// A write waiting for the next group commit, with where its answer goes.
pub(super) enum Write {
    Insert {
        job: NewJob,
        idempotency: Option<Idempotency>,
        reply: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    Claim {
        limit: usize,
        reply: oneshot::Sender<Result<Vec<JobRecord>, StoreError>>,
    },
    Finish {
        id: Uuid,
        outcome: Outcome,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// The queue of writes; a task commits them in groups until every sender is gone.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Write>,
}

impl GroupCommit {
    /// Starts the committing task on the current runtime, over the single-connection `writer`.
    pub(super) fn start(writer: SqlitePool) -> GroupCommit {
        let (queue, writes) = mpsc::unbounded_channel();
        tokio::spawn(commit_loop(writer, writes));
        GroupCommit { queue }
    }

    /// Queues a write built around `reply` and waits for its answer (after the commit).
    pub(super) async fn run<T>(
        &self,
        write: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Write,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(write(reply))
            .map_err(|_| not_committed("the store's writer stopped"))?;
        answer
            .await
            .map_err(|_| not_committed("the group commit stopped before it"))?
    }
}

async fn commit_loop(writer: SqlitePool, mut writes: mpsc::UnboundedReceiver<Write>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while writes.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&writer, std::mem::take(&mut batch)).await;
    }
}

/// What a write did, held until the transaction commits.
enum Done {
    Insert(Box<Result<Inserted, StoreError>>),
    Claim(Result<Vec<JobRecord>, StoreError>),
    Finish(Result<(), StoreError>),
}

impl Done {
    fn failed(&self) -> Option<&StoreError> {
        match self {
            Done::Insert(result) => result.as_ref().as_ref().err(),
            Done::Claim(result) => result.as_ref().err(),
            Done::Finish(result) => result.as_ref().err(),
        }
    }
}

impl Write {
    /// Sends `done` to the caller; a success becomes an error when the commit failed
    /// (`failure`). Without `done` (the group failed before this write), the failure.
    fn answer(self, done: Option<Done>, failure: Option<&str>) {
        match (self, done) {
            (Write::Insert { reply, .. }, Some(Done::Insert(result))) => {
                deliver(reply, *result, failure)
            }
            (Write::Claim { reply, .. }, Some(Done::Claim(result))) => {
                deliver(reply, result, failure)
            }
            (Write::Finish { reply, .. }, Some(Done::Finish(result))) => {
                deliver(reply, result, failure)
            }
            (write, _) => write.abandon(failure.unwrap_or("the group was abandoned")),
        }
    }

    fn abandon(self, why: &str) {
        match self {
            Write::Insert { reply, .. } => deliver(reply, Err(not_committed(why)), None),
            Write::Claim { reply, .. } => deliver(reply, Err(not_committed(why)), None),
            Write::Finish { reply, .. } => deliver(reply, Err(not_committed(why)), None),
        }
    }
}

fn deliver<T>(
    reply: oneshot::Sender<Result<T, StoreError>>,
    result: Result<T, StoreError>,
    failure: Option<&str>,
) {
    let result = match (result, failure) {
        (Ok(_), Some(why)) => Err(not_committed(why)),
        (result, _) => result,
    };
    // A caller that stopped waiting is no error.
    let _ = reply.send(result);
}

fn not_committed(why: &str) -> StoreError {
    StoreError::Corrupt(format!("the write was not committed: {why}"))
}

/// Runs `batch` in one transaction and answers every write.
async fn commit(writer: &SqlitePool, batch: Vec<Write>) {
    let result = match writer.acquire().await {
        Ok(mut conn) => {
            let result = run(&mut conn, &batch).await;
            if result.is_err() {
                // Leave the connection usable for the next group.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            }
            result
        }
        Err(e) => Err(e),
    };
    let (done, failure) = match result {
        Ok(done) => (done, None),
        Err(e) => {
            tracing::error!(error = %e, writes = batch.len(), "group commit failed");
            (Vec::new(), Some(e.to_string()))
        }
    };
    let mut done = done.into_iter();
    for write in batch {
        write.answer(done.next(), failure.as_deref());
    }
}

/// Does one write on `conn`.
async fn apply(conn: &mut sqlx::SqliteConnection, write: &Write) -> Done {
    match write {
        Write::Insert {
            job, idempotency, ..
        } => Done::Insert(Box::new(insert_on(conn, job, idempotency.as_ref()).await)),
        Write::Claim { limit, .. } => Done::Claim(claim_queued_on(conn, *limit).await),
        Write::Finish { id, outcome, .. } => {
            Done::Finish(finish_all_on(conn, &[(*id, outcome)]).await)
        }
    }
}

/// A job insert with nothing to check first (no idempotency key, no limits on its key).
fn plain_insert(write: &Write) -> Option<&NewJob> {
    match write {
        Write::Insert {
            job,
            idempotency: None,
            ..
        } if job.key.as_ref().is_none_or(|key| {
            key.limits.max_in_flight.is_none() && key.limits.jobs_per_minute.is_none()
        }) =>
        {
            Some(job)
        }
        _ => None,
    }
}

/// The fast pass: every finish in one statement (their jobs were claimed in earlier groups),
/// every plain insert in another, then the other writes in the order they came. `None` when
/// a write failed (other than a refused quota, which writes nothing).
async fn run_together(
    conn: &mut sqlx::SqliteConnection,
    batch: &[Write],
) -> Result<Option<Vec<Done>>, sqlx::Error> {
    let finishes: Vec<(Uuid, &Outcome)> = batch
        .iter()
        .filter_map(|write| match write {
            Write::Finish { id, outcome, .. } => Some((*id, outcome)),
            _ => None,
        })
        .collect();
    if finish_all_on(conn, &finishes).await.is_err() {
        return Ok(None);
    }
    let plain: Vec<&NewJob> = batch.iter().filter_map(plain_insert).collect();
    let Ok(records) = insert_rows_on(conn, &plain).await else {
        return Ok(None);
    };
    let mut records = records.into_iter();
    let mut done = Vec::with_capacity(batch.len());
    for write in batch {
        let result = match (write, plain_insert(write)) {
            (Write::Finish { .. }, _) => Done::Finish(Ok(())),
            (_, Some(_)) => match records.next() {
                Some(record) => Done::Insert(Box::new(Ok(Inserted::New(record)))),
                None => return Ok(None),
            },
            (write, None) => apply(conn, write).await,
        };
        if result
            .failed()
            .is_some_and(|e| !matches!(e, StoreError::Quota(_)))
        {
            return Ok(None);
        }
        done.push(result);
    }
    Ok(Some(done))
}

/// Runs every write of `batch` in one transaction: first together ([`run_together`]). Should
/// a write fail, that transaction is rolled back and the batch runs again with each write in
/// its own savepoint, so that the failing one is undone alone.
async fn run(conn: &mut sqlx::SqliteConnection, batch: &[Write]) -> Result<Vec<Done>, sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    if let Some(done) = run_together(conn, batch).await? {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        return Ok(done);
    }
    sqlx::query("ROLLBACK").execute(&mut *conn).await?;
    let mut done = Vec::with_capacity(batch.len());
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    for write in batch {
        sqlx::query("SAVEPOINT write").execute(&mut *conn).await?;
        let result = apply(conn, write).await;
        if result.failed().is_some() {
            sqlx::query("ROLLBACK TO write").execute(&mut *conn).await?;
        }
        sqlx::query("RELEASE write").execute(&mut *conn).await?;
        done.push(result);
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(done)
}
