//! Several coordinators on one PostgreSQL queue (a throwaway server from Debian's packages),
//! with remote workers: every job completes exactly once with a verified proof, and a
//! coordinator killed with jobs in hand loses none of them.

use std::time::{Duration, Instant};

use obelysk_node::store::temp_postgres::TempPostgres;
use serde_json::json;

use crate::support::*;
use crate::workers::Worker;

/// A coordinator with short leases, so that a dead node's or worker's jobs return in seconds.
fn coordinator(local: bool) -> String {
    format!("[prover]\nlocal = {local}\nlease_ms = 2000\nheartbeat_ms = 300\n")
}

async fn postgres(name: &str) -> (TempPostgres, String) {
    let server = TempPostgres::start().expect("PostgreSQL (Debian's postgresql package)");
    let url = server.create_database(name).await.unwrap();
    (server, url)
}

/// The sum of `jobs_finished_total{outcome="completed"}` over `nodes`.
async fn completed_total(nodes: &[&Node]) -> u64 {
    let mut total = 0;
    for node in nodes {
        let metrics = node.metrics().await;
        total += metrics
            .lines()
            .find(|l| l.starts_with("obelysk_jobs_finished_total{outcome=\"completed\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0, |n| n.parse::<f64>().unwrap() as u64);
    }
    total
}

#[tokio::test(flavor = "multi_thread")]
async fn two_coordinators_and_three_workers_complete_every_job_once() {
    let tmp = temp_dir();
    let (_server, url) = postgres("two_coordinators").await;
    let env = [("OBELYSK_STORE_URL", url.as_str())];
    let a = Node::start_with_env(&tmp.path().join("a"), &coordinator(false), &env);
    let b = Node::start_with_env(&tmp.path().join("b"), &coordinator(false), &env);
    let workers: Vec<Worker> = [&a, &a, &b]
        .iter()
        .enumerate()
        .map(|(i, node)| Worker::start(&node.url, None, &tmp.path().join(format!("w{i}.log")), &[]))
        .collect();
    // Uploaded to one, known to both.
    let fib = a.plugin_id(&fixture("fib")).await;
    assert_eq!(b.get(&format!("/plugins/{fib}")).await.0, 200);

    let mut jobs = Vec::new();
    for n in 0..60u32 {
        let node = if n % 2 == 0 { &a } else { &b };
        jobs.push((node.submit_proven(&fib, &[n]).await, n));
    }
    // Changes made anywhere reach every node: `b` streams the events of the last job `a`
    // accepted (it still waits behind the others) as other nodes and workers move it.
    let (last_on_a, _) = &jobs[58];
    let stream = b.url(&format!("/jobs/{last_on_a}/events"));
    let events = tokio::spawn(read_events_within(stream, 300));
    for (id, n) in &jobs {
        // Each node answers for every job, wherever it was submitted.
        let node = if n % 3 == 0 { &a } else { &b };
        assert_eq!(node.output(id).await, [fibonacci(*n)], "job {id}");
        let (_, job) = node.get(&format!("/jobs/{id}")).await;
        assert_eq!(
            (&job["status"], &job["attempts"]),
            (&json!("completed"), &json!(1)),
            "{job}"
        );
    }
    let events = events.await.unwrap();
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"completed"), "{statuses:?}");
    assert!(
        statuses.len() >= 2,
        "b followed the job's changes: {statuses:?}"
    );
    // Each completed once: the workers' completions and the nodes' counts add up to 60.
    let (_, listed) = b.get("/workers").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let done: u64 = listed
        .iter()
        .map(|w| w["jobs_done"].as_u64().unwrap())
        .sum();
    let failed: u64 = listed
        .iter()
        .map(|w| w["jobs_failed"].as_u64().unwrap())
        .sum();
    assert_eq!((done, failed), (60, 0), "{listed:?}");
    assert!(
        listed.iter().all(|w| w["jobs_done"].as_u64().unwrap() > 0),
        "every worker proved: {listed:?}"
    );
    assert_eq!(completed_total(&[&a, &b]).await, 60);
    // Proofs are in the database: the node a job was not submitted to serves it too.
    let module = tmp.path().join("fib.wasm");
    std::fs::write(&module, fixture("fib")).unwrap();
    for (id, n) in jobs.iter().step_by(15) {
        let other = if n % 2 == 0 { &b } else { &a };
        other.verify_with_cli(id, &module, tmp.path()).await;
    }
    drop(workers);
}

/// A coordinator proving on its own cores is SIGKILLed mid-proof: the other sends its jobs
/// back to the queue once its lease lapses, and completes them and every other job.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_coordinator_loses_no_job() {
    let tmp = temp_dir();
    let (_server, url) = postgres("killed_coordinator").await;
    let env = [("OBELYSK_STORE_URL", url.as_str())];
    let mut a = Node::start_with_env(&tmp.path().join("a"), &coordinator(true), &env);
    let b = Node::start_with_env(&tmp.path().join("b"), &coordinator(false), &env);
    let _worker = Worker::start(&b.url, None, &tmp.path().join("w.log"), &[]);
    let fib = a.plugin_id(&fixture("fib")).await;
    // Long enough that `a`'s prover is busy when it dies.
    let mut jobs = Vec::new();
    for n in [16_000u32, 16_001, 16_002, 16_003] {
        jobs.push((a.submit_proven(&fib, &[n]).await, n));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let held_by_a = loop {
        let mut held = None;
        for (id, _) in &jobs {
            let (_, job) = b.get(&format!("/jobs/{id}")).await;
            let proving_locally =
                job["status"] == "proving" && job["phase"] != "waiting" && job["worker"].is_null();
            if proving_locally {
                held = Some(id.clone());
            }
        }
        if let Some(id) = held {
            break id;
        }
        assert!(Instant::now() < deadline, "a never proved a job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    a.kill();
    // `b` keeps serving: new work is accepted and done.
    for n in [5u32, 6] {
        jobs.push((b.submit_proven(&fib, &[n]).await, n));
    }
    for (id, n) in &jobs {
        assert_eq!(b.output(id).await, [fibonacci(*n)], "job {id}");
    }
    let (_, job) = b.get(&format!("/jobs/{held_by_a}")).await;
    assert_eq!(job["status"], "completed", "{job}");
    let log = std::fs::read_to_string(tmp.path().join("b/node.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("a lease expired") && l.contains(held_by_a.as_str())),
        "b's sweep took back the job a held: {log}"
    );
    let (_, page) = b.get("/jobs?limit=100").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), jobs.len(), "{page}");
}
