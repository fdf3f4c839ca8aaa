//! `memory`: the sparse boundary of linear memory: one row per byte address the run touched
//! or the data initialises (plus bridging rows), each with its first and last value.
//!
//! Columns (main): `enabler, lower, a_lo, a_hi, is_data, init, last_ts, final`; the row's
//! address is `addr = a_lo + 2^16·a_hi`.
//! - `enabler`, `is_data` boolean, `is_data·(1 − enabler) = 0`, `(1 − is_data)·init = 0`;
//! - `a_lo, a_hi, 2^4·a_hi ∈ Range16`: `addr < 2^28`;
//! - consumes `MemOrder(lower)`, yields `MemOrder(addr + 1)`, `addr − lower ∈ Range16`;
//! - consumes `Data(addr, init)` by `is_data`;
//! - yields `Mem(MEMORY, addr, 0, init, 0)`, consumes `Mem(MEMORY, addr, last_ts, final, 0)`.
//!
//! The verifier yields `MemOrder(0)`, consumes `MemOrder(T)` (`T` = the claim's
//! `memory_end`, at most 2^28) and yields `Data(addr, byte)` for every non-zero byte of the
//! program's data. Every `MemOrder` value yielded is 0 or some `addr + 1 ≤ 2^28`, so every
//! `lower` is such an integer too, and `lower ≤ addr < lower + 2^16` holds over the
//! integers: each row is an edge `lower → addr + 1` that strictly increases. With the
//! multisets balanced the edges form one path `0 → … → T` (no cycle can close), so the rows'
//! addresses are distinct: no cell is initialised twice. A data byte's token is consumed only
//! by the row at its address, which exists and has `init` = that byte; every other row starts
//! at zero. Gaps of 2^16 or more are bridged by rows no access touches (`last_ts = 0`,
//! `final = init = 0`), whose two `Mem` tokens cancel.

use stwo::core::fields::m31::BaseField;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::frame::{Space, boolean, constant, range16};
use crate::relations::Relations;

/// The largest address count `T` a claim may give: every address is below 2^28.
pub const MAX_MEMORY_END: u32 = 1 << 28;

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations) {
    let [e, lower, a_lo, a_hi, is_data, init, last_ts, fin] =
        std::array::from_fn(|_| eval.next_trace_mask());
    let one = constant::<E::F>(1);
    boolean(eval, &e);
    boolean(eval, &is_data);
    eval.add_constraint(is_data.clone() * (one.clone() - e.clone()));
    eval.add_constraint((one.clone() - is_data.clone()) * init.clone());
    range16(eval, rel, e.clone(), a_lo.clone());
    range16(eval, rel, e.clone(), a_hi.clone());
    range16(eval, rel, e.clone(), a_hi.clone() * BaseField::from(1 << 4));
    let addr = a_lo + a_hi * BaseField::from(1 << 16);
    range16(eval, rel, e.clone(), addr.clone() - lower.clone());
    eval.add_to_relation(RelationEntry::new(
        &rel.mem_order,
        E::EF::from(e.clone()),
        &[lower],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.mem_order,
        -E::EF::from(e.clone()),
        &[addr.clone() + one],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.data,
        E::EF::from(is_data),
        &[addr.clone(), init.clone()],
    ));
    let space = constant::<E::F>(Space::Memory as u32);
    eval.add_to_relation(RelationEntry::new(
        &rel.mem,
        -E::EF::from(e.clone()),
        &[space.clone(), addr.clone(), constant(0), init, constant(0)],
    ));
    eval.add_to_relation(RelationEntry::new(
        &rel.mem,
        E::EF::from(e),
        &[space, addr, last_ts, fin, constant(0)],
    ));
}
