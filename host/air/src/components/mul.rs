//! `mul` (IR `Binary{Mul}`, `[mul, dst, lhs, rhs]`): `dst ← lhs · rhs mod 2^32`.
//!
//! Columns after the frame: the bytes `x0..x3, y0..y3, r0..r3` (little-endian), carries
//! `k0..k3`, `old_lo, old_hi`, then reads of `lhs` (x), `rhs` (y) and the write of `dst` (r).
//!
//! A 16-bit limb product reaches 2^32 > p, so the product is taken byte by byte. With
//! `c_n = Σ_{i+j=n} x_i·y_j`:
//! - `c_0 = r0 + 2^8·k0`, `c_1 + k0 = r1 + 2^8·k1`, `c_2 + k1 = r2 + 2^8·k2`,
//!   `c_3 + k2 = r3 + 2^8·k3` (the bytes of the product above 2^32 are dropped);
//! - every byte is one: `Bytes(pair, x0, x1, 0)`, `Bytes(pair, x2, x3, 0)`, and so for y and
//!   r; every carry is in `Range10` (honest carries are at most 1018).
//!
//! Then both sides of each equation are below 2^20, so they hold over the integers, and `r`
//! is the low 32 bits of `x·y`. The values read are `(x0 + 2^8·x1, x2 + 2^8·x3)`, and so for
//! y; the value written is `(r0 + 2^8·r1, r2 + 2^8·r3)`.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::frame::{Frame, Space, access, byte_pair, constant, opcode, step, word_of_bytes};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let x: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let y: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let r: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let k: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let old = [eval.next_trace_mask(), eval.next_trace_mask()];
    step(eval, rel, &frame, opcode(Opcode::Mul), frame.fall_through());
    byte_product(eval, rel, &frame, [&x, &y], &r, &k, &k);
    access(
        eval,
        rel,
        frame.enabler.clone(),
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(2),
        old,
        word_of_bytes(&r),
    );
}

/// The byte product shared with `mul_wide`: with `c_n = Σ_{i+j=n} x_i·y_j` and `out[n]` the
/// carry out of column `n` (`out[n − 1]` carried in), `c_n + out[n − 1] = r_n + 2^8·out[n]`
/// for every `n < out.len()`; the bytes of x, y and r are checked (`Bytes(pair)`, two per
/// lookup), `carries` are in `Range10`, and x and y are read from slots `b` and `c`
/// (accesses 0 and 1) as the limbs of their bytes.
#[allow(clippy::too_many_arguments)]
pub(super) fn byte_product<E: EvalAtRow>(
    eval: &mut E,
    rel: &Relations,
    frame: &Frame<E::F>,
    [x, y]: [&[E::F; 4]; 2],
    r: &[E::F],
    out: &[E::F],
    carries: &[E::F],
) {
    let e = frame.enabler.clone();
    let byte = constant::<E::F>(1 << 8);
    for n in 0..out.len() {
        let mut lhs = (n.saturating_sub(3)..=n.min(3))
            .map(|i| x[i].clone() * y[n - i].clone())
            .fold(constant::<E::F>(0), |acc, term| acc + term);
        if n > 0 {
            lhs += out[n - 1].clone();
        }
        eval.add_constraint(lhs - r[n].clone() - out[n].clone() * byte.clone());
    }
    for pair in x.chunks(2).chain(y.chunks(2)).chain(r.chunks(2)) {
        byte_pair(eval, rel, e.clone(), pair[0].clone(), pair[1].clone());
    }
    for carry in carries {
        eval.add_to_relation(RelationEntry::new(
            &rel.range10,
            E::EF::from(e.clone()),
            std::slice::from_ref(carry),
        ));
    }
    for (j, (slot, bytes)) in [(&frame.b, x), (&frame.c, y)].into_iter().enumerate() {
        let value = word_of_bytes(bytes);
        access(
            eval,
            rel,
            e.clone(),
            Space::Stack,
            frame.fp.clone() + slot.clone(),
            frame.ts(j as u32),
            value.clone(),
            value,
        );
    }
}
