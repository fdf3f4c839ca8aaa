//! API keys on a real node: `obelysk keys create | list | revoke` against its data directory,
//! `[auth] required` (through `OBELYSK_AUTH_REQUIRED`), roles, and per-key limits.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

/// A request with an optional bearer token: (status, headers, JSON body).
async fn send(
    request: reqwest::RequestBuilder,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn keys_guard_the_mutating_routes_and_limit_their_jobs() {
    let dir = temp_dir();
    // Created before the node starts (the CLI opens the node's store, creating it).
    let (ok, alice, err) = keys(
        dir.path(),
        &[
            "create",
            "--role",
            "client",
            "--name",
            "alice",
            "--jobs-per-minute",
            "3",
            "--max-steps",
            "100000",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let alice_token = alice["token"].as_str().unwrap().to_string();
    assert!(alice_token.starts_with("obk_"), "{alice}");
    let (ok, worker, _) = keys(dir.path(), &["create", "--role", "worker"]).await;
    assert!(ok);
    let worker_token = worker["token"].as_str().unwrap().to_string();
    let (ok, _, err) = keys(
        dir.path(),
        &["create", "--role", "client", "--name", "alice"],
    )
    .await;
    assert!(!ok && err.contains("exists already"), "{err}");

    let node = Node::start_with_env(dir.path(), "", &[("OBELYSK_AUTH_REQUIRED", "true")]);
    let fib_bytes = plugin("fibonacci");
    let upload = || {
        client()
            .post(node.url("/plugins"))
            .header("content-type", "application/wasm")
            .body(fib_bytes.clone())
    };

    // No token, a malformed header, an unknown token: 401 with a JSON reason.
    let (status, headers, body) = send(upload(), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, body) = send(upload().header("authorization", "Basic eDp5"), None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("unauthorized"))
    );
    let (status, _, _) = send(upload(), Some("obk_not_a_key")).await;
    assert_eq!(status, 401);
    // A worker key is the wrong role.
    let (status, _, body) = send(upload(), Some(&worker_token)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    // The client key uploads; reads need no key.
    let (status, _, body) = send(upload(), Some(&alice_token)).await;
    assert!(status == 201 || status == 200, "{status} {body}");
    let fib = body["id"].as_str().unwrap().to_string();
    assert_eq!(node.get("/plugins").await.0, 200);
    assert_eq!(node.get("/jobs").await.0, 200);

    let submit = |request: Value| client().post(node.url("/jobs")).json(&request);
    let run = |n: u32| json!({"plugin": fib, "input": [n], "prove": false});
    let (status, _, _) = send(submit(run(10)), None).await;
    assert_eq!(status, 401);
    // More steps than the key allows per job: refused at submit, before any rate counts.
    let mut greedy = run(10);
    greedy["max_steps"] = json!(100_001);
    let (status, headers, body) = send(submit(greedy), Some(&alice_token)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert_eq!(body["error"]["details"]["limit"], "max_steps");
    assert!(
        !headers.contains_key("retry-after"),
        "waiting cannot cure it"
    );

    // Three jobs a minute: the first three pass and carry the key and its step limit.
    let mut ids = Vec::new();
    for n in [10, 100_000, 12] {
        let (status, _, body) = send(submit(run(n)), Some(&alice_token)).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let (status, headers, body) = send(submit(run(13)), Some(&alice_token)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert_eq!(body["error"]["details"]["limit"], "jobs_per_minute");
    assert_eq!(headers["retry-after"], "60");

    let small = node.wait(&ids[0]).await;
    assert_eq!(small["status"], "completed", "{small}");
    assert_eq!(small["key"], alice["id"]);
    assert_eq!(small["max_steps"], 100_000);
    assert_eq!(words(&small["output"]), [fibonacci(10)]);
    // A run past the key's step limit fails with `step_limit`.
    let long = node.wait(&ids[1]).await;
    assert_eq!(long["status"], "failed", "{long}");
    assert_eq!(long["error"]["code"], "step_limit", "{long}");

    // Revoked while the node runs: its token stops working at the next request.
    let (ok, revoked, err) = keys(dir.path(), &["revoke", "alice"]).await;
    assert!(ok, "{err}");
    assert_eq!(revoked["id"], alice["id"]);
    let (status, _, body) = send(upload(), Some(&alice_token)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "key_revoked");
    let (ok, _, err) = keys(dir.path(), &["revoke", "alice"]).await;
    assert!(!ok && err.contains("no live key"), "{err}");

    // The list shows both keys and never a token or its hash.
    let (ok, list, _) = keys(dir.path(), &["list"]).await;
    assert!(ok);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let text = serde_json::to_string(list).unwrap();
    assert!(
        !text.contains(&alice_token) && !text.contains("token"),
        "{text}"
    );
    assert!(
        list.iter()
            .any(|k| k["name"] == "alice" && !k["revoked_at"].is_null())
    );

    // Idempotency keys belong to their API key: another client reusing one gets its own job.
    let (_, other, _) = keys(dir.path(), &["create", "--role", "client"]).await;
    let other_token = other["token"].as_str().unwrap().to_string();
    let (_, fresh, _) = keys(dir.path(), &["create", "--role", "client"]).await;
    let token = fresh["token"].as_str().unwrap().to_string();
    let idempotent = |token: String| {
        let request = submit(run(5)).header("idempotency-key", "same-key");
        async move { send(request, Some(&token)).await }
    };
    let (status, _, first) = idempotent(token.clone()).await;
    assert_eq!(status, 202, "{first}");
    let (status, _, replay) = idempotent(token.clone()).await;
    assert_eq!((status, &replay["id"]), (200, &first["id"]));
    let (status, _, theirs) = idempotent(other_token).await;
    assert_eq!(status, 202, "{theirs}");
    assert_ne!(theirs["id"], first["id"]);

    // The CLI client sends --token (or OBELYSK_TOKEN).
    let submit_cli = |token: Option<String>| {
        let mut args = vec![
            "submit".to_string(),
            "--plugin".into(),
            fib.clone(),
            "--input".into(),
            "7".into(),
            "--no-prove".into(),
            "--wait".into(),
            "--json".into(),
            "--node".into(),
            node.url.clone(),
        ];
        if let Some(token) = token {
            args.extend(["--token".into(), token]);
        }
        tokio::task::spawn_blocking(move || Command::new(OBELYSK).args(&args).output().unwrap())
    };
    let out = submit_cli(Some(token)).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = submit_cli(None).await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unauthorized"),
        "{out:?}"
    );
}
