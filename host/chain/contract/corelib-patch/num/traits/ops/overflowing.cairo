// Written for Obelysk (see ../../traits.cairo).
/// Addition that reports whether it wrapped.
pub trait OverflowingAdd<T> {
    /// `self + v` modulo the type's range, and whether that wrapped.
    fn overflowing_add(self: T, v: T) -> (T, bool);
}

/// Subtraction that reports whether it wrapped.
pub trait OverflowingSub<T> {
    /// `self - v` modulo the type's range, and whether that wrapped.
    fn overflowing_sub(self: T, v: T) -> (T, bool);
}

/// Multiplication that reports whether it wrapped.
pub trait OverflowingMul<T> {
    /// `self * v` modulo the type's range, and whether that wrapped.
    fn overflowing_mul(self: T, v: T) -> (T, bool);
}
