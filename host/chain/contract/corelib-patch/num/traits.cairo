// Written for Obelysk: restores a file that the cairo-lang 0.13.1 wheel leaves out of the
// Cairo 2.6.0 corelib. Declarations only; the impls live in integer.cairo and felt_252.cairo.
pub mod zero;
pub use zero::Zero;

pub mod one;
pub use one::One;

pub mod bit_size;
pub use bit_size::BitSize;

pub mod ops;
pub use ops::overflowing::{OverflowingAdd, OverflowingSub, OverflowingMul};
pub use ops::wrapping::{WrappingAdd, WrappingSub, WrappingMul};
