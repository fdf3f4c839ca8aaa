use std::time::Duration;

/// Every way loading or running a guest module can fail.
///
/// Each variant has a stable [`code`](VmError::code) that the node stores with a failed job
/// and returns over HTTP; the `Display` text is the human reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    /// The bytes are not a valid WebAssembly module (or use a feature the sandbox refuses).
    #[error("invalid module: {0}")]
    InvalidModule(String),
    /// The module imports something outside the guest ABI.
    #[error(
        "unsupported import `{module}.{name}`: guests may import only obelysk.input_len, obelysk.read and obelysk.write"
    )]
    UnsupportedImport { module: String, name: String },
    /// An ABI import or export has the wrong type.
    #[error("`{name}` has type {found}, the guest ABI requires {expected}")]
    AbiSignature {
        name: String,
        expected: String,
        found: String,
    },
    /// An active data or element segment would trap at instantiation.
    #[error("segment out of bounds: {0}")]
    Segment(String),
    /// The module computes with floats or SIMD, which the Obelysk VM never proves: refused at
    /// upload with every construct named (name → occurrences).
    #[error(
        "floating point and SIMD are not supported (the Obelysk VM proves integer code only): {}",
        crate::lower::name_list(.0)
    )]
    NotInteger(std::collections::BTreeMap<String, usize>),
    /// The module's tables pass the sandbox's limits (one table, `MAX_TABLE_ENTRIES`).
    #[error("table limit: {0}")]
    TableLimit(String),
    /// A required export is missing.
    #[error("missing export `{0}`: guests export `memory` and `main: [] -> []`")]
    MissingExport(String),
    /// The step budget ran out.
    #[error("out of fuel: the module used its whole budget of {limit} units")]
    OutOfFuel { limit: u64 },
    /// The module tried to grow its linear memory past the limit.
    #[error(
        "memory limit: the module asked for {requested} bytes of linear memory, the limit is {limit}"
    )]
    MemoryLimit { requested: usize, limit: usize },
    /// The wasm call stack exceeded `max_wasm_stack`.
    #[error("stack overflow: the call stack exceeded {limit} bytes")]
    StackOverflow { limit: usize },
    /// The module trapped (`unreachable`, out-of-bounds access, a guest panic, a bad `read`, ...).
    #[error("trap: {0}")]
    Trap(String),
    /// The wall-clock deadline passed.
    #[error("timeout: the run exceeded its wall-clock limit of {}", humantime(*.limit))]
    Timeout { limit: Duration },
    /// The module wrote more output words than allowed.
    #[error("output limit: the module wrote more than {limit} output words")]
    OutputLimit { limit: usize },
    /// The job's input is larger than allowed.
    #[error("input too large: {len} words, the limit is {limit}")]
    InputLimit { len: usize, limit: usize },
    /// Wasmtime failed for a reason that is not the guest's fault.
    #[error("sandbox error: {0}")]
    Internal(String),
}

impl VmError {
    /// A stable, machine-readable code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            VmError::InvalidModule(_) => "invalid_module",
            VmError::UnsupportedImport { .. } => "unsupported_import",
            VmError::AbiSignature { .. } => "abi_signature",
            VmError::Segment(_) => "segment_bounds",
            VmError::NotInteger(_) => "unsupported_feature",
            VmError::TableLimit(_) => "table_limit",
            VmError::MissingExport(_) => "missing_export",
            VmError::OutOfFuel { .. } => "out_of_fuel",
            VmError::MemoryLimit { .. } => "memory_limit",
            VmError::StackOverflow { .. } => "stack_overflow",
            VmError::Trap(_) => "trap",
            VmError::Timeout { .. } => "timeout",
            VmError::OutputLimit { .. } => "output_limit",
            VmError::InputLimit { .. } => "input_limit",
            VmError::Internal(_) => "internal",
        }
    }

    /// True when the module itself is unacceptable (reject at upload), as opposed to a run failure.
    pub fn is_module_error(&self) -> bool {
        matches!(
            self,
            VmError::InvalidModule(_)
                | VmError::UnsupportedImport { .. }
                | VmError::AbiSignature { .. }
                | VmError::Segment(_)
                | VmError::MissingExport(_)
                | VmError::NotInteger(_)
                | VmError::TableLimit(_)
        )
    }
}

fn humantime(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
