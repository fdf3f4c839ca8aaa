//! The CUDA side of Obelysk.
//!
//! - [`CudaBackend`] ([`backend`]): stwo's backend with columns in device memory and every
//!   proving operation a kernel of ours; proofs byte-identical to `SimdBackend`'s.
//! - [`device`]: where it runs: a GPU (`CudaDevice`, through cudarc) or `HostDevice` (the same
//!   kernels built for the CPU, for machines without a GPU and for tests).
//! - [`detect`]: an honest report of the CUDA devices this machine has, found by loading the
//!   driver library at run time (so this crate builds and runs with no CUDA installed).
//! - [`constraints`]: the constraint compiler, any `FrameworkEval` to a CUDA kernel.
//! - [`kernels`]: the hand-written kernel sources (`kernels/cuda/*.cu`); [`fft`] plans their
//!   circle-FFT launches, [`grind`] the proof-of-work search, [`domain`] the tables and
//!   constants the quotient and barycentric kernels read.
//! - [`nvrtc`]: run-time compilation of kernel sources to PTX, cached by source text.

pub mod backend;
pub mod constraints;
mod detect;
pub mod device;
pub mod domain;
pub mod fft;
pub mod grind;
pub mod kernels;
pub mod nvrtc;

pub use backend::CudaBackend;
pub use detect::{GpuDevice, GpuStatus, detect};
