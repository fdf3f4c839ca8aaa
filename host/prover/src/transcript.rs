//! The prover's side of the Fiat–Shamir transcript (mirrors `obelysk_air::verifier::Verifier`).
//!
//! ```text
//! Prover::new(config, &twiddles)   mixes the PCS config
//! commit(columns)                  preprocessed and main trees
//! grind(bits)                      proof of work before the relation elements
//! channel()                        to mix claims and draw relation elements between commits
//! commit_interaction(..)           mixes the claimed LogUp sums, then commits the interaction tree
//! prove(components)                stwo's prover
//! ```

use obelysk_air::verifier::Proof;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::utils::MaybeOwned;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::prover::backend::BackendForChannel;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::{
    CommitmentSchemeProver, CommitmentTreeProver, ComponentProver, ProvingError, prove,
};

/// The prover's transcript, on any stwo backend `B` (SIMD by default).
pub struct Prover<'t, B: BackendForChannel<Blake2sMerkleChannel> = SimdBackend> {
    channel: Blake2sChannel,
    scheme: CommitmentSchemeProver<'t, B, Blake2sMerkleChannel>,
}

impl<'t, B: BackendForChannel<Blake2sMerkleChannel>> Prover<'t, B> {
    /// The log size of the largest domain a proof over components of up to `max_log_size`
    /// rows evaluates on (its composition polynomial's, blown up).
    pub fn twiddles_log_domain(config: PcsConfig, max_log_size: u32) -> u32 {
        max_log_size + 1 + config.fri_config.log_blowup_factor
    }

    /// Twiddles for components of up to `max_log_size` rows.
    pub fn twiddles(config: PcsConfig, max_log_size: u32) -> TwiddleTree<B> {
        let log_domain = Self::twiddles_log_domain(config, max_log_size);
        B::precompute_twiddles(CanonicCoset::new(log_domain).circle_domain().half_coset)
    }

    /// Starts a transcript for `config` (mixed into the channel first).
    pub fn new(config: PcsConfig, twiddles: &'t TwiddleTree<B>) -> Self {
        let mut channel = Blake2sChannel::default();
        config.mix_into(&mut channel);
        Prover {
            channel,
            scheme: CommitmentSchemeProver::new(config, twiddles),
        }
    }

    /// Keeps each committed column's coefficients (as many cells as its trace) so the
    /// out-of-domain samples are evaluated from them, not by barycentric sums over the
    /// blown-up evaluations: at 2^20 VM steps on `SimdBackend` 74 ms instead of 949 ms, for
    /// about 190 MB more peak memory. Call before the first commit; every tree of the proof,
    /// a shared one included, must then keep them.
    pub fn keep_coefficients(&mut self) {
        self.scheme.set_store_polynomials_coefficients();
    }

    /// Commits the next tree.
    pub fn commit(&mut self, columns: Vec<CircleEvaluation<B, BaseField, BitReversedOrder>>) {
        let mut tree = self.scheme.tree_builder();
        tree.extend_evals(columns);
        tree.commit(&mut self.channel);
    }

    /// Commits a tree built earlier (the preprocessed tree, shared across proofs): its root
    /// is mixed into the channel exactly as [`Prover::commit`] mixes a new tree's.
    pub fn commit_built(&mut self, tree: &'t CommitmentTreeProver<B, Blake2sMerkleChannel>) {
        self.scheme
            .commit_tree(MaybeOwned::Borrowed(tree), &mut self.channel);
    }

    /// The committed trees, taken out of the transcript.
    pub(crate) fn into_trees(
        self,
    ) -> Vec<MaybeOwned<'t, CommitmentTreeProver<B, Blake2sMerkleChannel>>> {
        self.scheme.trees.0
    }

    /// Mixes the claimed LogUp sums, then commits the interaction tree (the verifier replays
    /// the same order).
    pub fn commit_interaction(
        &mut self,
        claimed_sums: &[SecureField],
        columns: Vec<CircleEvaluation<B, BaseField, BitReversedOrder>>,
    ) {
        self.channel.mix_felts(claimed_sums);
        self.commit(columns);
    }

    /// The roots committed so far.
    pub fn roots(&self) -> Vec<[u8; 32]> {
        self.scheme.roots().iter().map(|root| root.0).collect()
    }

    /// Grinds a nonce with `bits` leading zero bits over the transcript so far and mixes it in
    /// (the verifier checks and mixes it at the same point).
    pub fn grind(&mut self, bits: u32) -> u64 {
        let nonce = B::grind(&self.channel, bits);
        self.channel.mix_u64(nonce);
        nonce
    }

    /// The channel, for mixing claims and drawing relation elements between commitments.
    pub fn channel(&mut self) -> &mut Blake2sChannel {
        &mut self.channel
    }

    /// Proves `components` over the committed trees.
    pub fn prove(mut self, components: &[&dyn ComponentProver<B>]) -> Result<Proof, ProvingError> {
        prove::<B, Blake2sMerkleChannel>(components, &mut self.channel, self.scheme)
    }
}
