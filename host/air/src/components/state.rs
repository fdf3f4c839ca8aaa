//! The `State(pc, fp, clk)` chain and its public ends.
//!
//! Every step row consumes `State(pc, fp, clk)` (numerator +1) and yields its successor
//! (numerator −1); the `halt` step yields `Halted(clk)` instead of a successor. The verifier
//! supplies the two ends itself ([`public_state_sum`]): it yields the initial state
//! `(entry, 0, 0)` and consumes `Halted(steps − 1)` for the step count in the statement. So a
//! proof binds where execution started and how many steps it took; a chain that starts
//! elsewhere, skips or drops a step, or halts at another clock leaves the sum unbalanced.
//! (A detached cycle of states would need `clk` to wrap modulo p, i.e. ≥ p rows.)

use stwo::core::fields::FieldExpOps;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::{Relation, relation};

relation!(StateRelation, 3);
relation!(HaltedRelation, 1);

/// The verifier's part of the LogUp sum for the state chain of a run that starts at
/// `entry_pc` with `fp = 0`, `clk = 0` and executes `steps` steps (the last one `halt`).
pub fn public_state_sum(
    state: &StateRelation,
    halted: &HaltedRelation,
    entry_pc: u32,
    steps: u32,
) -> SecureField {
    let m31 = BaseField::from_u32_unchecked;
    let initial: SecureField = state.combine(&[m31(entry_pc), m31(0), m31(0)]);
    let last_clk = steps
        .checked_sub(1)
        .expect("a run has at least its halt step");
    let last: SecureField = halted.combine(&[m31(last_clk)]);
    last.inverse() - initial.inverse()
}
