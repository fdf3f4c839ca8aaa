//! The registry contract end to end on a local devnet: deploy, allowlist, attest, read back,
//! typed rejections, concurrent submissions from one account.

use futures_util::future::join_all;
use obelysk_air::statement::{AttestationParts as Parts, attestation_of_parts};
use obelysk_chain::devnet::Devnet;
use obelysk_chain::{AttestationParts, ChainError, Client, Felt, contract};

fn parts(job_id: u128, seed: u8, security_bits: u32) -> AttestationParts {
    let hash = |k: u8| std::array::from_fn(|i| seed.wrapping_mul(k).wrapping_add(i as u8 * 7));
    AttestationParts {
        job_id,
        program_id: hash(3),
        input_hash: hash(5),
        output_hash: hash(11),
        steps: u64::from(seed) * 1000 + 1,
        air_version: obelysk_air::statement::AIR_VERSION,
        security_bits,
    }
}

/// What the node computes for the same parts.
fn expected_attestation(parts: &AttestationParts) -> [u8; 32] {
    attestation_of_parts(&Parts {
        program_id: parts.program_id,
        input_hash: parts.input_hash,
        output_hash: parts.output_hash,
        steps: parts.steps,
        air_version: parts.air_version,
        security_bits: parts.security_bits,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_lifecycle_on_devnet() {
    let devnet = Devnet::start().await.expect("devnet starts");
    let [owner, prover, stranger, ..] = devnet.accounts() else {
        panic!("devnet has too few accounts")
    };
    let connect = async |account: &obelysk_chain::devnet::DevnetAccount| {
        Client::connect(devnet.url(), account.address, account.private_key)
            .await
            .expect("connects")
    };
    let as_owner = connect(owner).await;
    let as_prover = connect(prover).await;
    let as_stranger = connect(stranger).await;

    // Declare + deploy, both idempotent.
    let registry = as_owner
        .deploy(owner.address, Felt::from(7u8))
        .await
        .unwrap();
    assert_eq!(
        as_owner
            .deploy(owner.address, Felt::from(7u8))
            .await
            .unwrap(),
        registry
    );
    assert_eq!(as_owner.declare().await.unwrap(), contract::class_hash());
    assert_eq!(
        as_owner.class_at(registry).await.unwrap(),
        Some(contract::class_hash())
    );
    assert_eq!(as_owner.owner(registry).await.unwrap(), owner.address);

    // Only allowlisted provers attest; only the owner allowlists.
    let first = parts(1, 1, 96);
    assert_eq!(
        as_prover.attest(registry, &first).await,
        Err(ChainError::NotProver)
    );
    assert_eq!(
        as_stranger.add_prover(registry, stranger.address).await,
        Err(ChainError::NotOwner)
    );
    assert!(!as_owner.is_prover(registry, prover.address).await.unwrap());
    as_owner.add_prover(registry, prover.address).await.unwrap();
    assert!(as_owner.is_prover(registry, prover.address).await.unwrap());

    // Attest, read back equal, the attestation recomputed off chain.
    assert_eq!(as_prover.record(registry, 1).await.unwrap(), None);
    as_prover.attest(registry, &first).await.unwrap();
    let record = as_stranger
        .record(registry, 1)
        .await
        .unwrap()
        .expect("attested");
    assert!(first.matches(&record), "{record:?}");
    assert_eq!(record.attestation, expected_attestation(&first));
    assert_eq!(record.prover, prover.address);
    assert!(record.timestamp > 0);

    // A job is attested once, even with other parts.
    assert_eq!(
        as_prover.attest(registry, &first).await,
        Err(ChainError::AlreadyAttested)
    );
    assert_eq!(
        as_prover.attest(registry, &parts(1, 9, 98)).await,
        Err(ChainError::AlreadyAttested)
    );

    // Concurrent submissions from one account get consecutive nonces; every record is right,
    // including extreme parts.
    let mut batch: Vec<AttestationParts> = (2..8u128)
        .map(|job| parts(job, job as u8 * 17, if job % 2 == 0 { 96 } else { 98 }))
        .collect();
    batch.push(AttestationParts {
        job_id: u128::MAX,
        program_id: [0xff; 32],
        input_hash: [0; 32],
        output_hash: [0xff; 32],
        steps: u64::MAX,
        air_version: u32::MAX,
        security_bits: u32::MAX,
    });
    let sent = join_all(batch.iter().map(|p| as_prover.attest(registry, p))).await;
    let mut hashes = std::collections::HashSet::new();
    for (p, tx) in batch.iter().zip(sent) {
        assert!(hashes.insert(tx.expect("concurrent attest succeeds")));
        let record = as_owner.record(registry, p.job_id).await.unwrap().unwrap();
        assert!(p.matches(&record));
        assert_eq!(record.attestation, expected_attestation(p));
    }

    // Removed provers are refused again.
    as_owner
        .remove_prover(registry, prover.address)
        .await
        .unwrap();
    assert_eq!(
        as_prover.attest(registry, &parts(100, 3, 96)).await,
        Err(ChainError::NotProver)
    );
}
