//! Remote prover workers: a pure coordinator (`[prover] local = false`) and `obelysk worker`
//! processes, with keys on. A worker that uploads proofs of a tampered witness is refused,
//! quarantined, and its jobs complete elsewhere; a worker killed mid-proof loses its lease and the job completes
//! on another; the coordinator verifies every proof it accepts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// A coordinator that never proves itself, with short leases so that a dead worker's job
/// returns within seconds.
const COORDINATOR: &str = "[prover]\nlocal = false\nlease_ms = 2000\nheartbeat_ms = 300\n";

/// An `obelysk worker` process; killed when dropped.
pub struct Worker {
    child: Child,
    pub id: String,
}

impl Worker {
    /// Starts a worker for `coordinator`, logging to `log`; returns once it registered.
    pub fn start(
        coordinator: &str,
        token: Option<&str>,
        log: &Path,
        env: &[(&str, &str)],
    ) -> Worker {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(OBELYSK)
            .args(["worker", "--coordinator", coordinator, "--backend", "simd"])
            .args(token.map(|token| ["--token", token]).into_iter().flatten())
            .env("OBELYSK_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let id = line_after(&mut child, "registered as ").expect("the worker registers");
        Worker { child, id }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `obelysk keys create --role ROLE` in `dir`: the token.
fn key(dir: &Path, role: &str) -> String {
    let out = Command::new(OBELYSK)
        .args(["keys", "create", "--role", role, "--json", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    key["token"].as_str().unwrap().to_string()
}

/// The coordinator's record of worker `id`.
async fn worker(node: &Node, id: &str) -> Value {
    let (status, workers) = node.get("/workers").await;
    assert_eq!(status, 200);
    workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("worker {id} is not listed: {workers}"))
}

/// Polls `check` on job `id` until it holds (60 s at most).
async fn until_job(node: &Node, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, job) = node.get(&format!("/jobs/{id}")).await;
        if check(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id}: never {what}: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_workers_prove_and_a_tampering_or_dead_one_loses_its_jobs() {
    let tmp = temp_dir();
    let (client_token, worker_token) = (key(tmp.path(), "client"), key(tmp.path(), "worker"));
    let node = Node::start_with_env(
        tmp.path(),
        COORDINATOR,
        &[("OBELYSK_AUTH_REQUIRED", "true")],
    );
    let register = json!({"backend": "simd", "memory_bytes": 1, "version": "t"});
    let post = |path: &str, token: &str| {
        client()
            .post(node.url(path))
            .bearer_auth(token)
            .json(&register)
    };
    // Registration needs a worker key.
    let response = client()
        .post(node.url("/workers/register"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = post("/workers/register", &client_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    let upload = client()
        .post(node.url("/plugins"))
        .bearer_auth(&client_token)
        .header("content-type", "application/wasm")
        .body(fixture("fib"))
        .send()
        .await
        .unwrap();
    let fib = upload.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let submit = |n: u32| {
        let request = client()
            .post(node.url("/jobs"))
            .bearer_auth(&client_token)
            .json(&json!({"plugin": fib, "input": [n], "prove": true}));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 202);
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    // 1. A worker whose proofs are of a tampered witness: its upload is refused, the job
    //    goes back to the queue, and the worker is quarantined (no more leases), so it cannot
    //    keep the coordinator verifying.
    let mut liar = Worker::start(
        &node.url,
        Some(&worker_token),
        &tmp.path().join("liar.log"),
        &[("OBELYSK_TEST_TAMPER", "witness")],
    );
    let jobs = [submit(30).await, submit(31).await];
    let deadline = Instant::now() + Duration::from_secs(120);
    while worker(&node, &liar.id).await["jobs_failed"]
        .as_u64()
        .unwrap()
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            worker(&node, &liar.id).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let record = worker(&node, &liar.id).await;
    assert!(!record["quarantined_until"].is_null(), "{record}");
    assert_eq!(
        (
            &record["jobs_failed"],
            &record["jobs_done"],
            &record["leases"]
        ),
        (&json!(1), &json!(0), &json!(0)),
        "{record}"
    );
    liar.kill();
    for id in &jobs {
        let (_, job) = node.get(&format!("/jobs/{id}")).await;
        assert_eq!(job["status"], "proving", "{job}");
    }

    // 2. An honest worker completes them, with proofs that verify anywhere.
    let mut honest = Worker::start(
        &node.url,
        Some(&worker_token),
        &tmp.path().join("w1.log"),
        &[],
    );
    for (id, n) in jobs.iter().zip([30, 31]) {
        assert_eq!(node.output(id).await, [fibonacci(n)]);
    }
    let module = tmp.path().join("fib.wasm");
    std::fs::write(&module, fixture("fib")).unwrap();
    node.verify_with_cli(&jobs[0], &module, tmp.path()).await;
    assert_eq!(worker(&node, &honest.id).await["jobs_done"], 2);

    // 3. Killed mid-proof: its lease expires, another worker completes the job.
    let long = submit(16_000).await;
    until_job(&node, &long, "leased", |job| {
        job["worker"] == honest.id.as_str()
    })
    .await;
    honest.kill();
    let first = honest.id.clone();
    let spare = Worker::start(
        &node.url,
        Some(&worker_token),
        &tmp.path().join("w2.log"),
        &[],
    );
    assert_eq!(node.output(&long).await, [fibonacci(16_000)]);
    let (first, spare) = (worker(&node, &first).await, worker(&node, &spare.id).await);
    assert_eq!(first["jobs_done"], 2, "{first}");
    assert_eq!(first["jobs_failed"], 1, "the expired lease: {first}");
    assert_eq!(first["state"], "lost", "no heartbeats: {first}");
    assert_eq!(spare["jobs_done"], 1, "{spare}");
    assert_eq!(spare["state"], "active");

    // The GPU report aggregates the active workers (CPU workers: no devices here).
    let (_, gpus) = node.get("/gpu/status").await;
    let workers = gpus["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{gpus}");
    assert_eq!(workers[0]["worker"], spare["id"]);
}

/// A worker outlives its coordinator: killed and restarted on the same port and data
/// directory, the coordinator still knows the worker, which keeps proving.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_outlives_a_coordinator_restart() {
    let tmp = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut node = Node::start_on(tmp.path(), COORDINATOR, &[], port);
    let worker = Worker::start(&node.url, None, &tmp.path().join("w.log"), &[]);
    let fib = node.plugin_id(&fixture("fib")).await;
    let first = node.submit_proven(&fib, &[20]).await;
    assert_eq!(node.output(&first).await, [fibonacci(20)]);

    node.kill();
    let node = Node::start_on(tmp.path(), COORDINATOR, &[], port);
    let second = node.submit_proven(&fib, &[21]).await;
    assert_eq!(node.output(&second).await, [fibonacci(21)]);
    let record = self::worker(&node, &worker.id).await;
    assert_eq!(
        (&record["jobs_done"], &record["state"]),
        (&json!(2), &json!("active")),
        "{record}"
    );
}
