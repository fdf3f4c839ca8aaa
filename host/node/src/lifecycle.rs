//! A job's life cycle: admission to the durable queue, and the one place that records what
//! happened to a job, counts it and tells whoever follows it.
//!
//! The database is the queue: [`JobQueue::submit`] inserts a `queued` row (durable before the
//! client hears 202) and wakes a sandbox worker; the workers, the provers and the coordinator's
//! worker routes announce each change ([`JobQueue::changed`]) and each end
//! ([`JobQueue::finished`]) here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tracing::error;

use crate::metrics::{Metrics, OutcomeLabel};
use crate::store::{Idempotency, Inserted, JobRecord, NewJob, Store, StoreError};

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the job queue is full ({capacity} jobs waiting)")]
    QueueFull { capacity: usize },
    #[error("Idempotency-Key `{key}` was already used with a different request (job {job})")]
    IdempotencyConflict { key: String, job: uuid::Uuid },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Admission to the durable queue, with a bound on waiting jobs.
pub struct JobQueue {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    wake: Notify,
    /// Wakes an idle prover when a job starts waiting for one.
    prove_wake: Notify,
    waiting: AtomicUsize,
    capacity: usize,
    /// The id of every job whose record changed (claimed, finished).
    changes: broadcast::Sender<uuid::Uuid>,
}

impl JobQueue {
    /// A queue over `store`, which may already hold `waiting` queued jobs.
    pub fn new(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        capacity: usize,
        waiting: usize,
    ) -> Self {
        metrics.queue_depth.set(waiting as i64);
        JobQueue {
            store,
            metrics,
            wake: Notify::new(),
            prove_wake: Notify::new(),
            waiting: AtomicUsize::new(waiting),
            capacity,
            changes: broadcast::channel(1024).0,
        }
    }

    /// Ids of jobs as their records change. Subscribe before reading a job's state so that no
    /// later change is missed; a lagging receiver should re-read the job.
    pub fn changes(&self) -> broadcast::Receiver<uuid::Uuid> {
        self.changes.subscribe()
    }

    /// Announces that job `id` changed.
    pub fn changed(&self, id: uuid::Uuid) {
        // No receiver is fine: nobody is watching.
        let _ = self.changes.send(id);
    }

    /// A job reached `completed` (outcome `"completed"`) or `failed` (its failure code): counts
    /// it in `jobs_finished` and announces the change. Every path that finishes a job (the
    /// sandbox workers, the local provers, remote workers' uploads) calls this once.
    pub fn finished(&self, id: uuid::Uuid, outcome: &str) {
        self.metrics
            .jobs_finished
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
        self.changed(id);
    }

    /// Wakes an idle sandbox worker: a job may be queued.
    pub fn wake_workers(&self) {
        self.wake.notify_one();
    }

    /// Sets the count of waiting jobs to what the store holds (with a store shared between
    /// nodes, other nodes insert and claim too).
    pub fn resync(&self, waiting: usize) {
        self.waiting.store(waiting, Ordering::Release);
        self.metrics.queue_depth.set(waiting as i64);
    }

    /// One job fewer waits (never below zero: a resync may already have counted it out).
    fn unreserve(&self) {
        let _ = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Wakes an idle prover: a job may be waiting for one.
    pub fn wake_provers(&self) {
        self.prove_wake.notify_one();
    }

    /// Resolves when a job may be waiting for a prover.
    pub async fn provers_woken(&self) {
        self.prove_wake.notified().await
    }

    /// Durably enqueues a job, or refuses it when `capacity` jobs are already waiting. With an
    /// idempotency key, a key used before returns its job (`Ok((job, false))`) when the request
    /// is the same and a conflict when it is not.
    pub async fn submit(
        &self,
        job: &NewJob,
        idempotency: Option<&Idempotency>,
    ) -> Result<(JobRecord, bool), SubmitError> {
        let reserved = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            });
        if reserved.is_err() {
            self.metrics.jobs_rejected_full.inc();
            return Err(SubmitError::QueueFull {
                capacity: self.capacity,
            });
        }
        let inserted = match idempotency {
            Some(key) => self.store.insert_job_idempotent(job, key).await,
            None => self.store.insert_job(job).await.map(Inserted::New),
        };
        match inserted {
            Ok(Inserted::New(job)) => {
                self.metrics.jobs_submitted.inc();
                self.metrics.queue_depth.inc();
                self.wake.notify_one();
                // The status page lists new jobs as they arrive.
                self.changed(job.id);
                Ok((job, true))
            }
            Ok(Inserted::Replayed { job, same_request }) => {
                self.unreserve();
                match same_request {
                    true => Ok((job, false)),
                    false => Err(SubmitError::IdempotencyConflict {
                        key: idempotency.map(|k| k.key.clone()).unwrap_or_default(),
                        job: job.id,
                    }),
                }
            }
            Err(e) => {
                self.unreserve();
                Err(e.into())
            }
        }
    }

    /// Jobs waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Resolves when a job may be waiting for a sandbox worker.
    pub async fn workers_woken(&self) {
        self.wake.notified().await
    }

    /// A sandbox worker took a queued job.
    pub fn claimed(&self) {
        self.unreserve();
        self.metrics
            .queue_depth
            .set(self.waiting.load(Ordering::Acquire) as i64);
    }
}

/// Writes a job's outcome to the store, retrying with backoff; false when every try failed.
/// A result that cannot be recorded leaves the job unfinished, so it is done again after a
/// restart rather than lost.
pub async fn persist<F, Fut>(mut write: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    for attempt in 1..=5u32 {
        match write().await {
            Ok(()) => return true,
            Err(e) => {
                error!(error = %e, attempt, "cannot record a job's outcome");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound on waiting jobs: refused when full, recounted from the store (which other
    /// nodes share), and never below zero when this node claims jobs others submitted.
    #[tokio::test]
    async fn the_queue_bound_follows_the_recount() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let store = crate::store::open_store(&url, 1000).await.unwrap();
        let record = crate::store::PluginRecord {
            id: "aa".into(),
            size: 1,
            exports: vec![],
            imports: vec![],
            memory_pages: 0,
            vm: Default::default(),
            created_at: time::OffsetDateTime::now_utc(),
        };
        store.put_plugin(&record, b"a").await.unwrap();
        let queue = JobQueue::new(store, Arc::new(Metrics::default()), 2, 0);
        let job = NewJob {
            plugin: "aa".into(),
            ..NewJob::default()
        };
        queue.submit(&job, None).await.unwrap();
        queue.submit(&job, None).await.unwrap();
        assert!(matches!(
            queue.submit(&job, None).await,
            Err(SubmitError::QueueFull { capacity: 2 })
        ));
        // Another node ran them: the recount frees the slots.
        queue.resync(0);
        queue.submit(&job, None).await.unwrap();
        for _ in 0..3 {
            queue.claimed();
        }
        assert_eq!(queue.waiting(), 0);
        queue.resync(2);
        assert!(queue.submit(&job, None).await.is_err());
    }
}
