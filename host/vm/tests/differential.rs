//! Front end + tracing interpreter against wasmtime: same module, same input, same output.

mod engines;

use engines::agree;
use obelysk_sandbox::{Limits, Sandbox};
use obelysk_vm::interp::{self, ExecError};
use obelysk_vm::ir::Instr;
use obelysk_vm::lower::{LowerError, lower};

const IO: &str = r#"
    (import "obelysk" "input_len" (func $len (result i32)))
    (import "obelysk" "read" (func $read (param i32) (result i32)))
    (import "obelysk" "write" (func $write (param i32)))
    (memory (export "memory") 1)"#;

fn module(body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {IO} {body})")).unwrap()
}

const EDGES: [u32; 8] = [
    0,
    1,
    2,
    1 << 15,
    (1 << 16) - 1,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX,
];

/// Every stage-2 arithmetic, bitwise and comparison operator and `select`, on every pair of
/// edge values, against wasmtime.
#[test]
fn stage_two_operators_on_edges() {
    let ops = [
        "i32.mul",
        "i32.and",
        "i32.or",
        "i32.xor",
        "i32.lt_s",
        "i32.gt_s",
        "i32.le_s",
        "i32.ge_s",
        "i32.shl",
        "i32.shr_s",
        "i32.shr_u",
        "i32.rotl",
        "i32.rotr",
    ];
    let unary = [
        "i32.clz",
        "i32.ctz",
        "i32.popcnt",
        "i32.extend8_s",
        "i32.extend16_s",
    ];
    let writes: String = ops
        .iter()
        .map(|op| format!("(call $write ({op} (local.get $a) (local.get $b)))"))
        .chain(
            unary
                .iter()
                .map(|op| format!("(call $write ({op} (local.get $a)))")),
        )
        .collect();
    let wasm = module(&format!(
        r#"(func (export "main") (local $a i32) (local $b i32)
            (local.set $a (call $read (i32.const 0)))
            (local.set $b (call $read (i32.const 1)))
            {writes}
            (call $write (select (local.get $a) (local.get $b) (local.get $b)))
            (call $write (select (local.get $a) (local.get $b) (i32.const 0))))"#
    ));
    let inputs: Vec<Vec<u32>> = EDGES
        .iter()
        .flat_map(|&a| {
            // Shift amounts 31, 32 and 33 besides the edges.
            EDGES.iter().chain(&[31, 32, 33]).map(move |&b| vec![a, b])
        })
        .collect();
    for out in agree(&wasm, &inputs) {
        assert_eq!(out.unwrap().len(), ops.len() + unary.len() + 2);
    }
}

#[test]
fn divisions_and_their_traps_agree() {
    let ops = ["i32.div_s", "i32.div_u", "i32.rem_s", "i32.rem_u"];
    let inputs: Vec<Vec<u32>> = EDGES
        .iter()
        .flat_map(|&a| {
            EDGES
                .iter()
                .chain(&[3, u32::MAX - 2])
                .map(move |&b| vec![a, b])
        })
        .collect();
    for op in ops {
        let wasm = module(&format!(
            r#"(func (export "main")
                (call $write ({op} (call $read (i32.const 0)) (call $read (i32.const 1)))))"#
        ));
        let out = agree(&wasm, &inputs);
        let traps = out.iter().filter(|o| o.is_err()).count();
        // Division by zero for every dividend, and INT_MIN / −1 for div_s.
        let expected = EDGES.len() + usize::from(op == "i32.div_s");
        assert_eq!(traps, expected, "{op}");
    }
}

#[test]
fn br_table_agrees() {
    // Targets of every kind: a block, a loop, the function (a return), the default.
    let wasm = module(
        r#"(func $f (param $i i32) (local $n i32)
            (block $b
                (loop $again
                    (local.set $n (i32.add (local.get $n) (i32.const 1)))
                    (if (i32.gt_u (local.get $n) (i32.const 3))
                        (then (local.set $i (i32.const 0))))
                    (br_table $b $again 2 $b (local.get $i))))
            (call $write (local.get $n)))
           (func (export "main")
            (call $f (call $read (i32.const 0)))
            (call $write (i32.const 9)))"#,
    );
    let inputs: Vec<Vec<u32>> = [0, 1, 2, 3, 4, 1 << 16, u32::MAX]
        .into_iter()
        .map(|i| vec![i])
        .collect();
    let out = agree(&wasm, &inputs);
    assert_eq!(out[0], Ok(vec![1, 9]));
    assert_eq!(out[1], Ok(vec![4, 9]));
    assert_eq!(out[2], Ok(vec![9]));
    assert_eq!(out[6], Ok(vec![1, 9]));
}

#[test]
fn loops_sum_the_input() {
    let wasm = module(
        r#"(func (export "main") (local $i i32) (local $sum i32)
            (block $done (loop $next
                (br_if $done (i32.ge_u (local.get $i) (call $len)))
                (local.set $sum (i32.add (local.get $sum) (call $read (local.get $i))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next)))
            (call $write (local.get $sum)))"#,
    );
    let inputs: Vec<Vec<u32>> = vec![vec![], EDGES.to_vec(), (0..100).collect()];
    let out = agree(&wasm, &inputs);
    assert_eq!(out[2], Ok(vec![4950]));
}

#[test]
fn recursion_fibonacci() {
    let wasm = module(
        r#"(func $fib (param $n i32) (result i32)
            (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
                (then (local.get $n))
                (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                               (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
           (func (export "main") (call $write (call $fib (call $read (i32.const 0)))))"#,
    );
    let out = agree(&wasm, &[vec![0], vec![1], vec![2], vec![10], vec![20]]);
    assert_eq!(out[4], Ok(vec![6765]));
}

#[test]
fn calls_with_several_params_and_nested_frames() {
    let wasm = module(
        r#"(func $mix (param i32 i32 i32) (result i32)
            (i32.add (i32.sub (local.get 0) (local.get 1)) (local.get 2)))
           (func $zero (result i32) (call $one))
           (func $one (result i32) (i32.const 1))
           (func $noop)
           (func (export "main")
            (call $noop)
            (call $write (call $zero))
            (call $write (call $mix (call $read (i32.const 0)) (call $read (i32.const 1)) (call $read (i32.const 2))))
            (call $write (call $mix (call $zero) (call $mix (i32.const 5) (i32.const 7) (call $one)) (i32.const 9))))"#,
    );
    let mut inputs = vec![vec![10, 3, 4]];
    for a in EDGES {
        inputs.push(vec![a, EDGES[(a % 8) as usize], a ^ 0x5555]);
    }
    agree(&wasm, &inputs);
}

#[test]
fn branches_carry_values_out_of_blocks() {
    let wasm = module(
        r#"(func $classify (param $x i32) (result i32)
            (block $out (result i32)
                (block $small (result i32)
                    (drop (br_if $out (i32.const 100) (i32.gt_u (local.get $x) (i32.const 1000))))
                    (drop (br_if $small (i32.const 10) (i32.lt_u (local.get $x) (i32.const 10))))
                    (drop (i32.const 77))
                    (i32.const 50))
                (i32.add (i32.const 1))))
           (func $early (param $x i32) (result i32) (local $i i32)
            (loop $l
                (if (i32.eq (local.get $i) (local.get $x)) (then (return (i32.add (local.get $i) (i32.const 1000)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.ne (local.get $i) (i32.const 20))))
            (i32.const 7))
           (func (export "main") (local $x i32)
            (local.set $x (call $read (i32.const 0)))
            (call $write (call $classify (local.get $x)))
            (call $write (call $early (local.get $x)))
            (call $write (i32.eqz (local.get $x)))
            (call $write (local.tee $x (i32.le_u (local.get $x) (i32.const 5))))
            (call $write (local.get $x)))"#,
    );
    let out = agree(
        &wasm,
        &[
            vec![0],
            vec![5],
            vec![9],
            vec![10],
            vec![19],
            vec![500],
            vec![1001],
            vec![u32::MAX],
        ],
    );
    assert_eq!(out[0], Ok(vec![11, 1000, 1, 1, 1]));
    assert_eq!(out[6], Ok(vec![100, 7, 0, 0, 0]));
}

#[test]
fn traps_agree() {
    let wasm = module(
        r#"(func (export "main")
            (if (i32.eqz (call $read (i32.const 0))) (then unreachable))
            (call $write (call $read (i32.const 1))))"#,
    );
    let out = agree(&wasm, &[vec![0, 5], vec![1, 5], vec![1]]);
    assert_eq!(
        out,
        vec![Err("trap".into()), Ok(vec![5]), Err("trap".into())]
    );
}

#[test]
fn unsupported_instructions_are_named() {
    let wasm = module(
        r#"(func (export "main")
            (drop (f64.sqrt (f64.const 2)))
            (drop (f64.sqrt (f64.const 3)))
            (drop (f32.load (i32.const 0))))"#,
    );
    let err = lower(&wasm).unwrap_err();
    let LowerError::Unsupported(names) = &err else {
        panic!("{err:?}")
    };
    let names: Vec<&str> = names.keys().map(String::as_str).collect();
    for want in ["f64.sqrt", "f64.const", "f32.load"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert_eq!(err.code(), "unsupported_instructions");
    assert!(err.to_string().contains("f64.sqrt (×2)"), "{err}");
}

/// Every load and store width at edge addresses (unaligned, crossing a page, the last bytes,
/// just past the end, 2^32 − 4 with and without an offset), over data segments, against
/// wasmtime; input `[base, offset selector, value]`.
#[test]
fn memory_agrees_with_wasmtime() {
    let wasm = module(
        r#"(data (i32.const 0xfffa) "\81\82\83\84\85\86")
           (data (i32.const 8) "\ff\00\7f\80")
           (data (i32.const 10) "\01")
           (func (export "main") (local $a i32) (local $v i32)
             (local.set $a (call $read (i32.const 0)))
             (local.set $v (call $read (i32.const 1)))
             (call $write (i32.load (i32.const 8)))
             (call $write (i32.load8_s (local.get $a)))
             (call $write (i32.load8_u (local.get $a)))
             (call $write (i32.load16_s offset=1 (local.get $a)))
             (call $write (i32.load16_u offset=1 (local.get $a)))
             (call $write (i32.load offset=2 (local.get $a)))
             (i32.store8 (local.get $a) (local.get $v))
             (call $write (i32.load (local.get $a)))
             (i32.store16 offset=1 (local.get $a) (local.get $v))
             (call $write (i32.load (local.get $a)))
             (i32.store offset=2 (local.get $a) (local.get $v))
             (call $write (i32.load offset=2 (local.get $a)))
             (call $write (i32.load8_u offset=1 (local.get $a))))"#,
    );
    let bases = [
        0,
        1,
        8,
        0xfffb,
        0xfffc,
        0xfffd,
        0x1_0000 - 6,
        0x1_0000 - 5,
        0x1_0000 - 4,
    ];
    let mut inputs: Vec<Vec<u32>> = bases.iter().map(|&a| vec![a, 0x8a9b_acbd]).collect();
    inputs.extend([u32::MAX - 3, u32::MAX, 1 << 31, 0x1_0000].map(|a| vec![a, 7]));
    let out = agree(&wasm, &inputs);
    // The later segment overwrote byte 10.
    assert_eq!(out[0].as_ref().unwrap()[0], 0x8001_00ff);
    // Past the end (a 6-byte footprint from 0x1_0000 − 5) and every huge base trap.
    assert!(
        out[7].is_err() && out[9..].iter().all(Result::is_err),
        "{out:?}"
    );
}

/// `memory.grow` and `memory.size` at and past the declared maximum and the VM's cap.
#[test]
fn memory_grow_agrees_with_wasmtime() {
    let grow = |memory: &str| {
        wat::parse_str(format!(
            r#"(module
                (import "obelysk" "read" (func $read (param i32) (result i32)))
                (import "obelysk" "write" (func $write (param i32)))
                (memory (export "memory") {memory})
                (func (export "main")
                  (call $write (memory.grow (call $read (i32.const 0))))
                  (call $write (memory.grow (call $read (i32.const 1))))
                  (call $write (memory.size))
                  (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4))
                             (i32.const 7))))"#
        ))
        .unwrap()
    };
    let inputs = [
        vec![0, 0],
        vec![1, 1],
        vec![2, 1],
        vec![3, 0],
        vec![4, 0],
        vec![u32::MAX, 1],
        vec![0x1_0001, 1],
    ];
    let out = agree(&grow("1 4"), &inputs);
    assert_eq!(out[1], Ok(vec![1, 2, 3]));
    assert_eq!(out[3], Ok(vec![1, 4, 4]));
    assert_eq!(out[4], Ok(vec![u32::MAX, 1, 1]));
    assert_eq!(out[5], Ok(vec![u32::MAX, 1, 2]));
    // No declared maximum: the VM's cap (4096 pages, the sandbox's default limit) applies.
    let out = agree(&grow("0"), &[vec![4096, 1], vec![4095, 1], vec![4097, 0]]);
    assert_eq!(out[0], Ok(vec![0, u32::MAX, 4096]));
    assert_eq!(out[1], Ok(vec![0, 4095, 4096]));
    // Zero pages: every access traps.
    assert_eq!(out[2], Err("trap".into()));
}

#[test]
fn globals_agree_with_wasmtime() {
    // `__stack_pointer`-style use: a mutable global with a non-zero start, moved down and up
    // across a call; an immutable one folds to a constant; an i64 global nobody reads.
    let wasm = module(
        r#"(global $sp (mut i32) (i32.const 65536))
           (global $k i32 (i32.const -3))
           (global $wide (mut i64) (i64.const 5))
           (func $enter (param $n i32) (result i32)
             (global.set $sp (i32.sub (global.get $sp) (local.get $n)))
             (global.get $sp))
           (func (export "main")
             (call $write (call $enter (call $read (i32.const 0))))
             (call $write (i32.add (global.get $sp) (global.get $k)))
             (global.set $sp (i32.add (global.get $sp) (call $read (i32.const 0))))
             (call $write (global.get $sp)))"#,
    );
    let out = agree(&wasm, &[vec![16], vec![0], vec![u32::MAX]]);
    assert_eq!(
        out,
        vec![
            Ok(vec![65520, 65517, 65536]),
            Ok(vec![65536, 65533, 65536]),
            Ok(vec![65537, 65534, 65536]),
        ]
    );
    let float_read = module(
        r#"(global $f (mut f32) (f32.const 5))
           (func (export "main") (drop (global.get $f)))"#,
    );
    let err = lower(&float_read).unwrap_err().to_string();
    assert!(err.contains("f32 global"), "{err}");
}

#[test]
fn unreachable_module_state_is_not_refused() {
    // A declared global, table and data segment that no instruction touches cannot change the
    // run (rustc declares `__stack_pointer` even when nothing uses it).
    let wasm = wat::parse_str(format!(
        r#"(module {IO}
            (global $sp (mut i32) (i32.const 65536))
            (table 1 funcref)
            (data (i32.const 16) "hello")
            (func (export "main") (call $write (i32.add (call $read (i32.const 0)) (i32.const 1)))))"#
    ))
    .unwrap();
    assert_eq!(agree(&wasm, &[vec![41]]), vec![Ok(vec![42])]);
}

#[test]
fn program_id_commits_to_the_code() {
    let a = lower(&module(
        r#"(func (export "main") (call $write (i32.const 1)))"#,
    ))
    .unwrap();
    let b = lower(&module(
        r#"(func (export "main") (call $write (i32.const 2)))"#,
    ))
    .unwrap();
    assert_eq!(
        a.id(),
        lower(&module(
            r#"(func (export "main") (call $write (i32.const 1)))"#
        ))
        .unwrap()
        .id()
    );
    assert_ne!(a.id(), b.id());
    let mut c = a.clone();
    c.code[0] = Instr::Trap;
    assert_ne!(a.id(), c.id());
}

#[test]
fn encoding_fits_the_field() {
    // A u32 immediate does not fit in M31: it is split into 16-bit limbs, so constants that
    // differ by the modulus never encode alike.
    let p = (1u32 << 31) - 1;
    let a = Instr::Const { dst: 3, value: 5 }.encode();
    let b = Instr::Const {
        dst: 3,
        value: 5 + p,
    }
    .encode();
    assert_ne!(a, b);
    let wide = lower(&module(
        r#"(func (export "main") (call $write (i32.const -1)))"#,
    ))
    .unwrap();
    for instr in &wide.code {
        assert!(
            instr.encode().iter().all(|&w| w < 1 << 20),
            "{instr}: {:?}",
            instr.encode()
        );
    }
}

#[test]
fn step_limit_bounds_the_run() {
    let program = lower(&module(r#"(func (export "main") (loop $l (br $l)))"#)).unwrap();
    assert_eq!(
        interp::run(&program, &[], 1000).unwrap_err(),
        ExecError::StepLimit { limit: 1000 }
    );
}

/// The verifier's front end refuses what the sandbox refuses: one module check for both.
#[test]
fn front_end_and_sandbox_refuse_the_same_modules() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let main = r#"(func (export "main") (call $write (i32.const 42)))"#;
    let refused = [
        // `write` imported with the wrong type: the lowering's stack effects would be wrong.
        (
            "write as [i32] -> [i32]",
            r#"(module (import "obelysk" "write" (func $write (param i32) (result i32)))
                   (memory (export "memory") 1)
                   (func (export "main") (drop (call $write (i32.const 42)))))"#
                .to_string(),
            "abi_signature",
        ),
        (
            "read as [] -> [i32]",
            format!(
                r#"(module (import "obelysk" "read" (func $read (result i32))) {}
                   (memory (export "memory") 1)
                   (func (export "main") (drop (call $read))))"#,
                r#"(import "obelysk" "write" (func $write (param i32)))"#
            ),
            "abi_signature",
        ),
        (
            "a data segment past the memory",
            format!(r#"(module {IO} (data (i32.const 65534) "abc") {main})"#),
            "segment_bounds",
        ),
        (
            "a data segment at a negative (huge) offset",
            format!(r#"(module {IO} (data (i32.const -1) "a") {main})"#),
            "segment_bounds",
        ),
        (
            "an element segment past the table",
            format!(r#"(module {IO} (table 1 funcref) (elem (i32.const 1) $f) (func $f) {main})"#),
            "segment_bounds",
        ),
        (
            "no memory export",
            r#"(module (import "obelysk" "write" (func $write (param i32))) (memory 1)
                 (func (export "main") (call $write (i32.const 42))))"#
                .to_string(),
            "missing_export",
        ),
        (
            "`memory` exported as a function",
            r#"(module (import "obelysk" "write" (func $write (param i32))) (memory 1)
                 (func (export "memory")) (func (export "main") (call $write (i32.const 42))))"#
                .to_string(),
            "abi_signature",
        ),
        (
            "`main` with a result",
            format!(r#"(module {IO} (func (export "main") (result i32) (i32.const 42)))"#),
            "abi_signature",
        ),
        (
            "`main` imported",
            r#"(module (import "obelysk" "input_len" (func (result i32)))
                 (memory (export "memory") 1) (export "main" (func 0)))"#
                .to_string(),
            "abi_signature",
        ),
    ];
    for (what, wat, code) in refused {
        let wasm = wat::parse_str(&wat).unwrap_or_else(|e| panic!("{what}: {e}"));
        let native = sandbox.load(&wasm).map(drop).unwrap_err();
        assert_eq!(native.code(), code, "{what}: {native}");
        let lowered = lower(&wasm).unwrap_err();
        assert!(
            matches!(lowered, LowerError::Abi(_) | LowerError::Invalid(_)),
            "{what}: {lowered}"
        );
        assert_eq!(
            lowered.to_string(),
            format!("guest ABI: {native}"),
            "{what}"
        );
    }
    // A segment that fits exactly is fine, in both.
    let edge = wat::parse_str(format!(
        r#"(module {IO} (data (i32.const 65533) "abc") (table 2 funcref) (elem (i32.const 1) $f)
           (func $f) {main})"#
    ))
    .unwrap();
    assert_eq!(agree(&edge, &[vec![]]), vec![Ok(vec![42])]);
}

/// `main` is an ordinary function behind an entry stub: its exits are `return`s, so a call
/// to `main` from inside the module returns to its caller instead of ending the run.
#[test]
fn main_is_entered_through_a_halting_stub() {
    let wasm = module(
        r#"(func $main (export "main")
             (call $write (call $len))
             (if (i32.eq (call $len) (i32.const 1))
               (then (call $write (i32.const 7)) (return)))
             (call $helper))
           (func $helper (call $write (i32.const 9)))
           (func $reenter (call $main))"#,
    );
    let program = lower(&wasm).unwrap();
    let entry = &program.functions[program.main];
    assert_eq!(entry.index, u32::MAX);
    let stub = &program.code[entry.entry as usize..];
    let main_entry = program.functions[0].entry;
    // The memory's initial page is grown by the stub (the run starts with none).
    assert_eq!(
        stub,
        [
            Instr::Const { dst: 1, value: 1 },
            Instr::MemoryGrow {
                slot: 1,
                max: obelysk_vm::ir::MAX_MEMORY_PAGES
            },
            Instr::Call {
                frame: 1,
                target: main_entry
            },
            Instr::Halt
        ]
    );
    // The only `halt` is the stub's: `main` itself returns.
    let halts: Vec<usize> = (0..program.code.len())
        .filter(|&pc| program.code[pc] == Instr::Halt)
        .collect();
    assert_eq!(halts, [program.code.len() - 1]);
    assert_eq!(
        agree(&wasm, &[vec![], vec![5]]),
        vec![Ok(vec![0, 9]), Ok(vec![1, 7])]
    );
}

/// `call_indirect` through a table filled by two element segments: each entry calls its
/// function; a null entry, an entry of another type and an index past the table trap.
/// Input `[i, j, x, y]`: `1000 + table[i](x, y)`, then `table[j](21)` as an i64 function.
#[test]
fn call_indirect_agrees_with_wasmtime() {
    let wasm = module(
        r#"(type $bin (func (param i32 i32) (result i32)))
           (type $un (func (param i32) (result i32)))
           (type $wide (func (param i64) (result i64)))
           (table 8 funcref)
           (elem (i32.const 0) $add $sub $neg $add)
           (elem (i32.const 5) $mul $twice)
           (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
           (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
           (func $mul (param i32 i32) (result i32) (i32.mul (local.get 0) (local.get 1)))
           (func $neg (type $un) (i32.sub (i32.const 0) (local.get 0)))
           (func $twice (type $wide) (i64.shl (local.get 0) (i64.const 1)))
           (func (export "main")
             (call $write (i32.add (i32.const 1000)
               (call_indirect (type $bin)
                 (call $read (i32.const 2)) (call $read (i32.const 3))
                 (call $read (i32.const 0)))))
             (call $write (i32.wrap_i64 (call_indirect (type $wide)
               (i64.const 21) (call $read (i32.const 1))))))"#,
    );
    let ok = |v: [u32; 2]| Ok(v.to_vec());
    let trap = Err("trap".to_string());
    let cases = [
        ([0, 6], ok([1012, 42])),
        ([1, 6], ok([1002, 42])),
        ([3, 6], ok([1012, 42])),
        ([5, 6], ok([1035, 42])), // another type index, the same signature
        ([2, 6], trap.clone()),   // another signature
        ([4, 6], trap.clone()),   // null
        ([8, 6], trap.clone()),   // past the table
        ([u32::MAX, 6], trap.clone()),
        ([0, 0], trap.clone()), // an i32 function called as an i64 one
        ([0, 7], trap.clone()),
    ];
    let inputs: Vec<Vec<u32>> = cases.iter().map(|([i, j], _)| vec![*i, *j, 7, 5]).collect();
    let expected: Vec<_> = cases.into_iter().map(|(_, out)| out).collect();
    assert_eq!(agree(&wasm, &inputs), expected);
}

/// `memory.fill` and `memory.copy` (overlapping in both directions, zero lengths, at the end
/// of memory, past it) against wasmtime; input `[d, s, n, value]`, output the bytes 0..48
/// as words, and the last word of memory. A copy or fill past the end writes nothing.
#[test]
fn bulk_memory_agrees_with_wasmtime() {
    let wasm = module(
        r#"(data (i32.const 0) "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL")
           (data (i32.const 65530) "\01\02\03\04\05\06")
           (func $dump (local $i i32)
             (loop $next
               (call $write (i32.load (local.get $i)))
               (local.set $i (i32.add (local.get $i) (i32.const 4)))
               (br_if $next (i32.lt_u (local.get $i) (i32.const 48))))
             (call $write (i32.load (i32.const 65532))))
           (func (export "main")
             (if (i32.and (call $read (i32.const 4)) (i32.const 1))
               (then (memory.fill (call $read (i32.const 0)) (call $read (i32.const 3))
                                  (call $read (i32.const 2))))
               (else (memory.copy (call $read (i32.const 0)) (call $read (i32.const 1))
                                  (call $read (i32.const 2)))))
             (call $dump))"#,
    );
    let mut inputs = Vec::new();
    for [d, s, n] in [
        [0, 0, 0],
        [4, 0, 20],  // overlapping, destination above: backwards
        [0, 4, 20],  // overlapping, destination below: forwards
        [10, 30, 8], // disjoint
        [3, 3, 16],  // onto itself
        [65530, 0, 6],
        [65530, 0, 7],    // past the end: traps, writes nothing
        [0, 65531, 6],    // source past the end
        [65536, 0, 0],    // zero bytes at the end
        [65537, 0, 0],    // past the end even with zero bytes
        [u32::MAX, 0, 2], // wraps
    ] {
        for op in [0, 1] {
            inputs.push(vec![d, s, n, 0x1_5a, op]);
        }
    }
    let outs = agree(&wasm, &inputs);
    assert!(
        outs[2].is_ok() && outs[12].is_err() && outs[13].is_err(),
        "{outs:?}"
    );
}

/// `memory.init` from passive segments (and from an active one, which reads as empty) and
/// `data.drop`, against wasmtime: every in-range copy, the bounds of the segment and of the
/// memory (a trap writes nothing), zero-length copies at the edges, and a dropped segment.
#[test]
fn memory_init_and_data_drop_agree_with_wasmtime() {
    let wasm = module(
        r#"(data $p "\00\01hello, passive\ff\ff")
           (data $active (i32.const 100) "active")
           (data $empty "")
           (func $dump (local $i i32)
             (loop $next
               (call $write (i32.load (local.get $i)))
               (local.set $i (i32.add (local.get $i) (i32.const 4)))
               (br_if $next (i32.lt_u (local.get $i) (i32.const 24))))
             (call $write (i32.load (i32.const 65532))))
           (func (export "main")
             (local $op i32)
             (local.set $op (call $read (i32.const 3)))
             (if (i32.and (local.get $op) (i32.const 4)) (then (data.drop $p)))
             (if (i32.and (local.get $op) (i32.const 1))
               (then (memory.init $active (call $read (i32.const 0)) (call $read (i32.const 1))
                                  (call $read (i32.const 2))))
               (else
                 (if (i32.and (local.get $op) (i32.const 2))
                   (then (memory.init $empty (call $read (i32.const 0))
                                      (call $read (i32.const 1)) (call $read (i32.const 2))))
                   (else (memory.init $p (call $read (i32.const 0)) (call $read (i32.const 1))
                                      (call $read (i32.const 2)))))))
             ;; A second init after the first (and after any drop) sees the same state.
             (memory.init $p (i32.const 20) (i32.const 0) (i32.const 0))
             (call $dump))"#,
    );
    let len = 18;
    let mut inputs = Vec::new();
    for [d, s, n] in [
        [0, 0, len],
        [3, 2, 5],
        [0, len, 0],      // empty, at the segment's end
        [0, len + 1, 0],  // past the segment's end even with zero bytes
        [0, 10, 9],       // past the segment's end
        [65530, 0, 6],    // the memory's last bytes
        [65531, 0, 6],    // past the memory's end: traps, writes nothing
        [65536, 0, 0],    // zero bytes at the memory's end
        [u32::MAX, 0, 1], // wraps
        [0, u32::MAX, 2], // the source wraps
        [7, 0, 0],        // nothing, from any segment, dropped or not
    ] {
        for op in [0, 1, 2, 4] {
            inputs.push(vec![d, s, n, op]);
        }
    }
    let outs = agree(&wasm, &inputs);
    // A full copy runs; from an active, empty or dropped segment it traps, unless empty.
    assert!(
        outs[0].is_ok() && outs[1..4].iter().all(Result::is_err),
        "{outs:?}"
    );
    assert!(
        outs[8].is_ok() && outs[40..44].iter().all(Result::is_ok),
        "{outs:?}"
    );
}

/// Multi-value: blocks, loops and `if`s with parameters and several results (i32 and i64),
/// branches that carry them, and a function returning two values.
#[test]
fn multi_value_blocks_agree_with_wasmtime() {
    let wasm = module(
        r#"(func $divmod (param i32 i32) (result i32 i32)
             (i32.div_u (local.get 0) (local.get 1))
             (i32.rem_u (local.get 0) (local.get 1)))
           (func (export "main")
             (local $x i32) (local $y i32) (local $z i64)
             (local.set $x (call $read (i32.const 0)))
             (local.set $y (call $read (i32.const 1)))
             ;; if with parameters: both arms start from them.
             (i64.extend_i32_u (local.get $x)) (local.get $y)
             (if (param i64 i32) (result i32 i64) (i32.and (local.get $x) (i32.const 1))
               (then (drop) (drop) (i32.const 7) (i64.const -1))
               (else (i32.add (i32.const 3)) (local.set $y) (local.set $z)
                     (local.get $y) (i64.add (local.get $z) (i64.const 5))))
             (call $write (i32.wrap_i64))
             (call $write)
             ;; A loop whose parameters are carried by the back edge.
             (local.get $x) (i32.const 0)
             (loop $l (param i32 i32) (result i32 i32)
               (i32.add (i32.const 1))
               (local.set $y)
               (i32.shr_u (i32.const 1))
               (local.tee $x)
               (local.get $y)
               (br_if $l (local.get $x)))
             (call $write) (call $write)
             ;; A block that branches out with two values.
             (block $out (result i32 i32)
               (call $divmod (call $read (i32.const 0)) (i32.or (call $read (i32.const 1)) (i32.const 1)))
               (br_if $out (i32.const 1))
               (drop) (drop) (i32.const 0) (i32.const 0))
             (call $write) (call $write))"#,
    );
    let inputs: Vec<Vec<u32>> = [0, 1, 2, 7, 100, u32::MAX]
        .iter()
        .flat_map(|&x| [3, 0, u32::MAX].map(|y| vec![x, y]))
        .collect();
    let outs = agree(&wasm, &inputs);
    assert!(outs.iter().all(Result::is_ok), "{outs:?}");
}

/// `local.get` emits no copy: the instruction that consumes the value reads the local where
/// it is, and an instruction whose result a `local.set` or `local.tee` takes writes the local
/// directly. Each hazard of that (a local changed while an earlier read of it is still on the
/// stack, a branch that carries or leaves such a value, an i64 local, a tee of the same
/// local) against wasmtime.
#[test]
fn pending_local_reads_see_the_value_they_read() {
    let wasm = module(
        r#"(func $f (param $a i32) (param $b i32) (param $c i32) (result i32)
            (local $w i64) (local $v i64)
            ;; old a minus b, then old a plus 5, with a changed in between
            (call $write (i32.sub (local.get $a) (local.tee $a (local.get $b))))
            (call $write (i32.add (local.get $a) (local.tee $a (i32.const 5))))
            ;; a tee whose value is read again, and a set of a local's own value
            (call $write (i32.sub (local.tee $a (i32.add (local.get $a) (i32.const 1))) (local.get $a)))
            (local.set $b (local.get $b))
            (drop (local.get $c))
            ;; a value left below a branch that does not carry it, then its local changes
            (block
                (local.get $a)
                (br_if 0 (i32.eqz (local.get $c)))
                (local.set $a (i32.const 9))
                (call $write))
            ;; a branch that carries a pending value out of its block
            (call $write (block (result i32)
                (drop (br_if 0 (local.get $b) (local.get $c)))
                (local.set $b (i32.const 1))
                (local.get $b)))
            ;; a value read before an if whose arm changes its local
            (call $write (i32.add (local.get $b)
                (if (result i32) (local.get $c)
                    (then (local.set $b (i32.const 100)) (local.get $b))
                    (else (i32.const 3)))))
            ;; a loop that changes a local read before it
            (local.get $c)
            (loop $l
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $c) (i32.const 4))))
            (call $write)
            ;; i64: a pending two-slot read, its local changed by a tee
            (local.set $w (i64.extend_i32_u (local.get $a)))
            (call $write (i32.wrap_i64 (i64.sub (local.get $w)
                (local.tee $w (i64.add (local.get $w) (i64.const 0x100000000))))))
            (call $write (i32.wrap_i64 (i64.shr_u (local.get $w) (i64.const 32))))
            ;; i64 bitwise operations read pending two-slot values where they are
            (local.set $v (i64.extend_i32_u (local.get $b)))
            (call $write (i32.wrap_i64 (i64.xor (local.get $w)
                (local.tee $w (i64.or (local.get $w) (local.get $v))))))
            (call $write (i32.wrap_i64 (i64.and (local.get $w) (i64.xor (local.get $w) (local.get $v)))))
            ;; a loop parameter is set each time round, not only by the constant before it
            (local.set $c (i32.const 0))
            (i32.const 5)
            (loop $p (param i32)
                (local.set $b)
                (local.set $c (i32.add (local.get $c) (local.get $b)))
                (drop (br_if $p (i32.add (local.get $b) (i32.const 1)) (i32.lt_u (local.get $c) (i32.const 20)))))
            (call $write (local.get $c))
            ;; select and call arguments read pending values
            (select (local.get $a) (local.get $b) (local.get $c)))
           (func (export "main")
            (call $write (call $f (call $read (i32.const 0)) (call $read (i32.const 1))
                (call $read (i32.const 2)))))"#,
    );
    let mut inputs = vec![vec![10, 3, 0], vec![10, 3, 1], vec![7, 7, 2]];
    for a in EDGES {
        inputs.push(vec![a, EDGES[(a % 8) as usize], a & 3]);
    }
    let out = agree(&wasm, &inputs);
    assert_eq!(out[0], Ok(vec![7, 8, 0, 1, 4, 0, 0, 1, 1, 6, 26, 6]));
    assert_eq!(out[1], Ok(vec![7, 8, 0, 6, 3, 103, 1, 0, 1, 100, 9, 26, 9]));
}

/// The copies `local.get` and `local.set` used to cost are gone: `c = a + b` is one
/// instruction, and so is `c = 7`.
#[test]
fn local_reads_and_writes_cost_no_copies() {
    let wasm = module(
        r#"(func $f (param $a i32) (param $b i32) (result i32) (local $c i32)
            (local.set $c (i32.add (local.get $a) (local.get $b)))
            (local.set $c (i32.const 7))
            (local.get $c))
           (func (export "main")
            (call $write (call $f (call $read (i32.const 0)) (call $read (i32.const 1)))))"#,
    );
    let program = lower(&wasm).unwrap();
    let f = program.functions.iter().find(|f| f.index == 3).unwrap();
    let body: Vec<String> = program.code[f.entry as usize..]
        .iter()
        .take_while(|instr| !matches!(instr, Instr::Return))
        .map(|instr| instr.to_string())
        .collect();
    // Zero the local, the add into it, the constant into it, the result into slot 0.
    assert_eq!(body.len(), 4, "{body:#?}");
    assert_eq!(agree(&wasm, &[vec![2, 3]])[0], Ok(vec![7]));
}

/// A constant right operand of an addition or a shift becomes the instruction's immediate
/// (`BinaryImm`, no `Const` step): every such operator with every edge constant, against
/// wasmtime.
#[test]
fn immediate_operands_agree_with_wasmtime() {
    let ops = [
        "i32.add",
        "i32.sub",
        "i32.shl",
        "i32.shr_s",
        "i32.shr_u",
        "i32.rotl",
        "i32.rotr",
    ];
    let writes: String = ops
        .iter()
        .flat_map(|op| {
            EDGES.iter().map(move |k| {
                format!(
                    "(call $write ({op} (local.get $a) (i32.const {})))",
                    *k as i32
                )
            })
        })
        .collect();
    let wasm = module(&format!(
        r#"(func (export "main") (local $a i32)
            (local.set $a (call $read (i32.const 0)))
            {writes})"#
    ));
    let program = lower(&wasm).unwrap();
    let immediates = program
        .code
        .iter()
        .filter(|i| matches!(i, Instr::BinaryImm { .. }))
        .count();
    assert_eq!(immediates, ops.len() * EDGES.len());
    let inputs: Vec<Vec<u32>> = EDGES.iter().map(|&a| vec![a]).collect();
    agree(&wasm, &inputs);
}
