// Written for Obelysk (see ../traits.cairo).
/// The additive identity of a type.
pub trait Zero<T> {
    /// Returns 0.
    fn zero() -> T;
    /// Whether `self` is 0.
    fn is_zero(self: @T) -> bool;
    /// Whether `self` is not 0.
    fn is_non_zero(self: @T) -> bool;
}
