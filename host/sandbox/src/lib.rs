//! The wasmtime sandbox: one [`Engine`], a compiled-module cache keyed by content hash, and
//! hard limits on every run.
//!
//! | limit | mechanism | failure |
//! |---|---|---|
//! | steps | fuel ([`Limits::fuel`]) | [`VmError::OutOfFuel`] |
//! | linear memory | a `ResourceLimiter` ([`Limits::memory_bytes`]) | [`VmError::MemoryLimit`] |
//! | native stack | `max_wasm_stack` ([`Limits::max_wasm_stack`]) | [`VmError::StackOverflow`] |
//! | wall clock | epoch interruption ([`Limits::timeout`]) | [`VmError::Timeout`] |
//! | output | counted in `write` ([`Limits::max_output_words`]) | [`VmError::OutputLimit`] |
//!
//! No WASI: the only host functions are the three ABI imports of [`obelysk_vm::abi`].
//!
//! ```
//! use obelysk_sandbox::{Limits, Sandbox};
//! let wasm = wat::parse_str(r#"(module
//!     (import "obelysk" "read" (func $read (param i32) (result i32)))
//!     (import "obelysk" "write" (func $write (param i32)))
//!     (memory (export "memory") 1)
//!     (func (export "main")
//!         (call $write (i32.add (call $read (i32.const 0)) (call $read (i32.const 1))))))"#).unwrap();
//! let sandbox = Sandbox::new(Limits::default()).unwrap();
//! let module = sandbox.load(&wasm).unwrap();
//! let run = sandbox.run(&module, &[40, 2]).unwrap();
//! assert_eq!(run.output, vec![42]);
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::{
    Caller, Config, Engine, Linker, Module, ResourceLimiter, Store, Trap, WasmBacktrace,
};

use obelysk_vm::VmError;
use obelysk_vm::abi::{self, IMPORT_MODULE, ModuleId, ModuleInfo};

/// How often the epoch advances; the wall-clock deadline is measured in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Resource limits for every run of a [`Sandbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel budget (about one unit per executed Wasm instruction).
    pub fuel: u64,
    /// Maximum size of the linear memory in bytes.
    pub memory_bytes: usize,
    /// Maximum native stack used by Wasm frames, in bytes.
    pub max_wasm_stack: usize,
    /// Wall-clock limit for one run (instantiation included).
    pub timeout: Duration,
    /// Maximum number of input words.
    pub max_input_words: usize,
    /// Maximum number of output words.
    pub max_output_words: usize,
    /// How many compiled modules stay cached.
    pub module_cache: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 1_000_000_000,
            memory_bytes: 256 << 20,
            max_wasm_stack: 512 << 10,
            timeout: Duration::from_secs(30),
            max_input_words: 1 << 20,
            max_output_words: 1 << 20,
            module_cache: 64,
        }
    }
}

/// The per-run part of the limits: a job may ask for less than the sandbox allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Fuel for this run.
    pub fuel: u64,
    /// Wall-clock limit for this run.
    pub timeout: Duration,
}

impl Limits {
    /// The largest budget these limits allow.
    pub fn budget(&self) -> Budget {
        Budget {
            fuel: self.fuel,
            timeout: self.timeout,
        }
    }
}

/// A successful run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// The words the module wrote, in order.
    pub output: Vec<u32>,
    /// Fuel consumed by the run.
    pub fuel_used: u64,
    /// Wall-clock time of instantiation plus `main`.
    pub elapsed: Duration,
}

/// A checked, compiled module, cheap to clone.
#[derive(Clone)]
pub struct LoadedModule {
    /// What the ABI check found.
    pub info: ModuleInfo,
    module: Module,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// One wasmtime engine with its module cache and epoch ticker. Share it (it is `Sync`).
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    cache: Mutex<HashMap<ModuleId, LoadedModule>>,
    ticker: EpochTicker,
}

impl Sandbox {
    /// Builds the engine for `limits`.
    pub fn new(limits: Limits) -> Result<Self, VmError> {
        let mut config = base_config();
        config.max_wasm_stack(limits.max_wasm_stack);
        let engine = Engine::new(&config).map_err(|e| VmError::Internal(format!("{e:#}")))?;
        let linker = abi_linker(&engine)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Sandbox {
            engine,
            linker,
            limits,
            cache: Mutex::new(HashMap::new()),
            ticker,
        })
    }

    /// The limits every run uses.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates, ABI-checks and compiles `bytes`, or returns the cached compilation.
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedModule, VmError> {
        let id = ModuleId::of(bytes);
        if let Some(hit) = self.cached(&id) {
            return Ok(hit);
        }
        let info = abi::check_module(bytes)?.info;
        let module = Module::new(&self.engine, bytes)
            .map_err(|e| VmError::InvalidModule(format!("{e:#}")))?;
        let loaded = LoadedModule { info, module };
        let mut cache = self.cache.lock().expect("module cache lock");
        if cache.len() >= self.limits.module_cache.max(1) {
            // Compiled modules are cheap to rebuild from the store: drop an arbitrary entry.
            let victim = *cache.keys().next().expect("cache is non-empty");
            cache.remove(&victim);
        }
        cache.insert(id, loaded.clone());
        Ok(loaded)
    }

    /// The compiled module for `id`, if it is cached.
    pub fn cached(&self, id: &ModuleId) -> Option<LoadedModule> {
        self.cache
            .lock()
            .expect("module cache lock")
            .get(id)
            .cloned()
    }

    /// Runs `main` of `module` on `input` under the sandbox limits.
    pub fn run(&self, module: &LoadedModule, input: &[u32]) -> Result<Execution, VmError> {
        self.run_with(module, input, self.limits.budget())
    }

    /// Runs `main` with a smaller fuel and time budget; each is capped at the sandbox limit.
    pub fn run_with(
        &self,
        module: &LoadedModule,
        input: &[u32],
        budget: Budget,
    ) -> Result<Execution, VmError> {
        let limits = &self.limits;
        let budget = Budget {
            fuel: budget.fuel.min(limits.fuel),
            timeout: budget.timeout.min(limits.timeout),
        };
        if input.len() > limits.max_input_words {
            return Err(VmError::InputLimit {
                len: input.len(),
                limit: limits.max_input_words,
            });
        }
        let started = Instant::now();
        let state = HostState {
            input: input.to_vec(),
            output: Vec::new(),
            max_output_words: limits.max_output_words,
            memory: MemoryLimiter {
                limit: limits.memory_bytes,
                instantiated: false,
                refused: None,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_fuel(budget.fuel).map_err(internal)?;
        store.set_epoch_deadline(self.ticker.ticks(budget.timeout));
        store.epoch_deadline_trap();

        let result = self
            .linker
            .instantiate(&mut store, &module.module)
            .and_then(|instance| {
                store.data_mut().memory.instantiated = true;
                instance.get_typed_func::<(), ()>(&mut store, "main")
            })
            .and_then(|main| main.call(&mut store, ()));
        let fuel_left = store.get_fuel().map_err(internal)?;
        match result {
            Ok(()) => Ok(Execution {
                output: std::mem::take(&mut store.data_mut().output),
                fuel_used: budget.fuel - fuel_left,
                elapsed: started.elapsed(),
            }),
            // A guest that traps after a refused grow (Rust's allocation-failure abort, say)
            // ran out of memory: report that, not the trap it chose.
            Err(error) => match store.data().memory.refused {
                Some(requested) if error.downcast_ref::<Trap>().is_some() => {
                    Err(VmError::MemoryLimit {
                        requested,
                        limit: self.limits.memory_bytes,
                    })
                }
                _ => Err(self.classify(error, budget)),
            },
        }
    }

    /// Maps a wasmtime error to the [`VmError`] a caller can act on.
    fn classify(&self, error: wasmtime::Error, budget: Budget) -> VmError {
        let limits = &self.limits;
        if let Some(host) = error.downcast_ref::<HostError>() {
            return match host {
                HostError::MemoryLimit { requested } => VmError::MemoryLimit {
                    requested: *requested,
                    limit: limits.memory_bytes,
                },
                HostError::OutputLimit => VmError::OutputLimit {
                    limit: limits.max_output_words,
                },
                HostError::ReadOutOfRange { .. } => VmError::Trap(with_backtrace(host, &error)),
            };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => VmError::OutOfFuel { limit: budget.fuel },
            Some(Trap::StackOverflow) => VmError::StackOverflow {
                limit: limits.max_wasm_stack,
            },
            Some(Trap::Interrupt) => VmError::Timeout {
                limit: budget.timeout,
            },
            Some(trap) => VmError::Trap(with_backtrace(trap, &error)),
            None => VmError::Internal(format!("{error:#}")),
        }
    }
}

/// The engine configuration shared by every sandbox: deterministic, metered, interruptible.
pub(crate) fn base_config() -> Config {
    let mut config = Config::new();
    // Wasmtime's defaults include everything allowed; switch off the rest.
    config.wasm_features(abi::allowed_features().complement(), false);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32));
    config
}

/// The three ABI host functions.
fn abi_linker(engine: &Engine) -> Result<Linker<HostState>, VmError> {
    let mut linker = Linker::new(engine);
    let define = |r: wasmtime::Result<&mut Linker<HostState>>| r.map(|_| ()).map_err(internal);
    define(linker.func_wrap(
        IMPORT_MODULE,
        "input_len",
        |caller: Caller<'_, HostState>| caller.data().input.len() as i32,
    ))?;
    define(linker.func_wrap(
        IMPORT_MODULE,
        "read",
        |caller: Caller<'_, HostState>, index: i32| -> wasmtime::Result<i32> {
            let input = &caller.data().input;
            match usize::try_from(index).ok().and_then(|i| input.get(i)) {
                Some(word) => Ok(*word as i32),
                None => Err(wasmtime::Error::new(HostError::ReadOutOfRange {
                    index: index as u32,
                    len: input.len(),
                })),
            }
        },
    ))?;
    define(linker.func_wrap(
        IMPORT_MODULE,
        "write",
        |mut caller: Caller<'_, HostState>, word: i32| -> wasmtime::Result<()> {
            let state = caller.data_mut();
            if state.output.len() >= state.max_output_words {
                return Err(wasmtime::Error::new(HostError::OutputLimit));
            }
            state.output.push(word as u32);
            Ok(())
        },
    ))?;
    Ok(linker)
}

struct HostState {
    input: Vec<u32>,
    output: Vec<u32>,
    max_output_words: usize,
    memory: MemoryLimiter,
}

/// Errors raised by host code inside a run; classified into [`VmError`] afterwards.
#[derive(Debug, thiserror::Error)]
enum HostError {
    #[error("linear memory of {requested} bytes refused")]
    MemoryLimit { requested: usize },
    #[error("output limit reached")]
    OutputLimit,
    #[error("obelysk.read({index}): input index out of range (the input has {len} words)")]
    ReadOutOfRange { index: u32, len: usize },
}

/// Refuses linear memory beyond the limit with an error we can recognise, and allows at
/// most one instance, memory and table per store.
///
/// At instantiation a memory past the limit is an error; afterwards `memory.grow` past it
/// returns −1 as Wasm specifies (so the VM, which proves the same rule, agrees), and the
/// refused size is kept for the error report.
struct MemoryLimiter {
    limit: usize,
    instantiated: bool,
    refused: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired <= self.limit {
            return Ok(true);
        }
        if !self.instantiated {
            return Err(wasmtime::Error::new(HostError::MemoryLimit {
                requested: desired,
            }));
        }
        self.refused.get_or_insert(desired);
        Ok(false)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= abi::MAX_TABLE_ENTRIES as usize)
    }

    fn instances(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        1
    }
    fn memories(&self) -> usize {
        1
    }
}

fn with_backtrace(reason: &dyn std::fmt::Display, error: &wasmtime::Error) -> String {
    match error.downcast_ref::<WasmBacktrace>() {
        Some(trace) => format!("{reason}\n{trace}"),
        None => reason.to_string(),
    }
}

fn internal(e: wasmtime::Error) -> VmError {
    VmError::Internal(format!("{e:#}"))
}

/// Advances the engine epoch every [`EPOCH_TICK`] on a background thread until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("obelysk-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }

    /// Ticks in `timeout`, rounded up, at least one.
    fn ticks(&self, timeout: Duration) -> u64 {
        (timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64).max(1)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IO: &str = r#"
        (import "obelysk" "input_len" (func $len (result i32)))
        (import "obelysk" "read" (func $read (param i32) (result i32)))
        (import "obelysk" "write" (func $write (param i32)))"#;

    fn module(body: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module {IO} (memory (export "memory") 1) {body})"#
        ))
        .unwrap()
    }

    fn run_with(limits: Limits, body: &str, input: &[u32]) -> Result<Execution, VmError> {
        let sandbox = Sandbox::new(limits).unwrap();
        let loaded = sandbox.load(&module(body)).unwrap();
        sandbox.run(&loaded, input)
    }

    fn run(body: &str, input: &[u32]) -> Result<Execution, VmError> {
        run_with(Limits::default(), body, input)
    }

    #[test]
    fn echoes_input_in_reverse() {
        let body = r#"(func (export "main") (local $i i32)
            (local.set $i (call $len))
            (block $done (loop $next
                (br_if $done (i32.eqz (local.get $i)))
                (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                (call $write (call $read (local.get $i)))
                (br $next))))"#;
        let run = run(body, &[1, 2, u32::MAX]).unwrap();
        assert_eq!(run.output, vec![u32::MAX, 2, 1]);
        assert!(run.fuel_used > 0);
        // Fuel is deterministic.
        assert_eq!(
            super::tests::run(body, &[1, 2, u32::MAX])
                .unwrap()
                .fuel_used,
            run.fuel_used
        );
    }

    #[test]
    fn read_out_of_range_traps_with_its_reason() {
        let err = run(
            r#"(func (export "main") (call $write (call $read (i32.const 3))))"#,
            &[1],
        )
        .unwrap_err();
        let VmError::Trap(message) = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("obelysk.read(3)") && message.contains("1 words"),
            "{message}"
        );
        let err = run(
            r#"(func (export "main") (call $write (call $read (i32.const -1))))"#,
            &[1],
        )
        .unwrap_err();
        assert_eq!(err.code(), "trap");
    }

    #[test]
    fn traps_carry_the_wasm_backtrace() {
        let body = r#"(func $inner unreachable) (func (export "main") (call $inner))"#;
        let VmError::Trap(message) = run(body, &[]).unwrap_err() else {
            panic!()
        };
        assert!(message.contains("unreachable"), "{message}");
        assert!(
            message.contains("inner"),
            "backtrace names the function: {message}"
        );
        let oob = r#"(func (export "main") (drop (i32.load (i32.const 70000))))"#;
        let VmError::Trap(message) = run(oob, &[]).unwrap_err() else {
            panic!()
        };
        assert!(message.contains("out of bounds"), "{message}");
    }

    #[test]
    fn fuel_limit() {
        let limits = Limits {
            fuel: 10_000,
            ..Limits::default()
        };
        let err = run_with(limits, r#"(func (export "main") (loop $l (br $l)))"#, &[]).unwrap_err();
        assert_eq!(err, VmError::OutOfFuel { limit: 10_000 });
    }

    #[test]
    fn grow_past_the_limit_returns_minus_one() {
        let limits = Limits {
            memory_bytes: 4 << 16,
            ..Limits::default()
        };
        let grow = r#"(func (export "main")
            (call $write (memory.grow (i32.const 2)))
            (call $write (memory.grow (i32.const 2)))
            (call $write (memory.grow (i32.const 1)))
            (call $write (memory.size)))"#;
        let out = run_with(limits, grow, &[]).unwrap();
        assert_eq!(out.output, vec![1, u32::MAX, 3, 4]);
    }

    #[test]
    fn memory_limit_on_grow_and_on_instantiation() {
        let limits = Limits {
            memory_bytes: 4 << 16,
            ..Limits::default()
        };
        // Past the limit grow returns −1, as Wasm specifies; the guest then traps.
        let grow = r#"(func (export "main")
            (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
            (call $write (memory.size)) (unreachable))"#;
        let err = run_with(limits.clone(), grow, &[]).unwrap_err();
        assert_eq!(
            err,
            VmError::MemoryLimit {
                requested: 5 << 16,
                limit: 4 << 16
            }
        );

        let sandbox = Sandbox::new(limits).unwrap();
        let big = wat::parse_str(r#"(module (memory (export "memory") 8) (func (export "main")))"#)
            .unwrap();
        let loaded = sandbox.load(&big).unwrap();
        assert_eq!(
            sandbox.run(&loaded, &[]).unwrap_err().code(),
            "memory_limit"
        );
    }

    #[test]
    fn stack_limit() {
        let limits = Limits {
            max_wasm_stack: 64 << 10,
            ..Limits::default()
        };
        let body = r#"(func $f (param i32) (result i32) (call $f (i32.add (local.get 0) (i32.const 1))))
                      (func (export "main") (drop (call $f (i32.const 0))))"#;
        assert_eq!(
            run_with(limits, body, &[]).unwrap_err(),
            VmError::StackOverflow { limit: 64 << 10 }
        );
    }

    #[test]
    fn wall_clock_limit() {
        let limits = Limits {
            timeout: Duration::from_millis(100),
            fuel: u64::MAX,
            ..Limits::default()
        };
        let body = r#"(func (export "main") (loop $l (br $l)))"#;
        let started = Instant::now();
        let err = run_with(limits, body, &[]).unwrap_err();
        assert_eq!(
            err,
            VmError::Timeout {
                limit: Duration::from_millis(100)
            }
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_budget_lowers_but_never_raises_the_limits() {
        let sandbox = Sandbox::new(Limits {
            fuel: 1_000_000,
            ..Limits::default()
        })
        .unwrap();
        let spin = sandbox
            .load(&module(r#"(func (export "main") (loop $l (br $l)))"#))
            .unwrap();
        let small = Budget {
            fuel: 5_000,
            timeout: Duration::from_secs(5),
        };
        assert_eq!(
            sandbox.run_with(&spin, &[], small).unwrap_err(),
            VmError::OutOfFuel { limit: 5_000 }
        );
        let big = Budget {
            fuel: u64::MAX,
            timeout: Duration::from_secs(5),
        };
        assert_eq!(
            sandbox.run_with(&spin, &[], big).unwrap_err(),
            VmError::OutOfFuel { limit: 1_000_000 }
        );
        let quick = Budget {
            fuel: u64::MAX,
            timeout: Duration::from_millis(20),
        };
        let sandbox = Sandbox::new(Limits {
            fuel: u64::MAX,
            ..Limits::default()
        })
        .unwrap();
        let spin = sandbox
            .load(&module(r#"(func (export "main") (loop $l (br $l)))"#))
            .unwrap();
        assert_eq!(
            sandbox.run_with(&spin, &[], quick).unwrap_err().code(),
            "timeout"
        );
    }

    #[test]
    fn output_and_input_limits() {
        let limits = Limits {
            max_output_words: 3,
            max_input_words: 2,
            ..Limits::default()
        };
        let body = r#"(func (export "main") (loop $l (call $write (i32.const 1)) (br $l)))"#;
        assert_eq!(
            run_with(limits.clone(), body, &[]).unwrap_err(),
            VmError::OutputLimit { limit: 3 }
        );
        assert_eq!(
            run_with(limits, body, &[1, 2, 3]).unwrap_err(),
            VmError::InputLimit { len: 3, limit: 2 }
        );
    }

    #[test]
    fn cache_is_keyed_by_content_and_bounded() {
        let sandbox = Sandbox::new(Limits {
            module_cache: 2,
            ..Limits::default()
        })
        .unwrap();
        let a = module(r#"(func (export "main") (call $write (i32.const 1)))"#);
        let b = module(r#"(func (export "main") (call $write (i32.const 2)))"#);
        let c = module(r#"(func (export "main") (call $write (i32.const 3)))"#);
        let loaded = sandbox.load(&a).unwrap();
        assert!(sandbox.cached(&ModuleId::of(&a)).is_some());
        assert!(sandbox.cached(&ModuleId::of(&b)).is_none());
        sandbox.load(&b).unwrap();
        sandbox.load(&c).unwrap();
        assert_eq!(sandbox.cache.lock().unwrap().len(), 2);
        // An evicted module still runs from its handle and reloads on demand.
        assert_eq!(sandbox.run(&loaded, &[]).unwrap().output, vec![1]);
        assert_eq!(
            sandbox.run(&sandbox.load(&a).unwrap(), &[]).unwrap().output,
            vec![1]
        );
    }

    #[test]
    fn runs_are_isolated() {
        // Each run gets a fresh instance: memory written by one run is zero in the next.
        let body = r#"(func (export "main")
            (call $write (i32.load (i32.const 0)))
            (i32.store (i32.const 0) (i32.const 99)))"#;
        let sandbox = Sandbox::new(Limits::default()).unwrap();
        let loaded = sandbox.load(&module(body)).unwrap();
        assert_eq!(sandbox.run(&loaded, &[]).unwrap().output, vec![0]);
        assert_eq!(sandbox.run(&loaded, &[]).unwrap().output, vec![0]);
    }
}
