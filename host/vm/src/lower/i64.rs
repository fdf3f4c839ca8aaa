//! i64 lowering: an i64 is two slots, low word first, and every i64 instruction lowers to
//! i32 instructions on its words (plus `MulWide` for products), so the AIR proves i64 with
//! the i32 families. Every instruction that produces an i64 writes both of its slots, so no
//! stale high word survives from an earlier value of that slot.
//!
//! In the comments `a = (al, ah)` is the first operand (at slot `A`, where the result goes),
//! `b = (bl, bh)` the second (at `B = A + 2`), `T…` scratch slots above the operand stack.

use wasmparser::Operator;

use super::{FunctionState, Lowering, Refusal};
use crate::ir::{BinOp, Instr, LoadOp, Slot, StoreOp, UnOp};

/// How the high word of an i64 load is made.
#[derive(Clone, Copy)]
enum High {
    /// `i64.load`: the next four bytes.
    Load,
    /// `_u` loads: zero.
    Zero,
    /// `_s` loads: the low word's sign.
    Sign,
}

/// An i64 load: the i32 load of its low word, how its high word is made, its offset.
fn load(op: &Operator<'_>) -> Option<(LoadOp, High, u32)> {
    let (load, high, memarg) = match op {
        Operator::I64Load { memarg } => (LoadOp::W32, High::Load, memarg),
        Operator::I64Load8U { memarg } => (LoadOp::U8, High::Zero, memarg),
        Operator::I64Load8S { memarg } => (LoadOp::S8, High::Sign, memarg),
        Operator::I64Load16U { memarg } => (LoadOp::U16, High::Zero, memarg),
        Operator::I64Load16S { memarg } => (LoadOp::S16, High::Sign, memarg),
        Operator::I64Load32U { memarg } => (LoadOp::W32, High::Zero, memarg),
        Operator::I64Load32S { memarg } => (LoadOp::W32, High::Sign, memarg),
        _ => return None,
    };
    Some((load, high, u32::try_from(memarg.offset).ok()?))
}

/// An i64 store: the i32 store of its low word, whether the high word is stored too
/// (`i64.store`), its offset.
fn store(op: &Operator<'_>) -> Option<(StoreOp, bool, u32)> {
    let (store, both, memarg) = match op {
        Operator::I64Store { memarg } => (StoreOp::W32, true, memarg),
        Operator::I64Store8 { memarg } => (StoreOp::B8, false, memarg),
        Operator::I64Store16 { memarg } => (StoreOp::B16, false, memarg),
        Operator::I64Store32 { memarg } => (StoreOp::W32, false, memarg),
        _ => return None,
    };
    Some((store, both, u32::try_from(memarg.offset).ok()?))
}

/// i64 operations on two i64s.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Binary {
    Add,
    Sub,
    Mul,
    /// `and`, `or`, `xor`: word by word.
    Bitwise(BinOp),
    Eq,
    Ne,
    /// `lt/gt/le/ge`, signed or unsigned: the i32 compare on the high words.
    Order(BinOp),
    Shl,
    ShrS,
    ShrU,
    Rotl,
    Rotr,
    /// `div_u`, `rem_u`, `div_s`, `rem_s`: the remainder, signed.
    Div {
        rem: bool,
        signed: bool,
    },
}

fn binary(op: &Operator<'_>) -> Option<Binary> {
    Some(match op {
        Operator::I64Add => Binary::Add,
        Operator::I64Sub => Binary::Sub,
        Operator::I64Mul => Binary::Mul,
        Operator::I64And => Binary::Bitwise(BinOp::And),
        Operator::I64Or => Binary::Bitwise(BinOp::Or),
        Operator::I64Xor => Binary::Bitwise(BinOp::Xor),
        Operator::I64Eq => Binary::Eq,
        Operator::I64Ne => Binary::Ne,
        Operator::I64LtS => Binary::Order(BinOp::LtS),
        Operator::I64LtU => Binary::Order(BinOp::LtU),
        Operator::I64GtS => Binary::Order(BinOp::GtS),
        Operator::I64GtU => Binary::Order(BinOp::GtU),
        Operator::I64LeS => Binary::Order(BinOp::LeS),
        Operator::I64LeU => Binary::Order(BinOp::LeU),
        Operator::I64GeS => Binary::Order(BinOp::GeS),
        Operator::I64GeU => Binary::Order(BinOp::GeU),
        Operator::I64Shl => Binary::Shl,
        Operator::I64ShrS => Binary::ShrS,
        Operator::I64ShrU => Binary::ShrU,
        Operator::I64Rotl => Binary::Rotl,
        Operator::I64Rotr => Binary::Rotr,
        Operator::I64DivU => Binary::Div {
            rem: false,
            signed: false,
        },
        Operator::I64RemU => Binary::Div {
            rem: true,
            signed: false,
        },
        Operator::I64DivS => Binary::Div {
            rem: false,
            signed: true,
        },
        Operator::I64RemS => Binary::Div {
            rem: true,
            signed: true,
        },
        _ => return None,
    })
}

/// The unsigned compare of the same order (for the low words).
fn unsigned(op: BinOp) -> BinOp {
    match op {
        BinOp::LtS => BinOp::LtU,
        BinOp::GtS => BinOp::GtU,
        BinOp::LeS => BinOp::LeU,
        BinOp::GeS => BinOp::GeU,
        other => other,
    }
}

/// Whether [`Lowering::i64_operator`] lowers `op`.
pub(super) fn is_supported(op: &Operator<'_>) -> bool {
    load(op).is_some()
        || store(op).is_some()
        || binary(op).is_some()
        || matches!(
            op,
            Operator::I64Const { .. }
                | Operator::I64Eqz
                | Operator::I64Clz
                | Operator::I64Ctz
                | Operator::I64Popcnt
                | Operator::I64Extend8S
                | Operator::I64Extend16S
                | Operator::I64Extend32S
                | Operator::I64ExtendI32S
                | Operator::I64ExtendI32U
                | Operator::I32WrapI64
        )
}

impl Lowering {
    /// `(dst, dst + 1) ← cond ? (dst, dst + 1) : (second, second + 1)`: an i64 `select`, with
    /// two scratch slots at `t`.
    pub(super) fn select_wide(&mut self, dst: Slot, second: Slot, cond: Slot, t: Slot) {
        self.copy(t, dst + 1, 1); // T = ah
        self.copy(dst + 1, second, 1); // (A, A + 1) = (al, bl)
        self.pick(dst, dst, cond);
        self.copy(t + 1, second + 1, 1); // (T, T + 1) = (ah, bh)
        self.pick(dst + 1, t, cond);
    }

    /// Lowers `op` if it is an i64 instruction (or one between i32 and i64); `Ok(false)` if
    /// it is not one.
    pub(super) fn i64_operator(
        &mut self,
        s: &mut FunctionState,
        op: &Operator<'_>,
    ) -> Result<bool, Refusal> {
        if let Some(Binary::Bitwise(op)) = binary(op) {
            // Word by word, each read where it is (a pending local's value in its local,
            // `reads_pending`), the result in the first operand's slots.
            let b = s.pop()?;
            let a = s.pop()?;
            let dst = s.push(2)?;
            for i in 0..2 {
                self.bin(op, dst + i, a.source() + i, b.source() + i);
            }
            return Ok(true);
        }
        if let Some(op) = binary(op) {
            // Scratch above both operands, taken before they are popped (a division keeps
            // two masks above the division routine's frame).
            let t = s.scratch(DIVMOD_FRAME)?;
            let b = s.pop()?;
            let a = s.pop()?;
            let result = match op {
                Binary::Eq | Binary::Ne | Binary::Order(_) => 1,
                _ => 2,
            };
            let dst = s.push(result)?;
            debug_assert_eq!(dst, a.slot);
            self.binary(op, a.slot, b.slot, b.known.map(|n| (n & 63) as u32), t);
            return Ok(true);
        }
        if let Some((op, high, offset)) = load(op) {
            let base = s.replace(2)?;
            match high {
                High::Load => {
                    // The high word first: if it is in bounds, so is the low word.
                    let Some(high_offset) = offset.checked_add(4) else {
                        self.emit(Instr::Trap); // past 2^32: always out of bounds
                        return Ok(true);
                    };
                    self.emit(Instr::Load {
                        op,
                        dst: base + 1,
                        base,
                        offset: high_offset,
                    });
                    self.emit(Instr::Load {
                        op,
                        dst: base,
                        base,
                        offset,
                    });
                }
                High::Zero | High::Sign => {
                    self.emit(Instr::Load {
                        op,
                        dst: base,
                        base,
                        offset,
                    });
                    self.high_word(base, matches!(high, High::Sign));
                }
            }
            return Ok(true);
        }
        if let Some((op, both, offset)) = store(op) {
            let src = s.pop()?.slot;
            let base = s.pop()?.slot;
            if both {
                // The high word first: a store that traps writes nothing.
                let Some(high_offset) = offset.checked_add(4) else {
                    self.emit(Instr::Trap);
                    return Ok(true);
                };
                self.emit(Instr::Store {
                    op,
                    src: src + 1,
                    base,
                    offset: high_offset,
                });
            }
            self.emit(Instr::Store {
                op,
                src,
                base,
                offset,
            });
            return Ok(true);
        }
        match *op {
            Operator::I64Const { value } => {
                let dst = s.push_known(2, value as u64)?;
                self.int(dst, value as u32);
                self.int(dst + 1, (value as u64 >> 32) as u32);
            }
            Operator::I64Eqz => {
                let a = s.replace(1)?;
                self.bin(BinOp::Or, a, a, a + 1);
                self.emit(Instr::Eqz { dst: a, src: a });
            }
            Operator::I64Clz | Operator::I64Ctz => {
                let t = s.scratch(3)?;
                let a = s.replace(2)?;
                // clz: ah ≠ 0 ? clz(ah) : 32 + clz(al); ctz: al ≠ 0 ? ctz(al) : 32 + ctz(ah).
                let (un, first, second) = if matches!(op, Operator::I64Clz) {
                    (UnOp::Clz, a + 1, a)
                } else {
                    (UnOp::Ctz, a, a + 1)
                };
                self.un(un, t, first);
                self.un(un, t + 1, second);
                self.int(t + 2, 32);
                self.bin(BinOp::Add, t + 1, t + 1, t + 2);
                self.pick(a, t, first);
                self.int(a + 1, 0);
            }
            Operator::I64Popcnt => {
                let a = s.replace(2)?;
                self.un(UnOp::Popcnt, a, a);
                self.un(UnOp::Popcnt, a + 1, a + 1);
                self.bin(BinOp::Add, a, a, a + 1);
                self.int(a + 1, 0);
            }
            Operator::I64Extend8S | Operator::I64Extend16S => {
                let a = s.replace(2)?;
                let un = if matches!(op, Operator::I64Extend8S) {
                    UnOp::Extend8S
                } else {
                    UnOp::Extend16S
                };
                self.un(un, a, a);
                self.high_word(a, true);
            }
            Operator::I64Extend32S => {
                let a = s.replace(2)?;
                self.high_word(a, true);
            }
            Operator::I64ExtendI32S | Operator::I64ExtendI32U => {
                let a = s.replace(2)?;
                self.high_word(a, matches!(op, Operator::I64ExtendI32S));
            }
            Operator::I32WrapI64 => {
                s.replace(1)?; // the low word, where it is
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Writes the high word of the i64 at `a` from its low word: its sign (`al >>s 31`) or
    /// zero.
    fn high_word(&mut self, a: Slot, signed: bool) {
        if signed {
            self.int(a + 1, 31);
            self.bin(BinOp::ShrS, a + 1, a, a + 1);
        } else {
            self.int(a + 1, 0);
        }
    }

    /// `a ← a op b` (`b` = `a + 2`), the result at `a`; `known` is `b mod 64` when `b` is a
    /// constant; scratch at `t` (`DIVMOD_FRAME − 4` slots, the first 7 for all but division).
    fn binary(&mut self, op: Binary, a: Slot, b: Slot, known: Option<u32>, t: Slot) {
        let (al, ah, bl, bh) = (a, a + 1, b, b + 1);
        match op {
            Binary::Add => {
                self.bin(BinOp::Add, al, al, bl);
                self.bin(BinOp::LtU, bl, al, bl); // carry: the low sum wrapped below bl
                self.bin(BinOp::Add, ah, ah, bh);
                self.bin(BinOp::Add, ah, ah, bl);
            }
            Binary::Sub => {
                self.bin(BinOp::LtU, t, al, bl); // borrow
                self.bin(BinOp::Sub, al, al, bl);
                self.bin(BinOp::Sub, ah, ah, bh);
                self.bin(BinOp::Sub, ah, ah, t);
            }
            Binary::Mul => {
                // a·b mod 2^64 = al·bl + 2^32·(al·bh + ah·bl).
                self.bin(BinOp::Mul, t, al, bh);
                self.bin(BinOp::Mul, t + 1, ah, bl);
                self.bin(BinOp::Add, t, t, t + 1);
                self.emit(Instr::MulWide {
                    dst: al,
                    lhs: al,
                    rhs: bl,
                });
                self.bin(BinOp::Add, ah, ah, t);
            }
            Binary::Bitwise(op) => {
                self.bin(op, al, al, bl);
                self.bin(op, ah, ah, bh);
            }
            Binary::Eq | Binary::Ne => {
                let (word, join) = if op == Binary::Eq {
                    (BinOp::Eq, BinOp::And)
                } else {
                    (BinOp::Ne, BinOp::Or)
                };
                self.bin(word, al, al, bl);
                self.bin(word, ah, ah, bh);
                self.bin(join, al, al, ah);
            }
            Binary::Order(op) => {
                // ah = bh ? (al op_u bl) : (ah op bh).
                self.bin(unsigned(op), t, al, bl);
                self.bin(op, t + 1, ah, bh);
                self.bin(BinOp::Eq, ah, ah, bh);
                self.pick(al, t, ah);
            }
            Binary::Div { rem, signed } => self.divide(a, rem, signed, t),
            Binary::Shl | Binary::ShrS | Binary::ShrU | Binary::Rotl | Binary::Rotr => {
                match known {
                    Some(n) => self.shift_by(op, a, n, t),
                    None => self.shift(op, a, bl, t),
                }
            }
        }
    }

    /// A shift or rotation of the i64 at `a` by the constant `n < 64`.
    fn shift_by(&mut self, op: Binary, a: Slot, n: u32, t: Slot) {
        let (al, ah) = (a, a + 1);
        let (op, n) = match op {
            Binary::Rotr => (Binary::Rotl, (64 - n) % 64),
            other => (other, n),
        };
        if n == 0 {
            return;
        }
        match op {
            Binary::Shl if n < 32 => {
                self.int(t, n);
                self.int(t + 1, 32 - n);
                self.bin(BinOp::ShrU, t + 2, al, t + 1);
                self.bin(BinOp::Shl, ah, ah, t);
                self.bin(BinOp::Or, ah, ah, t + 2);
                self.bin(BinOp::Shl, al, al, t);
            }
            Binary::Shl => {
                self.int(t, n - 32);
                self.bin(BinOp::Shl, ah, al, t);
                self.int(al, 0);
            }
            Binary::ShrU | Binary::ShrS if n < 32 => {
                let high = if op == Binary::ShrS {
                    BinOp::ShrS
                } else {
                    BinOp::ShrU
                };
                self.int(t, n);
                self.int(t + 1, 32 - n);
                self.bin(BinOp::Shl, t + 2, ah, t + 1);
                self.bin(BinOp::ShrU, al, al, t);
                self.bin(BinOp::Or, al, al, t + 2);
                self.bin(high, ah, ah, t);
            }
            Binary::ShrU => {
                self.int(t, n - 32);
                self.bin(BinOp::ShrU, al, ah, t);
                self.int(ah, 0);
            }
            Binary::ShrS => {
                self.int(t, n - 32);
                self.bin(BinOp::ShrS, al, ah, t);
                self.int(t, 31);
                self.bin(BinOp::ShrS, ah, ah, t);
            }
            Binary::Rotl => {
                // By 32 or more: the words swap, then rotate by n − 32.
                let (h, l, m) = if n >= 32 {
                    (al, ah, n - 32)
                } else {
                    (ah, al, n)
                };
                if m == 0 {
                    self.copy(t, al, 1);
                    self.copy(al, ah, 1);
                    self.copy(ah, t, 1);
                    return;
                }
                self.int(t, m);
                self.int(t + 1, 32 - m);
                // high' = h << m | l >> (32 − m), low' = l << m | h >> (32 − m).
                self.bin(BinOp::Shl, t + 2, h, t);
                self.bin(BinOp::ShrU, t + 3, l, t + 1);
                self.bin(BinOp::Or, t + 2, t + 2, t + 3);
                self.bin(BinOp::Shl, t + 3, l, t);
                self.bin(BinOp::ShrU, t + 4, h, t + 1);
                self.bin(BinOp::Or, al, t + 3, t + 4);
                self.copy(ah, t + 2, 1);
            }
            _ => unreachable!("a shift"),
        }
    }

    /// `t ← (h << r) | (l >> (32 − r))` with `r = n mod 32` (`h` when `r = 0`), using
    /// `one = 1` and `inv = 31 − r`: the word shifted in from below by a left shift.
    fn funnel_left(&mut self, t: Slot, h: Slot, l: Slot, n: Slot, [one, inv, spare]: [Slot; 3]) {
        self.bin(BinOp::Shl, t, h, n);
        self.bin(BinOp::ShrU, spare, l, one);
        self.bin(BinOp::ShrU, spare, spare, inv);
        self.bin(BinOp::Or, t, t, spare);
    }

    /// `t ← (l >> r) | (h << (32 − r))` (`l` when `r = 0`): a right shift's low word.
    fn funnel_right(&mut self, t: Slot, l: Slot, h: Slot, n: Slot, [one, inv, spare]: [Slot; 3]) {
        self.bin(BinOp::ShrU, t, l, n);
        self.bin(BinOp::Shl, spare, h, one);
        self.bin(BinOp::Shl, spare, spare, inv);
        self.bin(BinOp::Or, t, t, spare);
    }

    /// A shift or rotation of the i64 at `a` by the amount in slot `n` (its low six bits).
    /// The i32 shifts take their amount mod 32; `big = n & 32` then picks the words.
    fn shift(&mut self, op: Binary, a: Slot, n: Slot, t: Slot) {
        let (al, ah) = (a, a + 1);
        let (one, inv, big) = (t, t + 1, t + 2);
        self.int(one, 1);
        self.int(inv, 31);
        self.bin(BinOp::Xor, inv, n, inv); // 31 − r, mod 32
        self.int(big, 32);
        self.bin(BinOp::And, big, n, big);
        let (x, y, spare) = (t + 3, t + 4, t + 5);
        let tmp = [one, inv, spare];
        match op {
            Binary::Shl => {
                self.bin(BinOp::Shl, x, al, n); // al << r
                self.funnel_left(y, ah, al, n, tmp);
                self.pick(ah, x, big); // big ? al << r : funnel
                self.int(t + 5, 0);
                self.copy(t + 6, x, 1);
                self.pick(al, t + 5, big); // big ? 0 : al << r
            }
            Binary::ShrU | Binary::ShrS => {
                let high = if op == Binary::ShrS {
                    BinOp::ShrS
                } else {
                    BinOp::ShrU
                };
                self.bin(high, x, ah, n); // ah >> r
                self.funnel_right(y, al, ah, n, tmp);
                self.pick(al, x, big); // big ? ah >> r : funnel
                if op == Binary::ShrS {
                    self.int(t + 5, 31);
                    self.bin(BinOp::ShrS, t + 5, ah, t + 5);
                } else {
                    self.int(t + 5, 0);
                }
                self.copy(t + 6, x, 1);
                self.pick(ah, t + 5, big); // big ? sign or 0 : ah >> r
            }
            Binary::Rotl => {
                self.funnel_left(x, ah, al, n, tmp); // high word without the swap
                self.funnel_left(y, al, ah, n, tmp); // low word without the swap
                self.copy(t + 5, x, 1);
                self.pick(ah, y, big); // big ? (y) : (x)
                self.pick(al, x, big); // big ? (x) : (y)
            }
            Binary::Rotr => {
                self.funnel_right(x, al, ah, n, tmp); // low word without the swap
                self.funnel_right(y, ah, al, n, tmp); // high word without the swap
                self.copy(t + 5, x, 1);
                self.pick(al, y, big);
                self.pick(ah, x, big);
            }
            _ => unreachable!("a shift"),
        }
    }
}

/// Slots of the u64 division routine's frame (it starts at the dividend).
const DIVMOD_FRAME: u32 = 20;

impl Lowering {
    /// `pc + 2` when `cond ≠ 0`, else `trap`: a run-time check.
    fn trap_unless(&mut self, cond: Slot) {
        let target = self.pc() + 2;
        self.emit(Instr::JumpIf { cond, target });
        self.emit(Instr::Trap);
    }

    /// `x ← (x ⊕ m) − m` for the i64 at `x` and a mask `m` of 0 or −1 in both words: `x` or
    /// `−x`; `borrow` is scratch.
    fn negate_if(&mut self, x: Slot, m: Slot, borrow: Slot) {
        self.bin(BinOp::Xor, x, x, m);
        self.bin(BinOp::Xor, x + 1, x + 1, m);
        self.bin(BinOp::LtU, borrow, x, m);
        self.bin(BinOp::Sub, x, x, m);
        self.bin(BinOp::Sub, x + 1, x + 1, m);
        self.bin(BinOp::Sub, x + 1, x + 1, borrow);
    }

    /// i64 `div`/`rem` of `a` by `b = a + 2`: traps on a zero divisor (and `i64::MIN / −1`),
    /// takes magnitudes for a signed one, calls the u64 division routine (which leaves the
    /// quotient at `a`, the remainder at `b`), then puts the signs back.
    fn divide(&mut self, a: Slot, rem: bool, signed: bool, t: Slot) {
        let b = a + 2;
        // Past the routine's frame, which starts at `a`.
        let (mn, md) = (a + DIVMOD_FRAME, a + DIVMOD_FRAME + 1);
        self.bin(BinOp::Or, t, b, b + 1);
        self.trap_unless(t);
        if signed {
            if !rem {
                // i64::MIN / −1 overflows: trap unless a ≠ (0, 2^31) or b ≠ (−1, −1).
                self.int(t, 1 << 31);
                self.bin(BinOp::Ne, t, a + 1, t);
                self.bin(BinOp::Or, t, t, a); // a ≠ MIN
                self.int(t + 1, u32::MAX);
                self.bin(BinOp::And, t + 2, b, b + 1);
                self.bin(BinOp::Ne, t + 2, t + 2, t + 1); // b ≠ −1
                self.bin(BinOp::Or, t, t, t + 2);
                self.trap_unless(t);
            }
            self.int(t, 31);
            self.bin(BinOp::ShrS, mn, a + 1, t);
            self.bin(BinOp::ShrS, md, b + 1, t);
            self.negate_if(a, mn, t);
            self.negate_if(b, md, t);
        }
        let at = self.emit(Instr::Call {
            frame: a,
            target: 0,
        });
        self.divmod_calls.push(at);
        if signed {
            if rem {
                self.negate_if(b, mn, t); // the remainder has the dividend's sign
            } else {
                self.bin(BinOp::Xor, mn, mn, md);
                self.negate_if(a, mn, t);
            }
        }
        if rem {
            self.copy(a, b, 2);
        }
    }

    /// Appends the u64 division routine if any call needs it, and points those calls at it.
    /// Frame: dividend `n` (slots 0, 1), divisor `d ≠ 0` (2, 3); it returns the quotient in
    /// 0, 1 and the remainder in 2, 3. Both high words zero: one i32 `div_u` and `rem_u`.
    /// Otherwise 64 rounds of shift and subtract on `(r, n)` as one 128-bit register, the
    /// quotient's bits shifted into `n` (about 20 steps a round).
    pub(super) fn emit_divmod(&mut self) {
        if self.divmod_calls.is_empty() {
            return;
        }
        let entry = self.pc();
        for at in std::mem::take(&mut self.divmod_calls) {
            if let Instr::Call { target, .. } = &mut self.code[at] {
                *target = entry;
            }
        }
        let (nl, nh, dl, dh, rl, rh) = (0, 1, 2, 3, 4, 5);
        let (one, thirty_one, round, x, y) = (6, 7, 8, 9, 10);
        let (ge, gt, eq, out) = (11, 12, 13, 14);
        self.bin(BinOp::Or, x, nh, dh);
        let slow = self.emit(Instr::JumpIf { cond: x, target: 0 });
        self.copy(x, dl, 1);
        self.bin(BinOp::RemU, dl, nl, x);
        self.bin(BinOp::DivU, nl, nl, x);
        self.int(dh, 0);
        self.emit(Instr::Return);
        let here = self.pc();
        if let Instr::JumpIf { target, .. } = &mut self.code[slow] {
            *target = here;
        }
        self.int(rl, 0);
        self.int(rh, 0);
        self.int(one, 1);
        self.int(thirty_one, 31);
        self.int(round, 64);
        let head = self.pc();
        // (r, n) <<= 1, remembering the bit shifted out of r.
        self.bin(BinOp::ShrU, out, rh, thirty_one);
        self.bin(BinOp::ShrU, x, rl, thirty_one);
        self.bin(BinOp::Shl, rh, rh, one);
        self.bin(BinOp::Or, rh, rh, x);
        self.bin(BinOp::ShrU, x, nh, thirty_one);
        self.bin(BinOp::Shl, rl, rl, one);
        self.bin(BinOp::Or, rl, rl, x);
        self.bin(BinOp::ShrU, x, nl, thirty_one);
        self.bin(BinOp::Shl, nh, nh, one);
        self.bin(BinOp::Or, nh, nh, x);
        self.bin(BinOp::Shl, nl, nl, one);
        // r ≥ d (or r passed 2^64): subtract, and the quotient bit is 1.
        self.bin(BinOp::GeU, ge, rl, dl);
        self.bin(BinOp::GtU, gt, rh, dh);
        self.bin(BinOp::Eq, eq, rh, dh);
        self.pick(ge, ge, eq);
        self.bin(BinOp::Or, ge, ge, out);
        let skip = self.emit(Instr::JumpIfZero {
            cond: ge,
            target: 0,
        });
        self.bin(BinOp::LtU, y, rl, dl);
        self.bin(BinOp::Sub, rl, rl, dl);
        self.bin(BinOp::Sub, rh, rh, dh);
        self.bin(BinOp::Sub, rh, rh, y);
        self.bin(BinOp::Or, nl, nl, one);
        let next = self.pc();
        if let Instr::JumpIfZero { target, .. } = &mut self.code[skip] {
            *target = next;
        }
        self.bin(BinOp::Sub, round, round, one);
        self.emit(Instr::JumpIf {
            cond: round,
            target: head,
        });
        self.copy(dl, rl, 2);
        self.emit(Instr::Return);
    }
}
