//! `jump_table` (IR `JumpTable` `[jump_table, index, count, 0]`, Wasm `br_table`):
//! `pc ← pc + 1 + min(index, count)`, into the `count + 1` jumps that follow it.
//!
//! Columns after the frame: `x_lo, x_hi, borrow0, lt, off`, then the read of `index` (x).
//! `count` (`n`, the ROM's `b`) is below 2^16: the lowering refuses larger tables, and the
//! verifier lowers the module itself.
//! - `x − n` limb by limb with boolean borrows: `x_lo − n + 2^16·borrow0` and
//!   `x_hi − borrow0 + 2^16·lt` in `Range16`, so `lt = [x < n]` over the integers;
//! - `off = lt·(x_lo + 2^16·x_hi − n)` (for `lt = 1`, `x < 2^16` and the fold is exact);
//! - next `pc = pc + 1 + n + off`: `pc + 1 + x` below the count, the default entry from it on.

use obelysk_vm::ir::Opcode;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Next, Space, access, boolean, constant, opcode, range16, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [x_lo, x_hi, borrow0, lt, off] = std::array::from_fn(|_| eval.next_trace_mask());
    let c = constant::<E::F>;
    let base = c(1 << 16);
    let en = frame.enabler.clone();
    let n = frame.b.clone();
    boolean(eval, &borrow0);
    boolean(eval, &lt);
    eval.add_constraint(
        off.clone() - lt.clone() * (x_lo.clone() + x_hi.clone() * base.clone() - n.clone()),
    );
    let next = Next::Step {
        pc: frame.pc.clone() + c(1) + n.clone() + off,
        fp: frame.fp.clone(),
        out: frame.out.clone(),
    };
    step(eval, rel, &frame, opcode(Opcode::JumpTable), next);
    let d_lo = x_lo.clone() - n + borrow0.clone() * base.clone();
    let d_hi = x_hi.clone() - borrow0 + lt * base;
    range16(eval, rel, en.clone(), d_lo);
    range16(eval, rel, en.clone(), d_hi);
    let x = [x_lo, x_hi];
    access(
        eval,
        rel,
        en,
        Space::Stack,
        frame.fp.clone() + frame.a.clone(),
        frame.ts(0),
        x.clone(),
        x,
    );
}
