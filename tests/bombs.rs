//! Hostile modules hit their limit with a typed failure; other jobs still complete.

use std::time::{Duration, Instant};

use crate::support::*;

/// A node whose fuel limit is far beyond what its one-second deadline lets a job use, so
/// fuel and time are separate guards; jobs lower their fuel budget per request.
const LIMITS: &str = "[limits]\nworkers = 2\nfuel = 100000000000\nmemory_mb = 64\n\
                      max_wasm_stack_kb = 256\ntimeout_ms = 1000\n";

#[tokio::test(flavor = "multi_thread")]
async fn every_bomb_fails_with_its_reason() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), LIMITS);
    let fib = node.plugin_id(&plugin("fibonacci")).await;

    // (fixture, fuel budget of the job, expected failure)
    let bombs = [
        ("infinite_loop", Some(20_000_000), "out_of_fuel"),
        ("memory_bomb", None, "memory_limit"),
        ("deep_recursion", None, "stack_overflow"),
        ("slow", None, "timeout"),
    ];
    let mut jobs = Vec::new();
    for (name, fuel, _) in bombs {
        let id = node.plugin_id(&fixture(name)).await;
        let (status, accepted) = node
            .submit_json(serde_json::json!({"plugin": id, "fuel": fuel}))
            .await;
        assert_eq!(status, 202, "{accepted}");
        jobs.push(accepted["id"].as_str().unwrap().to_string());
        // Honest work interleaved with the bombs.
        jobs.push(node.job_id(&fib, &[30]).await);
    }
    let started = Instant::now();
    for (i, id) in jobs.iter().enumerate() {
        let job = node.wait(id).await;
        if i % 2 == 1 {
            assert_eq!(job["status"], "completed", "{job}");
            assert_eq!(words(&job["output"]), vec![fibonacci(30)]);
            continue;
        }
        let (name, _, code) = bombs[i / 2];
        assert_eq!(job["status"], "failed", "{name}: {job}");
        assert_eq!(job["error"]["code"], code, "{name}: {job}");
        // Only the wall clock depends on load: a timeout may pass on a retry, the rest cannot.
        assert_eq!(
            job["error"]["retryable"],
            code == "timeout",
            "{name}: {job}"
        );
        assert!(job["output"].is_null());
    }
    // The deadline, not the (huge) fuel limit, stopped the slow job.
    assert!(started.elapsed() < Duration::from_secs(30));
    let slow = node.wait(&jobs[6]).await;
    assert!(
        slow["error"]["message"].as_str().unwrap().contains("1.0 s"),
        "{slow}"
    );
    let (status, health) = node.get("/health").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429_and_recovers() {
    let dir = temp_dir();
    let node = Node::start(
        dir.path(),
        "[limits]\nworkers = 1\nqueue_capacity = 2\ntimeout_ms = 1500\nfuel = 100000000000\n",
    );
    let slow = node.plugin_id(&fixture("slow")).await;
    let fib = node.plugin_id(&plugin("fibonacci")).await;

    // The single worker takes the slow job; two more fill the queue; the next is refused.
    let busy = node.job_id(&slow, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.wait_status(&busy).await != "running" {
        assert!(Instant::now() < deadline, "the slow job never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let a = node.job_id(&fib, &[5]).await;
    let b = node.job_id(&fib, &[6]).await;
    let response = client()
        .post(node.url("/jobs"))
        .json(&serde_json::json!({"plugin": fib, "input": [7], "prove": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    assert_eq!(body["error"]["retryable"], true);

    assert_eq!(node.wait(&busy).await["error"]["code"], "timeout");
    assert_eq!(node.output(&a).await, vec![5]);
    assert_eq!(node.output(&b).await, vec![8]);
    let c = node.job_id(&fib, &[7]).await;
    assert_eq!(node.output(&c).await, vec![13]);
}

#[tokio::test(flavor = "multi_thread")]
async fn job_budgets_are_checked_against_the_node() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), LIMITS);
    let fib = node.plugin_id(&plugin("fibonacci")).await;
    for request in [
        serde_json::json!({"plugin": fib, "input": [1], "fuel": 0}),
        serde_json::json!({"plugin": fib, "input": [1], "fuel": 100000000001u64}),
        serde_json::json!({"plugin": fib, "input": [1], "timeout_ms": 1001}),
    ] {
        let (status, body) = node.submit_json(request).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("limit_exceeded")),
            "{body}"
        );
    }
    // A budget too small for the work fails the job; the same job with the default completes.
    let (_, small) = node
        .submit_json(serde_json::json!({"plugin": fib, "input": [100000], "fuel": 1000}))
        .await;
    let job = node.wait(small["id"].as_str().unwrap()).await;
    assert_eq!(
        (job["error"]["code"].as_str(), job["fuel_limit"].as_u64()),
        (Some("out_of_fuel"), Some(1000))
    );
    let id = node.job_id(&fib, &[100000]).await;
    assert_eq!(node.output(&id).await, vec![fibonacci(100000)]);
}

impl Node {
    async fn wait_status(&self, id: &str) -> String {
        let (_, job) = self.get(&format!("/jobs/{id}")).await;
        job["status"].as_str().unwrap().to_string()
    }
}
