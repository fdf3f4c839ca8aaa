//! The verifier's side of the Fiat–Shamir transcript: the channel and the commitment scheme,
//! replayed in the prover's order (`obelysk_prover::Prover` mirrors it).
//!
//! ```text
//! Verifier::new(config)        mixes the PCS config
//! commit(root, log sizes)      preprocessed and main trees
//! channel()                    to mix claims and draw relation elements between commits
//! commit_interaction(..)       mixes the claimed LogUp sums, then takes the interaction tree
//! verify(components, proof)    the shape check, then stwo's verifier
//! ```
//! The checks stwo leaves to us (pinned preprocessed root, LogUp balance, minimum security)
//! are the caller's, between these steps.

use stwo::core::air::Component;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::{CommitmentSchemeVerifier, PcsConfig};
use stwo::core::proof::StarkProof;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::verifier::{VerificationError, verify};

use crate::shape::{ShapeError, check_stark};

/// A proof as stwo produces it with Blake2s commitments.
pub type Proof = StarkProof<Blake2sMerkleHasher>;

/// Why a STARK is rejected.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StarkError {
    /// Not the shape the verifier's components expect (checked before stwo sees it).
    #[error("malformed proof: {0}")]
    Shape(#[from] ShapeError),
    /// stwo's verifier rejects it.
    #[error(transparent)]
    Stwo(#[from] VerificationError),
}

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

    /// Mixes the claimed LogUp sums, then takes the interaction tree's root: the sums are fixed
    /// in the transcript before anything depends on the interaction commitment.
    pub fn commit_interaction(
        &mut self,
        claimed_sums: &[SecureField],
        root: Blake2sHash,
        log_sizes: &[u32],
    ) {
        self.channel.mix_felts(claimed_sums);
        self.commit(root, log_sizes);
    }

    /// The channel, for mixing claims and drawing relation elements between commitments.
    pub fn channel(&mut self) -> &mut Blake2sChannel {
        &mut self.channel
    }

    /// Verifies `proof` against `components`, built from the verifier's own data: first its
    /// shape ([`crate::shape::check_stark`]), so stwo only ever sees a well-formed proof.
    pub fn verify(mut self, components: &[&dyn Component], proof: Proof) -> Result<(), StarkError> {
        let config = self.scheme.config;
        check_stark(
            components,
            &self.channel,
            &self.scheme.trees,
            &config,
            &proof,
        )?;
        Ok(verify(
            components,
            &mut self.channel,
            &mut self.scheme,
            proof,
        )?)
    }
}

/// The log sizes of the columns `components` put in commitment tree `tree`, in component order:
/// what [`Verifier::commit`] needs for that tree.
pub fn tree_log_sizes(components: &[&dyn Component], tree: usize) -> Vec<u32> {
    components
        .iter()
        .flat_map(|c| c.trace_log_degree_bounds()[tree].clone())
        .collect()
}
