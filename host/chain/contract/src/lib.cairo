//! Obelysk attestation registry.
//!
//! Allowlisted prover accounts submit the parts of a proven job; the contract computes the
//! 32-byte attestation from them exactly as the node does (`obelysk_air::statement::attestation`)
//! and stores it with its parts, the prover and the block timestamp:
//!
//!     attestation = Blake2s-256("obelysk/attest/v2" ‖ program_id ‖ input_hash ‖ output_hash
//!                               ‖ steps as 8 little-endian bytes ‖ air_version as 4
//!                               ‖ security_bits as 4)
//!
//! It binds the proven statement (program, input, output, steps), the AIR version that
//! verified it and the preset's security level; not the proof bytes, so a statement has one
//! attestation.
//!
//! Each `u256` part is its 32 hash bytes read big-endian, and so is the attestation.

use starknet::ContractAddress;

/// What the registry keeps for one job.
#[derive(Copy, Drop, Serde, PartialEq, starknet::Store)]
pub struct AttestationRecord {
    pub attestation: u256,
    pub program_id: u256,
    pub input_hash: u256,
    pub output_hash: u256,
    pub steps: u64,
    pub air_version: u32,
    pub security_bits: u32,
    pub prover: ContractAddress,
    pub timestamp: u64,
}

#[starknet::interface]
pub trait IAttestationRegistry<TContractState> {
    /// Stores the attestation of `job_id` and returns it. Callers must be allowlisted provers;
    /// a job is attested once.
    fn submit_attestation(
        ref self: TContractState,
        job_id: u256,
        program_id: u256,
        input_hash: u256,
        output_hash: u256,
        steps: u64,
        air_version: u32,
        security_bits: u32
    ) -> u256;
    /// The record of `job_id`; fails with 'not attested' when there is none.
    fn get_attestation(self: @TContractState, job_id: u256) -> AttestationRecord;
    fn is_attested(self: @TContractState, job_id: u256) -> bool;
    /// The attestation of `job_id`, or 0 when there is none.
    fn attestation_of(self: @TContractState, job_id: u256) -> u256;
    /// Owner only.
    fn add_prover(ref self: TContractState, prover: ContractAddress);
    /// Owner only.
    fn remove_prover(ref self: TContractState, prover: ContractAddress);
    fn is_prover(self: @TContractState, account: ContractAddress) -> bool;
    fn owner(self: @TContractState) -> ContractAddress;
}

/// The attestation of the given parts (see the module comment).
pub fn attestation(
    program_id: u256,
    input_hash: u256,
    output_hash: u256,
    steps: u64,
    air_version: u32,
    security_bits: u32
) -> u256 {
    let mut message: Array<u8> = array![
        'o', 'b', 'e', 'l', 'y', 's', 'k', '/', 'a', 't', 't', 'e', 's', 't', '/', 'v', '2'
    ];
    push_u256_be(ref message, program_id);
    push_u256_be(ref message, input_hash);
    push_u256_be(ref message, output_hash);
    push_u64_le(ref message, steps);
    push_u32_le(ref message, air_version);
    push_u32_le(ref message, security_bits);
    blake2s::digest(message.span())
}

fn push_u256_be(ref out: Array<u8>, value: u256) {
    push_u128_be(ref out, value.high);
    push_u128_be(ref out, value.low);
}

fn push_u128_be(ref out: Array<u8>, value: u128) {
    // Collect little-endian, then append in reverse.
    let mut little: Array<u8> = array![];
    let mut rest = value;
    let mut i = 0;
    while i < 16_u32 {
        let (quotient, byte) = DivRem::div_rem(rest, 256_u128.try_into().unwrap());
        little.append(byte.try_into().unwrap());
        rest = quotient;
        i += 1;
    };
    let little = little.span();
    let mut j = 16_u32;
    while j > 0 {
        j -= 1;
        out.append(*little.at(j));
    };
}

fn push_u64_le(ref out: Array<u8>, value: u64) {
    let mut rest = value;
    let mut i = 0;
    while i < 8_u32 {
        let (quotient, byte) = DivRem::div_rem(rest, 256_u64.try_into().unwrap());
        out.append(byte.try_into().unwrap());
        rest = quotient;
        i += 1;
    };
}

fn push_u32_le(ref out: Array<u8>, value: u32) {
    let mut rest = value;
    let mut i = 0;
    while i < 4_u32 {
        let (quotient, byte) = DivRem::div_rem(rest, 256_u32.try_into().unwrap());
        out.append(byte.try_into().unwrap());
        rest = quotient;
        i += 1;
    };
}

/// Blake2s-256 (RFC 7693), unkeyed, over bytes.
pub mod blake2s {
    use core::integer::{u32_wrapping_add, u32_safe_divmod};

    /// The sixteen working words of a compression.
    #[derive(Copy, Drop)]
    struct Work {
        v0: u32,
        v1: u32,
        v2: u32,
        v3: u32,
        v4: u32,
        v5: u32,
        v6: u32,
        v7: u32,
        v8: u32,
        v9: u32,
        v10: u32,
        v11: u32,
        v12: u32,
        v13: u32,
        v14: u32,
        v15: u32,
    }

    fn iv() -> Array<u32> {
        array![
            0x6A09E667,
            0xBB67AE85,
            0x3C6EF372,
            0xA54FF53A,
            0x510E527F,
            0x9B05688C,
            0x1F83D9AB,
            0x5BE0CD19
        ]
    }

    /// The message schedule: row r permutes the 16 message words of round r.
    fn sigma() -> Array<u32> {
        array![
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
            14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
            11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
            7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
            9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
            2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
            12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
            13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
            6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
            10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0
        ]
    }

    /// `x` rotated right by `n` bits, given `low = 2^n` and `high = 2^(32 - n)`: the low n bits
    /// move to the top. Constant factors (no loops) keep the gas down.
    #[inline(always)]
    fn rotr(x: u32, low: NonZero<u32>, high: u32) -> u32 {
        let (top, bottom) = u32_safe_divmod(x, low);
        top + bottom * high
    }

    fn add3(a: u32, b: u32, c: u32) -> u32 {
        u32_wrapping_add(u32_wrapping_add(a, b), c)
    }

    /// The mixing function G on one column or diagonal.
    fn mix(a: u32, b: u32, c: u32, d: u32, x: u32, y: u32) -> (u32, u32, u32, u32) {
        let a = add3(a, b, x);
        let d = rotr(d ^ a, 0x10000_u32.try_into().unwrap(), 0x10000);
        let c = u32_wrapping_add(c, d);
        let b = rotr(b ^ c, 0x1000_u32.try_into().unwrap(), 0x100000);
        let a = add3(a, b, y);
        let d = rotr(d ^ a, 0x100_u32.try_into().unwrap(), 0x1000000);
        let c = u32_wrapping_add(c, d);
        let b = rotr(b ^ c, 0x80_u32.try_into().unwrap(), 0x2000000);
        (a, b, c, d)
    }

    /// Message word `s[i]`.
    fn at(m: Span<u32>, s: Span<u32>, i: u32) -> u32 {
        *m.at(*s.at(i))
    }

    fn round(w: Work, m: Span<u32>, s: Span<u32>) -> Work {
        let (v0, v4, v8, v12) = mix(w.v0, w.v4, w.v8, w.v12, at(m, s, 0), at(m, s, 1));
        let (v1, v5, v9, v13) = mix(w.v1, w.v5, w.v9, w.v13, at(m, s, 2), at(m, s, 3));
        let (v2, v6, v10, v14) = mix(w.v2, w.v6, w.v10, w.v14, at(m, s, 4), at(m, s, 5));
        let (v3, v7, v11, v15) = mix(w.v3, w.v7, w.v11, w.v15, at(m, s, 6), at(m, s, 7));
        let (v0, v5, v10, v15) = mix(v0, v5, v10, v15, at(m, s, 8), at(m, s, 9));
        let (v1, v6, v11, v12) = mix(v1, v6, v11, v12, at(m, s, 10), at(m, s, 11));
        let (v2, v7, v8, v13) = mix(v2, v7, v8, v13, at(m, s, 12), at(m, s, 13));
        let (v3, v4, v9, v14) = mix(v3, v4, v9, v14, at(m, s, 14), at(m, s, 15));
        Work { v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 }
    }

    /// Compresses one 16-word block into the chain value `h`; `counter` is the number of message
    /// bytes up to the end of this block.
    fn compress(h: Span<u32>, m: Span<u32>, counter: u32, last: bool) -> Array<u32> {
        let iv = iv();
        let mut w = Work {
            v0: *h.at(0),
            v1: *h.at(1),
            v2: *h.at(2),
            v3: *h.at(3),
            v4: *h.at(4),
            v5: *h.at(5),
            v6: *h.at(6),
            v7: *h.at(7),
            v8: *iv.at(0),
            v9: *iv.at(1),
            v10: *iv.at(2),
            v11: *iv.at(3),
            v12: *iv.at(4) ^ counter,
            v13: *iv.at(5),
            v14: if last {
                *iv.at(6) ^ 0xFFFFFFFF
            } else {
                *iv.at(6)
            },
            v15: *iv.at(7),
        };
        let sigma = sigma().span();
        let mut r = 0_u32;
        while r < 10 {
            w = round(w, m, sigma.slice(r * 16, 16));
            r += 1;
        };
        array![
            *h.at(0) ^ w.v0 ^ w.v8,
            *h.at(1) ^ w.v1 ^ w.v9,
            *h.at(2) ^ w.v2 ^ w.v10,
            *h.at(3) ^ w.v3 ^ w.v11,
            *h.at(4) ^ w.v4 ^ w.v12,
            *h.at(5) ^ w.v5 ^ w.v13,
            *h.at(6) ^ w.v6 ^ w.v14,
            *h.at(7) ^ w.v7 ^ w.v15
        ]
    }

    /// Little-endian word `i` of `bytes`, zero past the end.
    fn word_at(bytes: Span<u8>, i: u32) -> u32 {
        let mut word = 0_u32;
        let mut k = 4_u32;
        while k > 0 {
            k -= 1;
            let index = i * 4 + k;
            let byte: u32 = if index < bytes.len() {
                (*bytes.at(index)).into()
            } else {
                0
            };
            word = word * 256 + byte;
        };
        word
    }

    /// `w` with its bytes reversed.
    fn byte_swap(w: u32) -> u32 {
        let mut rest = w;
        let mut swapped = 0_u32;
        let mut k = 0_u32;
        while k < 4 {
            let (quotient, byte) = u32_safe_divmod(rest, 256_u32.try_into().unwrap());
            swapped = swapped * 256 + byte;
            rest = quotient;
            k += 1;
        };
        swapped
    }

    /// Blake2s-256 of `bytes` (fewer than 2^32), as a `u256` read big-endian from the digest.
    pub fn digest(bytes: Span<u8>) -> u256 {
        let iv = iv();
        // Parameter block: digest length 32, no key, fanout 1, depth 1.
        let mut h: Array<u32> = array![
            *iv.at(0) ^ 0x01010020,
            *iv.at(1),
            *iv.at(2),
            *iv.at(3),
            *iv.at(4),
            *iv.at(5),
            *iv.at(6),
            *iv.at(7)
        ];
        let len = bytes.len();
        let blocks = if len == 0 {
            1
        } else {
            (len + 63) / 64
        };
        let mut block = 0_u32;
        while block < blocks {
            let mut m: Array<u32> = array![];
            let mut i = 0_u32;
            while i < 16 {
                m.append(word_at(bytes, block * 16 + i));
                i += 1;
            };
            let last = block + 1 == blocks;
            let counter = if last {
                len
            } else {
                (block + 1) * 64
            };
            h = compress(h.span(), m.span(), counter, last);
            block += 1;
        };
        let mut high = 0_u128;
        let mut low = 0_u128;
        let mut i = 0_u32;
        while i < 8 {
            let word: u128 = byte_swap(*h.at(i)).into();
            if i < 4 {
                high = high * 0x100000000 + word;
            } else {
                low = low * 0x100000000 + word;
            }
            i += 1;
        };
        u256 { low, high }
    }
}

#[starknet::contract]
pub mod AttestationRegistry {
    use starknet::{ContractAddress, get_caller_address, get_block_timestamp};
    use super::{AttestationRecord, IAttestationRegistry};

    #[storage]
    struct Storage {
        owner: ContractAddress,
        provers: LegacyMap<ContractAddress, bool>,
        records: LegacyMap<u256, AttestationRecord>,
        attested: LegacyMap<u256, bool>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    pub enum Event {
        ProverAdded: ProverAdded,
        ProverRemoved: ProverRemoved,
        Attested: Attested,
    }

    #[derive(Drop, starknet::Event)]
    pub struct ProverAdded {
        #[key]
        pub prover: ContractAddress,
    }

    #[derive(Drop, starknet::Event)]
    pub struct ProverRemoved {
        #[key]
        pub prover: ContractAddress,
    }

    #[derive(Drop, starknet::Event)]
    pub struct Attested {
        #[key]
        pub job_id: u256,
        pub attestation: u256,
        pub program_id: u256,
        pub prover: ContractAddress,
    }

    #[constructor]
    fn constructor(ref self: ContractState, owner: ContractAddress) {
        assert(owner.into() != 0_felt252, 'owner is zero');
        self.owner.write(owner);
    }

    #[abi(embed_v0)]
    impl Registry of IAttestationRegistry<ContractState> {
        fn submit_attestation(
            ref self: ContractState,
            job_id: u256,
            program_id: u256,
            input_hash: u256,
            output_hash: u256,
            steps: u64,
            air_version: u32,
            security_bits: u32
        ) -> u256 {
            let prover = get_caller_address();
            assert(self.provers.read(prover), 'not a prover');
            assert(!self.attested.read(job_id), 'already attested');
            let attestation = super::attestation(
                program_id, input_hash, output_hash, steps, air_version, security_bits
            );
            let record = AttestationRecord {
                attestation,
                program_id,
                input_hash,
                output_hash,
                steps,
                air_version,
                security_bits,
                prover,
                timestamp: get_block_timestamp(),
            };
            self.records.write(job_id, record);
            self.attested.write(job_id, true);
            self.emit(Attested { job_id, attestation, program_id, prover });
            attestation
        }

        fn get_attestation(self: @ContractState, job_id: u256) -> AttestationRecord {
            assert(self.attested.read(job_id), 'not attested');
            self.records.read(job_id)
        }

        fn is_attested(self: @ContractState, job_id: u256) -> bool {
            self.attested.read(job_id)
        }

        fn attestation_of(self: @ContractState, job_id: u256) -> u256 {
            self.records.read(job_id).attestation
        }

        fn add_prover(ref self: ContractState, prover: ContractAddress) {
            self.only_owner();
            self.provers.write(prover, true);
            self.emit(ProverAdded { prover });
        }

        fn remove_prover(ref self: ContractState, prover: ContractAddress) {
            self.only_owner();
            self.provers.write(prover, false);
            self.emit(ProverRemoved { prover });
        }

        fn is_prover(self: @ContractState, account: ContractAddress) -> bool {
            self.provers.read(account)
        }

        fn owner(self: @ContractState) -> ContractAddress {
            self.owner.read()
        }
    }

    #[generate_trait]
    impl Internal of InternalTrait {
        fn only_owner(self: @ContractState) {
            assert(get_caller_address() == self.owner.read(), 'not the owner');
        }
    }
}
