//! `boundary`: each memory cell's first and last value.
//!
//! Row `i` is address `i` of every dense space (a preprocessed `seq` column, so each address
//! appears exactly once: no double initialisation). Columns (main), per space of
//! `Space::DENSE` (stack, frame, global): `ts, v0, v1`. Per space the row yields `Mem(space, i, 0, 0, 0)` (cells
//! start at zero) and consumes `Mem(space, i, last_ts, final)`. A cell never touched cancels
//! itself; an address past the table has no initial token, so no access can reach it.

use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, RelationEntry};

use super::frame::{Space, constant};
use crate::relations::Relations;

/// The largest boundary (and so the address space of each memory space): 2^20 cells.
pub const MAX_LOG_ADDRESSES: u32 = 20;
/// The smallest boundary (one SIMD vector).
pub const MIN_LOG_ADDRESSES: u32 = 4;

/// The preprocessed column `0..2^log_size`.
pub fn seq_column(log_size: u32) -> PreProcessedColumnId {
    PreProcessedColumnId {
        id: format!("seq{log_size}"),
    }
}

pub fn evaluate<E: EvalAtRow>(eval: &mut E, rel: &Relations, log_size: u32) {
    let addr = eval.get_preprocessed_column(seq_column(log_size));
    for space in Space::DENSE {
        let [last_ts, v0, v1] = std::array::from_fn(|_| eval.next_trace_mask());
        let space = constant::<E::F>(space as u32);
        eval.add_to_relation(RelationEntry::new(
            &rel.mem,
            -E::EF::from(constant::<E::F>(1)),
            &[
                space.clone(),
                addr.clone(),
                constant(0),
                constant(0),
                constant(0),
            ],
        ));
        eval.add_to_relation(RelationEntry::new(
            &rel.mem,
            E::EF::from(constant::<E::F>(1)),
            &[space, addr.clone(), last_ts, v0, v1],
        ));
    }
}
