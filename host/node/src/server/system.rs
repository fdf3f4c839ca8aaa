//! `GET /health`, `GET /gpu/status`, `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::{ApiError, AppState, ErrorBody};

/// Node health.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_s: u64,
    pub workers: usize,
    pub queue_depth: usize,
}

/// Liveness and readiness: answers 503 when the store does not respond.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
        workers: state.workers,
        queue_depth: state.queue.waiting(),
    }))
}

/// What the CUDA driver reports, and whether GPU proving is enabled in the config.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GpuReport {
    /// `[gpu] enabled` in the config.
    pub enabled: bool,
    pub mode: String,
    pub device_ids: Vec<u32>,
    /// True when the driver loaded and lists at least one device.
    pub available: bool,
    pub driver_version: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<obelysk_cuda::GpuDevice>,
    /// Why no device is available, when none is.
    pub reason: Option<String>,
    /// The backend proofs run on (`simd`, `cpu`, `cuda`).
    pub backend: &'static str,
    /// Prover executors, and how many are proving now.
    pub executors: usize,
    pub busy_executors: usize,
    /// The GPUs of the remote workers whose heartbeats arrive, by worker.
    pub workers: Vec<WorkerGpus>,
    /// This node's GPUs and its active workers' together.
    pub total_devices: usize,
}

/// One remote worker's devices.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkerGpus {
    pub worker: String,
    pub name: Option<String>,
    pub backend: String,
    pub devices: Vec<crate::workers::WorkerDevice>,
}

/// GPU devices found by loading the CUDA driver at run time (none on machines without one).
#[utoipa::path(get, path = "/gpu/status", tag = "system", responses((status = 200, body = GpuReport), (status = 503, body = ErrorBody)))]
pub async fn gpu_status(State(state): State<AppState>) -> Result<Json<GpuReport>, ApiError> {
    let gpu = &state.config.gpu;
    let detected = state.gpu.clone();
    let workers: Vec<WorkerGpus> = super::workers::workers(&state)
        .await?
        .into_iter()
        .filter(|w| w.state == crate::workers::WorkerState::Active)
        .map(|w| WorkerGpus {
            worker: w.id,
            name: w.name,
            backend: w.backend,
            devices: w.devices,
        })
        .collect();
    let total_devices =
        detected.devices.len() + workers.iter().map(|w| w.devices.len()).sum::<usize>();
    Ok(Json(GpuReport {
        enabled: gpu.enabled,
        mode: gpu.mode.clone(),
        device_ids: gpu.device_ids.clone(),
        available: detected.available,
        driver_version: detected.driver_version,
        devices: detected.devices,
        reason: detected.reason,
        backend: state.provers.settings.backend.name(),
        executors: state.provers.settings.executors,
        busy_executors: state.provers.busy(),
        workers,
        total_devices,
    }))
}

/// Prometheus / OpenMetrics text.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
