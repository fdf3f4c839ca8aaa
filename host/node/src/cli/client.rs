//! `obelysk submit` and `obelysk status`: a small HTTP client of a node.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

use super::{ProofArgs, StatusArgs, SubmitArgs};

/// How long `--wait` waits for a job before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(3600);

pub async fn submit(args: SubmitArgs) -> anyhow::Result<i32> {
    let client = args.node.client()?;
    let node = args.node.node.trim_end_matches('/');
    let input = args.input.words()?;
    let plugin = match (&args.plugin, &args.module) {
        (Some(id), _) => id.clone(),
        (None, Some(path)) => {
            let bytes = super::prove::read_module(path)?;
            let response = client
                .post(format!("{node}/plugins"))
                .header("content-type", "application/wasm")
                .body(bytes)
                .send()
                .await
                .with_context(|| format!("cannot reach the node at {node}"))?;
            let plugin = expect_json(response).await?;
            plugin["id"]
                .as_str()
                .context("the node answered without a plugin id")?
                .to_string()
        }
        (None, None) => bail!("give a module path or --plugin"),
    };
    let response = client
        .post(format!("{node}/jobs"))
        .json(&serde_json::json!({"plugin": plugin, "input": input, "prove": !args.no_prove}))
        .send()
        .await
        .with_context(|| format!("cannot reach the node at {node}"))?;
    let accepted = expect_json(response).await?;
    let id = accepted["id"]
        .as_str()
        .context("the node answered without a job id")?
        .to_string();
    if !args.wait {
        if args.json {
            println!("{accepted}");
        } else {
            println!("job {id} queued (plugin {plugin})");
        }
        return Ok(0);
    }

    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(100));
    let job = tokio::time::timeout(WAIT_LIMIT, wait_for_job(&client, node, &id, &spinner))
        .await
        .map_err(|_| {
            anyhow::anyhow!("job {id} did not finish within {} s", WAIT_LIMIT.as_secs())
        })??;
    spinner.finish_and_clear();
    if job["status"] != "completed" || args.no_prove {
        print_job(&job, args.json);
        return Ok(if job["status"] == "completed" { 0 } else { 1 });
    }
    let path = args
        .proof_out
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{id}.proof")));
    let record = download_proof(&client, node, &id, &path).await?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"job": job, "proof": record, "proof_file": path})
        );
    } else {
        print_job(&job, false);
        print_proof(&record, &path);
    }
    Ok(0)
}

pub async fn proof(args: ProofArgs) -> anyhow::Result<i32> {
    let client = args.node.client()?;
    let node = args.node.node.trim_end_matches('/');
    let record = download_proof(&client, node, &args.job, &args.output).await?;
    if args.json {
        println!("{record}");
    } else {
        print_proof(&record, &args.output);
    }
    Ok(0)
}

/// Fetches a job's proof record and file; writes the file to `path`.
async fn download_proof(
    client: &Client,
    node: &str,
    id: &str,
    path: &std::path::Path,
) -> anyhow::Result<Value> {
    let unreachable = || format!("cannot reach the node at {node}");
    let record = expect_json(
        client
            .get(format!("{node}/jobs/{id}/proof"))
            .send()
            .await
            .with_context(unreachable)?,
    )
    .await?;
    let response = client
        .get(format!("{node}/jobs/{id}/proof.bin"))
        .send()
        .await
        .with_context(unreachable)?;
    if !response.status().is_success() {
        expect_json(response).await?;
        bail!("the node did not send the proof file");
    }
    let bytes = response.bytes().await.context("downloading the proof")?;
    std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(record)
}

fn print_proof(record: &Value, path: &std::path::Path) {
    let text = |key: &str| record[key].as_str().unwrap_or("?").to_string();
    println!("attestation {}", text("attestation"));
    println!("program    {}", text("program_id"));
    println!(
        "proof      {} ({} bytes, {} steps, {} bits, proven in {} ms, verified in {} ms)",
        path.display(),
        record["size"],
        record["steps"],
        record["security_bits"],
        record["prove_ms"],
        record["verify_ms"]
    );
}

/// Waits for a job to finish: follows its event stream, and polls if the stream ends early.
async fn wait_for_job(
    client: &Client,
    node: &str,
    id: &str,
    spinner: &indicatif::ProgressBar,
) -> anyhow::Result<Value> {
    // Each change of status or phase is a line (on stderr) with the time since submission.
    let started = std::time::Instant::now();
    let last = std::cell::RefCell::new(String::new());
    let show = |job: &Value| {
        let status = job["status"].as_str().unwrap_or("?");
        let stage = match job["phase"].as_str() {
            Some(phase) => format!("{status} ({phase})"),
            None => status.to_string(),
        };
        let progress = job["progress"].as_u64().unwrap_or(0);
        if *last.borrow() != stage {
            let line = format!("[{:7.2} s] {stage}", started.elapsed().as_secs_f64());
            if spinner.is_hidden() {
                eprintln!("{line}");
            } else {
                spinner.println(line);
            }
            *last.borrow_mut() = stage.clone();
        }
        spinner.set_message(format!("job {id}: {stage} {progress}%"));
    };
    if let Ok(Some(job)) = follow_events(client, node, id, &show).await {
        return Ok(job);
    }
    let mut delay = Duration::from_millis(20);
    loop {
        let job = fetch_job(client, node, id).await?;
        show(&job);
        if is_finished(&job) {
            return Ok(job);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// Reads `GET /jobs/{id}/events` until the job finishes; `None` if the stream ends first.
async fn follow_events(
    client: &Client,
    node: &str,
    id: &str,
    show: &dyn Fn(&Value),
) -> anyhow::Result<Option<Value>> {
    use futures_util::StreamExt;
    let response = client
        .get(format!("{node}/jobs/{id}/events"))
        .send()
        .await?;
    if !response.status().is_success() {
        return Ok(None);
    }
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        buffer.extend_from_slice(&chunk?);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let event = String::from_utf8_lossy(&event);
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            let job: Value = serde_json::from_str(&data.join("\n"))?;
            show(&job);
            if is_finished(&job) {
                return Ok(Some(job));
            }
        }
    }
    Ok(None)
}

fn is_finished(job: &Value) -> bool {
    job["status"] == "completed" || job["status"] == "failed"
}

pub async fn status(args: StatusArgs) -> anyhow::Result<i32> {
    let client = args.node.client()?;
    let job = fetch_job(&client, args.node.node.trim_end_matches('/'), &args.job).await?;
    print_job(&job, args.json);
    Ok(0)
}

async fn fetch_job(client: &Client, node: &str, id: &str) -> anyhow::Result<Value> {
    let response = client
        .get(format!("{node}/jobs/{id}"))
        .send()
        .await
        .with_context(|| format!("cannot reach the node at {node}"))?;
    expect_json(response).await
}

/// The JSON body of a 2xx answer; a node error becomes `[code] message`.
async fn expect_json(response: Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let code = body["error"]["code"].as_str().unwrap_or("unknown");
    let message = body["error"]["message"].as_str().unwrap_or("(no message)");
    if status == StatusCode::TOO_MANY_REQUESTS {
        bail!("the node is busy [{code}]: {message}");
    }
    bail!("the node answered {status} [{code}]: {message}")
}

fn print_job(job: &Value, json: bool) {
    if json {
        println!("{job}");
        return;
    }
    println!("job        {}", job["id"].as_str().unwrap_or("?"));
    println!("plugin     {}", job["plugin"].as_str().unwrap_or("?"));
    println!("status     {}", job["status"].as_str().unwrap_or("?"));
    if let Some(output) = job["output"].as_array() {
        let words: Vec<String> = output.iter().map(|w| w.to_string()).collect();
        println!("output     [{}]", words.join(", "));
    }
    if let Some(fuel) = job["fuel_used"].as_u64() {
        println!("fuel used  {fuel}");
    }
    if let Some(steps) = job["vm_steps"].as_u64() {
        println!("vm steps   {steps}");
    }
    if let Some(phase) = job["phase"].as_str() {
        println!("phase      {phase} ({}%)", job["progress"]);
    }
    if job["error"].is_object() {
        println!(
            "error      [{}] {}",
            job["error"]["code"].as_str().unwrap_or("?"),
            job["error"]["message"].as_str().unwrap_or("")
        );
    }
}
