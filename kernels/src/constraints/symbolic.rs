//! A symbolic [`EvalAtRow`]: running a component's `evaluate` with it records every operation
//! into a [`Graph`] instead of computing values.
//!
//! Values are [`Base`] (M31) and [`Ext`] (QM31) handles. Literal operands are folded on the
//! spot; everything else becomes an interned node of the graph being recorded, which lives in a
//! thread-local for the duration of [`record`] (the framework builds values with `Zero::zero()`
//! and `From<BaseField>`, which have no evaluator to ask).

use std::cell::RefCell;
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub};

use num_traits::{One, Zero};
use stwo::core::Fraction;
use stwo::core::fields::FieldExpOps;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::{SECURE_EXTENSION_DEGREE, SecureField};
use stwo_constraint_framework::{
    EvalAtRow, FrameworkEval, INTERACTION_TRACE_IDX, MAX_N_INTERACTIONS,
};

use super::graph::{ColumnRead, Graph, Node, NodeId};

thread_local! {
    static RECORDING: RefCell<Option<Graph>> = const { RefCell::new(None) };
}

fn with_graph<R>(f: impl FnOnce(&mut Graph) -> R) -> R {
    RECORDING.with(|cell| {
        let mut graph = cell.borrow_mut();
        f(graph
            .as_mut()
            .expect("symbolic values are only used inside constraints::record"))
    })
}

fn intern(node: Node) -> NodeId {
    with_graph(|g| g.intern(node))
}

fn node_of(id: NodeId) -> Node {
    with_graph(|g| *g.node(id))
}

/// Records the constraints of `eval` (with `claimed_sum` for its logup columns).
///
/// Panics if called while another recording runs on this thread, or if `evaluate` panics
/// (the framework's own evaluators do the same on malformed components).
pub fn record<E: FrameworkEval>(eval: &E, claimed_sum: SecureField) -> Graph {
    struct Finish;
    impl Drop for Finish {
        fn drop(&mut self) {
            RECORDING.with(|cell| cell.borrow_mut().take());
        }
    }
    RECORDING.with(|cell| {
        let mut slot = cell.borrow_mut();
        assert!(slot.is_none(), "constraints::record is not re-entrant");
        *slot = Some(Graph::default());
    });
    let finish = Finish;
    let evaluator = eval.evaluate(SymbolicEval::new(eval.log_size(), claimed_sum));
    assert!(
        evaluator.fractions.is_empty(),
        "the component added logup fractions but never finalized them"
    );
    let graph = RECORDING
        .with(|cell| cell.borrow_mut().take())
        .expect("recording");
    drop(finish);
    graph
}

/// A base-field (M31) value: a literal or a graph node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Lit(BaseField),
    Var(NodeId),
}

/// A secure-field (QM31) value: a literal or a graph node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ext {
    Lit(SecureField),
    Var(NodeId),
}

impl Base {
    fn node(self) -> NodeId {
        match self {
            Base::Lit(v) => intern(Node::Literal(v.0)),
            Base::Var(id) => id,
        }
    }
}

impl Ext {
    fn node(self) -> NodeId {
        match self {
            Ext::Lit(v) => match base_value(v) {
                Some(b) => intern(Node::Lift(Base::Lit(b).node())),
                None => with_graph(|g| g.constant(v)),
            },
            Ext::Var(id) => id,
        }
    }

    /// The base value this is, when it is one (a base literal or a lifted base node).
    fn as_base(self) -> Option<Base> {
        match self {
            Ext::Lit(v) => base_value(v).map(Base::Lit),
            Ext::Var(id) => match node_of(id) {
                Node::Lift(b) => Some(Base::Var(b)),
                _ => None,
            },
        }
    }
}

fn base_value(v: SecureField) -> Option<BaseField> {
    let [a, b, c, d] = v.to_m31_array();
    (b.is_zero() && c.is_zero() && d.is_zero()).then_some(a)
}

// ---- base-field arithmetic ----

impl Add for Base {
    type Output = Base;
    fn add(self, rhs: Base) -> Base {
        match (self, rhs) {
            (Base::Lit(a), Base::Lit(b)) => Base::Lit(a + b),
            (x, Base::Lit(z)) | (Base::Lit(z), x) if z.is_zero() => x,
            (a, b) => Base::Var(intern(Node::Add(a.node(), b.node()))),
        }
    }
}

impl Sub for Base {
    type Output = Base;
    fn sub(self, rhs: Base) -> Base {
        match (self, rhs) {
            (Base::Lit(a), Base::Lit(b)) => Base::Lit(a - b),
            (x, Base::Lit(z)) if z.is_zero() => x,
            (Base::Lit(z), x) if z.is_zero() => -x,
            (a, b) => Base::Var(intern(Node::Sub(a.node(), b.node()))),
        }
    }
}

impl Mul for Base {
    type Output = Base;
    fn mul(self, rhs: Base) -> Base {
        match (self, rhs) {
            (Base::Lit(a), Base::Lit(b)) => Base::Lit(a * b),
            (_, Base::Lit(z)) | (Base::Lit(z), _) if z.is_zero() => Base::Lit(z),
            (x, Base::Lit(o)) | (Base::Lit(o), x) if o.is_one() => x,
            (a, b) => Base::Var(intern(Node::Mul(a.node(), b.node()))),
        }
    }
}

impl Neg for Base {
    type Output = Base;
    fn neg(self) -> Base {
        match self {
            Base::Lit(a) => Base::Lit(-a),
            Base::Var(id) => match node_of(id) {
                Node::Neg(inner) => Base::Var(inner),
                _ => Base::Var(intern(Node::Neg(id))),
            },
        }
    }
}

impl Zero for Base {
    fn zero() -> Base {
        Base::Lit(BaseField::zero())
    }
    fn is_zero(&self) -> bool {
        matches!(self, Base::Lit(v) if v.is_zero())
    }
}

impl One for Base {
    fn one() -> Base {
        Base::Lit(BaseField::one())
    }
}

impl FieldExpOps for Base {
    fn inverse(&self) -> Base {
        match *self {
            Base::Lit(a) => Base::Lit(a.inverse()),
            Base::Var(id) => Base::Var(intern(Node::Inverse(id))),
        }
    }
}

impl From<BaseField> for Base {
    fn from(v: BaseField) -> Base {
        Base::Lit(v)
    }
}

impl MulAssign for Base {
    fn mul_assign(&mut self, rhs: Base) {
        *self = *self * rhs;
    }
}

impl AddAssign for Base {
    fn add_assign(&mut self, rhs: Base) {
        *self = *self + rhs;
    }
}

impl AddAssign<BaseField> for Base {
    fn add_assign(&mut self, rhs: BaseField) {
        *self = *self + Base::Lit(rhs);
    }
}

impl Mul<BaseField> for Base {
    type Output = Base;
    fn mul(self, rhs: BaseField) -> Base {
        self * Base::Lit(rhs)
    }
}

impl Add<SecureField> for Base {
    type Output = Ext;
    fn add(self, rhs: SecureField) -> Ext {
        Ext::from(self) + Ext::Lit(rhs)
    }
}

impl Mul<SecureField> for Base {
    type Output = Ext;
    fn mul(self, rhs: SecureField) -> Ext {
        Ext::from(self) * Ext::Lit(rhs)
    }
}

// ---- secure-field arithmetic ----

impl From<Base> for Ext {
    fn from(b: Base) -> Ext {
        match b {
            Base::Lit(v) => Ext::Lit(v.into()),
            Base::Var(id) => Ext::Var(intern(Node::Lift(id))),
        }
    }
}

impl From<SecureField> for Ext {
    fn from(v: SecureField) -> Ext {
        Ext::Lit(v)
    }
}

impl Add for Ext {
    type Output = Ext;
    fn add(self, rhs: Ext) -> Ext {
        match (self, rhs) {
            (Ext::Lit(a), Ext::Lit(b)) => Ext::Lit(a + b),
            (x, Ext::Lit(z)) | (Ext::Lit(z), x) if z.is_zero() => x,
            (a, b) => match (a.as_base(), b.as_base()) {
                (Some(x), Some(y)) => Ext::from(x + y),
                _ => Ext::Var(intern(Node::ExtAdd(a.node(), b.node()))),
            },
        }
    }
}

impl Sub for Ext {
    type Output = Ext;
    fn sub(self, rhs: Ext) -> Ext {
        match (self, rhs) {
            (Ext::Lit(a), Ext::Lit(b)) => Ext::Lit(a - b),
            (x, Ext::Lit(z)) if z.is_zero() => x,
            (a, b) => match (a.as_base(), b.as_base()) {
                (Some(x), Some(y)) => Ext::from(x - y),
                _ => Ext::Var(intern(Node::ExtSub(a.node(), b.node()))),
            },
        }
    }
}

impl Mul for Ext {
    type Output = Ext;
    fn mul(self, rhs: Ext) -> Ext {
        match (self, rhs) {
            (Ext::Lit(a), Ext::Lit(b)) => Ext::Lit(a * b),
            (_, Ext::Lit(z)) | (Ext::Lit(z), _) if z.is_zero() => Ext::Lit(z),
            (x, Ext::Lit(o)) | (Ext::Lit(o), x) if o.is_one() => x,
            (a, b) => match (a.as_base(), b.as_base()) {
                (Some(x), Some(y)) => Ext::from(x * y),
                _ => Ext::Var(intern(Node::ExtMul(a.node(), b.node()))),
            },
        }
    }
}

impl Neg for Ext {
    type Output = Ext;
    fn neg(self) -> Ext {
        match (self, self.as_base()) {
            (Ext::Lit(a), _) => Ext::Lit(-a),
            (_, Some(b)) => Ext::from(-b),
            (Ext::Var(id), None) => Ext::Var(intern(Node::ExtNeg(id))),
        }
    }
}

impl Ext {
    /// The multiplicative inverse (used by components that divide in the extension field).
    pub fn inverse(self) -> Ext {
        match (self, self.as_base()) {
            (Ext::Lit(a), _) => Ext::Lit(a.inverse()),
            (_, Some(b)) => Ext::from(b.inverse()),
            (Ext::Var(id), None) => Ext::Var(intern(Node::ExtInverse(id))),
        }
    }
}

impl Zero for Ext {
    fn zero() -> Ext {
        Ext::Lit(SecureField::zero())
    }
    fn is_zero(&self) -> bool {
        matches!(self, Ext::Lit(v) if v.is_zero())
    }
}

impl One for Ext {
    fn one() -> Ext {
        Ext::Lit(SecureField::one())
    }
}

impl AddAssign for Ext {
    fn add_assign(&mut self, rhs: Ext) {
        *self = *self + rhs;
    }
}

/// `Ext ∘ T` for the mixed operand types the framework asks for, by lifting `T` to `Ext`.
macro_rules! mixed_ext_ops {
    ($($t:ty),*) => {$(
        impl Add<$t> for Ext {
            type Output = Ext;
            fn add(self, rhs: $t) -> Ext {
                self + Ext::from(rhs)
            }
        }
        impl Sub<$t> for Ext {
            type Output = Ext;
            fn sub(self, rhs: $t) -> Ext {
                self - Ext::from(rhs)
            }
        }
        impl Mul<$t> for Ext {
            type Output = Ext;
            fn mul(self, rhs: $t) -> Ext {
                self * Ext::from(rhs)
            }
        }
    )*};
}
mixed_ext_ops!(Base, SecureField);

impl From<BaseField> for Ext {
    fn from(v: BaseField) -> Ext {
        Ext::Lit(v.into())
    }
}
mixed_ext_ops!(BaseField);

/// The evaluator handed to `FrameworkEval::evaluate` while recording.
pub struct SymbolicEval {
    next_column: [usize; MAX_N_INTERACTIONS],
    /// `claimed_sum / 2^log_size`: subtracted from every row's logup so all rows sum to zero.
    cumsum_shift: SecureField,
    fractions: Vec<Fraction<Ext, Ext>>,
}

impl SymbolicEval {
    fn new(log_size: u32, claimed_sum: SecureField) -> Self {
        SymbolicEval {
            next_column: [0; MAX_N_INTERACTIONS],
            cumsum_shift: claimed_sum / BaseField::from(1u32 << log_size),
            fractions: Vec::new(),
        }
    }
}

impl EvalAtRow for SymbolicEval {
    type F = Base;
    type EF = Ext;

    fn next_interaction_mask<const N: usize>(
        &mut self,
        interaction: usize,
        offsets: [isize; N],
    ) -> [Base; N] {
        let column = self.next_column[interaction];
        self.next_column[interaction] += 1;
        with_graph(|g| g.note_column(interaction, column));
        offsets.map(|offset| {
            Base::Var(intern(Node::Read(ColumnRead {
                interaction,
                column,
                offset,
            })))
        })
    }

    fn add_constraint<G>(&mut self, constraint: G)
    where
        Ext: Mul<G, Output = Ext> + From<G>,
    {
        let node = Ext::from(constraint).node();
        with_graph(|g| g.push_constraint(node));
    }

    fn combine_ef(values: [Base; SECURE_EXTENSION_DEGREE]) -> Ext {
        if let [Base::Lit(a), Base::Lit(b), Base::Lit(c), Base::Lit(d)] = values {
            return Ext::Lit(SecureField::from_m31_array([a, b, c, d]));
        }
        if values[1..].iter().all(Zero::is_zero) {
            return Ext::from(values[0]);
        }
        Ext::Var(intern(Node::Combine(values.map(Base::node))))
    }

    fn write_logup_frac(&mut self, fraction: Fraction<Ext, Ext>) {
        self.fractions.push(fraction);
    }

    /// The logup constraints: one running-sum column per batch but the last, whose column also
    /// steps from the previous row. Same columns, order and constraints as the framework's own
    /// evaluators, so coefficients line up.
    fn finalize_logup_batched(&mut self, batching: &Vec<usize>) {
        let fractions = std::mem::take(&mut self.fractions);
        assert_eq!(
            batching.len(),
            fractions.len(),
            "one batch number per logup fraction"
        );
        let n_batches = batching
            .iter()
            .max()
            .map(|m| m + 1)
            .expect("logup fractions");
        let mut batches: Vec<Vec<Fraction<Ext, Ext>>> = vec![Vec::new(); n_batches];
        for (&batch, fraction) in batching.iter().zip(fractions) {
            batches[batch].push(fraction);
        }
        assert!(
            batches.iter().all(|b| !b.is_empty()),
            "batch numbers must be consecutive from 0"
        );
        let mut sums = batches
            .into_iter()
            .map(|b| b.into_iter().sum::<Fraction<Ext, Ext>>());
        let last = sums.next_back().expect("at least one batch");
        let mut previous_column = Ext::zero();
        for sum in sums {
            let [column] = self.next_extension_interaction_mask(INTERACTION_TRACE_IDX, [0]);
            let step = column - previous_column;
            previous_column = column;
            self.add_constraint(step * sum.denominator - sum.numerator);
        }
        let [previous_row, this_row] =
            self.next_extension_interaction_mask(INTERACTION_TRACE_IDX, [-1, 0]);
        let step = this_row - previous_row - previous_column + Ext::Lit(self.cumsum_shift);
        self.add_constraint(step * last.denominator - last.numerator);
    }

    fn finalize_logup(&mut self) {
        let batching = (0..self.fractions.len()).collect();
        self.finalize_logup_batched(&batching);
    }

    fn finalize_logup_in_pairs(&mut self) {
        let batching = (0..self.fractions.len()).map(|i| i / 2).collect();
        self.finalize_logup_batched(&batching);
    }
}
