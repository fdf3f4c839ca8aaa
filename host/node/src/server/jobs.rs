//! `POST /jobs`, `GET /jobs`, `GET /jobs/{id}`.

use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiError, AppState, Caller, ErrorBody};
use crate::keys::{KeyGrant, QuotaExceeded};
use crate::store::{Idempotency, JobPhase, JobRecord, JobStatus, NewJob};

/// A job request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// Plugin id from `POST /plugins`.
    pub plugin: String,
    /// Input words (u32).
    #[serde(default)]
    pub input: Vec<u32>,
    /// Fuel budget for this job; at most the node's `limits.fuel` (the default).
    pub fuel: Option<u64>,
    /// Wall-clock budget in ms; at most the node's `limits.timeout_ms` (the default).
    pub timeout_ms: Option<u64>,
    /// Prove, verify and attest the run (the default). With `false` the job only runs, and
    /// any module is accepted; with `true` a module outside the provable subset is refused.
    #[serde(default = "default_prove")]
    pub prove: bool,
    /// The most VM steps the run may take (a longer run fails with `step_limit`); at most the
    /// key's `max_steps` (the default when the key has one, else the node's `[prover]
    /// max_steps`).
    pub max_steps: Option<u64>,
}

fn default_prove() -> bool {
    true
}

/// The answer to an accepted job.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: Uuid,
    pub status: JobStatus,
}

/// Submit a job; it is durable when the 202 arrives.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = SubmitJob,
    responses(
        (status = 202, body = Accepted),
        (status = 200, description = "a replay: this Idempotency-Key was used with the same request", body = Accepted),
        (status = 409, description = "this Idempotency-Key was used with a different request", body = ErrorBody),
        (status = 400, description = "malformed JSON, input too large, or a budget above the node's limits", body = ErrorBody),
        (status = 404, description = "unknown plugin", body = ErrorBody),
        (status = 401, description = "`[auth] required` is on and the request has no live key (`unauthorized`, `key_revoked`)", body = ErrorBody),
        (status = 403, description = "the key is not a client key", body = ErrorBody),
        (status = 422, description = "well-formed JSON of the wrong shape, or `not_provable`: a module outside the provable subset with `prove: true` (`details.unsupported` lists what it needs)", body = ErrorBody),
        (status = 429, description = "the queue is full (`queue_full`), or the job would exceed a limit of its key (`quota_exceeded`, `details.limit` names it); retry after the Retry-After header", body = ErrorBody),
    ))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Json<SubmitJob>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Json(request) = body?;
    let key = idempotency_key(&headers)?;
    let new_job = validate(&state, request, &caller).await?;
    // Each API key has its own idempotency keys: another client reusing one gets its own job,
    // never a view of someone else's. (A header value has no spaces, so no anonymous key can
    // take a keyed one's form.)
    let idempotency = key.map(|key| Idempotency {
        key: match &caller.0 {
            Some(api_key) => format!("{} {key}", api_key.id),
            None => key,
        },
        request_hash: request_hash(&new_job),
    });
    if let Some(idempotency) = &idempotency
        && let Some((hash, job)) = state.store.idempotent_job(&idempotency.key).await?
    {
        // A replay needs no queue slot: answer from the store.
        if hash != idempotency.request_hash {
            return Err(crate::lifecycle::SubmitError::IdempotencyConflict {
                key: idempotency.key.clone(),
                job: job.id,
            }
            .into());
        }
        return Ok((
            StatusCode::OK,
            Json(Accepted {
                id: job.id,
                status: job.status,
            }),
        ));
    }
    let (job, created) = state.queue.submit(&new_job, idempotency.as_ref()).await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Accepted {
            id: job.id,
            status: job.status,
        }),
    ))
}

/// Checks a job request against the node's limits, its key's step limit and the plugin; the
/// job to store.
pub(super) async fn validate(
    state: &AppState,
    request: SubmitJob,
    caller: &Caller,
) -> Result<NewJob, ApiError> {
    let limit = state.sandbox.limits().max_input_words;
    if request.input.len() > limit {
        return Err(ApiError::bad_request(
            "input_limit",
            format!(
                "the input has {} words, the limit is {limit}",
                request.input.len()
            ),
        ));
    }
    let node = &state.config.limits;
    if let Some(fuel) = request.fuel.filter(|&f| f == 0 || f > node.fuel) {
        return Err(ApiError::bad_request(
            "limit_exceeded",
            format!(
                "fuel {fuel} is outside 1..={} (this node's limit)",
                node.fuel
            ),
        ));
    }
    if let Some(ms) = request
        .timeout_ms
        .filter(|&t| t == 0 || t > node.timeout_ms)
    {
        return Err(ApiError::bad_request(
            "limit_exceeded",
            format!(
                "timeout_ms {ms} is outside 1..={} (this node's limit)",
                node.timeout_ms
            ),
        ));
    }
    if request.max_steps == Some(0) {
        return Err(ApiError::bad_request(
            "limit_exceeded",
            "max_steps must be at least 1",
        ));
    }
    let key = caller.0.as_ref().map(|key| KeyGrant {
        id: key.id.clone(),
        limits: key.limits,
    });
    let key_steps = key.as_ref().and_then(|k| k.limits.max_steps);
    if let (Some(key), Some(limit), Some(requested)) = (&key, key_steps, request.max_steps)
        && requested > limit
    {
        return Err(QuotaExceeded::Steps {
            key: key.id.clone(),
            requested,
            limit,
        }
        .into());
    }
    let plugin = request.plugin.to_ascii_lowercase();
    let Some(record) = state.store.plugin(&plugin).await? else {
        return Err(ApiError::not_found(
            "plugin_not_found",
            format!("no plugin with id {}", request.plugin),
        ));
    };
    if request.prove && !record.vm.supported {
        let needs: Vec<String> = record
            .vm
            .unsupported
            .iter()
            .map(|(name, n)| format!("{name} (x{n})"))
            .collect();
        let why = match (&record.vm.reason, needs.is_empty()) {
            (Some(reason), _) => reason.clone(),
            (None, false) => format!("it uses {}", needs.join(", ")),
            (None, true) => "it does not lower to the Obelysk VM".into(),
        };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_provable",
            format!(
                "plugin {plugin} cannot be proven yet: {why}; submit with \"prove\": false to only run it"
            ),
        )
        .with_details(serde_json::json!({
            "unsupported": record.vm.unsupported,
            "reason": record.vm.reason,
        })));
    }
    Ok(NewJob {
        plugin,
        input: request.input,
        fuel_limit: request.fuel,
        timeout_ms: request.timeout_ms,
        prove: request.prove,
        max_steps: request.max_steps.or(key_steps),
        key,
    })
}

/// A job id from a path.
pub(super) fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| {
        ApiError::bad_request("invalid_id", format!("`{id}` is not a job id (a UUID)"))
    })
}

/// The `Idempotency-Key` header, if any: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
    };
    let key = value.to_str().map_err(|_| invalid())?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(Some(key.to_string()))
}

/// What makes two requests "the same" for idempotency: the normalized job.
fn request_hash(job: &NewJob) -> String {
    use blake2::Digest;
    let canonical = serde_json::json!([
        job.plugin,
        job.input,
        job.fuel_limit,
        job.timeout_ms,
        job.prove,
        job.max_steps
    ])
    .to_string();
    hex::encode(blake2::Blake2s256::digest(canonical.as_bytes()))
}

/// One job with its status, output or error, and timestamps.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "job id")),
    responses((status = 200, body = JobRecord), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobRecord>, ApiError> {
    let id = parse_id(&id)?;
    state
        .store
        .job(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job with id {id}")))
}

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1..=500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Only jobs with this status.
    pub status: Option<JobStatus>,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
}

/// List jobs, newest first, a page at a time.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = JobList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 500",
        ));
    }
    let page = state.store.jobs(query.status, query.cursor, limit).await?;
    Ok(Json(JobList {
        jobs: page.jobs,
        next_cursor: page.next_cursor,
    }))
}

/// Live status of one job as Server-Sent Events: an `event: status` whose `data` is the job
/// (as `GET /jobs/{id}`) now and at every change of status, phase or progress; the stream ends
/// after `completed` / `failed`.
#[utoipa::path(get, path = "/jobs/{id}/events", tag = "jobs",
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "text/event-stream of `status` events", content_type = "text/event-stream"),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = parse_id(&id)?;
    // Subscribe first, then read: a change between the two is seen as an event.
    let changes = state.queue.changes();
    let job = state
        .store
        .job(id)
        .await?
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job with id {id}")))?;
    let watch = Watch {
        store: state.store.clone(),
        changes,
        id,
        pending: Some(job),
        last: None,
    };
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        let job = watch.next().await?;
        let event = Event::default()
            .event("status")
            .json_data(&job)
            .unwrap_or_else(|_| Event::default());
        Some((Ok(event), watch))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The state behind one event stream.
struct Watch {
    store: std::sync::Arc<dyn crate::store::Store>,
    changes: tokio::sync::broadcast::Receiver<Uuid>,
    id: Uuid,
    /// A job read but not sent yet.
    pending: Option<JobRecord>,
    /// What was last sent: status, phase, progress.
    last: Option<(JobStatus, Option<JobPhase>, u8)>,
}

impl Watch {
    /// The next job state worth sending, or `None` when the stream is over.
    async fn next(&mut self) -> Option<JobRecord> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            if self
                .last
                .as_ref()
                .is_some_and(|(status, ..)| status.is_final())
            {
                return None;
            }
            if let Some(job) = self.pending.take() {
                let now = (job.status, job.phase, job.progress);
                if Some(&now) != self.last.as_ref() {
                    self.last = Some(now);
                    return Some(job);
                }
            }
            match self.changes.recv().await {
                Ok(id) if id != self.id => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
            match self.store.job(self.id).await {
                Ok(job) => self.pending = job,
                Err(e) => {
                    tracing::error!(error = %e, "reading a watched job");
                    return None;
                }
            }
        }
    }
}
