//! Command-line interface of the `obelysk` binary.

mod build;
mod chain;
mod client;
mod export;
mod inspect;
mod keys;
mod prove;
mod run;
mod worker;

pub use build::{build_guest, guest_toolchain};

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Obelysk: run WebAssembly plugins in a sandbox and prove what they computed.
#[derive(Debug, Parser)]
#[command(name = "obelysk", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log as JSON lines (stderr).
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node: HTTP API, durable job store, sandbox workers.
    Serve(ServeArgs),
    /// Build a guest crate to a .wasm module (wraps cargo with -Zbuild-std for wasm32).
    Build(BuildArgs),
    /// Run a module locally in the sandbox, without a node.
    Run(RunArgs),
    /// Show a module's ABI facts and whether the Obelysk VM can lower (and later prove) it.
    Inspect(InspectArgs),
    /// Upload a module (or name a stored plugin) and submit a job to a node.
    Submit(SubmitArgs),
    /// Show a job of a node.
    Status(StatusArgs),
    /// Download the proof of a completed job.
    Proof(ProofArgs),
    /// Prove a module's run locally: writes a proof file.
    Prove(ProveArgs),
    /// Verify a proof file against a module; exit 0 only if it is valid.
    Verify(VerifyArgs),
    /// Starknet: deploy the attestation registry, allowlist provers, attest, show a record.
    Chain(chain::ChainArgs),
    /// API keys of a node: create (prints the token once), list, revoke.
    Keys(keys::KeysArgs),
    /// Prove jobs for a coordinator node (a remote prover worker).
    Worker(worker::WorkerArgs),
    /// Write the browser verifier as a static site (index.html and assets/) into DIR.
    ExportVerifier(ExportVerifierArgs),
}

#[derive(Debug, Args)]
pub struct ExportVerifierArgs {
    /// The folder to write (created if missing; the bundle's files in it are replaced).
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The module to prove.
    pub module: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the proof.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Security preset: 96 or 98 bits (each preset's worst-case level).
    #[arg(long, default_value_t = 96)]
    pub security: u32,
    /// Step budget of the run.
    #[arg(long, default_value_t = obelysk_prover::vm::DEFAULT_MAX_STEPS)]
    pub max_steps: u64,
    /// Prover backend: simd, cpu, cuda (a GPU) or auto (cuda when there is one). Same proof.
    #[arg(long, default_value = "simd")]
    pub backend: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The module the proof is about.
    pub module: PathBuf,
    /// The proof file.
    pub proof: PathBuf,
    /// Refuse proofs below this many bits of security.
    #[arg(long, default_value_t = 96)]
    pub min_security: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file (see the README for its sections).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides [server] host).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one (overrides [server] port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Directory for the database (overrides [store] data_dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The guest crate directory (holding Cargo.toml, crate-type = ["cdylib"]).
    pub crate_dir: PathBuf,
    /// Where to write the module (default: cargo's artifact path, printed at the end).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Where a job's input words come from.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Input words: comma-separated u32, decimal or 0x-hex (e.g. `48,18,7`).
    #[arg(long, short, default_value = "", conflicts_with = "input_text")]
    pub input: String,
    /// Input as a byte payload made from this UTF-8 text (for byte-oriented plugins).
    #[arg(long)]
    pub input_text: Option<String>,
}

impl InputArgs {
    /// The input words these arguments describe.
    pub fn words(&self) -> anyhow::Result<Vec<u32>> {
        match &self.input_text {
            Some(text) => Ok(obelysk_guest::codec::pack_bytes(text.as_bytes())),
            None => parse_words(&self.input),
        }
    }
}

/// Parses `1,2,0x10` into words.
pub fn parse_words(text: &str) -> anyhow::Result<Vec<u32>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => s.parse::<u32>(),
            };
            parsed.map_err(|_| anyhow::anyhow!("input word `{s}` is not a u32 (decimal or 0x-hex)"))
        })
        .collect()
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module to run.
    pub module: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Fuel budget (default from the node defaults).
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Wall-clock limit in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The module to inspect.
    pub module: PathBuf,
    /// Also print the lowered Obelysk IR.
    #[arg(long)]
    pub ir: bool,
    /// Print one JSON object instead of text.
    #[arg(long, conflicts_with = "ir")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Node URL.
    #[arg(long, env = "OBELYSK_NODE", default_value = "http://127.0.0.1:8080")]
    pub node: String,
    /// API key token, sent as `Authorization: Bearer` (needed where the node has `[auth]
    /// required` on).
    #[arg(long, env = "OBELYSK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl NodeArgs {
    /// An HTTP client of the node, sending the token (if any) with every request.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &self.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| anyhow::anyhow!("the token has characters a header cannot carry"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        Ok(reqwest::Client::builder()
            .default_headers(headers)
            .build()?)
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// A module to upload first (skip with --plugin).
    #[arg(required_unless_present = "plugin", conflicts_with = "plugin")]
    pub module: Option<PathBuf>,
    /// The id of a plugin already on the node.
    #[arg(long)]
    pub plugin: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Only run the job: no proof (any module; the default proves, verifies and attests).
    #[arg(long)]
    pub no_prove: bool,
    /// Wait for the job to finish and print its result (and attestation).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: where to save the proof (default: <job id>.proof).
    #[arg(long, short = 'o')]
    pub proof_out: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    /// The job id.
    pub job: String,
    /// Where to write the proof file.
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Print the proof record as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job id.
    pub job: String,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Print the node's JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let mut config = crate::config::Config::load(args.config.as_deref(), env)?;
            if let Some(host) = args.host {
                config.server.host = host;
            }
            if let Some(port) = args.port {
                config.server.port = port;
            }
            if let Some(dir) = args.data_dir {
                config.store.data_dir = dir;
            }
            crate::server::serve(config).await?;
            Ok(0)
        }
        Command::Build(args) => {
            let built = tokio::task::spawn_blocking(move || {
                build_guest(&args.crate_dir, args.output.as_deref())
            })
            .await??;
            println!("{}", built.display());
            Ok(0)
        }
        Command::Run(args) => run::run(args).await,
        Command::Inspect(args) => inspect::inspect(args),
        Command::Submit(args) => client::submit(args).await,
        Command::Status(args) => client::status(args).await,
        Command::Proof(args) => client::proof(args).await,
        Command::Prove(args) => tokio::task::spawn_blocking(move || prove::prove(args)).await?,
        Command::Verify(args) => tokio::task::spawn_blocking(move || prove::verify(args)).await?,
        Command::Chain(args) => chain::chain(args).await,
        Command::Keys(args) => keys::keys(args).await,
        Command::Worker(args) => worker::worker(args).await,
        Command::ExportVerifier(args) => export::export_verifier(&args.dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_words() {
        assert_eq!(parse_words("48, 18,7").unwrap(), vec![48, 18, 7]);
        assert_eq!(parse_words("0x10,4294967295").unwrap(), vec![16, u32::MAX]);
        assert_eq!(parse_words("").unwrap(), Vec::<u32>::new());
        assert!(parse_words("4294967296").is_err());
        assert!(parse_words("-1").is_err());
        assert!(parse_words("abc").unwrap_err().to_string().contains("abc"));
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
