//! Tampered proofs: every change to the statement, the claim, the commitments, the
//! configuration, the encoding, the shape or any byte of the file is rejected by the verifier,
//! with an error and never a panic. `make test` runs this file in release too (overflow
//! behaviour differs).

mod common;

use std::sync::OnceLock;

use common::*;
use obelysk_air::api::{VerifyError, verify_file, verify_program_soundness};
use obelysk_air::proof::{FormatError, ProofBody, ProofFile};
use obelysk_air::security::SecurityLevel;
use obelysk_air::statement::attestation;
use obelysk_air::vm::{AirError, MAX_INPUT_WORDS};
use obelysk_prover::prove;
use stwo::core::fields::m31::P;
use stwo::core::fields::qm31::SecureField;

/// One honest proof, shared by every test in this file.
fn proven() -> (Vec<u8>, ProofFile) {
    static PROOF: OnceLock<(Vec<u8>, ProofFile)> = OnceLock::new();
    PROOF
        .get_or_init(|| {
            let wasm = coverage();
            let (_, file) = prove(&wasm, &[5, 9, 2], LEVEL).unwrap();
            verify_file(&wasm, &file, 96).expect("the honest proof verifies");
            (wasm, file)
        })
        .clone()
}

/// A named edit of a proof body.
type Edit = (&'static str, fn(&mut ProofBody));

/// Re-packs a file after editing its body or statement, with a fresh attestation, so only
/// the proof itself can catch the edit.
fn repack(file: &ProofFile, edit: impl FnOnce(&mut ProofFile, &mut ProofBody)) -> ProofFile {
    let mut file = file.clone();
    let mut body = file.decode_body().unwrap();
    edit(&mut file, &mut body);
    file.body = postcard::to_allocvec(&body).unwrap();
    file.attestation = attestation(&file.statement, file.security_bits);
    file
}

/// The verdict on a file's bytes, as `obelysk verify` reaches it.
fn verdict(wasm: &[u8], bytes: &[u8]) -> Result<(), VerifyError> {
    let file = ProofFile::from_bytes(bytes)?;
    verify_file(wasm, &file, 96).map(drop)
}

fn air_error(err: VerifyError) -> AirError {
    match err {
        VerifyError::Air(e) => e,
        other => panic!("expected an AIR error, got {other}"),
    }
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
fn statement_sizes_are_bounded() {
    let (wasm, file) = proven();
    let too_long = repack(&file, |f, _| {
        f.statement.input = vec![0; MAX_INPUT_WORDS + 1]
    });
    let err = air_error(verify_file(&wasm, &too_long, 96).unwrap_err());
    assert!(matches!(err, AirError::StatementSize { .. }), "{err}");
    // Each output word is written by a step: never as many outputs as steps.
    let steps = file.statement.steps as usize;
    let too_many = repack(&file, |f, _| f.statement.output = vec![1; steps]);
    let err = air_error(verify_file(&wasm, &too_many, 96).unwrap_err());
    assert!(matches!(err, AirError::StatementSize { .. }), "{err}");
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

/// A module the sandbox refuses is refused by the verifier too, however the proof reads: here
/// `write` imported as `[i32] -> [i32]` (whose lowering would shift every slot) and a data
/// segment that traps at instantiation, around a program that writes 42.
#[test]
fn modules_the_sandbox_refuses_are_refused() {
    let honest = module(r#"(func (export "main") (call $write (i32.const 42)))"#);
    let (output, file) = prove(&honest, &[], LEVEL).unwrap();
    assert_eq!(output, [42]);
    verify_file(&honest, &file, 96).unwrap();
    let mistyped = wat::parse_str(
        r#"(module (import "obelysk" "write" (func $write (param i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "main") (drop (call $write (i32.const 42)))))"#,
    )
    .unwrap();
    let trapping = module(
        r#"(data (i32.const 65535) "xy") (func (export "main") (call $write (i32.const 42)))"#,
    );
    for refused in [mistyped, trapping] {
        let err = verify_file(&refused, &file, 96).unwrap_err();
        assert!(matches!(err, VerifyError::Module(_)), "{err}");
    }
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
fn interaction_proof_of_work() {
    let (wasm, file) = proven();
    let body = file.decode_body().unwrap();
    // Nonces that do not grind the transcript are refused before any relation element.
    let mut refused = 0;
    for delta in 1..=8u64 {
        let forged = repack(&file, |_, b| {
            b.interaction_pow = body.interaction_pow ^ delta
        });
        match verify_file(&wasm, &forged, 96).unwrap_err() {
            VerifyError::Air(AirError::InteractionPow) => refused += 1,
            other => assert!(matches!(other, VerifyError::Air(_)), "{other}"),
        }
    }
    assert!(refused >= 7, "only {refused} of 8 bad nonces were refused");
}

#[test]
fn configurations_are_presets_only() {
    let (wasm, file) = proven();
    // Not a preset, whatever its nominal bits.
    for edit in [
        (|b: &mut ProofBody| b.config.fri_config.n_queries = 10) as fn(&mut ProofBody),
        |b| {
            b.config.pow_bits -= 1;
            b.config.fri_config.n_queries += 1;
        },
        // Values whose nominal bits overflow: compared with the presets, never computed.
        |b| b.config.pow_bits = u32::MAX,
        |b| b.config.fri_config.n_queries = usize::MAX,
    ] {
        let forged = repack(&file, |_, b| edit(b));
        assert_eq!(
            verify_file(&wasm, &forged, 96).unwrap_err(),
            VerifyError::UnknownConfig
        );
    }
    // A verifier asking for more than the preset guarantees refuses it.
    assert!(matches!(
        verify_file(&wasm, &file, 97).unwrap_err(),
        VerifyError::Security(_)
    ));
    // The STARK's own copy of the configuration must be the preset too (stwo never reads it,
    // so it would be a free choice that changes the file).
    for edit in [
        (|b: &mut ProofBody| b.stark.0.config.pow_bits = 0) as fn(&mut ProofBody),
        |b| b.stark.0.config = SecurityLevel::Bits98.pcs_config(),
    ] {
        let forged = repack(&file, |_, b| edit(b));
        let err = air_error(verify_file(&wasm, &forged, 96).unwrap_err());
        assert!(matches!(err, AirError::Shape(_)), "{err}");
    }
    // The file's level and attestation are the preset's.
    let forged = repack(&file, |f, _| f.security_bits = 128);
    assert_eq!(
        verify_file(&wasm, &forged, 96).unwrap_err(),
        VerifyError::Attestation
    );
}

/// The 98-bit preset proves and verifies at 98, and its configuration is the one preset: the
/// 26-bit grinding with 51 queries it had until stop 31 (same provable level) is refused.
#[test]
fn the_98_bit_preset_proves_at_its_own_configuration() {
    let wasm = coverage();
    let (_, file) = prove(&wasm, &[5, 9, 2], SecurityLevel::Bits98).unwrap();
    assert_eq!(file.security_bits, 98);
    verify_file(&wasm, &file, 98).expect("a 98-bit proof verifies at 98");
    let config = file.decode_body().unwrap().config;
    assert_eq!((config.pow_bits, config.fri_config.n_queries), (20, 57));
    let retired = repack(&file, |_, b| {
        b.config.pow_bits = 26;
        b.config.fri_config.n_queries = 51;
    });
    assert_eq!(
        verify_file(&wasm, &retired, 96).unwrap_err(),
        VerifyError::UnknownConfig
    );
}

/// A claimed sum written as `c + p` (the same value mod p), an out-of-domain sample set to
/// `0xFFFFFFFF`, and every other place a field element travels: each a format error.
#[test]
fn non_canonical_field_elements() {
    let (wasm, file) = proven();
    let edits: [Edit; 6] = [
        ("claimed sum c + p", |b| {
            let c = &mut b.claimed_sums[4].0.0.0;
            *c = if *c < u32::MAX - P { *c + P } else { u32::MAX };
        }),
        ("OODS value 0xFFFFFFFF", |b| {
            b.stark.0.sampled_values[1][0][0].1.1.0 = u32::MAX;
        }),
        ("queried value ≥ p", |b| {
            b.stark.0.queried_values[1][0][0].0 = P;
        }),
        ("FRI witness ≥ p", |b| {
            b.stark.0.fri_proof.first_layer.fri_witness[0].0.1.0 = u32::MAX;
        }),
        ("inner FRI witness ≥ p", |b| {
            b.stark.0.fri_proof.inner_layers[0].fri_witness[0].1.0.0 = P + 3;
        }),
        ("last layer ≥ p", |b| {
            b.stark.0.fri_proof.last_layer_poly[0].0.0.0 = P;
        }),
    ];
    for (what, edit) in edits {
        let forged = repack(&file, |_, b| edit(b));
        let err = verify_file(&wasm, &forged, 96).unwrap_err();
        assert!(
            matches!(err, VerifyError::Format(FormatError::Corrupt(_))),
            "{what}: {err}"
        );
        // The same from the file's bytes.
        assert!(
            matches!(
                ProofFile::from_bytes(&forged.to_bytes()),
                Err(FormatError::Corrupt(_))
            ),
            "{what}"
        );
    }
}

/// Shapes stwo would panic or abort on: each is an error, decided before stwo runs.
#[test]
fn malformed_shapes_are_errors() {
    let (wasm, file) = proven();
    let edits: [Edit; 14] = [
        ("first interaction column one sample short", |b| {
            b.stark.0.sampled_values[2][0].pop();
        }),
        ("every main column one sample short", |b| {
            for column in &mut b.stark.0.sampled_values[1] {
                column.pop();
            }
        }),
        ("a main column with an extra sample", |b| {
            let extra = b.stark.0.sampled_values[1][3][0];
            b.stark.0.sampled_values[1][3].push(extra);
        }),
        ("a preprocessed sample for an unused column", |b| {
            let extra = b.stark.0.sampled_values[1][0][0];
            let unused = b.stark.0.sampled_values[0]
                .iter_mut()
                .find(|c| c.is_empty())
                .unwrap();
            unused.push(extra);
        }),
        ("a composition column missing", |b| {
            b.stark.0.sampled_values[3].pop();
        }),
        ("a tree of samples missing", |b| {
            b.stark.0.sampled_values.0.pop();
        }),
        ("a queried column one value short", |b| {
            b.stark.0.queried_values[1][0].pop();
        }),
        ("a queried column missing", |b| {
            b.stark.0.queried_values[2].pop();
        }),
        ("a tree of queried values missing", |b| {
            b.stark.0.queried_values.0.pop();
        }),
        ("a tree of decommitments missing", |b| {
            b.stark.0.decommitments.0.pop();
        }),
        ("an extra commitment", |b| {
            let root = b.stark.0.commitments[1];
            b.stark.0.commitments.push(root);
        }),
        ("a FRI layer missing", |b| {
            b.stark.0.fri_proof.inner_layers.pop();
        }),
        ("a FRI witness short", |b| {
            b.stark.0.fri_proof.first_layer.fri_witness.pop();
        }),
        ("a Merkle witness short", |b| {
            b.stark.0.decommitments[1].hash_witness.pop();
        }),
    ];
    for (what, edit) in edits {
        let forged = repack(&file, |_, b| edit(b));
        let err = verify_file(&wasm, &forged, 96).unwrap_err();
        assert!(matches!(err, VerifyError::Air(_)), "{what}: {err}");
    }
}

/// The last-layer polynomial's size is a separate field from its coefficients: a disagreeing
/// size is a shape error (stwo would shift by it or index past the end).
#[test]
fn last_layer_size_must_match_its_coefficients() {
    let (wasm, file) = proven();
    let body = file.decode_body().unwrap();
    let poly = postcard::to_allocvec(&body.stark.0.fri_proof.last_layer_poly).unwrap();
    let (coeffs, log_size): (Vec<[u32; 4]>, u32) = postcard::from_bytes(&poly).unwrap();
    assert_eq!((coeffs.len(), log_size), (1, 0));
    for (coeffs, log_size) in [
        (coeffs.clone(), 40u32),
        (coeffs.clone(), 1),
        (vec![], 0),
        (vec![coeffs[0]; 2], 1),
    ] {
        let forged = repack(&file, |_, b| {
            let bytes = postcard::to_allocvec(&(coeffs, log_size)).unwrap();
            b.stark.0.fri_proof.last_layer_poly = postcard::from_bytes(&bytes).unwrap();
        });
        let err = air_error(verify_file(&wasm, &forged, 96).unwrap_err());
        assert!(matches!(err, AirError::Shape(_)), "{err}");
    }
}

/// A statement proven twice, with different padding (so different proof bytes), has one
/// attestation; the proof file's encoding is canonical.
#[test]
fn one_statement_one_attestation() {
    let (wasm, file) = proven();
    let program = obelysk_vm::lower::lower(&wasm).unwrap();
    let trace = obelysk_vm::interp::run(&program, &[5, 9, 2], 1 << 20).unwrap();
    let mut witness =
        obelysk_prover::witness::Witness::build(&program, &[5, 9, 2], &trace).unwrap();
    witness.claim.log_sizes[4] += 1;
    let statement = obelysk_prover::vm::statement(&program, &[5, 9, 2], &trace);
    let padded =
        obelysk_prover::vm::prove_witness(&statement, witness, LEVEL, &mut |_| {}).unwrap();
    verify_file(&wasm, &padded, 96).expect("the padded proof verifies");
    assert_ne!(padded.body, file.body);
    assert_eq!(padded.attestation, file.attestation);
    assert_eq!(file.attestation, attestation(&file.statement, LEVEL.bits()));

    // An over-long integer (the body's first, `pow_bits`, as two bytes) decodes to the same
    // values but is not the canonical encoding: refused.
    let pow_bits = LEVEL.pcs_config().pow_bits;
    assert_eq!(u32::from(file.body[0]), pow_bits);
    let mut stretched = file.clone();
    stretched.body.splice(0..1, [0x80 | pow_bits as u8, 0x00]);
    assert!(matches!(
        stretched.decode_body(),
        Err(FormatError::Corrupt(_))
    ));
    assert!(verdict(&wasm, &stretched.to_bytes()).is_err());

    // The producer in the header is informational: the attestation does not depend on it.
    let mut bytes = file.to_bytes();
    bytes[14] ^= 0x01;
    let relabelled = ProofFile::from_bytes(&bytes).unwrap();
    assert_eq!(relabelled, file);
}

#[test]
fn soundness_is_reported_per_proof() {
    let (wasm, file) = proven();
    let program = obelysk_vm::lower::lower(&wasm).unwrap();
    let (_, soundness) = verify_program_soundness(&program, &file, 96).unwrap();
    // A small proof is sounder than its preset's worst case, and capped by FRI here.
    assert_eq!(soundness.bits(), 96);
    assert!(
        soundness.field > LEVEL.worst_case().field + 3.0,
        "{soundness:?}"
    );
    assert!(soundness.fri_provable < soundness.fri_conjectured);
}

/// Flips one byte at a time: every byte of the header and statement, and a spread of positions
/// through the body (commitments, sampled values, decommitments, queried values, FRI, the
/// proof of work, the attestation). Only the producer label may change unnoticed.
#[test]
fn any_flipped_byte() {
    let (wasm, file) = proven();
    let bytes = file.to_bytes();
    let producer = 14..14 + obelysk_air::proof::VERSION.len();
    let body_start = bytes.len() - file.body.len() - 32 - 1;
    let mut positions: Vec<usize> = (0..body_start.min(400))
        .filter(|p| !producer.contains(p))
        .collect();
    let stride = (bytes.len() / 600).max(1);
    positions.extend((body_start..bytes.len()).step_by(stride));
    positions.extend(bytes.len() - 40..bytes.len());
    for position in positions {
        let mut forged = bytes.clone();
        forged[position] ^= 0x01;
        assert!(
            verdict(&wasm, &forged).is_err(),
            "flipping byte {position} of {} went unnoticed",
            bytes.len()
        );
    }
}

#[test]
fn version_mismatch_is_explained() {
    let (_, file) = proven();
    let mut bytes = file.to_bytes();
    bytes[8] = 1;
    let err = ProofFile::from_bytes(&bytes).unwrap_err().to_string();
    assert!(
        err.contains("format version 1") && err.contains("reads format 2"),
        "{err}"
    );
    assert!(ProofFile::from_bytes(b"not a proof").is_err());
}
