//! [`HostDevice`]: kernels built with the host C++ compiler and run on the CPU, with
//! `cuLaunchKernel`'s calling convention (a generated `<kernel>__params(void**)` shim per
//! kernel unpacks the argument array). Memory is ordinary heap memory.

use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use super::{Arg, Device, DevicePtr, LaunchDims, Module};
use crate::kernels;

/// Runs kernels on the CPU: blocks in turn, a cooperative block's threads as real threads.
#[derive(Debug, Default)]
pub struct HostDevice {
    builtin: OnceLock<Arc<libloading::Library>>,
    generated: Mutex<HashMap<String, Arc<libloading::Library>>>,
    /// Allocations made so far (tests check where columns landed).
    allocations: std::sync::atomic::AtomicUsize,
}

/// One launch at a time in the process, as on a stream: the launcher's grid state and
/// `__shared__` arrays live in the library, which every `HostDevice` shares (one file per
/// source, loaded once), and stwo calls in from rayon threads.
static LAUNCHING: Mutex<()> = Mutex::new(());

type Launcher = unsafe extern "C" fn(extern "C" fn(*mut c_void), *mut c_void, u32, u32, u32, i32);
type ParamsShim = unsafe extern "C" fn(*mut *mut c_void);

struct LaunchCtx {
    shim: ParamsShim,
    params: *mut *mut c_void,
}

extern "C" fn run_thread(ctx: *mut c_void) {
    // SAFETY: `ctx` is the `LaunchCtx` that `launch` keeps alive until every thread joined; the
    // kernel only reads the parameter array.
    let ctx = unsafe { &*(ctx as *const LaunchCtx) };
    unsafe { (ctx.shim)(ctx.params) };
}

impl HostDevice {
    pub fn new() -> Self {
        HostDevice::default()
    }

    /// How many buffers were allocated on this device so far.
    pub fn allocations(&self) -> usize {
        self.allocations.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn library(&self, module: Module<'_>) -> Arc<libloading::Library> {
        match module {
            Module::Builtin(_) => self
                .builtin
                .get_or_init(|| {
                    let all: String = kernels::SOURCES.iter().map(|(_, text)| *text).collect();
                    Arc::new(build(&kernels::with_headers(&all)))
                })
                .clone(),
            Module::Generated(source) => {
                let mut generated = self.generated.lock().unwrap_or_else(|e| e.into_inner());
                generated
                    .entry(source.to_owned())
                    .or_insert_with(|| Arc::new(build(source)))
                    .clone()
            }
        }
    }
}

impl Device for HostDevice {
    fn name(&self) -> String {
        "host".into()
    }

    /// One: a block of one thread runs inline, with no thread to start.
    fn cooperative_block_limit(&self) -> u32 {
        1
    }

    fn alloc(&self, words: usize) -> DevicePtr {
        self.allocations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let storage: Box<[u64]> = vec![0u64; words.div_ceil(2).max(1)].into_boxed_slice();
        Box::into_raw(storage) as *mut u64 as DevicePtr
    }

    unsafe fn free(&self, ptr: DevicePtr, words: usize) {
        let len = words.div_ceil(2).max(1);
        // SAFETY: (caller) `ptr` is the box `alloc(words)` leaked, freed once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr as *mut u64, len)) });
    }

    fn upload(&self, dst: DevicePtr, src: &[u32]) {
        // SAFETY: `dst` addresses at least `src.len()` words of a live allocation (the
        // buffer types check bounds before calling).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u32, src.len()) };
    }

    fn download(&self, src: DevicePtr, dst: &mut [u32]) {
        // SAFETY: as in `upload`.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u32, dst.as_mut_ptr(), dst.len()) };
    }

    fn copy(&self, dst: DevicePtr, src: DevicePtr, words: usize) {
        // SAFETY: as in `upload`; `std::ptr::copy` also allows overlap.
        unsafe { std::ptr::copy(src as *const u32, dst as *mut u32, words) };
    }

    fn launch(
        &self,
        module: Module<'_>,
        kernel: &str,
        dims: LaunchDims,
        cooperative: bool,
        args: &[Arg],
    ) {
        let library = self.library(module);
        // SAFETY: symbols of a library we built; the shim's signature is the one we generated.
        let (launcher, shim) = unsafe {
            let launcher: Launcher = *library.get(b"obelysk_host_launch").expect("launcher");
            let shim: ParamsShim = *library
                .get(format!("{kernel}__params").as_bytes())
                .unwrap_or_else(|e| panic!("kernel {kernel}: {e}"));
            (launcher, shim)
        };
        let mut slots: Vec<[u32; 4]> = args.iter().map(|arg| arg.words()).collect();
        let _one_at_a_time = LAUNCHING.lock().unwrap_or_else(|e| e.into_inner());
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|s| s.as_mut_ptr() as *mut c_void)
            .collect();
        let ctx = LaunchCtx {
            shim,
            params: params.as_mut_ptr(),
        };
        // SAFETY: `ctx`, `params` and `slots` outlive the call, which joins all threads.
        unsafe {
            launcher(
                run_thread,
                &ctx as *const LaunchCtx as *mut c_void,
                dims.grid.0,
                dims.grid.1,
                dims.block,
                cooperative as i32,
            )
        };
    }
}

/// The `<kernel>__params(void** p)` shims for every `__global__` kernel in `source`.
fn params_shims(source: &str) -> String {
    let mut shims = String::new();
    for (name, types) in kernel_signatures(source) {
        let args: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("*({t}*)p[{i}]"))
            .collect();
        shims.push_str(&format!(
            "extern \"C\" void {name}__params(void** p) {{ {name}({}); }}\n",
            args.join(", ")
        ));
    }
    shims
}

/// `(name, parameter types)` of each `__global__ void name(...)` in `source`.
fn kernel_signatures(source: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let marker = "__global__ void ";
    let mut rest = source;
    while let Some(at) = rest.find(marker) {
        rest = &rest[at + marker.len()..];
        let open = rest.find('(').expect("kernel parameter list");
        let close = rest.find(')').expect("kernel parameter list");
        let name = rest[..open].trim().to_owned();
        let types = rest[open + 1..close]
            .split(',')
            .map(|param| {
                let param = param.replace("__restrict__", " ");
                let param = param.trim();
                let split = param
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .expect("a parameter has a type and a name");
                param[..=split].trim().to_owned()
            })
            .collect();
        out.push((name, types));
        rest = &rest[close..];
    }
    out
}

/// Builds `source` (plus its shims) into a shared library, cached on disk by content.
fn build(source: &str) -> libloading::Library {
    let text = format!("{source}\n{}", params_shims(source));
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&text, &compiler).hash(&mut hasher);
    let dir = std::env::temp_dir().join("obelysk-host-kernels");
    std::fs::create_dir_all(&dir).expect("a scratch folder for host kernels");
    let library_path = dir.join(format!("{:016x}.so", hasher.finish()));
    if !library_path.exists() {
        let unique = format!("{:016x}-{}", hasher.finish(), std::process::id());
        let source_path: PathBuf = dir.join(format!("{unique}.cpp"));
        let partial = dir.join(format!("{unique}.so"));
        std::fs::write(&source_path, &text).expect("write host kernel source");
        let output = Command::new(&compiler)
            .args([
                "-std=c++20",
                "-O2",
                "-pthread",
                "-shared",
                "-fPIC",
                "-w",
                "-o",
            ])
            .arg(&partial)
            .arg(&source_path)
            .output()
            .unwrap_or_else(|e| panic!("running the host C++ compiler `{compiler}`: {e}"));
        let _ = std::fs::remove_file(&source_path);
        assert!(
            output.status.success(),
            "host kernels do not compile:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&partial, &library_path).expect("publish host kernel library");
    }
    // SAFETY: a library built from our own sources; its initialisers are trivial.
    unsafe { libloading::Library::new(&library_path) }.expect("load host kernel library")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_signatures_are_parsed() {
        let sigs = kernel_signatures(
            "extern \"C\" __global__ void k(u32* const* __restrict__ cols, qm31 alpha, u32 n) {}\n\
             extern \"C\" __global__ void j(const u32* __restrict__ a) {}",
        );
        assert_eq!(
            sigs,
            vec![
                (
                    "k".to_owned(),
                    vec![
                        "u32* const*".to_owned(),
                        "qm31".to_owned(),
                        "u32".to_owned()
                    ]
                ),
                ("j".to_owned(), vec!["const u32*".to_owned()]),
            ]
        );
    }
}
