// Written for Obelysk: restores the prelude that the cairo-lang 0.13.1 wheel leaves out of the
// Cairo 2.6.0 corelib. Every name below is an item that corelib's own modules define; the
// compiler brings this module's names into scope in every crate of edition 2023_01.
pub use core::{
    bool, BoolSerde, BoolBitAnd, BoolBitOr, BoolNot, BoolBitXor, BoolPartialEq,
    BoolFelt252DictValue, BoolIntoFelt252, bool_and_impl, bool_or_impl, bool_not_impl,
    bool_xor_impl, bool_to_felt252, usize, RangeCheck, SegmentArena, felt252, felt252_const,
    Felt252Serde, Felt252Add, Felt252AddEq, Felt252Sub, Felt252SubEq, Felt252Mul, Felt252MulEq,
    Felt252Neg, Felt252PartialEq, Felt252TryIntoNonZero, Felt252Default, Felt252Felt252DictValue,
    felt252_add, felt252_sub, felt252_mul, felt252_div, felt252_is_zero, dup, drop, never,
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
pub use core::nullable::{Nullable, NullableTrait, match_nullable, null, nullable_from_box};
pub use core::array::{Array, ArrayTrait, Span, SpanTrait};
pub use core::dict::{
    Felt252Dict, SquashedFelt252Dict, felt252_dict_new, felt252_dict_squash, Felt252DictTrait
};
pub use core::result::{Result, ResultTrait};
pub use core::option::{Option, OptionTrait};
pub use core::clone::Clone;
pub use core::ec::{EcOp, EcPoint, EcState};
pub use core::integer::{
    i8, I8IntoFelt252, i16, I16IntoFelt252, i32, I32IntoFelt252, i64, I64IntoFelt252, i128,
    I128IntoFelt252, NumericLiteral, u128, u128_sqrt, u128_is_zero, u8, u16, u32, u64, u256,
    u256_sqrt, Felt252TryIntoU8, U8IntoFelt252, Felt252TryIntoU16, U16IntoFelt252,
    Felt252TryIntoU32, U32IntoFelt252, Felt252TryIntoU64, U64IntoFelt252, Felt252TryIntoU128,
    U128IntoFelt252, Felt252IntoU256, Bitwise
};
pub use core::gas::{BuiltinCosts, GasBuiltin, get_builtin_costs};
pub use core::panics::{panic, Panic, PanicResult};
pub use core::serde::Serde;
pub use core::pedersen::Pedersen;
pub use core::poseidon::Poseidon;
pub use core::starknet::System;
pub use core::zeroable::{Zeroable, NonZero};
pub use core::bytes_31::{
    bytes31, bytes31_const, Bytes31IndexView, Bytes31IntoFelt252, Bytes31Trait,
    Felt252TryIntoBytes31
};
pub use core::byte_array::{ByteArray, ByteArrayIndexView, ByteArrayStringLiteral, ByteArrayTrait};
pub use core::string::StringLiteral;
