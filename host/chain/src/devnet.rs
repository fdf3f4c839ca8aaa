//! A local `starknet-devnet` for tests: started on 127.0.0.1 with `--seed 0 --port 0`, ready
//! once `/is_alive` answers, stopped (by pid) when dropped.
//!
//! The binary is `$OBELYSK_DEVNET`, or where `make devnet` installs the pinned version.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use starknet_rust::core::types::Felt;

/// The pinned devnet release (`make devnet` installs it).
pub const VERSION: &str = "0.10.1";

/// A predeployed, funded account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevnetAccount {
    pub address: Felt,
    pub private_key: Felt,
}

/// A running devnet.
pub struct Devnet {
    child: Child,
    url: String,
    accounts: Vec<DevnetAccount>,
}

/// Why a devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error(
        "starknet-devnet not found at {0} (run `make devnet`, or set OBELYSK_DEVNET to its path)"
    )]
    Missing(PathBuf),
    #[error("starknet-devnet: {0}")]
    Start(String),
}

/// Where the devnet binary is expected.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OBELYSK_DEVNET") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home)
        .join(format!(".cache/obelysk/starknet-devnet-{VERSION}"))
        .join("bin/starknet-devnet")
}

impl Devnet {
    /// Starts a devnet and waits until it answers (at most 60 s).
    pub async fn start() -> Result<Devnet, DevnetError> {
        let path = binary();
        if !path.is_file() {
            return Err(DevnetError::Missing(path));
        }
        let mut child = Command::new(&path)
            .args(["--seed", "0", "--port", "0", "--host", "127.0.0.1"])
            .args(["--accounts", "4"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| DevnetError::Start(format!("cannot run {}: {e}", path.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // The address comes in the log line "Starknet Devnet listening on HOST:PORT"; the rest of
        // the output is drained so the pipe never fills.
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.split("listening on ").nth(1) {
                    let _ = address_tx.send(address.trim().to_string());
                }
            }
        });
        let mut devnet = Devnet {
            child,
            url: String::new(),
            accounts: Vec::new(),
        };
        let address =
            tokio::task::spawn_blocking(move || address_rx.recv_timeout(Duration::from_secs(60)))
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| {
                    DevnetError::Start("did not report its address within 60 s".into())
                })?;
        devnet.url = format!("http://{address}");
        devnet.wait_alive().await?;
        devnet.accounts = devnet.predeployed_accounts().await?;
        Ok(devnet)
    }

    /// JSON-RPC url.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id (tests kill it to simulate an outage).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The predeployed accounts (deterministic for seed 0).
    pub fn accounts(&self) -> &[DevnetAccount] {
        &self.accounts
    }

    async fn wait_alive(&self) -> Result<(), DevnetError> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let alive = client
                .get(format!("{}/is_alive", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if alive {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DevnetError::Start(
                    "/is_alive did not answer within 60 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn predeployed_accounts(&self) -> Result<Vec<DevnetAccount>, DevnetError> {
        let request = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "devnet_getPredeployedAccounts", "params": {}
        });
        let response: serde_json::Value = reqwest::Client::new()
            .post(&self.url)
            .json(&request)
            .send()
            .await
            .map_err(|e| DevnetError::Start(format!("devnet_getPredeployedAccounts: {e}")))?
            .json()
            .await
            .map_err(|e| DevnetError::Start(format!("devnet_getPredeployedAccounts: {e}")))?;
        let felt = |value: &serde_json::Value| {
            value
                .as_str()
                .and_then(|text| Felt::from_hex(text).ok())
                .ok_or_else(|| DevnetError::Start(format!("unexpected account field {value}")))
        };
        response["result"]
            .as_array()
            .ok_or_else(|| DevnetError::Start(format!("unexpected accounts reply {response}")))?
            .iter()
            .map(|account| {
                Ok(DevnetAccount {
                    address: felt(&account["address"])?,
                    private_key: felt(&account["private_key"])?,
                })
            })
            .collect()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
