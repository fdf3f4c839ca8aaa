//! One suite for every [`Store`]: each test runs against SQLite and against PostgreSQL (a
//! server started once per test process, a fresh database per test).

use std::sync::{Arc, OnceLock};

use time::OffsetDateTime;

use super::rows::from_ms;
use super::temp_postgres::TempPostgres;
use super::*;
use crate::failures::FailureCode;
use crate::keys::{KeyGrant, KeyLimits, Role};
use crate::workers::{WorkerRecord, WorkerState};

/// How long a PostgreSQL node's claims hold without its heartbeat, in these tests.
const LEASE_MS: u64 = 300;

/// A database under test; [`Db::open`] gives a new handle on the same data (for PostgreSQL, a
/// new node).
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Db {
        static SERVER: OnceLock<TempPostgres> = OnceLock::new();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let server = SERVER.get_or_init(|| TempPostgres::start().expect("PostgreSQL"));
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Db::Postgres(server.create_database(&format!("suite_{n}")).await.unwrap())
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(dir) => {
                let url = format!("sqlite://{}", dir.path().join("db/obelysk.db").display());
                open_store(&url, LEASE_MS).await.unwrap()
            }
            Db::Postgres(url) => open_store(url, LEASE_MS).await.unwrap(),
        }
    }

    /// Waits until claims of a dropped handle have lapsed.
    async fn outlive_leases(&self) {
        if let Db::Postgres(_) = self {
            tokio::time::sleep(std::time::Duration::from_millis(LEASE_MS + 200)).await;
        }
    }
}

/// Runs each named test against both databases.
macro_rules! suite {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $($(#[$meta])* #[tokio::test] async fn $name() { super::$name(super::Db::sqlite()).await })*
        }
        mod postgres {
            $($(#[$meta])* #[tokio::test] async fn $name() { super::$name(super::Db::postgres().await).await })*
        }
    };
}

/// A node's crash and restart: a new handle, whose start-up sends the dead one's jobs back.
async fn restart(db: &Db, store: Arc<dyn Store>) -> (Arc<dyn Store>, u64) {
    drop(store);
    db.outlive_leases().await;
    let store = db.open().await;
    let requeued = store.requeue_running().await.unwrap();
    (store, requeued)
}

/// A claim that must find a job. On PostgreSQL a claim skips locked rows, and the node's own
/// heartbeat may briefly hold a row lock from its re-check of a row another statement just
/// changed: a claim may come back empty once, as a real worker's poll would, so it is retried.
macro_rules! claimed {
    ($claim:expr) => {{
        let mut tries = 0;
        loop {
            match $claim.await.unwrap() {
                Some(job) => break job,
                None if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                None => panic!("no job to claim after {tries} tries"),
            }
        }
    }};
}

suite!(
    plugins_are_content_addressed,
    stale_vm_support_is_recomputed,
    jobs_flow_through_the_queue_in_order,
    the_outbox_leases_records_and_settles_attestations,
    proven_jobs_pass_through_the_prover_states,
    a_failure_ends_a_job_in_any_unfinished_state,
    idempotency_keys_map_to_one_job,
    pages_walk_newest_first,
    reopening_keeps_everything,
    leases_expire_renew_and_bind_completion_to_their_holder,
    heartbeats_and_completions_do_not_deadlock,
    a_group_commit_refuses_a_bad_write_alone,
    concurrent_finishes_each_apply_their_own_outcome,
    keys_are_stored_hashed_found_listed_and_revoked,
    key_limits_hold_under_concurrent_submissions,
    unknown_plugin_is_rejected_by_the_schema,
    throughput_counts_completions_per_minute,
    a_heartbeat_renews_only_the_leases_it_names,
);

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

async fn plugins_are_content_addressed(db: Db) {
    let store = db.open().await;
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

async fn stale_vm_support_is_recomputed(db: Db) {
    let store = db.open().await;
    let stage1 =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "main")))"#).unwrap();
    let needs_floats = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "main") (drop (f32.add (f32.const 2) (f32.const 3)))))"#,
    )
    .unwrap();
    store.put_plugin(&plugin("aa"), &stage1).await.unwrap();
    store
        .put_plugin(&plugin("bb"), &needs_floats)
        .await
        .unwrap();
    assert_eq!(super::refresh_vm_support(store.as_ref()).await.unwrap(), 2);
    let aa = store.plugin("aa").await.unwrap().unwrap().vm;
    assert!(aa.supported && aa.program_id.is_some(), "{aa:?}");
    let bb = store.plugin("bb").await.unwrap().unwrap().vm;
    assert!(
        !bb.supported && bb.unsupported.contains_key("f32.add"),
        "{bb:?}"
    );
    assert_eq!(bb.ir_version, obelysk_vm::ir::IR_VERSION);
    // Up to date now: nothing to redo.
    assert_eq!(super::refresh_vm_support(store.as_ref()).await.unwrap(), 0);
}

async fn jobs_flow_through_the_queue_in_order(db: Db) {
    let store = db.open().await;
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
    let (store, requeued) = restart(&db, store).await;
    assert_eq!(requeued, 1);
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

/// A job to be proven, run (output: its input) and now waiting for a prover.
async fn waiting_for_prover(store: &dyn Store, input: u32) -> Uuid {
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
    job.id
}

/// A proven job, completed (with `attest`: into the outbox).
async fn completed_proven(store: &dyn Store, input: u32, attest: bool) -> Uuid {
    let id = waiting_for_prover(store, input).await;
    claimed!(store.claim_proving());
    let file = format!("{input}.proof");
    store
        .complete_proven(id, &proof_record(&file), attest, None)
        .await
        .unwrap();
    id
}

async fn the_outbox_leases_records_and_settles_attestations(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    let quiet = completed_proven(store.as_ref(), 1, false).await;
    let first = completed_proven(store.as_ref(), 2, true).await;
    let second = completed_proven(store.as_ref(), 3, true).await;
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
    let (store, _) = restart(&db, store).await;
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

async fn proven_jobs_pass_through_the_prover_states(db: Db) {
    let store = db.open().await;
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

    let claimed = claimed!(store.claim_proving());
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
    let (store, requeued) = restart(&db, store).await;
    assert_eq!(requeued, 1);
    let again = claimed!(store.claim_proving());
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

async fn a_failure_ends_a_job_in_any_unfinished_state(db: Db) {
    let store = db.open().await;
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
    claimed!(store.claim_proving());
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

async fn idempotency_keys_map_to_one_job(db: Db) {
    let store = db.open().await;
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

async fn pages_walk_newest_first(db: Db) {
    let store = db.open().await;
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

async fn reopening_keeps_everything(db: Db) {
    let id = {
        let store = db.open().await;
        store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
        store.insert_job(&job("aa", &[7])).await.unwrap().id
    };
    let store = db.open().await;
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
async fn leases_expire_renew_and_bind_completion_to_their_holder(db: Db) {
    let store = db.open().await;
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
    let leased = claimed!(store.lease_proving("w1", now + 1_000));
    assert_eq!((leased.id, leased.worker.as_deref()), (job.id, Some("w1")));
    assert_eq!(store.lease_proving("w2", now + 1_000).await.unwrap(), None);
    assert_eq!(store.claim_proving().await.unwrap(), None, "leased");
    // A restart leaves a live lease alone; a heartbeat renews it.
    store.requeue_running().await.unwrap();
    assert!(store.heartbeat("w1", now + 5_000, None).await.unwrap());
    assert!(!store.heartbeat("nobody", now, None).await.unwrap());
    assert!(store.expire_leases(now + 2_000).await.unwrap().is_empty());
    assert_eq!(store.expire_leases(now + 6_000).await.unwrap(), [job.id]);
    let stale = now + 60_000;
    let workers = store.workers(stale).await.unwrap();
    assert_eq!(
        (workers[0].jobs_failed, workers[0].state),
        (1, WorkerState::Lost)
    );
    // Back in the queue: w2 takes it; w1 can neither complete nor release it.
    claimed!(store.lease_proving("w2", now + 10_000));
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

/// A worker's heartbeats race its completions (both write its job rows and its worker row):
/// every one succeeds.
async fn heartbeats_and_completions_do_not_deadlock(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    store.register_worker(&worker_record("w")).await.unwrap();
    let mut leased = Vec::new();
    for i in 0..40u32 {
        let id = waiting_for_prover(store.as_ref(), i).await;
        claimed!(store.lease_proving("w", now_ms() + 60_000));
        leased.push(id);
    }
    let beats = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                store.heartbeat("w", now_ms() + 60_000, None).await.unwrap();
            }
        })
    };
    let completions: Vec<_> = leased
        .iter()
        .map(|&id| {
            let store = store.clone();
            tokio::spawn(async move {
                let record = proof_record(&format!("{id}.proof"));
                store.complete_proven(id, &record, false, Some("w")).await
            })
        })
        .collect();
    for completion in completions {
        assert!(completion.await.unwrap().unwrap());
    }
    beats.await.unwrap();
    let worker = store.worker("w", i64::MIN).await.unwrap().unwrap();
    assert_eq!((worker.jobs_done, worker.leases), (40, 0));
}

/// Writes queued together commit together, each in its own savepoint: a failing write
/// (an unknown plugin breaks the foreign key) is refused alone, and everything answered
/// `Ok` is on disk.
async fn a_group_commit_refuses_a_bad_write_alone(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
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
    drop(store);
    let reopened = db.open().await;
    assert_eq!(reopened.count(JobStatus::Queued).await.unwrap(), 179);
    assert_eq!(reopened.count(JobStatus::Failed).await.unwrap(), 1);
}

/// Finishes that arrive together (on SQLite: one statement for the group) each apply their
/// own outcome, and only from the states it may end.
async fn concurrent_finishes_each_apply_their_own_outcome(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    for i in 0..30u32 {
        store.insert_job(&job("aa", &[i])).await.unwrap();
    }
    let jobs = store.claim_queued(30).await.unwrap();
    assert_eq!(jobs.len(), 30);
    let run = |i: u32| RunResult {
        output: vec![i * 10],
        fuel_used: u64::from(i),
        vm_steps: Some(u64::from(i) + 1),
    };
    // The first ten wait for a prover.
    for (i, job) in jobs.iter().take(10).enumerate() {
        store
            .finish(job.id, &Outcome::ToProve(run(i as u32)))
            .await
            .unwrap();
    }
    let outcome = |i: u32| match (i < 10, i.is_multiple_of(2)) {
        // A proving job may fail, but a run result does not apply to it.
        (true, true) => Outcome::Failed(JobError::new(FailureCode::Trap, format!("t{i}"))),
        (true, false) => Outcome::Completed(run(99)),
        (false, true) => Outcome::Completed(run(i)),
        (false, false) => Outcome::ToProve(run(i)),
    };
    let finishing: Vec<_> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let (store, id, outcome) = (store.clone(), job.id, outcome(i as u32));
            tokio::spawn(async move { store.finish(id, &outcome).await })
        })
        .collect();
    for finish in finishing {
        finish.await.unwrap().unwrap();
    }
    for (i, job) in jobs.iter().enumerate() {
        let i = i as u32;
        let job = store.job(job.id).await.unwrap().unwrap();
        let expected = match (i < 10, i.is_multiple_of(2)) {
            (true, true) => (JobStatus::Failed, Some(vec![i * 10]), Some(format!("t{i}"))),
            (true, false) => (JobStatus::Proving, Some(vec![i * 10]), None),
            (false, true) => (JobStatus::Completed, Some(vec![i * 10]), None),
            (false, false) => (JobStatus::Proving, Some(vec![i * 10]), None),
        };
        let message = job.error.as_ref().map(|e| e.message.clone());
        assert_eq!(
            (job.status, job.output.clone(), message),
            expected,
            "job {i}"
        );
        assert_eq!(job.vm_steps, Some(u64::from(i) + 1), "job {i}");
        let finished = job.status.is_final();
        assert_eq!(job.finished_at.is_some(), finished, "job {i}");
        assert_eq!(job.progress == 100, finished, "job {i}");
    }
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

async fn keys_are_stored_hashed_found_listed_and_revoked(db: Db) {
    let store = db.open().await;
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
async fn key_limits_hold_under_concurrent_submissions(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    let in_flight = KeyLimits {
        max_in_flight: Some(3),
        ..KeyLimits::default()
    };
    store.put_key(&key("busy", in_flight), "h1").await.unwrap();
    let grant = KeyGrant {
        id: "busy".into(),
        limits: in_flight,
    };
    let submit = |store: Arc<dyn Store>, grant: KeyGrant| async move {
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

async fn unknown_plugin_is_rejected_by_the_schema(db: Db) {
    let store = db.open().await;
    assert!(store.insert_job(&job("missing", &[])).await.is_err());
}

/// Two nodes on one PostgreSQL database: claims never overlap, each sees the other's changes,
/// a live node's claims survive the other's start-up, a dead node's jobs go back to the queue,
/// and a node cannot record a result for a job another node holds.
#[tokio::test]
async fn postgres_nodes_share_one_queue() {
    let db = Db::postgres().await;
    let (a, b) = (db.open().await, db.open().await);
    a.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    let mut b_changes = b.watch().expect("a shared store reports changes");
    let mut submitted = Vec::new();
    for i in 0..40u32 {
        let node = if i % 2 == 0 { &a } else { &b };
        submitted.push(node.insert_job(&job("aa", &[i])).await.unwrap().id);
    }
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), b_changes.recv())
        .await
        .expect("b hears of a's insert")
        .unwrap();
    assert_eq!(
        (first.id, first.status, first.phase),
        (submitted[0], JobStatus::Queued, None)
    );

    let (mut by_a, mut by_b) = (Vec::new(), Vec::new());
    loop {
        let (x, y) = tokio::join!(a.claim_queued(3), b.claim_queued(3));
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        by_a.extend(x.iter().map(|job| job.id));
        by_b.extend(y.iter().map(|job| job.id));
    }
    let mut claimed: Vec<Uuid> = by_a.iter().chain(&by_b).copied().collect();
    claimed.sort();
    let mut expected = submitted.clone();
    expected.sort();
    assert_eq!(claimed, expected, "every job claimed exactly once");
    assert!(!by_a.is_empty() && !by_b.is_empty(), "both nodes took jobs");

    let done = Outcome::Completed(RunResult {
        output: vec![1],
        fuel_used: 1,
        vm_steps: None,
    });
    for id in &by_b {
        b.finish(*id, &done).await.unwrap();
    }
    // `b` cannot record a result for a job `a` holds.
    b.finish(by_a[0], &done).await.unwrap();
    assert_eq!(
        b.job(by_a[0]).await.unwrap().unwrap().status,
        JobStatus::Running
    );

    // A live node's claims outlast several leases and the other node's start-up and sweeps.
    tokio::time::sleep(std::time::Duration::from_millis(3 * LEASE_MS)).await;
    assert_eq!(b.requeue_running().await.unwrap(), 0);
    assert!(b.expire_leases(now_ms()).await.unwrap().is_empty());

    // `a` dies: exactly its jobs go back to the queue, and `b` runs them.
    drop(a);
    db.outlive_leases().await;
    let mut requeued = b.expire_leases(now_ms()).await.unwrap();
    requeued.sort();
    by_a.sort();
    assert_eq!(requeued, by_a);
    let again = b.claim_next().await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (by_a[0], 2));
    b.finish(again.id, &done).await.unwrap();
    assert_eq!(
        b.job(again.id).await.unwrap().unwrap().status,
        JobStatus::Completed
    );
}

async fn throughput_counts_completions_per_minute(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    let before = now_ms();
    assert_eq!(store.throughput(before - 60_000).await.unwrap(), vec![]);
    // Two proven jobs (8 VM steps each), one run-only job (its steps are not proven), one
    // failed job and one still waiting: only completions count.
    completed_proven(store.as_ref(), 1, false).await;
    completed_proven(store.as_ref(), 2, false).await;
    let run_only = store.insert_job(&job("aa", &[3])).await.unwrap();
    store.claim_next().await.unwrap().unwrap();
    let run = RunResult {
        output: vec![3],
        fuel_used: 1,
        vm_steps: Some(5),
    };
    store
        .finish(run_only.id, &Outcome::Completed(run))
        .await
        .unwrap();
    let failed = store.insert_job(&job("aa", &[4])).await.unwrap();
    store.claim_next().await.unwrap().unwrap();
    let failure = JobError::new(FailureCode::Trap, "unreachable");
    store
        .finish(failed.id, &Outcome::Failed(failure))
        .await
        .unwrap();
    waiting_for_prover(store.as_ref(), 5).await;

    let minutes = store.throughput(before - 60_000).await.unwrap();
    let after = now_ms();
    assert_eq!(
        minutes.iter().map(|m| m.jobs).sum::<u64>(),
        3,
        "{minutes:?}"
    );
    assert_eq!(minutes.iter().map(|m| m.proven_steps).sum::<u64>(), 16);
    for minute in &minutes {
        assert_eq!(minute.start_ms % 60_000, 0);
        assert!(minute.start_ms > before - 60_000 && minute.start_ms <= after);
    }
    assert!(minutes.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
    // Nothing completed after now.
    assert_eq!(store.throughput(after + 60_000).await.unwrap(), vec![]);
}

/// A worker that names the jobs it is proving keeps only those: a job it dropped without a
/// release (a lost release request, a crashed proving thread) expires and goes back to wait.
async fn a_heartbeat_renews_only_the_leases_it_names(db: Db) {
    let store = db.open().await;
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    store.register_worker(&worker_record("w")).await.unwrap();
    let now = now_ms();
    let mut leased = Vec::new();
    for input in [1, 2, 3] {
        waiting_for_prover(store.as_ref(), input).await;
        leased.push(claimed!(store.lease_proving("w", now + 1_000)).id);
    }
    let (kept, dropped, ignored) = (leased[0], leased[1], leased[2]);
    // An id it does not hold is ignored, not taken over.
    let other = waiting_for_prover(store.as_ref(), 4).await;
    assert!(
        store
            .heartbeat("w", now + 10_000, Some(&[kept, other]))
            .await
            .unwrap()
    );
    let mut expired = store.expire_leases(now + 5_000).await.unwrap();
    expired.sort();
    let mut lapsed = vec![dropped, ignored];
    lapsed.sort();
    assert_eq!(expired, lapsed);
    let job = store.job(kept).await.unwrap().unwrap();
    assert_eq!(job.worker.as_deref(), Some("w"));
    let waiting = store.job(other).await.unwrap().unwrap();
    assert_eq!(
        (waiting.phase, waiting.worker),
        (Some(JobPhase::Waiting), None)
    );
    // Naming nothing renews nothing.
    assert!(store.heartbeat("w", now + 20_000, Some(&[])).await.unwrap());
    assert_eq!(store.expire_leases(now + 15_000).await.unwrap(), [kept]);
    // Not naming renews every lease (a worker that does not say).
    let again = claimed!(store.lease_proving("w", now + 16_000)).id;
    assert!(store.heartbeat("w", now + 40_000, None).await.unwrap());
    assert!(store.expire_leases(now + 30_000).await.unwrap().is_empty());
    assert_eq!(store.expire_leases(now + 45_000).await.unwrap(), [again]);
}

/// Proof blobs no job points at are swept once they are old enough, and writing a blob again
/// makes it young: a node about to index a proof never loses it to another node's start-up.
#[tokio::test]
async fn postgres_sweeps_old_orphan_proof_blobs_only() {
    let Db::Postgres(url) = Db::postgres().await else {
        unreachable!()
    };
    let store = PgStore::open(&url, LEASE_MS).await.unwrap();
    store.put_plugin(&plugin("aa"), b"abc").await.unwrap();
    let kept = store.put_proof(b"an indexed proof").await.unwrap();
    let id = waiting_for_prover(&store, 1).await;
    claimed!(store.claim_proving());
    assert!(
        store
            .complete_proven(id, &proof_record(&kept), false, None)
            .await
            .unwrap()
    );
    let orphan = store.put_proof(b"a proof nobody indexed").await.unwrap();
    let written = now_ms();
    assert_eq!(store.sweep_orphan_blobs(written - 60_000).await.unwrap(), 0);
    // Written again (another node proving the same job): young again.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.put_proof(b"a proof nobody indexed").await.unwrap();
    assert_eq!(store.sweep_orphan_blobs(written + 1).await.unwrap(), 0);
    assert_eq!(store.sweep_orphan_blobs(now_ms() + 1).await.unwrap(), 1);
    assert_eq!(store.proof_bytes(&orphan).await.unwrap(), None);
    assert_eq!(
        store.proof_bytes(&kept).await.unwrap().as_deref(),
        Some(&b"an indexed proof"[..])
    );
}
