//! `POST /jobs/estimate`, `GET /jobs/{id}/proof`, `GET /jobs/{id}/proof.bin`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use uuid::Uuid;

use super::jobs::{SubmitJob, parse_id, validate};
use super::{ApiError, AppState, ErrorBody};
use crate::store::{JobStatus, ProofRecord};

/// A quote for a job: what the sandbox run showed and what proving it would cost here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Estimate {
    /// Whether the job fits this node's limits (when false, `error` says why).
    pub fits: bool,
    /// Why the job would fail: the same code and message it would end with.
    #[schema(value_type = Option<Object>)]
    pub error: Option<crate::store::JobError>,
    pub output: Option<Vec<u32>>,
    pub fuel_used: Option<u64>,
    /// Steps of the Obelysk VM's run (what proving costs); absent when not proving.
    pub steps: Option<u64>,
    /// Rows of the largest trace table.
    pub trace_rows: Option<u64>,
    /// Predicted time of the proof alone on one of this node's provers, in ms.
    pub predicted_prove_ms: Option<u64>,
    /// Predicted peak memory of the proof, in bytes.
    pub predicted_peak_memory_bytes: Option<u64>,
    /// This node's limits: the most steps and the prover memory budget.
    pub max_steps: u64,
    pub prover_memory_bytes: u64,
    /// Provers of this node and how many are busy now.
    pub provers: usize,
    pub provers_busy: usize,
}

/// Runs the job in the sandbox only (no proof, nothing stored) and predicts what proving it
/// would take on this node's pool, from the cost model the `vm_prove` bench calibrates.
#[utoipa::path(post, path = "/jobs/estimate", tag = "jobs", request_body = SubmitJob,
    responses(
        (status = 200, body = Estimate),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn estimate(
    State(state): State<AppState>,
    Extension(caller): Extension<super::Caller>,
    body: Result<Json<SubmitJob>, JsonRejection>,
) -> Result<Json<Estimate>, ApiError> {
    let Json(request) = body?;
    let job = validate(&state, request, &caller).await?;
    let pool = &state.provers.settings;
    let mut answer = Estimate {
        fits: false,
        error: None,
        output: None,
        fuel_used: None,
        steps: None,
        trace_rows: None,
        predicted_prove_ms: None,
        predicted_peak_memory_bytes: None,
        max_steps: pool.max_steps,
        prover_memory_bytes: pool.memory_bytes,
        provers: pool.executors,
        provers_busy: state.provers.busy(),
    };
    let failed = |e: obelysk_vm::VmError| crate::store::JobError::vm(&e);
    let module =
        match crate::worker::load_module(state.store.as_ref(), &state.sandbox, &job.plugin).await {
            Ok(module) => module,
            Err(e) => {
                answer.error = Some(failed(e));
                return Ok(Json(answer));
            }
        };
    let program = state
        .programs
        .get(state.store.as_ref(), &job.plugin)
        .await?;
    // Without a proof, the VM's step count is not asked for.
    let program = program.filter(|_| job.prove);
    let run = crate::worker::run_checked(
        &state.sandbox,
        module,
        program,
        job.input,
        job.fuel_limit,
        job.timeout_ms,
    )
    .await;
    match run {
        Err(e) => answer.error = Some(e),
        Ok((run, steps)) => {
            answer.output = Some(run.output);
            answer.fuel_used = Some(run.fuel_used);
            answer.fits = true;
            if let Some(steps) = steps {
                let (estimate, verdict) = pool.check(steps);
                answer.steps = Some(steps);
                answer.trace_rows = Some(estimate.trace_rows);
                answer.predicted_prove_ms = Some(estimate.prove_ms);
                answer.predicted_peak_memory_bytes = Some(estimate.peak_bytes);
                if let Err(e) = verdict {
                    answer.fits = false;
                    answer.error = Some(e);
                }
            }
        }
    }
    Ok(Json(answer))
}

/// The proof of a completed job: the attestation and the parts it binds.
#[utoipa::path(get, path = "/jobs/{id}/proof", tag = "proofs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, body = ProofRecord),
        (status = 400, body = ErrorBody),
        (status = 404, description = "unknown job, or a job that has no proof (failed, or submitted with `prove: false`)", body = ErrorBody),
        (status = 409, description = "`proof_not_ready`: the job is not finished yet", body = ErrorBody),
    ))]
pub async fn proof(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProofRecord>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(proof_of(&state, id).await?))
}

/// The proof file of a completed job: the bytes `obelysk verify` takes.
#[utoipa::path(get, path = "/jobs/{id}/proof.bin", tag = "proofs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "the proof file", content_type = "application/octet-stream"),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ))]
pub async fn proof_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let record = proof_of(&state, id).await?;
    let bytes = match state.proofs.proof_bytes(&record.file).await {
        Ok(Some(bytes)) => bytes,
        outcome => {
            let error = match outcome {
                Err(e) => e.to_string(),
                _ => "missing".to_string(),
            };
            tracing::error!(job = %id, file = record.file, error, "an indexed proof is unreadable");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the proof file is unreadable (logged)",
            ));
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.proof\""),
            ),
        ],
        bytes,
    ))
}

/// The proof record of job `id`, or the error that explains its absence.
async fn proof_of(state: &AppState, id: Uuid) -> Result<ProofRecord, ApiError> {
    let job = state
        .store
        .job(id)
        .await?
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job with id {id}")))?;
    if !job.prove {
        return Err(ApiError::not_found(
            "proof_not_found",
            format!("job {id} was submitted with \"prove\": false"),
        ));
    }
    match job.status {
        JobStatus::Completed => {}
        JobStatus::Failed => {
            return Err(ApiError::not_found(
                "proof_not_found",
                format!("job {id} failed; it has no proof"),
            ));
        }
        status => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "proof_not_ready",
                format!(
                    "job {id} is {} ({}% done); retry when it is completed",
                    status.as_str(),
                    job.progress
                ),
            ));
        }
    }
    state
        .store
        .proof(id)
        .await?
        .ok_or_else(|| ApiError::not_found("proof_not_found", format!("job {id} has no proof")))
}
