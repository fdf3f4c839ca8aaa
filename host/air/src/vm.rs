//! The VM AIR assembled: the claim (component sizes), the verifier's own public data (ROM
//! rows, the public LogUp sum) and the verification of a [`crate::proof::ProofBody`].
//!
//! Channel order, prover and verifier alike:
//! `config` → preprocessed root → statement → claim (log sizes) → main root → interaction
//! proof of work → relation elements → claimed sums → interaction root → stwo's proof.

use num_traits::Zero;
use obelysk_vm::ir::Program;
use serde::{Deserialize, Serialize};
use stwo::core::air::Component;
use stwo::core::channel::Channel;
use stwo::core::fields::FieldExpOps;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::{FrameworkComponent, Relation, TraceLocationAllocator};

use crate::components::boundary::{MAX_LOG_ADDRESSES, MIN_LOG_ADDRESSES};
use crate::components::io::{TAG_INPUT, TAG_INPUT_LEN};
use crate::components::memory::MAX_MEMORY_END;
use crate::components::rom::RomRow;
use crate::components::{Kind, N_COMPONENTS, VmComponent, VmEval, preprocessed_columns};
use crate::proof::ProofBody;
use crate::relations::Relations;
use crate::security::SecurityLevel;
use crate::soundness::{Soundness, TooManyUses, check_relation_uses, relation_uses, soundness};
use crate::statement::Statement;
use crate::verifier::{StarkError, Verifier, tree_log_sizes};

/// The most steps a proof may claim: clocks stay below 2^23, timestamps at most 2^26
/// (`ACCESSES_PER_STEP = 8`).
pub const MAX_STEPS: u64 = 1 << 23;
/// The largest instruction-family component (2^22 rows).
pub const MAX_LOG_ROWS: u32 = 22;
/// The smallest component (one SIMD vector of rows).
pub const MIN_LOG_ROWS: u32 = 4;
/// The most input words a statement may have (the ROM then stays within `MAX_LOG_ROWS`).
pub const MAX_INPUT_WORDS: usize = 1 << 20;

/// The largest claim, ROM and output the verifier accepts: every family and the ROM at
/// their maximum, the boundary at its maximum, one output word per step.
pub fn worst_case_claim() -> (Claim, u64, u64) {
    let rom_rows = obelysk_vm::ir::MAX_CODE_LEN + MAX_INPUT_WORDS + 1;
    let log_sizes = Kind::ALL.map(|kind| match kind {
        Kind::Range16 => 16,
        Kind::Range10 => 10,
        Kind::Bytes => crate::components::byte_table::LOG_SIZE,
        Kind::Rom => rows_log_size(rom_rows),
        Kind::Boundary => MAX_LOG_ADDRESSES,
        _ => MAX_LOG_ROWS,
    });
    (
        Claim {
            log_sizes,
            memory_end: MAX_MEMORY_END,
        },
        rom_rows as u64,
        MAX_STEPS,
    )
}

/// The prover's claim: each component's log size, in [`Kind::ALL`] order, and the end of
/// the memory boundary's address chain (one past its last row's address; 0 without rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub log_sizes: [u32; N_COMPONENTS],
    pub memory_end: u32,
}

impl Claim {
    /// The log size of `kind`.
    pub fn log_size(&self, kind: Kind) -> u32 {
        self.log_sizes[kind.index()]
    }

    /// Mixes the claim into the channel (before the main trace is committed).
    pub fn mix_into(&self, channel: &mut impl Channel) {
        for size in self.log_sizes {
            channel.mix_u64(u64::from(size));
        }
        channel.mix_u64(u64::from(self.memory_end));
    }

    /// Checks the sizes against what the verifier knows: the tables' fixed sizes, the ROM's
    /// size from its own data, and bounds on the rest (so relation multiplicities stay far
    /// below p and the boundary's `seq` column exists).
    pub fn check(&self, rom_rows: usize) -> Result<(), String> {
        for kind in Kind::ALL {
            let size = self.log_size(kind);
            let ok = match kind {
                Kind::Range16 => size == 16,
                Kind::Range10 => size == 10,
                Kind::Bytes => size == crate::components::byte_table::LOG_SIZE,
                Kind::Rom => size == rows_log_size(rom_rows),
                Kind::Boundary => (MIN_LOG_ADDRESSES..=MAX_LOG_ADDRESSES).contains(&size),
                _ => (MIN_LOG_ROWS..=MAX_LOG_ROWS).contains(&size),
            };
            if !ok {
                return Err(format!("component {} has log size {size}", kind.name()));
            }
        }
        if self.memory_end > MAX_MEMORY_END {
            return Err(format!("the memory ends at {}, past 2^28", self.memory_end));
        }
        Ok(())
    }
}

/// The log size of a component holding `rows` rows.
pub fn rows_log_size(rows: usize) -> u32 {
    rows.next_power_of_two().trailing_zeros().max(MIN_LOG_ROWS)
}

/// The ROM: the program (tag 0), every input word (tag 1) and the input length (tag 2).
pub fn rom_rows(program: &Program, input: &[u32]) -> Vec<RomRow> {
    let mut rows = Vec::with_capacity(program.code.len() + input.len() + 1);
    for (pc, instr) in program.code.iter().enumerate() {
        let [op, a, b, c, d] = instr.encode();
        rows.push([0, pc as u32, op, a, b, c, d]);
    }
    for (i, &word) in input.iter().enumerate() {
        let i = i as u32;
        rows.push([
            TAG_INPUT,
            i & 0xffff,
            i >> 16,
            word & 0xffff,
            word >> 16,
            0,
            0,
        ]);
    }
    let len = input.len() as u32;
    rows.push([TAG_INPUT_LEN, 0, 0, len & 0xffff, len >> 16, 0, 0]);
    rows
}

/// The verifier's part of the LogUp sum: it yields the initial state `(entry, 0, 0, 0, 0)`
/// (no memory yet: the entry stub grows it), consumes `Halted(steps − 1, len(output))`, each
/// ROM row's `Bind` and each output word, yields `Data(addr, byte)` for each of the program's
/// data bytes, yields `MemOrder(0)` and consumes `MemOrder(memory_end)`.
pub fn public_sum(
    rel: &Relations,
    program: &Program,
    rom: &[RomRow],
    statement: &Statement,
    memory_end: u32,
) -> SecureField {
    let m31 = BaseField::from_u32_unchecked;
    let inverse = |x: SecureField| x.inverse();
    let entry_pc = program.functions[program.main].entry;
    let mut sum = -inverse(
        rel.state
            .combine(&[m31(entry_pc), m31(0), m31(0), m31(0), m31(0)]),
    );
    for &(addr, byte) in &program.data {
        sum -= inverse(rel.data.combine(&[m31(addr), m31(u32::from(byte))]));
    }
    sum -= inverse(rel.mem_order.combine(&[m31(0)]));
    sum += inverse(rel.mem_order.combine(&[m31(memory_end)]));
    let last_clk = statement.steps.saturating_sub(1) as u32;
    sum += inverse(
        rel.halted
            .combine(&[m31(last_clk), m31(statement.output.len() as u32)]),
    );
    for row in rom {
        sum -= inverse(rel.bind.combine(&row.map(m31)));
    }
    for (k, &word) in statement.output.iter().enumerate() {
        sum += inverse(
            rel.output
                .combine(&[m31(k as u32), m31(word & 0xffff), m31(word >> 16)]),
        );
    }
    sum
}

/// The components for `claim`, with relation elements `rel` and the claimed sums.
pub fn components(
    claim: &Claim,
    rel: &Relations,
    claimed_sums: &[SecureField; N_COMPONENTS],
) -> Vec<VmComponent> {
    let allocator =
        &mut TraceLocationAllocator::new_with_preprocessed_columns(&preprocessed_columns());
    Kind::ALL
        .iter()
        .map(|&kind| {
            FrameworkComponent::new(
                allocator,
                eval(claim, kind, rel),
                claimed_sums[kind.index()],
            )
        })
        .collect()
}

/// The constraints of component `kind` at the size `claim` gives it.
pub fn eval(claim: &Claim, kind: Kind, rel: &Relations) -> VmEval {
    VmEval {
        kind,
        log_size: claim.log_size(kind),
        rel: rel.clone(),
    }
}

/// `components` as trait objects.
pub fn as_dyn(components: &[VmComponent]) -> Vec<&dyn Component> {
    components.iter().map(|c| c as &dyn Component).collect()
}

/// What the verifier checks beyond stwo's own verification, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AirError {
    #[error("the proof's claim is invalid: {0}")]
    Claim(String),
    #[error("the proof commits to a different preprocessed tree than the pinned tables")]
    PreprocessedRoot,
    #[error("the proof has {0} commitments, expected 4")]
    Commitments(usize),
    #[error("the LogUp sums do not cancel: the trace is not a valid execution of this statement")]
    Unbalanced,
    #[error("the statement claims {0} steps (must be 1..={MAX_STEPS})")]
    Steps(u64),
    #[error(
        "the statement has {input} input and {output} output words (at most {MAX_INPUT_WORDS} \
         inputs, fewer outputs than steps)"
    )]
    StatementSize { input: usize, output: usize },
    #[error(transparent)]
    RelationUses(#[from] TooManyUses),
    #[error("the proof of work before the relation elements is invalid")]
    InteractionPow,
    #[error("the proof is malformed: {0}")]
    Shape(String),
    #[error("the STARK does not verify: {0}")]
    Stark(String),
}

impl From<StarkError> for AirError {
    fn from(e: StarkError) -> Self {
        match e {
            StarkError::Shape(e) => AirError::Shape(e.0),
            StarkError::Stwo(e) => AirError::Stark(e.to_string()),
        }
    }
}

/// Verifies a proof body of `statement` about `program` (which the verifier lowered itself)
/// at the preset `level`. Returns the proof's soundness, term by term.
pub fn verify_air(
    program: &Program,
    statement: &Statement,
    level: SecurityLevel,
    body: ProofBody,
) -> Result<Soundness, AirError> {
    let ProofBody {
        config: _,
        claim,
        interaction_pow,
        claimed_sums,
        stark,
    } = body;
    if statement.steps == 0 || statement.steps > MAX_STEPS {
        return Err(AirError::Steps(statement.steps));
    }
    let (input, output) = (statement.input.len(), statement.output.len());
    if input > MAX_INPUT_WORDS || output as u64 >= statement.steps {
        return Err(AirError::StatementSize { input, output });
    }
    let rom = rom_rows(program, &statement.input);
    claim.check(rom.len()).map_err(AirError::Claim)?;
    check_relation_uses(&relation_uses(&claim))?;
    let roots = stark.0.commitments.clone();
    if roots.len() != 4 {
        return Err(AirError::Commitments(roots.len()));
    }
    if roots[0].0 != pinned_preprocessed_root(level) {
        return Err(AirError::PreprocessedRoot);
    }
    let mut verifier = Verifier::new(level.pcs_config());
    verifier.commit(roots[0], &crate::components::preprocessed_log_sizes());
    statement.mix_into(verifier.channel());
    claim.mix_into(verifier.channel());
    let sized = components(&claim, &Relations::dummy(), &claimed_sums);
    verifier.commit(roots[1], &tree_log_sizes(&as_dyn(&sized), 1));
    let pow_bits = level.interaction_pow_bits();
    if !verifier
        .channel()
        .verify_pow_nonce(pow_bits, interaction_pow)
    {
        return Err(AirError::InteractionPow);
    }
    verifier.channel().mix_u64(interaction_pow);
    let rel = Relations::draw(verifier.channel());
    verifier.commit_interaction(&claimed_sums, roots[2], &tree_log_sizes(&as_dyn(&sized), 2));
    let total: SecureField = claimed_sums.iter().copied().sum::<SecureField>()
        + public_sum(&rel, program, &rom, statement, claim.memory_end);
    if !total.is_zero() {
        return Err(AirError::Unbalanced);
    }
    let components = components(&claim, &rel, &claimed_sums);
    verifier.verify(&as_dyn(&components), stark)?;
    Ok(soundness(
        &level.pcs_config(),
        pow_bits,
        &claim,
        (rom.len() + program.data.len()) as u64,
        output as u64,
    ))
}

/// The root of the preprocessed tree for each preset. The tree does not depend on the program,
/// so the verifier compares the proof's root with this constant: a prover cannot commit other
/// "tables" (say, a range table that contains 2^16). `obelysk-prover`'s tests recompute it.
pub fn pinned_preprocessed_root(level: SecurityLevel) -> [u8; 32] {
    let hex = match level {
        SecurityLevel::Bits96 => "18d3cb74e3dec6b8dc8370fd357f4ca4cdd2561bd222241487da93b997c7d495",
        SecurityLevel::Bits98 => "2f122cc371af3f5dd6395d8cc4473f26cda73d74c389cc2906db900928473e57",
    };
    let mut root = [0u8; 32];
    for (i, byte) in root.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("a hex constant");
    }
    root
}
