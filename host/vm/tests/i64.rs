//! i64 (two slots per value, lowered to i32 instructions) against wasmtime: every operator on
//! edge values, loads and stores, globals, calls, blocks and `select`.

mod engines;

use obelysk_vm::interp;

/// Imports, a memory, `$arg` (the i64 from input words `i, i + 1`, low first) and `$out`
/// (writes an i64 as two words, through memory so that no i64 shift is involved).
const PRELUDE: &str = r#"
    (import "obelysk" "input_len" (func $len (result i32)))
    (import "obelysk" "read" (func $read (param i32) (result i32)))
    (import "obelysk" "write" (func $write (param i32)))
    (memory (export "memory") 1)
    (func $arg (param $i i32) (result i64)
        (i32.store (i32.const 16) (call $read (local.get $i)))
        (i32.store (i32.const 20) (call $read (i32.add (local.get $i) (i32.const 1))))
        (i64.load (i32.const 16)))
    (func $out (param $v i64)
        (i64.store (i32.const 0) (local.get $v))
        (call $write (i32.load (i32.const 0)))
        (call $write (i32.load (i32.const 4))))"#;

fn module(body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {PRELUDE} {body})")).unwrap()
}

/// Runs `wasm` on every input in both engines and checks they agree; returns the outputs
/// (`None` for a trap).
fn agree(wasm: &[u8], inputs: &[Vec<u32>]) -> Vec<Option<Vec<u32>>> {
    engines::agree(wasm, inputs)
        .into_iter()
        .map(Result::ok)
        .collect()
}

const EDGES: [u64; 14] = [
    0,
    1,
    2,
    1 << 15,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    (1 << 32) + 1,
    0x1234_5678_9abc_def0,
    (1 << 63) - 1,
    1 << 63,
    u64::MAX - 1,
    u64::MAX,
];

/// Shift amounts besides the edges: both sides of 32 and 64, and past 64.
const AMOUNTS: [u64; 10] = [0, 1, 17, 31, 32, 33, 47, 63, 64, 65];

fn words(values: &[u64]) -> Vec<u32> {
    values
        .iter()
        .flat_map(|&v| [v as u32, (v >> 32) as u32])
        .collect()
}

#[test]
fn binary_operators_agree_on_edges() {
    let ops = [
        "i64.add",
        "i64.sub",
        "i64.mul",
        "i64.and",
        "i64.or",
        "i64.xor",
        "i64.shl",
        "i64.shr_s",
        "i64.shr_u",
        "i64.rotl",
        "i64.rotr",
    ];
    let compares = [
        "i64.eq", "i64.ne", "i64.lt_s", "i64.lt_u", "i64.gt_s", "i64.gt_u", "i64.le_s", "i64.le_u",
        "i64.ge_s", "i64.ge_u",
    ];
    let body: String = ops
        .iter()
        .map(|op| format!("(call $out ({op} (local.get $a) (local.get $b)))"))
        .chain(
            compares
                .iter()
                .map(|op| format!("(call $write ({op} (local.get $a) (local.get $b)))")),
        )
        .collect();
    let wasm = module(&format!(
        r#"(func (export "main") (local $a i64) (local $b i64)
            (local.set $a (call $arg (i32.const 0)))
            (local.set $b (call $arg (i32.const 2)))
            {body})"#
    ));
    let inputs: Vec<Vec<u32>> = EDGES
        .iter()
        .flat_map(|&a| EDGES.iter().chain(&AMOUNTS).map(move |&b| words(&[a, b])))
        .collect();
    for out in agree(&wasm, &inputs) {
        assert_eq!(out.unwrap().len(), 2 * ops.len() + compares.len());
    }
}

/// Shifts and rotations by constant amounts lower differently (no run-time word selection).
#[test]
fn shifts_by_constants_agree() {
    let ops = ["i64.shl", "i64.shr_s", "i64.shr_u", "i64.rotl", "i64.rotr"];
    let amounts = [0u64, 1, 7, 31, 32, 33, 40, 63, 64, 65, 96, u64::MAX];
    let body: String = ops
        .iter()
        .flat_map(|op| {
            amounts.iter().map(move |&n| {
                format!("(call $out ({op} (local.get $a) (i64.const {})))", n as i64)
            })
        })
        .collect();
    let wasm = module(&format!(
        r#"(func (export "main") (local $a i64)
            (local.set $a (call $arg (i32.const 0)))
            {body})"#
    ));
    let inputs: Vec<Vec<u32>> = EDGES.iter().map(|&a| words(&[a])).collect();
    for out in agree(&wasm, &inputs) {
        assert_eq!(out.unwrap().len(), 2 * ops.len() * amounts.len());
    }
}

#[test]
fn unary_operators_and_conversions_agree() {
    let wide = [
        "i64.clz",
        "i64.ctz",
        "i64.popcnt",
        "i64.extend8_s",
        "i64.extend16_s",
        "i64.extend32_s",
    ];
    let body: String = wide
        .iter()
        .map(|op| format!("(call $out ({op} (local.get $a)))"))
        .collect();
    let wasm = module(&format!(
        r#"(func (export "main") (local $a i64)
            (local.set $a (call $arg (i32.const 0)))
            {body}
            (call $write (i64.eqz (local.get $a)))
            (call $write (i32.wrap_i64 (local.get $a)))
            (call $out (i64.extend_i32_s (i32.wrap_i64 (local.get $a))))
            (call $out (i64.extend_i32_u (i32.wrap_i64 (local.get $a)))))"#
    ));
    let inputs: Vec<Vec<u32>> = EDGES
        .iter()
        .chain(&[0x80, 0xff, 0x7fff, 0x8000, 0xffff_0000_0000_8000])
        .map(|&a| words(&[a]))
        .collect();
    for out in agree(&wasm, &inputs) {
        assert_eq!(out.unwrap().len(), 2 * wide.len() + 2 + 4);
    }
}

/// An i64 made from an i32 lands in slots whose high word last held something else: the
/// lowering writes both words, so nothing stale shows. (Removing the high-word write of
/// `extend_i32_u`, or of a 32-bit load, makes this disagree with wasmtime.)
#[test]
fn no_stale_high_word_survives() {
    let wasm = module(
        r#"(func (export "main") (local $x i32)
            (local.set $x (call $read (i32.const 0)))
            ;; slots A, A+1 first hold two i32s, the second all ones
            (drop (i32.add (local.get $x) (i32.const -1)))
            (call $out (i64.extend_i32_u (local.get $x)))
            (drop (i32.add (local.get $x) (i32.const -1)))
            (call $out (i64.load32_u (i32.const 64)))
            (drop (i32.add (local.get $x) (i32.const -1)))
            (call $out (i64.load8_u (i32.const 64)))
            (drop (i32.add (local.get $x) (i32.const -1)))
            (call $out (i64.clz (i64.extend_i32_u (local.get $x))))
            (drop (i32.add (local.get $x) (i32.const -1)))
            (call $out (i64.popcnt (i64.extend_i32_u (local.get $x)))))
         (data (i32.const 64) "\ff\ff\ff\ff\ff\ff\ff\ff")"#,
    );
    for out in agree(&wasm, &[vec![0], vec![5], vec![u32::MAX]]) {
        let out = out.unwrap();
        assert_eq!(&out[..4], &[out[0], 0, u32::MAX, 0]);
    }
}

/// Every i64 load and store width, at edges (unaligned, crossing a page, the last bytes,
/// just past the end), and an 8-byte store that traps writes nothing.
#[test]
fn loads_and_stores_agree() {
    let loads = [
        "i64.load",
        "i64.load8_s",
        "i64.load8_u",
        "i64.load16_s",
        "i64.load16_u",
        "i64.load32_s",
        "i64.load32_u",
    ];
    let stores = ["i64.store", "i64.store8", "i64.store16", "i64.store32"];
    let mut body = String::new();
    for store in stores {
        body.push_str(&format!(
            "({store} offset=3 (local.get $at) (local.get $v))
             (call $out (i64.load offset=3 (local.get $at)))"
        ));
        for load in loads {
            body.push_str(&format!("(call $out ({load} offset=3 (local.get $at)))"));
        }
    }
    let wasm = module(&format!(
        r#"(func (export "main") (local $at i32) (local $v i64)
            (local.set $at (call $read (i32.const 0)))
            (local.set $v (call $arg (i32.const 1)))
            {body})
           (data (i32.const 100) "\01\82\03\84\05\86\07\88\09")"#
    ));
    let value = 0x8081_f2f3_8485_0607u64;
    let inputs: Vec<Vec<u32>> = [
        0u32,
        1,
        97,
        100,
        65528 - 3,
        65536 - 11,
        65536 - 10,
        65536 - 3,
    ]
    .iter()
    .map(|&at| {
        let mut input = vec![at];
        input.extend(words(&[value]));
        input
    })
    .collect();
    let outs = agree(&wasm, &inputs);
    assert!(outs[0].is_some() && outs[7].is_none(), "{outs:?}");
    // A trapping 8-byte store changes nothing, not even its in-bounds bytes.
    let wasm = module(
        r#"(func (export "main")
            (i64.store (i32.const 65530) (i64.const -1)))
           (func (export "check") (result i32) (i32.load (i32.const 65528)))"#,
    );
    assert_eq!(agree(&wasm, &[vec![]]), vec![None]);
    let library = obelysk_vm::lower::lower_library(&wasm).unwrap();
    let mut instance = library.instance();
    let main = library.exports["main"];
    let check = library.exports["check"];
    let f = |i: usize| &library.functions[i];
    assert!(
        interp::invoke(&library.code, f(main), &[], &[], 1000, &mut instance).is_err(),
        "the store traps"
    );
    let (results, _) =
        interp::invoke(&library.code, f(check), &[], &[], 1000, &mut instance).unwrap();
    assert_eq!(results, vec![0], "nothing was written");
}

#[test]
fn globals_calls_blocks_and_select_agree() {
    let wasm = module(
        r#"(global $g (mut i64) (i64.const 0x1122334455667788))
           (global $k i64 (i64.const -2))
           (func $swap (param i64 i64) (result i64 i64) (local.get 1) (local.get 0))
           (func $fold (param $x i64) (param $n i32) (result i64)
             (if (result i64) (i32.eqz (local.get $n))
               (then (local.get $x))
               (else (call $fold
                        (i64.add (i64.mul (local.get $x) (global.get $k)) (i64.const 3))
                        (i32.sub (local.get $n) (i32.const 1))))))
           (func (export "main") (local $a i64) (local $b i64)
             (local.set $a (call $arg (i32.const 0)))
             (local.set $b (call $arg (i32.const 2)))
             (call $out (global.get $g))
             (global.set $g (i64.xor (global.get $g) (local.get $a)))
             (call $out (global.get $g))
             (call $out (global.get $k))
             (call $swap (local.get $a) (local.get $b))
             (call $out)
             (call $out)
             (call $out (call $fold (local.get $a) (i32.const 5)))
             (call $out (select (local.get $a) (local.get $b) (i32.wrap_i64 (local.get $b))))
             (call $out (select (local.get $b) (local.get $a) (i32.const 0)))
             (call $out (block (result i64)
                (drop (br_if 0 (local.get $a) (i64.eqz (local.get $b))))
                (local.get $b)))
             (call $out (block (result i64 i64)
                (local.get $b) (local.get $a))
                (i64.sub))
             (call $out (loop (result i64) (local.get $a))))"#,
    );
    let inputs: Vec<Vec<u32>> = [
        (0u64, 0u64),
        (1, 0),
        (u64::MAX, 1 << 32),
        (0x1234_5678_9abc_def0, 7),
    ]
    .iter()
    .map(|&(a, b)| words(&[a, b]))
    .collect();
    for out in agree(&wasm, &inputs) {
        assert_eq!(out.unwrap().len(), 2 * 11);
    }
}

/// Every i64 division on edge pairs (one call per run, so that each trap is seen): the
/// quotient or remainder, or the trap (zero divisor, `i64::MIN / −1`).
#[test]
fn divisions_and_their_traps_agree() {
    let divisors = [3u64, 10, 7 << 40, 0xffff_ffff, 1 << 63 | 5];
    let values: Vec<u64> = EDGES.iter().chain(&divisors).copied().collect();
    for op in ["i64.div_u", "i64.rem_u", "i64.div_s", "i64.rem_s"] {
        let wasm = module(&format!(
            r#"(func (export "main")
                (call $out ({op} (call $arg (i32.const 0)) (call $arg (i32.const 2)))))"#
        ));
        let inputs: Vec<Vec<u32>> = values
            .iter()
            .flat_map(|&a| values.iter().map(move |&b| words(&[a, b])))
            .collect();
        let outs = agree(&wasm, &inputs);
        for (input, out) in inputs.iter().zip(&outs) {
            let (a, b) = (
                u64::from(input[0]) | u64::from(input[1]) << 32,
                u64::from(input[2]) | u64::from(input[3]) << 32,
            );
            let traps = b == 0 || (op == "i64.div_s" && a == 1 << 63 && b == u64::MAX);
            assert_eq!(out.is_none(), traps, "{op} {a:x} {b:x}");
        }
    }
}
