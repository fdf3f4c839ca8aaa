//! A Starknet account that declares, deploys and drives the attestation registry.
//!
//! Transactions from one [`Client`] get consecutive nonces even when submitted concurrently: the
//! next nonce is kept locally and handed out under a lock, and re-read from the chain after any
//! failure. Reverts and failed fee estimations are mapped to typed errors by the registry's error
//! strings ([`ChainError::AlreadyAttested`], [`ChainError::NotProver`], ...).

use std::time::{Duration, Instant};

use starknet_rust::accounts::{Account, ConnectedAccount, ExecutionEncoding, SingleOwnerAccount};
use starknet_rust::contract::{ContractFactory, UdcSelector};
use starknet_rust::core::types::{
    AddressFilter, BlockId, BlockTag, Call, EventFilter, ExecutionResult, Felt, FunctionCall,
    StarknetError,
};
use starknet_rust::core::utils::get_selector_from_name;
use starknet_rust::providers::jsonrpc::{HttpTransport, JsonRpcClient};
use starknet_rust::providers::{Provider, ProviderError, Url};
use starknet_rust::signers::{LocalWallet, SigningKey};
use tokio::sync::Mutex;

use crate::contract;
use crate::registry::{AttestationParts, OnChainRecord};

type Rpc = JsonRpcClient<HttpTransport>;

/// Why a chain operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("job is already attested on chain")]
    AlreadyAttested,
    #[error("account is not an allowlisted prover of the registry")]
    NotProver,
    #[error("account is not the registry's owner")]
    NotOwner,
    #[error("job is not attested on chain")]
    NotAttested,
    #[error("transaction {tx_hash} reverted: {reason}")]
    Reverted { tx_hash: String, reason: String },
    #[error("transaction {tx_hash} has no receipt after {waited_s} s")]
    Timeout { tx_hash: String, waited_s: u64 },
    #[error("bad chain configuration: {0}")]
    Config(String),
    #[error("starknet rpc: {0}")]
    Rpc(String),
}

impl ChainError {
    /// Whether trying again later may succeed (the network, not the request, failed).
    pub fn is_transient(&self) -> bool {
        matches!(self, ChainError::Rpc(_) | ChainError::Timeout { .. })
    }

    /// Maps an error text from the chain to the registry's typed errors where it names one.
    fn from_revert(text: &str, otherwise: ChainError) -> ChainError {
        let says = |message: &str| {
            text.contains(message) || text.contains(&hex::encode(message.as_bytes()))
        };
        if says("already attested") {
            ChainError::AlreadyAttested
        } else if says("not a prover") {
            ChainError::NotProver
        } else if says("not the owner") {
            ChainError::NotOwner
        } else if says("not attested") {
            ChainError::NotAttested
        } else {
            otherwise
        }
    }
}

fn rpc_error(error: impl std::fmt::Debug) -> ChainError {
    let text = format!("{error:?}");
    ChainError::from_revert(&text, ChainError::Rpc(text.clone()))
}

/// A transaction that reached the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub tx_hash: Felt,
}

/// An `Attested` event of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestedEvent {
    pub job_id: u128,
    pub attestation: [u8; 32],
    pub tx_hash: Felt,
}

/// One Starknet account and the RPC node it talks to.
pub struct Client {
    account: SingleOwnerAccount<Rpc, LocalWallet>,
    next_nonce: Mutex<Option<Felt>>,
    receipt_timeout: Duration,
}

impl Client {
    /// Connects `account` (its address and private key) to the node at `rpc_url`, reading the
    /// chain id from it.
    pub async fn connect(
        rpc_url: &str,
        account: Felt,
        private_key: Felt,
    ) -> Result<Client, ChainError> {
        let url = Url::parse(rpc_url)
            .map_err(|e| ChainError::Config(format!("rpc url `{rpc_url}`: {e}")))?;
        let rpc = JsonRpcClient::new(HttpTransport::new(url));
        let chain_id = rpc.chain_id().await.map_err(rpc_error)?;
        let signer = LocalWallet::from(SigningKey::from_secret_scalar(private_key));
        let mut account =
            SingleOwnerAccount::new(rpc, signer, account, chain_id, ExecutionEncoding::New);
        account.set_block_id(BlockId::Tag(BlockTag::PreConfirmed));
        Ok(Client {
            account,
            next_nonce: Mutex::new(None),
            receipt_timeout: Duration::from_secs(60),
        })
    }

    /// A client that only reads (views and receipts): it has no key and cannot send.
    pub async fn reader(rpc_url: &str) -> Result<Client, ChainError> {
        Client::connect(rpc_url, Felt::ZERO, Felt::ONE).await
    }

    /// How long [`Client::wait`] waits for a receipt (default 60 s).
    pub fn with_receipt_timeout(mut self, timeout: Duration) -> Client {
        self.receipt_timeout = timeout;
        self
    }

    /// The account's address.
    pub fn address(&self) -> Felt {
        self.account.address()
    }

    fn rpc(&self) -> &Rpc {
        self.account.provider()
    }

    /// Declares the registry class unless the chain knows it already; returns its class hash.
    pub async fn declare(&self) -> Result<Felt, ChainError> {
        let class_hash = contract::class_hash();
        if self.is_declared(class_hash).await? {
            return Ok(class_hash);
        }
        let declared = self
            .send_and_wait(async |nonce| {
                self.account
                    .declare_v3(contract::sierra_class(), contract::compiled_class_hash())
                    .nonce(nonce)
                    .send()
                    .await
                    .map(|declared| declared.transaction_hash)
            })
            .await;
        match declared {
            Ok(_) => Ok(class_hash),
            // Declared meanwhile by someone else (e.g. `ClassAlreadyDeclared`): done all the same.
            Err(_) if self.is_declared(class_hash).await? => Ok(class_hash),
            Err(e) => Err(e),
        }
    }

    async fn is_declared(&self, class_hash: Felt) -> Result<bool, ChainError> {
        match self
            .rpc()
            .get_class(BlockId::Tag(BlockTag::Latest), class_hash)
            .await
        {
            Ok(_) => Ok(true),
            Err(ProviderError::StarknetError(StarknetError::ClassHashNotFound)) => Ok(false),
            Err(e) => Err(rpc_error(e)),
        }
    }

    /// Declares if needed, then deploys the registry owned by `owner` through the universal
    /// deployer with `salt`, unless a contract already lives at that address; returns it.
    pub async fn deploy(&self, owner: Felt, salt: Felt) -> Result<Felt, ChainError> {
        let class_hash = self.declare().await?;
        let factory = ContractFactory::new_with_udc(class_hash, &self.account, UdcSelector::New);
        let address = factory
            .deploy_v3(vec![owner], salt, false)
            .deployed_address();
        if self.class_at(address).await?.is_some() {
            return Ok(address);
        }
        self.send_and_wait(async |nonce| {
            factory
                .deploy_v3(vec![owner], salt, false)
                .nonce(nonce)
                .send()
                .await
                .map(|sent| sent.transaction_hash)
        })
        .await?;
        Ok(address)
    }

    /// The class hash deployed at `address`, if any.
    pub async fn class_at(&self, address: Felt) -> Result<Option<Felt>, ChainError> {
        match self
            .rpc()
            .get_class_hash_at(BlockId::Tag(BlockTag::Latest), address)
            .await
        {
            Ok(hash) => Ok(Some(hash)),
            Err(ProviderError::StarknetError(StarknetError::ContractNotFound)) => Ok(None),
            Err(e) => Err(rpc_error(e)),
        }
    }

    /// Owner only: allowlists `prover` and waits for the receipt.
    pub async fn add_prover(&self, registry: Felt, prover: Felt) -> Result<Felt, ChainError> {
        self.invoke_and_wait(registry, "add_prover", vec![prover])
            .await
    }

    /// Owner only: removes `prover` from the allowlist and waits for the receipt.
    pub async fn remove_prover(&self, registry: Felt, prover: Felt) -> Result<Felt, ChainError> {
        self.invoke_and_wait(registry, "remove_prover", vec![prover])
            .await
    }

    /// Submits `parts` and waits for the receipt; returns the transaction hash.
    pub async fn attest(
        &self,
        registry: Felt,
        parts: &AttestationParts,
    ) -> Result<Felt, ChainError> {
        let sent = self
            .submit_attestation(registry, parts, async |_| Ok(()))
            .await?;
        self.wait(sent.tx_hash).await?;
        Ok(sent.tx_hash)
    }

    /// Sends `submit_attestation` without waiting for its receipt. `before_send` gets the
    /// transaction hash first (fees estimated, nonce fixed, hash computed locally) so a caller
    /// can make it durable; if it fails, nothing is sent.
    pub async fn submit_attestation(
        &self,
        registry: Felt,
        parts: &AttestationParts,
        before_send: impl AsyncFnOnce(Felt) -> Result<(), String>,
    ) -> Result<Submitted, ChainError> {
        let call = Call {
            to: registry,
            selector: selector("submit_attestation"),
            calldata: parts.calldata(),
        };
        let mut nonce = self.next_nonce.lock().await;
        let current = self.nonce(&mut nonce).await?;
        let execution = self.account.execute_v3(vec![call]).nonce(current);
        let fee = match execution.estimate_fee().await {
            Ok(fee) => fee,
            Err(e) => {
                // Nothing was sent: the nonce is still free, but re-read it in case it moved.
                *nonce = None;
                return Err(rpc_error(e));
            }
        };
        let margin = |gas: u64| gas.saturating_mul(3) / 2 + 1;
        let prepared = execution
            .l1_gas(margin(fee.l1_gas_consumed))
            .l1_gas_price(fee.l1_gas_price.saturating_mul(3) / 2 + 1)
            .l2_gas(margin(fee.l2_gas_consumed))
            .l2_gas_price(fee.l2_gas_price.saturating_mul(3) / 2 + 1)
            .l1_data_gas(margin(fee.l1_data_gas_consumed))
            .l1_data_gas_price(fee.l1_data_gas_price.saturating_mul(3) / 2 + 1)
            .tip(0)
            .prepared()
            .map_err(|e| ChainError::Rpc(format!("preparing the transaction: {e}")))?;
        let tx_hash = prepared.transaction_hash(false);
        before_send(tx_hash).await.map_err(ChainError::Rpc)?;
        let sent = prepared.send().await;
        let sent = self.settle_nonce(&mut nonce, current, sent)?;
        debug_assert_eq!(sent.transaction_hash, tx_hash);
        Ok(Submitted {
            tx_hash: sent.transaction_hash,
        })
    }

    /// Waits for the receipt of `tx_hash`: `Ok` when it succeeded, a typed error when it reverted,
    /// [`ChainError::Timeout`] when none came.
    pub async fn wait(&self, tx_hash: Felt) -> Result<(), ChainError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            match self.rpc().get_transaction_receipt(tx_hash).await {
                Ok(receipt) => {
                    return match receipt.receipt.execution_result() {
                        ExecutionResult::Succeeded => Ok(()),
                        ExecutionResult::Reverted { reason } => Err(ChainError::from_revert(
                            reason,
                            ChainError::Reverted {
                                tx_hash: format!("{tx_hash:#x}"),
                                reason: reason.clone(),
                            },
                        )),
                    };
                }
                Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => {}
                Err(e) => return Err(rpc_error(e)),
            }
            if start.elapsed() >= self.receipt_timeout {
                return Err(ChainError::Timeout {
                    tx_hash: format!("{tx_hash:#x}"),
                    waited_s: start.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// The registry's record of `job_id`, or `None` when the job is not attested.
    pub async fn record(
        &self,
        registry: Felt,
        job_id: u128,
    ) -> Result<Option<OnChainRecord>, ChainError> {
        let job = crate::registry::u128_as_u256(job_id).to_vec();
        let attested = self.view(registry, "is_attested", job.clone()).await?;
        if attested.first() != Some(&Felt::ONE) {
            return Ok(None);
        }
        let felts = self.view(registry, "get_attestation", job).await?;
        OnChainRecord::decode(&felts)
            .map(Some)
            .map_err(|e| ChainError::Rpc(format!("get_attestation returned {e}")))
    }

    /// Every `Attested` event the registry emitted, in chain order.
    pub async fn attested_events(&self, registry: Felt) -> Result<Vec<AttestedEvent>, ChainError> {
        let filter = EventFilter {
            from_block: None,
            to_block: Some(BlockId::Tag(BlockTag::Latest)),
            address: Some(AddressFilter::Single(registry)),
            keys: Some(vec![vec![selector("Attested")]]),
        };
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .rpc()
                .get_events(filter.clone(), token, 1000)
                .await
                .map_err(rpc_error)?;
            for event in page.events {
                // keys: selector, job_id.low, job_id.high; data starts with the attestation.
                let (Some(low), Some(att_low), Some(att_high)) =
                    (event.keys.get(1), event.data.first(), event.data.get(1))
                else {
                    return Err(ChainError::Rpc(format!(
                        "malformed Attested event {event:?}"
                    )));
                };
                let job_id = u128::try_from(*low)
                    .map_err(|_| ChainError::Rpc(format!("job id {low:#x} in an event")))?;
                let attestation = crate::registry::u256_as_bytes(*att_low, *att_high)
                    .map_err(|e| ChainError::Rpc(e.to_string()))?;
                events.push(AttestedEvent {
                    job_id,
                    attestation,
                    tx_hash: event.transaction_hash,
                });
            }
            token = page.continuation_token;
            if token.is_none() {
                return Ok(events);
            }
        }
    }

    /// Whether `account` is an allowlisted prover of the registry.
    pub async fn is_prover(&self, registry: Felt, account: Felt) -> Result<bool, ChainError> {
        let result = self.view(registry, "is_prover", vec![account]).await?;
        Ok(result.first() == Some(&Felt::ONE))
    }

    /// The registry's owner.
    pub async fn owner(&self, registry: Felt) -> Result<Felt, ChainError> {
        let result = self.view(registry, "owner", vec![]).await?;
        result
            .first()
            .copied()
            .ok_or_else(|| ChainError::Rpc("owner returned nothing".into()))
    }

    async fn view(
        &self,
        registry: Felt,
        function: &str,
        calldata: Vec<Felt>,
    ) -> Result<Vec<Felt>, ChainError> {
        self.rpc()
            .call(
                FunctionCall {
                    contract_address: registry,
                    entry_point_selector: selector(function),
                    calldata,
                },
                BlockId::Tag(BlockTag::Latest),
            )
            .await
            .map_err(rpc_error)
    }

    async fn invoke_and_wait(
        &self,
        registry: Felt,
        function: &str,
        calldata: Vec<Felt>,
    ) -> Result<Felt, ChainError> {
        let call = Call {
            to: registry,
            selector: selector(function),
            calldata,
        };
        self.send_and_wait(async |nonce| {
            self.account
                .execute_v3(vec![call])
                .nonce(nonce)
                .send()
                .await
                .map(|sent| sent.transaction_hash)
        })
        .await
    }

    /// Sends one transaction (`send` gets the nonce to use and returns the transaction hash),
    /// then waits for its receipt, with the nonce lock released; returns the hash.
    async fn send_and_wait<E: std::fmt::Debug>(
        &self,
        send: impl AsyncFnOnce(Felt) -> Result<Felt, E>,
    ) -> Result<Felt, ChainError> {
        let tx_hash = {
            let mut nonce = self.next_nonce.lock().await;
            let current = self.nonce(&mut nonce).await?;
            let sent = send(current).await;
            self.settle_nonce(&mut nonce, current, sent)?
        };
        self.wait(tx_hash).await?;
        Ok(tx_hash)
    }

    /// The nonce to use now: the cached one, or the chain's.
    async fn nonce(&self, cached: &mut Option<Felt>) -> Result<Felt, ChainError> {
        if let Some(nonce) = *cached {
            return Ok(nonce);
        }
        let nonce = self.account.get_nonce().await.map_err(rpc_error)?;
        *cached = Some(nonce);
        Ok(nonce)
    }

    /// After a send: the next nonce on success; forget it on failure (re-read next time).
    fn settle_nonce<T, E: std::fmt::Debug>(
        &self,
        cached: &mut Option<Felt>,
        used: Felt,
        sent: Result<T, E>,
    ) -> Result<T, ChainError> {
        match sent {
            Ok(sent) => {
                *cached = Some(used + Felt::ONE);
                Ok(sent)
            }
            Err(e) => {
                *cached = None;
                Err(rpc_error(e))
            }
        }
    }
}

fn selector(name: &str) -> Felt {
    get_selector_from_name(name).expect("entry point names are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverts_map_to_typed_errors_in_text_or_hex() {
        let other = || ChainError::Rpc("x".into());
        let hex = format!("0x{}", hex::encode("already attested"));
        assert_eq!(
            ChainError::from_revert(&format!("Failure reason: {hex}."), other()),
            ChainError::AlreadyAttested
        );
        assert_eq!(
            ChainError::from_revert("... ('not a prover') ...", other()),
            ChainError::NotProver
        );
        assert_eq!(
            ChainError::from_revert("'not the owner'", other()),
            ChainError::NotOwner
        );
        assert_eq!(
            ChainError::from_revert("'not attested'", other()),
            ChainError::NotAttested
        );
        assert_eq!(ChainError::from_revert("out of gas", other()), other());
        assert!(ChainError::Rpc("x".into()).is_transient());
        assert!(!ChainError::AlreadyAttested.is_transient());
    }
}
