//! Proof security parameters.
//!
//! stwo's conjectured security of a proof is `pow_bits + log_blowup_factor × n_queries`
//! ([`PcsConfig::security_bits`]). Its `PcsConfig::default()` gives 13 bits: never ship it.
//! Obelysk proves at [`SecurityLevel::Bits96`] unless told otherwise, and verifiers refuse any
//! proof below the minimum they are configured with ([`check_security`]).

use serde::{Deserialize, Serialize};
use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;

/// The security presets a node can prove at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityLevel {
    /// 96 bits: 20 bits of grinding, blowup 2, 76 queries. The default.
    #[default]
    Bits96,
    /// 128 bits: 26 bits of grinding, blowup 4, 51 queries.
    Bits128,
}

impl SecurityLevel {
    /// The stwo configuration of this preset.
    pub fn pcs_config(self) -> PcsConfig {
        let (pow_bits, log_blowup, n_queries) = match self {
            SecurityLevel::Bits96 => (20, 1, 76),
            SecurityLevel::Bits128 => (26, 2, 51),
        };
        PcsConfig {
            pow_bits,
            fri_config: FriConfig::new(0, log_blowup, n_queries, 1),
            lifting_log_size: None,
        }
    }

    /// The bits this preset guarantees.
    pub fn bits(self) -> u32 {
        self.pcs_config().security_bits()
    }
}

/// A proof's configuration is weaker than the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the proof has {found} bits of security, the verifier requires at least {required}")]
pub struct InsufficientSecurity {
    pub found: u32,
    pub required: u32,
}

/// Refuses configurations below `min_bits`.
pub fn check_security(config: &PcsConfig, min_bits: u32) -> Result<u32, InsufficientSecurity> {
    let found = config.security_bits();
    if found < min_bits {
        return Err(InsufficientSecurity {
            found,
            required: min_bits,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_meet_their_names() {
        assert_eq!(SecurityLevel::Bits96.bits(), 96);
        assert_eq!(SecurityLevel::Bits128.bits(), 128);
        assert_eq!(SecurityLevel::default(), SecurityLevel::Bits96);
    }

    #[test]
    fn weak_configs_are_refused() {
        let stwo_default = PcsConfig::default();
        assert_eq!(stwo_default.security_bits(), 13);
        assert_eq!(
            check_security(&stwo_default, 96),
            Err(InsufficientSecurity {
                found: 13,
                required: 96
            })
        );
        assert_eq!(
            check_security(&SecurityLevel::Bits96.pcs_config(), 96),
            Ok(96)
        );
        assert!(check_security(&SecurityLevel::Bits96.pcs_config(), 128).is_err());
    }
}
