//! The verifier's side of the Fiat–Shamir transcript: the channel and the commitment scheme,
//! replayed in the prover's order (`obelysk_prover::Prover` mirrors it).
//!
//! ```text
//! Verifier::new(config)        mixes the PCS config
//! commit(root, log sizes)      once per tree: preprocessed, main, interaction
//! channel()                    to mix claims and draw relation elements between commits
//! verify(components, proof)    stwo's verifier
//! ```
//! The checks stwo leaves to us (pinned preprocessed root, LogUp balance, minimum security)
//! are the caller's, between these steps.

use stwo::core::air::Component;
use stwo::core::channel::Blake2sChannel;
use stwo::core::pcs::{CommitmentSchemeVerifier, PcsConfig};
use stwo::core::proof::StarkProof;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::verifier::{VerificationError, verify};

/// A proof as stwo produces it with Blake2s commitments.
pub type Proof = StarkProof<Blake2sMerkleHasher>;

/// The verifier's transcript.
pub struct Verifier {
    channel: Blake2sChannel,
    scheme: CommitmentSchemeVerifier<Blake2sMerkleChannel>,
}

impl Verifier {
    /// Starts a transcript for `config` (mixed into the channel first, as the prover does).
    pub fn new(config: PcsConfig) -> Self {
        let mut channel = Blake2sChannel::default();
        config.mix_into(&mut channel);
        Verifier {
            channel,
            scheme: CommitmentSchemeVerifier::new(config),
        }
    }

    /// Takes the next tree's root, whose columns have `log_sizes`.
    pub fn commit(&mut self, root: Blake2sHash, log_sizes: &[u32]) {
        self.scheme.commit(root, log_sizes, &mut self.channel);
    }

    /// The channel, for mixing claims and drawing relation elements between commitments.
    pub fn channel(&mut self) -> &mut Blake2sChannel {
        &mut self.channel
    }

    /// Verifies `proof` against `components`, built from the verifier's own data.
    pub fn verify(
        mut self,
        components: &[&dyn Component],
        proof: Proof,
    ) -> Result<(), VerificationError> {
        verify(components, &mut self.channel, &mut self.scheme, proof)
    }
}
