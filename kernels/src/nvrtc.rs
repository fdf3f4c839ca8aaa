//! Run-time compilation of kernel sources to PTX with NVRTC, loaded dynamically (no CUDA
//! toolkit is needed to build this crate; `libnvrtc.so.13` only has to be findable at run time).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use cudarc::nvrtc::{self, CompileError, CompileOptions, Ptx};

/// The virtual architecture kernels are compiled for when no device says otherwise (Hopper).
pub const DEFAULT_ARCH: &str = "compute_90";

/// Why a source did not become PTX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NvrtcError {
    /// `libnvrtc` could not be loaded.
    Unavailable,
    /// NVRTC rejected the source; `log` is its message.
    Compile { log: String },
}

impl fmt::Display for NvrtcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NvrtcError::Unavailable => write!(
                f,
                "NVRTC (libnvrtc.so) was not found; install the CUDA toolkit or PyPI's \
                 nvidia-cuda-nvrtc and put its lib folder on LD_LIBRARY_PATH"
            ),
            NvrtcError::Compile { log } => write!(f, "NVRTC rejected the kernel source:\n{log}"),
        }
    }
}

impl std::error::Error for NvrtcError {}

/// True when `libnvrtc` can be loaded.
pub fn is_available() -> bool {
    // SAFETY: only tries to dlopen the library (cudarc would panic on first use otherwise).
    unsafe { nvrtc::sys::is_culib_present() }
}

/// NVRTC's version, `(major, minor)`, when it is available.
pub fn version() -> Option<(i32, i32)> {
    if !is_available() {
        return None;
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present; both out-pointers are valid.
    let status = unsafe { nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    (status == nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
}

/// Compiles one `.cu` source for `arch` (e.g. `compute_90`).
pub fn compile(source: &str, arch: &'static str) -> Result<Ptx, NvrtcError> {
    if !is_available() {
        return Err(NvrtcError::Unavailable);
    }
    let options = CompileOptions {
        arch: Some(arch),
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    nvrtc::compile_ptx_with_opts(source, options).map_err(|e| match e {
        CompileError::CompileError { log, .. } => NvrtcError::Compile {
            log: log.to_string_lossy().into_owned(),
        },
        other => NvrtcError::Compile {
            log: format!("{other:?}"),
        },
    })
}

/// Compiled modules by source text, for one architecture: each kernel is compiled once per
/// process however many proofs use it. Thread-safe.
pub struct PtxCache {
    arch: &'static str,
    modules: Mutex<HashMap<String, Arc<Ptx>>>,
}

impl PtxCache {
    pub fn new(arch: &'static str) -> Self {
        PtxCache {
            arch,
            modules: Mutex::new(HashMap::new()),
        }
    }

    /// The PTX for `source`, compiling it on first use.
    pub fn get(&self, source: &str) -> Result<Arc<Ptx>, NvrtcError> {
        if let Some(ptx) = self.lock().get(source) {
            return Ok(ptx.clone());
        }
        // Compiled outside the lock: a slow compile must not stall lookups of other kernels.
        let ptx = Arc::new(compile(source, self.arch)?);
        Ok(self.lock().entry(source.to_owned()).or_insert(ptx).clone())
    }

    /// Number of distinct sources compiled so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Ptx>>> {
        self.modules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
