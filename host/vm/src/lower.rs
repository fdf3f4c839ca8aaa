//! The front end: validate a Wasm module and lower it to the Obelysk IR ([`crate::ir`]).
//!
//! The prover and the verifier both run this, so it is trusted code: it either produces the
//! exact program the module denotes or refuses the module. Anything outside the supported
//! instruction set is refused with the names of every unsupported instruction, never lowered
//! approximately.

use std::collections::BTreeMap;

use wasmparser::{BlockType, FuncType, Operator, Parser, Payload, TypeRef, ValType};

mod bulk;
mod i64;

use crate::VmError;
use crate::abi::{AbiImport, IMPORT_MODULE, check_module};
use crate::ir::{
    BinOp, Function, Instr, LoadOp, MAX_CODE_LEN, MAX_ENCODED_WORD, MAX_FRAME_SLOTS, MAX_GLOBALS,
    MAX_MEMORY_PAGES, MAX_TABLE_TARGETS, PAGE_BYTES, Pc, Program, Slot, StoreOp, UnOp,
};

/// Why a module cannot be lowered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    /// Not a valid module (or outside the allowed Wasm features).
    #[error("invalid module: {0}")]
    Invalid(String),
    /// The module uses instructions or constructs the VM does not support yet:
    /// name → number of occurrences.
    #[error("unsupported by the Obelysk VM: {}", name_list(.0))]
    Unsupported(BTreeMap<String, usize>),
    /// The module breaks the guest ABI.
    #[error("guest ABI: {0}")]
    Abi(String),
}

impl LowerError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LowerError::Invalid(_) => "invalid_module",
            LowerError::Unsupported(_) => "unsupported_instructions",
            LowerError::Abi(_) => "abi",
        }
    }
}

/// `names` as `name (×n), ...`, for error messages.
pub(crate) fn name_list(names: &BTreeMap<String, usize>) -> String {
    names
        .iter()
        .map(|(name, n)| format!("{name} (×{n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<VmError> for LowerError {
    fn from(e: VmError) -> Self {
        match e {
            VmError::InvalidModule(reason) => LowerError::Invalid(reason),
            VmError::NotInteger(names) => LowerError::Unsupported(names),
            other => LowerError::Abi(other.to_string()),
        }
    }
}

/// Checks `bytes` against the guest ABI ([`check_module`], the check the sandbox makes) and
/// lowers the module to a [`Program`]. Its entry is a stub that calls the exported `main` and
/// halts when it returns, so a call to `main` from inside the module returns like any call.
pub fn lower(bytes: &[u8]) -> Result<Program, LowerError> {
    let checked = check_module(bytes)?;
    let module = ModuleParts::parse(bytes)?;
    let main = (checked.main - module.imports.len() as u32) as usize;
    let lowered = lower_functions(&module)?;
    let mut unsupported = module.unsupported.clone();
    for names in lowered.unsupported.iter().flatten() {
        for (name, n) in names {
            *unsupported.entry(name.clone()).or_default() += n;
        }
    }
    if !unsupported.is_empty() {
        return Err(LowerError::Unsupported(unsupported));
    }
    let program = with_entry(
        lowered.code,
        lowered.functions,
        main,
        &[],
        &Initial {
            globals: module.initial_globals(),
            memory: module.memory,
            data: module.initial_data()?,
        },
    );
    check_encoding(&program)?;
    Ok(program)
}

/// What a module starts with besides its code: the mutable globals' values (index, value;
/// the others start at zero), the memory's size and limit, and its non-zero data bytes.
#[derive(Debug, Clone, Default)]
struct Initial {
    globals: Vec<(u32, u32)>,
    memory: Option<MemoryLimits>,
    data: Vec<(u32, u8)>,
}

/// A module's linear memory, as the VM runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Initial size in pages.
    pub initial: u32,
    /// The most pages `memory.grow` reaches: the declared maximum, capped at
    /// [`MAX_MEMORY_PAGES`].
    pub max: u32,
}

/// `code` and `functions` with an entry stub appended: it grows the memory from zero pages to
/// its initial size, sets each mutable global to its initial value, puts `args` in the frame
/// of function `callee`, calls it, writes its result (if any) and halts. So the initial size
/// and values are code, and the program id commits to them (and to the data bytes).
fn with_entry(
    mut code: Vec<Instr>,
    mut functions: Vec<Function>,
    callee: usize,
    args: &[u32],
    initial: &Initial,
) -> Program {
    let callee = &functions[callee];
    let entry = code.len() as Pc;
    if let Some(memory) = initial.memory.filter(|m| m.initial > 0) {
        code.push(Instr::Const {
            dst: 1,
            value: memory.initial,
        });
        code.push(Instr::MemoryGrow {
            slot: 1,
            max: memory.max,
        });
    }
    for &(global, value) in initial.globals.iter().filter(|(_, v)| *v != 0) {
        code.push(Instr::Const { dst: 1, value });
        code.push(Instr::GlobalSet { global, src: 1 });
    }
    for (i, &value) in args.iter().enumerate() {
        code.push(Instr::Const {
            dst: 1 + i as Slot,
            value,
        });
    }
    code.push(Instr::Call {
        frame: 1,
        target: callee.entry,
    });
    for slot in 1..=callee.results {
        code.push(Instr::Write { src: slot });
    }
    code.push(Instr::Halt);
    functions.push(Function {
        index: u32::MAX,
        entry,
        params: 0,
        results: 0,
        frame_size: 1 + args.len().max(1) as u32,
    });
    Program {
        code,
        main: functions.len() - 1,
        functions,
        data: initial.data.clone(),
    }
}

/// Refuses a program with an encoded word of 2^20 or more (or too long to encode): each
/// word must be one field element in the ROM, with no wrap-around.
fn check_encoding(program: &Program) -> Result<(), LowerError> {
    check_code_len(program.code.len())?;
    for (pc, instr) in program.code.iter().enumerate() {
        if instr.encode().iter().any(|&word| word > MAX_ENCODED_WORD) {
            return Err(LowerError::Invalid(format!(
                "instruction @{pc} ({instr}) does not encode in 20-bit words"
            )));
        }
    }
    Ok(())
}

/// A module lowered function by function, for running individual exports (the spec-test
/// conformance suite). A function that uses an unsupported instruction, or calls one that
/// does, is not lowered: its code is a single `Trap` and [`Library::unsupported`] says why.
/// Never used to prove anything: [`lower`] refuses such modules outright.
#[derive(Debug, Clone)]
pub struct Library {
    pub code: Vec<Instr>,
    /// Defined functions, in module order.
    pub functions: Vec<Function>,
    /// Exported functions: name → index into `functions`.
    pub exports: BTreeMap<String, usize>,
    /// Per defined function: `None` when it and everything it calls is lowered, else the
    /// unsupported instructions it (transitively) needs.
    pub unsupported: Vec<Option<BTreeMap<String, usize>>>,
    /// The globals, memory and data a fresh instance starts with.
    initial: Initial,
}

impl Library {
    /// A program that initialises the globals, calls `function` with `args` and writes its
    /// result (if any), then halts: how a single exported call (a spec-test `invoke`, say) is
    /// proven like a `main`.
    pub fn entry_program(&self, function: usize, args: &[u32]) -> Program {
        with_entry(
            self.code.clone(),
            self.functions.clone(),
            function,
            args,
            &self.initial,
        )
    }

    /// The globals and memory of a freshly instantiated module, for
    /// [`crate::interp::invoke`].
    pub fn instance(&self) -> crate::interp::Instance {
        let mut memory = crate::interp::Memory::with_data(&self.initial.data);
        memory.pages = self.initial.memory.map_or(0, |m| m.initial);
        crate::interp::Instance {
            globals: self.initial.globals.iter().copied().collect(),
            memory,
        }
    }
}

/// Validates `bytes` and lowers every function that can be lowered (see [`Library`]).
pub fn lower_library(bytes: &[u8]) -> Result<Library, LowerError> {
    let module = ModuleParts::parse(bytes)?;
    if let Some(n) = module.unsupported.get("start function") {
        return Err(LowerError::Unsupported(BTreeMap::from([(
            "start function".to_string(),
            *n,
        )])));
    }
    let lowered = lower_functions(&module)?;
    // A function is supported only if everything it can call is.
    let mut unsupported = lowered.unsupported.clone();
    loop {
        let mut changed = false;
        for f in 0..unsupported.len() {
            if unsupported[f].is_some() {
                continue;
            }
            if let Some(bad) = lowered.callees[f]
                .iter()
                .find(|&&c| unsupported[c].is_some())
            {
                unsupported[f] = unsupported[*bad].clone();
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let imports = module.imports.len() as u32;
    let exports = module
        .exports
        .iter()
        .filter_map(|(name, &index)| Some((name.clone(), index.checked_sub(imports)? as usize)))
        .collect();
    Ok(Library {
        code: lowered.code,
        functions: lowered.functions,
        exports,
        unsupported,
        initial: Initial {
            globals: module.initial_globals(),
            memory: module.memory,
            data: module.initial_data()?,
        },
    })
}

/// The functions of a module, lowered one by one.
struct Lowered {
    code: Vec<Instr>,
    functions: Vec<Function>,
    /// Per function: the unsupported instructions it uses itself (its code is then a `Trap`).
    unsupported: Vec<Option<BTreeMap<String, usize>>>,
    /// Per function: the defined functions it calls.
    callees: Vec<Vec<usize>>,
}

fn lower_functions(module: &ModuleParts<'_>) -> Result<Lowered, LowerError> {
    let imports = module.imports.len() as u32;
    let mut lowering = Lowering {
        code: Vec::new(),
        unsupported: BTreeMap::new(),
        call_patches: Vec::new(),
        divmod_calls: Vec::new(),
    };
    let mut out = Lowered {
        code: Vec::new(),
        functions: Vec::new(),
        unsupported: Vec::new(),
        callees: Vec::new(),
    };
    for (i, body) in module.bodies.iter().enumerate() {
        let index = imports + i as u32;
        let ty = module.func_type(index).clone();
        let patches_before = lowering.call_patches.len();
        let divmod_before = lowering.divmod_calls.len();
        let function = lowering.function(module, index, &ty, body)?;
        let unsupported = std::mem::take(&mut lowering.unsupported);
        if unsupported.is_empty() {
            out.callees.push(
                lowering.call_patches[patches_before..]
                    .iter()
                    .map(|&(_, c)| (c - imports) as usize)
                    .collect(),
            );
            out.unsupported.push(None);
        } else {
            lowering.code.truncate(function.entry as usize);
            lowering.code.push(Instr::Trap);
            lowering.call_patches.truncate(patches_before);
            lowering.divmod_calls.truncate(divmod_before);
            out.callees.push(Vec::new());
            out.unsupported.push(Some(unsupported));
        }
        if function.frame_size > MAX_FRAME_SLOTS {
            return Err(beyond_limit(frame_limit()));
        }
        out.functions.push(function);
    }
    lowering.emit_divmod();
    check_code_len(lowering.code.len())?;
    for &(at, callee) in &lowering.call_patches {
        let target = out.functions[(callee - imports) as usize].entry;
        if let Instr::Call { target: t, .. } = &mut lowering.code[at] {
            *t = target;
        }
    }
    out.code = lowering.code;
    Ok(out)
}

/// A program past a VM limit, refused as one unsupported construct named `what`.
fn beyond_limit(what: String) -> LowerError {
    LowerError::Unsupported(BTreeMap::from([(what, 1)]))
}

fn frame_limit() -> String {
    format!("a frame of more than {MAX_FRAME_SLOTS} slots")
}

/// Refuses code longer than [`MAX_CODE_LEN`].
fn check_code_len(len: usize) -> Result<(), LowerError> {
    if len > MAX_CODE_LEN {
        return Err(beyond_limit(format!(
            "more than {MAX_CODE_LEN} instructions"
        )));
    }
    Ok(())
}

/// The functions of an element segment's items (`None` for `ref.null`).
fn element_functions(items: &wasmparser::ElementItems<'_>) -> Result<Vec<Option<u32>>, String> {
    use wasmparser::ElementItems;
    match items {
        ElementItems::Functions(reader) => reader
            .clone()
            .into_iter()
            .map(|f| f.map(Some).map_err(|e| e.to_string()))
            .collect(),
        ElementItems::Expressions(_, reader) => reader
            .clone()
            .into_iter()
            .map(|expr| {
                let expr = expr.map_err(|e| e.to_string())?;
                let mut ops = expr.get_operators_reader();
                match (ops.read(), ops.read()) {
                    (Ok(Operator::RefFunc { function_index }), Ok(Operator::End)) => {
                        Ok(Some(function_index))
                    }
                    (Ok(Operator::RefNull { .. }), Ok(Operator::End)) => Ok(None),
                    _ => Err("an element other than ref.func or ref.null".into()),
                }
            })
            .collect(),
    }
}

/// What lowering needs from the module's sections.
struct ModuleParts<'a> {
    types: Vec<FuncType>,
    /// Function imports, in index order.
    imports: Vec<AbiImport>,
    /// Type index of each defined function.
    functions: Vec<u32>,
    bodies: Vec<wasmparser::FunctionBody<'a>>,
    /// Exported functions: name → function index.
    exports: BTreeMap<String, u32>,
    /// Every global, in index order.
    globals: Vec<Global>,
    memory: Option<MemoryLimits>,
    /// Active data segments: offset and bytes.
    data: Vec<(u32, &'a [u8])>,
    /// Every data segment by index, for `memory.init` and `data.drop`.
    segments: Vec<Segment<'a>>,
    /// Each table's entries after the active element segments: a function index or null.
    /// Nothing the VM lowers changes a table (`table.set` and the other table instructions
    /// are refused), so `call_indirect` dispatches on these contents, which are code.
    tables: Vec<Vec<Option<u32>>>,
    /// Module-level constructs the VM does not support yet.
    unsupported: BTreeMap<String, usize>,
}

/// A data segment as `memory.init` sees it.
struct Segment<'a> {
    /// A passive segment's bytes and the GLOBAL cell of its "dropped" flag (0 until
    /// `data.drop`, then 1); `None` for an active segment, which reads as empty (it is
    /// dropped at instantiation).
    passive: Option<(&'a [u8], u32)>,
}

/// A module's global.
struct Global {
    ty: ValType,
    mutable: bool,
    /// The initial value, when it is an `i32.const` or `i64.const`.
    init: Option<u64>,
    /// Its first cell in the GLOBAL space (an i64 has two, low word first).
    cell: u32,
}

impl<'a> ModuleParts<'a> {
    /// Validates `bytes` (the allowed Wasm features) and reads the sections lowering needs.
    fn parse(bytes: &'a [u8]) -> Result<Self, LowerError> {
        crate::abi::validate(bytes)?;
        let invalid = |e: wasmparser::BinaryReaderError| LowerError::Invalid(e.to_string());
        let mut parts = ModuleParts {
            types: Vec::new(),
            imports: Vec::new(),
            functions: Vec::new(),
            bodies: Vec::new(),
            exports: BTreeMap::new(),
            globals: Vec::new(),
            memory: None,
            data: Vec::new(),
            segments: Vec::new(),
            tables: Vec::new(),
            unsupported: BTreeMap::new(),
        };
        let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
        // GLOBAL cells allocated so far.
        let mut cells: u32 = 0;
        // Passive data segments: index and bytes.
        let mut passive: Vec<(usize, &'a [u8])> = Vec::new();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(invalid)? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        parts.types.push(ty.map_err(invalid)?);
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.map_err(invalid)?;
                        let abi = match (import.module, import.ty) {
                            (IMPORT_MODULE, TypeRef::Func(ty)) => AbiImport::named(import.name)
                                .filter(|abi| abi.has_type(&parts.types[ty as usize])),
                            _ => None,
                        };
                        // Lowering relies on each import's stack effect: a mistyped one
                        // would lower to the wrong slots.
                        let abi = abi.ok_or_else(|| {
                            LowerError::Abi(format!(
                                "unsupported import `{}.{}` (or not of its ABI type)",
                                import.module, import.name
                            ))
                        })?;
                        parts.imports.push(abi);
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        parts.functions.push(ty.map_err(invalid)?);
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(invalid)?;
                        if export.kind == wasmparser::ExternalKind::Func {
                            parts.exports.insert(export.name.to_string(), export.index);
                        }
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        let global = global.map_err(invalid)?;
                        let mut ops = global.init_expr.get_operators_reader();
                        let init = match (ops.read(), ops.read()) {
                            (Ok(Operator::I32Const { value }), Ok(Operator::End)) => {
                                Some(u64::from(value as u32))
                            }
                            (Ok(Operator::I64Const { value }), Ok(Operator::End)) => {
                                Some(value as u64)
                            }
                            _ => None,
                        };
                        let ty = global.ty.content_type;
                        parts.globals.push(Global {
                            ty,
                            mutable: global.ty.mutable,
                            init,
                            cell: cells,
                        });
                        cells = cells.saturating_add(width(ty).unwrap_or(1));
                    }
                    if cells > MAX_GLOBALS {
                        *unsupported
                            .entry(format!("more than {MAX_GLOBALS} global words"))
                            .or_default() += 1;
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        let memory = memory.map_err(invalid)?;
                        if memory.memory64 || memory.shared || memory.page_size_log2.is_some() {
                            *unsupported
                                .entry("a 64-bit, shared or custom-page memory".into())
                                .or_default() += 1;
                        } else if memory.initial > u64::from(MAX_MEMORY_PAGES) {
                            *unsupported
                                .entry(format!("a memory of more than {MAX_MEMORY_PAGES} pages"))
                                .or_default() += 1;
                        } else {
                            let cap = u64::from(MAX_MEMORY_PAGES);
                            parts.memory = Some(MemoryLimits {
                                initial: memory.initial as u32,
                                max: memory.maximum.unwrap_or(cap).min(cap) as u32,
                            });
                        }
                    }
                }
                Payload::DataSection(reader) => {
                    for data in reader {
                        let data = data.map_err(invalid)?;
                        let wasmparser::DataKind::Active { offset_expr, .. } = data.kind else {
                            // A passive segment's flag comes after every global's cells.
                            passive.push((parts.segments.len(), data.data));
                            parts.segments.push(Segment { passive: None });
                            continue;
                        };
                        parts.segments.push(Segment { passive: None });
                        let mut ops = offset_expr.get_operators_reader();
                        match (ops.read(), ops.read()) {
                            (Ok(Operator::I32Const { value }), Ok(Operator::End)) => {
                                parts.data.push((value as u32, data.data));
                            }
                            _ => {
                                *unsupported
                                    .entry("a data offset other than i32.const".into())
                                    .or_default() += 1
                            }
                        }
                    }
                }
                Payload::StartSection { .. } => {
                    *unsupported.entry("start function".into()).or_default() += 1
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        let table = table.map_err(invalid)?;
                        let ty = table.ty;
                        let null_init = matches!(table.init, wasmparser::TableInit::RefNull);
                        if ty.table64 || ty.shared || !ty.element_type.is_func_ref() || !null_init {
                            *unsupported
                                .entry("a table other than funcref with null entries".into())
                                .or_default() += 1;
                        }
                        if ty.initial > u64::from(MAX_TABLE_TARGETS - 1) {
                            *unsupported
                                .entry(format!(
                                    "a table of more than {} entries",
                                    MAX_TABLE_TARGETS - 1
                                ))
                                .or_default() += 1;
                            parts.tables.push(Vec::new());
                        } else {
                            parts.tables.push(vec![None; ty.initial as usize]);
                        }
                    }
                }
                Payload::ElementSection(reader) => {
                    for element in reader {
                        let element = element.map_err(invalid)?;
                        let wasmparser::ElementKind::Active {
                            table_index,
                            offset_expr,
                        } = element.kind
                        else {
                            // Passive and declared segments only feed table.init and
                            // ref.func, which are refused as instructions.
                            continue;
                        };
                        let mut ops = offset_expr.get_operators_reader();
                        let offset = match (ops.read(), ops.read()) {
                            (Ok(Operator::I32Const { value }), Ok(Operator::End)) => value as u32,
                            _ => {
                                *unsupported
                                    .entry("an element offset other than i32.const".into())
                                    .or_default() += 1;
                                continue;
                            }
                        };
                        let functions = element_functions(&element.items)
                            .map_err(|e| LowerError::Invalid(format!("element segment: {e}")))?;
                        let Some(table) = parts.tables.get_mut(table_index.unwrap_or(0) as usize)
                        else {
                            return Err(LowerError::Invalid("element segment of no table".into()));
                        };
                        let end = u64::from(offset) + functions.len() as u64;
                        if end > table.len() as u64 {
                            return Err(LowerError::Invalid(format!(
                                "element segment at {offset} of {} entries is out of bounds \
                                 of a table of {}",
                                functions.len(),
                                table.len()
                            )));
                        }
                        for (i, f) in functions.into_iter().enumerate() {
                            table[offset as usize + i] = f;
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => parts.bodies.push(body),
                _ => {}
            }
        }
        for (index, bytes) in passive {
            parts.segments[index].passive = Some((bytes, cells));
            cells = cells.saturating_add(1);
        }
        if cells > MAX_GLOBALS {
            *unsupported
                .entry(format!(
                    "more than {MAX_GLOBALS} global words and passive data segments"
                ))
                .or_default() += 1;
        }
        unsupported.retain(|_, n| *n > 0);
        parts.unsupported = unsupported;
        Ok(parts)
    }

    /// The mutable globals' initial words by GLOBAL cell (cell, value).
    fn initial_globals(&self) -> Vec<(u32, u32)> {
        let mut words = Vec::new();
        for g in self.globals.iter().filter(|g| g.mutable) {
            let (Some(init), Ok(w)) = (g.init, width(g.ty)) else {
                continue;
            };
            for i in 0..w {
                words.push((g.cell + i, (init >> (32 * i)) as u32));
            }
        }
        words
    }

    /// The initial memory's non-zero bytes, by address (later segments overwrite earlier
    /// ones). A segment past the initial size fails instantiation, so it is refused.
    fn initial_data(&self) -> Result<Vec<(u32, u8)>, LowerError> {
        let size = u64::from(self.memory.map_or(0, |m| m.initial)) * u64::from(PAGE_BYTES);
        let mut bytes = BTreeMap::new();
        for &(offset, data) in &self.data {
            if u64::from(offset) + data.len() as u64 > size {
                return Err(LowerError::Invalid(format!(
                    "data segment at {offset} of {} bytes is out of bounds of a {size}-byte \
                     memory",
                    data.len()
                )));
            }
            for (i, &byte) in data.iter().enumerate() {
                bytes.insert(offset + i as u32, byte);
            }
        }
        Ok(bytes.into_iter().filter(|&(_, b)| b != 0).collect())
    }

    /// Global `index`, if the VM supports it: an i32 or i64 with a constant initial value.
    fn global(&self, index: u32) -> Result<&Global, Refusal> {
        let global = &self.globals[index as usize];
        let w = width(global.ty).map_err(|_| format!("{} global", global.ty))?;
        if global.init.is_none() {
            return Err(Refusal::Unsupported(
                "a global initialised by an expression other than a constant".into(),
            ));
        }
        if global.cell + w > MAX_GLOBALS {
            return Err(Refusal::Unsupported(format!(
                "more than {MAX_GLOBALS} global words"
            )));
        }
        Ok(global)
    }

    fn func_type(&self, index: u32) -> &FuncType {
        let type_index = match index.checked_sub(self.imports.len() as u32) {
            Some(defined) => self.functions[defined as usize],
            None => unreachable!("imports are lowered to ABI instructions"),
        };
        &self.types[type_index as usize]
    }
}

/// Lowering state shared by all functions of a module.
struct Lowering {
    code: Vec<Instr>,
    unsupported: BTreeMap<String, usize>,
    /// `Call` instructions whose target is a function not lowered yet: (pc, function index).
    call_patches: Vec<(usize, u32)>,
    /// `Call` instructions to the u64 division routine (appended after the functions).
    divmod_calls: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Function,
    Block,
    Loop,
    If,
}

/// A structured-control frame during lowering.
struct Block {
    kind: BlockKind,
    /// Operand stack height (in slots) at entry, below its parameters: its results land
    /// here, and so do a loop's parameters when it is branched to.
    height: Slot,
    /// Values on the operand stack at entry, below its parameters.
    depth: usize,
    /// Slots of its parameters and of its results.
    params: u32,
    results: u32,
    /// The widths of its parameters (an `else` pushes them again) and of its results
    /// (pushed at its end).
    param_widths: Vec<u32>,
    result_widths: Vec<u32>,
    /// Loop head, the target of branches to a loop.
    head: Pc,
    /// Forward jumps to patch with the end of the block.
    exits: Vec<usize>,
    /// The `if`'s jump to its `else` (or end), while unpatched.
    else_jump: Option<usize>,
}

impl Block {
    /// Slots a branch to this block carries: a loop's parameters, another block's results.
    fn label_slots(&self) -> u32 {
        if self.kind == BlockKind::Loop {
            self.params
        } else {
            self.results
        }
    }
}

/// A value on the operand stack during lowering: its first slot, its width in slots (1 for
/// an i32, 2 for an i64, low word first) and its value when it was pushed by a constant and
/// not changed since (shifts by a constant amount lower to fewer instructions).
///
/// Two fields save copies (see [`Lowering::materialize`]): a `local.get` emits nothing and
/// leaves a value whose words still live in the local (`local`), so the instruction that
/// consumes it reads the local directly; and a value written by the last instruction
/// emitted (`producer`) can have that instruction write a local instead of its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Value {
    slot: Slot,
    width: u32,
    known: Option<u64>,
    /// The value is not in its slot yet: it is the local whose first slot this is, unchanged
    /// since its `local.get`.
    local: Option<Slot>,
    /// The instruction (an index into the code) that wrote the value into its slot.
    producer: Option<usize>,
}

impl Value {
    /// The slot holding the value's first word now (its local's, while it is pending).
    fn source(&self) -> Slot {
        self.local.unwrap_or(self.slot)
    }
}

/// Per-function lowering state.
struct FunctionState {
    sp: Slot,
    max_sp: Slot,
    /// The operand stack's values (their slots end at `sp`).
    values: Vec<Value>,
    /// Each local's first slot and width.
    locals: Vec<(Slot, u32)>,
    blocks: Vec<Block>,
    /// The code being read is unreachable (after `br`, `return`, `unreachable`).
    dead: bool,
    /// Blocks opened inside unreachable code, still to be closed.
    dead_depth: u32,
    /// An unsupported instruction was met: only collect names from here on.
    poisoned: bool,
}

/// Why an operator was not lowered.
enum Refusal {
    /// Outside the supported set (named, collected with the others).
    Unsupported(String),
    /// The lowering's own bookkeeping went wrong (a validated module never gets here).
    Invalid(String),
}

impl From<String> for Refusal {
    fn from(name: String) -> Self {
        Refusal::Unsupported(name)
    }
}

fn underflow() -> Refusal {
    Refusal::Invalid("operand stack underflow while lowering".into())
}

/// Slots of a value of type `ty`: i32 is one, i64 two (low word first).
fn width(ty: ValType) -> Result<u32, String> {
    match ty {
        ValType::I32 => Ok(1),
        ValType::I64 => Ok(2),
        other => Err(format!("{other} value")),
    }
}

/// The widths of `types`.
fn widths(types: &[ValType]) -> Result<Vec<u32>, String> {
    types.iter().map(|&ty| width(ty)).collect()
}

impl FunctionState {
    /// Pushes a value `width` slots wide; returns its first slot.
    fn push(&mut self, width: u32) -> Result<Slot, Refusal> {
        let slot = self.sp;
        self.reserve(width)?;
        self.sp += width;
        self.values.push(Value {
            slot,
            width,
            known: None,
            local: None,
            producer: None,
        });
        Ok(slot)
    }

    /// Pushes a constant (kept for the lowering of shifts by a known amount).
    fn push_known(&mut self, width: u32, value: u64) -> Result<Slot, Refusal> {
        let slot = self.push(width)?;
        self.values.last_mut().expect("pushed").known = Some(value);
        Ok(slot)
    }

    /// Makes sure the `n` slots from `sp` are in the frame (scratch space, or a push).
    fn reserve(&mut self, n: u32) -> Result<(), Refusal> {
        let end = self
            .sp
            .checked_add(n)
            .filter(|&end| end <= MAX_FRAME_SLOTS)
            .ok_or_else(|| Refusal::Unsupported(frame_limit()))?;
        self.max_sp = self.max_sp.max(end);
        Ok(())
    }

    /// The first of `n` scratch slots above the operand stack (free until the next push).
    fn scratch(&mut self, n: u32) -> Result<Slot, Refusal> {
        self.reserve(n)?;
        Ok(self.sp)
    }

    fn pop(&mut self) -> Result<Value, Refusal> {
        let value = self.values.pop().ok_or_else(underflow)?;
        self.sp = value.slot;
        Ok(value)
    }

    /// Pops the top value and pushes a value of `width` slots in its place (an in-place
    /// operation whose result type differs from its operand's); returns its slot.
    fn replace(&mut self, width: u32) -> Result<Slot, Refusal> {
        let slot = self.pop()?.slot;
        let pushed = self.push(width)?;
        debug_assert_eq!(slot, pushed);
        Ok(slot)
    }

    /// Local `index`'s first slot and width.
    fn local(&self, index: u32) -> Result<(Slot, u32), Refusal> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| Refusal::Invalid(format!("local {index} out of range")))
    }

    /// The value `depth` values below the top (0 = the top).
    fn peek(&self, depth: usize) -> Result<Value, Refusal> {
        let n = self.values.len();
        n.checked_sub(depth + 1)
            .map(|i| self.values[i])
            .ok_or_else(underflow)
    }

    /// Drops the operand stack to `depth` values at slot height `height`.
    fn truncate(&mut self, depth: usize, height: Slot) {
        self.values.truncate(depth);
        self.sp = height;
    }
}

/// A block type's parameter and result widths.
fn block_type(module: &ModuleParts<'_>, ty: &BlockType) -> Result<(Vec<u32>, Vec<u32>), String> {
    match *ty {
        BlockType::Empty => Ok((Vec::new(), Vec::new())),
        BlockType::Type(vt) => Ok((Vec::new(), vec![width(vt)?])),
        BlockType::FuncType(index) => {
            let ty = &module.types[index as usize];
            Ok((widths(ty.params())?, widths(ty.results())?))
        }
    }
}

impl Lowering {
    fn pc(&self) -> Pc {
        self.code.len() as Pc
    }

    fn emit(&mut self, instr: Instr) -> usize {
        self.code.push(instr);
        self.code.len() - 1
    }

    /// Emits the copies that put the pending value `index` (a `local.get` not yet copied,
    /// [`Value::local`]) into its slot. Every operator that reads values by slot, branches,
    /// calls or opens a block runs after [`Lowering::materialize_all`]; only the operators of
    /// [`reads_pending`] read a pending value where it is.
    fn materialize(&mut self, s: &mut FunctionState, index: usize) {
        let value = &mut s.values[index];
        if let Some(local) = value.local.take() {
            let (slot, width) = (value.slot, value.width);
            self.copy(slot, local, width);
        }
    }

    /// Materializes the values among the first `below` for which `pick` holds.
    fn materialize_where(
        &mut self,
        s: &mut FunctionState,
        below: usize,
        pick: impl Fn(&Value) -> bool,
    ) {
        for index in 0..below {
            if pick(&s.values[index]) {
                self.materialize(s, index);
            }
        }
    }

    /// Materializes the values in the top `slots` slots: what a branch carries. A branch
    /// drops the other values of its block, and the values below the innermost block were
    /// materialized when it opened, so they need no copy.
    fn materialize_carried(&mut self, s: &mut FunctionState, slots: u32) {
        let from = s.sp.saturating_sub(slots);
        self.materialize_where(s, s.values.len(), |value| value.slot >= from);
    }

    /// Materializes every pending value.
    fn materialize_all(&mut self, s: &mut FunctionState) {
        self.materialize_where(s, s.values.len(), |_| true);
    }

    /// Materializes the pending values below the top `skip` that read `local` (before it is
    /// written).
    fn materialize_readers(
        &mut self,
        s: &mut FunctionState,
        (local, width): (Slot, u32),
        skip: usize,
    ) {
        let below = s.values.len().saturating_sub(skip);
        self.materialize_where(s, below, |value| {
            value
                .local
                .is_some_and(|src| src < local + width && local < src + value.width)
        });
    }

    /// Pops a one-slot operand for the instruction about to be emitted: where it is now.
    fn operand(&mut self, s: &mut FunctionState) -> Result<Slot, Refusal> {
        Ok(s.pop()?.source())
    }

    /// Emits `instr`, which writes the value just pushed, and records it as its producer.
    fn produce(&mut self, s: &mut FunctionState, instr: Instr) {
        let at = self.emit(instr);
        s.values.last_mut().expect("pushed").producer = Some(at);
    }

    /// When the top value is a constant whose `Const` is the last instruction, removes both
    /// and returns the constant (for an immediate operand).
    fn take_constant(&mut self, s: &mut FunctionState) -> Option<u32> {
        let top = *s.values.last()?;
        let last = self.code.len().checked_sub(1)?;
        match self.code.last() {
            Some(&Instr::Const { dst, value })
                if top.producer == Some(last) && dst == top.slot && top.local.is_none() =>
            {
                self.code.pop();
                s.pop().ok()?;
                Some(value)
            }
            _ => None,
        }
    }

    /// Makes the last instruction, when it produced `value` (one slot), write `dst` instead
    /// of the value's slot; returns whether it did.
    fn retarget(&mut self, value: &Value, dst: Slot) -> bool {
        if value.width != 1 || value.producer != self.code.len().checked_sub(1) {
            return false;
        }
        match self.code.last_mut() {
            Some(
                Instr::Const { dst: d, .. }
                | Instr::Binary { dst: d, .. }
                | Instr::BinaryImm { dst: d, .. }
                | Instr::Unary { dst: d, .. }
                | Instr::Eqz { dst: d, .. }
                | Instr::Load { dst: d, .. },
            ) if *d == value.slot => {
                *d = dst;
                true
            }
            _ => false,
        }
    }

    fn unsupported(&mut self, name: impl Into<String>) {
        *self.unsupported.entry(name.into()).or_default() += 1;
    }

    /// Sets the target of the jump at `at` to `target`.
    fn patch(&mut self, at: usize, to: Pc) {
        match &mut self.code[at] {
            Instr::Jump { target }
            | Instr::JumpIf { target, .. }
            | Instr::JumpIfZero { target, .. } => *target = to,
            other => unreachable!("patching a non-jump {other}"),
        }
    }

    /// The width of a parameter, result or local of type `ty`; an unsupported type is
    /// named (`"{ty} {what}"`) and poisons the function.
    fn value_width(&mut self, ty: ValType, what: &str, poisoned: &mut bool) -> u32 {
        width(ty).unwrap_or_else(|_| {
            self.unsupported(format!("{ty} {what}"));
            *poisoned = true;
            1
        })
    }

    fn function(
        &mut self,
        module: &ModuleParts<'_>,
        index: u32,
        ty: &FuncType,
        body: &wasmparser::FunctionBody<'_>,
    ) -> Result<Function, LowerError> {
        let invalid = |e: wasmparser::BinaryReaderError| LowerError::Invalid(e.to_string());
        let entry = self.pc();
        let mut poisoned = false;
        // Parameters, then locals, each one or two slots.
        let mut locals = Vec::new();
        let mut next: Slot = 0;
        for &vt in ty.params() {
            let w = self.value_width(vt, "value", &mut poisoned);
            locals.push((next, w));
            next += w;
        }
        let params = next;
        let mut result_widths = Vec::new();
        for &vt in ty.results() {
            result_widths.push(self.value_width(vt, "value", &mut poisoned));
        }
        // Locals start at zero: frames are reused, so say so explicitly.
        for local in body.get_locals_reader().map_err(invalid)? {
            let (count, vt) = local.map_err(invalid)?;
            let w = self.value_width(vt, "local", &mut poisoned);
            for _ in 0..count {
                if next > MAX_FRAME_SLOTS {
                    return Err(beyond_limit(frame_limit()));
                }
                for i in 0..w {
                    self.emit(Instr::Const {
                        dst: next + i,
                        value: 0,
                    });
                }
                locals.push((next, w));
                next += w;
            }
        }

        // The operand stack starts at slot 1 or above, so a callee's frame (which begins at
        // its first argument) always lies strictly above its caller's: FRAME keys never collide.
        let stack_base = next.max(1);
        let results = result_widths.iter().sum();
        let mut state = FunctionState {
            sp: stack_base,
            max_sp: stack_base,
            values: Vec::new(),
            locals,
            blocks: vec![Block {
                kind: BlockKind::Function,
                height: stack_base,
                depth: 0,
                params: 0,
                param_widths: Vec::new(),
                results,
                result_widths,
                head: entry,
                exits: Vec::new(),
                else_jump: None,
            }],
            dead: false,
            dead_depth: 0,
            poisoned,
        };
        let mut reader = body.get_operators_reader().map_err(invalid)?;
        while !reader.eof() {
            let op = reader.read().map_err(invalid)?;
            if state.poisoned {
                if !is_supported(&op) {
                    self.unsupported(operator_name(&op));
                }
                continue;
            }
            match self.operator(module, &mut state, &op) {
                Ok(()) => {}
                Err(Refusal::Unsupported(name)) => {
                    self.unsupported(name);
                    state.poisoned = true;
                }
                Err(Refusal::Invalid(reason)) => return Err(LowerError::Invalid(reason)),
            }
        }
        Ok(Function {
            index,
            entry,
            params,
            results,
            frame_size: state.max_sp,
        })
    }

    /// Opens a block whose parameters (`params` widths) are on top of the stack.
    fn open(
        &mut self,
        s: &mut FunctionState,
        kind: BlockKind,
        params: &[u32],
        result_widths: Vec<u32>,
        else_jump: Option<usize>,
    ) -> Result<(), Refusal> {
        let depth = s
            .values
            .len()
            .checked_sub(params.len())
            .ok_or_else(underflow)?;
        let height = s.values.get(depth).map_or(s.sp, |v| v.slot);
        // A loop's parameters are replaced by each branch back to it.
        for value in &mut s.values[depth..] {
            value.known = None;
        }
        // Code after the block's start is a branch target: no instruction before it may be
        // changed for a value read after it (`Lowering::retarget`).
        for value in &mut s.values {
            value.producer = None;
        }
        s.blocks.push(Block {
            kind,
            height,
            depth,
            params: params.iter().sum(),
            param_widths: params.to_vec(),
            results: result_widths.iter().sum(),
            result_widths,
            head: self.pc(),
            exits: Vec::new(),
            else_jump,
        });
        Ok(())
    }

    /// Whether a branch to `target` must move the values it carries (they are not yet where
    /// the target expects them).
    fn moves_values(s: &FunctionState, target: &Block) -> bool {
        let n = target.label_slots();
        n > 0 && s.sp.checked_sub(n) != Some(target.height)
    }

    /// Lowers one operator.
    fn operator(
        &mut self,
        module: &ModuleParts<'_>,
        s: &mut FunctionState,
        op: &Operator<'_>,
    ) -> Result<(), Refusal> {
        if s.dead {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    s.dead_depth += 1;
                    return Ok(());
                }
                Operator::Else | Operator::End if s.dead_depth > 0 => {
                    if matches!(op, Operator::End) {
                        s.dead_depth -= 1;
                    }
                    return Ok(());
                }
                Operator::Else | Operator::End => {}
                _ => return Ok(()),
            }
        }
        if !reads_pending(op) {
            self.materialize_all(s);
        }
        if self.i64_operator(s, op)? {
            return Ok(());
        }
        match *op {
            Operator::Nop => {}
            Operator::Unreachable => {
                self.emit(Instr::Trap);
                s.dead = true;
            }
            Operator::Block { blockty } | Operator::Loop { blockty } => {
                let kind = if matches!(op, Operator::Loop { .. }) {
                    BlockKind::Loop
                } else {
                    BlockKind::Block
                };
                let (params, results) = block_type(module, &blockty)?;
                self.open(s, kind, &params, results, None)?;
            }
            Operator::If { blockty } => {
                let (params, results) = block_type(module, &blockty)?;
                let cond = self.operand(s)?;
                self.materialize_all(s);
                let jump = self.emit(Instr::JumpIfZero { cond, target: 0 });
                self.open(s, BlockKind::If, &params, results, Some(jump))?;
            }
            Operator::Else => {
                let dead = s.dead;
                let block = s.blocks.last_mut().expect("validated: else inside if");
                if !dead {
                    let exit = self.code.len();
                    self.code.push(Instr::Jump { target: 0 });
                    block.exits.push(exit);
                }
                let else_jump = block.else_jump.take().expect("validated: one else per if");
                let (depth, height) = (block.depth, block.height);
                let params = block.param_widths.clone();
                // The else arm starts from the if's parameters, which are still in their
                // slots at run time: the then arm, which consumed them, did not run.
                s.truncate(depth, height);
                for w in params {
                    s.push(w)?;
                }
                s.dead = false;
                let here = self.pc();
                self.patch(else_jump, here);
            }
            Operator::End => {
                if self.return_in_place(s) {
                    return Ok(());
                }
                self.materialize_all(s);
                let block = s.blocks.pop().expect("validated: balanced blocks");
                let end = self.pc();
                if let Some(else_jump) = block.else_jump {
                    self.patch(else_jump, end);
                }
                for exit in &block.exits {
                    self.patch(*exit, end);
                }
                if block.kind == BlockKind::Function {
                    if !s.dead || !block.exits.is_empty() {
                        self.function_exit(block.height, block.results);
                    }
                    return Ok(());
                }
                s.truncate(block.depth, block.height);
                for &w in &block.result_widths {
                    s.push(w)?;
                }
                s.dead = false;
            }
            Operator::Br { relative_depth } => {
                self.branch(s, relative_depth)?;
                s.dead = true;
            }
            Operator::BrIf { relative_depth } => {
                let cond = self.operand(s)?;
                let index = s.blocks.len() - 1 - relative_depth as usize;
                self.materialize_carried(s, s.blocks[index].label_slots());
                let target = &s.blocks[index];
                let moves = Self::moves_values(s, target);
                if target.kind == BlockKind::Loop && !moves {
                    let head = target.head;
                    self.emit(Instr::JumpIf { cond, target: head });
                } else if target.kind == BlockKind::Function || moves {
                    let skip = self.emit(Instr::JumpIfZero { cond, target: 0 });
                    self.branch(s, relative_depth)?;
                    let here = self.pc();
                    self.patch(skip, here);
                } else {
                    let at = self.emit(Instr::JumpIf { cond, target: 0 });
                    s.blocks[index].exits.push(at);
                }
            }
            Operator::BrTable { ref targets } => {
                let index = self.operand(s)?;
                self.materialize_all(s);
                let mut depths = targets
                    .targets()
                    .collect::<Result<Vec<u32>, _>>()
                    .map_err(|e| Refusal::Invalid(e.to_string()))?;
                let count = depths.len() as u32;
                if count >= MAX_TABLE_TARGETS {
                    return Err(Refusal::Unsupported(format!(
                        "br_table with {count} targets (at most {})",
                        MAX_TABLE_TARGETS - 1
                    )));
                }
                depths.push(targets.default());
                self.emit(Instr::JumpTable { index, count });
                let entries: Vec<usize> = depths
                    .iter()
                    .map(|_| self.emit(Instr::Jump { target: 0 }))
                    .collect();
                for (entry, depth) in entries.into_iter().zip(depths) {
                    let at = s.blocks.len() - 1 - depth as usize;
                    let target = &s.blocks[at];
                    let moves = Self::moves_values(s, target);
                    if target.kind == BlockKind::Loop && !moves {
                        let head = target.head;
                        self.patch(entry, head);
                    } else if target.kind == BlockKind::Function || moves {
                        // The entry jumps to code that moves the values, then branches.
                        let here = self.pc();
                        self.patch(entry, here);
                        self.branch(s, depth)?;
                    } else {
                        s.blocks[at].exits.push(entry);
                    }
                }
                s.dead = true;
            }
            Operator::Return => {
                self.branch(s, s.blocks.len() as u32 - 1)?;
                s.dead = true;
            }
            Operator::Call { function_index } => {
                if let Some(abi) = module.imports.get(function_index as usize) {
                    match abi {
                        AbiImport::InputLen => {
                            let dst = s.push(1)?;
                            self.emit(Instr::InputLen { dst });
                        }
                        AbiImport::Read => {
                            let index = s.replace(1)?;
                            self.emit(Instr::Read { dst: index, index });
                        }
                        AbiImport::Write => {
                            let src = s.pop()?.slot;
                            self.emit(Instr::Write { src });
                        }
                    }
                } else {
                    let callee = module.func_type(function_index);
                    let results = widths(callee.results())?;
                    widths(callee.params())?;
                    for _ in callee.params() {
                        s.pop()?;
                    }
                    let frame = s.sp;
                    let at = self.emit(Instr::Call { frame, target: 0 });
                    self.call_patches.push((at, function_index));
                    for w in results {
                        s.push(w)?;
                    }
                }
            }
            Operator::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(module, s, type_index, table_index)?,
            Operator::Drop => {
                s.pop()?;
            }
            Operator::LocalGet { local_index } => {
                let (src, w) = s.local(local_index)?;
                s.push(w)?;
                s.values.last_mut().expect("pushed").local = Some(src);
            }
            Operator::LocalSet { local_index } => {
                let local = s.local(local_index)?;
                let value = s.pop()?;
                self.materialize_readers(s, local, 0);
                self.set_local(&value, local);
            }
            Operator::LocalTee { local_index } => {
                let local = s.local(local_index)?;
                self.materialize_readers(s, local, 1);
                let value = s.peek(0)?;
                if self.set_local(&value, local) {
                    // The producer now writes the local: the value is pending there.
                    let top = s.values.last_mut().expect("peeked");
                    (top.local, top.producer) = (Some(local.0), None);
                }
            }
            Operator::GlobalGet { global_index } => {
                let global = module.global(global_index)?;
                let w = width(global.ty)?;
                match global {
                    Global {
                        mutable: false,
                        init: Some(value),
                        ..
                    } => {
                        let dst = s.push_known(w, *value)?;
                        for i in 0..w {
                            self.emit(Instr::Const {
                                dst: dst + i,
                                value: (*value >> (32 * i)) as u32,
                            });
                        }
                    }
                    _ => {
                        let dst = s.push(w)?;
                        for i in 0..w {
                            self.emit(Instr::GlobalGet {
                                dst: dst + i,
                                global: global.cell + i,
                            });
                        }
                    }
                }
            }
            Operator::GlobalSet { global_index } => {
                let global = module.global(global_index)?;
                let src = s.pop()?;
                for i in 0..src.width {
                    self.emit(Instr::GlobalSet {
                        global: global.cell + i,
                        src: src.slot + i,
                    });
                }
            }
            _ if load_op(op).is_some() => {
                let (load, offset) = load_op(op).expect("matched a load");
                let base = self.operand(s)?;
                let dst = s.push(1)?;
                self.produce(
                    s,
                    Instr::Load {
                        op: load,
                        dst,
                        base,
                        offset,
                    },
                );
            }
            _ if store_op(op).is_some() => {
                let (store, offset) = store_op(op).expect("matched a store");
                let src = self.operand(s)?;
                let base = self.operand(s)?;
                self.emit(Instr::Store {
                    op: store,
                    src,
                    base,
                    offset,
                });
            }
            Operator::MemoryFill { .. } => self.memory_fill(s)?,
            Operator::MemoryCopy { .. } => self.memory_copy(s)?,
            Operator::MemoryInit { data_index, .. } => self.memory_init(module, s, data_index)?,
            Operator::DataDrop { data_index } => self.data_drop(module, s, data_index)?,
            Operator::MemorySize { .. } => {
                let dst = s.push(1)?;
                self.emit(Instr::MemorySize { dst });
            }
            Operator::MemoryGrow { .. } => {
                let slot = s.replace(1)?;
                let max = module.memory.map_or(0, |m| m.max);
                self.emit(Instr::MemoryGrow { slot, max });
            }
            Operator::I32Const { value } => {
                let dst = s.push_known(1, u64::from(value as u32))?;
                self.produce(
                    s,
                    Instr::Const {
                        dst,
                        value: value as u32,
                    },
                );
            }
            Operator::I32Eqz => {
                let src = self.operand(s)?;
                let dst = s.push(1)?;
                self.produce(s, Instr::Eqz { dst, src });
            }
            _ if unop(op).is_some() => {
                let src = self.operand(s)?;
                let dst = s.push(1)?;
                let op = unop(op).expect("matched a unary operator");
                self.produce(s, Instr::Unary { op, dst, src });
            }
            Operator::Select
            | Operator::TypedSelect {
                ty: ValType::I32 | ValType::I64,
            } => {
                let scratch = s.scratch(2)?;
                let cond = s.pop()?.slot;
                let second = s.pop()?.slot;
                let first = s.pop()?;
                let dst = s.push(first.width)?;
                if first.width == 1 {
                    self.emit(Instr::Select {
                        dst,
                        first: dst,
                        cond,
                    });
                } else {
                    self.select_wide(dst, second, cond, scratch);
                }
            }
            _ if binop(op).is_some() => {
                let op = binop(op).expect("matched a binary operator");
                let imm = op.imm_opcode().and_then(|_| self.take_constant(s));
                if let Some(imm) = imm {
                    let lhs = self.operand(s)?;
                    let dst = s.push(1)?;
                    self.produce(s, Instr::BinaryImm { op, dst, lhs, imm });
                    return Ok(());
                }
                let rhs = self.operand(s)?;
                let lhs = self.operand(s)?;
                let dst = s.push(1)?;
                self.produce(s, Instr::Binary { op, dst, lhs, rhs });
            }
            _ => return Err(Refusal::Unsupported(operator_name(op))),
        }
        Ok(())
    }

    /// `call_indirect`: a jump table on the index over the table's entries, each entry
    /// jumping to a call of its function (one per distinct function of the right type) or,
    /// for a null entry, one of another type or an index past the table, to a trap. The
    /// table's contents are code, so the program id commits to them.
    fn call_indirect(
        &mut self,
        module: &ModuleParts<'_>,
        s: &mut FunctionState,
        type_index: u32,
        table_index: u32,
    ) -> Result<(), Refusal> {
        let ty = &module.types[type_index as usize];
        let results = widths(ty.results())?;
        widths(ty.params())?;
        let table = module
            .tables
            .get(table_index as usize)
            .ok_or_else(|| Refusal::Invalid("call_indirect of no table".into()))?;
        let index = s.pop()?.slot;
        for _ in ty.params() {
            s.pop()?;
        }
        let frame = s.sp;
        let count = table.len() as u32;
        self.emit(Instr::JumpTable { index, count });
        let entries: Vec<usize> = (0..=count)
            .map(|_| self.emit(Instr::Jump { target: 0 }))
            .collect();
        let trap = self.emit(Instr::Trap);
        let mut calls: BTreeMap<u32, Pc> = BTreeMap::new();
        let mut exits = Vec::new();
        let imports = module.imports.len() as u32;
        for (entry, function) in entries.iter().zip(table.iter().copied().chain([None])) {
            if function.is_some_and(|f| f < imports) {
                return Err(Refusal::Unsupported(
                    "an imported function in a table".into(),
                ));
            }
            let callable = function.filter(|&f| module.func_type(f) == ty);
            let target = match callable {
                None => trap as Pc,
                Some(f) => *calls.entry(f).or_insert_with(|| {
                    let at = self.emit(Instr::Call { frame, target: 0 });
                    self.call_patches.push((at, f));
                    exits.push(self.emit(Instr::Jump { target: 0 }));
                    at as Pc
                }),
            };
            self.patch(*entry, target);
        }
        let end = self.pc();
        for exit in exits {
            self.patch(exit, end);
        }
        for w in results {
            s.push(w)?;
        }
        Ok(())
    }

    /// `dst ← lhs op rhs`.
    fn bin(&mut self, op: BinOp, dst: Slot, lhs: Slot, rhs: Slot) {
        self.emit(Instr::Binary { op, dst, lhs, rhs });
    }

    /// `dst ← value`.
    fn int(&mut self, dst: Slot, value: u32) {
        self.emit(Instr::Const { dst, value });
    }

    /// `dst ← op src`.
    fn un(&mut self, op: UnOp, dst: Slot, src: Slot) {
        self.emit(Instr::Unary { op, dst, src });
    }

    /// `dst ← cond ? first : first + 1`.
    fn pick(&mut self, dst: Slot, first: Slot, cond: Slot) {
        self.emit(Instr::Select { dst, first, cond });
    }

    /// Writes `value` into the local at `dst` (`width` slots): nothing when it is that
    /// local's own pending value, its producer retargeted when it can be, else copies.
    /// Returns whether the producer was retargeted.
    fn set_local(&mut self, value: &Value, (dst, width): (Slot, u32)) -> bool {
        if value.local == Some(dst) {
            return false;
        }
        if self.retarget(value, dst) {
            return true;
        }
        self.copy(dst, value.source(), width);
        false
    }

    /// `n` copies `dst + i ← src + i` (a value of `n` slots).
    fn copy(&mut self, dst: Slot, src: Slot, n: u32) {
        for i in 0..n {
            self.emit(Instr::Copy {
                dst: dst + i,
                src: src + i,
            });
        }
    }

    /// A branch to the block `depth` levels out: move the values it carries into place, then
    /// jump.
    fn branch(&mut self, s: &mut FunctionState, depth: u32) -> Result<(), Refusal> {
        let index = s.blocks.len() - 1 - depth as usize;
        let target = &s.blocks[index];
        let n = target.label_slots();
        let (kind, height, head) = (target.kind, target.height, target.head);
        let from = s.sp.checked_sub(n).ok_or_else(underflow)?;
        // The values lie at or above their destination: copying upwards never overwrites
        // one before it is read.
        if from != height {
            self.copy(height, from, n);
        }
        if kind == BlockKind::Loop {
            self.emit(Instr::Jump { target: head });
            return Ok(());
        }
        let at = self.emit(Instr::Jump { target: 0 });
        s.blocks[index].exits.push(at);
        Ok(())
    }

    /// The end of a function reached only by falling through, whose one result is the top
    /// value: it is written to slot 0 straight from its local, or by its producer, then
    /// return. Returns false (nothing emitted) for any other `end`.
    fn return_in_place(&mut self, s: &mut FunctionState) -> bool {
        let [function] = &s.blocks[..] else {
            return false;
        };
        let Some(&value) = s.values.last() else {
            return false;
        };
        if s.dead || !function.exits.is_empty() || value.width != function.results {
            return false;
        }
        let from = match value.local {
            Some(local) => local,
            None if self.retarget(&value, 0) => 0,
            None => return false,
        };
        s.blocks.pop();
        self.function_exit(from, value.width);
        true
    }

    /// The end of a function: its results (from `height`) move to slot 0, then return.
    fn function_exit(&mut self, height: Slot, results: u32) {
        if height != 0 {
            self.copy(0, height, results);
        }
        self.emit(Instr::Return);
    }
}

/// The operators lowered without first materializing the pending `local.get`s
/// ([`Lowering::materialize`]): they read their operands where they are, and leave the
/// values below them pending (a branch materializes them once its condition is popped).
fn reads_pending(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::LocalGet { .. }
            | Operator::LocalSet { .. }
            | Operator::LocalTee { .. }
            | Operator::I32Const { .. }
            | Operator::I32Eqz
            | Operator::Drop
            | Operator::Nop
            | Operator::End
            | Operator::If { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::I64And
            | Operator::I64Or
            | Operator::I64Xor
    ) || binop(op).is_some()
        || unop(op).is_some()
        || load_op(op).is_some()
        || store_op(op).is_some()
}

fn binop(op: &Operator<'_>) -> Option<BinOp> {
    Some(match op {
        Operator::I32Add => BinOp::Add,
        Operator::I32Sub => BinOp::Sub,
        Operator::I32Mul => BinOp::Mul,
        Operator::I32And => BinOp::And,
        Operator::I32Or => BinOp::Or,
        Operator::I32Xor => BinOp::Xor,
        Operator::I32Shl => BinOp::Shl,
        Operator::I32ShrS => BinOp::ShrS,
        Operator::I32ShrU => BinOp::ShrU,
        Operator::I32Rotl => BinOp::Rotl,
        Operator::I32Rotr => BinOp::Rotr,
        Operator::I32DivS => BinOp::DivS,
        Operator::I32DivU => BinOp::DivU,
        Operator::I32RemS => BinOp::RemS,
        Operator::I32RemU => BinOp::RemU,
        Operator::I32Eq => BinOp::Eq,
        Operator::I32Ne => BinOp::Ne,
        Operator::I32LtS => BinOp::LtS,
        Operator::I32LtU => BinOp::LtU,
        Operator::I32GtS => BinOp::GtS,
        Operator::I32GtU => BinOp::GtU,
        Operator::I32LeS => BinOp::LeS,
        Operator::I32LeU => BinOp::LeU,
        Operator::I32GeS => BinOp::GeS,
        Operator::I32GeU => BinOp::GeU,
        _ => return None,
    })
}

fn unop(op: &Operator<'_>) -> Option<UnOp> {
    Some(match op {
        Operator::I32Clz => UnOp::Clz,
        Operator::I32Ctz => UnOp::Ctz,
        Operator::I32Popcnt => UnOp::Popcnt,
        Operator::I32Extend8S => UnOp::Extend8S,
        Operator::I32Extend16S => UnOp::Extend16S,
        _ => return None,
    })
}

/// An i32 load and its offset (memory32: the offset is below 2^32).
fn load_op(op: &Operator<'_>) -> Option<(LoadOp, u32)> {
    let (load, memarg) = match op {
        Operator::I32Load { memarg } => (LoadOp::W32, memarg),
        Operator::I32Load8U { memarg } => (LoadOp::U8, memarg),
        Operator::I32Load8S { memarg } => (LoadOp::S8, memarg),
        Operator::I32Load16U { memarg } => (LoadOp::U16, memarg),
        Operator::I32Load16S { memarg } => (LoadOp::S16, memarg),
        _ => return None,
    };
    Some((load, u32::try_from(memarg.offset).ok()?))
}

/// An i32 store and its offset.
fn store_op(op: &Operator<'_>) -> Option<(StoreOp, u32)> {
    let (store, memarg) = match op {
        Operator::I32Store { memarg } => (StoreOp::W32, memarg),
        Operator::I32Store8 { memarg } => (StoreOp::B8, memarg),
        Operator::I32Store16 { memarg } => (StoreOp::B16, memarg),
        _ => return None,
    };
    Some((store, u32::try_from(memarg.offset).ok()?))
}

/// Whether [`Lowering::operator`] handles `op` (used to list every unsupported one).
fn is_supported(op: &Operator<'_>) -> bool {
    binop(op).is_some()
        || unop(op).is_some()
        || load_op(op).is_some()
        || store_op(op).is_some()
        || matches!(
            op,
            Operator::MemorySize { .. }
                | Operator::MemoryGrow { .. }
                | Operator::MemoryFill { .. }
                | Operator::MemoryCopy { .. }
                | Operator::MemoryInit { .. }
                | Operator::DataDrop { .. }
                | Operator::Nop
                | Operator::Unreachable
                | Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Else
                | Operator::End
                | Operator::Br { .. }
                | Operator::BrTable { .. }
                | Operator::BrIf { .. }
                | Operator::Return
                | Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::Drop
                | Operator::LocalGet { .. }
                | Operator::LocalSet { .. }
                | Operator::LocalTee { .. }
                | Operator::GlobalGet { .. }
                | Operator::GlobalSet { .. }
                | Operator::I32Const { .. }
                | Operator::I32Eqz
                | Operator::Select
                | Operator::TypedSelect {
                    ty: ValType::I32 | ValType::I64
                }
        )
        || i64::is_supported(op)
}

/// The WebAssembly text name of an operator: `I32Load8U` → `i32.load8_u`, `BrIf` → `br_if`.
pub fn operator_name(op: &Operator<'_>) -> String {
    let debug = format!("{op:?}");
    let variant: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let snake = |s: &str| {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    };
    for prefix in [
        "I8x16", "I16x8", "I32x4", "I64x2", "F32x4", "F64x2", "I32", "I64", "F32", "F64", "V128",
        "Memory", "Local", "Global", "Table", "Ref", "Data", "Elem",
    ] {
        if let Some(rest) = variant
            .strip_prefix(prefix)
            .filter(|r| r.starts_with(|c: char| c.is_ascii_uppercase()))
        {
            return format!("{}.{}", prefix.to_ascii_lowercase(), snake(rest));
        }
    }
    if variant == "TypedSelect" {
        return "select".into();
    }
    snake(&variant)
}
