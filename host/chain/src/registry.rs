//! What the registry stores and how it is encoded as Cairo calldata.
//!
//! A Cairo `u256` travels as two felts, low 128 bits first. Hashes are 32 bytes read big-endian
//! (`0x` + 64 hex reads the same either way); a job id is its UUID's 128 bits.

use starknet_rust::core::types::Felt;

/// The parts of a job's attestation, as `submit_attestation` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestationParts {
    /// The job's UUID as a number.
    pub job_id: u128,
    pub program_id: [u8; 32],
    pub input_hash: [u8; 32],
    pub output_hash: [u8; 32],
    pub steps: u64,
    pub air_version: u32,
    pub security_bits: u32,
}

/// A job's record as the registry returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnChainRecord {
    pub attestation: [u8; 32],
    pub program_id: [u8; 32],
    pub input_hash: [u8; 32],
    pub output_hash: [u8; 32],
    pub steps: u64,
    pub air_version: u32,
    pub security_bits: u32,
    /// The account that submitted it.
    pub prover: Felt,
    /// Block timestamp (seconds) of the submission.
    pub timestamp: u64,
}

/// A malformed value in calldata or a call result.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl AttestationParts {
    /// Calldata of `submit_attestation`.
    pub fn calldata(&self) -> Vec<Felt> {
        let mut data = u128_as_u256(self.job_id).to_vec();
        for hash in [&self.program_id, &self.input_hash, &self.output_hash] {
            data.extend(bytes_as_u256(hash));
        }
        data.push(Felt::from(self.steps));
        data.push(Felt::from(self.air_version));
        data.push(Felt::from(self.security_bits));
        data
    }

    /// Whether a record on chain holds exactly these parts.
    pub fn matches(&self, record: &OnChainRecord) -> bool {
        record.program_id == self.program_id
            && record.input_hash == self.input_hash
            && record.output_hash == self.output_hash
            && record.steps == self.steps
            && record.air_version == self.air_version
            && record.security_bits == self.security_bits
    }
}

impl OnChainRecord {
    /// Decodes the 13 felts of `get_attestation`'s result.
    pub fn decode(felts: &[Felt]) -> Result<OnChainRecord, DecodeError> {
        if felts.len() != 13 {
            return Err(DecodeError(format!(
                "an attestation record is 13 felts, got {}",
                felts.len()
            )));
        }
        let hash = |i: usize| u256_as_bytes(felts[i], felts[i + 1]);
        Ok(OnChainRecord {
            attestation: hash(0)?,
            program_id: hash(2)?,
            input_hash: hash(4)?,
            output_hash: hash(6)?,
            steps: small(felts[8], "steps")?,
            air_version: word(felts[9], "air_version")?,
            security_bits: word(felts[10], "security_bits")?,
            prover: felts[11],
            timestamp: small(felts[12], "timestamp")?,
        })
    }
}

/// `u256 { low, high }` of a 128-bit number.
pub fn u128_as_u256(value: u128) -> [Felt; 2] {
    [Felt::from(value), Felt::ZERO]
}

/// `u256 { low, high }` of 32 big-endian bytes.
pub fn bytes_as_u256(bytes: &[u8; 32]) -> [Felt; 2] {
    let high = u128::from_be_bytes(bytes[..16].try_into().expect("16 bytes"));
    let low = u128::from_be_bytes(bytes[16..].try_into().expect("16 bytes"));
    [Felt::from(low), Felt::from(high)]
}

/// 32 big-endian bytes of a `u256 { low, high }`.
pub fn u256_as_bytes(low: Felt, high: Felt) -> Result<[u8; 32], DecodeError> {
    let half = |felt: Felt| -> Result<u128, DecodeError> {
        u128::try_from(felt).map_err(|_| DecodeError(format!("{felt:#x} is not a u128")))
    };
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&half(high)?.to_be_bytes());
    bytes[16..].copy_from_slice(&half(low)?.to_be_bytes());
    Ok(bytes)
}

fn small(felt: Felt, what: &str) -> Result<u64, DecodeError> {
    u64::try_from(felt).map_err(|_| DecodeError(format!("{what} {felt:#x} is out of range")))
}

fn word(felt: Felt, what: &str) -> Result<u32, DecodeError> {
    u32::try_from(felt).map_err(|_| DecodeError(format!("{what} {felt:#x} is out of range")))
}

/// Parses `0x` + 64 hex (or 64 hex) into 32 bytes.
pub fn parse_hash(text: &str) -> Result<[u8; 32], DecodeError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| DecodeError(format!("`{text}`: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| DecodeError(format!("`{text}` is not 32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(seed: u8) -> [u8; 32] {
        std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
    }

    #[test]
    fn hashes_round_trip_through_u256() {
        for seed in [0, 1, 200, 255] {
            let [low, high] = bytes_as_u256(&hash(seed));
            assert_eq!(u256_as_bytes(low, high).unwrap(), hash(seed));
        }
        let mut bytes = [0u8; 32];
        bytes[0] = 0x80;
        bytes[31] = 1;
        assert_eq!(
            bytes_as_u256(&bytes),
            [Felt::ONE, Felt::from(0x80u128 << 120)]
        );
    }

    #[test]
    fn calldata_is_job_then_three_hashes_then_steps_version_bits() {
        let parts = AttestationParts {
            job_id: 7,
            program_id: hash(1),
            input_hash: hash(2),
            output_hash: hash(3),
            steps: 1 << 40,
            air_version: 2,
            security_bits: 96,
        };
        let data = parts.calldata();
        assert_eq!(data.len(), 11);
        assert_eq!(&data[..2], &[Felt::from(7u8), Felt::ZERO]);
        assert_eq!(&data[6..8], &bytes_as_u256(&hash(3)));
        assert_eq!(data[8], Felt::from(1u64 << 40));
        assert_eq!(data[9], Felt::from(2u8));
        assert_eq!(data[10], Felt::from(96u8));
    }

    #[test]
    fn records_decode_and_reject_bad_shapes() {
        let mut felts = Vec::new();
        for seed in 0..4 {
            felts.extend(bytes_as_u256(&hash(seed)));
        }
        felts.extend([
            Felt::from(1u64 << 40),
            Felt::from(2u8),
            Felt::from(98u8),
            Felt::from(0xabcu32),
            Felt::from(1_700_000_000u64),
        ]);
        let record = OnChainRecord::decode(&felts).unwrap();
        assert_eq!(record.attestation, hash(0));
        assert_eq!(record.output_hash, hash(3));
        assert_eq!(record.steps, 1 << 40);
        assert_eq!(record.air_version, 2);
        assert_eq!(record.security_bits, 98);
        assert_eq!(record.timestamp, 1_700_000_000);
        assert!(OnChainRecord::decode(&felts[..12]).is_err());
        let mut wide = felts.clone();
        wide[10] = Felt::from(1u64 << 32);
        assert!(OnChainRecord::decode(&wide).is_err());
        felts[0] = Felt::MAX;
        assert!(OnChainRecord::decode(&felts).is_err());
    }

    #[test]
    fn hashes_parse_with_or_without_prefix() {
        let text = hex::encode(hash(9));
        assert_eq!(parse_hash(&text).unwrap(), hash(9));
        assert_eq!(parse_hash(&format!("0x{text}")).unwrap(), hash(9));
        assert!(parse_hash("0x1234").is_err());
        assert!(parse_hash("zz").is_err());
    }
}
