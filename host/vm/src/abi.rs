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
use wasmtime::wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FuncType, Operator, Parser,
    Payload, TypeRef, ValType, Validator,
};

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

/// An ABI import, by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiImport {
    /// `input_len: [] -> [i32]`.
    InputLen,
    /// `read: [i32] -> [i32]`.
    Read,
    /// `write: [i32] -> []`.
    Write,
}

impl AbiImport {
    /// The ABI function `obelysk.<name>`, if there is one.
    pub(crate) fn named(name: &str) -> Option<Self> {
        Some(match name {
            "input_len" => AbiImport::InputLen,
            "read" => AbiImport::Read,
            "write" => AbiImport::Write,
            _ => return None,
        })
    }

    /// Whether `ty` is this import's ABI type.
    pub(crate) fn has_type(self, ty: &FuncType) -> bool {
        let (params, results) = self.signature();
        ty.params() == params && ty.results() == results
    }

    fn signature(self) -> (&'static [ValType], &'static [ValType]) {
        match self {
            AbiImport::InputLen => (&[], &[ValType::I32]),
            AbiImport::Read => (&[ValType::I32], &[ValType::I32]),
            AbiImport::Write => (&[ValType::I32], &[]),
        }
    }
}

/// A module that passed [`check_module`]: its ABI facts, for the lowering and the node.
#[derive(Debug, Clone)]
pub struct CheckedModule {
    pub info: ModuleInfo,
    /// The function imports, in index order (every one an ABI function of the right type).
    pub imports: Vec<AbiImport>,
    /// The function index of `main`.
    pub main: u32,
}

const PAGE: u64 = 1 << 16;

/// The one module check that upload, sandbox, prover and verifier share: the bytes validate
/// with [`allowed_features`]; imports are only the ABI functions, each with its ABI type;
/// `memory` is an exported memory and `main: [] -> []` an exported function; every active
/// data and element segment has a constant offset and fits its memory or table, so
/// instantiation cannot trap. A module this accepts instantiates in the sandbox.
pub fn check_module(bytes: &[u8]) -> Result<CheckedModule, VmError> {
    validate(bytes)?;
    let invalid =
        |e: wasmtime::wasmparser::BinaryReaderError| VmError::InvalidModule(e.to_string());
    let mut types: Vec<FuncType> = Vec::new();
    // Type of every function, imports first.
    let mut function_types: Vec<u32> = Vec::new();
    let mut imports = Vec::new();
    let mut import_names = Vec::new();
    let mut memory_pages: Vec<u64> = Vec::new();
    let mut table_sizes: Vec<u64> = Vec::new();
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut segments: Vec<(&'static str, u32, ConstExpr<'_>, u64)> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(invalid)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    let full = format!("{}.{}", import.module, import.name);
                    let abi = (import.module == IMPORT_MODULE)
                        .then(|| AbiImport::named(import.name))
                        .flatten()
                        .ok_or_else(|| VmError::UnsupportedImport {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                        })?;
                    let (params, results) = abi.signature();
                    let expected = signature(params, results);
                    let TypeRef::Func(index) = import.ty else {
                        return Err(VmError::AbiSignature {
                            name: full,
                            expected,
                            found: describe_type_ref(&import.ty),
                        });
                    };
                    let ty = &types[index as usize];
                    if !abi.has_type(ty) {
                        return Err(VmError::AbiSignature {
                            name: full,
                            expected,
                            found: describe(ty),
                        });
                    }
                    imports.push(abi);
                    import_names.push(full);
                    function_types.push(index);
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    function_types.push(ty.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    table_sizes.push(table.map_err(invalid)?.ty.initial);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    memory_pages.push(memory.map_err(invalid)?.initial);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(invalid)?;
                    if let DataKind::Active {
                        memory_index,
                        offset_expr,
                    } = data.kind
                    {
                        segments.push(("data", memory_index, offset_expr, data.data.len() as u64));
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader {
                    let element = element.map_err(invalid)?;
                    let items = match &element.items {
                        ElementItems::Functions(items) => items.count(),
                        ElementItems::Expressions(_, items) => items.count(),
                    };
                    if let ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = element.kind
                    {
                        segments.push((
                            "element",
                            table_index.unwrap_or(0),
                            offset_expr,
                            u64::from(items),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for (what, index, offset, len) in segments {
        let offset = constant_offset(&offset).ok_or_else(|| {
            VmError::Segment(format!(
                "an active {what} segment has a non-constant offset"
            ))
        })?;
        let capacity = if what == "data" {
            memory_pages[index as usize].saturating_mul(PAGE)
        } else {
            table_sizes[index as usize]
        };
        let unit = if what == "data" { "bytes" } else { "entries" };
        if offset + len > capacity {
            return Err(VmError::Segment(format!(
                "an active {what} segment writes {len} {unit} at offset {offset}, past the \
                 initial {capacity} {unit}"
            )));
        }
    }

    let mut memory = None;
    let mut main = None;
    for (name, kind, index) in &exports {
        match (name.as_str(), kind) {
            ("memory", ExternalKind::Memory) => memory = Some(memory_pages[*index as usize]),
            ("main", ExternalKind::Func) => {
                let ty = &types[function_types[*index as usize] as usize];
                if !ty.params().is_empty() || !ty.results().is_empty() {
                    return Err(VmError::AbiSignature {
                        name: "main".into(),
                        expected: signature(&[], &[]),
                        found: describe(ty),
                    });
                }
                if (*index as usize) < imports.len() {
                    return Err(VmError::AbiSignature {
                        name: "main".into(),
                        expected: "a function defined by the module".into(),
                        found: "an import".into(),
                    });
                }
                main = Some(*index);
            }
            (name @ ("memory" | "main"), kind) => {
                return Err(VmError::AbiSignature {
                    name: name.to_string(),
                    expected: if name == "memory" {
                        "memory".into()
                    } else {
                        signature(&[], &[])
                    },
                    found: describe_kind(*kind),
                });
            }
            _ => {}
        }
    }
    let memory_pages = memory.ok_or_else(|| VmError::MissingExport("memory".into()))?;
    let main = main.ok_or_else(|| VmError::MissingExport("main".into()))?;
    Ok(CheckedModule {
        info: ModuleInfo {
            id: ModuleId::of(bytes),
            size: bytes.len(),
            exports: exports.into_iter().map(|(name, _, _)| name).collect(),
            imports: import_names,
            memory_pages,
        },
        imports,
        main,
    })
}

/// Validates `bytes` with [`allowed_features`]. First it refuses a section that declares more
/// items than it has bytes: every item takes at least one byte, and the validator reserves
/// room for the declared count up front (a 200-byte module declaring a million imports made
/// it allocate 72 MB; found by `host/fuzz`'s `lower_module`).
pub fn validate(bytes: &[u8]) -> Result<(), VmError> {
    for payload in Parser::new(0).parse_all(bytes) {
        // A parse error is the validator's to report, below.
        let Ok(payload) = payload else { break };
        let (name, count, range) = match &payload {
            Payload::TypeSection(r) => ("type", r.count(), r.range()),
            Payload::ImportSection(r) => ("import", r.count(), r.range()),
            Payload::FunctionSection(r) => ("function", r.count(), r.range()),
            Payload::TableSection(r) => ("table", r.count(), r.range()),
            Payload::MemorySection(r) => ("memory", r.count(), r.range()),
            Payload::GlobalSection(r) => ("global", r.count(), r.range()),
            Payload::ExportSection(r) => ("export", r.count(), r.range()),
            Payload::ElementSection(r) => ("element", r.count(), r.range()),
            Payload::DataSection(r) => ("data", r.count(), r.range()),
            Payload::CodeSectionStart { count, range, .. } => ("code", *count, range.clone()),
            _ => continue,
        };
        if count as usize > range.len() {
            return Err(VmError::InvalidModule(format!(
                "the {name} section declares {count} items in {} bytes",
                range.len()
            )));
        }
    }
    Validator::new_with_features(allowed_features())
        .validate_all(bytes)
        .map(drop)
        .map_err(|e| VmError::InvalidModule(e.to_string()))
}

/// The value of a constant offset expression (`i32.const k`), read as unsigned.
fn constant_offset(expr: &ConstExpr<'_>) -> Option<u64> {
    let mut reader = expr.get_operators_reader();
    let value = match reader.read().ok()? {
        Operator::I32Const { value } => u64::from(value as u32),
        _ => return None,
    };
    matches!(reader.read().ok()?, Operator::End).then_some(value)
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
    signature(ty.params(), ty.results())
}

fn describe_type_ref(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => "func".into(),
        TypeRef::Table(_) => "table".into(),
        TypeRef::Memory(_) => "memory".into(),
        TypeRef::Global(_) => "global".into(),
        TypeRef::Tag(_) => "tag".into(),
    }
}

fn describe_kind(kind: ExternalKind) -> String {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "func",
        ExternalKind::Table => "table",
        ExternalKind::Memory => "memory",
        ExternalKind::Global => "global",
        ExternalKind::Tag => "tag",
    }
    .into()
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
