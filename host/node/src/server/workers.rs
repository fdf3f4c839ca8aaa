//! The coordinator's side of remote workers: `POST /workers/register`, `GET /workers`, and
//! each worker's heartbeat, lease, proof upload and release (see [`crate::workers`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;

use super::jobs::parse_id;
use super::{ApiError, AppState, Caller, ErrorBody};
use crate::failures::FailureCode;
use crate::store::{JobPhase, JobStatus, now_ms};
use crate::workers::{Holding, Lease, Registered, Registration, WorkerRecord};

/// Register a worker: its devices, backend, memory and version.
#[utoipa::path(post, path = "/workers/register", tag = "workers", request_body = Registration,
    responses(
        (status = 201, body = Registered),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not a worker key", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<Registration>, JsonRejection>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let Json(registration) = body?;
    if !["simd", "cpu", "cuda"].contains(&registration.backend.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!(
                "backend `{}` is not one of simd, cpu, cuda",
                registration.backend
            ),
        ));
    }
    let id = crate::keys::new_key_id()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let worker = WorkerRecord::new(format!("w-{id}"), caller.0.map(|key| key.id), registration);
    state.store.register_worker(&worker).await?;
    tracing::info!(worker = %worker.id, backend = %worker.backend, devices = worker.devices.len(), "worker registered");
    let prover = &state.config.prover;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            worker_id: worker.id,
            lease_ms: prover.lease_ms,
            heartbeat_ms: prover.heartbeat_ms,
            security_bits: state.provers.settings.level.bits(),
        }),
    ))
}

/// Every registered worker: devices, state, last heartbeat, jobs done and failed.
#[utoipa::path(get, path = "/workers", tag = "workers",
    responses((status = 200, body = Vec<WorkerRecord>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<WorkerRecord>>, ApiError> {
    Ok(Json(workers(&state).await?))
}

/// The workers, `lost` after three missed heartbeats.
pub async fn workers(state: &AppState) -> Result<Vec<WorkerRecord>, ApiError> {
    let stale = 3 * state.config.prover.heartbeat_ms as i64;
    Ok(state.store.workers(now_ms() - stale).await?)
}

/// The answer to a heartbeat.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Beat {
    /// Leases are renewed until this many ms from now.
    pub lease_ms: u64,
}

/// A worker is alive: renews its leases (those it names, when it names them).
#[utoipa::path(post, path = "/workers/{id}/heartbeat", tag = "workers", request_body(content = Option<Holding>),
    params(("id" = String, Path, description = "worker id")),
    responses((status = 200, body = Beat), (status = 400, body = ErrorBody), (status = 404, description = "unknown worker: register again", body = ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Beat>, ApiError> {
    // An empty body names no jobs: every lease is renewed.
    let body = body?;
    let holding = match body.is_empty() {
        true => None,
        false => Some(
            serde_json::from_slice::<Holding>(&body)
                .map_err(|e| {
                    ApiError::bad_request(
                        "malformed_json",
                        format!("a heartbeat body is {{\"jobs\": [job ids]}}: {e}"),
                    )
                })?
                .jobs,
        ),
    };
    own_worker(&state, &caller, &id).await?;
    let lease_ms = state.config.prover.lease_ms;
    if !state
        .store
        .heartbeat(&id, now_ms() + lease_ms as i64, holding.as_deref())
        .await?
    {
        return Err(unknown_worker(&id));
    }
    Ok(Json(Beat { lease_ms }))
}

/// Lease the oldest job waiting for a prover: 200 with the job, or 204 when there is none.
#[utoipa::path(post, path = "/workers/{id}/lease", tag = "workers",
    params(("id" = String, Path, description = "worker id")),
    responses((status = 200, body = Lease), (status = 204, description = "no job waits"),
        (status = 403, description = "`worker_quarantined`: its last proof did not verify (Retry-After)", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn lease(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let worker = own_worker(&state, &caller, &id).await?;
    if let Some(until) = worker.quarantined_until
        && until > OffsetDateTime::now_utc()
    {
        let seconds = (until - OffsetDateTime::now_utc()).whole_seconds().max(1) as u64;
        return Err(ApiError {
            retry_after_s: Some(seconds),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "worker_quarantined",
                format!(
                    "worker {id} uploaded a proof that did not verify; no leases for {seconds} s"
                ),
            )
        });
    }
    let until = now_ms() + state.config.prover.lease_ms as i64;
    let Some(job) = state.store.lease_proving(&id, until).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    state.queue.changed(job.id);
    tracing::info!(job = %job.id, worker = %id, "leased");
    let settings = &state.provers.settings;
    Ok(Json(Lease {
        job: job.id,
        plugin: job.plugin,
        input: job.input,
        output: job.output.unwrap_or_default(),
        max_steps: job
            .max_steps
            .map_or(settings.max_steps, |m| m.min(settings.max_steps)),
    })
    .into_response())
}

/// The answer to an accepted proof.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Completed {
    pub status: JobStatus,
    /// `0x` + 64 hex.
    pub attestation: String,
}

/// Upload the proof file of a leased job. The coordinator verifies it against the job's own
/// statement before it completes the job; a proof that does not verify (422) or that comes
/// after the lease was lost (409) sends the job back to the queue and counts against the
/// worker.
#[utoipa::path(post, path = "/workers/{id}/jobs/{job}/proof", tag = "workers",
    params(("id" = String, Path, description = "worker id"), ("job" = uuid::Uuid, Path, description = "job id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, body = Completed),
        (status = 409, description = "`lease_lost`: the worker no longer holds the job", body = ErrorBody),
        (status = 422, description = "`proof_rejected`: the proof does not verify", body = ErrorBody),
    ))]
pub async fn upload_proof(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, job_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Completed>, ApiError> {
    own_worker(&state, &caller, &id).await?;
    let job_id = parse_id(&job_id)?;
    let bytes = body?;
    let store = state.store.clone();
    let Some(job) = store.job(job_id).await? else {
        return Err(ApiError::not_found(
            "job_not_found",
            format!("no job {job_id}"),
        ));
    };
    if job.worker.as_deref() != Some(id.as_str()) {
        store.release_lease(job_id, &id, None).await?;
        return Err(lease_lost(&id, job_id));
    }
    let Some(lowered) = state.programs.lowered(store.as_ref(), &job.plugin).await? else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the job's plugin is missing or does not lower",
        ));
    };
    let record = match state
        .provers
        .verify_and_store(&job, lowered.module, bytes.to_vec(), 0)
        .await
    {
        Ok(record) => record,
        Err(e) => {
            tracing::warn!(worker = %id, job = %job_id, code = %e.code, error = %e.message, "a worker's proof was refused");
            let quarantine = (e.code == FailureCode::ProofRejected)
                .then(|| now_ms() + crate::workers::QUARANTINE_MS);
            store.release_lease(job_id, &id, quarantine).await?;
            state.queue.changed(job_id);
            return Err(match e.code {
                FailureCode::ProofRejected => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "proof_rejected",
                    e.message,
                ),
                _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.message),
            });
        }
    };
    let attestation = record.attestation.clone();
    let attest = state.provers.attests();
    if !store
        .complete_proven(job_id, &record, attest, Some(&id))
        .await?
    {
        store.release_lease(job_id, &id, None).await?;
        state.queue.changed(job_id);
        return Err(lease_lost(&id, job_id));
    }
    state.queue.finished(job_id, JobStatus::Completed.as_str());
    tracing::info!(worker = %id, job = %job_id, size = record.size, "proven by a worker");
    Ok(Json(Completed {
        status: JobStatus::Completed,
        attestation,
    }))
}

/// Where a worker's proof of a leased job is (`execute`, `trace`, `commit` or `prove`).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseReport {
    pub phase: JobPhase,
}

/// Report the phase of a leased job's proof: the job's `phase` and `progress` follow it.
#[utoipa::path(post, path = "/workers/{id}/jobs/{job}/phase", tag = "workers",
    params(("id" = String, Path, description = "worker id"), ("job" = uuid::Uuid, Path, description = "job id")),
    request_body = PhaseReport,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn phase(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, job_id)): Path<(String, String)>,
    body: Result<Json<PhaseReport>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    own_worker(&state, &caller, &id).await?;
    let job_id = parse_id(&job_id)?;
    let Json(report) = body?;
    if matches!(report.phase, JobPhase::Waiting | JobPhase::Verify) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "a worker reports execute, trace, commit or prove",
        ));
    }
    let Some(job) = state.store.job(job_id).await? else {
        return Err(ApiError::not_found(
            "job_not_found",
            format!("no job {job_id}"),
        ));
    };
    if job.worker.as_deref() != Some(id.as_str()) {
        return Err(lease_lost(&id, job_id));
    }
    state
        .store
        .set_phase(job_id, JobStatus::Proving, report.phase)
        .await?;
    state.queue.changed(job_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Give a leased job back (the worker cannot prove it); counts against the worker.
#[utoipa::path(post, path = "/workers/{id}/jobs/{job}/release", tag = "workers",
    params(("id" = String, Path, description = "worker id"), ("job" = uuid::Uuid, Path, description = "job id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    own_worker(&state, &caller, &id).await?;
    let job_id = parse_id(&job_id)?;
    if !state.store.release_lease(job_id, &id, None).await? {
        return Err(lease_lost(&id, job_id));
    }
    state.queue.changed(job_id);
    Ok(StatusCode::NO_CONTENT)
}

/// The worker `id` exists and, when the request has a key, registered with that key.
async fn own_worker(state: &AppState, caller: &Caller, id: &str) -> Result<WorkerRecord, ApiError> {
    let Some(worker) = state.store.worker(id, i64::MIN).await? else {
        return Err(unknown_worker(id));
    };
    if let Some(key) = &caller.0
        && worker.key.as_deref() != Some(key.id.as_str())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("worker {id} registered with another key"),
        ));
    }
    Ok(worker)
}

fn unknown_worker(id: &str) -> ApiError {
    ApiError::not_found(
        "worker_not_found",
        format!("no worker {id}: register again"),
    )
}

fn lease_lost(worker: &str, job: uuid::Uuid) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "lease_lost",
        format!("worker {worker} no longer holds job {job} (its lease expired or it finished)"),
    )
}
