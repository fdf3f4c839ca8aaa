//! The chain submitter: settles the attestation outbox against the registry on Starknet.
//!
//! A completed, proven job enters the outbox in the transaction that completes it. The
//! submitter claims due entries (each leased so no two tries overlap), and for each one:
//!
//! 1. `sent` with a transaction hash: waits for that receipt; success settles it.
//! 2. Asks the registry whether the job is attested. Same parts: settled (a send whose
//!    receipt was lost). Other parts: `failed`, nothing more is sent.
//! 3. Sends `submit_attestation`. The transaction hash is stored as `sent` *before* the
//!    transaction leaves, so a crash at any point is resolved by steps 1 and 2 on restart and
//!    no job is attested twice.
//!
//! Failures that may pass (RPC down, timeouts, a prover not yet allowlisted) are retried with
//! exponential backoff; the job's `chain.error` says why meanwhile.

use std::sync::Arc;
use std::time::Duration;

use obelysk_chain::registry::parse_hash;
use obelysk_chain::{AttestationParts, ChainError, Client, Felt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::StarknetConfig;
use crate::lifecycle::JobQueue;
use crate::store::{ChainState, OutboxEntry, OutboxUpdate, Store, now_ms};

/// The environment variable that holds the submitting account's private key.
pub const PRIVATE_KEY_ENV: &str = "STARKNET_PRIVATE_KEY";

/// Entries handled at once.
const BATCH: u32 = 16;

/// `[starknet]` checked and resolved (the key from the environment).
#[derive(Clone)]
pub struct ChainSettings {
    pub rpc_url: String,
    pub account: Felt,
    pub registry: Felt,
    private_key: Felt,
    pub receipt_timeout: Duration,
    pub max_backoff: Duration,
}

impl std::fmt::Debug for ChainSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSettings")
            .field("rpc_url", &self.rpc_url)
            .field("account", &format_args!("{:#x}", self.account))
            .field("registry", &format_args!("{:#x}", self.registry))
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl ChainSettings {
    /// `None` when `[starknet]` is off; an error naming what is wrong otherwise.
    pub fn resolve(
        config: &StarknetConfig,
        private_key: Option<String>,
    ) -> Result<Option<ChainSettings>, String> {
        if !config.enabled() {
            return Ok(None);
        }
        let felt = |what: &str, text: &str| {
            if text.is_empty() {
                return Err(format!("[starknet] {what} is required when rpc_url is set"));
            }
            Felt::from_hex(text).map_err(|_| format!("[starknet] {what} `{text}` is not a 0x felt"))
        };
        let key = private_key
            .filter(|key| !key.is_empty())
            .ok_or_else(|| format!("[starknet] is on but {PRIVATE_KEY_ENV} is not set"))?;
        let private_key = Felt::from_hex(&key)
            .map_err(|_| format!("{PRIVATE_KEY_ENV} is not a 0x felt (value not shown)"))?;
        Ok(Some(ChainSettings {
            rpc_url: config.rpc_url.clone(),
            account: felt("account_address", &config.account_address)?,
            registry: felt("contract_address", &config.contract_address)?,
            private_key,
            receipt_timeout: Duration::from_secs(config.receipt_timeout_s.max(1)),
            max_backoff: Duration::from_secs(config.max_backoff_s.max(1)),
        }))
    }

    /// A client for the configured account.
    pub async fn connect(&self) -> Result<Client, ChainError> {
        Ok(
            Client::connect(&self.rpc_url, self.account, self.private_key)
                .await?
                .with_receipt_timeout(self.receipt_timeout),
        )
    }
}

/// The submitter task.
pub struct Submitter {
    settings: ChainSettings,
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
}

impl Submitter {
    pub fn new(settings: ChainSettings, store: Arc<dyn Store>, queue: Arc<JobQueue>) -> Self {
        Submitter {
            settings,
            store,
            queue,
        }
    }

    /// Runs until `shutdown` turns true.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let this = Arc::new(self);
            match this.store.release_outbox().await {
                Ok(0) => {}
                Ok(n) => info!(entries = n, "attestation outbox: resuming after a restart"),
                Err(e) => warn!(error = %e, "attestation outbox: cannot reset leases"),
            }
            let mut changes = this.queue.changes();
            let mut client: Option<Arc<Client>> = None;
            let mut connect_failures = 0u32;
            while !*shutdown.borrow() {
                if client.is_none() {
                    match this.settings.connect().await {
                        Ok(connected) => {
                            info!(registry = %format_args!("{:#x}", this.settings.registry), "attesting on Starknet");
                            client = Some(Arc::new(connected));
                            connect_failures = 0;
                        }
                        Err(e) => {
                            connect_failures += 1;
                            warn!(error = %e, "cannot reach the Starknet RPC; will retry");
                            let pause = backoff(connect_failures, this.settings.max_backoff);
                            tokio::select! {
                                _ = tokio::time::sleep(pause) => {}
                                _ = shutdown.changed() => {}
                            }
                            continue;
                        }
                    }
                }
                let client = client.clone().expect("connected above");
                let lease = this.settings.receipt_timeout + Duration::from_secs(60);
                let entries = match this
                    .store
                    .claim_outbox(now_ms(), lease.as_millis() as i64, BATCH)
                    .await
                {
                    Ok(entries) => entries,
                    Err(e) => {
                        warn!(error = %e, "attestation outbox: cannot read");
                        Vec::new()
                    }
                };
                if entries.is_empty() {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = changes.recv() => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
                let mut tries = JoinSet::new();
                for entry in entries {
                    let this = this.clone();
                    let client = client.clone();
                    tries.spawn(async move {
                        let job_id = entry.job_id;
                        let update = this.settle(&client, entry).await;
                        this.record(job_id, &update).await;
                    });
                }
                while tries.join_next().await.is_some() {}
            }
        })
    }

    /// Stores `update`, retrying the store a few times (the chain is already settled).
    async fn record(&self, job_id: Uuid, update: &OutboxUpdate) {
        let saved = crate::lifecycle::persist(|| self.store.update_outbox(job_id, update)).await;
        if saved {
            self.queue.changed(job_id);
        }
        match (update.state, &update.error) {
            (ChainState::Confirmed, _) => {
                info!(%job_id, tx = update.tx_hash.as_deref().unwrap_or("-"), "attested on chain")
            }
            (state, Some(error)) => {
                warn!(%job_id, state = state.as_str(), %error, attempts = update.attempts, "attestation not settled")
            }
            _ => {}
        }
    }

    /// One try at settling `entry`; returns what to store.
    async fn settle(&self, client: &Client, entry: OutboxEntry) -> OutboxUpdate {
        let job_id = entry.job_id;
        let attempts = entry.status.attempts;
        let parts = match proof_parts(job_id, &entry.proof) {
            Ok(parts) => parts,
            Err(e) => return settled(ChainState::Failed, None, attempts, Some(e)),
        };
        let registry = self.settings.registry;
        let known_tx = entry.status.tx_hash.clone();

        // 1. A transaction already out: its receipt decides.
        if let (ChainState::Sent, Some(tx)) = (entry.status.state, &known_tx) {
            match Felt::from_hex(tx) {
                Ok(hash) => match client.wait(hash).await {
                    Ok(()) => return settled(ChainState::Confirmed, known_tx, attempts, None),
                    Err(ChainError::Rpc(e)) => {
                        return self.retry(ChainState::Sent, known_tx, attempts, e);
                    }
                    // Timed out, reverted (e.g. a duplicate): the chain's record decides.
                    Err(_) => {}
                },
                Err(_) => warn!(%job_id, tx, "stored transaction hash is not a felt"),
            }
        }

        // 2. Already on chain?
        match client.record(registry, parts.job_id).await {
            Ok(Some(record)) => {
                let ours = parse_hash(&entry.proof.attestation).ok();
                return if parts.matches(&record) && ours == Some(record.attestation) {
                    settled(ChainState::Confirmed, known_tx, attempts, None)
                } else {
                    settled(
                        ChainState::Failed,
                        known_tx,
                        attempts,
                        Some("the registry holds other parts for this job".into()),
                    )
                };
            }
            Ok(None) => {}
            Err(e) => return self.retry(entry.status.state, known_tx, attempts, e.to_string()),
        }

        // 3. Send, making the hash durable first.
        let attempts = attempts + 1;
        let lease_until = now_ms() + (self.settings.receipt_timeout.as_millis() as i64) + 60_000;
        let store = self.store.clone();
        let mut recorded: Option<String> = None;
        let sent = client
            .submit_attestation(registry, &parts, async |tx| {
                let tx = format!("{tx:#x}");
                let update = OutboxUpdate {
                    state: ChainState::Sent,
                    tx_hash: Some(tx.clone()),
                    attempts,
                    error: None,
                    next_attempt_ms: lease_until,
                };
                store
                    .update_outbox(job_id, &update)
                    .await
                    .map_err(|e| format!("cannot record the transaction before sending: {e}"))?;
                recorded = Some(tx);
                Ok(())
            })
            .await;
        let tx = match sent {
            Ok(sent) => format!("{:#x}", sent.tx_hash),
            // The send itself failed after the hash was recorded: it may still have gone out,
            // so the next try waits for that receipt before anything else.
            Err(e @ ChainError::Rpc(_)) if recorded.is_some() => {
                return self.retry(ChainState::Sent, recorded, attempts, e.to_string());
            }
            Err(e) => return self.retry(ChainState::Pending, None, attempts, e.to_string()),
        };
        match client
            .wait(Felt::from_hex(&tx).expect("formatted above"))
            .await
        {
            Ok(()) => settled(ChainState::Confirmed, Some(tx), attempts, None),
            // Still out there: the next try waits for this receipt first.
            Err(e @ (ChainError::Timeout { .. } | ChainError::Rpc(_))) => {
                self.retry(ChainState::Sent, Some(tx), attempts, e.to_string())
            }
            // Reverted: send again later (step 2 settles a duplicate).
            Err(e) => self.retry(ChainState::Pending, Some(tx), attempts, e.to_string()),
        }
    }

    fn retry(
        &self,
        state: ChainState,
        tx_hash: Option<String>,
        attempts: u32,
        error: String,
    ) -> OutboxUpdate {
        let pause = backoff(attempts.max(1), self.settings.max_backoff);
        OutboxUpdate {
            state,
            tx_hash,
            attempts,
            error: Some(error),
            next_attempt_ms: now_ms() + pause.as_millis() as i64,
        }
    }
}

fn settled(
    state: ChainState,
    tx_hash: Option<String>,
    attempts: u32,
    error: Option<String>,
) -> OutboxUpdate {
    OutboxUpdate {
        state,
        tx_hash,
        attempts,
        error,
        next_attempt_ms: 0,
    }
}

/// 1 s, 2 s, 4 s, ... up to `max`.
fn backoff(attempts: u32, max: Duration) -> Duration {
    Duration::from_secs(1u64 << attempts.saturating_sub(1).min(20)).min(max)
}

/// The registry's parts of a job's proof record.
pub fn proof_parts(
    job_id: Uuid,
    proof: &crate::store::ProofRecord,
) -> Result<AttestationParts, String> {
    let hash = |text: &str| parse_hash(text).map_err(|e| format!("stored proof record: {e}"));
    Ok(AttestationParts {
        job_id: job_id.as_u128(),
        program_id: hash(&proof.program_id)?,
        input_hash: hash(&proof.input_hash)?,
        output_hash: hash(&proof.output_hash)?,
        steps: proof.steps,
        air_version: obelysk_air::statement::AIR_VERSION,
        security_bits: proof.security_bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rpc: &str) -> StarknetConfig {
        StarknetConfig {
            rpc_url: rpc.into(),
            account_address: "0x1234".into(),
            contract_address: "0xabcd".into(),
            ..StarknetConfig::default()
        }
    }

    #[test]
    fn settings_need_addresses_and_a_key_from_the_environment() {
        assert!(ChainSettings::resolve(&config(""), None).unwrap().is_none());
        let err = ChainSettings::resolve(&config("http://x"), None).unwrap_err();
        assert!(err.contains(PRIVATE_KEY_ENV), "{err}");
        let err = ChainSettings::resolve(&config("http://x"), Some("nope".into())).unwrap_err();
        assert!(!err.contains("nope"), "the key must not be echoed: {err}");
        let mut missing = config("http://x");
        missing.contract_address.clear();
        let err = ChainSettings::resolve(&missing, Some("0x1".into())).unwrap_err();
        assert!(err.contains("contract_address"), "{err}");
        let settings = ChainSettings::resolve(&config("http://x"), Some("0x5ec2e7".into()))
            .unwrap()
            .unwrap();
        assert_eq!(settings.registry, Felt::from(0xabcdu32));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("5ec2e7"), "{shown}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(300);
        assert_eq!(backoff(1, cap), Duration::from_secs(1));
        assert_eq!(backoff(4, cap), Duration::from_secs(8));
        assert_eq!(backoff(40, cap), cap);
    }
}
