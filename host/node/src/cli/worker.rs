//! `obelysk worker`: a remote prover for a coordinator node. It registers, heartbeats, leases
//! jobs over HTTP (pull), fetches each module, proves the run (re-executing it in the VM
//! against the output the coordinator's sandbox recorded) and uploads the proof. It outlives
//! coordinator restarts (every request retries with backoff; an unknown worker id registers
//! again); the coordinator outlives it (its leases expire).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use obelysk_air::security::SecurityLevel;
use obelysk_prover::estimate::CALIBRATED;
use reqwest::StatusCode;
use tracing::{info, warn};

use super::NodeArgs;
use crate::prover::{Backend, PoolSettings, TAMPER_ENV, prove_run};
use crate::store::JobPhase;
use crate::workers::{Lease, Registered, Registration, WorkerDevice};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The coordinator node's URL.
    #[arg(long, env = "OBELYSK_COORDINATOR")]
    pub coordinator: String,
    /// A worker key's token (`obelysk keys create --role worker`), where the coordinator has
    /// `[auth] required` on.
    #[arg(long, env = "OBELYSK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// simd, cpu, cuda (refuses to start without a GPU) or auto (cuda when there is one).
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// With cuda: the GPUs to prove on (default 0).
    #[arg(long, value_delimiter = ',')]
    pub gpus: Vec<u32>,
    /// A name for `GET /workers` (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Longest pause between retries of an unreachable coordinator.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Pause between leases while no job waits.
const IDLE: Duration = Duration::from_millis(500);

/// Runs the worker until killed.
pub async fn worker(args: WorkerArgs) -> anyhow::Result<i32> {
    let backend = Backend::parse(&args.backend).map_err(|e| anyhow::anyhow!(e))?;
    let mut devices = Vec::new();
    let mut device_pools = Vec::new();
    if backend == Backend::Cuda {
        let ordinals = if args.gpus.is_empty() {
            vec![0]
        } else {
            args.gpus.clone()
        };
        let status = obelysk_cuda::detect();
        devices = status
            .devices
            .iter()
            .filter(|d| ordinals.contains(&d.ordinal))
            .map(|d| WorkerDevice {
                name: d.name.clone(),
                memory_bytes: d.memory_bytes,
            })
            .collect();
        let (_, pools) =
            tokio::task::spawn_blocking(move || crate::prover::open_cuda_devices(&ordinals))
                .await?
                .map_err(|e| anyhow::anyhow!("--backend cuda: {e}"))?;
        device_pools = pools;
    }
    let tamper = crate::prover::tamper_requested();
    if tamper {
        warn!("{TAMPER_ENV}=witness: every proof this worker uploads is of a tampered witness");
    }
    let node = NodeArgs {
        node: args.coordinator.trim_end_matches('/').to_string(),
        token: args.token.clone(),
    };
    let worker = Worker {
        client: node.client()?,
        base: node.node,
        registration: Registration {
            name: args.name.or_else(host_name),
            backend: backend.name().into(),
            devices,
            memory_bytes: crate::prover::available_memory().unwrap_or(0),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        backend,
        tamper,
        device_pools: Arc::new(device_pools),
        programs: HashMap::new(),
        held: HeldJobs::default(),
    };
    worker.run().await
}

struct Worker {
    client: reqwest::Client,
    base: String,
    registration: Registration,
    backend: Backend,
    tamper: bool,
    device_pools: Arc<Vec<rayon::ThreadPool>>,
    /// Lowered programs by plugin id.
    programs: HashMap<String, Arc<obelysk_vm::ir::Program>>,
    /// The jobs this worker is proving: what each heartbeat renews.
    held: HeldJobs,
}

/// The jobs a worker holds, shared with its heartbeat task.
#[derive(Clone, Default)]
struct HeldJobs(Arc<std::sync::Mutex<Vec<uuid::Uuid>>>);

impl HeldJobs {
    fn ids(&self) -> Vec<uuid::Uuid> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Holds `job` until the guard drops (on every way out of proving it).
    fn hold(&self, job: uuid::Uuid) -> HoldGuard {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(job);
        HoldGuard {
            held: self.clone(),
            job,
        }
    }
}

struct HoldGuard {
    held: HeldJobs,
    job: uuid::Uuid,
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        let mut ids = self.held.0.lock().unwrap_or_else(|e| e.into_inner());
        ids.retain(|&id| id != self.job);
    }
}

/// What one lease attempt found.
enum Next {
    Idle,
    Job(Lease),
    /// The coordinator does not know this worker (its store was reset): register again.
    Unknown,
}

impl Worker {
    async fn run(mut self) -> anyhow::Result<i32> {
        loop {
            let registered = self.register().await;
            let id = registered.worker_id.clone();
            println!("registered as {id}");
            let (lost, mut lost_rx) = tokio::sync::watch::channel(false);
            let heartbeat = tokio::spawn(heartbeats(
                self.client.clone(),
                format!("{}/workers/{id}/heartbeat", self.base),
                self.held.clone(),
                Duration::from_millis(registered.heartbeat_ms.max(100)),
                lost,
            ));
            let mut backoff = IDLE;
            loop {
                if *lost_rx.borrow_and_update() {
                    break;
                }
                match self.lease(&id).await {
                    Ok(Next::Idle) => {
                        backoff = IDLE;
                        tokio::time::sleep(IDLE).await;
                    }
                    Ok(Next::Unknown) => break,
                    Ok(Next::Job(lease)) => {
                        backoff = IDLE;
                        self.prove(&id, &registered, lease).await;
                    }
                    Err(e) => {
                        warn!(error = %format!("{e:#}"), "cannot lease a job; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            heartbeat.abort();
            warn!(worker = %id, "the coordinator no longer knows this worker; registering again");
        }
    }

    /// Registers, retrying with backoff until the coordinator answers.
    async fn register(&self) -> Registered {
        let mut backoff = IDLE;
        loop {
            let answer = async {
                let response = self
                    .client
                    .post(format!("{}/workers/register", self.base))
                    .json(&self.registration)
                    .send()
                    .await?;
                ok(response)
                    .await?
                    .json::<Registered>()
                    .await
                    .map_err(Into::into)
            };
            match answer.await {
                Ok(registered) => return registered,
                Err(e) => {
                    let e: anyhow::Error = e;
                    warn!(error = %format!("{e:#}"), "cannot register; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn lease(&self, id: &str) -> anyhow::Result<Next> {
        let response = self
            .client
            .post(format!("{}/workers/{id}/lease", self.base))
            .send()
            .await?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(Next::Idle),
            StatusCode::NOT_FOUND => Ok(Next::Unknown),
            _ => Ok(Next::Job(ok(response).await?.json().await?)),
        }
    }

    /// Proves a leased job and uploads the proof (or gives the job back).
    async fn prove(&mut self, id: &str, registered: &Registered, lease: Lease) {
        info!(job = %lease.job, plugin = %lease.plugin, "proving");
        let job = lease.job;
        // Renewed while held; a job this worker lets go of without a release lapses.
        let _held = self.held.hold(job);
        let proof = match self.prove_lease(id, registered, lease).await {
            Ok(bytes) => bytes,
            Err(e) => {
                warn!(%job, error = %format!("{e:#}"), "cannot prove; giving the job back");
                let url = format!("{}/workers/{id}/jobs/{job}/release", self.base);
                if let Err(e) = self.client.post(url).send().await {
                    warn!(%job, error = %e, "cannot give the job back; its lease will expire");
                }
                return;
            }
        };
        let url = format!("{}/workers/{id}/jobs/{job}/proof", self.base);
        let mut backoff = IDLE;
        for _ in 0..5 {
            let sent = self
                .client
                .post(&url)
                .header("content-type", "application/octet-stream")
                .body(proof.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    info!(%job, bytes = proof.len(), "proof accepted");
                    return;
                }
                Ok(response) if response.status().is_server_error() => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    warn!(%job, %status, %body, "the coordinator could not take the proof; retrying");
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    warn!(%job, %status, %body, "the coordinator refused the proof");
                    return;
                }
                Err(e) => warn!(%job, error = %e, "cannot upload the proof; retrying"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        // Still holding the lease (renewed by the heartbeats): give the job back.
        warn!(%job, "giving the job back after five failed uploads");
        let url = format!("{}/workers/{id}/jobs/{job}/release", self.base);
        if let Err(e) = self.client.post(url).send().await {
            warn!(%job, error = %e, "cannot give the job back; its lease will expire");
        }
    }

    /// Proves a leased job, reporting each phase to the coordinator as it starts.
    async fn prove_lease(
        &mut self,
        id: &str,
        registered: &Registered,
        lease: Lease,
    ) -> anyhow::Result<Vec<u8>> {
        let program = self.program(&lease.plugin).await?;
        let settings = PoolSettings {
            executors: 1,
            level: SecurityLevel::parse_bits(registered.security_bits)
                .map_err(|e| anyhow::anyhow!("the coordinator's security_bits: {e}"))?,
            max_steps: lease.max_steps,
            memory_bytes: self.registration.memory_bytes,
            model: CALIBRATED,
            backend: self.backend,
        };
        let (tamper, pools) = (self.tamper, self.device_pools.clone());
        // The proving thread sends phases; this task posts them (best effort: a lost report
        // only leaves the coordinator's progress bar behind).
        let (phases, mut reports) = tokio::sync::mpsc::unbounded_channel::<JobPhase>();
        let (client, url) = (
            self.client.clone(),
            format!("{}/workers/{id}/jobs/{}/phase", self.base, lease.job),
        );
        let reporter = tokio::spawn(async move {
            while let Some(phase) = reports.recv().await {
                let body = serde_json::json!({ "phase": phase });
                if let Err(e) = client.post(&url).json(&body).send().await {
                    warn!(error = %e, "cannot report a phase");
                }
            }
        });
        let file = tokio::task::spawn_blocking(move || {
            let report = move |phase: obelysk_prover::Phase| {
                let _ = phases.send(phase.into());
            };
            let run = || {
                prove_run(
                    &program,
                    &lease.input,
                    &lease.output,
                    &settings,
                    tamper,
                    &report,
                )
            };
            match pools.first() {
                Some(pool) => pool.install(run),
                None => run(),
            }
        })
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
        // Every phase report is sent before the proof goes up.
        let _ = reporter.await;
        Ok(file.to_bytes())
    }

    /// The lowered program of `plugin`, fetched from the coordinator once.
    async fn program(&mut self, plugin: &str) -> anyhow::Result<Arc<obelysk_vm::ir::Program>> {
        if let Some(program) = self.programs.get(plugin) {
            return Ok(program.clone());
        }
        let response = self
            .client
            .get(format!("{}/plugins/{plugin}/module", self.base))
            .send()
            .await?;
        let bytes = ok(response).await?.bytes().await?;
        let id = obelysk_vm::ModuleId::of(&bytes).to_string();
        anyhow::ensure!(
            id == plugin,
            "the coordinator sent module {id} for plugin {plugin}"
        );
        let program = tokio::task::spawn_blocking(move || obelysk_vm::lower::lower(&bytes))
            .await?
            .context("the module does not lower")?;
        let program = Arc::new(program);
        self.programs.insert(plugin.to_string(), program.clone());
        Ok(program)
    }
}

/// Sends a heartbeat naming the jobs held every `every`; flags `lost` when the coordinator no
/// longer knows the worker. Network errors are logged and retried at the next beat.
async fn heartbeats(
    client: reqwest::Client,
    url: String,
    held: HeldJobs,
    every: Duration,
    lost: tokio::sync::watch::Sender<bool>,
) {
    loop {
        let body = crate::workers::Holding { jobs: held.ids() };
        match client.post(&url).json(&body).send().await {
            Ok(response) if response.status() == StatusCode::NOT_FOUND => {
                lost.send_replace(true);
                return;
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "heartbeat failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// The response if it is a success, else its status and body as an error.
async fn ok(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    anyhow::bail!("{status}: {body}")
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
