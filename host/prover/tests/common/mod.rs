//! Programs and helpers shared by the prover's tests.
#![allow(dead_code)]

use obelysk_air::security::SecurityLevel;

const IO: &str = r#"
    (import "obelysk" "input_len" (func $len (result i32)))
    (import "obelysk" "read" (func $read (param i32) (result i32)))
    (import "obelysk" "write" (func $write (param i32)))
    (memory (export "memory") 1)"#;

/// A module with the ABI imports and `body`.
pub fn module(body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {IO} {body})")).unwrap()
}

/// `tests/fixtures/sum_input.wat`: sums the input words (a loop with I/O).
pub fn sum_input() -> Vec<u8> {
    wat::parse_str(include_str!("../../../../tests/fixtures/sum_input.wat")).unwrap()
}

/// Fibonacci by recursion of `input[0]`.
pub fn fib_recursive() -> Vec<u8> {
    module(
        r#"(func $fib (param $n i32) (result i32)
            (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
                (then (local.get $n))
                (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                               (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
           (func (export "main") (call $write (call $fib (call $read (i32.const 0)))))"#,
    )
}

/// Every comparison and both arithmetic operations on `input[0], input[1]`, written out.
pub fn all_ops() -> Vec<u8> {
    module(
        r#"(func (export "main") (local $a i32) (local $b i32)
            (local.set $a (call $read (i32.const 0)))
            (local.set $b (call $read (i32.const 1)))
            (call $write (i32.add (local.get $a) (local.get $b)))
            (call $write (i32.sub (local.get $a) (local.get $b)))
            (call $write (i32.eq (local.get $a) (local.get $b)))
            (call $write (i32.ne (local.get $a) (local.get $b)))
            (call $write (i32.lt_u (local.get $a) (local.get $b)))
            (call $write (i32.gt_u (local.get $a) (local.get $b)))
            (call $write (i32.le_u (local.get $a) (local.get $b)))
            (call $write (i32.ge_u (local.get $a) (local.get $b)))
            (call $write (i32.eqz (local.get $a)))
            (if (local.get $b) (then (call $write (i32.const 1))) (else (call $write (i32.const 0))))
            (call $write (call $len)))"#,
    )
}

/// The default test preset.
pub const LEVEL: SecurityLevel = SecurityLevel::Bits96;

/// Operand edge values.
pub const EDGES: [u32; 8] = [
    0,
    1,
    2,
    1 << 15,
    (1 << 16) - 1,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX,
];

/// Uses every instruction family: calls and returns, loops, both conditional jumps and the
/// unconditional one, every comparison, add and sub, input length, reads and writes.
pub fn coverage() -> Vec<u8> {
    module(
        r#"(func $step (param $x i32) (param $y i32) (result i32)
            (if (result i32) (i32.gt_u (local.get $x) (local.get $y))
                (then (i32.sub (local.get $x) (local.get $y)))
                (else (i32.add (local.get $x) (i32.const 3)))))
           (func (export "main") (local $i i32) (local $acc i32)
            (local.set $acc (call $read (i32.const 0)))
            (block $done (loop $next
                (br_if $done (i32.ge_u (local.get $i) (call $len)))
                (local.set $acc (call $step (local.get $acc) (call $read (local.get $i))))
                (call $write (local.get $acc))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next)))
            (call $write (i32.eq (local.get $acc) (i32.const 7)))
            (call $write (i32.ne (local.get $acc) (i32.const 7)))
            (call $write (i32.lt_u (local.get $acc) (i32.const 7)))
            (call $write (i32.le_u (local.get $acc) (i32.const 7)))
            (call $write (i32.ge_u (local.get $acc) (i32.const 7)))
            (call $write (i32.eqz (local.get $acc))))"#,
    )
}

/// `tests/fixtures/mixed.wat`: a loop of `input[0]` iterations calling a branchy function, then
/// a recursive Fibonacci of `input[1]`.
pub fn mixed() -> Vec<u8> {
    wat::parse_str(include_str!("../../../../tests/fixtures/mixed.wat")).unwrap()
}

/// The input that makes [`mixed`] run close to (and not over) `2^log_steps` steps.
pub fn mixed_input(log_steps: u32) -> Vec<u32> {
    let program = obelysk_vm::lower::lower(&mixed()).unwrap();
    let steps = |n: u32| {
        obelysk_vm::interp::run(&program, &[n, 6], u64::MAX)
            .unwrap()
            .steps
            .len() as u64
    };
    let (base, per_iteration) = (steps(0), steps(1) - steps(0));
    let n = ((1u64 << log_steps) - base) / per_iteration;
    vec![n as u32, 6]
}
