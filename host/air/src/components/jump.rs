//! `jump` (IR `Jump` `[jump, 0, target, 0]`, `JumpIf` and `JumpIfZero` `[op, cond, target, 0]`).
//!
//! Columns after the frame: flags `if, if_zero`, then `v_lo, v_hi, inv, nz, taken, next_pc`,
//! then the read of `cond` (only for the conditional jumps).
//! - flags boolean, exclusive, and zero on padding (`(1 − enabler)·flag = 0`);
//! - `nz = [v ≠ 0]` from the is-non-zero gadget on `v_lo + v_hi`;
//! - `taken = enabler − if − if_zero + if·nz + if_zero·(1 − nz)`: 1 for `Jump`;
//! - `next_pc = pc + enabler + taken·(target − pc − 1)`.

use stwo_constraint_framework::EvalAtRow;

use super::Kind;
use super::frame::{Frame, Next, Space, access, boolean, constant, flagged_opcode, non_zero, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [f_if, f_ifz, v_lo, v_hi, inv, nz, taken, next_pc] =
        std::array::from_fn(|_| eval.next_trace_mask());
    let one = constant::<E::F>(1);
    let e = frame.enabler.clone();
    boolean(eval, &f_if);
    boolean(eval, &f_ifz);
    eval.add_constraint(f_if.clone() * f_ifz.clone());
    eval.add_constraint((one.clone() - e.clone()) * f_if.clone());
    eval.add_constraint((one.clone() - e.clone()) * f_ifz.clone());
    non_zero(eval, v_lo.clone() + v_hi.clone(), inv, nz.clone());
    eval.add_constraint(
        taken.clone()
            - (e.clone() - f_if.clone() - f_ifz.clone()
                + f_if.clone() * nz.clone()
                + f_ifz.clone() * (one.clone() - nz)),
    );
    let pc = frame.pc.clone();
    eval.add_constraint(next_pc.clone() - pc.clone() - e - taken * (frame.b.clone() - pc - one));
    let opcode = flagged_opcode(Kind::Jump.opcodes(), &[f_if.clone(), f_ifz.clone()]);
    let next = Next::Step {
        pc: next_pc,
        fp: frame.fp.clone(),
        out: frame.out.clone(),
    };
    step(eval, rel, &frame, opcode, next);
    let v = [v_lo, v_hi];
    access(
        eval,
        rel,
        f_if + f_ifz,
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(0),
        v.clone(),
        v,
    );
}
