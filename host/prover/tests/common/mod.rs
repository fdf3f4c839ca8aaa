//! Programs and helpers shared by the prover's tests.
#![allow(dead_code)]

use obelysk_air::components::Kind;
use obelysk_air::security::SecurityLevel;
use obelysk_air::statement::Statement;
use obelysk_prover::check::{CheckError, check_witness};
use obelysk_prover::vm::{prove_witness, statement};
use obelysk_prover::witness::Witness;
use obelysk_vm::interp;
use obelysk_vm::ir::{Instr, Program};
use obelysk_vm::lower::lower;
use stwo::core::fields::m31::M31;

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

/// Every comparison, arithmetic, bitwise and shift operation and `select` on `input[0], input[1]`,
/// written out.
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
            (call $write (i32.lt_s (local.get $a) (local.get $b)))
            (call $write (i32.gt_s (local.get $a) (local.get $b)))
            (call $write (i32.le_s (local.get $a) (local.get $b)))
            (call $write (i32.ge_s (local.get $a) (local.get $b)))
            (call $write (i32.mul (local.get $a) (local.get $b)))
            (call $write (i32.and (local.get $a) (local.get $b)))
            (call $write (i32.or (local.get $a) (local.get $b)))
            (call $write (i32.xor (local.get $a) (local.get $b)))
            (call $write (i32.shl (local.get $a) (local.get $b)))
            (call $write (i32.shr_s (local.get $a) (local.get $b)))
            (call $write (i32.shr_u (local.get $a) (local.get $b)))
            (call $write (i32.rotl (local.get $a) (local.get $b)))
            (call $write (i32.rotr (local.get $a) (local.get $b)))
            (call $write (select (local.get $a) (local.get $b) (local.get $b)))
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

/// Uses every instruction family: calls and returns, loops, both conditional jumps, the
/// unconditional one and a jump table, every comparison, add, sub, mul, an i64 product, and, or, xor, select, input length,
/// shifts and rotations, divisions, clz/ctz/popcnt and sign extension, globals, every load
/// and store width, memory.size and memory.grow (both outcomes) over a data segment, reads
/// and writes.
pub fn coverage() -> Vec<u8> {
    module(
        r#"(global $g (mut i32) (i32.const 0x10005))
           (data (i32.const 16) "\01\02\80\ff")
           (func $step (param $x i32) (param $y i32) (result i32)
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
            (call $write (i32.eqz (local.get $acc)))
            (call $write (i32.lt_s (local.get $acc) (i32.const -7)))
            (call $write (i32.gt_s (local.get $acc) (i32.const -7)))
            (call $write (i32.le_s (i32.const -7) (local.get $acc)))
            (call $write (i32.ge_s (i32.const -7) (local.get $acc)))
            (call $write (i32.mul (local.get $acc) (i32.const 0x12345)))
            (call $write (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $acc)) (i64.const 0x1_2345_6789))
                (i64.const 32))))
            (call $write (i32.and (local.get $acc) (i32.const 0xff0f)))
            (call $write (i32.or (local.get $acc) (i32.const 0x10f0)))
            (call $write (i32.xor (local.get $acc) (i32.const -1)))
            (call $write (i32.shl (local.get $acc) (i32.const 7)))
            (call $write (i32.shr_s (i32.const -99) (local.get $acc)))
            (call $write (i32.shr_u (local.get $acc) (i32.const 33)))
            (call $write (i32.rotl (local.get $acc) (i32.const 19)))
            (call $write (i32.rotr (local.get $acc) (i32.const 0)))
            (call $write (i32.div_s (local.get $acc) (i32.const 3)))
            (call $write (i32.div_u (local.get $acc) (i32.const 3)))
            (call $write (i32.rem_s (i32.const -7) (local.get $acc)))
            (call $write (i32.rem_u (local.get $acc) (i32.const 4)))
            (call $write (i32.clz (local.get $acc)))
            (call $write (i32.ctz (local.get $acc)))
            (call $write (i32.popcnt (local.get $acc)))
            (call $write (i32.extend8_s (i32.const 0xf0)))
            (call $write (i32.extend16_s (local.get $acc)))
            (call $write (select (local.get $acc) (i32.const 3) (local.get $i)))
            (call $write (select (i32.const 1) (i32.const 2) (i32.const 0)))
            (block $two (block $one (br_table $one $two (local.get $i)))
                (call $write (i32.const 1)))
            (call $write (i32.const 2))
            (global.set $g (i32.add (global.get $g) (local.get $acc)))
            (call $write (global.get $g))
            (i32.store offset=100 (local.get $i) (local.get $acc))
            (call $write (i32.load offset=100 (local.get $i)))
            (i32.store8 offset=3 (i32.const 200) (i32.const 0x1ff))
            (i32.store16 (i32.const 65534) (i32.const 0xbeef))
            (call $write (i32.load8_s (i32.const 18)))
            (call $write (i32.load8_u (i32.const 19)))
            (call $write (i32.load16_s (i32.const 18)))
            (call $write (i32.load16_u offset=65534 (i32.const 0)))
            (call $write (i32.load (i32.const 16)))
            (call $write (memory.size))
            (call $write (memory.grow (i32.const 1)))
            (call $write (memory.grow (i32.const 5000)))
            (call $write (memory.grow (i32.const 0x10000)))
            (i32.store (i32.const 131068) (local.get $acc)))"#,
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

/// An honest run, ready to be forged.
pub struct Run {
    pub program: Program,
    pub statement: Statement,
    pub witness: Witness,
}

/// The honest witness of `wasm` on `input`.
pub fn honest(wasm: &[u8], input: &[u32]) -> Run {
    let program = lower(wasm).unwrap();
    let trace = interp::run(&program, input, 1 << 20).unwrap();
    let witness = Witness::build(&program, input, &trace).unwrap();
    let statement = statement(&program, input, &trace);
    Run {
        program,
        statement,
        witness,
    }
}

impl Run {
    pub fn check(&self) -> Result<(), CheckError> {
        check_witness(&self.program, &self.statement, &self.witness)
    }

    /// Asserts the forgery is caught; returns how.
    pub fn rejected(&self) -> CheckError {
        self.check()
            .expect_err("a forged witness passed every check")
    }

    /// End to end: the real prover either refuses or makes a proof the verifier rejects.
    pub fn rejected_end_to_end(&self, wasm: &[u8]) {
        let Ok(file) = prove_witness(&self.statement, self.witness.clone(), LEVEL, &mut |_| {})
        else {
            return;
        };
        let verdict = obelysk_air::api::verify_file(wasm, &file, 96);
        assert!(verdict.is_err(), "a forged proof verified");
    }

    pub fn get(&self, kind: Kind, column: usize, row: usize) -> u32 {
        self.witness.table(kind).columns[column][row].0
    }

    pub fn set(&mut self, kind: Kind, column: usize, row: usize, value: u32) {
        self.witness.table_mut(kind).columns[column][row] = M31::from_u32_unchecked(value);
    }

    /// Moves one use of a range table (`Range16`, `Range10`: row = value) from `from` to
    /// `to`, as a prover who forges a checked value would, so that only the checks the
    /// forgery breaks can catch it.
    pub fn move_range_use(&mut self, table: Kind, from: u32, to: u32) {
        let uses = &mut self.witness.table_mut(table).columns[0];
        uses[from as usize] -= M31::from_u32_unchecked(1);
        uses[to as usize] += M31::from_u32_unchecked(1);
    }

    /// The first row of `kind` whose instruction satisfies `pick`.
    pub fn row(&self, kind: Kind, pick: impl Fn(&Instr) -> bool) -> usize {
        let pcs = &self.witness.table(kind).columns[1];
        pcs.iter()
            .position(|pc| pick(&self.program.code[pc.0 as usize]))
            .expect("the program executes such a step")
    }
}

/// Every column of `kind` is constrained: changing it on some row of `run` is caught.
pub fn every_column_is_load_bearing(run: &Run, kind: Kind) {
    let table = run.witness.table(kind);
    for column in 0..table.columns.len() {
        let caught = (0..table.rows()).any(|row| {
            let mut forged = Run {
                program: run.program.clone(),
                statement: run.statement.clone(),
                witness: run.witness.clone(),
            };
            let value = forged.get(kind, column, row);
            forged.set(kind, column, row, value + 1);
            forged.check().is_err()
        });
        assert!(
            caught,
            "column {column} of `{}` is unconstrained",
            kind.name()
        );
    }
}
