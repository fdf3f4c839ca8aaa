//! The `program` table proven with stwo: steps consume `Program` tokens, the verifier consumes
//! `Bind` for each instruction of its own program. Honest tables verify; each forgery is
//! rejected, and the tests show which check rejects it.

use num_traits::One;
use obelysk_air::components::program::{
    BindRelation, EncodedInstr, ProgramEval, ProgramRelation, public_bind_sum,
};
use obelysk_air::components::range_check::logup_balanced;
use obelysk_air::security::SecurityLevel;
use obelysk_air::verifier::{Verifier, tree_log_sizes};
use obelysk_prover::Prover;
use obelysk_prover::program::{self, ProgramRow};
use obelysk_prover::range_check::Column;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, LogupTraceGenerator, Relation, RelationEntry,
    TraceLocationAllocator,
};

/// Executed steps: each consumes the `Program` token of its instruction.
const LOG_STEPS: u32 = 4;

#[derive(Clone)]
struct StepsEval {
    program: ProgramRelation,
}

impl FrameworkEval for StepsEval {
    fn log_size(&self) -> u32 {
        LOG_STEPS
    }
    fn max_constraint_log_degree_bound(&self) -> u32 {
        LOG_STEPS + 1
    }
    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let instr: [E::F; 5] = std::array::from_fn(|_| eval.next_trace_mask());
        eval.add_to_relation(RelationEntry::new(&self.program, E::EF::one(), &instr));
        eval.finalize_logup();
        eval
    }
}

fn steps_trace(steps: &[EncodedInstr]) -> Vec<Column> {
    (0..5)
        .map(|i| {
            let values: BaseColumn = steps
                .iter()
                .map(|s| BaseField::from_u32_unchecked(s[i]))
                .collect();
            CircleEvaluation::new(CanonicCoset::new(LOG_STEPS).circle_domain(), values)
        })
        .collect()
}

fn steps_interaction(main: &[Column], program: &ProgramRelation) -> (Vec<Column>, SecureField) {
    let mut logup = LogupTraceGenerator::new(LOG_STEPS);
    obelysk_prover::logup::fraction_column(&mut logup, LOG_STEPS, |row| {
        let instr: [_; 5] = std::array::from_fn(|i| main[i].values.data[row]);
        let denominator: PackedSecureField = program.combine(&instr);
        (PackedSecureField::one(), denominator)
    });
    logup.finalize_last()
}

/// The program the verifier lowered: `[pc, opcode, a, b, c]` rows.
fn the_program() -> Vec<EncodedInstr> {
    vec![
        [0, 0, 1, 7, 0],
        [1, 16, 1, 1, 2],
        [2, 4, 1, 1, 0],
        [3, 10, 1, 0, 0],
        [4, 12, 0, 0, 0],
    ]
}

/// An execution of 16 steps over the program (pc 1 and 2 form a loop taken six times).
fn the_steps() -> Vec<EncodedInstr> {
    let p = the_program();
    let mut steps = vec![p[0]];
    for _ in 0..6 {
        steps.extend([p[1], p[2]]);
    }
    steps.extend([p[1], p[3], p[4]]);
    steps
}

fn honest_rows(steps: &[EncodedInstr]) -> Vec<ProgramRow> {
    program::rows(&the_program(), |instr| {
        steps.iter().filter(|s| *s == instr).count() as u32
    })
}

#[derive(Clone)]
struct Proof {
    stark: obelysk_air::verifier::Proof,
    log_program: u32,
    claimed_sums: [SecureField; 2],
}

fn config() -> PcsConfig {
    SecurityLevel::Bits96.pcs_config()
}

fn prove_table(rows: &[ProgramRow], steps: &[EncodedInstr]) -> Result<Proof, String> {
    let log_program = program::log_size(rows.len());
    let twiddles = Prover::twiddles(config(), log_program.max(LOG_STEPS));
    let mut prover = Prover::new(config(), &twiddles);
    prover.commit(Vec::new());
    prover.channel().mix_u64(u64::from(log_program));
    let table = program::main_trace(rows);
    let steps_main = steps_trace(steps);
    prover.commit(table.iter().chain(&steps_main).cloned().collect());

    let relations = (
        ProgramRelation::draw(prover.channel()),
        BindRelation::draw(prover.channel()),
    );
    let (table_interaction, table_sum) =
        program::interaction_trace(&table, &relations.0, &relations.1);
    let (steps_interaction, steps_sum) = steps_interaction(&steps_main, &relations.0);
    prover.commit_interaction(
        &[table_sum, steps_sum],
        table_interaction
            .into_iter()
            .chain(steps_interaction)
            .collect(),
    );

    let (table, steps_c) = components(log_program, &relations, [table_sum, steps_sum]);
    let stark = prover
        .prove(&[&table, &steps_c])
        .map_err(|e| format!("{e:?}"))?;
    Ok(Proof {
        stark,
        log_program,
        claimed_sums: [table_sum, steps_sum],
    })
}

/// Whether the LogUp sums of `rows` and `steps` cancel with the verifier's `Bind` part, under
/// fresh relation elements (a forgery that balances passes every lookup check).
fn sums_balance(rows: &[ProgramRow], steps: &[EncodedInstr]) -> bool {
    let channel = &mut Blake2sChannel::default();
    channel.mix_u64(7);
    let relations = (ProgramRelation::draw(channel), BindRelation::draw(channel));
    let (_, table_sum) =
        program::interaction_trace(&program::main_trace(rows), &relations.0, &relations.1);
    let (_, steps_sum) = steps_interaction(&steps_trace(steps), &relations.0);
    logup_balanced(
        &[table_sum, steps_sum],
        public_bind_sum(&relations.1, &the_program()),
    )
}

/// stwo's prover refuses a trace that violates a constraint; a proof forced through anyway
/// would fail the verifier's out-of-domain check.
fn assert_constraint_violated(result: Result<Proof, String>) {
    match result {
        Err(e) => assert!(e.contains("ConstraintsNotSatisfied"), "{e}"),
        Ok(proof) => assert!(verify_table(proof).unwrap_err().starts_with("stark")),
    }
}

fn components(
    log_program: u32,
    (program, bind): &(ProgramRelation, BindRelation),
    sums: [SecureField; 2],
) -> (
    FrameworkComponent<ProgramEval>,
    FrameworkComponent<StepsEval>,
) {
    let allocator = &mut TraceLocationAllocator::default();
    let eval = ProgramEval {
        log_size: log_program,
        program: program.clone(),
        bind: bind.clone(),
    };
    let table = FrameworkComponent::new(allocator, eval, sums[0]);
    let steps = FrameworkComponent::new(
        allocator,
        StepsEval {
            program: program.clone(),
        },
        sums[1],
    );
    (table, steps)
}

/// Sums including the verifier's `Bind` consumption cancel.
fn balanced(proof: &Proof, bind: &BindRelation) -> bool {
    logup_balanced(&proof.claimed_sums, public_bind_sum(bind, &the_program()))
}

/// The verifier, from its own program; returns which check failed.
fn verify_table(proof: Proof) -> Result<(), String> {
    let roots = proof.stark.0.commitments.clone();
    let mut verifier = Verifier::new(config());
    verifier.commit(roots[0], &[]);
    verifier.channel().mix_u64(u64::from(proof.log_program));
    let dummy = (ProgramRelation::dummy(), BindRelation::dummy());
    let (table, steps) = components(proof.log_program, &dummy, proof.claimed_sums);
    let tree = |i: usize| tree_log_sizes(&[&table, &steps], i);
    verifier.commit(roots[1], &tree(1));
    let relations = (
        ProgramRelation::draw(verifier.channel()),
        BindRelation::draw(verifier.channel()),
    );
    verifier.commit_interaction(&proof.claimed_sums, roots[2], &tree(2));
    if !balanced(&proof, &relations.1) {
        return Err("unbalanced: the table is not the verifier's program".into());
    }
    let (table, steps) = components(proof.log_program, &relations, proof.claimed_sums);
    verifier
        .verify(&[&table, &steps], proof.stark)
        .map_err(|e| format!("stark: {e}"))
}

#[test]
fn the_honest_table_verifies() {
    let steps = the_steps();
    assert_eq!(steps.len(), 1 << LOG_STEPS);
    let rows = honest_rows(&steps);
    assert!(sums_balance(&rows, &steps));
    verify_table(prove_table(&rows, &steps).unwrap()).unwrap();
}

#[test]
fn a_changed_instruction_is_rejected() {
    // The prover runs `Const 8` instead of `Const 7`; its table and steps agree with each other.
    let mut steps = the_steps();
    steps[0][3] = 8;
    let mut rows = honest_rows(&the_steps());
    rows[0].instr[3] = 8;
    assert!(!sums_balance(&rows, &steps));
    let err = verify_table(prove_table(&rows, &steps).unwrap()).unwrap_err();
    assert!(err.starts_with("unbalanced"), "{err}");
}

/// An instruction the program does not have, executed once at step 13.
fn with_fake_step() -> (Vec<EncodedInstr>, EncodedInstr) {
    let fake = [5, 10, 3, 0, 0];
    let mut steps = the_steps();
    steps[13] = fake;
    (steps, fake)
}

#[test]
fn an_extra_instruction_is_rejected() {
    let (steps, fake) = with_fake_step();
    let mut rows = honest_rows(&steps);
    rows.push(ProgramRow {
        enabler: 1,
        instr: fake,
        multiplicity: 1,
    });
    assert!(!sums_balance(&rows, &steps));
    let err = verify_table(prove_table(&rows, &steps).unwrap()).unwrap_err();
    assert!(err.starts_with("unbalanced"), "{err}");
}

#[test]
fn a_padding_row_cannot_serve_steps() {
    // The fake instruction on a padding row (enabler 0) with multiplicity 1: no Bind token, and
    // Program balances with the step that uses it. Only (1 − enabler)·multiplicity = 0 stops it.
    let (steps, fake) = with_fake_step();
    let mut rows = honest_rows(&steps);
    rows.push(ProgramRow {
        enabler: 0,
        instr: fake,
        multiplicity: 1,
    });
    assert!(sums_balance(&rows, &steps), "every lookup check passes");
    assert_constraint_violated(prove_table(&rows, &steps));
}

#[test]
fn a_negative_enabler_cannot_cancel_a_fake_bind() {
    // The fake instruction on a real row (enabler 1, multiplicity 1) plus a row for it with
    // enabler −1 and multiplicity 0: its Bind tokens cancel and every sum balances. Only
    // enabler·(enabler − 1) = 0 stops it.
    let (steps, fake) = with_fake_step();
    let minus_one = (1u32 << 31) - 2;
    let mut rows = honest_rows(&steps);
    rows.push(ProgramRow {
        enabler: 1,
        instr: fake,
        multiplicity: 1,
    });
    rows.push(ProgramRow {
        enabler: minus_one,
        instr: fake,
        multiplicity: 0,
    });
    assert!(sums_balance(&rows, &steps), "every lookup check passes");
    assert_constraint_violated(prove_table(&rows, &steps));
}
