//! `mul_wide` (IR `MulWide`, `[mul_wide, dst, lhs, rhs]`): `(dst, dst + 1) ← lhs · rhs`, the
//! full 64-bit product of two u32s, low word first (an i64 product is lowered to one of these
//! and two `mul`s).
//!
//! Columns after the frame: the bytes `x0..x3, y0..y3, r0..r7` (little-endian), carries
//! `k0..k5`, `old_lo, old_hi, old2_lo, old2_hi`, then reads of `lhs` (x), `rhs` (y) and the
//! writes of `dst` (low word) and `dst + 1` (high word).
//!
//! As in `mul`, byte by byte, with `c_n = Σ_{i+j=n} x_i·y_j`:
//! - `c_0 = r0 + 2^8·k0`, `c_n + k_{n−1} = r_n + 2^8·k_n` for `0 < n < 6`,
//!   `c_6 + k5 = r6 + 2^8·r7` (the product is below 2^64, so the last carry is the top byte);
//! - every byte is one (`Bytes(pair, ·, ·, 0)`, two per lookup); every carry is in `Range10`
//!   (honest carries are at most 1020).
//!
//! Both sides of each equation are below 2^19, so they hold over the integers and
//! `Σ r_n·2^(8n) = x·y` exactly.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Space, access, constant, opcode, step, word_of_bytes};
use super::mul::byte_product;
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let x: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let y: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let r: [E::F; 8] = std::array::from_fn(|_| eval.next_trace_mask());
    let k: [E::F; 6] = std::array::from_fn(|_| eval.next_trace_mask());
    let old: [E::F; 2] = std::array::from_fn(|_| eval.next_trace_mask());
    let old2: [E::F; 2] = std::array::from_fn(|_| eval.next_trace_mask());
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::MulWide),
        frame.fall_through(),
    );
    // Seven columns; the last one's carry out is the top byte.
    let out: Vec<E::F> = k.iter().chain([&r[7]]).cloned().collect();
    byte_product(eval, rel, &frame, [&x, &y], &r, &out, &k);
    let dst = frame.fp.clone() + frame.a.clone();
    let e = frame.enabler.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        dst.clone(),
        frame.ts(2),
        old,
        word_of_bytes(&r[..4]),
    );
    access(
        eval,
        rel,
        e,
        Space::Stack,
        dst + constant::<E::F>(1),
        frame.ts(3),
        old2,
        word_of_bytes(&r[4..]),
    );
}
