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

use std::collections::BTreeMap;

use blake2::{Blake2s256, Digest};
use wasmparser::{
    BlockType, ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FuncType, Operator,
    Parser, Payload, TypeRef, ValType, Validator,
};

use crate::VmError;

/// The module that guest imports must come from.
pub const IMPORT_MODULE: &str = "obelysk";

/// The Wasm features a module may use: WebAssembly 2.0 without SIMD (bulk memory, sign
/// extension, multi-value, mutable globals and reference types, which rustc enables by
/// default). The sandbox engine is configured with exactly this set. Floating point is part
/// of the set as far as the validator goes; [`check_module`] refuses it by name, since the
/// Obelysk VM proves integer code only.
pub fn allowed_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures;
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
}

/// The most entries a module's table may have, at instantiation or after `table.grow` (which
/// returns −1 past it). A module has at most one table.
pub const MAX_TABLE_ENTRIES: u64 = 100_000;

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
    let names = non_integer_constructs(bytes);
    if !names.is_empty() {
        return Err(VmError::NotInteger(names));
    }
    validate(bytes)?;
    let invalid = |e: wasmparser::BinaryReaderError| VmError::InvalidModule(e.to_string());
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
                    let initial = table.map_err(invalid)?.ty.initial;
                    if initial > MAX_TABLE_ENTRIES {
                        return Err(VmError::TableLimit(format!(
                            "a table of {initial} entries (at most {MAX_TABLE_ENTRIES})"
                        )));
                    }
                    table_sizes.push(initial);
                }
                if table_sizes.len() > 1 {
                    return Err(VmError::TableLimit(format!(
                        "{} tables (at most one)",
                        table_sizes.len()
                    )));
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

/// Every floating-point and SIMD construct in `bytes`, by name → occurrences: instructions
/// (`f64.sqrt`, `i32.trunc_f32_s`, `i32x4.add`), and `f32`/`f64`/`v128` parameters, results,
/// locals, globals, block results and `select`s. The bytes need not be valid (SIMD fails
/// validation): this reads what parses and leaves the errors to the validator.
pub fn non_integer_constructs(bytes: &[u8]) -> BTreeMap<String, usize> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |name: String, n: usize| {
        let count = names.entry(name).or_default();
        *count = count.saturating_add(n);
    };
    let non_integer = |ty: ValType| matches!(ty, ValType::F32 | ValType::F64 | ValType::V128);
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types().map_while(Result::ok) {
                    for &t in ty.params().iter().chain(ty.results()) {
                        if non_integer(t) {
                            add(format!("{t} parameter or result"), 1);
                        }
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.into_iter().map_while(Result::ok) {
                    if non_integer(global.ty.content_type) {
                        add(format!("{} global", global.ty.content_type), 1);
                    }
                    let init = global.init_expr.get_operators_reader();
                    for op in init.into_iter().map_while(Result::ok) {
                        let name = crate::lower::operator_name(&op);
                        if is_non_integer_operator(&name) {
                            add(name, 1);
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                if let Ok(locals) = body.get_locals_reader() {
                    for (n, t) in locals.into_iter().map_while(Result::ok) {
                        if non_integer(t) {
                            add(format!("{t} local"), n as usize);
                        }
                    }
                }
                let Ok(ops) = body.get_operators_reader() else {
                    continue;
                };
                for op in ops.into_iter().map_while(Result::ok) {
                    let block_type = match op {
                        Operator::Block { blockty }
                        | Operator::Loop { blockty }
                        | Operator::If { blockty } => Some(blockty),
                        _ => None,
                    };
                    match (op, block_type) {
                        (_, Some(BlockType::Type(t))) if non_integer(t) => {
                            add(format!("{t} block result"), 1)
                        }
                        (Operator::TypedSelect { ty }, _) if non_integer(ty) => {
                            add(format!("select of {ty}"), 1)
                        }
                        (op, _) => {
                            let name = crate::lower::operator_name(&op);
                            if is_non_integer_operator(&name) {
                                add(name, 1);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    names
}

/// Whether an operator, by its text name, computes with floats or vectors: its name mentions
/// `f32`/`f64` (`f64.add`, `i64.reinterpret_f64`) or a lane shape (`i8x16.add`), or is a
/// `v128` one.
fn is_non_integer_operator(name: &str) -> bool {
    let lanes = ["i8x16", "i16x8", "i32x4", "i64x2"];
    name.contains("f32")
        || name.contains("f64")
        || name.starts_with("v128")
        || lanes.iter().any(|l| name.starts_with(l))
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
