//! Group commit for the SQLite store's hot writes (job inserts, claims, finishes).
//!
//! With `synchronous=FULL` every commit waits for the disk, so one transaction per write caps
//! a node at a few thousand writes per second however many clients wait. Here the writes that
//! arrive while a commit is in flight queue up, and the next transaction runs all of them, each
//! inside its own savepoint (a failing write is rolled back alone and answered with its error),
//! then commits once. Each caller hears back only after that commit: a write is durable when
//! its future resolves, exactly as before. A lone write still goes out at once.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::sqlite::{claim_queued_on, finish_on, insert_on};
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

/// An answer held until the transaction commits.
enum Answer {
    Insert(
        oneshot::Sender<Result<Inserted, StoreError>>,
        Box<Result<Inserted, StoreError>>,
    ),
    Claim(
        oneshot::Sender<Result<Vec<JobRecord>, StoreError>>,
        Result<Vec<JobRecord>, StoreError>,
    ),
    Finish(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
}

impl Answer {
    /// Sends the answer; a success becomes an error when the commit failed (`failure`).
    fn send(self, failure: Option<&str>) {
        match self {
            Answer::Insert(reply, result) => deliver(reply, *result, failure),
            Answer::Claim(reply, result) => deliver(reply, result, failure),
            Answer::Finish(reply, result) => deliver(reply, result, failure),
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

/// Runs `batch` in one transaction, one savepoint per write, and answers every write.
async fn commit(writer: &SqlitePool, batch: Vec<Write>) {
    let mut answers = Vec::with_capacity(batch.len());
    let result = match writer.acquire().await {
        Ok(mut conn) => {
            let result = run(&mut conn, batch, &mut answers).await;
            if result.is_err() {
                // Leave the connection usable for the next group.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            }
            result
        }
        Err(e) => Err(e),
    };
    let failure = result.err().map(|e| {
        tracing::error!(error = %e, writes = answers.len(), "group commit failed");
        e.to_string()
    });
    // Writes the failure stopped before are dropped: their callers hear `not committed`.
    for answer in answers {
        answer.send(failure.as_deref());
    }
}

async fn run(
    conn: &mut sqlx::SqliteConnection,
    batch: Vec<Write>,
    answers: &mut Vec<Answer>,
) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    for write in batch {
        sqlx::query("SAVEPOINT write").execute(&mut *conn).await?;
        let answer = match write {
            Write::Insert {
                job,
                idempotency,
                reply,
            } => Answer::Insert(
                reply,
                Box::new(insert_on(conn, &job, idempotency.as_ref()).await),
            ),
            Write::Claim { limit, reply } => {
                Answer::Claim(reply, claim_queued_on(conn, limit).await)
            }
            Write::Finish { id, outcome, reply } => {
                Answer::Finish(reply, finish_on(conn, id, &outcome).await)
            }
        };
        let failed = match &answer {
            Answer::Insert(_, r) => r.is_err(),
            Answer::Claim(_, r) => r.is_err(),
            Answer::Finish(_, r) => r.is_err(),
        };
        answers.push(answer);
        if failed {
            sqlx::query("ROLLBACK TO write").execute(&mut *conn).await?;
        }
        sqlx::query("RELEASE write").execute(&mut *conn).await?;
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(())
}
