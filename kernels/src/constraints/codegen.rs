//! CUDA text for a recorded [`Graph`]: one kernel, one thread per row of the evaluation domain.

use std::fmt::Write;

use super::graph::{Graph, Node, NodeId};

/// Name of the generated entry point (one kernel per module, so it never clashes).
pub const KERNEL_NAME: &str = "obelysk_constraint_quotients";

/// Emits the kernel for `graph`.
///
/// Signature (all arrays in device memory):
/// `(const u32* const* cols, const qm31* coeffs, const qm31* consts, const u32* denom_inv,
///   u32* acc0, u32* acc1, u32* acc2, u32* acc3, u32 trace_log_size, u32 eval_log_size)`
/// - `cols[k]`: the k-th column the component reads (interaction by interaction, in reading
///   order), evaluated on the evaluation domain in bit-reversed order;
/// - `coeffs[i]`: the random coefficient of constraint `i`;
/// - `consts[s]`: the per-proof constant table ([`Graph::constants`]);
/// - `denom_inv[row >> trace_log_size]`: the inverse of the trace domain's vanishing polynomial;
/// - `acc0..acc3`: the accumulator's coordinates; each row gets `Σ coeffs[i]·c_i·denom_inv`
///   added.
pub fn cuda_source(graph: &Graph) -> String {
    let live = graph.live();
    let column_base: Vec<usize> = graph
        .columns_per_interaction()
        .iter()
        .scan(0, |next, &n| {
            let base = *next;
            *next += n;
            Some(base)
        })
        .collect();
    let v = |id: NodeId| format!("v{}", id.0);

    let mut body = String::new();
    for (i, (node, &is_live)) in graph.nodes().iter().zip(&live).enumerate() {
        if !is_live {
            continue;
        }
        let line = match *node {
            Node::Read(r) => {
                let col = column_base[r.interaction] + r.column;
                if r.offset == 0 {
                    format!("u32 v{i} = cols[{col}][row];")
                } else {
                    format!(
                        "u32 v{i} = cols[{col}][offset_row(row, trace_log_size, eval_log_size, {})];",
                        r.offset
                    )
                }
            }
            Node::Literal(value) => format!("const u32 v{i} = {value}u;"),
            Node::Add(a, b) => format!("u32 v{i} = m31_add({}, {});", v(a), v(b)),
            Node::Sub(a, b) => format!("u32 v{i} = m31_sub({}, {});", v(a), v(b)),
            Node::Mul(a, b) => format!("u32 v{i} = m31_mul({}, {});", v(a), v(b)),
            Node::Neg(a) => format!("u32 v{i} = m31_neg({});", v(a)),
            Node::Inverse(a) => format!("u32 v{i} = m31_inv({});", v(a)),
            Node::Constant(slot) => format!("const qm31 v{i} = consts[{slot}];"),
            Node::Lift(a) => format!("qm31 v{i} = qm31_from_m31({});", v(a)),
            Node::Combine([a, b, c, d]) => {
                format!("qm31 v{i} = {{{}, {}, {}, {}}};", v(a), v(b), v(c), v(d))
            }
            Node::ExtAdd(a, b) => format!("qm31 v{i} = qm31_add({}, {});", v(a), v(b)),
            Node::ExtSub(a, b) => format!("qm31 v{i} = qm31_sub({}, {});", v(a), v(b)),
            Node::ExtMul(a, b) => format!("qm31 v{i} = qm31_mul({}, {});", v(a), v(b)),
            Node::ExtNeg(a) => format!("qm31 v{i} = qm31_neg({});", v(a)),
            Node::ExtInverse(a) => format!("qm31 v{i} = qm31_inv({});", v(a)),
        };
        writeln!(body, "    {line}").expect("writing to a String");
    }
    for (k, &c) in graph.constraints().iter().enumerate() {
        // A base constraint costs four multiplications by its coefficient, not a QM31 product.
        let term = match *graph.node(c) {
            Node::Lift(b) => format!("qm31_mul_m31(coeffs[{k}], {})", v(b)),
            _ => format!("qm31_mul(coeffs[{k}], {})", v(c)),
        };
        writeln!(body, "    acc = qm31_add(acc, {term});").expect("writing to a String");
    }

    let header = crate::kernels::with_headers("#include \"field.cuh\"");
    format!(
        r#"{header}
// Constraint quotients of one component: {n_constraints} constraints, {n_nodes} nodes.
extern "C" __global__ void {KERNEL_NAME}(
    const u32* const* __restrict__ cols,
    const qm31* __restrict__ coeffs,
    const qm31* __restrict__ consts,
    const u32* __restrict__ denom_inv,
    u32* __restrict__ acc0, u32* __restrict__ acc1, u32* __restrict__ acc2, u32* __restrict__ acc3,
    u32 trace_log_size, u32 eval_log_size)
{{
    u32 row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= (1u << eval_log_size)) return;
    qm31 acc = qm31_zero();
{body}    acc = qm31_mul_m31(acc, denom_inv[row >> trace_log_size]);
    acc0[row] = m31_add(acc0[row], acc.a);
    acc1[row] = m31_add(acc1[row], acc.b);
    acc2[row] = m31_add(acc2[row], acc.c);
    acc3[row] = m31_add(acc3[row], acc.d);
}}
"#,
        n_constraints = graph.constraints().len(),
        n_nodes = live.iter().filter(|l| **l).count(),
    )
}
