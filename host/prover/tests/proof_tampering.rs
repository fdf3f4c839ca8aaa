//! Tampered proofs: every change to the statement, the claim, the commitments, the
//! configuration or any byte of the file is rejected by the verifier.

mod common;

use common::*;
use obelysk_air::api::{VerifyError, verify_file};
use obelysk_air::proof::{ProofBody, ProofFile};
use obelysk_air::statement::attestation;
use obelysk_air::vm::AirError;
use obelysk_prover::prove;
use stwo::core::fields::qm31::SecureField;

fn proven() -> (Vec<u8>, ProofFile) {
    let wasm = coverage();
    let (_, file) = prove(&wasm, &[5, 9, 2], LEVEL).unwrap();
    verify_file(&wasm, &file, 96).expect("the honest proof verifies");
    (wasm, file)
}

/// Re-packs a file after editing its body or statement, with a fresh attestation, so only
/// the proof itself can catch the edit.
fn repack(file: &ProofFile, edit: impl FnOnce(&mut ProofFile, &mut ProofBody)) -> ProofFile {
    let mut file = file.clone();
    let mut body = file.decode_body().unwrap();
    edit(&mut file, &mut body);
    file.body = postcard::to_allocvec(&body).unwrap();
    file.attestation = attestation(&file.statement, &file.body, file.security_bits);
    file
}

#[test]
fn changed_statement() {
    let (wasm, file) = proven();
    let edits: [fn(&mut ProofFile); 5] = [
        |f| f.statement.input[0] += 1,
        |f| f.statement.input.push(0),
        |f| f.statement.output[0] ^= 1,
        |f| f.statement.output.pop().map(drop).unwrap_or(()),
        |f| f.statement.steps += 1,
    ];
    for edit in edits {
        let forged = repack(&file, |f, _| edit(f));
        let err = verify_file(&wasm, &forged, 96).unwrap_err();
        assert!(matches!(err, VerifyError::Air(_)), "{err}");
    }
}

#[test]
fn another_program() {
    let (_, file) = proven();
    // The module must lower to the proof's program.
    let err = verify_file(&sum_input(), &file, 96).unwrap_err();
    assert!(matches!(err, VerifyError::ProgramMismatch { .. }), "{err}");
    // Claiming the other program's id does not make the proof about it.
    let other = obelysk_vm::lower::lower(&sum_input()).unwrap().id();
    let forged = repack(&file, |f, _| f.statement.program_id = other.0);
    let err = verify_file(&sum_input(), &forged, 96).unwrap_err();
    assert!(matches!(err, VerifyError::Air(_)), "{err}");
}

#[test]
fn preprocessed_root_claimed_sums_and_log_sizes() {
    let (wasm, file) = proven();
    let forged = repack(&file, |_, b| b.stark.0.commitments[0].0[0] ^= 1);
    assert_eq!(
        verify_file(&wasm, &forged, 96).unwrap_err(),
        VerifyError::Air(AirError::PreprocessedRoot)
    );
    // One claimed sum changed: unbalanced.
    let forged = repack(&file, |_, b| b.claimed_sums[4] += SecureField::from(1u32));
    assert_eq!(
        verify_file(&wasm, &forged, 96).unwrap_err(),
        VerifyError::Air(AirError::Unbalanced)
    );
    // Two changed so they still cancel: the interaction trace no longer ends at them.
    let forged = repack(&file, |_, b| {
        b.claimed_sums[4] += SecureField::from(1u32);
        b.claimed_sums[5] -= SecureField::from(1u32);
    });
    assert!(matches!(
        verify_file(&wasm, &forged, 96).unwrap_err(),
        VerifyError::Air(AirError::Stark(_))
    ));
    // Log sizes: a fixed table's, and a family's.
    for (component, delta) in [(0, 1), (4, 1), (12, 1)] {
        let forged = repack(&file, |_, b| b.claim.log_sizes[component] += delta);
        assert!(matches!(
            verify_file(&wasm, &forged, 96).unwrap_err(),
            VerifyError::Air(_)
        ));
    }
}

#[test]
fn weakened_configuration() {
    let (wasm, file) = proven();
    let forged = repack(&file, |f, b| {
        b.config.fri_config.n_queries = 10;
        f.security_bits = b.config.security_bits();
    });
    assert!(matches!(
        verify_file(&wasm, &forged, 96).unwrap_err(),
        VerifyError::Security(_)
    ));
    // A verifier asking for more than the proof has refuses it.
    assert!(matches!(
        verify_file(&wasm, &file, 128).unwrap_err(),
        VerifyError::Security(_)
    ));
    // Same bits, not a preset (so no pinned root): refused.
    let forged = repack(&file, |_, b| {
        b.config.pow_bits -= 1;
        b.config.fri_config.n_queries += 1;
    });
    assert_eq!(
        verify_file(&wasm, &forged, 96).unwrap_err(),
        VerifyError::UnknownConfig
    );
}

/// Flips one byte at a time: every byte of the header and statement, and a spread of positions
/// through the body (commitments, sampled values, decommitments, queried values, FRI, the
/// proof of work, the attestation).
#[test]
fn any_flipped_byte() {
    let (wasm, file) = proven();
    let bytes = file.to_bytes();
    let body_start = bytes.len() - file.body.len() - 32 - 1;
    let mut positions: Vec<usize> = (0..body_start.min(400)).collect();
    let stride = (bytes.len() / 600).max(1);
    positions.extend((body_start..bytes.len()).step_by(stride));
    positions.extend(bytes.len() - 40..bytes.len());
    for position in positions {
        let mut forged = bytes.clone();
        forged[position] ^= 0x01;
        let verdict = ProofFile::from_bytes(&forged)
            .map_err(VerifyError::from)
            .and_then(|f| verify_file(&wasm, &f, 96));
        assert!(
            verdict.is_err(),
            "flipping byte {position} of {} went unnoticed",
            bytes.len()
        );
    }
}

#[test]
fn version_mismatch_is_explained() {
    let (_, file) = proven();
    let mut bytes = file.to_bytes();
    bytes[8] = 2;
    let err = ProofFile::from_bytes(&bytes).unwrap_err().to_string();
    assert!(
        err.contains("format version 2") && err.contains("reads format 1"),
        "{err}"
    );
    assert!(ProofFile::from_bytes(b"not a proof").is_err());
}
