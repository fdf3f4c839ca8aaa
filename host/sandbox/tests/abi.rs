//! The guest ABI check (`obelysk_vm::abi::check_module`) as an upload meets it: through
//! [`Sandbox::load`], which refuses what the check refuses before anything compiles.

use obelysk_sandbox::{Limits, Sandbox};
use obelysk_vm::{ModuleId, ModuleInfo, VmError};

fn load(wat: &str) -> Result<ModuleInfo, VmError> {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    sandbox.load(&wat::parse_str(wat).unwrap()).map(|m| m.info)
}

const MINIMAL: &str = r#"(module (memory (export "memory") 2) (func (export "main")))"#;

#[test]
fn accepts_the_abi_and_extra_exports() {
    let info = load(
        r#"(module
            (import "obelysk" "input_len" (func (result i32)))
            (import "obelysk" "read" (func (param i32) (result i32)))
            (import "obelysk" "write" (func (param i32)))
            (memory (export "memory") 2)
            (global (export "__heap_base") i32 (i32.const 1024))
            (func (export "main")))"#,
    )
    .unwrap();
    assert_eq!(
        info.imports,
        ["obelysk.input_len", "obelysk.read", "obelysk.write"]
    );
    assert_eq!(info.exports, ["memory", "__heap_base", "main"]);
    assert_eq!(info.memory_pages, 2);
    assert_eq!(
        load(MINIMAL).unwrap().id,
        ModuleId::of(&wat::parse_str(MINIMAL).unwrap())
    );
}

#[test]
fn refuses_imports_outside_the_abi() {
    let err = load(
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
            (memory (export "memory") 1) (func (export "main")))"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), "unsupported_import");
    assert!(err.to_string().contains("wasi_snapshot_preview1.proc_exit"));
    let err = load(
        r#"(module (import "obelysk" "exit" (func)) (memory (export "memory") 1) (func (export "main")))"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), "unsupported_import");
    let err = load(
        r#"(module (import "obelysk" "mem" (memory 1)) (func (export "main")) (export "memory" (memory 0)))"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), "unsupported_import");
}

#[test]
fn refuses_wrong_signatures() {
    let err = load(
        r#"(module (import "obelysk" "read" (func (param i64) (result i32)))
            (memory (export "memory") 1) (func (export "main")))"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), "abi_signature");
    let err = load(r#"(module (memory (export "memory") 1) (func (export "main") (param i32)))"#)
        .unwrap_err();
    assert_eq!(err.code(), "abi_signature");
    let err = load(r#"(module (memory 1) (func (export "main")) (global (export "memory") i32 (i32.const 0)))"#)
        .unwrap_err();
    assert_eq!(err.code(), "abi_signature");
}

#[test]
fn refuses_missing_exports() {
    assert_eq!(
        load(r#"(module (func (export "main")))"#).unwrap_err(),
        VmError::MissingExport("memory".into())
    );
    assert_eq!(
        load(r#"(module (memory (export "memory") 1))"#).unwrap_err(),
        VmError::MissingExport("main".into())
    );
}

/// With reference types a module may declare several tables and grow them: the sandbox
/// allows one of at most `MAX_TABLE_ENTRIES`, so anything past that is refused here, by
/// name, rather than failing at instantiation; `table.grow` past it returns −1.
#[test]
fn tables_stay_within_the_sandbox_limits() {
    let two = load(
        r#"(module (memory (export "memory") 1) (table 1 funcref) (table 1 funcref)
             (func (export "main")))"#,
    )
    .unwrap_err();
    assert_eq!(two.code(), "table_limit", "{two}");
    let big = load(
        r#"(module (memory (export "memory") 1) (table 100001 funcref)
             (func (export "main")))"#,
    )
    .unwrap_err();
    assert!(big.to_string().contains("100001"), "{big}");
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let largest = wat::parse_str(
        r#"(module (import "obelysk" "write" (func $write (param i32)))
             (memory (export "memory") 1) (table 100000 funcref)
             (func (export "main")
               (call $write (table.grow (ref.null func) (i32.const 1)))
               (call $write (table.size))))"#,
    )
    .unwrap();
    let module = sandbox.load(&largest).unwrap();
    let run = sandbox.run(&module, &[]).unwrap();
    assert_eq!(run.output, [u32::MAX, 100_000]);
}

#[test]
fn refuses_garbage() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    assert_eq!(
        sandbox.load(b"\0asm garbage").unwrap_err().code(),
        "invalid_module"
    );
    assert_eq!(sandbox.load(&[]).unwrap_err().code(), "invalid_module");
}

/// Floats and SIMD anywhere (types, locals, globals, blocks, instructions) are refused by
/// name before anything compiles; integer code that only mentions them in a comment or a
/// name is not.
#[test]
fn refuses_floats_and_simd_by_name() {
    let cases: [(&str, &[&str]); 6] = [
        (
            r#"(func (export "main") (drop (v128.const i32x4 0 0 0 0)))"#,
            &["v128.const"],
        ),
        (
            r#"(func (export "main") (drop (i8x16.splat (i32.const 1))))"#,
            &["i8x16.splat"],
        ),
        (
            r#"(func (export "main") (local f64) (drop (i32.trunc_sat_f32_s (f32.const 1))))"#,
            &["f64 local", "f32.const", "i32.trunc_sat_f32_s"],
        ),
        (
            r#"(global (mut f32) (f32.const 0)) (func (export "main"))"#,
            &["f32 global", "f32.const"],
        ),
        (
            r#"(func $f (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
               (func (export "main"))"#,
            &["f64 parameter or result", "i64.reinterpret_f64"],
        ),
        (
            r#"(func (export "main") (drop (block (result f32) (f32.const 0))))"#,
            &["f32 block result", "f32.const"],
        ),
    ];
    for (body, names) in cases {
        let wat = format!(r#"(module (memory (export "memory") 1) {body})"#);
        let err = load(&wat).unwrap_err();
        assert_eq!(err.code(), "unsupported_feature", "{wat}");
        let VmError::NotInteger(found) = &err else {
            unreachable!()
        };
        for name in names {
            assert!(found.contains_key(*name), "{name} in {found:?}");
        }
        assert!(err.to_string().contains(names[0]), "{err}");
    }
    let integer = r#"(module (memory (export "memory") 1)
        (func $f32_like_name (export "main") (drop (i32.const 32))))"#;
    assert!(load(integer).is_ok());
}
