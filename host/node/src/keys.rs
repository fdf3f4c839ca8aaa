//! API keys: who may change a node, in which role, within which limits.
//!
//! A token is `obk_` followed by 64 hex digits (32 bytes from the operating system's random
//! source). The store keeps only its Blake2s-256 hash: a token has 256 bits of entropy, so a
//! fast hash is as good as a slow one here, and a leaked database gives no usable token. The
//! token itself is printed once, by `obelysk keys create`.
//!
//! With `[auth] required = true`, every mutating route needs `Authorization: Bearer <token>`
//! (see `server::auth`); per-key limits are enforced when a job is submitted.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The prefix of every token (recognisable in logs and secret scanners).
pub const TOKEN_PREFIX: &str = "obk_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Upload modules, submit and estimate jobs.
    Client,
    /// Prove jobs for a coordinator (remote workers).
    Worker,
}

impl Role {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Worker => "worker",
        }
    }

    /// Parses a stored role.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Client, Role::Worker]
            .into_iter()
            .find(|role| role.as_str() == s)
    }
}

/// Per-key limits, checked when a job is submitted (`None`: no limit beyond the node's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Jobs not yet completed or failed.
    pub max_in_flight: Option<u32>,
    /// VM steps of one job (a run that takes more fails with `step_limit`).
    pub max_steps: Option<u64>,
    /// Jobs submitted in any 60 seconds.
    pub jobs_per_minute: Option<u32>,
}

/// A key as stored and listed (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// A short public id (`keys revoke` takes it).
    pub id: String,
    pub name: Option<String>,
    pub role: Role,
    pub limits: KeyLimits,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key a job was submitted with: who to count it against, and the limits to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub id: String,
    pub limits: KeyLimits,
}

/// Which per-key limit a submission would exceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("key {key} already has {limit} jobs in flight (its max_in_flight)")]
    InFlight { key: String, limit: u32 },
    #[error("key {key} submitted {limit} jobs in the last minute (its jobs_per_minute)")]
    Rate { key: String, limit: u32 },
    #[error("the job asks for up to {requested} VM steps; key {key} allows {limit} per job")]
    Steps {
        key: String,
        requested: u64,
        limit: u64,
    },
}

impl QuotaExceeded {
    /// The limit's name, as in [`KeyLimits`] (the `details.limit` of the 429).
    pub fn limit_name(&self) -> &'static str {
        match self {
            QuotaExceeded::InFlight { .. } => "max_in_flight",
            QuotaExceeded::Rate { .. } => "jobs_per_minute",
            QuotaExceeded::Steps { .. } => "max_steps",
        }
    }

    /// Seconds after which the same request may pass (a minute for the rate, none for steps).
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            QuotaExceeded::InFlight { .. } => Some(1),
            QuotaExceeded::Rate { .. } => Some(60),
            QuotaExceeded::Steps { .. } => None,
        }
    }
}

/// A new token and the hash the store keeps of it.
pub struct NewToken {
    /// `obk_` + 64 hex: shown once.
    pub token: String,
    pub hash: String,
}

impl NewToken {
    /// Draws a token from the operating system's random source.
    pub fn generate() -> anyhow::Result<NewToken> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let hash = token_hash(&token);
        Ok(NewToken { token, hash })
    }
}

/// The hash under which a token is stored (hex Blake2s-256 of its bytes).
pub fn token_hash(token: &str) -> String {
    use blake2::{Blake2s256, Digest};
    hex::encode(Blake2s256::digest(token.as_bytes()))
}

/// A new key's public id: 12 hex digits drawn like a token's.
pub fn new_key_id() -> anyhow::Result<String> {
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness for a key id: {e}"))?;
    Ok(hex::encode(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_stored_hashed() {
        let a = NewToken::generate().unwrap();
        let b = NewToken::generate().unwrap();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(TOKEN_PREFIX));
        assert_eq!(a.token.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(a.hash, token_hash(&a.token));
        assert!(!a.hash.contains(&a.token[TOKEN_PREFIX.len()..]));
        assert_ne!(new_key_id().unwrap(), new_key_id().unwrap());
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Client, Role::Worker] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
