//! `obelysk chain …`: deploy the attestation registry, allowlist provers, attest a job by hand,
//! and show (and check) what the chain holds for a job.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use obelysk_air::proof::ProofFile;
use obelysk_air::statement::{AttestationParts as Parts, attestation_of_parts, hash_words};
use obelysk_chain::registry::parse_hash;
use obelysk_chain::{AttestationParts, Client, Felt, OnChainRecord, contract};
use serde_json::json;
use uuid::Uuid;

use super::NodeArgs;
use crate::chain::{PRIVATE_KEY_ENV, proof_parts};
use crate::config::{Config, StarknetConfig};
use crate::store::ProofRecord;

#[derive(Debug, Args)]
pub struct ChainArgs {
    #[command(subcommand)]
    pub command: ChainCommand,
    /// Node config file whose `[starknet]` section gives the defaults below.
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// JSON-RPC url (overrides `[starknet] rpc_url`).
    #[arg(long, global = true)]
    pub rpc_url: Option<String>,
    /// Account address (overrides `[starknet] account_address`); its private key is read from
    /// STARKNET_PRIVATE_KEY.
    #[arg(long, global = true)]
    pub account: Option<String>,
    /// Registry address (overrides `[starknet] contract_address`).
    #[arg(long, global = true)]
    pub contract: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Declare the registry class and deploy a registry owned by the account (both idempotent),
    /// then allowlist the account as a prover.
    Deploy {
        /// Deployment salt: the same account and salt give the same address.
        #[arg(long, default_value = "0x0")]
        salt: String,
    },
    /// Allowlist a prover account (owner only).
    AddProver { address: String },
    /// Remove a prover account from the allowlist (owner only).
    RemoveProver { address: String },
    /// Attest a completed job: its proof record is read from the node, or given as flags.
    Attest(AttestArgs),
    /// Print a job's on-chain record; with --proof, check it against a proof file.
    Show {
        /// The job id.
        job: String,
        /// A proof file (from `obelysk proof`) the record must match.
        #[arg(long)]
        proof: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The job id.
    pub job: String,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Give the parts instead of asking the node (all five together; the AIR version is
    /// this build's).
    #[arg(long, requires_all = ["input_hash", "output_hash", "steps", "security_bits"])]
    pub program_id: Option<String>,
    #[arg(long, requires = "program_id")]
    pub input_hash: Option<String>,
    #[arg(long, requires = "program_id")]
    pub output_hash: Option<String>,
    #[arg(long, requires = "program_id")]
    pub steps: Option<u64>,
    #[arg(long, requires = "program_id")]
    pub security_bits: Option<u32>,
}

/// Runs `obelysk chain …`; returns the exit code.
pub async fn chain(args: ChainArgs) -> anyhow::Result<i32> {
    let settings = settings(&args)?;
    let felt = |what: &str, text: &str| -> anyhow::Result<Felt> {
        if text.is_empty() {
            bail!("no {what}: pass --{what} or set it in [starknet]");
        }
        Felt::from_hex(text).map_err(|_| anyhow::anyhow!("--{what} `{text}` is not a 0x felt"))
    };
    let registry = || felt("contract", &settings.contract_address);
    match &args.command {
        ChainCommand::Deploy { salt } => {
            let client = signer(&settings).await?;
            let salt = felt("salt", salt)?;
            let address = client.deploy(client.address(), salt).await?;
            if !client.is_prover(address, client.address()).await? {
                client.add_prover(address, client.address()).await?;
            }
            let class_hash = format!("{:#x}", contract::class_hash());
            let address = format!("{address:#x}");
            if args.json {
                println!(
                    "{}",
                    json!({"class_hash": class_hash, "contract_address": address})
                );
            } else {
                println!("class hash        {class_hash}");
                println!("contract address  {address}");
                println!("owner and prover  {:#x}", client.address());
                println!("\n[starknet]\ncontract_address = \"{address}\"");
            }
            Ok(0)
        }
        ChainCommand::AddProver { address } => {
            let client = signer(&settings).await?;
            let tx = client
                .add_prover(registry()?, felt("address", address)?)
                .await?;
            println!("allowlisted {address} (tx {tx:#x})");
            Ok(0)
        }
        ChainCommand::RemoveProver { address } => {
            let client = signer(&settings).await?;
            let tx = client
                .remove_prover(registry()?, felt("address", address)?)
                .await?;
            println!("removed {address} (tx {tx:#x})");
            Ok(0)
        }
        ChainCommand::Attest(attest) => {
            let job = parse_job(&attest.job)?;
            let parts = match &attest.program_id {
                Some(program_id) => given_parts(job, program_id, attest)?,
                None => node_parts(job, &attest.node.node).await?,
            };
            let client = signer(&settings).await?;
            let tx = client.attest(registry()?, &parts).await?;
            let record = client
                .record(registry()?, parts.job_id)
                .await?
                .context("the registry has no record right after attesting")?;
            if args.json {
                println!(
                    "{}",
                    json!({"tx_hash": format!("{tx:#x}"), "attestation": hex32(&record.attestation)})
                );
            } else {
                println!("attested     {job}");
                println!("transaction  {tx:#x}");
                println!("attestation  {}", hex32(&record.attestation));
            }
            Ok(0)
        }
        ChainCommand::Show { job, proof } => {
            let job = parse_job(job)?;
            let client = Client::reader(&settings.rpc_url).await?;
            let Some(record) = client.record(registry()?, job.as_u128()).await? else {
                if args.json {
                    println!("{}", json!({"attested": false}));
                } else {
                    eprintln!("job {job} is not attested on chain");
                }
                return Ok(1);
            };
            let recomputed = attestation_of_parts(&Parts {
                program_id: record.program_id,
                input_hash: record.input_hash,
                output_hash: record.output_hash,
                steps: record.steps,
                air_version: record.air_version,
                security_bits: record.security_bits,
            });
            let consistent = recomputed == record.attestation;
            let checked = match proof {
                Some(path) => Some(check_proof_file(&record, path)?),
                None => None,
            };
            let matches = checked.as_ref().map(|mismatches| mismatches.is_empty());
            if args.json {
                println!(
                    "{}",
                    json!({
                        "attested": true,
                        "record": record_json(&record),
                        "attestation_recomputes": consistent,
                        "proof_file_matches": matches,
                        "mismatches": checked,
                    })
                );
            } else {
                print_record(&record);
                println!(
                    "recomputed   {}",
                    if consistent {
                        "yes: the attestation is Blake2s of its parts"
                    } else {
                        "NO: the attestation does not follow from its parts"
                    }
                );
                match &checked {
                    Some(mismatches) if mismatches.is_empty() => {
                        println!("proof file   matches (program, input, output, proof, security)")
                    }
                    Some(mismatches) => {
                        println!("proof file   DOES NOT MATCH: {}", mismatches.join(", "))
                    }
                    None => {}
                }
            }
            Ok(if consistent && matches != Some(false) {
                0
            } else {
                1
            })
        }
    }
}

/// `[starknet]` from the config file and `OBELYSK_STARKNET_*`, then the flags.
fn settings(args: &ChainArgs) -> anyhow::Result<StarknetConfig> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut settings = Config::load(args.config.as_deref(), env)?.starknet;
    if let Some(url) = &args.rpc_url {
        settings.rpc_url = url.clone();
    }
    if let Some(account) = &args.account {
        settings.account_address = account.clone();
    }
    if let Some(contract) = &args.contract {
        settings.contract_address = contract.clone();
    }
    if settings.rpc_url.is_empty() {
        bail!("no Starknet RPC url: pass --rpc-url or set [starknet] rpc_url");
    }
    Ok(settings)
}

/// A client that signs with the configured account.
async fn signer(settings: &StarknetConfig) -> anyhow::Result<Client> {
    if settings.account_address.is_empty() {
        bail!("no account: pass --account or set [starknet] account_address");
    }
    let account = Felt::from_hex(&settings.account_address)
        .map_err(|_| anyhow::anyhow!("account `{}` is not a 0x felt", settings.account_address))?;
    let key = std::env::var(PRIVATE_KEY_ENV)
        .ok()
        .filter(|k| !k.is_empty())
        .with_context(|| format!("set {PRIVATE_KEY_ENV} to the account's private key"))?;
    let key = Felt::from_hex(&key)
        .map_err(|_| anyhow::anyhow!("{PRIVATE_KEY_ENV} is not a 0x felt (value not shown)"))?;
    Ok(Client::connect(&settings.rpc_url, account, key).await?)
}

fn parse_job(text: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| anyhow::anyhow!("`{text}` is not a job id (a UUID)"))
}

fn given_parts(job: Uuid, program_id: &str, args: &AttestArgs) -> anyhow::Result<AttestationParts> {
    let hash = |name: &str, text: &Option<String>| -> anyhow::Result<[u8; 32]> {
        let text = text.as_deref().unwrap_or_default();
        parse_hash(text).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
    };
    Ok(AttestationParts {
        job_id: job.as_u128(),
        program_id: hash("program-id", &Some(program_id.to_string()))?,
        input_hash: hash("input-hash", &args.input_hash)?,
        output_hash: hash("output-hash", &args.output_hash)?,
        steps: args.steps.unwrap_or_default(),
        air_version: obelysk_air::statement::AIR_VERSION,
        security_bits: args.security_bits.unwrap_or_default(),
    })
}

/// The parts from the node's proof record of `job`.
async fn node_parts(job: Uuid, node: &str) -> anyhow::Result<AttestationParts> {
    let node = node.trim_end_matches('/');
    let response = reqwest::get(format!("{node}/jobs/{job}/proof"))
        .await
        .with_context(|| format!("cannot reach the node at {node}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .context("the node's answer is not JSON")?;
    if !status.is_success() {
        bail!(
            "the node has no proof of {job}: {}",
            body["error"]["message"].as_str().unwrap_or("unknown error")
        );
    }
    let record: ProofRecord =
        serde_json::from_value(body).context("unexpected proof record from the node")?;
    proof_parts(job, &record).map_err(|e| anyhow::anyhow!(e))
}

/// The parts of `record` that differ from what the proof file at `path` implies.
fn check_proof_file(record: &OnChainRecord, path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file =
        ProofFile::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let expected = [
        ("program_id", file.statement.program_id, record.program_id),
        (
            "input_hash",
            hash_words(&file.statement.input),
            record.input_hash,
        ),
        (
            "output_hash",
            hash_words(&file.statement.output),
            record.output_hash,
        ),
        ("attestation", file.attestation, record.attestation),
    ];
    let mut mismatches: Vec<String> = expected
        .iter()
        .filter(|(_, local, chain)| local != chain)
        .map(|(name, _, _)| name.to_string())
        .collect();
    for (name, local, chain) in [
        ("steps", file.statement.steps, record.steps),
        (
            "air_version",
            u64::from(obelysk_air::statement::AIR_VERSION),
            u64::from(record.air_version),
        ),
        (
            "security_bits",
            u64::from(file.security_bits),
            u64::from(record.security_bits),
        ),
    ] {
        if local != chain {
            mismatches.push(name.into());
        }
    }
    Ok(mismatches)
}

fn hex32(bytes: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn record_json(record: &OnChainRecord) -> serde_json::Value {
    json!({
        "attestation": hex32(&record.attestation),
        "program_id": hex::encode(record.program_id),
        "input_hash": hex::encode(record.input_hash),
        "output_hash": hex::encode(record.output_hash),
        "steps": record.steps,
        "air_version": record.air_version,
        "security_bits": record.security_bits,
        "prover": format!("{:#x}", record.prover),
        "timestamp": record.timestamp,
    })
}

fn print_record(record: &OnChainRecord) {
    println!("attestation  {}", hex32(&record.attestation));
    println!("program      {}", hex::encode(record.program_id));
    println!("input hash   {}", hex::encode(record.input_hash));
    println!("output hash  {}", hex::encode(record.output_hash));
    println!("steps        {}", record.steps);
    println!("AIR version  {}", record.air_version);
    println!("security     {} bits", record.security_bits);
    println!("prover       {:#x}", record.prover);
    println!("timestamp    {}", record.timestamp);
}
