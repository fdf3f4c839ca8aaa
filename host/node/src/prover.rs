//! The prover pool: jobs whose sandbox run is done wait in the database (`proving`, phase
//! `waiting`); each of a bounded set of executors claims one, re-executes it in the Obelysk VM,
//! builds the witness, proves it on a blocking thread, verifies the proof with the standalone
//! verifier, stores the file and only then marks the job `completed`.
//!
//! Memory is bounded twice: runs above `[prover] max_steps` fail with `step_limit`, and every
//! proof reserves its predicted peak memory ([`CostModel`]) from the pool's budget before it
//! starts, so concurrent proofs never add up to more than the budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use obelysk_air::proof::ProofFile;
use obelysk_air::security::SecurityLevel;
use obelysk_air::statement::hash_words;
use obelysk_prover::Phase;
use obelysk_prover::estimate::{CALIBRATED, CostModel, Estimate};
use obelysk_prover::witness::Witness;
use obelysk_vm::interp;
use obelysk_vm::ir::Program;
use stwo::prover::backend::cpu::CpuBackend;
use stwo::prover::backend::simd::SimdBackend;
use tokio::sync::{Semaphore, watch};
use tracing::{Instrument, error, info, info_span, warn};
use uuid::Uuid;

use crate::config::ProverConfig;
use crate::crosscheck::Programs;
use crate::failures::FailureCode;
use crate::lifecycle::{JobQueue, persist};
use crate::store::{
    JobError, JobPhase, JobRecord, JobStatus, Outcome, ProofBlobs, ProofRecord, Store,
};

/// How often idle executors look for work without a wake-up.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MIB: u64 = 1 << 20;

/// Environment variable of the tamper test hook: `witness` changes one cell of every witness
/// between tracing and proving, so the proof must be rejected (tests only; logged loudly).
pub const TAMPER_ENV: &str = "OBELYSK_TEST_TAMPER";

/// Whether the test hook [`TAMPER_ENV`]`=witness` is set.
pub fn tamper_requested() -> bool {
    std::env::var(TAMPER_ENV).is_ok_and(|v| v == "witness")
}

/// The pool's settings, resolved from `[prover]` and the machine.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub executors: usize,
    pub level: SecurityLevel,
    pub max_steps: u64,
    /// Memory for proofs in flight.
    pub memory_bytes: u64,
    pub model: CostModel,
    pub backend: Backend,
}

/// Why CUDA proving cannot run here (no driver or device, no NVRTC), or `None` when it can.
fn cuda_unavailable() -> Option<String> {
    let status = obelysk_cuda::detect();
    if !status.available {
        return Some(status.reason.unwrap_or_else(|| "no device".into()));
    }
    if !obelysk_cuda::nvrtc::is_available() {
        return Some(obelysk_cuda::nvrtc::NvrtcError::Unavailable.to_string());
    }
    None
}

/// Opens each GPU in `ordinals` for `CudaBackend`: a thread pool bound to each (executor `n`
/// proves in pool `n % len`), the first also the process-wide device. Returns the devices'
/// names with the pools.
pub fn open_cuda_devices(
    ordinals: &[u32],
) -> Result<(Vec<String>, Vec<rayon::ThreadPool>), String> {
    use obelysk_cuda::device::{self, CudaDevice, Device};
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut names = Vec::new();
    let mut pools = Vec::new();
    for &ordinal in ordinals {
        let gpu: Arc<dyn Device> =
            Arc::new(CudaDevice::new(ordinal as usize).map_err(|e| format!("GPU {ordinal}: {e}"))?);
        if pools.is_empty() {
            device::set_current(gpu.clone());
        }
        names.push(gpu.name());
        pools.push(device::thread_pool(gpu, threads));
    }
    Ok((names, pools))
}

/// The stwo backend proofs run on; every backend makes the same proof, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `SimdBackend`: the CPU with SIMD, all cores (the default).
    Simd,
    /// `CpuBackend`: stwo's scalar reference backend (slow; a cross-check).
    Cpu,
    /// `obelysk_cuda::CudaBackend` on a CUDA GPU.
    Cuda,
}

impl Backend {
    /// `simd`, `cpu`, `cuda` (an error, saying why, without a usable GPU) or `auto` (cuda when
    /// a GPU and NVRTC are present, else simd).
    pub fn parse(name: &str) -> Result<Backend, String> {
        match name {
            "simd" => Ok(Backend::Simd),
            "cpu" => Ok(Backend::Cpu),
            "cuda" => match cuda_unavailable() {
                None => Ok(Backend::Cuda),
                Some(why) => Err(format!(
                    "backend \"cuda\" needs a CUDA device: {why} (\"auto\" falls back to simd)"
                )),
            },
            "auto" => Ok(match cuda_unavailable() {
                None => Backend::Cuda,
                Some(why) => {
                    tracing::info!("backend \"auto\": proving on simd ({why})");
                    Backend::Simd
                }
            }),
            other => Err(format!(
                "backend `{other}` is not one of simd, cpu, cuda, auto"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Simd => "simd",
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
        }
    }
}

impl PoolSettings {
    /// Resolves `config` against this machine's cores and available memory.
    pub fn resolve(config: &ProverConfig) -> Result<PoolSettings, String> {
        let level = SecurityLevel::parse_bits(config.security_bits)
            .map_err(|e| format!("[prover] security_bits {e}"))?;
        let backend = Backend::parse(&config.backend).map_err(|e| format!("[prover] {e}"))?;
        if config.max_steps == 0 || config.max_steps > obelysk_air::vm::MAX_STEPS {
            return Err(format!(
                "[prover] max_steps must be in 1..={}",
                obelysk_air::vm::MAX_STEPS
            ));
        }
        let model = CALIBRATED;
        let memory_bytes = match config.memory_mb {
            0 => available_memory().unwrap_or(4 << 30) / 4 * 3,
            mb => mb * MIB,
        };
        let largest = model.estimate(config.max_steps).peak_bytes.max(1);
        let executors = match config.workers {
            0 => {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                (cores / 2)
                    .clamp(1, 8)
                    .min((memory_bytes / largest).max(1) as usize)
            }
            n => n,
        };
        Ok(PoolSettings {
            executors,
            level,
            max_steps: config.max_steps,
            memory_bytes,
            model,
            backend,
        })
    }

    /// Whether a run of `steps` steps can be proven here, and what it would cost.
    pub fn check(&self, steps: u64) -> (Estimate, Result<(), JobError>) {
        let estimate = self.model.estimate(steps);
        let verdict = if steps > self.max_steps {
            Err(JobError::new(
                FailureCode::StepLimit,
                format!(
                    "the run took {steps} VM steps; this node proves at most {} ([prover] max_steps)",
                    self.max_steps
                ),
            ))
        } else if estimate.peak_bytes > self.memory_bytes {
            Err(JobError::new(
                FailureCode::TooLarge,
                format!(
                    "proving {steps} steps needs about {} MiB; this node's prover memory is {} MiB",
                    estimate.peak_bytes / MIB,
                    self.memory_bytes / MIB
                ),
            ))
        } else {
            Ok(())
        };
        (estimate, verdict)
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The executors' shared state.
pub struct ProverPool {
    pub settings: PoolSettings,
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
    programs: Arc<Programs>,
    files: Arc<dyn ProofBlobs>,
    /// Permits are MiB of the memory budget.
    memory: Semaphore,
    busy: AtomicUsize,
    tamper: bool,
    /// Completed jobs go into the chain outbox.
    attest: bool,
    /// With `CudaBackend`: a thread pool bound to each GPU; executor `n` proves in `n % len`.
    device_pools: Vec<rayon::ThreadPool>,
}

impl ProverPool {
    pub fn new(
        settings: PoolSettings,
        store: Arc<dyn Store>,
        queue: Arc<JobQueue>,
        programs: Arc<Programs>,
        files: Arc<dyn ProofBlobs>,
        attest: bool,
    ) -> ProverPool {
        let tamper = tamper_requested();
        if tamper {
            warn!("{TAMPER_ENV}=witness: every witness is tampered with; no proof will verify");
        }
        let permits = (settings.memory_bytes / MIB).min(Semaphore::MAX_PERMITS as u64) as usize;
        ProverPool {
            settings,
            store,
            queue,
            programs,
            files,
            memory: Semaphore::new(permits),
            busy: AtomicUsize::new(0),
            tamper,
            attest,
            device_pools: Vec::new(),
        }
    }

    /// Proves in these device-bound thread pools (see [`open_cuda_devices`]).
    pub fn with_device_pools(mut self, pools: Vec<rayon::ThreadPool>) -> Self {
        self.device_pools = pools;
        self
    }

    /// Executors proving right now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    /// Starts the executors; they stop claiming when `shutdown` turns true. On `SimdBackend`
    /// they start claiming once the preprocessed tree is committed (about a second, once per
    /// process), so no job's proof pays for it and the cost model holds from the first job.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let (warm, ready) = watch::channel(false);
        if self.settings.backend == Backend::Simd {
            let config = self.settings.level.pcs_config();
            tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                obelysk_prover::preprocessed::simd_tree(config);
                info!(
                    ms = started.elapsed().as_millis() as u64,
                    "preprocessed tree committed"
                );
                warm.send_replace(true);
            });
        } else {
            warm.send_replace(true);
        }
        (0..self.settings.executors)
            .map(|n| {
                tokio::spawn(
                    self.clone()
                        .executor(n, ready.clone(), shutdown.clone())
                        .instrument(info_span!("prover", n)),
                )
            })
            .collect()
    }

    async fn executor(
        self: Arc<Self>,
        n: usize,
        mut ready: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        // A warm-up that failed (its sender dropped) only means proofs commit the tree.
        tokio::select! {
            _ = ready.wait_for(|ready| *ready) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        while !*shutdown.borrow() {
            match self.store.claim_proving().await {
                Ok(Some(job)) => {
                    self.queue.changed(job.id);
                    let span = info_span!("proof", id = %job.id);
                    self.busy.fetch_add(1, Ordering::AcqRel);
                    let outcome = self.prove_job(&job, n).instrument(span).await;
                    self.busy.fetch_sub(1, Ordering::AcqRel);
                    if let Err(e) = outcome {
                        warn!(id = %job.id, code = %e.code, error = %e.message, "proof failed");
                        let code = e.code;
                        let outcome = Outcome::Failed(e);
                        if persist(|| self.store.finish(job.id, &outcome)).await {
                            self.queue.finished(job.id, code.as_str());
                        }
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        _ = self.queue.provers_woken() => {}
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    error!(error = %e, "cannot claim a proof; retrying");
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            }
        }
    }

    async fn set_phase(&self, id: Uuid, status: JobStatus, phase: JobPhase) {
        match self.store.set_phase(id, status, phase).await {
            Ok(()) => self.queue.changed(id),
            Err(e) => warn!(error = %e, phase = phase.as_str(), "cannot record the phase"),
        }
    }

    /// Proves, verifies and publishes one job; `Err` is the job's failure.
    async fn prove_job(self: &Arc<Self>, job: &JobRecord, executor: usize) -> Result<(), JobError> {
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            JobError::new(FailureCode::Internal, format!("{what}: {e}"))
        };
        let steps = job.vm_steps.unwrap_or(0);
        let (estimate, fits) = self.settings.check(steps);
        fits?;
        let lowered = self
            .programs
            .lowered(self.store.as_ref(), &job.plugin)
            .await
            .map_err(|e| internal("store", &e))?
            .ok_or_else(|| {
                JobError::new(
                    FailureCode::NotProvable,
                    "the module does not lower to the Obelysk VM",
                )
            })?;
        let (module, program) = (lowered.module, lowered.program);
        let mib = estimate.peak_bytes.div_ceil(MIB).max(1) as u32;
        let _memory = self
            .memory
            .acquire_many(mib)
            .await
            .map_err(|e| internal("memory budget", &e))?;
        info!(steps, predicted_ms = estimate.prove_ms, mib, "proving");

        let started = Instant::now();
        let runtime = tokio::runtime::Handle::current();
        let pool = self.clone();
        let (id, input, output) = (job.id, job.input.clone(), job.output.clone());
        let file = tokio::task::spawn_blocking(move || {
            let report = |phase: Phase| {
                runtime.block_on(pool.set_phase(id, JobStatus::Proving, phase.into()))
            };
            let run = || {
                prove_run(
                    &program,
                    &input,
                    output.as_deref().unwrap_or_default(),
                    &pool.settings,
                    pool.tamper,
                    &report,
                )
            };
            match pool.device_pools.len() {
                0 => run(),
                n => pool.device_pools[executor % n].install(run),
            }
        })
        .await
        .map_err(|e| internal("prover thread", &e))??;
        let prove_ms = started.elapsed().as_millis() as u64;
        let record = self
            .verify_and_store(job, module, file.to_bytes(), prove_ms)
            .await
            .inspect_err(|e| {
                if e.code == FailureCode::ProofRejected {
                    error!(error = %e.message, "the node's own verifier rejected its proof");
                }
            })?;
        info!(
            prove_ms,
            predicted_ms = estimate.prove_ms,
            verify_ms = record.verify_ms,
            size = record.size,
            "proven"
        );
        let complete = || async {
            self.store
                .complete_proven(id, &record, self.attest, None)
                .await
                .map(drop)
        };
        if persist(complete).await {
            self.queue.finished(id, JobStatus::Completed.as_str());
        }
        Ok(())
    }
}

impl ProverPool {
    /// Verifies a proof of `job` (made here or uploaded by a remote worker: the bytes are
    /// untrusted) against the job's own statement (its module, input and sandbox output, at
    /// this node's security level), then stores the file: the record to complete the job
    /// with. A proof that does not verify is `proof_rejected`.
    pub async fn verify_and_store(
        &self,
        job: &JobRecord,
        module: Arc<[u8]>,
        bytes: Vec<u8>,
        prove_ms: u64,
    ) -> Result<ProofRecord, JobError> {
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            JobError::new(FailureCode::Internal, format!("{what}: {e}"))
        };
        self.set_phase(job.id, JobStatus::Verifying, JobPhase::Verify)
            .await;
        let verify_started = Instant::now();
        let (input, output, min_bits) = (
            job.input.clone(),
            job.output.clone().unwrap_or_default(),
            self.settings.level.bits(),
        );
        let (bytes, verdict) = tokio::task::spawn_blocking(move || {
            let verdict =
                obelysk_air::api::verify_decoded(&module, &input, &output, &bytes, min_bits);
            (bytes, verdict)
        })
        .await
        .map_err(|e| internal("verifier thread", &e))?;
        let verify_ms = verify_started.elapsed().as_millis() as u64;
        let (file, _) = verdict.map_err(|e| {
            JobError::new(
                FailureCode::ProofRejected,
                format!("the node's verifier rejected the proof [{}]: {e}", e.code()),
            )
        })?;
        let name = self
            .files
            .put_proof(&bytes)
            .await
            .map_err(|e| internal("storing the proof", &e))?;
        Ok(ProofRecord {
            attestation: format!("0x{}", hex::encode(file.attestation)),
            program_id: hex::encode(file.statement.program_id),
            input_hash: hex::encode(hash_words(&file.statement.input)),
            output_hash: hex::encode(hash_words(&file.statement.output)),
            proof_hash: hex::encode(file.proof_hash()),
            security_bits: file.security_bits,
            size: bytes.len() as u64,
            steps: file.statement.steps,
            prove_ms,
            verify_ms,
            file: name,
        })
    }

    /// Whether completed jobs go into the chain outbox.
    pub fn attests(&self) -> bool {
        self.attest
    }

    /// The store this pool completes jobs in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Re-executes `program`, checks the output the sandbox recorded, builds the witness and proves
/// it: what a local executor and a remote worker both run. Runs on the calling (blocking)
/// thread.
pub fn prove_run(
    program: &Program,
    input: &[u32],
    sandbox_output: &[u32],
    settings: &PoolSettings,
    tamper: bool,
    report: &dyn Fn(Phase),
) -> Result<ProofFile, JobError> {
    report(Phase::Execute);
    let trace = crate::crosscheck::compare_trace(
        sandbox_output,
        interp::run(program, input, settings.max_steps),
    )?;
    report(Phase::Trace);
    let failed = |e: &dyn std::fmt::Display| JobError::new(FailureCode::ProveFailed, e.to_string());
    let mut witness = Witness::build(program, input, &trace).map_err(|e| failed(&e))?;
    if tamper {
        tamper_with(&mut witness);
    }
    let statement = obelysk_prover::vm::statement(program, input, &trace);
    drop(trace);
    let mut progress = |phase| report(phase);
    let (level, progress) = (settings.level, &mut progress);
    match settings.backend {
        Backend::Simd => obelysk_prover::vm::prove_witness_on::<SimdBackend>(
            &statement, witness, level, progress,
        ),
        Backend::Cpu => {
            obelysk_prover::vm::prove_witness_on::<CpuBackend>(&statement, witness, level, progress)
        }
        Backend::Cuda => obelysk_prover::vm::prove_witness_on::<obelysk_cuda::CudaBackend>(
            &statement, witness, level, progress,
        ),
    }
    .map_err(|e| failed(&e))
}

/// The test hook: adds one to the last cell of the first row of the first non-empty step table.
fn tamper_with(witness: &mut Witness) {
    use obelysk_air::components::Kind;
    use stwo::core::fields::m31::M31;
    for kind in Kind::STEPS {
        let table = witness.table_mut(kind);
        if let Some(cell) = table.columns.last_mut().and_then(|c| c.first_mut()) {
            *cell += M31::from(1u32);
            warn!(
                component = kind.name(),
                "tampered with the witness (test hook)"
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(edit: impl FnOnce(&mut ProverConfig)) -> ProverConfig {
        let mut config = ProverConfig::default();
        edit(&mut config);
        config
    }

    #[test]
    fn settings_resolve_from_config_and_machine() {
        let auto = PoolSettings::resolve(&ProverConfig::default()).unwrap();
        assert!(auto.executors >= 1 && auto.memory_bytes > 0);
        assert_eq!((auto.backend, auto.level.bits()), (Backend::Simd, 96));
        let set = PoolSettings::resolve(&config(|c| {
            c.workers = 3;
            c.memory_mb = 2048;
            c.backend = "cpu".into();
            c.security_bits = 98;
        }))
        .unwrap();
        assert_eq!(
            (
                set.executors,
                set.memory_bytes,
                set.backend,
                set.level.bits()
            ),
            (3, 2048 << 20, Backend::Cpu, 98)
        );
        // `cuda` needs a device; `auto` takes one when there is one.
        let cuda = PoolSettings::resolve(&config(|c| c.backend = "cuda".into()));
        let auto = PoolSettings::resolve(&config(|c| c.backend = "auto".into())).unwrap();
        match cuda_unavailable() {
            Some(_) => {
                let err = cuda.unwrap_err();
                assert!(err.contains("needs a CUDA device"), "{err}");
                assert_eq!(auto.backend, Backend::Simd);
            }
            None => {
                assert_eq!(cuda.unwrap().backend, Backend::Cuda);
                assert_eq!(auto.backend, Backend::Cuda);
            }
        }
        for (bad, says) in [
            (config(|c| c.backend = "gpu".into()), "not one of"),
            (config(|c| c.security_bits = 100), "security_bits"),
            (config(|c| c.security_bits = 128), "no preset reaches it"),
            (config(|c| c.max_steps = 0), "max_steps"),
            (config(|c| c.max_steps = (1 << 24) + 1), "max_steps"),
        ] {
            let err = PoolSettings::resolve(&bad).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn jobs_beyond_the_step_limit_or_memory_budget_are_refused() {
        let set = PoolSettings::resolve(&config(|c| {
            c.max_steps = 1 << 20;
            c.memory_mb = 1024;
        }))
        .unwrap();
        let (estimate, fits) = set.check(1 << 16);
        assert!(fits.is_ok() && estimate.peak_bytes < 1 << 30);
        assert_eq!(
            set.check((1 << 20) + 1).1.unwrap_err().code,
            FailureCode::StepLimit
        );
        // 2^20 steps need more than 1 GiB by the model.
        assert!(set.model.estimate(1 << 20).peak_bytes > 1 << 30);
        let err = set.check(1 << 20).1.unwrap_err();
        assert_eq!((err.code, err.retryable), (FailureCode::TooLarge, false));
    }
}
