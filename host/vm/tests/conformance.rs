//! WebAssembly spec tests (`../shared/wasm-spec/*.wast`) through the front end and the tracing
//! interpreter.
//!
//! Every command is classified: `pass`, `fail`, or `unsupported` (it needs an instruction, type
//! or module feature the VM does not support yet, a named/registered module, or host imports).
//! Prints one line per file and fails on any `fail`. A sample per file is also proven: the first passing `assert_return` of each file whose call fits in 2^16 steps
//! is proven with stwo and verified.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use obelysk_vm::interp::{self, ExecError};
use obelysk_vm::lower::{Library, LowerError, lower_library};
use wast::core::{WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// Enough for every spec function that terminates; runaway recursion hits the stack limit first.
const MAX_STEPS: u64 = 50_000_000;

#[derive(Default, Debug, Clone)]
struct Tally {
    pass: usize,
    fail: usize,
    unsupported: usize,
    /// Why commands were unsupported: reason → commands.
    reasons: BTreeMap<String, usize>,
    /// Sample commands also proven and verified (one per file that has a provable one).
    proved: usize,
}

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wasm-spec")
}

#[test]
fn spec_conformance() {
    let dir = spec_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the spec tests live in ../shared/wasm-spec)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());

    let mut total = Tally::default();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let tally = run_file(file, &mut failures);
        println!(
            "{name:<22} pass {:>4}  fail {:>3}  unsupported {:>4}  proved {}",
            tally.pass, tally.fail, tally.unsupported, tally.proved
        );
        total.proved += tally.proved;
        total.pass += tally.pass;
        total.fail += tally.fail;
        total.unsupported += tally.unsupported;
        for (why, n) in tally.reasons {
            *total.reasons.entry(why).or_default() += n;
        }
    }
    println!(
        "{:<22} pass {:>4}  fail {:>3}  unsupported {:>4}  proved {}",
        "TOTAL", total.pass, total.fail, total.unsupported, total.proved
    );
    let mut reasons: Vec<_> = total.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("unsupported, by first reason:");
    for (why, n) in reasons {
        println!("  {n:>5}  {why}");
    }
    assert!(total.proved > 0, "no spec command was proven");
    assert!(
        total.pass > 0,
        "nothing passed: the harness is not exercising the VM"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The module commands refer to, or why it was not lowered.
type Module = Result<Loaded, LowerError>;

/// A lowered module with its instance's globals and memory (which persist across commands,
/// as in the spec). The instance is `None` once a call that may write it could not run (an
/// unsupported function), so later commands on it count as unsupported rather than fail.
#[derive(Clone)]
struct Loaded {
    library: Library,
    instance: Rc<RefCell<Option<interp::Instance>>>,
    /// Per defined function: whether it (or a function it calls) may write memory or a global.
    writers: Vec<bool>,
    /// Per defined function: whether its result can depend on memory or a global.
    readers: Vec<bool>,
}

impl Tally {
    fn unsupported(&mut self, why: impl Into<String>) {
        self.unsupported += 1;
        *self.reasons.entry(why.into()).or_default() += 1;
    }
}

/// The first thing a module or function lacks, as one short reason.
fn first_reason(error: &LowerError) -> String {
    match error {
        LowerError::Unsupported(names) => names.keys().next().cloned().unwrap_or_default(),
        LowerError::Invalid(e) => beyond_wasm2(e),
        LowerError::Abi(_) => "host imports".into(),
    }
}

/// A module valid only with post-2.0 proposals (multi-memory, extended constants, function
/// references), by the validator's message without its offset.
fn beyond_wasm2(error: &str) -> String {
    let message = error.split(" (at offset").next().unwrap_or(error);
    format!("beyond Wasm 2.0: {message}")
}

impl Loaded {
    fn new(library: Library, bytes: &[u8]) -> Self {
        let instance = Rc::new(RefCell::new(Some(library.instance())));
        let [writers, readers] = effects(bytes);
        Loaded {
            library,
            instance,
            writers,
            readers,
        }
    }

    /// Whether a call of function `f` can run: its result does not depend on a forgotten
    /// instance.
    fn can_run(&self, f: usize) -> bool {
        self.instance.borrow().is_some() || !self.readers[f]
    }

    /// A call of `export` was skipped: forget the instance if it may have changed it.
    fn skipped(&self, export: &str) {
        let writes = match self.library.exports.get(export) {
            Some(&f) => self.writers[f],
            None => false,
        };
        if writes {
            *self.instance.borrow_mut() = None;
        }
    }
}

/// Per defined function of `bytes`: `[writes, reads]`. It writes when it may change memory, a
/// global or a table; it reads when its result may depend on them (any memory, global or table
/// instruction: a store's trap depends on the memory size). Either holds when the function
/// has such an instruction or an indirect call, or calls a function for which it holds.
fn effects(bytes: &[u8]) -> [Vec<bool>; 2] {
    use wasmparser::{Operator, Parser, Payload, TypeRef};
    let mut imports = 0;
    let mut direct: [Vec<bool>; 2] = Default::default();
    let mut calls: Vec<Vec<u32>> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes).flatten() {
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports().flatten() {
                    imports += u32::from(matches!(import.ty, TypeRef::Func(_)));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let (mut writes, mut reads) = (false, false);
                let mut callees = Vec::new();
                match body.get_operators_reader() {
                    Ok(mut ops) => {
                        while !ops.eof() {
                            let Ok(op) = ops.read() else {
                                writes = true;
                                break;
                            };
                            let name = obelysk_vm::lower::operator_name(&op);
                            let state = name.starts_with("memory.") || name.starts_with("table.");
                            match op {
                                Operator::Call { function_index } => callees.push(function_index),
                                Operator::CallIndirect { .. } | Operator::GlobalSet { .. } => {
                                    writes = true
                                }
                                Operator::GlobalGet { .. } => reads = true,
                                _ if state || name.contains("store") => writes = true,
                                _ if name.contains("load") => reads = true,
                                _ => {}
                            }
                        }
                    }
                    Err(_) => writes = true,
                }
                direct[0].push(writes);
                // Whatever writes also reads.
                direct[1].push(writes || reads);
                calls.push(callees);
            }
            _ => {}
        }
    }
    direct.map(|mut has| {
        loop {
            let mut changed = false;
            for f in 0..has.len() {
                let through_a_call = calls[f]
                    .iter()
                    .filter_map(|&c| c.checked_sub(imports))
                    .any(|c| has.get(c as usize).copied().unwrap_or(true));
                if !has[f] && through_a_call {
                    has[f] = true;
                    changed = true;
                }
            }
            if !changed {
                return has;
            }
        }
    })
}

fn run_file(path: &Path, failures: &mut Vec<String>) -> Tally {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let buffer = ParseBuffer::new(&text).unwrap();
    let wast: Wast = parser::parse(&buffer).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut tally = Tally::default();
    let mut current: Option<Module> = None;
    let mut named: BTreeMap<String, Module> = BTreeMap::new();

    for directive in wast.directives {
        let line = {
            let (l, _) = directive.span().linecol_in(&text);
            l + 1
        };
        let mut fail = |why: String| failures.push(format!("{file}:{line}: {why}"));
        match directive {
            WastDirective::Module(mut module) => {
                let name = match &module {
                    QuoteWat::Wat(wast::Wat::Module(m)) => m.id.map(|id| id.name().to_string()),
                    _ => None,
                };
                let lowered = match module.encode() {
                    Ok(bytes) => lower_library(&bytes).map(|l| Loaded::new(l, &bytes)),
                    Err(e) => Err(LowerError::Invalid(e.to_string())),
                };
                match &lowered {
                    // Valid Wasm that uses a feature outside the VM's set (reference types,
                    // multi-memory, extended constants, ...) is refused on purpose.
                    Err(LowerError::Invalid(e)) if valid_with_all_features(&mut module) => {
                        tally.unsupported(beyond_wasm2(e))
                    }
                    Err(LowerError::Invalid(e)) => {
                        tally.fail += 1;
                        fail(format!("a valid spec module was refused: {e}"));
                    }
                    Err(e) => tally.unsupported(first_reason(e)),
                    Ok(_) => tally.pass += 1,
                }
                if let Some(name) = name {
                    named.insert(name, lowered.clone());
                }
                current = Some(lowered);
            }
            WastDirective::AssertInvalid { mut module, .. }
            | WastDirective::AssertMalformed { mut module, .. } => {
                let refused = match module.encode() {
                    Ok(bytes) => matches!(lower_library(&bytes), Err(LowerError::Invalid(_))),
                    Err(_) => true,
                };
                if refused {
                    tally.pass += 1;
                } else {
                    tally.fail += 1;
                    fail("an invalid or malformed module was accepted".into());
                }
            }
            WastDirective::AssertReturn {
                exec: WastExecute::Invoke(invoke),
                results,
                ..
            } => {
                let Some(expected) = words(results.iter().map(ret_words)) else {
                    if let Some(Ok(loaded)) = module_of(&current, &named, &invoke) {
                        loaded.skipped(invoke.name);
                    }
                    tally.unsupported("a float or reference result");
                    continue;
                };
                match call(&current, &named, &invoke) {
                    Call::Unsupported(why) => tally.unsupported(why),
                    Call::Ran(Ok(results)) if results == expected => {
                        tally.pass += 1;
                        if tally.proved == 0 {
                            match prove_sample(&current, &named, &invoke, &expected) {
                                Ok(true) => tally.proved += 1,
                                Ok(false) => {}
                                Err(e) => {
                                    tally.fail += 1;
                                    fail(format!("{}: proving: {e}", invoke.name));
                                }
                            }
                        }
                    }
                    Call::Ran(outcome) => {
                        tally.fail += 1;
                        fail(format!(
                            "{}: expected {expected:?}, got {outcome:?}",
                            invoke.name
                        ));
                    }
                }
            }
            WastDirective::AssertTrap {
                exec: WastExecute::Invoke(invoke),
                message,
                ..
            } => match call(&current, &named, &invoke) {
                Call::Unsupported(why) => tally.unsupported(why),
                Call::Ran(Err(ExecError::Trap { .. } | ExecError::OutOfBounds { .. })) => {
                    tally.pass += 1
                }
                Call::Ran(outcome) => {
                    tally.fail += 1;
                    fail(format!(
                        "{}: expected trap `{message}`, got {outcome:?}",
                        invoke.name
                    ));
                }
            },
            // Instantiation traps (a segment out of bounds): the front end must refuse the
            // module, so it never runs.
            WastDirective::AssertTrap {
                exec: WastExecute::Wat(mut wat),
                ..
            } => match wat.encode().map(|bytes| lower_library(&bytes)) {
                Ok(Err(LowerError::Invalid(e))) if e.contains("out of bounds") => tally.pass += 1,
                Ok(Err(LowerError::Invalid(e))) => tally.unsupported(beyond_wasm2(&e)),
                Ok(Err(e)) => tally.unsupported(first_reason(&e)),
                Ok(Ok(_)) => {
                    tally.fail += 1;
                    fail("a module whose instantiation traps was accepted".into());
                }
                Err(e) => {
                    tally.fail += 1;
                    fail(format!("cannot encode the module: {e}"));
                }
            },
            WastDirective::AssertExhaustion { call: invoke, .. } => {
                match call(&current, &named, &invoke) {
                    Call::Unsupported(why) => tally.unsupported(why),
                    Call::Ran(Err(ExecError::StackOverflow)) => tally.pass += 1,
                    Call::Ran(outcome) => {
                        tally.fail += 1;
                        fail(format!(
                            "{}: expected stack exhaustion, got {outcome:?}",
                            invoke.name
                        ));
                    }
                }
            }
            WastDirective::Invoke(invoke) => match call(&current, &named, &invoke) {
                Call::Unsupported(why) => tally.unsupported(why),
                Call::Ran(Ok(_)) => tally.pass += 1,
                Call::Ran(outcome) => {
                    tally.fail += 1;
                    fail(format!("{}: expected to run, got {outcome:?}", invoke.name));
                }
            },
            other => tally.unsupported(format!("the {} directive", directive_name(&other))),
        }
    }
    tally
}

/// Whether the module validates with every feature wasmparser knows.
fn valid_with_all_features(module: &mut QuoteWat<'_>) -> bool {
    let Ok(bytes) = module.encode() else {
        return false;
    };
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .is_ok()
}

/// A directive's kind, for the unsupported reasons (`AssertUnlinkable` → `assert_unlinkable`).
fn directive_name(directive: &WastDirective<'_>) -> String {
    let debug = format!("{directive:?}");
    let variant: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut name = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

enum Call {
    /// Not run, and why.
    Unsupported(String),
    Ran(Result<Vec<u32>, ExecError>),
}

/// The module `invoke` refers to.
fn module_of<'m>(
    current: &'m Option<Module>,
    named: &'m BTreeMap<String, Module>,
    invoke: &WastInvoke<'_>,
) -> Option<&'m Module> {
    match invoke.module {
        Some(id) => named.get(id.name()),
        None => current.as_ref(),
    }
}

/// Runs an export of the current (or named) module on integer arguments.
fn call(
    current: &Option<Module>,
    named: &BTreeMap<String, Module>,
    invoke: &WastInvoke<'_>,
) -> Call {
    let loaded = match module_of(current, named, invoke) {
        Some(Ok(loaded)) => loaded,
        Some(Err(e)) => return Call::Unsupported(first_reason(e)),
        None => return Call::Unsupported("a module the VM never loaded".into()),
    };
    let (library, instance) = (&loaded.library, &loaded.instance);
    let unsupported = |why: String| {
        loaded.skipped(invoke.name);
        Call::Unsupported(why)
    };
    let Some(args) = words(invoke.args.iter().map(arg_words)) else {
        return unsupported("a float or reference argument".into());
    };
    let Some(&function) = library.exports.get(invoke.name) else {
        return unsupported("an export that is not a lowered function".into());
    };
    if let Some(names) = &library.unsupported[function] {
        return unsupported(names.keys().next().cloned().unwrap_or_default());
    }
    if !loaded.can_run(function) {
        return Call::Unsupported("state left by an earlier unsupported call".into());
    }
    let f = &library.functions[function];
    let mut instance = instance.borrow_mut();
    // A call that touches no state runs on a fresh instance when the real one is forgotten.
    let mut fresh;
    let instance = match instance.as_mut() {
        Some(instance) => instance,
        None => {
            fresh = library.instance();
            &mut fresh
        }
    };
    Call::Ran(
        interp::invoke(&library.code, f, &args, &[], MAX_STEPS, instance)
            .map(|(results, _)| results),
    )
}

/// Proves and verifies a call that ran correctly; `Ok(false)` when it is too long to sample.
fn prove_sample(
    current: &Option<Module>,
    named: &BTreeMap<String, Module>,
    invoke: &WastInvoke<'_>,
    expected: &[u32],
) -> Result<bool, String> {
    let Some(Ok(Loaded { library, .. })) = module_of(current, named, invoke) else {
        return Ok(false);
    };
    let args = words(invoke.args.iter().map(arg_words)).expect("it ran");
    let function = library.exports[invoke.name];
    let program = library.entry_program(function, &args);
    // A proof starts from a fresh instance: skip a call whose result depends on earlier ones.
    match interp::run(&program, &[], 1 << 16) {
        Ok(trace) if trace.output == expected => {}
        _ => return Ok(false),
    }
    let level = obelysk_air::security::SecurityLevel::Bits96;
    let (output, file) =
        match obelysk_prover::prove_program(&program, &[], level, 1 << 16, &mut |_| {}) {
            Ok(proven) => proven,
            Err(obelysk_prover::ProveError::Exec(ExecError::StepLimit { .. })) => return Ok(false),
            Err(e) => return Err(e.to_string()),
        };
    if output != expected {
        return Err(format!("the proven output {output:?} is not {expected:?}"));
    }
    let bytes = file.to_bytes();
    let file = obelysk_air::proof::ProofFile::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let statement =
        obelysk_air::api::verify_program(&program, &file, 96).map_err(|e| e.to_string())?;
    if statement.output != expected {
        return Err("the verified statement has another output".into());
    }
    Ok(true)
}

/// The VM's words (slots) of a list of values, if every one is an integer.
fn words(values: impl Iterator<Item = Option<Vec<u32>>>) -> Option<Vec<u32>> {
    Some(values.collect::<Option<Vec<_>>>()?.concat())
}

/// An i32 is one word, an i64 two (low first).
fn integer_words(value: i64, wide: bool) -> Vec<u32> {
    if wide {
        vec![value as u32, (value as u64 >> 32) as u32]
    } else {
        vec![value as u32]
    }
}

fn arg_words(arg: &WastArg<'_>) -> Option<Vec<u32>> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Some(integer_words(i64::from(*v), false)),
        WastArg::Core(WastArgCore::I64(v)) => Some(integer_words(*v, true)),
        _ => None,
    }
}

fn ret_words(ret: &WastRet<'_>) -> Option<Vec<u32>> {
    match ret {
        WastRet::Core(WastRetCore::I32(v)) => Some(integer_words(i64::from(*v), false)),
        WastRet::Core(WastRetCore::I64(v)) => Some(integer_words(*v, true)),
        _ => None,
    }
}
