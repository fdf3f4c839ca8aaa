//! The HTTP API (axum). [`router`] builds the whole API over an [`AppState`]; [`serve`] runs a
//! node: store, sandbox, workers and the listener, until Ctrl-C or SIGTERM.

mod auth;
mod error;
mod jobs;
mod plugins;
mod proofs;
mod system;
pub mod web;
mod workers;

pub use auth::Caller;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use jobs::{Accepted, SubmitJob};

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use obelysk_sandbox::Sandbox;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::chain::{ChainSettings, Submitter};
use crate::config::Config;
use crate::crosscheck::Programs;
use crate::lifecycle::JobQueue;
use crate::metrics::Metrics;
use crate::prover::{PoolSettings, ProverPool};
use crate::store::{JobStatus, Opened, ProofBlobs, Store};
use crate::worker::{WorkerContext, spawn_workers};
use tokio::sync::watch;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub sandbox: Arc<Sandbox>,
    pub queue: Arc<JobQueue>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<Config>,
    pub programs: Arc<Programs>,
    pub provers: Arc<ProverPool>,
    pub proofs: Arc<dyn ProofBlobs>,
    pub gpu: obelysk_cuda::GpuStatus,
    pub started: Instant,
    pub workers: usize,
}

/// The OpenAPI description served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Obelysk node API"),
    paths(
        system::health,
        system::gpu_status,
        system::metrics,
        plugins::upload,
        plugins::list,
        plugins::get,
        jobs::submit,
        jobs::list,
        jobs::get,
        jobs::events,
        proofs::estimate,
        proofs::proof,
        proofs::proof_bin,
        plugins::module,
        workers::register,
        workers::list,
        workers::heartbeat,
        workers::lease,
        workers::upload_proof,
        workers::release,
        workers::phase,
        web::throughput,
        web::events,
    )
)]
pub struct ApiDoc;

/// The OpenAPI document, with the failure catalogue in its description.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.description = Some(format!(
        "Upload WebAssembly plugins and run jobs on them. Every error is \
         `{{\"error\": {{\"code\", \"message\", \"retryable\"}}}}`; a failed job has the same \
         `error` object. Codes:\n\n{}",
        crate::failures::describe()
    ));
    doc
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let limits = &state.config.limits;
    let module_limit = limits.max_module_bytes;
    // A JSON job body holds at most ~11 bytes per input word.
    let json_limit = limits
        .max_input_words
        .saturating_mul(11)
        .saturating_add(64 << 10);
    // The routes that change the node (or run a module) need a client key when `[auth]
    // required` is on.
    let client = axum::middleware::from_fn_with_state(state.clone(), auth::client);
    let worker = axum::middleware::from_fn_with_state(state.clone(), auth::worker);
    // A proof file is well under this; the verifier checks its shape before anything else.
    let proof_limit = 64 << 20;
    Router::new()
        .route("/", get(web::index))
        .route("/verify", get(web::verify_page))
        .route("/assets/{name}", get(web::assets))
        .route("/events", get(web::events))
        .route("/stats/throughput", get(web::throughput))
        .route("/health", get(system::health))
        .route("/gpu/status", get(system::gpu_status))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(|| async { axum::Json(openapi()) }))
        .route(
            "/plugins",
            post(plugins::upload)
                .layer(DefaultBodyLimit::max(module_limit))
                .layer(client.clone())
                .get(plugins::list),
        )
        .route("/plugins/{id}", get(plugins::get))
        .route("/plugins/{id}/module", get(plugins::module))
        .route("/workers", get(workers::list))
        .route(
            "/workers/register",
            post(workers::register).layer(worker.clone()),
        )
        .route(
            "/workers/{id}/heartbeat",
            post(workers::heartbeat).layer(worker.clone()),
        )
        .route(
            "/workers/{id}/lease",
            post(workers::lease).layer(worker.clone()),
        )
        .route(
            "/workers/{id}/jobs/{job}/proof",
            post(workers::upload_proof)
                .layer(DefaultBodyLimit::max(proof_limit))
                .layer(worker.clone()),
        )
        .route(
            "/workers/{id}/jobs/{job}/phase",
            post(workers::phase).layer(worker.clone()),
        )
        .route(
            "/workers/{id}/jobs/{job}/release",
            post(workers::release).layer(worker),
        )
        .route(
            "/jobs",
            post(jobs::submit)
                .layer(DefaultBodyLimit::max(json_limit))
                .layer(client.clone())
                .get(jobs::list),
        )
        .route(
            "/jobs/estimate",
            post(proofs::estimate)
                .layer(DefaultBodyLimit::max(json_limit))
                .layer(client),
        )
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/jobs/{id}/proof", get(proofs::proof))
        .route("/jobs/{id}/proof.bin", get(proofs::proof_bin))
        .fallback(|| async {
            ApiError::not_found("not_found", "no such route; see GET /openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(120),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error (logged)",
            ))
        }))
        .layer(TraceLayer::new_for_http())
        // Reads are public: a verifier page on another host (`obelysk export-verifier`) may
        // fetch a job's module and proof. No credentials cross origins.
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([axum::http::Method::GET]),
        )
        .with_state(state)
}

/// A node assembled from its config: the state its API serves, and what runs behind it once
/// [`Node::start`] is called.
pub struct Node {
    pub state: AppState,
    chain: Option<ChainSettings>,
    waiting: usize,
}

impl Node {
    /// Opens everything a node needs: the data directory, the store (putting back what a crash
    /// left in flight), the proof files (sweeping orphans), the sandbox and the prover pool.
    /// Starts no task.
    pub async fn open(config: Config) -> anyhow::Result<Node> {
        let config = Arc::new(config);
        std::fs::create_dir_all(&config.store.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data dir {}: {e}",
                config.store.data_dir.display()
            )
        })?;
        let provers = PoolSettings::resolve(&config.prover).map_err(|e| anyhow::anyhow!(e))?;
        let mut device_pools = Vec::new();
        if provers.backend == crate::prover::Backend::Cuda {
            let ordinals = match config.gpu.device_ids.as_slice() {
                [] => vec![0],
                ids => ids.to_vec(),
            };
            let (names, pools) =
                tokio::task::spawn_blocking(move || crate::prover::open_cuda_devices(&ordinals))
                    .await?
                    .map_err(|e| anyhow::anyhow!("[prover] backend cuda: {e}"))?;
            tracing::info!(devices = ?names, "proving on CUDA");
            device_pools = pools;
        }
        let chain = ChainSettings::resolve(
            &config.starknet,
            std::env::var(crate::chain::PRIVATE_KEY_ENV).ok(),
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        let Opened { store, proofs } = crate::store::open(
            &config.store.database_url(),
            &config.store.data_dir,
            config.prover.lease_ms,
        )
        .await?;
        let requeued = store.requeue_running().await?;
        if requeued > 0 {
            tracing::warn!(
                requeued,
                "re-queued jobs that were running or proving when their node stopped"
            );
        }
        let refreshed = crate::store::refresh_vm_support(store.as_ref()).await?;
        if refreshed > 0 {
            tracing::info!(
                refreshed,
                "recomputed VM support of stored modules for the new IR version"
            );
        }
        let waiting = store.count(JobStatus::Queued).await? as usize;
        let metrics = Arc::new(Metrics::default());
        let queue = Arc::new(JobQueue::new(
            store.clone(),
            metrics.clone(),
            config.limits.queue_capacity,
            waiting,
        ));
        let sandbox = Arc::new(Sandbox::new(config.limits.sandbox())?);
        let gpu = tokio::task::spawn_blocking(obelysk_cuda::detect).await?;
        let programs = Arc::new(Programs::default());
        let pool = Arc::new(
            ProverPool::new(
                provers,
                store.clone(),
                queue.clone(),
                programs.clone(),
                proofs.clone(),
                chain.is_some(),
            )
            .with_device_pools(device_pools),
        );
        let state = AppState {
            store,
            sandbox,
            queue,
            metrics,
            config: config.clone(),
            programs,
            provers: pool,
            proofs,
            gpu,
            started: Instant::now(),
            workers: config.limits.worker_count(),
        };
        Ok(Node {
            state,
            chain,
            waiting,
        })
    }

    /// Starts the sandbox workers, the local provers (unless `[prover] local = false`), the
    /// lease sweeper and the chain submitter; they stop once `shutdown` turns true.
    pub fn start(&self, shutdown: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        let state = &self.state;
        let context = Arc::new(WorkerContext {
            store: state.store.clone(),
            programs: state.programs.clone(),
            provers: state.provers.settings.clone(),
            sandbox: state.sandbox.clone(),
            queue: state.queue.clone(),
            metrics: state.metrics.clone(),
            workers: state.workers,
        });
        let mut handles = spawn_workers(context, state.workers, shutdown.clone());
        let provers = &state.provers.settings;
        tracing::info!(
            executors = provers.executors,
            backend = provers.backend.name(),
            memory_mib = provers.memory_bytes >> 20,
            max_steps = provers.max_steps,
            security_bits = provers.level.bits(),
            "prover pool"
        );
        if state.config.prover.local {
            handles.extend(state.provers.spawn(shutdown.clone()));
        } else {
            tracing::info!("[prover] local = false: only remote workers prove");
        }
        handles.push(tokio::spawn(expire_leases(
            state.store.clone(),
            state.queue.clone(),
            shutdown.clone(),
        )));
        if let Some(changes) = state.store.watch() {
            handles.push(tokio::spawn(follow_shared_store(
                changes,
                state.store.clone(),
                state.queue.clone(),
                shutdown.clone(),
            )));
        }
        if let Some(chain) = self.chain.clone() {
            let submitter = Submitter::new(chain, state.store.clone(), state.queue.clone());
            handles.push(submitter.spawn(shutdown));
        }
        handles
    }
}

/// Runs a node until Ctrl-C / SIGTERM. Prints `listening on http://HOST:PORT` on stdout once
/// the socket is bound.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let node = Node::open(config).await?;
    let (stop_workers, shutdown) = watch::channel(false);
    let handles = node.start(shutdown);
    let (config, workers, waiting) = (node.state.config.clone(), node.state.workers, node.waiting);
    let state = node.state;
    let listener = tokio::net::TcpListener::bind((config.server.host.as_str(), config.server.port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}:{}: {e}",
                config.server.host,
                config.server.port
            )
        })?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, workers, waiting, "node started");
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}")?;
        stdout.flush()?;
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;

    tracing::info!("shutting down: finishing jobs in hand");
    let _ = stop_workers.send(true);
    let drain = async {
        for handle in handles {
            let _ = handle.await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        tracing::warn!(
            "workers still busy after 30 s; their jobs will be re-run on the next start"
        );
    }
    Ok(())
}

/// Sends the jobs of remote workers (and, with a shared store, of nodes) whose leases expired
/// back to the queue, every second.
async fn expire_leases(
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match store.expire_leases(crate::store::now_ms()).await {
            Ok(expired) => {
                for job in &expired {
                    tracing::warn!(%job, "a lease expired (its worker or node stopped); the job goes back to the queue");
                    queue.changed(*job);
                }
                if !expired.is_empty() {
                    queue.wake_provers();
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot expire leases"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// With a store shared between nodes: wakes this node's workers and provers and its event
/// streams on every node's changes, and recounts the waiting jobs every second.
async fn follow_shared_store(
    mut changes: tokio::sync::broadcast::Receiver<crate::store::JobChange>,
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
    mut shutdown: watch::Receiver<bool>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut recount = tokio::time::interval(Duration::from_secs(1));
    while !*shutdown.borrow() {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(change) => {
                    queue.changed(change.id);
                    match (change.status, change.phase) {
                        (JobStatus::Queued, _) => queue.wake_workers(),
                        (JobStatus::Proving, Some(crate::store::JobPhase::Waiting)) => {
                            queue.wake_provers()
                        }
                        _ => {}
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    queue.wake_workers();
                    queue.wake_provers();
                }
                Err(RecvError::Closed) => return,
            },
            _ = recount.tick() => match store.count(JobStatus::Queued).await {
                Ok(waiting) => queue.resync(waiting as usize),
                Err(e) => tracing::error!(error = %e, "cannot count the waiting jobs"),
            },
            _ = shutdown.changed() => {}
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

#[cfg(test)]
mod tests;
