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
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::frame::{Frame, Space, access, byte_pair, constant, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let x: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let y: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let r: [E::F; 8] = std::array::from_fn(|_| eval.next_trace_mask());
    let k: [E::F; 6] = std::array::from_fn(|_| eval.next_trace_mask());
    let old: [E::F; 2] = std::array::from_fn(|_| eval.next_trace_mask());
    let old2: [E::F; 2] = std::array::from_fn(|_| eval.next_trace_mask());
    let e = frame.enabler.clone();
    let byte = constant::<E::F>(1 << 8);
    for n in 0..7usize {
        let mut lhs = (n.saturating_sub(3)..=n.min(3))
            .map(|i| x[i].clone() * y[n - i].clone())
            .fold(constant::<E::F>(0), |acc, term| acc + term);
        if n > 0 {
            lhs += k[n - 1].clone();
        }
        let carry = if n < 6 { k[n].clone() } else { r[7].clone() };
        eval.add_constraint(lhs - r[n].clone() - carry * byte.clone());
    }
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::MulWide),
        frame.fall_through(),
    );
    for pair in x.chunks(2).chain(y.chunks(2)).chain(r.chunks(2)) {
        byte_pair(eval, rel, e.clone(), pair[0].clone(), pair[1].clone());
    }
    for carry in &k {
        eval.add_to_relation(RelationEntry::new(
            &rel.range10,
            E::EF::from(e.clone()),
            std::slice::from_ref(carry),
        ));
    }
    let fp = frame.fp.clone();
    let limb = |lo: &E::F, hi: &E::F| lo.clone() + hi.clone() * byte.clone();
    let (xv, yv) = (
        [limb(&x[0], &x[1]), limb(&x[2], &x[3])],
        [limb(&y[0], &y[1]), limb(&y[2], &y[3])],
    );
    for (j, (slot, value)) in [(&frame.b, xv), (&frame.c, yv)].into_iter().enumerate() {
        access(
            eval,
            rel,
            e.clone(),
            Space::Stack,
            fp.clone() + slot.clone(),
            frame.ts(j as u32),
            value.clone(),
            value,
        );
    }
    let low = [limb(&r[0], &r[1]), limb(&r[2], &r[3])];
    let high = [limb(&r[4], &r[5]), limb(&r[6], &r[7])];
    let dst = fp + frame.a.clone();
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        dst.clone(),
        frame.ts(2),
        old,
        low,
    );
    access(
        eval,
        rel,
        e,
        Space::Stack,
        dst + constant::<E::F>(1),
        frame.ts(3),
        old2,
        high,
    );
}
