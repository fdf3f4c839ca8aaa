//! The API in process: a node opened on a temporary directory (no task started), requests
//! sent to [`router`] with `oneshot`.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::keys::{KeyLimits, KeyRecord, NewToken, Role};
use crate::store::{JobPhase, NewJob, Outcome, RunResult};

/// The smallest module the guest ABI accepts.
const MODULE: &str = r#"(module (memory (export "memory") 1) (func (export "main")))"#;

async fn node(auth: bool) -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    config.auth.required = auth;
    let node = Node::open(config).await.unwrap();
    (dir, node.state)
}

/// Creates a key as `obelysk keys create` does; its token.
async fn key(state: &AppState, role: Role, limits: KeyLimits) -> (String, String) {
    let token = NewToken::generate().unwrap();
    let id = crate::keys::new_key_id().unwrap();
    let record = KeyRecord {
        id: id.clone(),
        name: None,
        role,
        limits,
        created_at: time::OffsetDateTime::now_utc(),
        revoked_at: None,
    };
    state.store.put_key(&record, &token.hash).await.unwrap();
    (id, token.token)
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Body,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let content_type = match uri {
        "/plugins" => "application/wasm",
        _ if uri.ends_with("/proof") => "application/octet-stream",
        _ => "application/json",
    };
    let request = request
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn json_body(value: Value) -> Body {
    Body::from(value.to_string())
}

#[tokio::test]
async fn mutating_routes_need_a_live_key_of_their_role() {
    let (_dir, state) = node(true).await;
    let module = || Body::from(wat::parse_str(MODULE).unwrap());
    let (status, headers, body) = call(&state, "POST", "/plugins", None, module()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer");

    let (client_id, client) = key(&state, Role::Client, KeyLimits::default()).await;
    let (_, worker) = key(&state, Role::Worker, KeyLimits::default()).await;
    let (status, _, body) = call(&state, "POST", "/plugins", Some(&worker), module()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    let (status, _, plugin) = call(&state, "POST", "/plugins", Some(&client), module()).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    // Reads are open.
    let (status, _, _) = call(&state, "GET", "/plugins", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);

    let submit = json_body(json!({"plugin": plugin["id"], "prove": false}));
    let (status, _, body) = call(&state, "POST", "/jobs", Some(&client), submit).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, _, job) = call(
        &state,
        "GET",
        &format!("/jobs/{}", body["id"].as_str().unwrap()),
        None,
        Body::empty(),
    )
    .await;
    assert_eq!(job["key"], client_id.as_str());

    // The worker routes want a worker key.
    let register = || json_body(json!({"backend": "simd", "memory_bytes": 1, "version": "t"}));
    let (status, _, _) = call(
        &state,
        "POST",
        "/workers/register",
        Some(&client),
        register(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = call(
        &state,
        "POST",
        "/workers/register",
        Some(&worker),
        register(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    state.store.revoke_key(&client_id).await.unwrap();
    let (status, _, body) = call(&state, "POST", "/plugins", Some(&client), module()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::UNAUTHORIZED, &json!("key_revoked"))
    );
}

#[tokio::test]
async fn a_keys_rate_limit_answers_429_with_retry_after() {
    let (_dir, state) = node(false).await;
    let limits = KeyLimits {
        jobs_per_minute: Some(1),
        ..KeyLimits::default()
    };
    let (_, client) = key(&state, Role::Client, limits).await;
    let module = Body::from(wat::parse_str(MODULE).unwrap());
    let (_, _, plugin) = call(&state, "POST", "/plugins", None, module).await;
    let submit = || json_body(json!({"plugin": plugin["id"], "prove": false}));
    let (status, _, _) = call(&state, "POST", "/jobs", Some(&client), submit()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, headers, body) = call(&state, "POST", "/jobs", Some(&client), submit()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["details"]["limit"], "jobs_per_minute");
    assert_eq!(headers["retry-after"], "60");
    // Without a key (auth is off) the key's limit does not apply.
    let (status, _, _) = call(&state, "POST", "/jobs", None, submit()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

/// A worker's lease, a proof that does not verify (422, the job back in the queue, the worker
/// quarantined), and the worker's record.
#[tokio::test]
async fn a_worker_whose_proof_fails_is_quarantined_and_its_job_released() {
    let (_dir, state) = node(false).await;
    let module = Body::from(wat::parse_str(MODULE).unwrap());
    let (_, _, plugin) = call(&state, "POST", "/plugins", None, module).await;
    let register = json_body(json!({"backend": "simd", "memory_bytes": 1, "version": "t"}));
    let (_, _, registered) = call(&state, "POST", "/workers/register", None, register).await;
    let worker = registered["worker_id"].as_str().unwrap().to_string();
    let lease = format!("/workers/{worker}/lease");
    let (status, _, _) = call(&state, "POST", &lease, None, Body::empty()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "no job waits");

    // A job that ran and waits for a prover.
    let job = state
        .store
        .insert_job(&NewJob {
            plugin: plugin["id"].as_str().unwrap().into(),
            prove: true,
            ..NewJob::default()
        })
        .await
        .unwrap();
    state.store.claim_next().await.unwrap().unwrap();
    let run = RunResult {
        output: vec![],
        fuel_used: 1,
        vm_steps: Some(3),
    };
    state
        .store
        .finish(job.id, &Outcome::ToProve(run))
        .await
        .unwrap();
    let (status, _, leased) = call(&state, "POST", &lease, None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{leased}");
    assert_eq!(leased["job"], job.id.to_string());

    // A heartbeat names the jobs it holds: a list renews them, anything else is a 400.
    let heartbeat = format!("/workers/{worker}/heartbeat");
    let held = json_body(json!({"jobs": [job.id]}));
    let (status, _, body) = call(&state, "POST", &heartbeat, None, held).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let odd = json_body(json!({"jobs": "all"}));
    let (status, _, body) = call(&state, "POST", &heartbeat, None, odd).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("malformed_json"))
    );

    // Its phases move the job's progress; the coordinator's own phases are not the worker's.
    let phase = format!("/workers/{worker}/jobs/{}/phase", job.id);
    let (status, _, _) = call(
        &state,
        "POST",
        &phase,
        None,
        json_body(json!({"phase": "trace"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let tracing = state.store.job(job.id).await.unwrap().unwrap();
    assert_eq!(
        (tracing.phase, tracing.progress),
        (Some(JobPhase::Trace), JobPhase::Trace.progress())
    );
    let (status, _, _) = call(
        &state,
        "POST",
        &phase,
        None,
        json_body(json!({"phase": "verify"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let upload = format!("/workers/{worker}/jobs/{}/proof", job.id);
    let (status, _, body) = call(&state, "POST", &upload, None, Body::from("not a proof")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "proof_rejected");
    let waiting = state.store.job(job.id).await.unwrap().unwrap();
    assert_eq!((waiting.status, waiting.worker), (JobStatus::Proving, None));
    let (status, headers, body) = call(&state, "POST", &lease, None, Body::empty()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "worker_quarantined");
    assert!(headers.contains_key("retry-after"));
    let (_, _, workers) = call(&state, "GET", "/workers", None, Body::empty()).await;
    assert_eq!(workers[0]["jobs_failed"], 1);
    assert!(!workers[0]["quarantined_until"].is_null());
    // Another worker's id is unknown.
    let (status, _, body) = call(
        &state,
        "POST",
        "/workers/w-nobody/heartbeat",
        None,
        Body::empty(),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("worker_not_found"))
    );
}

/// A GET whose body is kept as bytes.
async fn get_raw(state: &AppState, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

#[tokio::test]
async fn pages_and_assets_are_embedded_and_locked_down() {
    let (_dir, state) = node(true).await;
    // The pages need no key even with `[auth] required` (their data routes apply keys).
    for (uri, script) in [("/", "assets/status.js"), ("/verify", "assets/verify.js")] {
        let (status, headers, body) = get_raw(&state, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(String::from_utf8(body).unwrap().contains(script), "{uri}");
    }
    for asset in web::ASSETS {
        let uri = format!("/assets/{}", asset.name);
        let (status, headers, body) = get_raw(&state, &uri).await;
        if asset.bytes.is_empty() {
            // Built without `make web-verifier`: a clear 404, never an empty 200.
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            let error: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(error["error"]["code"], "verifier_not_built");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers["content-type"], asset.content_type, "{uri}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(body, asset.bytes, "{uri}");
    }
    if web::has_verifier() {
        let wasm = web::asset("obelysk_web_verifier_bg.wasm").unwrap();
        assert_eq!(&wasm.bytes[..4], b"\0asm");
    }
    let (status, _, body) = call(&state, "GET", "/assets/nope.js", None, Body::empty()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
    let (status, _, body) = call(&state, "GET", "/assets/..%2Fweb.rs", None, Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn throughput_covers_whole_minutes_up_to_now() {
    let (_dir, state) = node(false).await;
    let (status, _, body) = call(
        &state,
        "GET",
        "/stats/throughput?minutes=0",
        None,
        Body::empty(),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_query"))
    );
    let (status, _, body) = call(
        &state,
        "GET",
        "/stats/throughput?minutes=5",
        None,
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (since, now) = (
        body["since_ms"].as_i64().unwrap(),
        body["now_ms"].as_i64().unwrap(),
    );
    assert_eq!(since % 60_000, 0);
    assert!(
        now - since >= 4 * 60_000 && now - since < 5 * 60_000,
        "{body}"
    );
    assert_eq!(body["minutes"], json!([]));
}

#[tokio::test]
async fn the_events_stream_carries_every_jobs_changes() {
    use futures_util::StreamExt;
    let (_dir, state) = node(false).await;
    let module = Body::from(wat::parse_str(MODULE).unwrap());
    let (_, _, plugin) = call(&state, "POST", "/plugins", None, module).await;
    let request = Request::builder()
        .uri("/events")
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.into_body().into_data_stream();
    let submit = json_body(json!({"plugin": plugin["id"], "prove": false}));
    let (status, _, job) = call(&state, "POST", "/jobs", None, submit).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let mut text = String::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.contains("event: jobs") && text.contains(&id) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("data: [") && l.contains(&id))
        .unwrap();
    let jobs: Value = serde_json::from_str(&line["data: ".len()..]).unwrap();
    assert_eq!(jobs[0]["id"], json!(id));
    assert_eq!(jobs[0]["status"], "queued");
}

#[tokio::test]
async fn the_events_stream_asks_for_a_resync_when_more_changed_than_one_event_carries() {
    use futures_util::StreamExt;
    let (_dir, state) = node(false).await;
    let request = Request::builder()
        .uri("/events")
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let mut stream = response.into_body().into_data_stream();
    // More jobs change than one `jobs` event carries, within its 150 ms window.
    for _ in 0..=web::MAX_BATCH {
        state.queue.changed(uuid::Uuid::now_v7());
    }
    let mut text = String::new();
    let resync = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.contains("event: resync") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(resync, Ok(true), "{text}");
    assert!(!text.contains("event: jobs"), "{text}");
}
