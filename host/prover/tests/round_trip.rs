//! Honest runs prove and verify; the verifier returns the proven statement.

mod common;

use common::*;
use obelysk_air::verify;
use obelysk_prover::prove;

fn round_trip(wasm: &[u8], input: &[u32]) -> Vec<u32> {
    let (output, file) = prove(wasm, input, LEVEL).unwrap_or_else(|e| panic!("prove: {e}"));
    let statement = verify(wasm, input, &output, &file.to_bytes(), 96)
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert_eq!(statement.output, output);
    output
}

#[test]
fn sum_loop() {
    assert_eq!(round_trip(&sum_input(), &[1, 2, 3, 4]), vec![10]);
}

#[test]
fn recursion() {
    assert_eq!(round_trip(&fib_recursive(), &[10]), vec![55]);
}

#[test]
fn every_operation_on_edge_values() {
    for a in EDGES {
        for b in [0, 1, a, u32::MAX - a, 1 << 16] {
            let out = round_trip(&all_ops(), &[a, b]);
            let (sa, sb) = (a as i32, b as i32);
            let expected = [
                a.wrapping_add(b),
                a.wrapping_sub(b),
                u32::from(a == b),
                u32::from(a != b),
                u32::from(a < b),
                u32::from(a > b),
                u32::from(a <= b),
                u32::from(a >= b),
                u32::from(sa < sb),
                u32::from(sa > sb),
                u32::from(sa <= sb),
                u32::from(sa >= sb),
                a.wrapping_mul(b),
                a & b,
                a | b,
                a ^ b,
                a.wrapping_shl(b),
                sa.wrapping_shr(b) as u32,
                a.wrapping_shr(b),
                a.rotate_left(b % 32),
                a.rotate_right(b % 32),
                if b != 0 { a } else { b },
                u32::from(a == 0),
                u32::from(b != 0),
                2,
            ];
            assert_eq!(out, expected, "a = {a:#x}, b = {b:#x}");
        }
    }
}

/// The prover is generic over stwo's backend. The CUDA backend makes the same proof, byte for
/// byte, as SIMD. stwo's CPU backend makes a proof that verifies, and the same one whenever a
/// proof-of-work nonce below 2^20 exists: its grinding tries nonces 0, 1, 2, … while SIMD's
/// (and so CUDA's) tries `(hi << 32) + low` with `low < 2^20`, so past 2^20 they pick different
/// nonces (for about a third of the transcripts at 20 pow bits).
#[test]
fn backends_make_identical_proofs() {
    use obelysk_prover::vm::{prove_witness, prove_witness_on, statement};
    use obelysk_prover::witness::Witness;
    let program = obelysk_vm::lower::lower(&coverage()).unwrap();
    let input = [5, 9, 2];
    let trace = obelysk_vm::interp::run(&program, &input, 1 << 16).unwrap();
    let witness = Witness::build(&program, &input, &trace).unwrap();
    let proven = statement(&program, &input, &trace);
    let simd = prove_witness(&proven, witness.clone(), LEVEL, &mut |_| {}).unwrap();
    let cpu = prove_witness_on::<stwo::prover::backend::cpu::CpuBackend>(
        &proven,
        witness.clone(),
        LEVEL,
        &mut |_| {},
    )
    .unwrap();
    obelysk_air::api::verify_program(&program, &simd, 96).unwrap();
    obelysk_air::api::verify_program(&program, &cpu, 96).unwrap();

    // The CUDA backend, its kernels run on the CPU by the host device.
    use obelysk_cuda::device::{self, HostDevice};
    device::set_current(std::sync::Arc::new(HostDevice::new()));
    let cuda = prove_witness_on::<obelysk_cuda::CudaBackend>(&proven, witness, LEVEL, &mut |_| {})
        .unwrap();
    // SIMD evaluates the constraints with `obelysk_prover::constraints`, CUDA with its compiled
    // kernels: the same composition polynomial, so the same bytes.
    assert_eq!(simd.body, cuda.body);
    // Every operation of the proof ran as a kernel: nothing went through the CPU backend.
    assert_eq!(obelysk_cuda::backend::take_host_round_trips(), vec![]);
}

/// Every i64 instruction (lowered to i32 instructions on two slots, `MulWide` and the u64
/// division routine) proves and verifies, with the same output as the host's u64 and i64.
#[test]
fn every_i64_operation_proves() {
    let ops = [
        "i64.add",
        "i64.sub",
        "i64.mul",
        "i64.div_u",
        "i64.rem_u",
        "i64.div_s",
        "i64.rem_s",
        "i64.and",
        "i64.or",
        "i64.xor",
        "i64.shl",
        "i64.shr_s",
        "i64.shr_u",
        "i64.rotl",
        "i64.rotr",
    ];
    let body: String = ops
        .iter()
        .map(|op| {
            format!(
                "(i64.store (i32.const 0) ({op} (local.get $a) (local.get $b)))
                 (call $write (i32.load (i32.const 0)))
                 (call $write (i32.load (i32.const 4)))"
            )
        })
        .collect();
    let wasm = module(&format!(
        r#"(func $arg (param $i i32) (result i64)
             (i64.or (i64.extend_i32_u (call $read (local.get $i)))
                     (i64.shl (i64.extend_i32_u (call $read (i32.add (local.get $i) (i32.const 1))))
                              (i64.const 32))))
           (func (export "main") (local $a i64) (local $b i64)
             (local.set $a (call $arg (i32.const 0)))
             (local.set $b (call $arg (i32.const 2)))
             {body}
             (call $write (i64.lt_s (local.get $a) (local.get $b)))
             (call $write (i32.wrap_i64 (i64.clz (local.get $b)))))"#
    ));
    let (a, b) = (0x8000_0000_dead_beefu64, 0x0000_0003_0000_0007u64);
    let (sa, sb) = (a as i64, b as i64);
    let expected_words: Vec<u64> = vec![
        a.wrapping_add(b),
        a.wrapping_sub(b),
        a.wrapping_mul(b),
        a / b,
        a % b,
        (sa / sb) as u64,
        (sa % sb) as u64,
        a & b,
        a | b,
        a ^ b,
        a << (b % 64),
        (sa >> (b % 64)) as u64,
        a >> (b % 64),
        a.rotate_left((b % 64) as u32),
        a.rotate_right((b % 64) as u32),
    ];
    let mut expected: Vec<u32> = expected_words
        .iter()
        .flat_map(|&v| [v as u32, (v >> 32) as u32])
        .collect();
    expected.extend([u32::from(sa < sb), b.leading_zeros()]);
    let input = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
    assert_eq!(round_trip(&wasm, &input), expected);
}

/// Bulk memory proves: `memory.fill`, an overlapping `memory.copy`, `memory.init` from a
/// passive segment (its bytes are code) and `data.drop`, after which the segment is empty.
#[test]
fn bulk_memory_proves() {
    let wasm = wat::parse_str(
        r#"(module
             (import "obelysk" "read" (func $read (param i32) (result i32)))
             (import "obelysk" "write" (func $write (param i32)))
             (memory (export "memory") 1)
             (data $greeting "\01\02\03\04hello")
             (func (export "main")
               (memory.fill (i32.const 0) (call $read (i32.const 0)) (i32.const 8))
               (memory.init $greeting (i32.const 2) (call $read (i32.const 1)) (i32.const 5))
               (memory.copy (i32.const 1) (i32.const 0) (i32.const 6))
               (data.drop $greeting)
               (call $write (i32.load (i32.const 0)))
               (call $write (i32.load (i32.const 4)))
               (memory.init $greeting (i32.const 0) (i32.const 0) (i32.const 0))))"#,
    )
    .unwrap();
    // fill 0xaa×8; init bytes 2..7 from offset 1: 02 03 04 'h' 'e'; copy 0..6 to 1..7.
    let mut memory = [0xaau8; 8];
    memory[2..7].copy_from_slice(&[2, 3, 4, b'h', b'e']);
    memory.copy_within(0..6, 1);
    let words = [0, 4].map(|i| u32::from_le_bytes(memory[i..i + 4].try_into().unwrap()));
    assert_eq!(round_trip(&wasm, &[0xaa, 1]), words);
}
