//! The sandbox worker pool: each worker claims the oldest queued jobs atomically, runs each on
//! a blocking thread (re-executing it in the Obelysk VM when its module lowers), and records
//! the outcome through the job's life cycle ([`crate::lifecycle`]). On start the node puts
//! jobs left `running` by a crash back into the queue, so every accepted job finishes exactly
//! once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use obelysk_sandbox::Sandbox;
use obelysk_vm::{ModuleId, VmError};
use tokio::sync::watch;
use tracing::{Instrument, error, info, info_span, warn};

use crate::failures::FailureCode;
use crate::lifecycle::{JobQueue, persist};
use crate::metrics::Metrics;
use crate::store::{JobError, JobRecord, JobStatus, Outcome, RunResult, Store};

/// How often idle workers look at the queue even without a wake-up.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Everything a worker needs.
pub struct WorkerContext {
    pub store: Arc<dyn Store>,
    /// Lowered programs, for re-executing runs in the Obelysk VM.
    pub programs: Arc<crate::crosscheck::Programs>,
    /// What the prover pool accepts (runs above its step limit fail here, before waiting).
    pub provers: crate::prover::PoolSettings,
    pub sandbox: Arc<Sandbox>,
    pub queue: Arc<JobQueue>,
    pub metrics: Arc<Metrics>,
    /// How many workers share the queue.
    pub workers: usize,
}

/// Starts `count` workers; they stop claiming jobs when `shutdown` turns true and finish the
/// job in hand. Await the handles to wait for them.
pub fn spawn_workers(
    ctx: Arc<WorkerContext>,
    count: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|n| {
            tokio::spawn(
                worker_loop(ctx.clone(), shutdown.clone()).instrument(info_span!("worker", n)),
            )
        })
        .collect()
}

/// The most jobs a worker claims at once: their claim is one write, and their outcomes are
/// recorded while the next job runs, so that they commit together (see
/// `store::group_commit`). Only jobs that run faster than a commit gain from it, so a worker
/// batches only while its last job took less than [`FAST_JOB`], and then takes its share of
/// the waiting jobs: a slow job never holds others back behind it, and a crash re-runs at most
/// one slow job per worker (a claim counts as an attempt).
const CLAIM_BATCH: usize = 32;
/// A job that runs in less than this is cheaper than the commit that records it.
const FAST_JOB: Duration = Duration::from_millis(2);

async fn worker_loop(ctx: Arc<WorkerContext>, mut shutdown: watch::Receiver<bool>) {
    // One job at a time until one proves fast.
    let mut fast = false;
    while !*shutdown.borrow() {
        let share = match fast {
            true => (ctx.queue.waiting() / ctx.workers.max(1)).clamp(1, CLAIM_BATCH),
            false => 1,
        };
        match ctx.store.claim_queued(share).await {
            Ok(jobs) if !jobs.is_empty() => {
                let mut recording = tokio::task::JoinSet::new();
                for job in jobs {
                    ctx.queue.claimed();
                    ctx.queue.changed(job.id);
                    let span = info_span!("job", id = %job.id, plugin = %job.plugin);
                    let (id, started) = (job.id, Instant::now());
                    let outcome = run_job(&ctx, job).instrument(span.clone()).await;
                    fast = started.elapsed() < FAST_JOB;
                    let ctx = ctx.clone();
                    recording.spawn(record(ctx, id, outcome, started).instrument(span));
                }
                while recording.join_next().await.is_some() {}
            }
            Ok(_) => {
                tokio::select! {
                    _ = ctx.queue.workers_woken() => {}
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                error!(error = %e, "cannot claim a job; retrying");
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// Runs one claimed job: its outcome, to [`record`].
async fn run_job(ctx: &WorkerContext, job: JobRecord) -> Outcome {
    ctx.metrics.jobs_running.inc();
    let started = Instant::now();
    info!(attempt = job.attempts, "running");
    let outcome = match execute(ctx, &job).await {
        Ok((run, vm_steps)) => {
            ctx.metrics.fuel_used.inc_by(run.fuel_used);
            let result = RunResult {
                output: run.output,
                fuel_used: run.fuel_used,
                vm_steps,
            };
            // A module the VM cannot lower has no step count: its fuel stands in for one.
            let steps = vm_steps.unwrap_or(result.fuel_used);
            match (job.prove, vm_steps) {
                _ if job.max_steps.is_some_and(|max| steps > max) => {
                    Outcome::Failed(JobError::new(
                        FailureCode::StepLimit,
                        format!(
                            "the run took {steps} VM steps; the job allows at most {} (its \
                             max_steps, or its API key's)",
                            job.max_steps.unwrap_or_default()
                        ),
                    ))
                }
                (false, _) => Outcome::Completed(result),
                (true, None) => Outcome::Failed(JobError::new(
                    FailureCode::NotProvable,
                    "the module no longer lowers to the Obelysk VM",
                )),
                (true, Some(steps)) => match ctx.provers.check(steps).1 {
                    Ok(()) => Outcome::ToProve(result),
                    Err(e) => Outcome::Failed(e),
                },
            }
        }
        Err(e) => {
            warn!(code = %e.code, error = %e.message, "failed");
            Outcome::Failed(e)
        }
    };
    ctx.metrics
        .job_run_seconds
        .observe(started.elapsed().as_secs_f64());
    ctx.metrics.jobs_running.dec();
    outcome
}

/// Records a job's outcome durably, then counts and announces it.
async fn record(ctx: Arc<WorkerContext>, id: uuid::Uuid, outcome: Outcome, started: Instant) {
    if persist(|| ctx.store.finish(id, &outcome)).await {
        match &outcome {
            Outcome::Completed(_) => ctx.queue.finished(id, JobStatus::Completed.as_str()),
            Outcome::ToProve(_) => {
                ctx.queue.changed(id);
                ctx.queue.wake_provers();
            }
            Outcome::Failed(e) => ctx.queue.finished(id, e.code.as_str()),
        }
        info!(ms = started.elapsed().as_millis() as u64, "run finished");
    }
}

/// Runs the job in the sandbox and, when its module lowers, re-executes it in the Obelysk VM;
/// returns the run and the VM's step count.
async fn execute(
    ctx: &WorkerContext,
    job: &JobRecord,
) -> Result<(obelysk_sandbox::Execution, Option<u64>), JobError> {
    let failed = |e: VmError| JobError::vm(&e);
    let module = load_module(ctx.store.as_ref(), &ctx.sandbox, &job.plugin)
        .await
        .map_err(failed)?;
    let program = ctx
        .programs
        .get(ctx.store.as_ref(), &job.plugin)
        .await
        .map_err(|e| JobError::new(FailureCode::Internal, e.to_string()))?;
    run_checked(
        &ctx.sandbox,
        module,
        program,
        job.input.clone(),
        job.fuel_limit,
        job.timeout_ms,
    )
    .await
}

/// Runs `module` in the sandbox on a blocking thread, within the job's budget (the node's
/// limits where it asked for none), and, given its lowered `program`, re-executes it in the
/// Obelysk VM: the run and the VM's step count.
pub async fn run_checked(
    sandbox: &Arc<Sandbox>,
    module: obelysk_sandbox::LoadedModule,
    program: Option<Arc<obelysk_vm::ir::Program>>,
    input: Vec<u32>,
    fuel_limit: Option<u64>,
    timeout_ms: Option<u64>,
) -> Result<(obelysk_sandbox::Execution, Option<u64>), JobError> {
    let failed = |e: VmError| JobError::vm(&e);
    let sandbox = sandbox.clone();
    let limits = sandbox.limits().budget();
    let budget = obelysk_sandbox::Budget {
        fuel: fuel_limit.unwrap_or(limits.fuel),
        timeout: timeout_ms.map_or(limits.timeout, Duration::from_millis),
    };
    tokio::task::spawn_blocking(move || {
        let run = sandbox.run_with(&module, &input, budget).map_err(failed)?;
        let steps = match &program {
            Some(program) => Some(crate::crosscheck::run_and_compare(
                program,
                &input,
                &run.output,
                run.fuel_used,
            )?),
            None => None,
        };
        Ok((run, steps))
    })
    .await
    .map_err(|e| JobError::new(FailureCode::Internal, format!("sandbox task: {e}")))?
}

/// The compiled module for `plugin`, from the sandbox cache or compiled from the store.
pub async fn load_module(
    store: &dyn Store,
    sandbox: &Arc<Sandbox>,
    plugin: &str,
) -> Result<obelysk_sandbox::LoadedModule, VmError> {
    let id: ModuleId = plugin
        .parse()
        .map_err(|_| VmError::Internal(format!("stored plugin id {plugin} is not a hash")))?;
    if let Some(module) = sandbox.cached(&id) {
        return Ok(module);
    }
    let bytes = store
        .plugin_bytes(plugin)
        .await
        .map_err(|e| VmError::Internal(e.to_string()))?
        .ok_or_else(|| VmError::Internal(format!("plugin {plugin} is missing from the store")))?;
    let sandbox = sandbox.clone();
    tokio::task::spawn_blocking(move || sandbox.load(&bytes))
        .await
        .map_err(|e| VmError::Internal(format!("compile task: {e}")))?
}
