// Written for Obelysk (see v2023_01.cairo): the 2023_10 edition sees the same names, without the
// raw libfunc wrappers.
pub use core::{
    bool, BoolSerde, BoolBitAnd, BoolBitOr, BoolNot, BoolBitXor, BoolPartialEq,
    BoolFelt252DictValue, BoolIntoFelt252, usize, RangeCheck, SegmentArena, felt252, Felt252Serde,
    Felt252Add, Felt252AddEq, Felt252Sub, Felt252SubEq, Felt252Mul, Felt252MulEq, Felt252Neg,
    Felt252PartialEq, Felt252TryIntoNonZero, Felt252Default, Felt252Felt252DictValue, never,
    panic_with_felt252, assert
};
pub use core::traits::{
    Add, AddEq, BitAnd, BitNot, BitOr, BitXor, Copy, Div, DivEq, DivRem, Drop, Mul, MulEq,
    PartialEq, PartialOrd, Rem, RemEq, Sub, SubEq, TupleSize0Copy, TupleSize0Drop, Not, Neg, Into,
    TryInto, Index, IndexView, Destruct, Default, Felt252DictValue, PanicDestruct
};
pub use core::{traits, boolean, box, nullable, array, dict, result, option, clone, ec, ecdsa};
pub use core::{integer, math, num, cmp, gas, panics, serde, hash, keccak, pedersen, poseidon};
pub use core::{debug, fmt, starknet, internal, zeroable, bytes_31, byte_array, string};
pub use core::{to_byte_array, testing, metaprogramming};
pub use core::box::{Box, BoxTrait};
pub use core::nullable::{Nullable, NullableTrait};
pub use core::array::{Array, ArrayTrait, Span, SpanTrait};
pub use core::dict::{Felt252Dict, SquashedFelt252Dict, Felt252DictTrait};
pub use core::result::{Result, ResultTrait};
pub use core::option::{Option, OptionTrait};
pub use core::clone::Clone;
pub use core::ec::{EcOp, EcPoint, EcState};
pub use core::integer::{
    i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, u256, NumericLiteral, Bitwise
};
pub use core::gas::{BuiltinCosts, GasBuiltin};
pub use core::panics::{panic, Panic, PanicResult};
pub use core::serde::Serde;
pub use core::pedersen::Pedersen;
pub use core::poseidon::Poseidon;
pub use core::starknet::System;
pub use core::zeroable::NonZero;
pub use core::bytes_31::{bytes31, Bytes31Trait};
pub use core::byte_array::{ByteArray, ByteArrayTrait};
pub use core::string::StringLiteral;
