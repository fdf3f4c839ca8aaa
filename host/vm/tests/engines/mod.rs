//! The two engines side by side: the front end and tracing interpreter against wasmtime
//! (shared by `differential.rs` and `i64.rs`).

use obelysk_sandbox::{Limits, Sandbox};
use obelysk_vm::VmError;
use obelysk_vm::interp::{self, ExecError};
use obelysk_vm::lower::lower;

/// Runs `wasm` on every input in both engines and checks they agree; returns the outputs.
pub fn agree(wasm: &[u8], inputs: &[Vec<u32>]) -> Vec<Result<Vec<u32>, String>> {
    let program = lower(wasm).unwrap_or_else(|e| panic!("lowering failed: {e}"));
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let module = sandbox.load(wasm).unwrap();
    inputs
        .iter()
        .map(|input| {
            let vm = interp::run(&program, input, 10_000_000);
            let native = sandbox.run(&module, input);
            match (&vm, &native) {
                (Ok(trace), Ok(run)) => {
                    assert_eq!(
                        trace.output,
                        run.output,
                        "input {input:?}\n{}",
                        program.listing()
                    );
                    Ok(trace.output.clone())
                }
                (
                    Err(ExecError::Trap { .. } | ExecError::OutOfBounds { .. }),
                    // A trap after a refused grow is reported as the memory limit.
                    Err(VmError::Trap(_) | VmError::MemoryLimit { .. }),
                ) => Err("trap".to_string()),
                _ => panic!(
                    "engines disagree on {input:?}: vm {vm:?}, wasmtime {native:?}\n{}",
                    program.listing()
                ),
            }
        })
        .collect()
}
