//! The State chain with the verifier's public ends (`public_state_sum`): a run must start at
//! the entry, advance one clock per step and halt at the statement's step count.
//!
//! The chain is modelled by a generic `step` component (`pc + 1`, `clk + 1`) and a `halt`
//! component; the VM's instruction components carry the same two lookups.

use num_traits::One;
use obelysk_air::components::range_check::logup_balanced;
use obelysk_air::components::state::{HaltedRelation, StateRelation, public_state_sum};
use obelysk_air::security::SecurityLevel;
use obelysk_air::verifier::{Verifier, tree_log_sizes};
use obelysk_prover::Prover;
use obelysk_prover::logup::fraction_column;
use obelysk_prover::range_check::Column;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::m31::PackedM31;
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, LogupTraceGenerator, Relation, RelationEntry,
    TraceLocationAllocator,
};

const LOG_ROWS: u32 = 4;

/// Columns `enabler, pc, fp, clk`; `halt` selects the halt component's lookups.
#[derive(Clone)]
struct ChainEval {
    state: StateRelation,
    halted: HaltedRelation,
    halt: bool,
}

impl FrameworkEval for ChainEval {
    fn log_size(&self) -> u32 {
        LOG_ROWS
    }
    fn max_constraint_log_degree_bound(&self) -> u32 {
        LOG_ROWS + 1
    }
    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let [enabler, pc, fp, clk] = std::array::from_fn(|_| eval.next_trace_mask());
        let one = E::F::one();
        eval.add_constraint(enabler.clone() * (enabler.clone() - one.clone()));
        let current = [pc.clone(), fp.clone(), clk.clone()];
        eval.add_to_relation(RelationEntry::new(
            &self.state,
            E::EF::from(enabler.clone()),
            &current,
        ));
        if self.halt {
            eval.add_to_relation(RelationEntry::new(
                &self.halted,
                -E::EF::from(enabler),
                &[clk],
            ));
        } else {
            let next = [pc + one.clone(), fp, clk + one];
            eval.add_to_relation(RelationEntry::new(
                &self.state,
                -E::EF::from(enabler),
                &next,
            ));
        }
        eval.finalize_logup();
        eval
    }
}

/// Rows `(pc, fp, clk)`, each enabled; padded with zero rows.
fn trace(rows: &[[u32; 3]]) -> Vec<Column> {
    let mut columns = vec![Vec::new(); 4];
    for i in 0..1usize << LOG_ROWS {
        let row = rows.get(i);
        columns[0].push(u32::from(row.is_some()));
        for j in 0..3 {
            columns[j + 1].push(row.map_or(0, |r| r[j]));
        }
    }
    columns
        .into_iter()
        .map(|values| {
            let values: BaseColumn = values
                .into_iter()
                .map(BaseField::from_u32_unchecked)
                .collect();
            CircleEvaluation::new(CanonicCoset::new(LOG_ROWS).circle_domain(), values)
        })
        .collect()
}

fn interaction(
    main: &[Column],
    state: &StateRelation,
    halted: &HaltedRelation,
    halt: bool,
) -> (Vec<Column>, SecureField) {
    let at = |c: usize, row: usize| -> PackedM31 { main[c].values.data[row] };
    let one = PackedM31::broadcast(BaseField::from(1));
    let mut logup = LogupTraceGenerator::new(LOG_ROWS);
    fraction_column(&mut logup, LOG_ROWS, |row| {
        let denominator: PackedSecureField = state.combine(&[at(1, row), at(2, row), at(3, row)]);
        (PackedSecureField::from(at(0, row)), denominator)
    });
    fraction_column(&mut logup, LOG_ROWS, |row| {
        let denominator: PackedSecureField = if halt {
            halted.combine(&[at(3, row)])
        } else {
            state.combine(&[at(1, row) + one, at(2, row), at(3, row) + one])
        };
        (-PackedSecureField::from(at(0, row)), denominator)
    });
    logup.finalize_last()
}

#[derive(Clone)]
struct Proof {
    stark: obelysk_air::verifier::Proof,
    claimed_sums: [SecureField; 2],
}

fn components(
    relations: &(StateRelation, HaltedRelation),
    sums: [SecureField; 2],
) -> (FrameworkComponent<ChainEval>, FrameworkComponent<ChainEval>) {
    let allocator = &mut TraceLocationAllocator::default();
    let eval = |halt| ChainEval {
        state: relations.0.clone(),
        halted: relations.1.clone(),
        halt,
    };
    (
        FrameworkComponent::new(allocator, eval(false), sums[0]),
        FrameworkComponent::new(allocator, eval(true), sums[1]),
    )
}

fn prove_run(steps: &[[u32; 3]], halt: [u32; 3]) -> Proof {
    let config = SecurityLevel::Bits96.pcs_config();
    let twiddles = Prover::twiddles(config, LOG_ROWS);
    let mut prover = Prover::new(config, &twiddles);
    prover.commit(Vec::new());
    let (steps_main, halt_main) = (trace(steps), trace(&[halt]));
    prover.commit(steps_main.iter().chain(&halt_main).cloned().collect());
    let relations = (
        StateRelation::draw(prover.channel()),
        HaltedRelation::draw(prover.channel()),
    );
    let (steps_interaction, steps_sum) =
        interaction(&steps_main, &relations.0, &relations.1, false);
    let (halt_interaction, halt_sum) = interaction(&halt_main, &relations.0, &relations.1, true);
    prover.commit_interaction(
        &[steps_sum, halt_sum],
        steps_interaction
            .into_iter()
            .chain(halt_interaction)
            .collect(),
    );
    let (step_c, halt_c) = components(&relations, [steps_sum, halt_sum]);
    let stark = prover
        .prove(&[&step_c, &halt_c])
        .expect("the traces satisfy the constraints");
    Proof {
        stark,
        claimed_sums: [steps_sum, halt_sum],
    }
}

/// The verifier for a statement "started at `entry`, ran `steps` steps".
fn verify_run(proof: Proof, entry: u32, steps: u32) -> Result<(), String> {
    let roots = proof.stark.0.commitments.clone();
    let mut verifier = Verifier::new(SecurityLevel::Bits96.pcs_config());
    verifier.commit(roots[0], &[]);
    let dummy = (StateRelation::dummy(), HaltedRelation::dummy());
    let (step_c, halt_c) = components(&dummy, proof.claimed_sums);
    let tree = |i: usize| tree_log_sizes(&[&step_c, &halt_c], i);
    verifier.commit(roots[1], &tree(1));
    let relations = (
        StateRelation::draw(verifier.channel()),
        HaltedRelation::draw(verifier.channel()),
    );
    verifier.commit_interaction(&proof.claimed_sums, roots[2], &tree(2));
    let public = public_state_sum(&relations.0, &relations.1, entry, steps);
    if !logup_balanced(&proof.claimed_sums, public) {
        return Err("unbalanced".into());
    }
    let (step_c, halt_c) = components(&relations, proof.claimed_sums);
    verifier
        .verify(&[&step_c, &halt_c], proof.stark)
        .map_err(|e| format!("stark: {e}"))
}

/// `n` steps from `pc = entry` at frame `fp`, then a halt step: `n + 1` steps in all.
fn run_at(entry: u32, fp: u32, n: u32) -> (Vec<[u32; 3]>, [u32; 3]) {
    let steps = (0..n).map(|i| [entry + i, fp, i]).collect();
    (steps, [entry + n, fp, n])
}

/// A run from the statement's initial frame (`fp = 0`).
fn run(entry: u32, n: u32) -> (Vec<[u32; 3]>, [u32; 3]) {
    run_at(entry, 0, n)
}

#[test]
fn an_honest_run_verifies() {
    let (steps, halt) = run(0, 10);
    verify_run(prove_run(&steps, halt), 0, 11).unwrap();
}

#[test]
fn the_step_count_is_bound() {
    let (steps, halt) = run(0, 10);
    let proof = prove_run(&steps, halt);
    for wrong in [10, 12, 1] {
        assert_eq!(
            verify_run(proof.clone(), 0, wrong),
            Err("unbalanced".into()),
            "claimed {wrong} steps"
        );
    }
}

#[test]
fn the_entry_is_bound() {
    let (steps, halt) = run(3, 10);
    assert_eq!(
        verify_run(prove_run(&steps, halt), 0, 11),
        Err("unbalanced".into())
    );
}

#[test]
fn the_initial_frame_is_bound() {
    let (steps, halt) = run_at(0, 7, 10);
    assert_eq!(
        verify_run(prove_run(&steps, halt), 0, 11),
        Err("unbalanced".into())
    );
}

#[test]
fn a_dropped_step_breaks_the_chain() {
    let (mut steps, halt) = run(0, 10);
    steps.remove(4);
    assert_eq!(
        verify_run(prove_run(&steps, halt), 0, 11),
        Err("unbalanced".into())
    );
    // Nor does it help to claim one step fewer: the chain still has a gap.
    let (mut steps, halt) = run(0, 10);
    steps.remove(4);
    assert_eq!(
        verify_run(prove_run(&steps, halt), 0, 10),
        Err("unbalanced".into())
    );
}
