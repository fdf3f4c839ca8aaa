//! `memory_grow` (IR `MemoryGrow`, `[memory_grow, slot, max, 0, 0]`, in place): with `δ` the
//! slot's value, `slot ← pages` and `pages ← pages + δ` when `pages + δ ≤ max`, else
//! `slot ← −1` and `pages` is unchanged. `max ≤ MAX_MEMORY_PAGES` is the program's (the
//! lowering caps it), so `pages` stays at most 2^12.
//!
//! Columns after the frame: `δ_lo, δ_hi, inv, h, le, g, ok, next, r_lo`, then the read
//! (access 0) and the write (access 1) of the slot.
//! - `h = [δ_hi ≠ 0]` (`frame::non_zero`): `δ ≥ 2^16 > max` fails;
//! - `le` boolean, `X = max − pages − δ_lo`, `g = 2·le·X + le − enabler·(X + 1)`,
//!   `g ∈ Range16`: with `le = 1` that is `X ∈ [0, 2^16)`, with `le = 0` it is
//!   `−X − 1 ∈ [0, 2^16)`; `|X| < 2^17`, so `le = [pages + δ_lo ≤ max]` exactly (an honest
//!   `−X − 1 = δ_lo − (max − pages) − 1` is below 2^16 because `pages ≤ max`);
//! - `ok = le − h·le`; `next = pages + ok·δ_lo` is the next state's `pages`;
//! - the result `(r_lo, 0xffff·(enabler − ok))` with `r_lo = ok·pages + 0xffff·(enabler − ok)`.

use obelysk_vm::ir::Opcode;
use stwo::core::fields::m31::BaseField;
use stwo_constraint_framework::EvalAtRow;

use super::frame::{Frame, Next, Space, access, boolean, non_zero, opcode, range16, step};
use crate::relations::Relations;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let frame = Frame::read(eval);
    let [d_lo, d_hi, inv, h, le, g, ok, next, r_lo] =
        std::array::from_fn(|_| eval.next_trace_mask());
    let e = frame.enabler.clone();
    non_zero(eval, d_hi.clone(), inv, h.clone());
    boolean(eval, &le);
    let x = frame.b.clone() - frame.pages.clone() - d_lo.clone();
    eval.add_constraint(
        g.clone()
            - (le.clone() * x.clone() * BaseField::from(2) + le.clone()
                - e.clone() * (x + E::F::from(BaseField::from(1)))),
    );
    range16(eval, rel, e.clone(), g);
    eval.add_constraint(ok.clone() - (le.clone() - h * le));
    eval.add_constraint(next.clone() - (frame.pages.clone() + ok.clone() * d_lo.clone()));
    let failed = e.clone() - ok.clone();
    eval.add_constraint(
        r_lo.clone() - (ok * frame.pages.clone() + failed.clone() * BaseField::from(0xffff)),
    );
    step(
        eval,
        rel,
        &frame,
        opcode(Opcode::MemoryGrow),
        Next::Resize { pages: next },
    );
    let slot = frame.fp.clone() + frame.a.clone();
    let delta = [d_lo, d_hi];
    access(
        eval,
        rel,
        e.clone(),
        Space::Stack,
        slot.clone(),
        frame.ts(0),
        delta.clone(),
        delta.clone(),
    );
    access(
        eval,
        rel,
        e,
        Space::Stack,
        slot,
        frame.ts(1),
        delta,
        [r_lo, failed * BaseField::from(0xffff)],
    );
}
