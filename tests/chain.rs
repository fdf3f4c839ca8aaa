//! Attestation on Starknet end to end: a local devnet, the registry deployed with
//! `obelysk chain deploy`, a node whose outbox attests every proven job, across a SIGKILL and a
//! restart, and `obelysk chain attest` / `obelysk chain show` checked against proof files.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use obelysk_chain::devnet::{Devnet, DevnetAccount};
use obelysk_chain::{Client, Felt};
use obelysk_node::store::{ChainState, OutboxUpdate, SqliteStore, Store};
use serde_json::Value;

use crate::support::*;

const PROVER: &str = "[limits]\nworkers = 2\n[prover]\nworkers = 1\nmax_steps = 1048576\n";

/// `obelysk chain …` as `account`, against `devnet`.
fn chain_cli(devnet: &Devnet, account: &DevnetAccount, args: &[&str]) -> Output {
    Command::new(OBELYSK)
        .arg("chain")
        .args(args)
        .args(["--rpc-url", devnet.url()])
        .args(["--account", &format!("{:#x}", account.address)])
        .env(
            "STARKNET_PRIVATE_KEY",
            format!("{:#x}", account.private_key),
        )
        .output()
        .expect("run obelysk chain")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A prover node's config attesting as `account`; receipts are waited for 2 s.
fn node_config(devnet: &Devnet, account: &DevnetAccount, registry: &str) -> String {
    format!(
        "{PROVER}[starknet]\nrpc_url = \"{}\"\naccount_address = \"{:#x}\"\n\
         contract_address = \"{registry}\"\nreceipt_timeout_s = 2\nmax_backoff_s = 1\n",
        devnet.url(),
        account.address
    )
}

/// Polls job `id` until `done` holds for its `chain` object; returns the job.
async fn wait_chain(node: &Node, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, job) = node.get(&format!("/jobs/{id}")).await;
        assert_eq!(status, 200, "{job}");
        if done(&job["chain"]) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "chain state of {id} never settled: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Downloads the proof of `id` with `obelysk proof` into `dir`.
fn download_proof(node: &Node, id: &str, dir: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("{id}.proof"));
    let output = Command::new(OBELYSK)
        .args(["proof", id, "-o"])
        .arg(&path)
        .args(["--node", &node.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proven_jobs_are_attested_on_devnet_exactly_once_across_a_restart() {
    let devnet = Devnet::start().await.expect("devnet starts");
    let [owner, prover, ..] = devnet.accounts() else {
        panic!("too few devnet accounts")
    };
    let tmp = temp_dir();

    // Deploy with the CLI: idempotent, the owner allowlisted as a prover.
    let deployed = chain_cli(&devnet, owner, &["deploy", "--json"]);
    assert!(deployed.status.success(), "{deployed:?}");
    let deployed: Value = serde_json::from_str(&stdout(&deployed)).unwrap();
    let again = chain_cli(&devnet, owner, &["deploy", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&again)).unwrap(),
        deployed
    );
    let registry = deployed["contract_address"].as_str().unwrap().to_string();
    let registry_felt = Felt::from_hex(&registry).unwrap();
    let reader = Client::reader(devnet.url()).await.unwrap();
    assert!(
        reader
            .is_prover(registry_felt, owner.address)
            .await
            .unwrap()
    );

    // A node attesting as `prover`, which is not allowlisted yet: proofs complete, the outbox
    // keeps retrying and each job says why.
    let dir = tmp.path().join("node");
    let env = [(
        "STARKNET_PRIVATE_KEY",
        &*format!("{:#x}", prover.private_key),
    )];
    let mut node = Node::start_with_env(&dir, &node_config(&devnet, prover, &registry), &env);
    let fib = node.plugin_id(&fixture("fib")).await;
    let mut jobs = Vec::new();
    for n in [100u32, 200, 300] {
        jobs.push(node.submit_proven(&fib, &[n]).await);
    }
    for id in &jobs {
        let job = node.wait(id).await;
        assert_eq!(job["status"], "completed", "{job}");
        let job = wait_chain(&node, id, |chain| chain["attempts"].as_u64() >= Some(1)).await;
        assert_eq!(job["chain"]["state"], "pending", "{job}");
        let error = job["chain"]["error"].as_str().unwrap_or_default();
        assert!(error.contains("not an allowlisted prover"), "{job}");
    }
    assert!(
        reader
            .attested_events(registry_felt)
            .await
            .unwrap()
            .is_empty()
    );

    // SIGKILL with the outbox full. One entry is then made to look like a crash between
    // recording a transaction hash and sending it: the hash never reaches the chain.
    node.kill();
    let never_sent = "0x1234";
    {
        let store = SqliteStore::open_path(&dir.join("obelysk.db"))
            .await
            .unwrap();
        let update = OutboxUpdate {
            state: ChainState::Sent,
            tx_hash: Some(never_sent.into()),
            attempts: 1,
            error: None,
            next_attempt_ms: 0,
        };
        let first = uuid::Uuid::parse_str(&jobs[0]).unwrap();
        store.update_outbox(first, &update).await.unwrap();
    }
    // Allowlist, restart: every job attested exactly once.
    let allowed = chain_cli(
        &devnet,
        owner,
        &[
            "add-prover",
            &format!("{:#x}", prover.address),
            "--contract",
            &registry,
        ],
    );
    assert!(allowed.status.success(), "{allowed:?}");
    let node = Node::start_with_env(&dir, &node_config(&devnet, prover, &registry), &env);
    let mut tx_of = HashMap::new();
    for id in &jobs {
        let job = wait_chain(&node, id, |chain| chain["state"] == "confirmed").await;
        tx_of.insert(
            id.clone(),
            job["chain"]["tx_hash"].as_str().unwrap().to_string(),
        );
    }
    assert_ne!(tx_of[&jobs[0]], never_sent);
    let events = reader.attested_events(registry_felt).await.unwrap();
    assert_eq!(events.len(), jobs.len(), "{events:?}");
    for id in &jobs {
        let job_id = uuid::Uuid::parse_str(id).unwrap().as_u128();
        let mine: Vec<_> = events.iter().filter(|e| e.job_id == job_id).collect();
        assert_eq!(mine.len(), 1, "job {id} attested {} times", mine.len());
        assert_eq!(format!("{:#x}", mine[0].tx_hash), tx_of[id]);
        reader
            .wait(mine[0].tx_hash)
            .await
            .expect("the receipt succeeded");

        // The record equals the node's proof record, and `chain show` checks it against the
        // proof file.
        let (_, proof) = node.get(&format!("/jobs/{id}/proof")).await;
        let record = reader.record(registry_felt, job_id).await.unwrap().unwrap();
        assert_eq!(
            proof["attestation"],
            format!("0x{}", hex::encode(record.attestation))
        );
        assert_eq!(proof["steps"], record.steps);
        assert_eq!(proof["security_bits"], record.security_bits);
        assert_eq!(record.prover, prover.address);
        let path = download_proof(&node, id, tmp.path());
        let shown = chain_cli(
            &devnet,
            prover,
            &[
                "show",
                id,
                "--contract",
                &registry,
                "--proof",
                path.to_str().unwrap(),
            ],
        );
        assert!(shown.status.success(), "{shown:?}");
        assert!(
            stdout(&shown).contains("proof file   matches"),
            "{}",
            stdout(&shown)
        );
    }

    // Another job's proof file does not match.
    let other = download_proof(&node, &jobs[1], tmp.path());
    let shown = chain_cli(
        &devnet,
        prover,
        &[
            "show",
            &jobs[0],
            "--contract",
            &registry,
            "--proof",
            other.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(shown.status.code(), Some(1), "{shown:?}");
    let shown: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(shown["proof_file_matches"], false);
    assert_eq!(shown["attestation_recomputes"], true);

    // By hand: a node without [starknet] proves a job; `chain attest` reads its proof record and
    // attests it; a second time is refused as a duplicate; unknown jobs are not attested.
    let plain = Node::start(&tmp.path().join("plain"), PROVER);
    let fib = plain.plugin_id(&fixture("fib")).await;
    let id = plain.submit_proven(&fib, &[50]).await;
    let job = plain.wait(&id).await;
    assert!(job.get("chain").is_none(), "{job}");
    let attest = [
        "attest",
        id.as_str(),
        "--contract",
        &registry,
        "--node",
        &plain.url,
    ];
    let first = chain_cli(&devnet, owner, &attest);
    assert!(first.status.success(), "{first:?}");
    assert!(stdout(&first).contains(job["attestation"].as_str().unwrap()));
    let second = chain_cli(&devnet, owner, &attest);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already attested"),
        "{second:?}"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    let shown = chain_cli(&devnet, owner, &["show", &unknown, "--contract", &registry]);
    assert_eq!(shown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&shown.stderr).contains("not attested"));
}
