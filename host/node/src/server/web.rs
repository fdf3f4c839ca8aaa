//! The node's web pages: the status page (`GET /`), the browser verifier (`GET /verify`), their
//! assets (`GET /assets/{name}`, embedded in the binary), the stream of every job's changes
//! that keeps the status page live (`GET /events`) and its throughput chart's series
//! (`GET /stats/throughput`).

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{ApiError, AppState, ErrorBody};
use crate::store::Minute;

/// One embedded file: its name under `/assets/`, content type and bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! web_file {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $name)),
        }
    };
}

macro_rules! verifier_file {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $name)),
        }
    };
}

/// Every file the pages load, the browser verifier's included.
pub const ASSETS: &[Asset] = &[
    web_file!("index.html", "text/html; charset=utf-8"),
    web_file!("verify.html", "text/html; charset=utf-8"),
    web_file!("style.css", "text/css; charset=utf-8"),
    web_file!("api.js", "text/javascript; charset=utf-8"),
    web_file!("status.js", "text/javascript; charset=utf-8"),
    web_file!("verify.js", "text/javascript; charset=utf-8"),
    verifier_file!("obelysk_web_verifier.js", "text/javascript; charset=utf-8"),
    verifier_file!("obelysk_web_verifier_bg.wasm", "application/wasm"),
];

/// The files of the standalone verifier bundle (`obelysk export-verifier`).
pub const VERIFIER_BUNDLE: &[&str] = &[
    "verify.html",
    "style.css",
    "api.js",
    "verify.js",
    "obelysk_web_verifier.js",
    "obelysk_web_verifier_bg.wasm",
];

/// The embedded asset called `name`.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Whether this binary carries the browser verifier (`make web-verifier` built it).
pub fn has_verifier() -> bool {
    asset("obelysk_web_verifier_bg.wasm").is_some_and(|a| !a.bytes.is_empty())
}

/// Scripts only from this node (and WebAssembly compiled from its own bytes), no inline code,
/// requests only to this node.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

fn serve(asset: &'static Asset) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

/// `GET /`: the status page.
pub async fn index() -> Response {
    serve(asset("index.html").expect("embedded"))
}

/// `GET /verify`: the browser verifier's page.
pub async fn verify_page() -> Response {
    serve(asset("verify.html").expect("embedded"))
}

/// `GET /assets/{name}`.
pub async fn assets(Path(name): Path<String>) -> Result<Response, ApiError> {
    match asset(&name) {
        Some(found) if !found.bytes.is_empty() => Ok(serve(found)),
        Some(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "verifier_not_built",
            "this node was built without the browser verifier; build it with `make \
             web-verifier`, then rebuild the node",
        )),
        None => Err(ApiError::not_found(
            "not_found",
            format!("no asset named {name}"),
        )),
    }
}

/// Query of `GET /stats/throughput`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ThroughputQuery {
    /// How many minutes back, 1..=1440 (default 60).
    pub minutes: Option<u32>,
}

/// Completions per minute over the last `minutes`, oldest first; minutes with none are absent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Throughput {
    /// Unix ms of the first minute covered.
    pub since_ms: i64,
    /// Unix ms when the series was read.
    pub now_ms: i64,
    pub minutes: Vec<Minute>,
}

/// Jobs completed and proven steps per minute (the status page's chart).
#[utoipa::path(get, path = "/stats/throughput", tag = "system", params(ThroughputQuery),
    responses((status = 200, body = Throughput), (status = 400, body = ErrorBody)))]
pub async fn throughput(
    State(state): State<AppState>,
    query: Result<Query<ThroughputQuery>, QueryRejection>,
) -> Result<Json<Throughput>, ApiError> {
    let Query(query) = query?;
    let minutes = query.minutes.unwrap_or(60);
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "minutes must be between 1 and 1440",
        ));
    }
    let now_ms = crate::store::now_ms();
    let since_ms = (now_ms / 60_000 - i64::from(minutes) + 1) * 60_000;
    Ok(Json(Throughput {
        since_ms,
        now_ms,
        minutes: state.store.throughput(since_ms).await?,
    }))
}

/// The most jobs one `jobs` event carries; past it the page is told to read the list again.
pub(super) const MAX_BATCH: usize = 100;
/// How long changes are gathered into one event.
const BATCH_WINDOW: Duration = Duration::from_millis(150);

/// Every job's changes as Server-Sent Events, for the status page:
/// - `jobs`: a JSON array of jobs (as `GET /jobs/{id}`) that changed status, phase or progress,
///   gathered over 150 ms;
/// - `resync`: more changed than one event carries (or the stream fell behind): read
///   `GET /jobs` again;
/// - `node`: every 2 s, the queue depth and busy provers (as in `GET /health`).
#[utoipa::path(get, path = "/events", tag = "jobs",
    responses((status = 200, description = "text/event-stream of `jobs`, `resync` and `node` events", content_type = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed {
        changes: state.queue.changes(),
        state,
        tick: tokio::time::interval(Duration::from_secs(2)),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The state behind one `/events` stream.
struct Feed {
    state: AppState,
    changes: tokio::sync::broadcast::Receiver<Uuid>,
    tick: tokio::time::Interval,
}

impl Feed {
    /// The next event, or `None` when the node shuts down.
    async fn next(&mut self) -> Option<Event> {
        let first = tokio::select! {
            _ = self.tick.tick() => return Some(self.node_event()),
            first = self.changes.recv() => first,
        };
        let mut ids = HashSet::new();
        let mut overflow = false;
        match first {
            Ok(id) => {
                ids.insert(id);
            }
            Err(RecvError::Lagged(_)) => overflow = true,
            Err(RecvError::Closed) => return None,
        }
        let window = tokio::time::sleep(BATCH_WINDOW);
        tokio::pin!(window);
        while !overflow {
            tokio::select! {
                _ = &mut window => break,
                next = self.changes.recv() => match next {
                    Ok(id) => {
                        ids.insert(id);
                        overflow = ids.len() > MAX_BATCH;
                    }
                    Err(RecvError::Lagged(_)) => overflow = true,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
        if overflow {
            // Skip what is queued: the page reads the list again.
            self.changes = self.changes.resubscribe();
            return Some(Event::default().event("resync").data("{}"));
        }
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            match self.state.store.job(id).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "reading a changed job for /events");
                    return Some(Event::default().event("resync").data("{}"));
                }
            }
        }
        jobs.sort_by_key(|job| job.created_at);
        Some(
            Event::default()
                .event("jobs")
                .json_data(&jobs)
                .unwrap_or_else(|_| Event::default().event("resync").data("{}")),
        )
    }

    fn node_event(&self) -> Event {
        let summary = serde_json::json!({
            "queue_depth": self.state.queue.waiting(),
            "provers": self.state.provers.settings.executors,
            "provers_busy": self.state.provers.busy(),
            "uptime_s": self.state.started.elapsed().as_secs(),
        });
        Event::default().event("node").data(summary.to_string())
    }
}
