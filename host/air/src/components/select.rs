//! `select` (IR `Select` `[select, dst, first, cond]`): `dst ← cond ≠ 0 ? first : first + 1`
//! (Wasm `select`: its two values are adjacent stack slots).
//!
//! Columns after the frame: `x_lo, x_hi, y_lo, y_hi, c_lo, c_hi, inv, nz, r_lo, r_hi, old_lo,
//! old_hi`, then reads of `first` (x), `first + 1` (y), `cond` (c) and the write of `dst` (r).
//!
//! - `nz = [c ≠ 0]` from the is-non-zero gadget on `c_lo + c_hi`;
//! - `r = y + nz·(x − y)`, limb by limb: `r` is exactly one of the two values read, so it
//!   needs no range check of its own (they were checked when written).

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Space, access, constant, non_zero, opcode, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [
        x_lo,
        x_hi,
        y_lo,
        y_hi,
        c_lo,
        c_hi,
        inv,
        nz,
        r_lo,
        r_hi,
        old_lo,
        old_hi,
    ] = std::array::from_fn(|_| eval.next_trace_mask());
    non_zero(eval, c_lo.clone() + c_hi.clone(), inv, nz.clone());
    for (r, x, y) in [(&r_lo, &x_lo, &y_lo), (&r_hi, &x_hi, &y_hi)] {
        eval.add_constraint(r.clone() - y.clone() - nz.clone() * (x.clone() - y.clone()));
    }
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::Select),
        frame.fall_through(),
    );
    let e = frame.enabler.clone();
    let fp = frame.fp.clone();
    let reads = [
        (frame.b.clone(), [x_lo, x_hi]),
        (frame.b.clone() + constant::<E::F>(1), [y_lo, y_hi]),
        (frame.c.clone(), [c_lo, c_hi]),
    ];
    for (j, (slot, value)) in reads.into_iter().enumerate() {
        access(
            eval,
            rel,
            e.clone(),
            Space::Stack,
            fp.clone() + slot,
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
        frame.ts(3),
        [old_lo, old_hi],
        [r_lo, r_hi],
    );
}
