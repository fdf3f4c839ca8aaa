//! Node configuration: one serde struct, filled from defaults < TOML file < environment
//! (`OBELYSK_<SECTION>_<KEY>`, e.g. `OBELYSK_SERVER_PORT=9000`) < command-line flags.
//!
//! ```toml
//! [server]
//! host = "127.0.0.1"
//! port = 8080
//!
//! [store]
//! data_dir = ".obelysk"     # SQLite database and proof files
//! url = ""                  # empty: sqlite://<data_dir>/obelysk.db; postgres://… is shared
//!
//! [gpu]
//! enabled = false
//! device_ids = []
//! mode = "throughput"
//!
//! [limits]
//! max_module_bytes = 16777216
//! fuel = 1000000000
//! memory_mb = 256
//! max_wasm_stack_kb = 512
//! timeout_ms = 30000
//! max_input_words = 1048576
//! max_output_words = 1048576
//! queue_capacity = 1024
//! workers = 0               # 0: one per CPU core
//!
//! [prover]
//! workers = 0               # proofs at a time; 0: from cores and memory
//! backend = "simd"          # stwo backend: simd, cpu (scalar reference), cuda, or auto
//!                           # (cuda when a GPU and NVRTC are present, else simd)
//! max_steps = 4194304       # longer runs fail with `step_limit` instead of exhausting memory
//! memory_mb = 0             # memory for proofs in flight; 0: 3/4 of what is available
//! security_bits = 96        # 96 or 98 (presets by their worst-case level)
//! local = true              # false: a pure coordinator, only remote workers prove
//! lease_ms = 30000          # a remote worker's lease on a job, renewed by heartbeats (on
//!                           # PostgreSQL also a node's hold on the jobs it runs or proves)
//! heartbeat_ms = 5000       # how often remote workers send one
//!
//! [starknet]                # attest completed proven jobs; off while rpc_url is empty
//! rpc_url = ""              # JSON-RPC endpoint, e.g. http://127.0.0.1:5050
//! account_address = ""      # the prover account (allowlisted in the registry)
//! contract_address = ""     # the registry (`obelysk chain deploy` prints it)
//! receipt_timeout_s = 120   # then the chain is checked and the submission retried
//! max_backoff_s = 300       # longest pause between retries
//!
//! [auth]
//! required = false          # true: mutating routes need `Authorization: Bearer <token>`
//!                           # (keys from `obelysk keys create`); turn on for exposed nodes
//! ```
//!
//! The account's private key is read only from `STARKNET_PRIVATE_KEY`, never from a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole node configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub gpu: GpuConfig,
    pub limits: LimitsConfig,
    pub prover: ProverConfig,
    pub starknet: StarknetConfig,
    pub auth: AuthConfig,
}

/// The sections of [`Config`], which `OBELYSK_<SECTION>_<KEY>` variables may set (any other
/// `OBELYSK_` variable, such as `OBELYSK_LOG`, is not configuration).
pub const SECTIONS: [&str; 7] = [
    "server", "store", "gpu", "limits", "prover", "starknet", "auth",
];

/// `[auth]`: API keys on the mutating routes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Uploads, submissions and estimates need `Authorization: Bearer <token>` of a client
    /// key (`obelysk keys create`). Off by default (the embedded demo); turn it on for any
    /// node reachable by others.
    pub required: bool,
}

/// `[starknet]`: where attestations of completed, proven jobs go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StarknetConfig {
    /// JSON-RPC url; empty turns attestation off.
    pub rpc_url: String,
    /// `0x` address of the submitting account.
    pub account_address: String,
    /// `0x` address of the attestation registry.
    pub contract_address: String,
    /// Seconds to wait for a receipt before checking the chain and retrying.
    pub receipt_timeout_s: u64,
    /// Longest pause between retries, in seconds.
    pub max_backoff_s: u64,
}

impl Default for StarknetConfig {
    fn default() -> Self {
        StarknetConfig {
            rpc_url: String::new(),
            account_address: String::new(),
            contract_address: String::new(),
            receipt_timeout_s: 120,
            max_backoff_s: 300,
        }
    }
}

impl StarknetConfig {
    /// Whether the node attests on chain.
    pub fn enabled(&self) -> bool {
        !self.rpc_url.is_empty()
    }
}

/// `[prover]`: the prover pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProverConfig {
    /// Proofs in flight; 0 picks from the cores and the memory budget.
    pub workers: usize,
    /// `simd`, `cpu`, `cuda` or `auto` (stwo backends; the same proofs byte for byte).
    pub backend: String,
    /// Runs of more VM steps fail with `step_limit`.
    pub max_steps: u64,
    /// Memory for proofs in flight, in MiB; 0 means 3/4 of the available memory.
    pub memory_mb: u64,
    /// 96 or 98: the presets, named by their worst-case level (see `obelysk_air::security`).
    pub security_bits: u32,
    /// Prove on this node's own cores (or GPUs). `false` makes a pure coordinator: only
    /// remote workers (`obelysk worker`) prove.
    pub local: bool,
    /// How long a remote worker's lease on a job lasts past its last heartbeat, in ms.
    pub lease_ms: u64,
    /// How often remote workers send a heartbeat, in ms.
    pub heartbeat_ms: u64,
}

impl Default for ProverConfig {
    fn default() -> Self {
        ProverConfig {
            workers: 0,
            backend: "simd".into(),
            max_steps: obelysk_prover::vm::DEFAULT_MAX_STEPS,
            memory_mb: 0,
            security_bits: 96,
            local: true,
            lease_ms: 30_000,
            heartbeat_ms: 5_000,
        }
    }
}

/// `[server]`: where the HTTP API listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 8080,
        }
    }
}

/// `[store]`: where jobs and modules are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// Database URL; empty means `sqlite://<data_dir>/obelysk.db`.
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from(".obelysk"),
            url: String::new(),
        }
    }
}

impl StoreConfig {
    /// The database URL in force.
    pub fn database_url(&self) -> String {
        if self.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("obelysk.db").display())
        } else {
            self.url.clone()
        }
    }
}

/// `[gpu]`: prover devices (used by proving; reported by `GET /gpu/status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpuConfig {
    pub enabled: bool,
    pub device_ids: Vec<u32>,
    /// `throughput` (one job per device) or `distributed`.
    pub mode: String,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            enabled: false,
            device_ids: Vec::new(),
            mode: "throughput".into(),
        }
    }
}

/// `[limits]`: what one job and the node as a whole may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_module_bytes: usize,
    pub fuel: u64,
    pub memory_mb: usize,
    pub max_wasm_stack_kb: usize,
    pub timeout_ms: u64,
    pub max_input_words: usize,
    pub max_output_words: usize,
    /// Jobs waiting beyond this answer 429.
    pub queue_capacity: usize,
    /// Sandbox workers; 0 means one per CPU core.
    pub workers: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let sandbox = obelysk_sandbox::Limits::default();
        LimitsConfig {
            max_module_bytes: 16 << 20,
            fuel: sandbox.fuel,
            memory_mb: sandbox.memory_bytes >> 20,
            max_wasm_stack_kb: sandbox.max_wasm_stack >> 10,
            timeout_ms: sandbox.timeout.as_millis() as u64,
            max_input_words: sandbox.max_input_words,
            max_output_words: sandbox.max_output_words,
            queue_capacity: 1024,
            workers: 0,
        }
    }
}

impl LimitsConfig {
    /// The sandbox limits these settings describe.
    pub fn sandbox(&self) -> obelysk_sandbox::Limits {
        obelysk_sandbox::Limits {
            fuel: self.fuel,
            memory_bytes: self.memory_mb << 20,
            max_wasm_stack: self.max_wasm_stack_kb << 10,
            timeout: Duration::from_millis(self.timeout_ms),
            max_input_words: self.max_input_words,
            max_output_words: self.max_output_words,
            ..obelysk_sandbox::Limits::default()
        }
    }

    /// Worker count with `0` resolved to the number of CPU cores.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

impl Config {
    /// Loads defaults, then `file` (if any), then `OBELYSK_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let Some(rest) = var.strip_prefix("OBELYSK_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            let section = section.to_ascii_lowercase();
            if !SECTIONS.contains(&section.as_str()) {
                continue;
            }
            let entry = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| ConfigError::Env {
                    var: var.clone(),
                    reason: "section is not a table".into(),
                })?;
            entry.insert(key.to_ascii_lowercase(), env_value(&value));
        }
        Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

/// Reads an environment value as a TOML literal (`9000`, `true`, `[0, 1]`), else as a string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "[server]\nport = 7000\nhost = \"0.0.0.0\"\n[gpu]\ndevice_ids = [0, 1]\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            env(&[
                ("OBELYSK_SERVER_PORT", "9000"),
                ("OBELYSK_LIMITS_TIMEOUT_MS", "1500"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.port, 9000);
        assert_eq!(config.server.host, "0.0.0.0");
        assert_eq!(config.gpu.device_ids, vec![0, 1]);
        assert_eq!(config.limits.timeout_ms, 1500);
        assert_eq!(config.limits.fuel, LimitsConfig::default().fuel);
    }

    #[test]
    fn every_section_is_settable_from_the_environment() {
        let default = toml::Value::try_from(Config::default()).unwrap();
        let sections: Vec<&String> = default.as_table().unwrap().keys().collect();
        assert_eq!(sections.len(), SECTIONS.len(), "{sections:?}");
        for section in sections {
            assert!(SECTIONS.contains(&section.as_str()), "{section}");
        }
        let config = Config::load(None, env(&[("OBELYSK_AUTH_REQUIRED", "true")])).unwrap();
        assert!(config.auth.required);
    }

    #[test]
    fn env_strings_and_defaults() {
        let config = Config::load(None, env(&[("OBELYSK_STORE_DATA_DIR", "/tmp/x y")])).unwrap();
        assert_eq!(config.store.data_dir, PathBuf::from("/tmp/x y"));
        assert_eq!(config.store.database_url(), "sqlite:///tmp/x y/obelysk.db");
        let url = "postgres://obelysk@db:5432/jobs";
        let config = Config::load(None, env(&[("OBELYSK_STORE_URL", url)])).unwrap();
        assert_eq!(config.store.database_url(), url);
        assert_eq!(config.server, ServerConfig::default());
    }

    #[test]
    fn unknown_keys_and_bad_types_are_errors() {
        let err = Config::load(None, env(&[("OBELYSK_SERVER_PROT", "1")])).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
        let err = Config::load(None, env(&[("OBELYSK_SERVER_PORT", "eighty")])).unwrap_err();
        assert!(
            err.to_string().contains("port") || err.to_string().contains("invalid"),
            "{err}"
        );
    }
}
