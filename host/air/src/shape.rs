//! What a decoded proof must look like before stwo reads it.
//!
//! stwo's verifier trusts the proof's shape: a `sampled_values` column one element short
//! panics inside a component's evaluation (and, unwinding through a LogUp row, aborts the
//! process); a short queried-values column, two different values at one query position or a
//! last-layer polynomial whose stated size disagrees with its coefficients panic in the
//! Merkle and FRI verifiers. And stwo's `M31` deserialises any `u32`, though its additions
//! assume values below `p`. So every proof is checked here first, against what the
//! verifier's own components and commitment scheme expect, and refused with an error:
//!
//! - [`check_canonical`]: every base-field element in the body is below `p`;
//! - [`check_stark`]: tree counts, columns per tree, samples per column (from the components'
//!   mask points), queried values per column (from the query positions, which the check
//!   derives by replaying the transcript on a copy of the channel), the FRI last layer.
//!
//! Nothing here decides validity: stwo's verifier does, on a proof these checks accept.

use stwo::core::air::{Component, Components};
use stwo::core::channel::{Blake2sChannel, Channel, MerkleChannel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::m31::{BaseField, P};
use stwo::core::fields::qm31::{SECURE_EXTENSION_DEGREE, SecureField};
use stwo::core::fri::{CirclePolyDegreeBound, FriVerifier};
use stwo::core::pcs::PcsConfig;
use stwo::core::pcs::utils::prepare_preprocessed_query_positions;
use stwo::core::poly::line::LinePoly;
use stwo::core::vcs_lifted::blake2_merkle::{Blake2sMerkleChannel, Blake2sMerkleHasher};
use stwo::core::vcs_lifted::verifier::MerkleVerifierLifted;
use stwo::core::verifier::COMPOSITION_LOG_SPLIT;

use crate::verifier::Proof;

/// Why a proof's shape is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

fn refuse<T>(what: impl Into<String>) -> Result<T, ShapeError> {
    Err(ShapeError(what.into()))
}

/// Whether every coordinate of `value` is a canonical M31 (below `p`).
fn canonical_secure(value: &SecureField) -> bool {
    value.to_m31_array().iter().all(|c| c.0 < P)
}

fn canonical_base(value: &BaseField) -> bool {
    value.0 < P
}

/// Refuses a non-canonical field element anywhere in `claimed_sums` or `proof`: sampled
/// values, queried values, FRI witnesses and the last-layer polynomial.
pub fn check_canonical(claimed_sums: &[SecureField], proof: &Proof) -> Result<(), ShapeError> {
    let p = &proof.0;
    let fri = &p.fri_proof;
    let secure = [
        ("a claimed sum", claimed_sums.iter().collect::<Vec<_>>()),
        (
            "a sampled value",
            p.sampled_values.iter().flatten().flatten().collect(),
        ),
        (
            "a FRI witness",
            std::iter::once(&fri.first_layer)
                .chain(&fri.inner_layers)
                .flat_map(|layer| &layer.fri_witness)
                .collect(),
        ),
        ("the FRI last layer", fri.last_layer_poly.iter().collect()),
    ];
    for (what, values) in secure {
        if !values.into_iter().all(canonical_secure) {
            return refuse(format!("{what} is not a canonical field element (≥ p)"));
        }
    }
    if !p
        .queried_values
        .iter()
        .flatten()
        .flatten()
        .all(canonical_base)
    {
        return refuse("a queried value is not a canonical field element (≥ p)");
    }
    Ok(())
}

/// The last-layer polynomial's coefficients and its stated log size (a private field of
/// stwo's `LinePoly`, read back through its own serialisation).
fn line_poly_parts(poly: &LinePoly) -> Option<(usize, u32)> {
    let bytes = postcard::to_allocvec(poly).ok()?;
    let (coeffs, log_size): (Vec<[u32; 4]>, u32) = postcard::from_bytes(&bytes).ok()?;
    Some((coeffs.len(), log_size))
}

/// Checks `proof`'s shape against `components` and the trees committed so far (preprocessed,
/// main, interaction), with `channel` in the state stwo's verifier will start from.
pub fn check_stark(
    components: &[&dyn Component],
    channel: &Blake2sChannel,
    trees: &[MerkleVerifierLifted<Blake2sMerkleHasher>],
    config: &PcsConfig,
    proof: &Proof,
) -> Result<(), ShapeError> {
    let p = &proof.0;
    if p.config != *config {
        return refuse("the STARK's own PCS configuration differs from the proof's preset");
    }
    let n_trees = trees.len() + 1;
    if p.commitments.len() != n_trees {
        return refuse(format!(
            "{} commitments, expected {n_trees}",
            p.commitments.len()
        ));
    }
    let Some(preprocessed) = trees.first() else {
        return refuse("no preprocessed tree");
    };
    let components = Components {
        components: components.to_vec(),
        n_preprocessed_columns: preprocessed.column_log_sizes.len(),
    };
    let max_log_degree_bound = components.composition_log_degree_bound() - COMPOSITION_LOG_SPLIT;
    let composition_columns = 2 * SECURE_EXTENSION_DEGREE;

    // Sampled values: exactly the components' mask points, then the composition columns.
    let origin = CirclePoint::<SecureField>::zero();
    let mut points = components.mask_points(origin, max_log_degree_bound, false);
    points.push(vec![vec![origin]; composition_columns]);
    let expected: Vec<Vec<usize>> = points
        .iter()
        .map(|tree| tree.iter().map(Vec::len).collect())
        .collect();
    let found: Vec<Vec<usize>> = p
        .sampled_values
        .iter()
        .map(|tree| tree.iter().map(Vec::len).collect())
        .collect();
    if found != expected {
        return refuse("sampled values do not have the components' mask shape");
    }

    // The FRI last layer: its stated size must be its coefficient count, and the config's.
    let (coefficients, log_size) = line_poly_parts(&p.fri_proof.last_layer_poly)
        .ok_or_else(|| ShapeError("unreadable FRI last layer".into()))?;
    let last = config.fri_config.log_last_layer_degree_bound;
    if log_size != last || coefficients != 1 << last {
        return refuse(format!(
            "FRI last layer of {coefficients} coefficients (log size {log_size}), expected {}",
            1u32 << last
        ));
    }

    // Replay stwo's transcript on a copy of the channel, up to the query positions.
    let mut channel = channel.clone();
    channel.draw_secure_felt();
    Blake2sMerkleChannel::mix_root(&mut channel, p.commitments[n_trees - 1]);
    CirclePoint::<SecureField>::get_random_point(&mut channel);
    channel.mix_felts(&p.sampled_values.clone().flatten_cols());
    channel.draw_secure_felt();
    let lifting_log_size = max_log_degree_bound + config.fri_config.log_blowup_factor;
    // Where stwo stops with an error of its own before it reads the queried values (FRI
    // layers, proof of work), there is nothing left to check: it refuses the proof itself.
    let Ok(mut fri) = FriVerifier::<Blake2sMerkleChannel>::commit(
        &mut channel,
        config.fri_config,
        p.fri_proof.clone(),
        CirclePolyDegreeBound::new(max_log_degree_bound),
    ) else {
        return Ok(());
    };
    if !channel.verify_pow_nonce(config.pow_bits, p.proof_of_work) {
        return Ok(());
    }
    channel.mix_u64(p.proof_of_work);
    let positions = fri.sample_query_positions(&mut channel);
    let preprocessed_positions =
        prepare_preprocessed_query_positions(&positions, lifting_log_size, preprocessed.height);

    // Queried values: every committed column, one value per query position; where two
    // positions coincide (the preprocessed tree is smaller), the values must too.
    if p.queried_values.len() != n_trees || p.decommitments.len() != n_trees {
        return refuse("queried values or decommitments for the wrong number of trees");
    }
    let columns = trees
        .iter()
        .map(|tree| tree.column_log_sizes.len())
        .chain([composition_columns]);
    for (tree, (values, n_columns)) in p.queried_values.iter().zip(columns).enumerate() {
        let positions = if tree == 0 {
            &preprocessed_positions
        } else {
            &positions
        };
        if values.len() != n_columns || values.iter().any(|c| c.len() != positions.len()) {
            return refuse(format!(
                "queried values of tree {tree} do not have the committed shape"
            ));
        }
        for i in 1..positions.len() {
            if positions[i] == positions[i - 1] && values.iter().any(|c| c[i] != c[i - 1]) {
                return refuse(format!(
                    "tree {tree} gives two values for one queried position"
                ));
            }
        }
    }
    Ok(())
}
