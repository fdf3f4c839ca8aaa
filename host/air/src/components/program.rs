//! `program`: the table of the program's instructions, bound to the verifier's own lowering.
//!
//! Columns (main): `enabler, pc, opcode, a, b, c, multiplicity`.
//! Constraints:
//! - `enabler · (enabler − 1) = 0` (a row is real or padding; stops enabler = 2 yielding twice);
//! - `(1 − enabler) · multiplicity = 0` (a padding row serves no execution: without it a
//!   padding row could carry any instruction for the steps to consume).
//!
//! Relations:
//! - yields `Program(pc, opcode, a, b, c)` with `multiplicity`: every executed step consumes one;
//! - yields `Bind(pc, opcode, a, b, c)` with `enabler`: the verifier consumes one `Bind` for each
//!   instruction of ITS lowering of the module ([`public_bind_sum`]), so the real rows are
//!   exactly the program: no changed opcode or operand, no extra or missing instruction.
//!
//! Every encoded word is below 2^20 (`obelysk_vm::ir::Instr::encode`), so each is one field
//! element with no wrap-around.

use num_traits::{One, Zero};
use stwo::core::fields::FieldExpOps;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::{
    EvalAtRow, FrameworkComponent, FrameworkEval, Relation, RelationEntry, relation,
};

relation!(ProgramRelation, 5);
relation!(BindRelation, 5);

/// One program row: `[pc, opcode, a, b, c]`.
pub type EncodedInstr = [u32; 5];

/// The program table.
#[derive(Clone)]
pub struct ProgramEval {
    pub log_size: u32,
    pub program: ProgramRelation,
    pub bind: BindRelation,
}

impl FrameworkEval for ProgramEval {
    fn log_size(&self) -> u32 {
        self.log_size
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + 1
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let enabler = eval.next_trace_mask();
        let instr: [E::F; 5] = std::array::from_fn(|_| eval.next_trace_mask());
        let multiplicity = eval.next_trace_mask();
        eval.add_constraint(enabler.clone() * (enabler.clone() - E::F::one()));
        eval.add_constraint((E::F::one() - enabler.clone()) * multiplicity.clone());
        eval.add_to_relation(RelationEntry::new(
            &self.program,
            -E::EF::from(multiplicity),
            &instr,
        ));
        eval.add_to_relation(RelationEntry::new(&self.bind, E::EF::from(enabler), &instr));
        eval.finalize_logup();
        eval
    }
}

/// The program table as a stwo component.
pub type ProgramComponent = FrameworkComponent<ProgramEval>;

/// The verifier's part of the LogUp sum: it consumes `Bind` once per instruction of the program
/// it lowered itself.
pub fn public_bind_sum(bind: &BindRelation, program: &[EncodedInstr]) -> SecureField {
    program
        .iter()
        .map(|row| {
            let values = row.map(BaseField::from_u32_unchecked);
            let denominator: SecureField = bind.combine(&values);
            -denominator.inverse()
        })
        .fold(SecureField::zero(), |acc, x| acc + x)
}
