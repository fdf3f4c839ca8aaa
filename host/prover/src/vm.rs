//! Proving a run of the Obelysk VM: execute, build the witness, commit, prove.

use std::sync::Arc;

use obelysk_air::components::{Kind, N_COMPONENTS, VmComponent, VmEval};
use obelysk_air::proof::{ProofBody, ProofFile};
use obelysk_air::relations::Relations;
use obelysk_air::security::SecurityLevel;
use obelysk_air::statement::Statement;
use obelysk_air::vm::{Claim, MAX_INPUT_WORDS, components};
use obelysk_vm::interp::{self, ExecError, Trace};
use obelysk_vm::ir::Program;
use obelysk_vm::lower::{LowerError, lower};
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::prover::backend::BackendForChannel;
use stwo::prover::backend::cpu::CpuBackend;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::m31::LOG_N_LANES;
use stwo::prover::poly::BitReversedOrder;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::{CommitmentTreeProver, ComponentProver};

use crate::constraints::SimdComponent;
use crate::witness::{Table, Witness, WitnessError};
use crate::{Column, Prover, interaction, preprocessed, twiddles};

/// The default step budget of a proof (the AIR allows up to `obelysk_air::vm::MAX_STEPS`).
pub const DEFAULT_MAX_STEPS: u64 = 1 << 22;

/// The phases of a proof, reported as they start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Run the program in the tracing interpreter.
    Execute,
    /// Build every component's columns.
    Trace,
    /// Commit the preprocessed, main and interaction trees.
    Commit,
    /// stwo's proof: composition, FRI, queries.
    Prove,
}

impl Phase {
    /// All phases, in order.
    pub const ALL: [Phase; 4] = [Phase::Execute, Phase::Trace, Phase::Commit, Phase::Prove];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Execute => "execute",
            Phase::Trace => "trace",
            Phase::Commit => "commit",
            Phase::Prove => "prove",
        }
    }
}

impl From<ExecError> for ProveError {
    fn from(e: ExecError) -> Self {
        ProveError::Exec(e)
    }
}

/// Why no proof was produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    #[error(transparent)]
    Lower(#[from] LowerError),
    /// The run failed. Not a `source`: the message already says why (an error chain printed
    /// with `{:#}` would say it twice).
    #[error("execution: {0}")]
    Exec(ExecError),
    #[error(transparent)]
    Witness(#[from] WitnessError),
    #[error("stwo: {0}")]
    Stwo(String),
    #[error("the input has {0} words; a proof's statement holds at most {MAX_INPUT_WORDS}")]
    InputTooLarge(usize),
}

/// Proves `module` run on `input` at `level`: returns the output and the proof file.
pub fn prove(
    module: &[u8],
    input: &[u32],
    level: SecurityLevel,
) -> Result<(Vec<u32>, ProofFile), ProveError> {
    let program = lower(module)?;
    prove_program(&program, input, level, DEFAULT_MAX_STEPS, &mut |_| {})
}

/// Proves a lowered program, reporting each phase to `progress` as it starts.
pub fn prove_program(
    program: &Program,
    input: &[u32],
    level: SecurityLevel,
    max_steps: u64,
    progress: &mut dyn FnMut(Phase),
) -> Result<(Vec<u32>, ProofFile), ProveError> {
    prove_program_on::<SimdBackend>(program, input, level, max_steps, progress)
}

/// [`prove_program`] on backend `B` (the same proof, byte for byte).
pub fn prove_program_on<B: ProverBackend>(
    program: &Program,
    input: &[u32],
    level: SecurityLevel,
    max_steps: u64,
    progress: &mut dyn FnMut(Phase),
) -> Result<(Vec<u32>, ProofFile), ProveError>
where
    VmComponent: ComponentProver<B>,
{
    if input.len() > MAX_INPUT_WORDS {
        return Err(ProveError::InputTooLarge(input.len()));
    }
    progress(Phase::Execute);
    let trace =
        tracing::info_span!("Execute").in_scope(|| interp::run(program, input, max_steps))?;
    progress(Phase::Trace);
    let witness =
        tracing::info_span!("Witness").in_scope(|| Witness::build(program, input, &trace))?;
    let statement = statement(program, input, &trace);
    // Each stage frees what the next no longer reads: the trace here, the witness once its
    // columns are built (peak memory at 2^20 steps).
    drop(trace);
    let file = prove_witness_on::<B>(&statement, witness, level, progress)?;
    Ok((statement.output, file))
}

/// The statement a trace proves.
pub fn statement(program: &Program, input: &[u32], trace: &Trace) -> Statement {
    Statement {
        program_id: program.id().0,
        input: input.to_vec(),
        output: trace.output.clone(),
        steps: trace.steps.len() as u64,
    }
}

/// A table's columns, zero-padded to `2^log_size` rows, built in parallel (each table column
/// is freed as soon as it is copied).
pub fn table_columns(table: Table, log_size: u32) -> Vec<Column> {
    use rayon::prelude::*;
    use stwo::prover::backend::simd::m31::{N_LANES, PackedM31};
    assert!(log_size >= LOG_N_LANES, "a column holds whole SIMD vectors");
    table
        .columns
        .into_par_iter()
        .map(|mut values| {
            values.resize(1 << log_size, BaseField::from(0));
            let packed: Vec<PackedM31> = values
                .chunks_exact(N_LANES)
                .map(|lanes| PackedM31::from_array(lanes.try_into().expect("16 lanes")))
                .collect();
            let domain = CanonicCoset::new(log_size).circle_domain();
            CircleEvaluation::new(domain, BaseColumn::from_simd(packed))
        })
        .collect()
}

/// A stwo backend the VM prover can run on: trace generation happens on the CPU (SIMD), so
/// the backend says how to take over such a column.
pub trait ProverBackend: BackendForChannel<Blake2sMerkleChannel> + 'static
where
    VmComponent: ComponentProver<Self>,
{
    fn from_simd(column: Column) -> CircleEvaluation<Self, BaseField, BitReversedOrder>;

    /// A VM component as this backend proves it: stwo's component, or a wrapper with the
    /// backend's own constraint evaluator.
    type Component: ComponentProver<Self>;

    /// Wraps `component` for [`Self::Component`].
    fn component(component: VmComponent) -> Self::Component;

    /// Whether proofs keep the columns' coefficients for the out-of-domain samples
    /// ([`Prover::keep_coefficients`]): faster where the backend evaluates coefficients at a
    /// point quickly (SIMD); a backend with its own barycentric kernel (CUDA) leaves it off.
    const KEEPS_COEFFICIENTS: bool = false;

    /// A preprocessed tree under `config` that this process keeps, if the backend keeps one;
    /// otherwise each proof commits the preprocessed columns itself.
    fn preprocessed_tree(
        _config: PcsConfig,
    ) -> Option<&'static CommitmentTreeProver<Self, Blake2sMerkleChannel>> {
        None
    }

    /// Twiddles for domains of up to `2^log_domain` points that this process shares between
    /// proofs, if the backend shares them; otherwise each proof computes its own.
    fn shared_twiddles(_log_domain: u32) -> Option<Arc<TwiddleTree<Self>>> {
        None
    }
}

impl ProverBackend for SimdBackend {
    fn from_simd(column: Column) -> Column {
        column
    }

    type Component = SimdComponent<VmEval>;

    fn component(component: VmComponent) -> Self::Component {
        SimdComponent(component)
    }

    const KEEPS_COEFFICIENTS: bool = true;

    fn preprocessed_tree(config: PcsConfig) -> Option<&'static preprocessed::SimdTree> {
        Some(preprocessed::simd_tree(config))
    }

    fn shared_twiddles(log_domain: u32) -> Option<Arc<TwiddleTree<Self>>> {
        Some(twiddles::simd(log_domain))
    }
}

impl ProverBackend for CpuBackend {
    type Component = VmComponent;

    fn component(component: VmComponent) -> VmComponent {
        component
    }

    fn from_simd(column: Column) -> CircleEvaluation<CpuBackend, BaseField, BitReversedOrder> {
        use stwo::prover::backend::Column as _;
        CircleEvaluation::new(column.domain, column.values.to_cpu())
    }
}

impl ProverBackend for obelysk_cuda::CudaBackend {
    type Component = VmComponent;

    fn component(component: VmComponent) -> VmComponent {
        component
    }

    /// Copies the column to the current device.
    fn from_simd(column: Column) -> CircleEvaluation<Self, BaseField, BitReversedOrder> {
        use stwo::prover::backend::Column as _;
        CircleEvaluation::new(
            column.domain,
            obelysk_cuda::backend::DeviceColumn::from_slice(&column.values.to_cpu()),
        )
    }
}

/// Commits and proves `witness` (honest or, in tests, forged) for `statement` on `SimdBackend`.
pub fn prove_witness(
    statement: &Statement,
    witness: Witness,
    level: SecurityLevel,
    progress: &mut dyn FnMut(Phase),
) -> Result<ProofFile, ProveError> {
    prove_witness_on::<SimdBackend>(statement, witness, level, progress)
}

/// [`prove_witness`] on backend `B`: the same proof, byte for byte, on every backend. The
/// witness is consumed: its tables are freed as their columns are built.
pub fn prove_witness_on<B: ProverBackend>(
    statement: &Statement,
    witness: Witness,
    level: SecurityLevel,
    progress: &mut dyn FnMut(Phase),
) -> Result<ProofFile, ProveError>
where
    VmComponent: ComponentProver<B>,
{
    let claim = witness.claim;
    let _span = tracing::info_span!("Main trace columns").entered();
    let main: Vec<Vec<Column>> = witness
        .tables
        .into_iter()
        .zip(Kind::ALL)
        .map(|(table, kind)| table_columns(table, claim.log_size(kind)))
        .collect();
    drop(_span);
    let body = prove_columns::<B>(statement, &claim, main, level, progress)?;
    Ok(ProofFile::new(statement.clone(), level, &body))
}

/// Commits and proves given main-trace columns (per component, in `Kind::ALL` order).
pub fn prove_columns<B: ProverBackend>(
    statement: &Statement,
    claim: &Claim,
    main: Vec<Vec<Column>>,
    level: SecurityLevel,
    progress: &mut dyn FnMut(Phase),
) -> Result<ProofBody, ProveError>
where
    VmComponent: ComponentProver<B>,
{
    progress(Phase::Commit);
    let config = level.pcs_config();
    let max_log_size = claim.log_sizes.iter().copied().max().unwrap_or(0).max(20);
    let twiddles = B::shared_twiddles(Prover::<B>::twiddles_log_domain(config, max_log_size))
        .unwrap_or_else(|| Arc::new(Prover::<B>::twiddles(config, max_log_size)));
    let mut prover = Prover::<B>::new(config, &twiddles);
    if B::KEEPS_COEFFICIENTS {
        prover.keep_coefficients();
    }
    let preprocessed = preprocessed::columns();
    match B::preprocessed_tree(config) {
        Some(tree) => prover.commit_built(tree),
        None => prover.commit(preprocessed.iter().cloned().map(B::from_simd).collect()),
    }
    statement.mix_into(prover.channel());
    claim.mix_into(prover.channel());
    prover.commit(main.iter().flatten().cloned().map(B::from_simd).collect());
    let interaction_pow = prover.grind(level.interaction_pow_bits());

    let rel = Relations::draw(prover.channel());
    let by_id = preprocessed::by_id(preprocessed);
    let mut claimed_sums = [SecureField::from(0u32); N_COMPONENTS];
    let mut interaction_columns = Vec::new();
    let span = tracing::info_span!("Interaction trace").entered();
    for (i, &kind) in Kind::ALL.iter().enumerate() {
        let eval = obelysk_air::vm::eval(claim, kind, &rel);
        let (columns, sum) = interaction::interaction_trace(&eval, &main[i], &by_id);
        claimed_sums[i] = sum;
        interaction_columns.extend(columns);
    }
    // The main columns were read for the last time: free them before the composition.
    drop(main);
    drop(span);
    prover.commit_interaction(
        &claimed_sums,
        interaction_columns.into_iter().map(B::from_simd).collect(),
    );

    progress(Phase::Prove);
    let components: Vec<B::Component> = components(claim, &rel, &claimed_sums)
        .into_iter()
        .map(B::component)
        .collect();
    let provers: Vec<&dyn ComponentProver<B>> = components
        .iter()
        .map(|c| c as &dyn ComponentProver<B>)
        .collect();
    let stark = prover
        .prove(&provers)
        .map_err(|e| ProveError::Stwo(e.to_string()))?;
    Ok(ProofBody {
        config,
        claim: *claim,
        interaction_pow,
        claimed_sums,
        stark,
    })
}
