//! [`CudaDevice`]: a CUDA GPU through the driver API (loaded at run time by cudarc), one
//! stream, kernels compiled by NVRTC for the device's architecture and loaded once each.
//!
//! Allocation is stream-ordered (`cuMemAllocAsync`: the driver's memory pool recycles freed
//! blocks without synchronising). Copies to and from the host wait for the stream.

use std::collections::HashMap;
use std::ffi::{CString, c_void};
use std::sync::Mutex;

use cudarc::driver::{result, sys};

use super::{Arg, Device, DevicePtr, LaunchDims, Module};
use crate::kernels;
use crate::nvrtc::PtxCache;

/// One GPU, its primary context and a stream.
pub struct CudaDevice {
    name: String,
    context: sys::CUcontext,
    stream: sys::CUstream,
    ptx: PtxCache,
    functions: Mutex<HashMap<(String, String), FunctionHandle>>,
}

#[derive(Clone, Copy)]
struct FunctionHandle(sys::CUfunction);

// SAFETY: CUDA contexts, streams and functions may be used from any thread once the context is
// made current there (every operation below does so first).
unsafe impl Send for CudaDevice {}
unsafe impl Sync for CudaDevice {}
unsafe impl Send for FunctionHandle {}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaDevice({})", self.name)
    }
}

fn check<T>(what: &str, r: Result<T, result::DriverError>) -> T {
    r.unwrap_or_else(|e| panic!("CUDA {what} failed: {e:?}"))
}

impl CudaDevice {
    /// Opens GPU `ordinal`. Errors (no driver, no such device) are returned, never panics.
    pub fn new(ordinal: usize) -> Result<Self, String> {
        // SAFETY: only tries to dlopen the driver (cudarc panics on first use otherwise).
        if !unsafe { sys::is_culib_present() } {
            return Err("the CUDA driver library (libcuda) was not found".into());
        }
        if !crate::nvrtc::is_available() {
            return Err(crate::nvrtc::NvrtcError::Unavailable.to_string());
        }
        result::init().map_err(|e| format!("cuInit: {e:?}"))?;
        let device =
            result::device::get(ordinal as i32).map_err(|e| format!("device {ordinal}: {e:?}"))?;
        let name = result::device::get_name(device).map_err(|e| format!("{e:?}"))?;
        use sys::CUdevice_attribute::*;
        // SAFETY: `device` is a valid handle; the context is retained for the process.
        let (major, minor, context) = unsafe {
            let major =
                result::device::get_attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                    .map_err(|e| format!("{e:?}"))?;
            let minor =
                result::device::get_attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
                    .map_err(|e| format!("{e:?}"))?;
            let context = result::primary_ctx::retain(device).map_err(|e| format!("{e:?}"))?;
            result::ctx::set_current(context).map_err(|e| format!("{e:?}"))?;
            (major, minor, context)
        };
        let stream = result::stream::create(result::stream::StreamKind::NonBlocking)
            .map_err(|e| format!("stream: {e:?}"))?;
        let arch: &'static str = Box::leak(format!("compute_{major}{minor}").into_boxed_str());
        Ok(CudaDevice {
            name: format!("cuda:{ordinal} {name}"),
            context,
            stream,
            ptx: PtxCache::new(arch),
            functions: Mutex::new(HashMap::new()),
        })
    }

    fn bind(&self) {
        // SAFETY: the context is retained for the device's lifetime.
        check("cuCtxSetCurrent", unsafe {
            result::ctx::set_current(self.context)
        });
    }

    fn synchronize(&self) {
        // SAFETY: our stream, on the bound context.
        check("cuStreamSynchronize", unsafe {
            result::stream::synchronize(self.stream)
        });
    }

    fn function(&self, module: Module<'_>, kernel: &str) -> sys::CUfunction {
        let (key, source) = match module {
            Module::Builtin(name) => (name.to_owned(), None),
            Module::Generated(text) => (text.to_owned(), Some(text)),
        };
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = functions.get(&(key.clone(), kernel.to_owned())) {
            return f.0;
        }
        let text = match source {
            Some(text) => text.to_owned(),
            None => {
                let (_, raw) = kernels::SOURCES
                    .iter()
                    .find(|(n, _)| *n == key)
                    .unwrap_or_else(|| panic!("unknown kernel source {key}"));
                kernels::with_headers(raw)
            }
        };
        let ptx = self.ptx.get(&text).unwrap_or_else(|e| panic!("{e}"));
        let image = CString::new(ptx.to_src()).expect("PTX has no NUL bytes");
        // SAFETY: `image` is NUL-terminated PTX; the module lives for the process.
        let function = unsafe {
            let module = check(
                "cuModuleLoadData",
                result::module::load_data(image.as_ptr() as *const c_void),
            );
            check(
                "cuModuleGetFunction",
                result::module::get_function(module, CString::new(kernel).expect("kernel name")),
            )
        };
        functions.insert((key, kernel.to_owned()), FunctionHandle(function));
        function
    }
}

impl Device for CudaDevice {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn cooperative_block_limit(&self) -> u32 {
        1024
    }

    fn alloc(&self, words: usize) -> DevicePtr {
        self.bind();
        let bytes = 4 * words.max(2);
        // SAFETY: our stream; the memory is zeroed before any use is ordered after it.
        unsafe {
            let ptr = check("cuMemAllocAsync", result::malloc_async(self.stream, bytes));
            check(
                "cuMemsetD8Async",
                result::memset_d8_async(ptr, 0, bytes, self.stream),
            );
            ptr
        }
    }

    unsafe fn free(&self, ptr: DevicePtr, _words: usize) {
        self.bind();
        // SAFETY: (caller) allocated here, not used afterwards; the free is stream-ordered.
        check("cuMemFreeAsync", unsafe {
            result::free_async(ptr, self.stream)
        });
    }

    fn upload(&self, dst: DevicePtr, src: &[u32]) {
        self.bind();
        // SAFETY: `dst` holds `src.len()` words; the copy completes before `src` may go.
        check("cuMemcpyHtoDAsync", unsafe {
            result::memcpy_htod_async(dst, src, self.stream)
        });
        self.synchronize();
    }

    fn download(&self, src: DevicePtr, dst: &mut [u32]) {
        self.bind();
        // SAFETY: `src` holds `dst.len()` words; we wait before reading `dst`.
        check("cuMemcpyDtoHAsync", unsafe {
            result::memcpy_dtoh_async(dst, src, self.stream)
        });
        self.synchronize();
    }

    fn copy(&self, dst: DevicePtr, src: DevicePtr, words: usize) {
        self.bind();
        // SAFETY: both ranges are live device allocations of at least `words` words.
        check("cuMemcpyDtoDAsync", unsafe {
            result::memcpy_dtod_async(dst, src, 4 * words, self.stream)
        });
    }

    fn launch(
        &self,
        module: Module<'_>,
        kernel: &str,
        dims: LaunchDims,
        _cooperative: bool,
        args: &[Arg],
    ) {
        self.bind();
        let function = self.function(module, kernel);
        let mut slots: Vec<[u32; 4]> = args.iter().map(|arg| arg.words()).collect();
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|s| s.as_mut_ptr() as *mut c_void)
            .collect();
        // SAFETY: the parameters match the kernel's signature (the backend passes them as the
        // kernel declares); cuLaunchKernel copies the values before returning.
        check("cuLaunchKernel", unsafe {
            result::launch_kernel(
                function,
                (dims.grid.0, dims.grid.1, 1),
                (dims.block, 1, 1),
                0,
                self.stream,
                &mut params,
            )
        });
    }
}
