//! Every sandbox run of a module the Obelysk VM can lower is re-executed by the VM's tracing
//! interpreter, and the two outputs must agree. The trace is what will be proven, so a job
//! whose VM output differs from wasmtime's fails (`divergence`) instead of completing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use obelysk_vm::interp::{self, ExecError, Trace};
use obelysk_vm::ir::Program;

use crate::failures::FailureCode;
use crate::store::{JobError, Store, StoreError};

/// Lowered programs by plugin id (`None`: the module does not lower).
#[derive(Default)]
pub struct Programs {
    cache: Mutex<HashMap<String, Option<Arc<Program>>>>,
}

impl Programs {
    /// The lowered program of `plugin`, lowering it on first use.
    pub async fn get(
        &self,
        store: &dyn Store,
        plugin: &str,
    ) -> Result<Option<Arc<Program>>, StoreError> {
        if let Some(hit) = self.cache.lock().expect("program cache lock").get(plugin) {
            return Ok(hit.clone());
        }
        let supported = store.plugin(plugin).await?.is_some_and(|p| p.vm.supported);
        // Only a module that lowers is worth reading back from the store.
        let bytes = if supported {
            store.plugin_bytes(plugin).await?
        } else {
            None
        };
        let program = match bytes {
            Some(bytes) => {
                tokio::task::spawn_blocking(move || obelysk_vm::lower::lower(&bytes).ok())
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("lowering task: {e}")))?
                    .map(Arc::new)
            }
            None => None,
        };
        self.cache
            .lock()
            .expect("program cache lock")
            .insert(plugin.to_string(), program.clone());
        Ok(program)
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
