//! Runs kernel sources on the CPU: a `.cu` file built as C++ into a shared library (see the
//! host section of `cuda/field.cuh`), launched block by block with each block's threads running
//! concurrently so `__syncthreads` and shared memory behave as on a GPU.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `.cu` file compiled for the host.
pub struct HostModule {
    library: libloading::Library,
}

type Launch = unsafe extern "C" fn(extern "C" fn(*mut c_void), *mut c_void, u32, u32, u32, i32);

extern "C" fn run_body<F: Fn() + Sync>(ctx: *mut c_void) {
    // SAFETY: `ctx` is the `&F` that `HostModule::launch` passed, alive for the whole launch.
    let body = unsafe { &*(ctx as *const F) };
    body();
}

fn cuda_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cuda")
}

impl HostModule {
    /// Builds `kernels/cuda/<file>` with the host C++ compiler (panics with its message).
    pub fn build(file: &str) -> Self {
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("host-kernels");
        std::fs::create_dir_all(&out_dir).expect("scratch dir");
        let library_path = out_dir.join(format!("{file}-{}.so", std::process::id()));
        let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let output = Command::new(&compiler)
            .args([
                "-std=c++20",
                "-O2",
                "-pthread",
                "-shared",
                "-fPIC",
                "-w",
                "-x",
                "c++",
            ])
            .arg("-I")
            .arg(cuda_dir())
            .arg(cuda_dir().join(file))
            .arg("-o")
            .arg(&library_path)
            .output()
            .unwrap_or_else(|e| panic!("running the host C++ compiler `{compiler}`: {e}"));
        assert!(
            output.status.success(),
            "{file} does not compile as C++:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // SAFETY: a library we just built from our own sources; its initialisers are trivial.
        let library =
            unsafe { libloading::Library::new(&library_path) }.expect("load host kernels");
        let _ = std::fs::remove_file(&library_path);
        HostModule { library }
    }

    /// The kernel `name`, as a function pointer of type `T` (an `unsafe extern "C" fn`).
    pub fn kernel<T: Copy>(&self, name: &str) -> T {
        // SAFETY: the caller names the kernel's C signature.
        unsafe {
            *self
                .library
                .get::<T>(name.as_bytes())
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        }
    }

    /// Runs `body` once per thread of a `grid × block` launch (body calls the kernel), the
    /// threads of a block one after another: for kernels without `__syncthreads`.
    pub fn launch<F: Fn() + Sync>(&self, grid: (u32, u32), block: u32, body: F) {
        self.run(grid, block, false, body);
    }

    /// Like [`HostModule::launch`], with each block's threads running concurrently.
    pub fn launch_cooperative<F: Fn() + Sync>(&self, grid: (u32, u32), block: u32, body: F) {
        self.run(grid, block, true, body);
    }

    fn run<F: Fn() + Sync>(&self, grid: (u32, u32), block: u32, cooperative: bool, body: F) {
        let launch: Launch = self.kernel("obelysk_host_launch");
        let ctx = &body as *const F as *mut c_void;
        // SAFETY: `body` outlives the call, which joins every thread before returning.
        unsafe {
            launch(
                run_body::<F>,
                ctx,
                grid.0,
                grid.1,
                block,
                cooperative as i32,
            )
        };
    }
}

/// A raw pointer the launch threads may share (kernels write disjoint elements).
#[derive(Clone, Copy)]
pub struct Shared<T>(pub *mut T);
// SAFETY: only used to hand buffers to kernels, whose threads touch disjoint elements or
// synchronise through the kernel's own barriers and atomics.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the raw field).
    pub fn get(self) -> *mut T {
        self.0
    }
}
