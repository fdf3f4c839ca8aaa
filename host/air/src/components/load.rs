//! `load` (IR `Load`, `[load, dst, base, off_lo, off_hi]`): `dst ← memory[x + off ..]`, 1, 2
//! or 4 bytes, zero- or sign-extended, where `x` is slot `base`'s value.
//!
//! Columns after the wide frame: flags `u8, s8, u16, s16, w32` (the registry's order), `x_lo,
//! x_hi, c1, c2, a_lo`, bytes `b0..b3`, signs `n8, n16`, `old_lo, old_hi`; then the read of
//! slot `base` (access 0, in `frame::address`), the reads of bytes 0..3 (accesses 1..4,
//! `frame::memory_bytes`), the write of slot `dst` (access 5).
//!
//! With `w2 = u16 + s16`, `w4 = w32` and `k = w2 + 3·w4` (the length minus one):
//! - flags boolean, summing to `enabler`; opcode `Σ flag · opcode`;
//! - the address gadget (`frame::address`): byte 0 at `A0`, every byte inside the memory;
//! - byte `i` is read at `A0 + i` when enabled (byte 0: `enabler`, byte 1: `w2 + w4`, bytes 2
//!   and 3: `w4`); a disabled byte is zero: `b1·(1 − w2 − w4) = 0`, `b2·(1 − w4) = 0`,
//!   `b3·(1 − w4) = 0`;
//! - signs: `n8, n16` boolean, `n8·(1 − s8) = 0`, `n16·(1 − s16) = 0`, and the top byte is
//!   `128·n + u` with `2^9·u ∈ Range16` (looked up by `s8` on `b0`, by `s16` on `b1`), so `n`
//!   is its top bit;
//! - the result `(b0 + 2^8·b1 + 0xff00·n8, b2 + 2^8·b3 + 0xffff·(n8 + n16))`. Memory bytes are
//!   below 2^8 (stores range-check them, data bytes come from the verifier), so both limbs are
//!   below 2^16 and the result needs no range check.

use num_traits::One;
use stwo::core::fields::m31::BaseField;
use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{
    Frame, Space, access, address, boolean, flagged_opcode, memory_bytes, range16, step,
};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read_wide(eval);
    let flags: [E::F; 5] = std::array::from_fn(|_| eval.next_trace_mask());
    let [x_lo, x_hi, c1, c2, a_lo] = std::array::from_fn(|_| eval.next_trace_mask());
    let b: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let [n8, n16, old_lo, old_hi] = std::array::from_fn(|_| eval.next_trace_mask());
    let e = frame.enabler.clone();
    let one = E::F::one();
    let [_, s8, u16, s16, w32] = flags.clone();
    for flag in flags.iter().chain([&n8, &n16]) {
        boolean(eval, flag);
    }
    eval.add_constraint(flags.iter().cloned().fold(-e.clone(), |acc, f| acc + f));
    step(
        eval,
        rel,
        &frame,
        flagged_opcode(Kind::Load.opcodes(), &flags),
        frame.fall_through(),
    );
    let w2 = u16 + s16.clone();
    let w4 = w32;
    let k = w2.clone() + w4.clone() * BaseField::from(3);
    let first = address(eval, rel, &frame, [x_lo, x_hi], [c1, c2, a_lo], k);
    eval.add_constraint(b[1].clone() * (one.clone() - w2.clone() - w4.clone()));
    eval.add_constraint(b[2].clone() * (one.clone() - w4.clone()));
    eval.add_constraint(b[3].clone() * (one.clone() - w4.clone()));
    eval.add_constraint(n8.clone() * (one.clone() - s8.clone()));
    eval.add_constraint(n16.clone() * (one - s16.clone()));
    for (flag, top, sign) in [(&s8, &b[0], &n8), (&s16, &b[1], &n16)] {
        let u = top.clone() - sign.clone() * BaseField::from(128);
        range16(eval, rel, flag.clone(), u * BaseField::from(1 << 9));
    }
    memory_bytes(eval, rel, &frame, first, 1, [w2, w4], b.clone(), b.clone());
    let byte = BaseField::from(1 << 8);
    let result = [
        b[0].clone() + b[1].clone() * byte + n8.clone() * BaseField::from(0xff00),
        b[2].clone() + b[3].clone() * byte + (n8 + n16) * BaseField::from(0xffff),
    ];
    access(
        eval,
        rel,
        e,
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(5),
        [old_lo, old_hi],
        result,
    );
}
