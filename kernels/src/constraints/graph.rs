//! The constraint DAG: every value a component's `evaluate` computes, hash-consed so that a
//! sub-expression used twice is computed once.

use std::collections::HashMap;

use stwo::core::fields::qm31::SecureField;

/// Index of a node in its [`Graph`]. Nodes only refer to earlier nodes, so the node list is
/// already in evaluation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A trace value read by the component: column `column` of interaction `interaction`
/// (0 = preprocessed, 1 = main, 2 = interaction trace), `offset` rows away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ColumnRead {
    pub interaction: usize,
    pub column: usize,
    pub offset: isize,
}

/// One operation. Base-field nodes are M31 values, secure-field nodes QM31 values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    // Base field (M31).
    Read(ColumnRead),
    /// A literal in `[0, p)`, written into the kernel text.
    Literal(u32),
    Add(NodeId, NodeId),
    Sub(NodeId, NodeId),
    Mul(NodeId, NodeId),
    Neg(NodeId),
    Inverse(NodeId),
    // Secure field (QM31).
    /// Entry of the per-proof constant table (relation elements, logup shift, ...). Kept out of
    /// the kernel text so one compiled kernel serves every proof.
    Constant(u32),
    /// A base value seen as a secure one.
    Lift(NodeId),
    /// `a + b·i + c·u + d·iu` from four base values.
    Combine([NodeId; 4]),
    ExtAdd(NodeId, NodeId),
    ExtSub(NodeId, NodeId),
    ExtMul(NodeId, NodeId),
    ExtNeg(NodeId),
    ExtInverse(NodeId),
}

impl Node {
    /// True for M31-valued nodes, false for QM31-valued ones.
    pub fn is_base(&self) -> bool {
        matches!(
            self,
            Node::Read(_)
                | Node::Literal(_)
                | Node::Add(..)
                | Node::Sub(..)
                | Node::Mul(..)
                | Node::Neg(_)
                | Node::Inverse(_)
        )
    }

    /// The nodes this one reads.
    pub fn operands(&self) -> Vec<NodeId> {
        match *self {
            Node::Read(_) | Node::Literal(_) | Node::Constant(_) => vec![],
            Node::Neg(a) | Node::Inverse(a) | Node::Lift(a) | Node::ExtNeg(a) => vec![a],
            Node::ExtInverse(a) => vec![a],
            Node::Add(a, b)
            | Node::Sub(a, b)
            | Node::Mul(a, b)
            | Node::ExtAdd(a, b)
            | Node::ExtSub(a, b)
            | Node::ExtMul(a, b) => vec![a, b],
            Node::Combine(parts) => parts.to_vec(),
        }
    }
}

/// A component's constraints as a DAG, with the per-proof constants it reads.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    interned: HashMap<Node, NodeId>,
    constants: Vec<SecureField>,
    constant_slots: HashMap<[u32; 4], u32>,
    constraints: Vec<NodeId>,
    columns_per_interaction: Vec<usize>,
}

impl Graph {
    /// Adds `node` unless an equal node exists; returns its id either way.
    pub fn intern(&mut self, node: Node) -> NodeId {
        // Commutative operations get one canonical operand order, so `a+b` and `b+a` meet.
        let node = match node {
            Node::Add(a, b) if b < a => Node::Add(b, a),
            Node::Mul(a, b) if b < a => Node::Mul(b, a),
            Node::ExtAdd(a, b) if b < a => Node::ExtAdd(b, a),
            Node::ExtMul(a, b) if b < a => Node::ExtMul(b, a),
            other => other,
        };
        if let Some(&id) = self.interned.get(&node) {
            return id;
        }
        let id = NodeId(u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes"));
        self.nodes.push(node);
        self.interned.insert(node, id);
        id
    }

    /// The constant-table slot holding `value` (equal values share a slot).
    pub fn constant(&mut self, value: SecureField) -> NodeId {
        let key = value.to_m31_array().map(|m| m.0);
        let next = u32::try_from(self.constants.len()).expect("fewer than 2^32 constants");
        let slot = *self.constant_slots.entry(key).or_insert_with(|| {
            self.constants.push(value);
            next
        });
        self.intern(Node::Constant(slot))
    }

    /// Notes that column `column` of `interaction` exists (columns are numbered densely).
    pub fn note_column(&mut self, interaction: usize, column: usize) {
        if self.columns_per_interaction.len() <= interaction {
            self.columns_per_interaction.resize(interaction + 1, 0);
        }
        let count = &mut self.columns_per_interaction[interaction];
        *count = (*count).max(column + 1);
    }

    /// Appends a constraint; it gets the next random coefficient.
    pub fn push_constraint(&mut self, node: NodeId) {
        self.constraints.push(node);
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The constraints in the order the component added them.
    pub fn constraints(&self) -> &[NodeId] {
        &self.constraints
    }

    /// The constant table, indexed by [`Node::Constant`] slots.
    pub fn constants(&self) -> &[SecureField] {
        &self.constants
    }

    /// How many columns the component reads from each interaction (preprocessed, main, ...).
    pub fn columns_per_interaction(&self) -> &[usize] {
        &self.columns_per_interaction
    }

    /// For each node, whether some constraint depends on it.
    pub fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for c in &self.constraints {
            live[c.0 as usize] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if live[i] {
                for operand in self.nodes[i].operands() {
                    live[operand.0 as usize] = true;
                }
            }
        }
        live
    }
}
