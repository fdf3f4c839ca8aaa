//! The verifier's entry point: a module, a statement and a proof file in; a verdict out.

use obelysk_vm::lower::{LowerError, lower};

use crate::proof::{FormatError, ProofBody, ProofFile};
use crate::security::{InsufficientSecurity, SecurityLevel, check_security};
use crate::soundness::Soundness;
use crate::statement::Statement;
use crate::vm::{AirError, verify_air};

/// Why a proof is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("the module does not lower to a provable program: {0}")]
    Module(#[from] LowerError),
    #[error(
        "the proof is for program {proof}, but the module lowers to {module} (IR version \
         {ir_version} in the proof, {} here)",
        obelysk_vm::ir::IR_VERSION
    )]
    ProgramMismatch {
        proof: String,
        module: String,
        ir_version: u32,
    },
    #[error("the proof is about {what} {found:?}, not the expected {expected:?}")]
    StatementMismatch {
        what: &'static str,
        found: Vec<u32>,
        expected: Vec<u32>,
    },
    #[error(transparent)]
    Security(#[from] InsufficientSecurity),
    #[error("the proof's PCS configuration is not one of Obelysk's presets")]
    UnknownConfig,
    #[error("the attestation in the file does not match its contents")]
    Attestation,
    #[error(transparent)]
    Air(#[from] AirError),
}

impl VerifyError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Format(FormatError::Version { .. }) => "proof_version",
            VerifyError::Format(_) => "proof_format",
            VerifyError::Module(_) => "module",
            VerifyError::ProgramMismatch { .. } => "program_mismatch",
            VerifyError::StatementMismatch { .. } => "statement_mismatch",
            VerifyError::Security(_) => "insufficient_security",
            VerifyError::UnknownConfig => "unknown_config",
            VerifyError::Attestation => "attestation_mismatch",
            VerifyError::Air(_) => "invalid_proof",
        }
    }
}

/// Verifies that `proof` (a proof file's bytes) proves `module` run on `input` wrote `output`,
/// at `min_security_bits` or more. Returns the proven statement.
pub fn verify(
    module: &[u8],
    input: &[u32],
    output: &[u32],
    proof: &[u8],
    min_security_bits: u32,
) -> Result<Statement, VerifyError> {
    verify_decoded(module, input, output, proof, min_security_bits).map(|(_, statement)| statement)
}

/// [`verify`], also returning the file it decoded (for a caller that indexes the proof, so
/// that the bytes are decoded once).
pub fn verify_decoded(
    module: &[u8],
    input: &[u32],
    output: &[u32],
    proof: &[u8],
    min_security_bits: u32,
) -> Result<(ProofFile, Statement), VerifyError> {
    let (file, body) = ProofFile::decode(proof)?;
    let (statement, _) = verify_body(&lower(module)?, &file, body, min_security_bits)?;
    for (what, found, expected) in [
        ("input", &statement.input, input),
        ("output", &statement.output, output),
    ] {
        if found != expected {
            return Err(VerifyError::StatementMismatch {
                what,
                found: found.clone(),
                expected: expected.to_vec(),
            });
        }
    }
    Ok((file, statement))
}

/// Verifies a parsed proof file against `module`, whatever its input and output: returns the
/// statement it proves (what `obelysk verify` prints).
pub fn verify_file(
    module: &[u8],
    file: &ProofFile,
    min_security_bits: u32,
) -> Result<Statement, VerifyError> {
    verify_program(&lower(module)?, file, min_security_bits)
}

/// Like [`verify_file`], for a program the verifier lowered itself.
pub fn verify_program(
    program: &obelysk_vm::ir::Program,
    file: &ProofFile,
    min_security_bits: u32,
) -> Result<Statement, VerifyError> {
    verify_program_soundness(program, file, min_security_bits).map(|(statement, _)| statement)
}

/// Like [`verify_program`], also returning the proof's own soundness, term by term (at
/// least its preset's level; higher for smaller proofs).
pub fn verify_program_soundness(
    program: &obelysk_vm::ir::Program,
    file: &ProofFile,
    min_security_bits: u32,
) -> Result<(Statement, Soundness), VerifyError> {
    verify_body(program, file, file.decode_body()?, min_security_bits)
}

/// Like [`verify_program_soundness`], with `file`'s body already decoded
/// ([`ProofFile::decode`]), so bytes are decoded once.
pub fn verify_body(
    program: &obelysk_vm::ir::Program,
    file: &ProofFile,
    body: ProofBody,
    min_security_bits: u32,
) -> Result<(Statement, Soundness), VerifyError> {
    let id = program.id();
    if id.0 != file.statement.program_id || file.ir_version != obelysk_vm::ir::IR_VERSION {
        return Err(VerifyError::ProgramMismatch {
            proof: hex(&file.statement.program_id),
            module: id.to_string(),
            ir_version: file.ir_version,
        });
    }
    // Only a preset is trusted: its level is known, its preprocessed root pinned. Nothing is
    // computed from a hostile configuration.
    let level = SecurityLevel::of_config(&body.config).ok_or(VerifyError::UnknownConfig)?;
    check_security(level.bits(), min_security_bits)?;
    if file.security_bits != level.bits()
        || crate::statement::attestation(&file.statement, level.bits()) != file.attestation
    {
        return Err(VerifyError::Attestation);
    }
    let soundness = verify_air(program, &file.statement, level, body)?;
    Ok((file.statement.clone(), soundness))
}

/// What `obelysk verify --json` and the browser verifier print: `{"valid": true, ...}` with
/// what the proof proves, or `{"valid": false, "error": {"code", "message"}}`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub valid: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub proven: Option<Proven>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportError>,
}

/// What a valid proof proves, in hex and words.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Proven {
    pub program_id: String,
    pub input: Vec<u32>,
    pub output: Vec<u32>,
    pub steps: u64,
    /// The level the proof's preset guarantees (bound by the attestation).
    pub security_bits: u32,
    pub soundness: SoundnessReport,
    pub proof_hash: String,
    /// `0x` + 64 hex.
    pub attestation: String,
}

/// A proof's own soundness: its level, then each term.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SoundnessReport {
    pub bits: u32,
    #[serde(flatten)]
    pub terms: Soundness,
}

/// Why a proof was rejected: [`VerifyError::code`] and its message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportError {
    pub code: &'static str,
    pub message: String,
}

/// Verifies `proof` (a proof file's bytes) against `module` whatever its input and output, at
/// `min_security_bits` or more, and reports the verdict.
pub fn check(module: &[u8], proof: &[u8], min_security_bits: u32) -> Report {
    let verdict = ProofFile::decode(proof)
        .map_err(VerifyError::from)
        .and_then(|(file, body)| {
            let (statement, soundness) =
                verify_body(&lower(module)?, &file, body, min_security_bits)?;
            Ok(Proven {
                program_id: hex(&statement.program_id),
                input: statement.input,
                output: statement.output,
                steps: statement.steps,
                security_bits: file.security_bits,
                soundness: SoundnessReport {
                    bits: soundness.bits(),
                    terms: soundness,
                },
                proof_hash: hex(&file.proof_hash()),
                attestation: format!("0x{}", hex(&file.attestation)),
            })
        });
    match verdict {
        Ok(proven) => Report {
            valid: true,
            proven: Some(proven),
            error: None,
        },
        Err(e) => Report {
            valid: false,
            proven: None,
            error: Some(ReportError {
                code: e.code(),
                message: e.to_string(),
            }),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
