// Written for Obelysk (see ../traits.cairo).
/// The multiplicative identity of a type.
pub trait One<T> {
    /// Returns 1.
    fn one() -> T;
    /// Whether `self` is 1.
    fn is_one(self: @T) -> bool;
    /// Whether `self` is not 1.
    fn is_non_one(self: @T) -> bool;
}
