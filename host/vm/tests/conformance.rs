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

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    pass: usize,
    fail: usize,
    unsupported: usize,
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
    }
    println!(
        "{:<22} pass {:>4}  fail {:>3}  unsupported {:>4}  proved {}",
        "TOTAL", total.pass, total.fail, total.unsupported, total.proved
    );
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

/// The module commands refer to: lowered with its instance's globals (which persist across
/// commands, as in the spec), or why not.
type Module = Result<(Library, Rc<RefCell<interp::Globals>>), LowerError>;

/// A lowered module, freshly instantiated.
fn instantiate(library: Library) -> (Library, Rc<RefCell<interp::Globals>>) {
    let globals = Rc::new(RefCell::new(library.initial_globals()));
    (library, globals)
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
                    Ok(bytes) => lower_library(&bytes).map(instantiate),
                    Err(e) => Err(LowerError::Invalid(e.to_string())),
                };
                match &lowered {
                    // Valid Wasm that uses a feature outside the VM's set (reference types,
                    // multi-memory, extended constants, ...) is refused on purpose.
                    Err(LowerError::Invalid(_)) if valid_with_all_features(&mut module) => {
                        tally.unsupported += 1
                    }
                    Err(LowerError::Invalid(e)) => {
                        tally.fail += 1;
                        fail(format!("a valid spec module was refused: {e}"));
                    }
                    Err(_) => tally.unsupported += 1,
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
                let Some(expected) = results.iter().map(ret_i32).collect::<Option<Vec<u32>>>()
                else {
                    tally.unsupported += 1;
                    continue;
                };
                match call(&current, &named, &invoke) {
                    Call::Unsupported => tally.unsupported += 1,
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
                Call::Unsupported => tally.unsupported += 1,
                Call::Ran(Err(ExecError::Trap { .. })) => tally.pass += 1,
                Call::Ran(outcome) => {
                    tally.fail += 1;
                    fail(format!(
                        "{}: expected trap `{message}`, got {outcome:?}",
                        invoke.name
                    ));
                }
            },
            WastDirective::AssertExhaustion { call: invoke, .. } => {
                match call(&current, &named, &invoke) {
                    Call::Unsupported => tally.unsupported += 1,
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
                Call::Unsupported => tally.unsupported += 1,
                Call::Ran(Ok(_)) => tally.pass += 1,
                Call::Ran(outcome) => {
                    tally.fail += 1;
                    fail(format!("{}: expected to run, got {outcome:?}", invoke.name));
                }
            },
            _ => tally.unsupported += 1,
        }
    }
    tally
}

/// Whether the module validates with every feature wasmparser knows.
fn valid_with_all_features(module: &mut QuoteWat<'_>) -> bool {
    let Ok(bytes) = module.encode() else {
        return false;
    };
    wasmtime::wasmparser::Validator::new_with_features(wasmtime::wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .is_ok()
}

enum Call {
    Unsupported,
    Ran(Result<Vec<u32>, ExecError>),
}

/// Runs an export of the current (or named) module on i32 arguments.
fn call(
    current: &Option<Module>,
    named: &BTreeMap<String, Module>,
    invoke: &WastInvoke<'_>,
) -> Call {
    let module = match invoke.module {
        Some(id) => named.get(id.name()),
        None => current.as_ref(),
    };
    let Some(Ok((library, globals))) = module else {
        return Call::Unsupported;
    };
    let Some(args) = invoke
        .args
        .iter()
        .map(arg_i32)
        .collect::<Option<Vec<u32>>>()
    else {
        return Call::Unsupported;
    };
    let Some(&function) = library.exports.get(invoke.name) else {
        return Call::Unsupported;
    };
    if library.unsupported[function].is_some() {
        return Call::Unsupported;
    }
    let f = &library.functions[function];
    let globals = &mut globals.borrow_mut();
    Call::Ran(
        interp::invoke(&library.code, f, &args, &[], MAX_STEPS, globals)
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
    let module = match invoke.module {
        Some(id) => named.get(id.name()),
        None => current.as_ref(),
    };
    let Some(Ok((library, _))) = module else {
        return Ok(false);
    };
    let args: Vec<u32> = invoke.args.iter().map(|a| arg_i32(a).unwrap()).collect();
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

fn arg_i32(arg: &WastArg<'_>) -> Option<u32> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Some(*v as u32),
        _ => None,
    }
}

fn ret_i32(ret: &WastRet<'_>) -> Option<u32> {
    match ret {
        WastRet::Core(WastRetCore::I32(v)) => Some(*v as u32),
        _ => None,
    }
}
