//! The `range16` table proven and verified with stwo: a consumer component looks up its values;
//! honest traces verify, and every forgery is rejected.

use num_traits::One;
use obelysk_air::components::range_check::{
    RANGE16_BITS, Range16, Range16TableEval, logup_balanced, pinned_preprocessed_root,
    range16_column,
};
use obelysk_air::security::SecurityLevel;
use obelysk_air::verifier::{Verifier, tree_log_sizes};
use obelysk_prover::Prover;
use obelysk_prover::range_check::{self, Column, Range16Counts};
use stwo::core::channel::Channel;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::m31::PackedM31;
use stwo::prover::backend::simd::qm31::PackedSecureField;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, LogupTraceGenerator, Relation, RelationEntry,
    TraceLocationAllocator,
};

/// Rows of the consumer: each row looks up its `x` once.
const LOG_ROWS: u32 = 5;

#[derive(Clone)]
struct ConsumerEval {
    lookup: Range16,
}

impl FrameworkEval for ConsumerEval {
    fn log_size(&self) -> u32 {
        LOG_ROWS
    }
    fn max_constraint_log_degree_bound(&self) -> u32 {
        LOG_ROWS + 1
    }
    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let x = eval.next_trace_mask();
        eval.add_to_relation(RelationEntry::new(&self.lookup, E::EF::one(), &[x]));
        eval.finalize_logup();
        eval
    }
}

fn consumer_column(xs: &[u32]) -> Column {
    let values: BaseColumn = xs
        .iter()
        .map(|&x| BaseField::from_u32_unchecked(x))
        .collect();
    CircleEvaluation::new(CanonicCoset::new(LOG_ROWS).circle_domain(), values)
}

fn consumer_interaction(xs: &[u32], lookup: &Range16) -> (Vec<Column>, SecureField) {
    let column = consumer_column(xs);
    let mut logup = LogupTraceGenerator::new(LOG_ROWS);
    obelysk_prover::logup::fraction_column(&mut logup, LOG_ROWS, |row| {
        let x: PackedM31 = column.values.data[row];
        let denominator: PackedSecureField = lookup.combine(&[x]);
        (PackedSecureField::one(), denominator)
    });
    logup.finalize_last()
}

/// What the prover sends: the stark proof and the claimed sums (table, consumer).
#[derive(Clone)]
struct Proof {
    stark: obelysk_air::verifier::Proof,
    claimed_sums: [SecureField; 2],
}

fn config() -> PcsConfig {
    SecurityLevel::Bits96.pcs_config()
}

/// Proves the consumer's lookups of `xs` against a table with `counts`.
fn prove_lookups(xs: &[u32], counts: &Range16Counts) -> Proof {
    prove_with_table(xs, counts, range_check::preprocessed_column())
}

/// Like [`prove_lookups`], with the preprocessed column chosen by the prover.
fn prove_with_table(xs: &[u32], counts: &Range16Counts, table_column: Column) -> Proof {
    let twiddles = Prover::twiddles(config(), RANGE16_BITS);
    let mut prover = Prover::new(config(), &twiddles);
    let table_values = table_column.values.clone();
    prover.commit(vec![table_column]);
    prover.channel().mix_u64(u64::from(LOG_ROWS));
    prover.commit(vec![range_check::main_trace(counts), consumer_column(xs)]);

    let lookup = Range16::draw(prover.channel());
    let (table_interaction, table_sum) = table_interaction_over(&table_values, counts, &lookup);
    let (consumer_interaction, consumer_sum) = consumer_interaction(xs, &lookup);
    prover.commit_interaction(
        &[table_sum, consumer_sum],
        table_interaction
            .into_iter()
            .chain(consumer_interaction)
            .collect(),
    );

    let (table, consumer) = components(&lookup, [table_sum, consumer_sum]);
    let stark = prover
        .prove(&[&table, &consumer])
        .expect("proving succeeds even for unbalanced sums: the verifier must catch those");
    Proof {
        stark,
        claimed_sums: [table_sum, consumer_sum],
    }
}

/// The table's interaction trace over any column of values (the honest one is
/// `range_check::interaction_trace`; a forger uses its own column).
fn table_interaction_over(
    values: &BaseColumn,
    counts: &Range16Counts,
    lookup: &Range16,
) -> (Vec<Column>, SecureField) {
    let multiplicities = range_check::main_trace(counts);
    let mut logup = LogupTraceGenerator::new(RANGE16_BITS);
    obelysk_prover::logup::fraction_column(&mut logup, RANGE16_BITS, |row| {
        let denominator: PackedSecureField = lookup.combine(&[values.data[row]]);
        (
            -PackedSecureField::from(multiplicities.values.data[row]),
            denominator,
        )
    });
    logup.finalize_last()
}

fn components(
    lookup: &Range16,
    sums: [SecureField; 2],
) -> (
    FrameworkComponent<Range16TableEval>,
    FrameworkComponent<ConsumerEval>,
) {
    let allocator = &mut TraceLocationAllocator::new_with_preprocessed_columns(&[range16_column()]);
    let table = FrameworkComponent::new(
        allocator,
        Range16TableEval {
            lookup: lookup.clone(),
        },
        sums[0],
    );
    let consumer = FrameworkComponent::new(
        allocator,
        ConsumerEval {
            lookup: lookup.clone(),
        },
        sums[1],
    );
    (table, consumer)
}

/// The verifier: replays the channel, builds the components from its own draws, checks the
/// LogUp balance and the STARK.
fn verify_lookups(proof: Proof) -> Result<(), String> {
    verify_with(
        proof,
        Checks {
            pin_root: true,
            balance: true,
        },
    )
}

/// Which of the verifier's own checks run (tests switch one off to show what it stops).
struct Checks {
    pin_root: bool,
    balance: bool,
}

fn verify_with(proof: Proof, checks: Checks) -> Result<(), String> {
    if checks.balance && !logup_balanced(&proof.claimed_sums, SecureField::from(0u32)) {
        return Err("the LogUp sums do not cancel".into());
    }
    let roots = proof.stark.0.commitments.clone();
    if checks.pin_root && roots[0].0 != pinned_preprocessed_root(SecurityLevel::Bits96) {
        return Err("the preprocessed tree is not the range table".into());
    }
    let mut verifier = Verifier::new(config());
    verifier.commit(roots[0], &[RANGE16_BITS]);
    verifier.channel().mix_u64(u64::from(LOG_ROWS));
    let (table, consumer) = components(&Range16::dummy(), proof.claimed_sums);
    let tree = |i: usize| tree_log_sizes(&[&table, &consumer], i);
    verifier.commit(roots[1], &tree(1));
    let lookup = Range16::draw(verifier.channel());
    verifier.commit_interaction(&proof.claimed_sums, roots[2], &tree(2));
    let (table, consumer) = components(&lookup, proof.claimed_sums);
    verifier
        .verify(&[&table, &consumer], proof.stark)
        .map_err(|e| e.to_string())
}

fn honest(xs: &[u32]) -> Range16Counts {
    let mut counts = Range16Counts::default();
    for &x in xs {
        counts.add(x).unwrap();
    }
    counts
}

fn edge_values() -> Vec<u32> {
    let mut xs = vec![0, 1, 2, 1 << 15, (1 << 16) - 1, (1 << 16) - 2, 7, 7];
    xs.extend((0..(1u32 << LOG_ROWS) - xs.len() as u32).map(|i| i * 2047 % (1 << 16)));
    xs
}

#[test]
fn honest_lookups_verify() {
    let xs = edge_values();
    verify_lookups(prove_lookups(&xs, &honest(&xs))).unwrap();
}

#[test]
fn values_at_or_above_2_16_cannot_be_range_checked() {
    // 2^16, a field element that is "−1", and p − 2^16 (a limb that wrapped).
    let p = (1u32 << 31) - 1;
    for bad in [1 << 16, p - 1, p - (1 << 16), 1 << 30] {
        let mut xs = edge_values();
        xs[3] = bad;
        assert_eq!(
            Range16Counts::default().add(bad),
            Err(range_check::OutOfRange(bad))
        );
        // The best a prover can do: count every in-range value honestly.
        let counts = honest(
            &xs.iter()
                .copied()
                .filter(|&x| x < 1 << 16)
                .collect::<Vec<_>>(),
        );
        assert!(
            verify_lookups(prove_lookups(&xs, &counts)).is_err(),
            "{bad} passed the range check"
        );
    }
}

#[test]
fn forged_multiplicities_are_rejected() {
    let xs = edge_values();
    let mut counts = honest(&xs);
    counts.as_mut_slice()[7] -= 1;
    counts.as_mut_slice()[8] += 1;
    assert!(verify_lookups(prove_lookups(&xs, &counts)).is_err());
}

#[test]
fn claimed_sums_that_balance_but_lie_are_rejected() {
    // An out-of-range lookup, with claimed sums rewritten to cancel: the interaction trace
    // commits to the real sums, so the STARK fails.
    let mut xs = edge_values();
    xs[0] = 1 << 16;
    let counts = honest(&xs[1..]);
    let mut proof = prove_lookups(&xs, &counts);
    proof.claimed_sums[1] = -proof.claimed_sums[0];
    assert!(logup_balanced(&proof.claimed_sums, SecureField::from(0u32)));
    assert!(verify_lookups(proof).is_err());
}

#[test]
fn the_pinned_roots_are_the_tables_roots() {
    for level in [SecurityLevel::Bits96, SecurityLevel::Bits128] {
        assert_eq!(
            range_check::preprocessed_root(level.pcs_config()),
            pinned_preprocessed_root(level),
            "{level:?}"
        );
    }
}

#[test]
fn a_forged_table_is_rejected() {
    // The prover swaps the table entry 5 for 2^16 and looks 2^16 up: the sums balance, the
    // constraints hold, only the pinned root gives it away.
    let mut xs = edge_values();
    xs[0] = 1 << 16;
    let forged: BaseColumn = (0..1u32 << RANGE16_BITS)
        .map(|v| BaseField::from_u32_unchecked(if v == 5 { 1 << 16 } else { v }))
        .collect();
    let mut counts = honest(&xs[1..]);
    counts.as_mut_slice()[5] = 1; // the forged entry, serving the 2^16 lookup
    let table = CircleEvaluation::new(CanonicCoset::new(RANGE16_BITS).circle_domain(), forged);
    let proof = prove_with_table(&xs, &counts, table);
    assert!(
        logup_balanced(&proof.claimed_sums, SecureField::from(0u32)),
        "the forgery balances the sums"
    );
    let err = verify_lookups(proof).unwrap_err();
    assert!(err.contains("preprocessed"), "{err}");
}
