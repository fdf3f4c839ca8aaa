//! Every sandbox run of a module the Obelysk VM can lower is re-executed by the VM's tracing
//! interpreter, and the two outputs must agree. The trace is what will be proven, so a job
//! whose VM output differs from wasmtime's fails (`divergence`) instead of completing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use obelysk_vm::interp::{self, ExecError, Trace};
use obelysk_vm::ir::Program;

use crate::failures::FailureCode;
use crate::store::{JobError, Store, StoreError};

/// A module the Obelysk VM lowers: its bytes (what a proof's statement binds) and program.
#[derive(Clone)]
pub struct Lowered {
    pub module: Arc<[u8]>,
    pub program: Arc<Program>,
}

/// Lowered modules by plugin id, so that the cross-check, the provers and the checks of
/// uploaded proofs read and lower a module once, not per job. Plugins are content-addressed,
/// so an entry never goes stale. At most [`Programs::MAX_BYTES`] of modules and
/// [`Programs::MAX_ENTRIES`] entries are kept; the least recently used go first.
pub struct Programs {
    cache: Mutex<Lru>,
}

impl Default for Programs {
    fn default() -> Self {
        Programs {
            cache: Mutex::new(Lru::new(Programs::MAX_BYTES, Programs::MAX_ENTRIES)),
        }
    }
}

struct Lru {
    /// `None`: the module does not lower. With the tick of its last use.
    entries: HashMap<String, (Option<Lowered>, u64)>,
    bytes: usize,
    tick: u64,
    max_bytes: usize,
    max_entries: usize,
}

impl Lru {
    fn new(max_bytes: usize, max_entries: usize) -> Lru {
        Lru {
            entries: HashMap::new(),
            bytes: 0,
            tick: 0,
            max_bytes,
            max_entries,
        }
    }

    fn get(&mut self, plugin: &str) -> Option<Option<Lowered>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(plugin).map(|(entry, used)| {
            *used = tick;
            entry.clone()
        })
    }

    fn insert(&mut self, plugin: &str, entry: Option<Lowered>) {
        let size = entry.as_ref().map_or(0, |l| l.module.len());
        if size > self.max_bytes || self.entries.contains_key(plugin) {
            return;
        }
        while !self.entries.is_empty()
            && (self.bytes + size > self.max_bytes || self.entries.len() >= self.max_entries)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone())
                .expect("not empty");
            if let Some((Some(evicted), _)) = self.entries.remove(&oldest) {
                self.bytes -= evicted.module.len();
            }
        }
        self.tick += 1;
        self.bytes += size;
        self.entries.insert(plugin.to_string(), (entry, self.tick));
    }
}

impl Programs {
    /// The most module bytes kept.
    pub const MAX_BYTES: usize = 256 << 20;
    /// The most modules kept (lowering or not).
    pub const MAX_ENTRIES: usize = 1024;

    /// The lowered program of `plugin`, lowering it on first use.
    pub async fn get(
        &self,
        store: &dyn Store,
        plugin: &str,
    ) -> Result<Option<Arc<Program>>, StoreError> {
        Ok(self.lowered(store, plugin).await?.map(|l| l.program))
    }

    /// The bytes and lowered program of `plugin` (`None`: it does not lower, or is unknown).
    pub async fn lowered(
        &self,
        store: &dyn Store,
        plugin: &str,
    ) -> Result<Option<Lowered>, StoreError> {
        if let Some(hit) = self.cache.lock().expect("program cache lock").get(plugin) {
            return Ok(hit);
        }
        let supported = store.plugin(plugin).await?.is_some_and(|p| p.vm.supported);
        // Only a module that lowers is worth reading back from the store.
        let bytes = if supported {
            store.plugin_bytes(plugin).await?
        } else {
            None
        };
        let lowered = match bytes {
            Some(bytes) => {
                let module: Arc<[u8]> = bytes.into();
                let source = module.clone();
                tokio::task::spawn_blocking(move || obelysk_vm::lower::lower(&source).ok())
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("lowering task: {e}")))?
                    .map(|program| Lowered {
                        module,
                        program: Arc::new(program),
                    })
            }
            None => None,
        };
        self.cache
            .lock()
            .expect("program cache lock")
            .insert(plugin, lowered.clone());
        Ok(lowered)
    }

    /// How many modules and module bytes are cached.
    pub fn cached(&self) -> (usize, usize) {
        let cache = self.cache.lock().expect("program cache lock");
        (cache.entries.len(), cache.bytes)
    }
}

/// The interpreter's step budget for a run that used `fuel` in the sandbox: a lowered program
/// takes at most one step per Wasm instruction plus the zeroing of locals, so four times the
/// fuel (and at least a million) is only exceeded by a VM bug.
pub fn step_budget(fuel: u64) -> u64 {
    fuel.saturating_mul(4).max(1 << 20)
}

/// Runs `program` and compares with the sandbox's `output`; the VM step count when they agree.
pub fn run_and_compare(
    program: &Program,
    input: &[u32],
    output: &[u32],
    fuel: u64,
) -> Result<u64, JobError> {
    compare(output, interp::run(program, input, step_budget(fuel)))
}

/// Compares a VM run with the sandbox's output; the VM step count when they agree.
pub fn compare(sandbox_output: &[u32], vm: Result<Trace, ExecError>) -> Result<u64, JobError> {
    compare_trace(sandbox_output, vm).map(|trace| trace.steps.len() as u64)
}

/// Compares a VM run with the sandbox's output; the trace when they agree.
pub fn compare_trace(
    sandbox_output: &[u32],
    vm: Result<Trace, ExecError>,
) -> Result<Trace, JobError> {
    match vm {
        Ok(trace) if trace.output == sandbox_output => Ok(trace),
        Ok(trace) => Err(divergence(format!(
            "the Obelysk VM wrote {:?}, the sandbox {sandbox_output:?}",
            trace.output
        ))),
        Err(e) => Err(divergence(format!(
            "the sandbox completed but the Obelysk VM did not: {e}"
        ))),
    }
}

fn divergence(message: String) -> JobError {
    tracing::error!(%message, "divergence between the sandbox and the Obelysk VM");
    JobError::new(FailureCode::Divergence, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowered(size: usize) -> Option<Lowered> {
        let program = obelysk_vm::lower::lower(
            &wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "main")))"#)
                .unwrap(),
        )
        .unwrap();
        Some(Lowered {
            module: vec![0u8; size].into(),
            program: Arc::new(program),
        })
    }

    /// The cache keeps its byte and entry bounds by dropping the least recently used.
    #[test]
    fn the_module_cache_is_bounded_least_recently_used_first() {
        let mut lru = Lru::new(100, 3);
        lru.insert("a", lowered(40));
        lru.insert("b", lowered(40));
        assert!(lru.get("a").is_some(), "a is now the most recent");
        lru.insert("c", lowered(40));
        assert_eq!((lru.entries.len(), lru.bytes), (2, 80));
        assert!(lru.get("b").is_none(), "b was the least recent");
        assert!(lru.get("a").is_some() && lru.get("c").is_some());
        // Negative entries count against the entry bound only.
        lru.insert("x", None);
        lru.insert("y", None);
        assert_eq!((lru.entries.len(), lru.bytes), (3, 40));
        assert!(
            matches!(lru.get("y"), Some(None)),
            "y is known not to lower"
        );
        assert!(lru.get("a").is_none(), "a went for y");
        // Too large to keep at all.
        lru.insert("huge", lowered(101));
        assert!(lru.get("huge").is_none());
    }

    fn trace(output: Vec<u32>, steps: usize) -> Trace {
        let step = interp::Step {
            pc: 0,
            fp: 0,
            values: [0; 3],
        };
        Trace {
            steps: vec![step; steps],
            output,
        }
    }

    #[test]
    fn agreement_yields_the_step_count() {
        assert_eq!(compare(&[1, 2], Ok(trace(vec![1, 2], 7))), Ok(7));
    }

    #[test]
    fn any_difference_is_a_divergence() {
        for vm in [
            Ok(trace(vec![1, 3], 7)),
            Ok(trace(vec![1], 7)),
            Ok(trace(vec![1, 2, 0], 7)),
            Err(ExecError::StepLimit { limit: 5 }),
            Err(ExecError::Trap {
                pc: 3,
                reason: "unreachable".into(),
            }),
        ] {
            let err = compare(&[1, 2], vm).unwrap_err();
            assert_eq!((err.code, err.retryable), (FailureCode::Divergence, false));
        }
    }

    #[test]
    fn a_real_program_agrees_with_itself() {
        let wasm = wat::parse_str(
            r#"(module (import "obelysk" "read" (func $read (param i32) (result i32)))
                (import "obelysk" "write" (func $write (param i32)))
                (memory (export "memory") 1)
                (func (export "main") (call $write (i32.add (call $read (i32.const 0)) (i32.const 1)))))"#,
        )
        .unwrap();
        let program = obelysk_vm::lower::lower(&wasm).unwrap();
        assert!(run_and_compare(&program, &[41], &[42], 10).unwrap() > 0);
        assert_eq!(
            run_and_compare(&program, &[41], &[43], 10)
                .unwrap_err()
                .code,
            crate::failures::FailureCode::Divergence
        );
    }
}
