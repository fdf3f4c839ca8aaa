//! Test harness: nodes as child processes, plugin builds, reference computations.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `obelysk` binary under test.
pub const OBELYSK: &str = env!("CARGO_BIN_EXE_obelysk");

/// A running node; killed when dropped.
pub struct Node {
    child: Child,
    pub url: String,
}

impl Node {
    /// Starts a node on a free port with its data in `dir` and `config` as its TOML file.
    pub fn start(dir: &Path, config: &str) -> Node {
        Self::start_with_env(dir, config, &[])
    }

    /// [`Node::start`] with extra environment variables.
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Node {
        Self::start_on(dir, config, env, 0)
    }

    /// [`Node::start_with_env`] on `port` (0: a free one).
    pub fn start_on(dir: &Path, config: &str, env: &[(&str, &str)], port: u16) -> Node {
        std::fs::create_dir_all(dir).unwrap();
        let config_path = dir.join("node.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("node.log"))
            .unwrap();
        let mut child = Command::new(OBELYSK)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(dir)
            .env("OBELYSK_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start obelysk serve");
        let url = line_after(&mut child, "listening on ").unwrap_or_else(|| {
            panic!(
                "node did not start; log:\n{}",
                std::fs::read_to_string(dir.join("node.log")).unwrap_or_default()
            )
        });
        Node { child, url }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Uploads `bytes`, returning (status, body).
    pub async fn upload(&self, bytes: &[u8]) -> (u16, Value) {
        let response = client()
            .post(self.url("/plugins"))
            .header("content-type", "application/wasm")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Uploads a module that must be accepted; returns its id.
    pub async fn plugin_id(&self, bytes: &[u8]) -> String {
        let (status, body) = self.upload(bytes).await;
        assert!(status == 200 || status == 201, "upload: {status} {body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Submits a job, returning (status, body).
    pub async fn submit(&self, plugin: &str, input: &[u32]) -> (u16, Value) {
        self.submit_json(serde_json::json!({"plugin": plugin, "input": input}))
            .await
    }

    /// The node process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Submits a raw job request, returning (status, body). A request without `"prove"` is
    /// sent with `"prove": false`: most tests are about running; `proving.rs` says `true`.
    pub async fn submit_json(&self, mut request: Value) -> (u16, Value) {
        if let Some(fields) = request.as_object_mut() {
            fields.entry("prove").or_insert(Value::Bool(false));
        }
        let response = client()
            .post(self.url("/jobs"))
            .json(&request)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Submits a job to be proven that must be accepted; returns its id.
    pub async fn submit_proven(&self, plugin: &str, input: &[u32]) -> String {
        let request = serde_json::json!({"plugin": plugin, "input": input, "prove": true});
        let (status, body) = self.submit_json(request).await;
        assert_eq!(status, 202, "submit: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Submits a job that must be accepted; returns its id.
    pub async fn job_id(&self, plugin: &str, input: &[u32]) -> String {
        let (status, body) = self.submit(plugin, input).await;
        assert_eq!(status, 202, "submit: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = client().get(self.url(path)).send().await.unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// The node's `GET /metrics` text.
    pub async fn metrics(&self) -> String {
        let response = client().get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Downloads job `id`'s proof into `dir` and checks it against `module` with
    /// `obelysk verify`, which must accept it.
    pub async fn verify_with_cli(&self, id: &str, module: &Path, dir: &Path) {
        let bytes = client()
            .get(self.url(&format!("/jobs/{id}/proof.bin")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let path = dir.join(format!("{id}.proof"));
        std::fs::write(&path, &bytes).unwrap();
        let verify = Command::new(OBELYSK)
            .arg("verify")
            .arg(module)
            .arg(&path)
            .output()
            .unwrap();
        assert!(verify.status.success(), "{verify:?}");
    }

    /// Waits until job `id` is completed or failed and returns it.
    pub async fn wait(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (status, job) = self.get(&format!("/jobs/{id}")).await;
            assert_eq!(status, 200, "{job}");
            if job["status"] == "completed" || job["status"] == "failed" {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not finish: {job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a job that must complete; returns its output words.
    pub async fn output(&self, id: &str) -> Vec<u32> {
        let job = self.wait(id).await;
        assert_eq!(job["status"], "completed", "{job}");
        words(&job["output"])
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The rest of the first line of `child`'s stdout that starts with `prefix`, within 60 s
/// (`None` if none came). Its stdout must be piped; it is read to the end on a thread.
pub fn line_after(child: &mut Child, prefix: &'static str) -> Option<String> {
    let stdout = child.stdout.take().expect("a piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).ok()
}

/// Every `data:` payload of an event stream, read until the server ends it (60 s at most).
pub async fn read_events(url: String) -> Vec<serde_json::Value> {
    read_events_within(url, 60).await
}

/// [`read_events`], waiting `secs` at most.
pub async fn read_events_within(url: String, secs: u64) -> Vec<serde_json::Value> {
    use futures_util::StreamExt;
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let read = async {
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.unwrap());
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(secs), read)
        .await
        .expect("the stream ends");
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim_start()).unwrap())
        .collect()
}

pub fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap()
        })
        .clone()
}

pub fn words(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|w| w.as_u64().unwrap() as u32)
        .collect()
}

/// The first-party plugins, built once per test run with `obelysk build`.
pub fn plugin(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(bytes) = built.get(name) {
        return bytes.clone();
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .join(name);
    let out = plugins_dir().join(format!("{name}.wasm"));
    let status = Command::new(OBELYSK)
        .arg("build")
        .arg(&crate_dir)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "obelysk build {name} failed");
    let bytes = std::fs::read(&out).unwrap();
    built.insert(name.to_string(), bytes.clone());
    bytes
}

/// `<target dir>/plugins`, next to the test binary's profile directory.
pub fn plugins_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/e2e-HASH
    exe.ancestors().nth(3).unwrap().join("plugins")
}

/// The path of a file in `tests/fixtures`.
pub fn fixture_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(file)
}

/// A `.wat` fixture from `tests/fixtures`, assembled.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(&format!("{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fresh temp dir for one test's node(s).
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("obelysk-e2e-")
        .tempdir()
        .unwrap()
}

// Reference implementations of the plugins, written independently of the guests.

pub fn fibonacci(n: u32) -> u32 {
    let (mut a, mut b) = (0u32, 1u32);
    for _ in 0..n {
        let next = a.wrapping_add(b);
        a = b;
        b = next;
    }
    a
}

pub fn sum_array(words: &[u32]) -> Vec<u32> {
    let sum = words.iter().fold(0u32, |s, &w| s.wrapping_add(w));
    vec![
        words.len() as u32,
        sum,
        words.iter().copied().max().unwrap_or(0),
    ]
}

pub fn collatz(n: u32) -> Vec<u32> {
    let (mut x, mut steps, mut peak) = (u64::from(n), 0u32, u64::from(n));
    while x != 1 {
        x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
        peak = peak.max(x);
        steps += 1;
    }
    vec![steps, peak as u32, (peak >> 32) as u32]
}

pub fn sha256(bytes: &[u8]) -> Vec<u32> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

/// Config for a node with default limits and two workers.
pub const DEFAULT_CONFIG: &str = "[limits]\nworkers = 2\n";

/// The `matmul` plugin's input type, encoded on the host with postcard.
#[derive(serde::Serialize, Clone)]
pub struct Matrix {
    pub rows: u32,
    pub cols: u32,
    pub data: Vec<u32>,
}

/// Input words for `matmul`: the byte payload of postcard `(a, b)`.
pub fn matmul_input(a: &Matrix, b: &Matrix) -> Vec<u32> {
    obelysk_guest::codec::pack_bytes(&postcard::to_allocvec(&(a, b)).unwrap())
}

pub fn matmul(a: &Matrix, b: &Matrix) -> Vec<u32> {
    let mut out = vec![a.rows, b.cols];
    for r in 0..a.rows {
        for c in 0..b.cols {
            let mut dot = 0u32;
            for k in 0..a.cols {
                dot = dot.wrapping_add(
                    a.data[(r * a.cols + k) as usize]
                        .wrapping_mul(b.data[(k * b.cols + c) as usize]),
                );
            }
            out.push(dot);
        }
    }
    out
}

/// The `keccak256` plugin's output: the digest as 8 big-endian words.
pub fn keccak256(bytes: &[u8]) -> Vec<u32> {
    use sha3::Digest;
    sha3::Keccak256::digest(bytes)
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

/// What the `json-order` plugin outputs for `json`, computed with `serde_json` (a different
/// parser): `[1, id, items, total low, total high, paid, FNV-1a of buyer]` or `[0]`.
pub fn json_order(json: &str) -> Vec<u32> {
    let order = || -> Option<Vec<u32>> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let word = |v: &serde_json::Value| u32::try_from(v.as_u64()?).ok();
        let items = value["items"]
            .as_array()
            .filter(|items| items.len() <= 32)?;
        let mut total = 0u64;
        for item in items {
            word(&item["sku"])?;
            total += u64::from(word(&item["qty"])?) * u64::from(word(&item["price"])?);
        }
        let buyer = value["buyer"].as_str()?;
        let fnv = buyer.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        Some(vec![
            1,
            word(&value["id"])?,
            items.len() as u32,
            total as u32,
            (total >> 32) as u32,
            u32::from(value["paid"].as_bool()?),
            fnv,
        ])
    };
    order().unwrap_or_else(|| vec![0])
}

/// The `merkle-proof` plugin's input type, encoded on the host with postcard.
#[derive(serde::Serialize, Clone)]
pub struct MerkleProof {
    pub leaf: Vec<u8>,
    pub index: u64,
    pub siblings: Vec<[u8; 32]>,
    pub root: [u8; 32],
}

fn rfc6962_node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The inclusion proof of leaf `index` in the RFC 6962 tree over `leaves` (a power of two
/// of them), built level by level.
pub fn merkle_proof(leaves: &[Vec<u8>], index: usize) -> MerkleProof {
    use sha2::Digest;
    let mut level: Vec<[u8; 32]> = leaves
        .iter()
        .map(|leaf| {
            sha2::Sha256::new()
                .chain_update([0u8])
                .chain_update(leaf)
                .finalize()
                .into()
        })
        .collect();
    let (mut at, mut siblings) = (index, Vec::new());
    while level.len() > 1 {
        siblings.push(level[at ^ 1]);
        level = level
            .chunks(2)
            .map(|pair| rfc6962_node(&pair[0], &pair[1]))
            .collect();
        at /= 2;
    }
    MerkleProof {
        leaf: leaves[index].clone(),
        index: index as u64,
        siblings,
        root: level[0],
    }
}

/// Input words for `merkle-proof`: the byte payload of postcard `proof`.
pub fn merkle_input(proof: &MerkleProof) -> Vec<u32> {
    obelysk_guest::codec::pack_bytes(&postcard::to_allocvec(proof).unwrap())
}

/// What `merkle-proof` outputs: `[valid, root words]`, where `root` is the tree's.
pub fn merkle_output(valid: bool, root: &[u8; 32]) -> Vec<u32> {
    let mut out = vec![u32::from(valid)];
    out.extend(
        root.chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap())),
    );
    out
}

/// The `mlp` plugin's network and classifier, rebuilt on the host from its documented
/// definition (plugins/mlp/src/lib.rs): `[class, logits as u32]`.
pub fn mlp(pixels: &[u8]) -> Vec<u32> {
    const INPUTS: usize = 784;
    const HIDDEN: usize = 32;
    const CLASSES: usize = 10;
    assert_eq!(pixels.len(), INPUTS);
    let mut state = 0x0be1_75c0u64;
    let mut draw = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        i32::from((state >> 56) as u8 as i8)
    };
    let hidden_weights: Vec<Vec<i32>> = (0..HIDDEN)
        .map(|_| (0..INPUTS).map(|_| draw()).collect())
        .collect();
    let hidden_bias: Vec<i32> = (0..HIDDEN).map(|_| draw() * 64).collect();
    let output_weights: Vec<Vec<i32>> = (0..CLASSES)
        .map(|_| (0..HIDDEN).map(|_| draw()).collect())
        .collect();
    let output_bias: Vec<i32> = (0..CLASSES).map(|_| draw() * 16).collect();
    let hidden: Vec<i32> = hidden_weights
        .iter()
        .zip(&hidden_bias)
        .map(|(row, bias)| {
            let acc: i32 = bias
                + row
                    .iter()
                    .zip(pixels)
                    .map(|(w, &p)| w * i32::from(p))
                    .sum::<i32>();
            (acc >> 8).clamp(0, 127)
        })
        .collect();
    let logits: Vec<i32> = output_weights
        .iter()
        .zip(&output_bias)
        .map(|(row, bias)| bias + row.iter().zip(&hidden).map(|(w, h)| w * h).sum::<i32>())
        .collect();
    let class = (0..CLASSES).fold(0, |best, k| if logits[k] > logits[best] { k } else { best });
    let mut out = vec![class as u32];
    out.extend(logits.iter().map(|&l| l as u32));
    out
}

/// A 28×28 test image: a filled disc of brightness `level` centred at (`cx`, `cy`) with
/// radius `r`, on black.
pub fn disc_image(cx: i32, cy: i32, r: i32, level: u8) -> Vec<u8> {
    (0..28 * 28)
        .map(|i| {
            let (x, y) = (i % 28, i / 28);
            let inside = (x - cx).pow(2) + (y - cy).pow(2) <= r * r;
            if inside { level } else { 0 }
        })
        .collect()
}

/// `obelysk keys ARGS --data-dir DIR --json`: its JSON, which must parse.
pub async fn keys(dir: &Path, args: &[&str]) -> (bool, Value, String) {
    let mut command: Vec<String> = vec!["keys".into()];
    command.extend(args.iter().map(|a| a.to_string()));
    command.extend([
        "--data-dir".into(),
        dir.display().to_string(),
        "--json".into(),
    ]);
    let out = tokio::task::spawn_blocking(move || Command::new(OBELYSK).args(&command).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let first = stdout.lines().next().unwrap_or("null");
    let value = serde_json::from_str(first).unwrap_or(Value::Null);
    (out.status.success(), value, stderr)
}
