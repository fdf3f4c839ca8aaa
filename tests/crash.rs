//! Crash safety: SIGKILL a node with jobs in flight; after a restart on the same data dir
//! every accepted job completes exactly once with the right output.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::*;

const JOBS: u32 = 50;
/// Large enough that each job takes milliseconds, so the kill lands mid-queue.
const BASE_N: u32 = 3_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_queue_loses_and_duplicates_nothing() {
    let dir = temp_dir();
    let config = "[limits]\nworkers = 1\n";
    let mut node = Node::start(dir.path(), config);
    let fib = node.plugin_id(&plugin("fibonacci")).await;

    let mut submitted = Vec::new();
    for i in 0..JOBS {
        submitted.push((node.job_id(&fib, &[BASE_N + i]).await, BASE_N + i));
    }
    // Kill once some, but not all, jobs are done.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_before = loop {
        let (_, page) = node.get("/jobs?status=completed&limit=500").await;
        let done = page["jobs"].as_array().unwrap().len();
        if done >= 3 {
            break done;
        }
        assert!(Instant::now() < deadline, "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    node.kill();
    eprintln!("killed the node with {done_before}/{JOBS} jobs completed");
    assert!(
        done_before < JOBS as usize,
        "the kill came too late to test anything"
    );

    let node = Node::start(dir.path(), config);
    let mut expected = std::collections::HashMap::new();
    let (mut a, mut b) = (fibonacci(BASE_N), fibonacci(BASE_N + 1));
    for i in 0..JOBS {
        expected.insert(BASE_N + i, a);
        (a, b) = (b, a.wrapping_add(b));
    }
    let mut retried = 0;
    for (id, n) in &submitted {
        let job = node.wait(id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(
            words(&job["output"]),
            vec![expected[n]],
            "job {id} (n = {n})"
        );
        if job["attempts"].as_u64().unwrap() > 1 {
            retried += 1;
        }
    }
    eprintln!("{retried} job(s) were re-run after the restart");
    assert!(
        retried <= 1,
        "with one worker at most one job was running at the kill"
    );

    let (_, page) = node.get("/jobs?limit=500").await;
    let listed: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), JOBS as usize, "no duplicated or phantom jobs");
    let listed: HashSet<&str> = listed.into_iter().collect();
    let want: HashSet<&str> = submitted.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(listed, want);
}
