//! `store` (IR `Store`, `[store, src, base, off_lo, off_hi]`): `memory[x + off ..] ← v`, the
//! low 1, 2 or 4 bytes of slot `src`'s value `v`, where `x` is slot `base`'s value.
//!
//! Columns after the wide frame: flags `b8, b16, w32` (the registry's order), `x_lo, x_hi,
//! c1, c2, a_lo`, the value's bytes `q0..q3`, the old bytes `o0..o3`; then the read of slot
//! `base` (access 0, in `frame::address`), the read of slot `src` (access 1), the writes of
//! bytes 0..3 (accesses 2..5, `frame::memory_bytes`).
//! - flags boolean, summing to `enabler`; opcode `Σ flag · opcode`;
//! - `v = (q0 + 2^8·q1, q2 + 2^8·q3)` with `Bytes(pair, q0, q1)` and `Bytes(pair, q2, q3)`:
//!   the bytes of the value read (its limbs are below 2^16, so the split is unique), and every
//!   byte written to memory is below 2^8;
//! - the address gadget (`frame::address`) with `k = b16 + 3·w32`; byte `i` is written at
//!   `A0 + i` when enabled (byte 0: `enabler`, byte 1: `b16 + w32`, bytes 2 and 3: `w32`).
//!   The other bytes are not accessed, so no neighbour of the stored bytes can change.

use stwo::core::fields::m31::BaseField;
use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{
    Frame, Space, access, address, boolean, byte_pair, flagged_opcode, memory_bytes, step,
};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read_wide(eval);
    let flags: [E::F; 3] = std::array::from_fn(|_| eval.next_trace_mask());
    let [x_lo, x_hi, c1, c2, a_lo] = std::array::from_fn(|_| eval.next_trace_mask());
    let q: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let o: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let e = frame.enabler.clone();
    let [_, b16, w32] = flags.clone();
    for flag in &flags {
        boolean(eval, flag);
    }
    eval.add_constraint(flags.iter().cloned().fold(-e.clone(), |acc, f| acc + f));
    step(
        eval,
        rel,
        &frame,
        flagged_opcode(Kind::Store.opcodes(), &flags),
        frame.fall_through(),
    );
    for pair in q.chunks(2) {
        byte_pair(eval, rel, e.clone(), pair[0].clone(), pair[1].clone());
    }
    let k = b16.clone() + w32.clone() * BaseField::from(3);
    let first = address(eval, rel, &frame, [x_lo, x_hi], [c1, c2, a_lo], k);
    let byte = BaseField::from(1 << 8);
    let v = [
        q[0].clone() + q[1].clone() * byte,
        q[2].clone() + q[3].clone() * byte,
    ];
    access(
        eval,
        rel,
        e,
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(1),
        v.clone(),
        v,
    );
    memory_bytes(eval, rel, &frame, first, 2, [b16, w32], o, q);
}
