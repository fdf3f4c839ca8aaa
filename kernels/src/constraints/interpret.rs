//! Evaluates a recorded [`Graph`] on the CPU, row by row: the reference that the generated CUDA
//! kernel is checked against, and itself checked against stwo's own evaluators.

use stwo::core::fields::FieldExpOps;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::utils::offset_bit_reversed_circle_domain_index;

use super::graph::{ColumnRead, Graph, Node};

#[derive(Clone, Copy)]
enum Value {
    Base(BaseField),
    Ext(SecureField),
}

impl Value {
    fn base(self) -> BaseField {
        match self {
            Value::Base(v) => v,
            Value::Ext(_) => unreachable!("graph nodes are typed"),
        }
    }

    fn ext(self) -> SecureField {
        match self {
            Value::Ext(v) => v,
            Value::Base(v) => v.into(),
        }
    }
}

/// `Σ coeffs[i] · constraint_i` at one row, with `read` giving the trace values.
pub fn evaluate_row(
    graph: &Graph,
    live: &[bool],
    coeffs: &[SecureField],
    mut read: impl FnMut(ColumnRead) -> BaseField,
) -> SecureField {
    assert_eq!(
        coeffs.len(),
        graph.constraints().len(),
        "one coefficient per constraint"
    );
    let constants = graph.constants();
    let mut values: Vec<Value> = Vec::with_capacity(graph.nodes().len());
    for (node, &is_live) in graph.nodes().iter().zip(live) {
        if !is_live {
            values.push(Value::Base(BaseField::from(0)));
            continue;
        }
        let at = |id: super::graph::NodeId| values[id.0 as usize];
        let value = match *node {
            Node::Read(r) => Value::Base(read(r)),
            Node::Literal(v) => Value::Base(BaseField::from(v)),
            Node::Add(a, b) => Value::Base(at(a).base() + at(b).base()),
            Node::Sub(a, b) => Value::Base(at(a).base() - at(b).base()),
            Node::Mul(a, b) => Value::Base(at(a).base() * at(b).base()),
            Node::Neg(a) => Value::Base(-at(a).base()),
            Node::Inverse(a) => Value::Base(at(a).base().inverse()),
            Node::Constant(slot) => Value::Ext(constants[slot as usize]),
            Node::Lift(a) => Value::Ext(at(a).base().into()),
            Node::Combine(parts) => {
                Value::Ext(SecureField::from_m31_array(parts.map(|p| at(p).base())))
            }
            Node::ExtAdd(a, b) => Value::Ext(at(a).ext() + at(b).ext()),
            Node::ExtSub(a, b) => Value::Ext(at(a).ext() - at(b).ext()),
            Node::ExtMul(a, b) => Value::Ext(at(a).ext() * at(b).ext()),
            Node::ExtNeg(a) => Value::Ext(-at(a).ext()),
            Node::ExtInverse(a) => Value::Ext(at(a).ext().inverse()),
        };
        values.push(value);
    }
    graph
        .constraints()
        .iter()
        .zip(coeffs)
        .map(|(c, &coeff)| coeff * values[c.0 as usize].ext())
        .sum()
}

/// The constraint quotients of every row of an evaluation domain of size `2^eval_log_size`:
/// `Σ coeffs[i] · constraint_i(row) · denom_inv[row >> trace_log_size]`.
///
/// `columns[interaction][column]` are the component's columns evaluated on (at least) that
/// domain in bit-reversed order, the layout stwo's provers use.
pub fn evaluate_domain(
    graph: &Graph,
    columns: &[Vec<&[BaseField]>],
    trace_log_size: u32,
    eval_log_size: u32,
    denom_inv: &[BaseField],
    coeffs: &[SecureField],
) -> Vec<SecureField> {
    let live = graph.live();
    (0..1usize << eval_log_size)
        .map(|row| {
            let value = evaluate_row(graph, &live, coeffs, |r| {
                let index = if r.offset == 0 {
                    row
                } else {
                    offset_bit_reversed_circle_domain_index(
                        row,
                        trace_log_size,
                        eval_log_size,
                        r.offset,
                    )
                };
                columns[r.interaction][r.column][index]
            });
            value * denom_inv[row >> trace_log_size]
        })
        .collect()
}
