//! Proof security presets, named by the level they actually deliver.
//!
//! A preset fixes stwo's PCS configuration and the grinding before the relation elements are
//! drawn. Its level ([`SecurityLevel::bits`]) is the *worst case* over every claim the
//! verifier accepts: [`crate::soundness::soundness`] at the largest components, ROM and output
//! (`crate::vm::worst_case_claim`), so that every proof at the preset has at least that level.
//! That is `min(conjectured FRI, field-bounded terms)`: QM31 has about 2^124 elements, which
//! caps every challenge, so no configuration reaches 128 bits at the sizes the VM allows.
//! Verifiers refuse any proof below the minimum they are configured with
//! ([`check_security`]), and the attestation binds the preset's level.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;

use crate::soundness::{Soundness, soundness};

/// The security presets a node can prove at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SecurityLevel {
    /// 96 bits: 16 bits of grinding, blowup 2, 80 queries (96 conjectured FRI bits, 56
    /// provable), FRI folding 8 to 1 per layer; the field terms give 97.7 at the largest
    /// claim. The default. Folding by 8 instead of 2 (since stop 31) makes proofs 14–19 %
    /// smaller (fewer FRI layers, so fewer Merkle paths) and costs 2 bits of the folding
    /// term, which the field terms could spare (99.0 before). Until stop 32 it ground 20 bits
    /// with 76 queries: stwo's parallel grind hands each thread 2^20 nonces, so at 20 bits a
    /// grind took 12 ms on average and up to 43 ms on 2 cores (a tenth to a third of a
    /// 2^10-step proof); 16 bits take 1.4 ms (p99 3.9), for 5 % more queried values.
    #[default]
    Bits96,
    /// 98 bits: 20 bits of grinding, blowup 4, 57 queries (134 conjectured FRI bits, 77
    /// provable); capped by the field terms (98.4 at the largest claim), not by FRI. This
    /// was the "128-bit" preset. Its grinding was 26 bits with 51 queries until stop 31: the
    /// same provable level, but 2^26 hashes took 0.3–1.2 s a proof (mean 0.45 s on 2 cores),
    /// four times a whole 2^10-step proof; six more queries cost 12 % more queried values.
    Bits98,
}

impl SecurityLevel {
    /// Every preset.
    pub const ALL: [SecurityLevel; 2] = [SecurityLevel::Bits96, SecurityLevel::Bits98];

    /// The stwo configuration of this preset.
    pub fn pcs_config(self) -> PcsConfig {
        // The 98-bit preset folds by 2: its field terms (98.4) have no 2 bits to spare.
        let (pow_bits, log_blowup, n_queries, fold_step) = match self {
            SecurityLevel::Bits96 => (16, 1, 80, 3),
            SecurityLevel::Bits98 => (20, 2, 57, 1),
        };
        PcsConfig {
            pow_bits,
            fri_config: FriConfig::new(0, log_blowup, n_queries, fold_step),
            lifting_log_size: None,
        }
    }

    /// Proof-of-work bits ground after the main trace is committed, before the LogUp relation
    /// elements are drawn: each try at lucky elements costs a commitment and 2^16 hashes. It
    /// lifts the LogUp term from 93.6 to 109.6 bits at the largest claim (without it, LogUp
    /// would cap every preset below 96).
    pub fn interaction_pow_bits(self) -> u32 {
        16
    }

    /// The preset whose configuration is `config`, if any.
    pub fn of_config(config: &PcsConfig) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.pcs_config() == *config)
    }

    /// The preset of level `bits`, if any.
    pub fn of_bits(bits: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.bits() == bits)
    }

    /// The preset of level `bits`, or a message that lists the presets (what config files
    /// and flags report).
    pub fn parse_bits(bits: u32) -> Result<Self, String> {
        Self::of_bits(bits).ok_or_else(|| {
            let names: Vec<String> = Self::ALL.iter().map(|l| l.bits().to_string()).collect();
            let why = if bits > 98 {
                " (no preset reaches it: the QM31 field caps the challenges; 98 is the former \
                 \"128-bit\" preset)"
            } else {
                ""
            };
            format!("must be {} bits, not {bits}{why}", names.join(" or "))
        })
    }

    /// The soundness of the largest proof the verifier accepts at this preset.
    pub fn worst_case(self) -> Soundness {
        let (claim, rom_rows, outputs) = crate::vm::worst_case_claim();
        soundness(
            &self.pcs_config(),
            self.interaction_pow_bits(),
            &claim,
            rom_rows,
            outputs,
        )
    }

    /// The bits every proof at this preset has (its [`worst_case`](Self::worst_case)).
    pub fn bits(self) -> u32 {
        static BITS: OnceLock<[u32; 2]> = OnceLock::new();
        let bits = BITS.get_or_init(|| SecurityLevel::ALL.map(|l| l.worst_case().bits()));
        bits[self as usize]
    }
}

/// A proof's security is below what the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the proof has {found} bits of security, the verifier requires at least {required}")]
pub struct InsufficientSecurity {
    pub found: u32,
    pub required: u32,
}

/// Refuses a proof of `found` bits when `min_bits` are required.
pub fn check_security(found: u32, min_bits: u32) -> Result<u32, InsufficientSecurity> {
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
    fn presets_are_named_by_their_worst_case() {
        for level in SecurityLevel::ALL {
            let worst = level.worst_case();
            let name: u32 = format!("{level:?}")[4..].parse().unwrap();
            assert_eq!(level.bits(), name, "{level:?}: {worst:?}");
            // Neither the conjectured FRI bits nor the field are below the name.
            assert!(worst.fri_conjectured >= name && worst.field >= f64::from(name));
        }
        assert_eq!(SecurityLevel::default(), SecurityLevel::Bits96);
        // The default stays at 96 or more by the honest count.
        assert!(SecurityLevel::default().bits() >= 96);
    }

    #[test]
    fn weak_configs_are_refused() {
        assert_eq!(PcsConfig::default().security_bits(), 13);
        assert_eq!(SecurityLevel::of_config(&PcsConfig::default()), None);
        assert_eq!(
            check_security(13, 96),
            Err(InsufficientSecurity {
                found: 13,
                required: 96
            })
        );
        assert_eq!(check_security(96, 96), Ok(96));
        assert!(check_security(SecurityLevel::Bits96.bits(), 97).is_err());
    }
}
