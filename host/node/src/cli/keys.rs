//! `obelysk keys create | list | revoke`: API keys, in the node's own store (run on the node's
//! machine; a running node sees a new or revoked key at its next request).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::keys::{KeyLimits, KeyRecord, NewToken, Role, new_key_id};
use crate::store::open_store;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    /// The node's TOML config file (for its [store]).
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// The node's data directory (overrides [store] data_dir).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its token (shown only this once; the node keeps its hash).
    Create(CreateArgs),
    /// List the keys (never their tokens).
    List,
    /// Revoke a key by id or name: its token stops working at once.
    Revoke {
        /// The key's id (from `keys list`) or name.
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// `client` (upload, submit, estimate) or `worker` (prove for a coordinator).
    #[arg(long, value_enum)]
    pub role: Role,
    /// A unique name to recognise the key by.
    #[arg(long)]
    pub name: Option<String>,
    /// Most jobs of this key not yet completed or failed.
    #[arg(long)]
    pub max_in_flight: Option<u32>,
    /// Most VM steps of one job of this key.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Most jobs this key may submit in any 60 seconds.
    #[arg(long)]
    pub jobs_per_minute: Option<u32>,
}

/// Runs a `keys` subcommand; returns the exit code.
pub async fn keys(args: KeysArgs) -> anyhow::Result<i32> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut config = Config::load(args.config.as_deref(), env)?;
    if let Some(dir) = args.data_dir {
        config.store.data_dir = dir;
    }
    let store = open_store(&config.store.database_url(), config.prover.lease_ms).await?;
    match args.command {
        KeysCommand::Create(create) => {
            if create.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                anyhow::bail!("--name must not be empty");
            }
            for (flag, zero) in [
                ("--max-in-flight", create.max_in_flight == Some(0)),
                ("--max-steps", create.max_steps == Some(0)),
                ("--jobs-per-minute", create.jobs_per_minute == Some(0)),
            ] {
                if zero {
                    anyhow::bail!("{flag} must be at least 1 (leave it out for no limit)");
                }
            }
            if let Some(name) = &create.name
                && store
                    .keys()
                    .await?
                    .iter()
                    .any(|k| k.name.as_ref() == Some(name))
            {
                anyhow::bail!("a key named `{name}` exists already");
            }
            let token = NewToken::generate()?;
            let key = KeyRecord {
                id: new_key_id()?,
                name: create.name,
                role: create.role,
                limits: KeyLimits {
                    max_in_flight: create.max_in_flight,
                    max_steps: create.max_steps,
                    jobs_per_minute: create.jobs_per_minute,
                },
                created_at: time::OffsetDateTime::now_utc(),
                revoked_at: None,
            };
            store.put_key(&key, &token.hash).await?;
            if args.json {
                let mut value = serde_json::to_value(&key)?;
                value["token"] = token.token.into();
                println!("{value}");
            } else {
                eprintln!(
                    "created {} key {}{}; its token (shown only now):",
                    key.role.as_str(),
                    key.id,
                    key.name
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                );
                println!("{}", token.token);
            }
            Ok(0)
        }
        KeysCommand::List => {
            let keys = store.keys().await?;
            if args.json {
                println!("{}", serde_json::to_string(&keys)?);
            } else if keys.is_empty() {
                eprintln!("no keys (create one with `obelysk keys create --role client`)");
            } else {
                for key in &keys {
                    println!("{}", describe(key));
                }
            }
            Ok(0)
        }
        KeysCommand::Revoke { key } => {
            let revoked = store.revoke_key(&key).await?;
            if revoked.is_empty() {
                eprintln!("no live key with id or name `{key}`");
                return Ok(1);
            }
            for key in &revoked {
                if args.json {
                    println!("{}", serde_json::to_string(key)?);
                } else {
                    println!("revoked {}", describe(key));
                }
            }
            Ok(0)
        }
    }
}

/// One line per key: id, name, role, limits, state.
fn describe(key: &KeyRecord) -> String {
    let limit = |name: &str, value: Option<u64>| value.map(|v| format!(" {name}={v}"));
    let limits: String = [
        limit("max_in_flight", key.limits.max_in_flight.map(u64::from)),
        limit("max_steps", key.limits.max_steps),
        limit("jobs_per_minute", key.limits.jobs_per_minute.map(u64::from)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let state = match key.revoked_at {
        Some(at) => format!("revoked {}", rfc3339(at)),
        None => "live".into(),
    };
    format!(
        "{} {} {}{} created {} {}",
        key.id,
        key.name.as_deref().unwrap_or("-"),
        key.role.as_str(),
        limits,
        rfc3339(key.created_at),
        state
    )
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
