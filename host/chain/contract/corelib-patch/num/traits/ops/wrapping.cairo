// Written for Obelysk (see ../../traits.cairo).
/// Addition modulo the type's range.
pub trait WrappingAdd<T> {
    fn wrapping_add(self: T, v: T) -> T;
}

/// Subtraction modulo the type's range.
pub trait WrappingSub<T> {
    fn wrapping_sub(self: T, v: T) -> T;
}

/// Multiplication modulo the type's range.
pub trait WrappingMul<T> {
    fn wrapping_mul(self: T, v: T) -> T;
}

/// Wrapping arithmetic derived from the overflowing kind, dropping the overflow flag.
pub(crate) mod overflow_based {
    use core::num::traits::{OverflowingAdd, OverflowingSub, OverflowingMul};

    pub(crate) impl TWrappingAdd<T, +OverflowingAdd<T>, +Drop<T>> of super::WrappingAdd<T> {
        fn wrapping_add(self: T, v: T) -> T {
            let (result, _) = self.overflowing_add(v);
            result
        }
    }

    pub(crate) impl TWrappingSub<T, +OverflowingSub<T>, +Drop<T>> of super::WrappingSub<T> {
        fn wrapping_sub(self: T, v: T) -> T {
            let (result, _) = self.overflowing_sub(v);
            result
        }
    }

    pub(crate) impl TWrappingMul<T, +OverflowingMul<T>, +Drop<T>> of super::WrappingMul<T> {
        fn wrapping_mul(self: T, v: T) -> T {
            let (result, _) = self.overflowing_mul(v);
            result
        }
    }
}
