//! The node's pages in a real browser: Debian's Chromium, headless, driven through its
//! ChromeDriver (W3C WebDriver) by `fantoccini`. WebDriver because Debian ships a ChromeDriver
//! built from the same source as its Chromium (no version to match by hand), the protocol is a
//! W3C standard, and fantoccini is a maintained async client on the tokio we already run.
//!
//! Screenshots of every page go to `<target>/screenshots/`. Without Chromium the tests print
//! `SKIP` (not verified); `make test` installs it and sets `OBELYSK_REQUIRE_BROWSER=1`, so
//! there a missing browser fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::*;

const CONFIG: &str = "[limits]\nworkers = 2\n[prover]\nworkers = 1\nmax_steps = 1048576\n";

/// A headless Chromium session; the driver is killed when dropped.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver and a Chromium session, or `None` (with a visible SKIP) when they are
    /// not installed and the run does not require them.
    async fn start(test: &str) -> Option<Browser> {
        let found = ["chromedriver", "chromium"]
            .iter()
            .all(|tool| which(tool).is_some());
        if !found {
            assert!(
                std::env::var_os("OBELYSK_REQUIRE_BROWSER").is_none(),
                "OBELYSK_REQUIRE_BROWSER is set but chromium or chromedriver is missing \
                 (`make browser` installs them)"
            );
            eprintln!("SKIP {test}: no chromium/chromedriver (not verified; `make browser`)");
            return None;
        }
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = temp_dir();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": which("chromium").unwrap(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1800", "--no-first-run", "--disable-quic",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Runs `script` (a function body) until it returns something truthy; returns that.
    async fn until(&self, what: &str, script: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.client.execute(script, vec![]).await.unwrap();
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// Chooses `path` in the file input `css`.
    async fn choose_file(&self, css: &str, path: &Path) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(&path.display().to_string())
            .await
            .unwrap();
    }

    /// Writes `<target>/screenshots/NAME.png`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = plugins_dir().parent().unwrap().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn which(tool: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !path.is_empty()).then_some(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `dir` as a plain static host (a stand-in for any web server), on its own port.
async fn static_host(dir: PathBuf) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let dir = dir.clone();
        async move {
            let path = match uri.path().trim_start_matches('/') {
                "" => "index.html".to_string(),
                p => p.to_string(),
            };
            if path.contains("..") {
                return (
                    axum::http::StatusCode::NOT_FOUND,
                    [("content-type", "text/plain")],
                    Vec::new(),
                );
            }
            let kind = match path.rsplit('.').next() {
                Some("html") => "text/html",
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("wasm") => "application/wasm",
                _ => "application/octet-stream",
            };
            match std::fs::read(dir.join(&path)) {
                Ok(bytes) => (axum::http::StatusCode::OK, [("content-type", kind)], bytes),
                Err(_) => (
                    axum::http::StatusCode::NOT_FOUND,
                    [("content-type", "text/plain")],
                    Vec::new(),
                ),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// `obelysk export-verifier <under>/site`: the folder.
async fn export_verifier(under: &Path) -> PathBuf {
    let site = under.join("site");
    let out = Command::new(OBELYSK)
        .arg("export-verifier")
        .arg(&site)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    site
}

/// Waits for the status page's estimate; whether it fits (`"true"` / `"false"`).
async fn estimate_fits(browser: &Browser) -> Value {
    browser
        .until(
            "the estimate",
            "const d = document.querySelector('#estimate dl'); return d ? d.dataset.fits : null;",
            60,
        )
        .await
}

/// Waits until the verifier page shows a verdict; returns it (`data-*` of `#verdict`).
async fn verdict(browser: &Browser) -> Value {
    browser
        .until(
            "a verdict",
            "const v = document.getElementById('verdict'); \
             return v && v.dataset.valid ? Object.assign({}, v.dataset, {text: v.innerText}) : null;",
            60,
        )
        .await
}

/// Chooses a module and a proof on the verifier page and verifies them there.
async fn verify_files(browser: &Browser, module: &Path, proof: &Path) -> Value {
    browser
        .until(
            "the verifier",
            "return document.body.dataset.ready === 'true';",
            30,
        )
        .await;
    browser.js("document.getElementById('verdict').hidden = true; delete document.getElementById('verdict').dataset.valid;").await;
    browser.choose_file("#module-file", module).await;
    browser.choose_file("#proof-file", proof).await;
    browser
        .until(
            "both files",
            "return !document.getElementById('verify-btn').disabled;",
            10,
        )
        .await;
    browser.click("#verify-btn").await;
    verdict(browser).await
}

#[tokio::test]
async fn the_status_page_submits_follows_and_the_browser_verifies() {
    let Some(browser) =
        Browser::start("the_status_page_submits_follows_and_the_browser_verifies").await
    else {
        return;
    };
    let tmp = temp_dir();
    let mut node = Node::start(&tmp.path().join("node"), CONFIG);
    let fib_module = plugin("fibonacci");
    plugin("sum-array");
    let fib_path = plugins_dir().join("fibonacci.wasm");
    let other_module = plugins_dir().join("sum-array.wasm");
    let plugin_id = node.plugin_id(&fib_module).await;
    for n in [5, 8] {
        let id = node.submit_proven(&plugin_id, &[n]).await;
        node.wait(&id).await;
    }

    // The page loads and lists the jobs, live.
    browser.goto(&node.url("/")).await;
    browser
        .until(
            "the jobs listed",
            "return document.querySelectorAll('#jobs tr.job[data-status=completed]').length >= 2;",
            20,
        )
        .await;
    browser
        .until(
            "the live stream",
            "return document.getElementById('live').textContent === 'live';",
            20,
        )
        .await;
    browser
        .until("the proof columns", "return [...document.querySelectorAll('#jobs tr.job')].every(r => /KB/.test(r.children[7].textContent));", 20)
        .await;
    let chart_jobs = browser
        .until(
            "the chart",
            "return Number(document.getElementById('chart').dataset.jobs) || null;",
            20,
        )
        .await;
    assert_eq!(chart_jobs, json!(2), "the chart counts both completions");

    // Submit from the page: choose the module, type the input, estimate, submit, follow.
    browser.choose_file("#module-file", &fib_path).await;
    browser.type_into("#job-input", "30").await;
    browser.click("#estimate-btn").await;
    assert_eq!(estimate_fits(&browser).await, json!("true"));
    let estimate = browser
        .js("return document.getElementById('estimate').innerText;")
        .await;
    let estimate = estimate.as_str().unwrap();
    assert!(
        estimate.contains("VM steps") && estimate.contains("Predicted prove time"),
        "{estimate}"
    );
    assert!(estimate.contains(&fibonacci_output(30)), "{estimate}");
    browser.screenshot("status-estimate").await;
    browser.click("#submit-btn").await;
    let id = browser
        .until(
            "the followed job",
            "return document.getElementById('followed').dataset.job || null;",
            20,
        )
        .await;
    let id = id.as_str().unwrap().to_string();
    // Progress moves on the page while the job runs.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = browser
            .js("const b = document.getElementById('followed'); \
                 return [b.dataset.status || '', document.getElementById('followed-progress').value];")
            .await;
        seen.insert(now[1].as_u64().unwrap());
        if now[0] == "completed" {
            break;
        }
        assert!(
            now[0] != "failed" && Instant::now() < deadline,
            "job {id}: {now}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.iter().filter(|&&p| p > 0 && p < 100).count() >= 1 && seen.contains(&100),
        "progress values seen: {seen:?}"
    );
    let updates = browser
        .js("return Number(document.getElementById('followed').dataset.updates);")
        .await;
    assert!(updates.as_u64().unwrap() >= 3, "status events: {updates}");
    browser
        .until("the job completed in the list", &format!("return !!document.querySelector('#jobs tr.job[data-id=\"{id}\"][data-status=completed]');"), 20)
        .await;
    assert_eq!(node.output(&id).await, vec![fibonacci(30)]);
    browser
        .click(&format!("#jobs tr.job[data-id=\"{id}\"]"))
        .await;
    browser.screenshot("status").await;

    // The browser verifier, fed by the node: the job's module and proof, checked in the page.
    browser.goto(&node.url(&format!("/verify?job={id}"))).await;
    let valid = verdict(&browser).await;
    assert_eq!(valid["valid"], "true", "{valid}");
    let text = valid["text"].as_str().unwrap();
    assert!(text.contains(&fibonacci(30).to_string()), "{text}");
    assert!(text.contains("96 bits"), "{text}");
    assert!(text.contains("same output and attestation"), "{text}");
    browser.screenshot("verify").await;

    // A proof with one byte flipped, and a proof for another module, are rejected.
    let proof = reqwest::get(node.url(&format!("/jobs/{id}/proof.bin")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let good = tmp.path().join("good.proof");
    std::fs::write(&good, &proof).unwrap();
    let mut flipped = proof.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 1;
    let bad = tmp.path().join("flipped.proof");
    std::fs::write(&bad, &flipped).unwrap();
    browser.goto(&node.url("/verify")).await;
    let rejected = verify_files(&browser, &fib_path, &bad).await;
    assert_eq!(rejected["valid"], "false", "{rejected}");
    browser.screenshot("verify-flipped").await;
    let other = verify_files(&browser, &other_module, &good).await;
    assert_eq!(other["valid"], "false", "{other}");
    assert_eq!(other["code"], "program_mismatch", "{other}");

    // The list filters by status and pages back: 50 more run-only jobs push the three proven
    // ones off the first page.
    let mut run_only = Vec::new();
    for n in 0..50 {
        run_only.push(node.job_id(&plugin_id, &[n]).await);
    }
    for id in &run_only {
        node.wait(id).await;
    }
    browser.goto(&node.url("/")).await;
    let rows = |n: usize| {
        format!("return document.querySelectorAll('#jobs tr.job').length === {n} || null;")
    };
    browser.until("a full first page", &rows(50), 20).await;
    browser.click("#older-btn").await;
    browser.until("the older jobs", &rows(53), 20).await;
    let older_hidden = browser
        .js("return getComputedStyle(document.getElementById('older-btn')).display === 'none';")
        .await;
    assert_eq!(older_hidden, json!(true), "no page is left");
    browser
        .js(
            "const f = document.getElementById('status-filter'); f.value = 'failed'; \
             f.dispatchEvent(new Event('change'));",
        )
        .await;
    browser
        .until(
            "the empty filter",
            "return !document.getElementById('jobs-empty').hidden;",
            20,
        )
        .await;
    browser
        .js(
            "const f = document.getElementById('status-filter'); f.value = 'completed'; \
             f.dispatchEvent(new Event('change'));",
        )
        .await;
    browser.until("the completed jobs", &rows(50), 20).await;

    // Phone width: the status page fits, with no sideways scrolling.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.goto(&node.url("/")).await;
    browser
        .until(
            "the jobs listed",
            "return document.querySelectorAll('#jobs tr.job').length >= 3;",
            20,
        )
        .await;
    let overflow = browser
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page scrolls sideways by {overflow} px"
    );
    browser.screenshot("status-phone").await;
    browser.goto(&node.url(&format!("/verify?job={id}"))).await;
    assert_eq!(verdict(&browser).await["valid"], "true");
    let overflow = browser
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "/verify scrolls sideways by {overflow} px"
    );
    browser.screenshot("verify-phone").await;
    browser.client.set_window_size(1280, 1800).await.unwrap();

    // The exported bundle, on another host, verifies with the node gone.
    let bundle = export_verifier(tmp.path()).await;
    node.kill();
    let host = static_host(bundle).await;
    browser.goto(&format!("{host}/")).await;
    let offline = verify_files(&browser, &fib_path, &good).await;
    assert_eq!(offline["valid"], "true", "{offline}");
    let node_nav = browser
        .js("return getComputedStyle(document.getElementById('node-nav')).display === 'none';")
        .await;
    assert_eq!(node_nav, json!(true), "a standalone copy has no node");
    browser.screenshot("verify-exported").await;
    let flipped_offline = verify_files(&browser, &fib_path, &bad).await;
    assert_eq!(flipped_offline["valid"], "false");
}

#[tokio::test]
async fn the_page_sends_its_api_key_when_the_node_requires_one() {
    let Some(browser) =
        Browser::start("the_page_sends_its_api_key_when_the_node_requires_one").await
    else {
        return;
    };
    let tmp = temp_dir();
    let (ok, key, err) = keys(tmp.path(), &["create", "--role", "client", "--name", "web"]).await;
    assert!(ok, "{err}");
    let token = key["token"].as_str().unwrap();
    let node = Node::start_with_env(tmp.path(), CONFIG, &[("OBELYSK_AUTH_REQUIRED", "true")]);
    plugin("fibonacci");
    let fib_path = plugins_dir().join("fibonacci.wasm");

    // The page itself and its reads need no key; an upload without one is refused, and the
    // page says why.
    browser.goto(&node.url("/")).await;
    browser.choose_file("#module-file", &fib_path).await;
    browser.type_into("#job-input", "12").await;
    browser.click("#estimate-btn").await;
    let refused = browser
        .until("the refusal", "const e = document.getElementById('estimate'); return /unauthorized/.test(e.innerText) ? e.innerText : null;", 20)
        .await;
    assert!(refused.as_str().unwrap().contains("API key"), "{refused}");
    browser.screenshot("status-unauthorized").await;

    // With the key saved in the page, the same request goes through.
    let key_box = browser
        .js("return document.getElementById('key-box').open;")
        .await;
    assert_eq!(key_box, json!(true), "a refused key opens the key box");
    browser.type_into("#api-key", token).await;
    browser.click("#save-key").await;
    browser.click("#estimate-btn").await;
    assert_eq!(estimate_fits(&browser).await, json!("true"));
    let stored = browser
        .js("return localStorage.getItem('obelysk-api-key');")
        .await;
    assert_eq!(stored, json!(token));
}

fn fibonacci_output(n: u32) -> String {
    fibonacci(n).to_string()
}

/// A measurement, not a test (it asserts no time): the browser verifier's time against the
/// native verifier's, for proofs of about 2^10, 2^16 and 2^20 steps. Run it in release:
/// `cargo test --release -p obelysk-node --test e2e -- --ignored --nocapture measure_browser`.
/// Prints, per size, the median of 5 runs of: `obelysk_air::api::check` in this process,
/// the whole `obelysk verify` process, and `verify` in the exported page in Chromium.
#[tokio::test]
#[ignore]
async fn measure_browser_verify_time() {
    let Some(browser) = Browser::start("measure_browser_verify_time").await else {
        return;
    };
    let tmp = temp_dir();
    let site = export_verifier(tmp.path()).await;
    plugin("fibonacci");
    let module_path = plugins_dir().join("fibonacci.wasm");
    std::fs::copy(&module_path, site.join("module.wasm")).unwrap();
    let module = std::fs::read(&module_path).unwrap();
    let host = static_host(site.clone()).await;
    browser.goto(&format!("{host}/")).await;
    browser
        .until(
            "the verifier",
            "return document.body.dataset.ready === 'true';",
            30,
        )
        .await;
    // Fibonacci takes about 1.25 VM steps per iteration, plus a few dozen.
    for (label, n) in [("2^10", 780), ("2^16", 52_400), ("2^20", 838_800)] {
        let file = format!("{}.proof", label.replace('^', "-"));
        let proof_path = site.join(&file);
        let proved = Command::new(OBELYSK)
            .arg("prove")
            .arg(&module_path)
            .args(["--input", &n.to_string(), "-o"])
            .arg(&proof_path)
            .output()
            .unwrap();
        assert!(
            proved.status.success(),
            "{}",
            String::from_utf8_lossy(&proved.stderr)
        );
        let proof = std::fs::read(&proof_path).unwrap();
        let report = obelysk_air::api::check(&module, &proof, 96);
        let steps = report.proven.as_ref().expect("valid").steps;
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let in_process = median(
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    assert!(obelysk_air::api::check(&module, &proof, 96).valid);
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        );
        let process = median(
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    let status = Command::new(OBELYSK)
                        .arg("verify")
                        .arg(&module_path)
                        .arg(&proof_path)
                        .stdout(Stdio::null())
                        .status()
                        .unwrap();
                    assert!(status.success());
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        );
        let script = format!(
            "const v = await import('./assets/obelysk_web_verifier.js'); \
             const get = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer()); \
             const m = await get('module.wasm'), p = await get('{file}'); \
             const times = []; \
             for (let i = 0; i < 6; i++) {{ \
               const t = performance.now(); const r = JSON.parse(v.verify(m, p, 96)); \
               times.push(performance.now() - t); if (!r.valid) return r; }} \
             return times.slice(1);"
        );
        let times = browser.js(&script).await;
        let browser_ms = median(
            times
                .as_array()
                .unwrap_or_else(|| panic!("{times}"))
                .iter()
                .map(|t| t.as_f64().unwrap())
                .collect(),
        );
        println!(
            "{label}: {steps} steps, proof {} KB: browser {browser_ms:.1} ms, native check \
             {in_process:.1} ms ({:.2}x), `obelysk verify` process {process:.1} ms ({:.2}x)",
            proof.len() / 1024,
            browser_ms / in_process,
            browser_ms / process,
        );
    }
    let wasm = std::fs::metadata(site.join("assets/obelysk_web_verifier_bg.wasm"))
        .unwrap()
        .len();
    println!("wasm verifier: {wasm} bytes");
}
