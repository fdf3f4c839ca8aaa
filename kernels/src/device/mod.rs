//! Where the backend's columns live and its kernels run: a [`Device`] allocates 32-bit words,
//! copies them, and launches kernels with CUDA's calling convention (each argument passed by
//! value through an array of pointers, as `cuLaunchKernel` takes them).
//!
//! [`CudaDevice`] is a GPU. [`HostDevice`] runs the same kernel sources on the CPU (built with
//! the host C++ compiler; see `cuda/field.cuh`): it is what the backend's tests prove on when
//! no GPU is lent.

mod cuda;
mod host;

use std::cell::RefCell;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

pub use cuda::CudaDevice;
pub use host::HostDevice;

pub use crate::fft::LaunchDims;

/// An address in a device's memory.
pub type DevicePtr = u64;

/// One kernel argument, by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    U32(u32),
    Ptr(DevicePtr),
    Qm31([u32; 4]),
}

impl Arg {
    /// The argument's bytes as `cuLaunchKernel` reads them (little-endian words, zero-padded).
    pub fn words(self) -> [u32; 4] {
        match self {
            Arg::U32(v) => [v, 0, 0, 0],
            Arg::Ptr(p) => [p as u32, (p >> 32) as u32, 0, 0],
            Arg::Qm31(q) => q,
        }
    }
}

/// The module a kernel is in: a hand-written source (by file name, see
/// [`crate::kernels::SOURCES`]) or a generated one (by text, e.g. a constraint kernel).
#[derive(Clone, Copy, Debug)]
pub enum Module<'a> {
    Builtin(&'static str),
    Generated(&'a str),
}

/// Memory and kernel launches of one device. Operations are ordered: each sees the effects of
/// the ones issued before it (one stream).
pub trait Device: Send + Sync + Debug {
    /// A short description (`"host"`, `"cuda:0 NVIDIA H100"`).
    fn name(&self) -> String;
    /// `words` zeroed 32-bit words, 8-byte aligned.
    fn alloc(&self, words: usize) -> DevicePtr;
    /// Frees what [`Device::alloc`] returned for `words`.
    ///
    /// # Safety
    /// `ptr` came from this device's `alloc(words)` and is not used afterwards.
    unsafe fn free(&self, ptr: DevicePtr, words: usize);
    fn upload(&self, dst: DevicePtr, src: &[u32]);
    fn download(&self, src: DevicePtr, dst: &mut [u32]);
    fn copy(&self, dst: DevicePtr, src: DevicePtr, words: usize);
    /// The largest block worth using for kernels that synchronise within a block: a GPU runs
    /// 1024 threads at once, the host launcher pays a thread per block thread.
    fn cooperative_block_limit(&self) -> u32;
    /// Runs `kernel` of `module` over `dims`; `cooperative` kernels synchronise within a block.
    fn launch(
        &self,
        module: Module<'_>,
        kernel: &str,
        dims: LaunchDims,
        cooperative: bool,
        args: &[Arg],
    );
}

/// Device memory that frees itself.
#[derive(Debug)]
pub struct DeviceBuffer {
    device: Arc<dyn Device>,
    ptr: DevicePtr,
    words: usize,
}

impl DeviceBuffer {
    /// `words` zeroed words on `device`.
    pub fn zeroed(device: Arc<dyn Device>, words: usize) -> Self {
        let ptr = device.alloc(words);
        DeviceBuffer { device, ptr, words }
    }

    /// A copy of `data` on `device`.
    pub fn from_words(device: Arc<dyn Device>, data: &[u32]) -> Self {
        let buffer = DeviceBuffer::zeroed(device, data.len());
        buffer.device.upload(buffer.ptr, data);
        buffer
    }

    /// Device addresses, e.g. an array of column pointers for a kernel.
    pub fn from_ptrs(device: Arc<dyn Device>, ptrs: &[DevicePtr]) -> Self {
        let words: Vec<u32> = ptrs
            .iter()
            .flat_map(|p| [*p as u32, (*p >> 32) as u32])
            .collect();
        DeviceBuffer::from_words(device, &words)
    }

    pub fn ptr(&self) -> DevicePtr {
        self.ptr
    }

    /// The address of word `offset`.
    pub fn ptr_at(&self, offset: usize) -> DevicePtr {
        assert!(offset <= self.words);
        self.ptr + 4 * offset as u64
    }

    pub fn words(&self) -> usize {
        self.words
    }

    pub fn device(&self) -> &Arc<dyn Device> {
        &self.device
    }

    pub fn to_words(&self) -> Vec<u32> {
        self.read(0, self.words)
    }

    /// `len` words from word `offset`.
    pub fn read(&self, offset: usize, len: usize) -> Vec<u32> {
        assert!(
            offset + len <= self.words,
            "read past the end of a device buffer"
        );
        let mut out = vec![0; len];
        self.device.download(self.ptr_at(offset), &mut out);
        out
    }

    /// Writes `data` from word `offset`.
    pub fn write(&mut self, offset: usize, data: &[u32]) {
        assert!(
            offset + data.len() <= self.words,
            "write past the end of a device buffer"
        );
        self.device.upload(self.ptr_at(offset), data);
    }
}

impl Clone for DeviceBuffer {
    fn clone(&self) -> Self {
        let copy = DeviceBuffer::zeroed(self.device.clone(), self.words);
        self.device.copy(copy.ptr, self.ptr, self.words);
        copy
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated by this device with this size; dropped once.
        unsafe { self.device.free(self.ptr, self.words) };
    }
}

static CURRENT: RwLock<Option<Arc<dyn Device>>> = RwLock::new(None);

thread_local! {
    static THREAD_DEVICE: RefCell<Option<Arc<dyn Device>>> = const { RefCell::new(None) };
}

/// Makes `device` the one new columns are allocated on, for every thread not bound to another
/// (stwo builds columns without saying where; existing columns keep their own device).
pub fn set_current(device: Arc<dyn Device>) {
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(device);
}

/// Binds the calling thread to `device`, over the process-wide one.
pub fn bind_thread(device: Arc<dyn Device>) {
    THREAD_DEVICE.with(|d| *d.borrow_mut() = Some(device));
}

/// A rayon pool of `threads` threads bound to `device`. A proof run inside `pool.install(..)`
/// allocates every column on `device`, whichever of the pool's threads stwo builds it on: one
/// pool per GPU lets executors prove on different GPUs at once.
pub fn thread_pool(device: Arc<dyn Device>, threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("obelysk-device-{i}"))
        .start_handler(move |_| bind_thread(device.clone()))
        .build()
        .expect("starting a device thread pool")
}

/// The calling thread's device ([`bind_thread`]), else the process-wide one ([`set_current`]).
/// Panics if neither was set: a backend bug, not bad input.
pub fn current() -> Arc<dyn Device> {
    if let Some(device) = THREAD_DEVICE.with(|d| d.borrow().clone()) {
        return device;
    }
    CURRENT
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("obelysk_cuda::device::set_current was not called before using CudaBackend")
}
