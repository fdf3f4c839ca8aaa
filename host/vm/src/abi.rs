//! The guest ABI, checked on every module before it is stored or run.
//!
//! A guest module exports `memory` and `main: [] -> []` and may import only these functions
//! from module `obelysk`:
//!
//! | import | type | meaning |
//! |---|---|---|
//! | `input_len` | `[] -> [i32]` | number of 32-bit input words |
//! | `read` | `[i32] -> [i32]` | input word `i`; traps when `i` is out of range |
//! | `write` | `[i32] -> []` | appends one output word |
//!
//! Other exports are allowed (rustc adds `__data_end` and `__heap_base`).

use blake2::{Blake2s256, Digest};
use wasmtime::{ExternType, FuncType, Module, ValType};

use crate::VmError;

/// The module that guest imports must come from.
pub const IMPORT_MODULE: &str = "obelysk";

/// The Wasm features a module may use: WebAssembly 2.0 without SIMD and reference types
/// (bulk memory, sign extension, saturating conversions and multi-value stay). The sandbox
/// engine is configured with exactly this set, so anything else is refused at upload.
pub fn allowed_features() -> wasmtime::wasmparser::WasmFeatures {
    use wasmtime::wasmparser::WasmFeatures;
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD | WasmFeatures::REFERENCE_TYPES)
}

crate::hash::hex_id!(
    /// Content hash of a module's bytes (Blake2s-256): the plugin id everywhere in Obelysk.
    /// (Not to be confused with [`crate::ir::ProgramId`], the hash of the lowered program.)
    ModuleId
);

impl ModuleId {
    /// Hashes module bytes.
    pub fn of(bytes: &[u8]) -> Self {
        ModuleId(Blake2s256::digest(bytes).into())
    }
}

/// What the node records about an accepted module.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModuleInfo {
    /// Content hash of the bytes.
    pub id: ModuleId,
    /// Size of the module in bytes.
    pub size: usize,
    /// Names of all exports, in module order.
    pub exports: Vec<String>,
    /// ABI functions the module imports (`obelysk.read`, ...).
    pub imports: Vec<String>,
    /// Initial linear memory in 64 KiB pages.
    pub memory_pages: u64,
}

/// Checks imports and exports of a compiled module against the guest ABI.
pub fn check_abi(module: &Module, bytes: &[u8]) -> Result<ModuleInfo, VmError> {
    let mut imports = Vec::new();
    for import in module.imports() {
        let full = format!("{}.{}", import.module(), import.name());
        let expected = match (import.module(), import.name()) {
            (IMPORT_MODULE, "input_len") => signature(&[], &[ValType::I32]),
            (IMPORT_MODULE, "read") => signature(&[ValType::I32], &[ValType::I32]),
            (IMPORT_MODULE, "write") => signature(&[ValType::I32], &[]),
            (module, name) => {
                return Err(VmError::UnsupportedImport {
                    module: module.to_string(),
                    name: name.to_string(),
                });
            }
        };
        match import.ty() {
            ExternType::Func(ty) if describe(&ty) == expected => imports.push(full),
            other => {
                return Err(VmError::AbiSignature {
                    name: full,
                    expected,
                    found: describe_extern(&other),
                });
            }
        }
    }

    let mut exports = Vec::new();
    let mut memory_pages = None;
    let mut has_main = false;
    for export in module.exports() {
        match (export.name(), export.ty()) {
            ("memory", ExternType::Memory(mem)) => memory_pages = Some(mem.minimum()),
            ("main", ExternType::Func(ty)) if describe(&ty) == signature(&[], &[]) => {
                has_main = true
            }
            (name @ ("memory" | "main"), other) => {
                return Err(VmError::AbiSignature {
                    name: name.to_string(),
                    expected: if name == "memory" {
                        "memory".into()
                    } else {
                        signature(&[], &[])
                    },
                    found: describe_extern(&other),
                });
            }
            _ => {}
        }
        exports.push(export.name().to_string());
    }
    let memory_pages = memory_pages.ok_or_else(|| VmError::MissingExport("memory".into()))?;
    if !has_main {
        return Err(VmError::MissingExport("main".into()));
    }
    Ok(ModuleInfo {
        id: ModuleId::of(bytes),
        size: bytes.len(),
        exports,
        imports,
        memory_pages,
    })
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |tys: &[ValType]| {
        tys.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("func [{}] -> [{}]", list(params), list(results))
}

fn describe(ty: &FuncType) -> String {
    signature(
        &ty.params().collect::<Vec<_>>(),
        &ty.results().collect::<Vec<_>>(),
    )
}

fn describe_extern(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => describe(f),
        ExternType::Global(_) => "global".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Limits, Sandbox, VmError};

    fn load(wat: &str) -> Result<crate::ModuleInfo, VmError> {
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
            super::ModuleId::of(&wat::parse_str(MINIMAL).unwrap())
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
        let err =
            load(r#"(module (memory (export "memory") 1) (func (export "main") (param i32)))"#)
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

    #[test]
    fn refuses_garbage_and_simd() {
        let sandbox = Sandbox::new(Limits::default()).unwrap();
        assert_eq!(
            sandbox.load(b"\0asm garbage").unwrap_err().code(),
            "invalid_module"
        );
        assert_eq!(sandbox.load(&[]).unwrap_err().code(), "invalid_module");
        let err = load(
            r#"(module (memory (export "memory") 1) (func (export "main") (drop (v128.const i32x4 0 0 0 0))))"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_module");
    }
}
