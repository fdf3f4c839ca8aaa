// Written for Obelysk (see ../traits.cairo).
pub mod overflowing;
pub mod wrapping;
