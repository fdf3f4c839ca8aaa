//! The CUDA side of Obelysk.
//!
//! Today: [`detect`], an honest report of the CUDA devices this machine has, found by loading
//! the driver library at run time (so this crate builds and runs with no CUDA installed).
//! Later: the `CudaBackend` for stwo with kernels compiled by NVRTC.

mod detect;

pub use detect::{GpuDevice, GpuStatus, detect};
