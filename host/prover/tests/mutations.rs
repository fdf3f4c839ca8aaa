//! Mutated proofs, deterministically: byte flips, truncations, inflated lengths, non-canonical
//! values and shape changes, on the bytes and on the decoded body. None may be accepted, none
//! may panic (a panic fails this test; an abort kills it) and no single allocation while
//! decoding and verifying may exceed [`ALLOCATION_BOUND`].
//!
//! `OBELYSK_MUTATIONS` sets how many (default 2000, what `make test` runs in debug and in
//! release); `OBELYSK_MUTATION_SEED` the first seed. The 100 000-proof campaign in the issue
//! note is `OBELYSK_MUTATIONS=100000 cargo test --release -p obelysk-prover --test mutations`.

mod common;

#[path = "../../vm/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use common::*;
use obelysk_air::api::{VerifyError, verify_body};
use obelysk_air::proof::{ProofBody, ProofFile};
use obelysk_air::statement::attestation;
use obelysk_vm::ir::Program;
use stwo::core::fields::m31::{M31, P};
use support::{Rng, Tracking, largest_allocation};

/// The largest single allocation verification may make, whatever the proof says: 64 MiB.
const ALLOCATION_BOUND: usize = 64 << 20;

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// One mutation of the honest file, as bytes (`None`: it changed nothing, skip it).
fn mutate(rng: &mut Rng, file: &ProofFile, bytes: &[u8]) -> Option<Vec<u8>> {
    let producer = 14..14 + obelysk_air::proof::VERSION.len();
    let mut out = bytes.to_vec();
    match rng.below(8) {
        // A flipped bit anywhere but the (unverified) producer label.
        0 => {
            let at = rng.below(out.len());
            if producer.contains(&at) {
                return None;
            }
            out[at] ^= 1 << rng.below(8);
        }
        // Truncation.
        1 => out.truncate(rng.below(out.len())),
        // Inflated lengths: a maximal varint written over the bytes at a random place.
        2 => {
            let at = rng.below(out.len());
            for (k, byte) in [0xff, 0xff, 0xff, 0xff, 0x0f].into_iter().enumerate() {
                if let Some(b) = out.get_mut(at + k) {
                    *b = byte;
                }
            }
        }
        // Random bytes inserted.
        3 => {
            let at = rng.below(out.len());
            let n = 1 + rng.below(8);
            let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            out.splice(at..at, junk);
        }
        // The decoded body, edited and re-packed with a fresh attestation.
        kind => {
            let mut body = file.decode_body().unwrap();
            match kind {
                4 => non_canonical(rng, &mut body),
                5 => reshape(rng, &mut body),
                6 => revalue(rng, &mut body),
                _ => reclaim(rng, &mut body),
            }
            let mut edited = file.clone();
            edited.body = postcard::to_allocvec(&body).unwrap();
            edited.attestation = attestation(&edited.statement, edited.security_bits);
            out = edited.to_bytes();
        }
    }
    (out != bytes).then_some(out)
}

/// A base-field element somewhere, as a mutable reference.
fn some_m31<'a>(rng: &mut Rng, body: &'a mut ProofBody) -> Option<&'a mut M31> {
    let stark = &mut body.stark.0;
    match rng.below(5) {
        0 => {
            let sum = &mut body.claimed_sums[rng.below(body.claimed_sums.len())];
            Some(&mut sum.0.0)
        }
        1 => {
            let tree = rng.below(stark.sampled_values.len());
            let column = &mut stark.sampled_values[tree];
            let n = column.len();
            let values = column.get_mut(rng.below(n))?;
            let n = values.len();
            values.get_mut(rng.below(n)).map(|v| &mut v.1.0)
        }
        2 => {
            let tree = rng.below(stark.queried_values.len());
            let columns = &mut stark.queried_values[tree];
            let n = columns.len();
            let values = columns.get_mut(rng.below(n))?;
            let n = values.len();
            values.get_mut(rng.below(n))
        }
        3 => {
            let fri = &mut stark.fri_proof;
            let layer = rng.below(fri.inner_layers.len() + 1);
            let witness = if layer == 0 {
                &mut fri.first_layer.fri_witness
            } else {
                &mut fri.inner_layers[layer - 1].fri_witness
            };
            let n = witness.len();
            witness.get_mut(rng.below(n)).map(|v| &mut v.0.1)
        }
        _ => stark
            .fri_proof
            .last_layer_poly
            .first_mut()
            .map(|v| &mut v.1.1),
    }
}

fn non_canonical(rng: &mut Rng, body: &mut ProofBody) {
    let high = rng.below(2) == 0;
    if let Some(x) = some_m31(rng, body) {
        x.0 = if high || x.0 >= u32::MAX - P {
            u32::MAX
        } else {
            x.0 + P
        };
    }
}

fn revalue(rng: &mut Rng, body: &mut ProofBody) {
    let delta = 1 + rng.below(P as usize - 1) as u32;
    if let Some(x) = some_m31(rng, body) {
        x.0 = (x.0 + delta) % P;
    }
}

/// Pops, pushes or clears one vector in the proof's structure.
fn reshape(rng: &mut Rng, body: &mut ProofBody) {
    fn edit<T: Clone>(rng: &mut Rng, v: &mut Vec<T>) {
        match rng.below(3) {
            0 => drop(v.pop()),
            1 => {
                if let Some(x) = v.last().cloned() {
                    v.push(x)
                }
            }
            _ => v.clear(),
        }
    }
    let stark = &mut body.stark.0;
    let tree = rng.below(4);
    match rng.below(8) {
        0 => edit(rng, &mut stark.sampled_values.0),
        1 => {
            if let Some(columns) = stark.sampled_values.get_mut(tree) {
                let n = columns.len();
                match columns.get_mut(rng.below(n)) {
                    Some(column) if rng.below(2) == 0 => edit(rng, column),
                    _ => edit(rng, columns),
                }
            }
        }
        2 => edit(rng, &mut stark.queried_values.0),
        3 => {
            if let Some(columns) = stark.queried_values.get_mut(tree) {
                let n = columns.len();
                match columns.get_mut(rng.below(n)) {
                    Some(column) if rng.below(2) == 0 => edit(rng, column),
                    _ => edit(rng, columns),
                }
            }
        }
        4 => match stark.decommitments.get_mut(tree) {
            Some(d) if rng.below(2) == 0 => edit(rng, &mut d.hash_witness),
            _ => edit(rng, &mut stark.decommitments.0),
        },
        5 => edit(rng, &mut stark.commitments.0),
        6 => {
            let fri = &mut stark.fri_proof;
            match rng.below(3) {
                0 => edit(rng, &mut fri.inner_layers),
                1 => edit(rng, &mut fri.first_layer.fri_witness),
                _ => edit(rng, &mut fri.first_layer.decommitment.hash_witness),
            }
        }
        _ => {
            let layers = &mut stark.fri_proof.inner_layers;
            let n = layers.len();
            if let Some(layer) = layers.get_mut(rng.below(n)) {
                edit(rng, &mut layer.fri_witness);
            }
        }
    }
}

/// Edits the claim, the proof-of-work nonces or a commitment.
fn reclaim(rng: &mut Rng, body: &mut ProofBody) {
    match rng.below(4) {
        0 => {
            let k = rng.below(body.claim.log_sizes.len());
            body.claim.log_sizes[k] = body.claim.log_sizes[k].wrapping_add(1 + rng.below(3) as u32);
        }
        1 => body.interaction_pow ^= 1 << rng.below(64),
        2 => body.stark.0.proof_of_work ^= 1 << rng.below(64),
        _ => {
            let stark = &mut body.stark.0;
            let k = rng.below(stark.commitments.len());
            stark.commitments[k].0[rng.below(32)] ^= 1 << rng.below(8);
        }
    }
}

/// Decodes and verifies with allocation tracking on; returns the verdict's error code
/// (`None`: accepted) and the largest allocation.
fn check(program: &Program, bytes: &[u8]) -> (Option<&'static str>, usize) {
    let (verdict, largest) = largest_allocation(|| {
        ProofFile::decode(bytes)
            .map_err(VerifyError::from)
            .and_then(|(file, body)| verify_body(program, &file, body, 96))
    });
    (verdict.err().map(|e| e.code()), largest)
}

#[test]
fn mutated_proofs_are_refused_without_panics() {
    let count: usize = std::env::var("OBELYSK_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let first_seed: u64 = std::env::var("OBELYSK_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let wasm = coverage();
    let program = obelysk_vm::lower::lower(&wasm).unwrap();
    let (_, file) = obelysk_prover::prove(&wasm, &[5, 9, 2], LEVEL).unwrap();
    let bytes = file.to_bytes();
    let (honest, honest_alloc) = check(&program, &bytes);
    assert_eq!(honest, None, "the honest proof verifies");

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    type Tally = (usize, usize, usize, BTreeMap<&'static str, usize>);
    let results: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (program, file, bytes) = (&program, &file, &bytes);
                scope.spawn(move || {
                    let (mut tried, mut skipped, mut largest) = (0, 0, 0);
                    let mut codes = BTreeMap::new();
                    for i in (t..count).step_by(threads) {
                        let mut rng = Rng(first_seed.wrapping_add(i as u64));
                        let Some(mutant) = mutate(&mut rng, file, bytes) else {
                            skipped += 1;
                            continue;
                        };
                        let (code, alloc) = check(program, &mutant);
                        let code = code.unwrap_or_else(|| panic!("mutation {i} was accepted"));
                        *codes.entry(code).or_default() += 1;
                        largest = largest.max(alloc);
                        tried += 1;
                    }
                    (tried, skipped, largest, codes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let tried: usize = results.iter().map(|r| r.0).sum();
    let skipped: usize = results.iter().map(|r| r.1).sum();
    let largest = results.iter().map(|r| r.2).max().unwrap_or(0);
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for (code, n) in results.iter().flat_map(|r| &r.3) {
        *codes.entry(code).or_default() += n;
    }
    eprintln!(
        "{tried} mutated proofs refused ({skipped} no-op mutations skipped) in {:.1} s on {threads} \
         threads; largest allocation {largest} bytes (honest proof: {honest_alloc}, bound \
         {ALLOCATION_BOUND}); verdicts {codes:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        largest <= ALLOCATION_BOUND,
        "an allocation of {largest} bytes"
    );
    assert!(
        tried >= count * 9 / 10,
        "too many no-op mutations: {skipped}"
    );
}
