//! The constraint compiler: turns any stwo `FrameworkEval` into a CUDA kernel that evaluates the
//! component's constraint quotients on its evaluation domain.
//!
//! 1. [`record`] runs the component's `evaluate` with a symbolic evaluator, producing a
//!    hash-consed [`Graph`] (per-proof values such as relation elements go to a constant table,
//!    so the kernel text depends only on the AIR and is compiled once).
//! 2. [`codegen::cuda_source`] writes the kernel: one thread per row, bit-reversed offset reads,
//!    `acc += Σ coeff_i · c_i · denom_inv`.
//! 3. [`interpret`] evaluates the same graph on the CPU; tests hold it equal to stwo's evaluator
//!    and the kernel text (compiled as C++) equal to it.

pub mod codegen;
mod graph;
pub mod interpret;
pub mod reference;
mod symbolic;

use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::FrameworkEval;

pub use graph::{ColumnRead, Graph, Node, NodeId};
pub use symbolic::{Base, Ext, SymbolicEval, record};

/// A component's constraints, compiled: the graph, its constant table and the kernel text.
#[derive(Clone, Debug)]
pub struct ConstraintKernel {
    pub graph: Graph,
    /// CUDA source; equal for every proof of the same AIR (the cache key for compiled modules).
    pub source: String,
}

impl ConstraintKernel {
    /// Records `eval` (with the component's `claimed_sum`) and writes its kernel.
    pub fn new<E: FrameworkEval>(eval: &E, claimed_sum: SecureField) -> Self {
        let graph = record(eval, claimed_sum);
        let source = codegen::cuda_source(&graph);
        ConstraintKernel { graph, source }
    }

    /// Number of constraints (= random coefficients the kernel reads).
    pub fn n_constraints(&self) -> usize {
        self.graph.constraints().len()
    }

    /// The per-proof constant table the kernel reads as `consts`.
    pub fn constants(&self) -> &[SecureField] {
        self.graph.constants()
    }
}
