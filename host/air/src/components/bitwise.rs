//! `bitwise` (IR `Binary{And, Or, Xor}`, `[op, dst, lhs, rhs]`): `dst ← lhs op rhs`.
//!
//! Columns after the frame: flags `and, or, xor`, then the bytes `x0..x3, y0..y3, r0..r3`
//! (little-endian), `old_lo, old_hi`, then reads of `lhs` (x), `rhs` (y) and the write of
//! `dst` (r).
//!
//! - flags boolean, summing to `enabler`;
//! - the values read are `(x0 + 2^8·x1, x2 + 2^8·x3)` (and so for y), the value written is
//!   `(r0 + 2^8·r1, r2 + 2^8·r3)`;
//! - for each byte `k`, consume `Bytes(op, x_k, y_k, r_k)` with `op = or + 2·xor` (the byte
//!   table's `and, or, xor` words): it proves every byte is one and `r_k = x_k op y_k`, so a
//!   limb has one decomposition and the written limbs are below 2^16 without another check.

use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::Kind;
use super::byte_table::ByteOp;
use super::frame::{Frame, Space, access, boolean, constant, flagged_opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let flags: [E::F; 3] = std::array::from_fn(|_| eval.next_trace_mask());
    let x: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let y: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let r: [E::F; 4] = std::array::from_fn(|_| eval.next_trace_mask());
    let old = [eval.next_trace_mask(), eval.next_trace_mask()];
    let e = frame.enabler.clone();
    let mut flag_sum = constant::<E::F>(0);
    for flag in &flags {
        boolean(eval, flag);
        flag_sum += flag.clone();
    }
    eval.add_constraint(flag_sum - e.clone());
    let opcode = flagged_opcode(Kind::Bitwise.opcodes(), &flags);
    let [_, f_or, f_xor] = flags;
    let op =
        f_or * constant::<E::F>(ByteOp::Or as u32) + f_xor * constant::<E::F>(ByteOp::Xor as u32);
    step(eval, rel, &frame, opcode, frame.fall_through());
    for k in 0..4 {
        eval.add_to_relation(RelationEntry::new(
            &rel.bytes,
            E::EF::from(e.clone()),
            &[op.clone(), x[k].clone(), y[k].clone(), r[k].clone()],
        ));
    }
    let fp = frame.fp.clone();
    let limbs = |b: &[E::F; 4]| {
        let byte = constant::<E::F>(1 << 8);
        [
            b[0].clone() + b[1].clone() * byte.clone(),
            b[2].clone() + b[3].clone() * byte,
        ]
    };
    let (x, y, r) = (limbs(&x), limbs(&y), limbs(&r));
    for (j, (slot, value)) in [(&frame.b, x), (&frame.c, y)].into_iter().enumerate() {
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
    access(
        eval,
        rel,
        e,
        Space::Stack,
        fp + frame.a.clone(),
        frame.ts(2),
        old,
        r,
    );
}
