//! The security a proof actually has, term by term.
//!
//! stwo's `PcsConfig::security_bits` is the *conjectured* FRI level, `pow_bits + log_blowup ×
//! n_queries`. It ignores that every challenge is drawn from QM31, a field of `p^4 ≈ 2^124`
//! elements, so a proof can never be sounder than the field allows. The terms, each an upper
//! bound on a cheating prover's success probability (`|F| = p^4`):
//!
//! | term | bound | challenge |
//! |---|---|---|
//! | LogUp | `Σ_r N_r · w_r / |F| / 2^k` | relation elements `z, α` of each relation `r`: `N_r` fractions of tuples of width `w_r` (Schwartz–Zippel on the cleared sum); `k` bits of grinding before the draw |
//! | constraints | `n_constraints / |F|` | the random coefficient that batches the constraints |
//! | DEEP-ALI | `2^(c+1) / |F|` | the out-of-domain point, `c` = log degree bound of the composition |
//! | DEEP quotients | `n_samples / |F|` | the coefficient that batches the sampled values |
//! | FRI folding | `2^(L+k) / |F|` | one folding challenge `β` per layer, which folds `2^k` values into one with `1, β, β², …` (a combination of degree `2^k − 1`) over a domain of `2^L`, shrinking by `2^k`: `Σ (2^k − 1)·2^(L−k·i) ≤ 2^(L+k)`; `k` is the config's `fold_step` (folding by 2 gives `2^(L+1)`) |
//!
//! The field terms add up to `ε_field`; a proof's level is `min(FRI conjectured,
//! ⌊−log2 ε_field⌋)` ([`Soundness::bits`]). The FRI term stays *conjectured* (stwo's
//! formula, the one every STARK in production quotes); the provable FRI bound (Johnson
//! radius, about `½·log_blowup` bits per query) is far lower and is reported beside it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use stwo::core::fields::m31::P;
use stwo::core::pcs::PcsConfig;
use stwo_constraint_framework::{FrameworkEval, InfoEvaluator};

use crate::components::{Kind, N_COMPONENTS};
use crate::relations::Relations;
use crate::vm::{Claim, eval};

/// `log2 |QM31|`.
pub fn log_field() -> f64 {
    4.0 * f64::from(P).log2()
}

/// How many LogUp fractions a claim puts in one relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationUse {
    pub name: String,
    /// Fractions over all rows of all components (padding included).
    pub fractions: u64,
    /// Tuple width.
    pub width: usize,
}

/// Per component (in [`Kind::ALL`] order): per-row LogUp entries by relation, constraints,
/// sampled mask values.
struct Shape {
    entries: BTreeMap<String, u64>,
    constraints: u64,
    samples: u64,
}

fn shapes() -> &'static [Shape; N_COMPONENTS] {
    static SHAPES: OnceLock<[Shape; N_COMPONENTS]> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let claim = Claim {
            log_sizes: [16; N_COMPONENTS],
            memory_end: 0,
        };
        let rel = Relations::dummy();
        Kind::ALL.map(|kind| {
            let info = eval(&claim, kind, &rel).evaluate(InfoEvaluator::empty());
            Shape {
                entries: info
                    .logup_counts
                    .iter()
                    .map(|(name, &n)| (name.clone(), n as u64))
                    .collect(),
                constraints: info.n_constraints as u64,
                samples: info
                    .mask_offsets
                    .iter()
                    .flatten()
                    .map(|offsets| offsets.len() as u64)
                    .sum::<u64>()
                    + info.preprocessed_columns.len() as u64,
            }
        })
    })
}

/// The fractions `claim` puts in each relation, summed from the components' LogUp counts.
pub fn relation_uses(claim: &Claim) -> Vec<RelationUse> {
    let mut fractions: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, shape) in Kind::ALL.iter().zip(shapes()) {
        let rows = 1u64 << claim.log_size(*kind);
        for (name, n) in &shape.entries {
            *fractions.entry(name.clone()).or_default() += rows * n;
        }
    }
    let widths = Relations::dummy().widths();
    fractions
        .into_iter()
        .map(|(name, fractions)| {
            let width = widths
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(1, |(_, w)| *w);
            RelationUse {
                name,
                fractions,
                width,
            }
        })
        .collect()
}

/// A relation used `p/2` times or more: a multiplicity could wrap around the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("relation {name} has {fractions} uses, the limit is {limit} (< p/2)")]
pub struct TooManyUses {
    pub name: String,
    pub fractions: u64,
    pub limit: u64,
}

/// Refuses a claim that uses any relation `p/2` times or more (as the stwo-cairo verifier
/// does): below that, `n` consumptions of one token cannot sum to a multiple of `p`.
pub fn check_relation_uses(uses: &[RelationUse]) -> Result<(), TooManyUses> {
    let limit = u64::from(P / 2);
    match uses.iter().find(|u| u.fractions >= limit) {
        Some(u) => Err(TooManyUses {
            name: u.name.clone(),
            fractions: u.fractions,
            limit,
        }),
        None => Ok(()),
    }
}

/// The security of one proof, term by term (bits = `−log2` of the bound).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Soundness {
    /// stwo's conjectured FRI level: `pow_bits + log_blowup × n_queries`.
    pub fri_conjectured: u32,
    /// The provable FRI level at the Johnson radius: `pow_bits + n_queries × log_blowup / 2`.
    pub fri_provable: u32,
    pub logup: f64,
    pub constraints: f64,
    pub deep_ali: f64,
    pub deep_quotients: f64,
    pub fri_folding: f64,
    /// All field terms together.
    pub field: f64,
}

impl Soundness {
    /// The level this proof has: `min(FRI conjectured, ⌊field⌋)`.
    pub fn bits(&self) -> u32 {
        self.fri_conjectured.min(self.field.floor() as u32)
    }
}

/// The soundness of a proof of `claim` under `config`, with `interaction_pow_bits` of grinding
/// before the relation elements are drawn, `rom_rows` ROM rows and data bytes and `outputs`
/// output words (the verifier's own LogUp fractions).
pub fn soundness(
    config: &PcsConfig,
    interaction_pow_bits: u32,
    claim: &Claim,
    rom_rows: u64,
    outputs: u64,
) -> Soundness {
    let log_field = log_field();
    let bits = |count: f64| log_field - count.log2();
    let uses = relation_uses(claim);
    // The verifier's fractions: the initial state, the halt, the two ends of the memory
    // chain, one Bind per ROM row, one Data per data byte, the outputs.
    let public = (4 + rom_rows + outputs) as f64;
    let max_width = uses.iter().map(|u| u.width).max().unwrap_or(1) as f64;
    let weighted: f64 = uses
        .iter()
        .map(|u| u.fractions as f64 * u.width as f64)
        .sum::<f64>()
        + public * max_width;
    let logup = bits(weighted) + f64::from(interaction_pow_bits);
    let constraints: u64 = shapes().iter().map(|s| s.constraints).sum();
    let samples: u64 = shapes().iter().map(|s| s.samples).sum::<u64>() + 8;
    let max_log = claim.log_sizes.iter().copied().max().unwrap_or(0);
    // Every constraint has degree ≤ 2: the composition's log degree bound is max + 1.
    let composition = max_log + 1;
    let lifting = composition - 1 + config.fri_config.log_blowup_factor;
    let deep_ali = bits(2f64.powi(composition as i32 + 1));
    let fold_step = config.fri_config.fold_step;
    let fri_folding = bits(2f64.powi((lifting + fold_step) as i32));
    let constraints = bits(constraints as f64);
    let deep_quotients = bits(samples as f64);
    let field = -[logup, constraints, deep_ali, deep_quotients, fri_folding]
        .iter()
        .map(|b| (-b).exp2())
        .sum::<f64>()
        .log2();
    let fri = &config.fri_config;
    Soundness {
        fri_conjectured: config.security_bits(),
        fri_provable: config.pow_bits + fri.n_queries as u32 * fri.log_blowup_factor / 2,
        logup,
        constraints,
        deep_ali,
        deep_quotients,
        fri_folding,
        field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_uses_are_summed_and_bounded() {
        let (worst, _, _) = crate::vm::worst_case_claim();
        let uses = relation_uses(&worst);
        // Every relation the AIR has, with its tuple width.
        let names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
        for name in ["StateRelation", "MemRelation", "RomRelation", "Range16"] {
            assert!(names.contains(&name), "{names:?}");
        }
        let mem = uses.iter().find(|u| u.name == "MemRelation").unwrap();
        assert_eq!(mem.width, 5);
        // Doubling one family's rows adds exactly its per-row entries.
        let mut bigger = worst;
        bigger.log_sizes[Kind::Const.index()] += 1;
        let grown = relation_uses(&bigger);
        let state = |u: &[RelationUse]| {
            u.iter()
                .find(|u| u.name == "StateRelation")
                .unwrap()
                .fractions
        };
        // `const` rows consume one State and yield one: two State entries per row.
        assert_eq!(state(&grown) - state(&uses), 2 << crate::vm::MAX_LOG_ROWS);
        // Today's largest claim is far below the bound; a synthetic one past it is refused.
        check_relation_uses(&uses).unwrap();
        let over = [RelationUse {
            name: "MemRelation".into(),
            fractions: u64::from(P / 2),
            width: 5,
        }];
        let err = check_relation_uses(&over).unwrap_err();
        assert_eq!(err.name, "MemRelation");
    }

    #[test]
    fn folding_by_more_costs_bits_in_the_folding_term() {
        let (worst, rom_rows, outputs) = crate::vm::worst_case_claim();
        let mut config = crate::security::SecurityLevel::Bits96.pcs_config();
        assert_eq!(config.fri_config.fold_step, 3);
        let by_eight = soundness(&config, 16, &worst, rom_rows, outputs);
        config.fri_config.fold_step = 1;
        let by_two = soundness(&config, 16, &worst, rom_rows, outputs);
        // Folding 2^k values into one is a combination of degree 2^k − 1: k − 1 bits lost.
        assert!((by_two.fri_folding - by_eight.fri_folding - 2.0).abs() < 1e-9);
        assert!(
            by_eight.field < by_two.field && by_eight.field >= 96.0,
            "{by_eight:?}"
        );
    }

    #[test]
    fn grinding_and_size_move_the_field_terms() {
        let config = crate::security::SecurityLevel::Bits96.pcs_config();
        let (worst, rom_rows, outputs) = crate::vm::worst_case_claim();
        let ground = soundness(&config, 16, &worst, rom_rows, outputs);
        let bare = soundness(&config, 0, &worst, rom_rows, outputs);
        assert!((ground.logup - bare.logup - 16.0).abs() < 1e-9);
        // Without grinding, LogUp alone caps the largest proof below 96 bits.
        assert!(bare.logup < 96.0 && bare.bits() < 96, "{bare:?}");
        assert_eq!(ground.bits(), 96);
        // A small claim has more margin in every field term.
        let small = Claim {
            log_sizes: worst.log_sizes.map(|s| s.min(16)),
            ..worst
        };
        let light = soundness(&config, 16, &small, 100, 10);
        assert!(light.field > ground.field + 5.0 && light.deep_ali > ground.deep_ali);
        assert_eq!(ground.fri_conjectured, 96);
        assert_eq!(ground.fri_provable, 16 + 80 / 2);
    }
}
