// Written for Obelysk (see ../traits.cairo).
/// The width of a type in bits.
pub trait BitSize<T> {
    /// The number of bits of `T`.
    fn bits() -> usize;
}
