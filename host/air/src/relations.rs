//! The LogUp relations of the VM AIR and who yields / consumes each (see `DESIGN.md`).
//!
//! Sign convention: a provider *yields* a token with a negative numerator, a user *consumes*
//! it with a positive one, so a balanced trace sums to zero together with the verifier's public
//! part ([`crate::vm::public_sum`]).

use stwo::core::channel::Channel;
use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::{Relation, relation};

relation!(StateRelation, 5);
relation!(HaltedRelation, 2);
relation!(RomRelation, 7);
relation!(BindRelation, 7);
relation!(MemRelation, 5);
relation!(Range16, 1);
relation!(Range10, 1);
relation!(OutputRelation, 3);
relation!(BytesRelation, 4);
relation!(DataRelation, 2);
relation!(MemOrderRelation, 1);

/// Every relation's random elements, drawn once after the main trace is committed.
#[derive(Clone, Debug)]
pub struct Relations {
    /// `State(pc, fp, clk, out, pages)`: the machine state before a step (`out` = words
    /// written so far, `pages` = the linear memory's size).
    pub state: StateRelation,
    /// `Halted(clk, out)`: the `halt` step's final state, consumed by the verifier.
    pub halted: HaltedRelation,
    /// `Rom(tag, w0..w5)`: read-only public data (program, input, input length).
    pub rom: RomRelation,
    /// `Bind(tag, w0..w5)`: each real ROM row once, consumed by the verifier per row it built.
    pub bind: BindRelation,
    /// `Mem(space, addr, ts, v0, v1)`: a memory cell's value since timestamp `ts`.
    pub mem: MemRelation,
    /// `Range16(x)`: `x ∈ [0, 2^16)`.
    pub range16: Range16,
    /// `Range10(x)`: `x ∈ [0, 2^10)`.
    pub range10: Range10,
    /// `Output(k, lo, hi)`: output word `k`, consumed by the verifier.
    pub output: OutputRelation,
    /// `Bytes(op, a, b, r)`: bytes `a, b < 2^8` with `r = a op b` (`and`, `or`, `xor`) or
    /// `r = 0` (`op = pair`, a range check of two bytes); see `components::byte_table`.
    pub bytes: BytesRelation,
    /// `Data(addr, byte)`: a non-zero initial memory byte, yielded by the verifier from the
    /// program's data, consumed by the memory boundary's row at `addr`.
    pub data: DataRelation,
    /// `MemOrder(a)`: links the memory boundary's rows in increasing address order (see
    /// `components::memory`).
    pub mem_order: MemOrderRelation,
}

impl Relations {
    /// Draws every relation's elements from `channel`, in a fixed order.
    pub fn draw(channel: &mut impl Channel) -> Self {
        Relations {
            state: StateRelation::draw(channel),
            halted: HaltedRelation::draw(channel),
            rom: RomRelation::draw(channel),
            bind: BindRelation::draw(channel),
            mem: MemRelation::draw(channel),
            range16: Range16::draw(channel),
            range10: Range10::draw(channel),
            output: OutputRelation::draw(channel),
            bytes: BytesRelation::draw(channel),
            data: DataRelation::draw(channel),
            mem_order: MemOrderRelation::draw(channel),
        }
    }

    /// Every relation's name and tuple width.
    pub fn widths(&self) -> Vec<(String, usize)> {
        fn of<R: Relation<BaseField, SecureField>>(r: &R) -> (String, usize) {
            (r.get_name().to_string(), r.get_size())
        }
        vec![
            of(&self.state),
            of(&self.halted),
            of(&self.rom),
            of(&self.bind),
            of(&self.mem),
            of(&self.range16),
            of(&self.range10),
            of(&self.output),
            of(&self.bytes),
            of(&self.data),
            of(&self.mem_order),
        ]
    }

    /// Placeholder elements, for building components only to read their column sizes.
    pub fn dummy() -> Self {
        Relations {
            state: StateRelation::dummy(),
            halted: HaltedRelation::dummy(),
            rom: RomRelation::dummy(),
            bind: BindRelation::dummy(),
            mem: MemRelation::dummy(),
            range16: Range16::dummy(),
            range10: Range10::dummy(),
            output: OutputRelation::dummy(),
            bytes: BytesRelation::dummy(),
            data: DataRelation::dummy(),
            mem_order: MemOrderRelation::dummy(),
        }
    }
}
