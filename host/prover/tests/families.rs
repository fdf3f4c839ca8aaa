//! One module per instruction family added in stages 2 and 3: honest edge operands, every column
//! load-bearing, and the family's own malicious witnesses (vm-air.md's test families 1–3;
//! proof tampering is `proof_tampering.rs`, the differential test `obelysk-vm`'s).

mod common;

use common::*;
use obelysk_air::components::Kind;
use obelysk_prover::check::CheckError;
use obelysk_vm::ir::{BinOp, Instr};

/// `write(op(input[0], input[1]))` for a Wasm binary operator.
fn binary(op: &str) -> Vec<u8> {
    module(&format!(
        r#"(func (export "main")
            (call $write ({op} (call $read (i32.const 0)) (call $read (i32.const 1)))))"#
    ))
}

/// Operand pairs: every edge against every edge.
fn edge_pairs() -> impl Iterator<Item = [u32; 2]> {
    EDGES
        .into_iter()
        .flat_map(|a| EDGES.into_iter().map(move |b| [a, b]))
}

/// The first row of `kind` executing the binary operation `op`.
fn row_of(run: &Run, kind: Kind, op: BinOp) -> usize {
    run.row(
        kind,
        |i| matches!(i, Instr::Binary { op: o, .. } if *o == op),
    )
}

/// Honest witnesses of `wat_op` on every edge pair pass, with the interpreter's result.
fn honest_on_edges(wat_op: &str, op: BinOp) {
    let wasm = binary(wat_op);
    for input in edge_pairs() {
        let run = honest(&wasm, &input);
        run.check()
            .unwrap_or_else(|e| panic!("{wat_op} {input:x?}: {e}"));
        assert_eq!(run.statement.output, [op.apply(input[0], input[1])]);
    }
}

// Columns after the frame.
const AFTER_FRAME: usize = 9;

/// The run of `0xff · 0xff = 0xfe01` (r0 = 0x01, r1 = 0xfe, carry k0 = 0xfe at `row` of
/// `kind`) forged as r0 = 0x101, r1 = 0xfd, k0 = 0xfd: every product equation holds and the
/// written limbs are the same, so only the byte check of r can reject it.
fn reject_carry_moved_into_a_result_byte(
    mut run: Run,
    kind: Kind,
    row: usize,
    r0: usize,
    k0: usize,
) {
    assert_eq!((run.get(kind, r0, row), run.get(kind, k0, row)), (1, 0xfe));
    run.set(kind, r0, row, 0x101);
    run.set(kind, r0 + 1, row, 0xfd);
    run.set(kind, k0, row, 0xfd);
    run.move_range_use(Kind::Range10, 0xfe, 0xfd);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

mod mul {
    use super::*;

    // Bytes x0..x3, y0..y3, r0..r3, carries k0..k3.
    const R0: usize = AFTER_FRAME + 8;
    const K0: usize = AFTER_FRAME + 12;

    #[test]
    fn edges() {
        honest_on_edges("i32.mul", BinOp::Mul);
    }

    #[test]
    fn columns() {
        every_column_is_load_bearing(
            &honest(&binary("i32.mul"), &[0xdead_beef, 0x1234_5678]),
            Kind::Mul,
        );
    }

    #[test]
    fn carry_moved_into_a_result_byte() {
        let run = honest(&binary("i32.mul"), &[0xff, 0xff]);
        let row = row_of(&run, Kind::Mul, BinOp::Mul);
        reject_carry_moved_into_a_result_byte(run, Kind::Mul, row, R0, K0);
    }

    #[test]
    fn operand_split_with_a_non_byte() {
        // x = 0x100 as bytes (0x100, 0, 0, 0): the same limb, a different product.
        let mut run = honest(&binary("i32.mul"), &[0x100, 3]);
        let row = row_of(&run, Kind::Mul, BinOp::Mul);
        run.set(Kind::Mul, AFTER_FRAME, row, 0x100);
        run.set(Kind::Mul, AFTER_FRAME + 1, row, 0);
        assert!(run.check().is_err());
    }

    #[test]
    fn wrong_product_end_to_end() {
        let wasm = binary("i32.mul");
        let mut run = honest(&wasm, &[7, 6]);
        let row = row_of(&run, Kind::Mul, BinOp::Mul);
        // 42 → 43, with the output claimed accordingly.
        run.set(Kind::Mul, R0, row, 43);
        run.statement.output = vec![43];
        run.rejected();
        run.rejected_end_to_end(&wasm);
    }
}

mod mul_wide {
    use super::*;

    // Bytes x0..x3, y0..y3, r0..r7, carries k0..k5.
    const R0: usize = AFTER_FRAME + 8;
    const K0: usize = AFTER_FRAME + 16;

    /// Writes the full product of `input[0]` and `input[1]` (an i64 product of two
    /// zero-extended words is one `MulWide` and two `mul`s by zero), low word first.
    fn program() -> Vec<u8> {
        module(
            r#"(func (export "main") (local $p i64)
                (local.set $p (i64.mul
                    (i64.extend_i32_u (call $read (i32.const 0)))
                    (i64.extend_i32_u (call $read (i32.const 1)))))
                (call $write (i32.wrap_i64 (local.get $p)))
                (call $write (i32.wrap_i64 (i64.shr_u (local.get $p) (i64.const 32)))))"#,
        )
    }

    fn row(run: &Run) -> usize {
        run.row(Kind::MulWide, |i| matches!(i, Instr::MulWide { .. }))
    }

    #[test]
    fn edges() {
        let wasm = program();
        for [x, y] in edge_pairs() {
            let run = honest(&wasm, &[x, y]);
            run.check().unwrap_or_else(|e| panic!("{x:x} · {y:x}: {e}"));
            let p = u64::from(x) * u64::from(y);
            assert_eq!(run.statement.output, [p as u32, (p >> 32) as u32]);
        }
    }

    #[test]
    fn columns() {
        every_column_is_load_bearing(
            &honest(&program(), &[0xdead_beef, 0xffff_fff7]),
            Kind::MulWide,
        );
    }

    #[test]
    fn carry_moved_into_a_result_byte() {
        let run = honest(&program(), &[0xff, 0xff]);
        let row = row(&run);
        reject_carry_moved_into_a_result_byte(run, Kind::MulWide, row, R0, K0);
    }

    #[test]
    fn top_byte_is_not_the_last_carry() {
        // 2^32 − 1 squared: r7 = 0xff is the last carry. A different top byte with the
        // high word claimed accordingly breaks the last product equation.
        let mut run = honest(&program(), &[u32::MAX, u32::MAX]);
        let row = row(&run);
        assert_eq!(run.get(Kind::MulWide, R0 + 7, row), 0xff);
        run.set(Kind::MulWide, R0 + 7, row, 0xfe);
        assert!(run.check().is_err());
    }

    #[test]
    fn wrong_high_word_end_to_end() {
        let wasm = program();
        let mut run = honest(&wasm, &[0x1_0000, 0x3_0000]);
        let row = row(&run);
        // 2^16 · 3·2^16 = 3·2^32: r4 = 3 → 4, and the output claims it.
        assert_eq!(run.get(Kind::MulWide, R0 + 4, row), 3);
        run.set(Kind::MulWide, R0 + 4, row, 4);
        run.statement.output = vec![0, 4];
        run.rejected();
        run.rejected_end_to_end(&wasm);
    }
}

mod bitwise {
    use super::*;

    // Flags and, or, xor; bytes x0..x3, y0..y3, r0..r3.
    const X0: usize = AFTER_FRAME + 3;
    const R0: usize = AFTER_FRAME + 11;

    #[test]
    fn edges() {
        honest_on_edges("i32.and", BinOp::And);
        honest_on_edges("i32.or", BinOp::Or);
        honest_on_edges("i32.xor", BinOp::Xor);
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main") (local $a i32) (local $b i32)
                (local.set $a (call $read (i32.const 0)))
                (local.set $b (call $read (i32.const 1)))
                (call $write (i32.and (local.get $a) (local.get $b)))
                (call $write (i32.or (local.get $a) (local.get $b)))
                (call $write (i32.xor (local.get $a) (local.get $b))))"#,
        );
        every_column_is_load_bearing(&honest(&wasm, &[0xf0f0_1234, 0x0ff0_ff00]), Kind::Bitwise);
    }

    #[test]
    fn wrong_result_byte() {
        let mut run = honest(&binary("i32.xor"), &[0x0f, 0xff]);
        let row = row_of(&run, Kind::Bitwise, BinOp::Xor);
        assert_eq!(run.get(Kind::Bitwise, R0, row), 0xf0);
        run.set(Kind::Bitwise, R0, row, 0xf1);
        run.statement.output = vec![0xf1];
        assert_eq!(run.rejected(), CheckError::Unbalanced);
    }

    #[test]
    fn limb_split_with_a_non_byte() {
        // x_lo = 0x0100 as (0x100, 0) instead of (0, 1): `and` with 0x100 would then see
        // no common bit.
        let mut run = honest(&binary("i32.and"), &[0x100, 0x100]);
        let row = row_of(&run, Kind::Bitwise, BinOp::And);
        run.set(Kind::Bitwise, X0, row, 0x100);
        run.set(Kind::Bitwise, X0 + 1, row, 0);
        assert_eq!(run.rejected(), CheckError::Unbalanced);
    }
}

mod signed_compare {
    use super::*;

    // Eleven flags, then x_lo, x_hi, y_lo, y_hi, sx, sy, xf_hi, yf_hi.
    const SX: usize = AFTER_FRAME + 11 + 4;
    const XF_HI: usize = AFTER_FRAME + 11 + 6;
    const R: usize = AFTER_FRAME + 11 + 15;

    #[test]
    fn edges() {
        honest_on_edges("i32.lt_s", BinOp::LtS);
        honest_on_edges("i32.gt_s", BinOp::GtS);
        honest_on_edges("i32.le_s", BinOp::LeS);
        honest_on_edges("i32.ge_s", BinOp::GeS);
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main") (local $a i32) (local $b i32)
                (local.set $a (call $read (i32.const 0)))
                (local.set $b (call $read (i32.const 1)))
                (call $write (i32.lt_s (local.get $a) (local.get $b)))
                (call $write (i32.gt_s (local.get $b) (local.get $a)))
                (call $write (i32.le_s (local.get $a) (local.get $b)))
                (call $write (i32.ge_s (local.get $a) (local.get $b))))"#,
        );
        let run = honest(&wasm, &[0xffff_fff0, 5]);
        every_column_is_load_bearing(&run, Kind::Cmp);
    }

    #[test]
    fn wrong_sign_bit() {
        // -1 < 1 signed. Claim x non-negative: its flipped limb would be 0xffff + 2^15,
        // which no range check accepts; claiming the flip as 0x7fff (an unsigned compare)
        // breaks the flip's equation.
        let wasm = binary("i32.lt_s");
        let run = honest(&wasm, &[u32::MAX, 1]);
        let row = row_of(&run, Kind::Cmp, BinOp::LtS);
        assert_eq!(run.get(Kind::Cmp, R, row), 1);
        for (sx, xf) in [(0, 0xffff + 0x8000), (1, 0xffff)] {
            let mut forged = honest(&wasm, &[u32::MAX, 1]);
            forged.set(Kind::Cmp, SX, row, sx);
            forged.set(Kind::Cmp, XF_HI, row, xf);
            forged.rejected();
        }
    }

    #[test]
    fn unsigned_result_for_a_signed_compare() {
        // -1 < 1 is true signed, false unsigned: the unsigned answer is refused.
        let mut run = honest(&binary("i32.lt_s"), &[u32::MAX, 1]);
        let row = row_of(&run, Kind::Cmp, BinOp::LtS);
        run.set(Kind::Cmp, R, row, 0);
        run.statement.output = vec![0];
        run.rejected();
    }
}

mod select {
    use super::*;

    // x_lo, x_hi, y_lo, y_hi, c_lo, c_hi, inv, nz, r_lo, r_hi.
    const NZ: usize = AFTER_FRAME + 7;
    const R_LO: usize = AFTER_FRAME + 8;

    fn program() -> Vec<u8> {
        module(
            r#"(func (export "main")
                (call $write (select (call $read (i32.const 0)) (call $read (i32.const 1))
                                     (call $read (i32.const 2)))))"#,
        )
    }

    #[test]
    fn edges() {
        for [a, b] in edge_pairs() {
            for c in [0, 1, 1 << 16, u32::MAX] {
                let run = honest(&program(), &[a, b, c]);
                run.check().unwrap();
                assert_eq!(run.statement.output, [if c != 0 { a } else { b }]);
            }
        }
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main")
                (call $write (select (call $read (i32.const 0)) (call $read (i32.const 1))
                                     (call $read (i32.const 2))))
                (call $write (select (call $read (i32.const 0)) (call $read (i32.const 1))
                                     (i32.const 0))))"#,
        );
        every_column_is_load_bearing(
            &honest(&wasm, &[0x1234_5678, 0x9abc_def0, 1 << 16]),
            Kind::Select,
        );
    }

    #[test]
    fn picks_the_other_value() {
        for (c, forged_nz) in [(0, 1), (1 << 16, 0)] {
            let mut run = honest(&program(), &[11, 22, c]);
            let row = run.row(Kind::Select, |_| true);
            let other = if c != 0 { 22 } else { 11 };
            run.set(Kind::Select, NZ, row, forged_nz);
            run.set(Kind::Select, R_LO, row, other);
            run.statement.output = vec![other];
            run.rejected();
        }
    }
}

mod shift {
    use super::*;

    // d; flags shr_s, shr_u, rotl, rotr; imm; bytes x0..x3; y_lo, y_hi, q; bits b0..b4; inv,
    // z; u01, u23, wm; bytes p0..p3; carries k0..k3; lo0, lo1, hi0, hi1; alpha, sign, ss,
    // fill, fh, r0, r1.
    const P0: usize = AFTER_FRAME + 23;
    const K0: usize = AFTER_FRAME + 27;
    const Z: usize = AFTER_FRAME + 19;
    const ALPHA: usize = AFTER_FRAME + 35;
    const SIGN: usize = AFTER_FRAME + 36;
    const R0: usize = AFTER_FRAME + 40;

    const OPS: [(&str, BinOp); 5] = [
        ("i32.shl", BinOp::Shl),
        ("i32.shr_s", BinOp::ShrS),
        ("i32.shr_u", BinOp::ShrU),
        ("i32.rotl", BinOp::Rotl),
        ("i32.rotr", BinOp::Rotr),
    ];

    /// Amounts: 0, 31, 32, 33, both limb boundaries, and ones whose high bits are set.
    const AMOUNTS: [u32; 11] = [0, 1, 15, 16, 17, 31, 32, 33, 0xffff, 1 << 31, u32::MAX];

    #[test]
    fn edges() {
        for (wat_op, op) in OPS {
            let wasm = binary(wat_op);
            for x in EDGES.into_iter().chain([0x8765_4321]) {
                for y in AMOUNTS {
                    let run = honest(&wasm, &[x, y]);
                    run.check()
                        .unwrap_or_else(|e| panic!("{wat_op} {x:#x} {y}: {e}"));
                    assert_eq!(
                        run.statement.output,
                        [op.apply(x, y)],
                        "{wat_op} {x:#x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main") (local $a i32) (local $b i32)
                (local.set $a (call $read (i32.const 0)))
                (local.set $b (call $read (i32.const 1)))
                (call $write (i32.shl (local.get $a) (local.get $b)))
                (call $write (i32.shr_s (local.get $a) (local.get $b)))
                (call $write (i32.shr_s (local.get $a) (i32.const 32)))
                (call $write (i32.shr_u (local.get $a) (i32.const 20)))
                (call $write (i32.rotl (local.get $a) (i32.const 3)))
                (call $write (i32.rotr (local.get $a) (local.get $b))))"#,
        );
        every_column_is_load_bearing(&honest(&wasm, &[0xf234_5678, 37]), Kind::Shift);
    }

    #[test]
    fn shift_by_32_claimed_as_zero() {
        // Wasm takes the amount mod 32: x >> 32 is x. Claim it is 0 (what a full-width shift
        // would give) by marking the amount non-zero.
        let mut run = honest(&binary("i32.shr_u"), &[0x1234_5678, 32]);
        let row = row_of(&run, Kind::Shift, BinOp::ShrU);
        assert_eq!(run.get(Kind::Shift, Z, row), 0);
        run.set(Kind::Shift, Z, row, 1);
        run.set(Kind::Shift, ALPHA, row, 0);
        run.set(Kind::Shift, R0, row, 0);
        run.set(Kind::Shift, R0 + 1, row, 0);
        run.statement.output = vec![0];
        run.rejected();
    }

    #[test]
    fn arithmetic_shift_without_its_sign() {
        // -16 >> 2 is -4; claiming x non-negative turns it into the logical shift.
        let wasm = binary("i32.shr_s");
        let x = (-16i32) as u32;
        let mut run = honest(&wasm, &[x, 2]);
        let row = row_of(&run, Kind::Shift, BinOp::ShrS);
        assert_eq!(run.get(Kind::Shift, SIGN, row), 1);
        for column in SIGN..=SIGN + 3 {
            run.set(Kind::Shift, column, row, 0);
        }
        let logical = x >> 2;
        run.set(Kind::Shift, R0, row, logical & 0xffff);
        run.set(Kind::Shift, R0 + 1, row, logical >> 16);
        run.statement.output = vec![logical];
        assert_eq!(run.rejected(), CheckError::Unbalanced);
        run.rejected_end_to_end(&wasm);
    }

    #[test]
    fn carry_moved_into_a_product_byte() {
        // 0xff << 1 = 0x1fe: p0 = 0xfe, k0 = 1, p1 = 1. p0 = 0x1fe, k0 = 0, p1 = 0 satisfies
        // the product's equations with the same limb; only the byte check of p stops it.
        let mut run = honest(&binary("i32.shl"), &[0xff, 1]);
        let row = row_of(&run, Kind::Shift, BinOp::Shl);
        assert_eq!(
            (run.get(Kind::Shift, P0, row), run.get(Kind::Shift, K0, row)),
            (0xfe, 1)
        );
        run.set(Kind::Shift, P0, row, 0x1fe);
        run.set(Kind::Shift, P0 + 1, row, 0);
        run.set(Kind::Shift, K0, row, 0);
        assert_eq!(run.rejected(), CheckError::Unbalanced);
    }
}

mod div {
    use super::*;

    // Flags div_u, rem_s, rem_u; x_lo, x_hi, y_lo, y_hi, sx, sy; bytes ax, ay, aq, ar;
    // cx0, cx1, cy0, cy1; k0..k3; borrow, sq, q_lo, q_hi, cq0, cq1, r_lo, r_hi, cr0, cr1, g,
    // inv, m, res_lo, res_hi.
    const Y_LO: usize = AFTER_FRAME + 5;
    const SX: usize = AFTER_FRAME + 7;
    const AY0: usize = AFTER_FRAME + 13;
    const AQ0: usize = AFTER_FRAME + 17;
    const AR0: usize = AFTER_FRAME + 21;
    const SQ: usize = AFTER_FRAME + 34;
    const Q_LO: usize = AFTER_FRAME + 35;
    const R_LO: usize = AFTER_FRAME + 39;
    const G: usize = AFTER_FRAME + 43;
    const RES_LO: usize = AFTER_FRAME + 46;

    const OPS: [(&str, BinOp); 4] = [
        ("i32.div_s", BinOp::DivS),
        ("i32.div_u", BinOp::DivU),
        ("i32.rem_s", BinOp::RemS),
        ("i32.rem_u", BinOp::RemU),
    ];

    #[test]
    fn edges() {
        for (wat_op, op) in OPS {
            let wasm = binary(wat_op);
            for [x, y] in edge_pairs().chain([[7, 3], [(-7i32) as u32, 3], [7, (-3i32) as u32]]) {
                if op.trap(x, y).is_some() {
                    continue;
                }
                let run = honest(&wasm, &[x, y]);
                run.check()
                    .unwrap_or_else(|e| panic!("{wat_op} {x:#x} {y:#x}: {e}"));
                assert_eq!(
                    run.statement.output,
                    [op.apply(x, y)],
                    "{wat_op} {x:#x} {y:#x}"
                );
            }
        }
    }

    #[test]
    fn traps_have_no_proof() {
        use obelysk_vm::interp::{ExecError, run};
        for (wat_op, x, y) in [
            ("i32.div_u", 5, 0),
            ("i32.rem_s", 5, 0),
            ("i32.div_s", 1 << 31, u32::MAX),
        ] {
            let program = obelysk_vm::lower::lower(&binary(wat_op)).unwrap();
            let err = run(&program, &[x, y], 1 << 10).unwrap_err();
            assert!(matches!(err, ExecError::Trap { .. }), "{wat_op}: {err}");
        }
        // `INT_MIN rem −1` does not trap: it is 0.
        let run = honest(&binary("i32.rem_s"), &[1 << 31, u32::MAX]);
        run.check().unwrap();
        assert_eq!(run.statement.output, [0]);
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main") (local $a i32) (local $b i32)
                (local.set $a (call $read (i32.const 0)))
                (local.set $b (call $read (i32.const 1)))
                (call $write (i32.div_s (local.get $a) (local.get $b)))
                (call $write (i32.div_s (local.get $b) (local.get $a)))
                (call $write (i32.div_s (local.get $a) (i32.const -3)))
                (call $write (i32.div_u (local.get $a) (local.get $b)))
                (call $write (i32.rem_s (local.get $a) (local.get $b)))
                (call $write (i32.rem_u (local.get $a) (local.get $b))))"#,
        );
        every_column_is_load_bearing(&honest(&wasm, &[(-1_234_567i32) as u32, 1001]), Kind::Div);
    }

    #[test]
    fn remainder_not_below_the_divisor() {
        // 7 / 3: q = 2, r = 1. q = 1, r = 4 satisfies 7 = q·3 + r; only r < y stops it.
        let wasm = binary("i32.div_u");
        let mut run = honest(&wasm, &[7, 3]);
        let row = row_of(&run, Kind::Div, BinOp::DivU);
        assert_eq!(run.get(Kind::Div, AQ0, row), 2);
        for (column, value) in [(AQ0, 1), (AR0, 4), (Q_LO, 1), (R_LO, 4), (RES_LO, 1)] {
            run.set(Kind::Div, column, row, value);
        }
        run.statement.output = vec![1];
        assert_eq!(run.rejected(), CheckError::Unbalanced);
        run.rejected_end_to_end(&wasm);
    }

    #[test]
    fn divide_by_zero_forged() {
        // A run that divides by zero has no trace; force one: 5 / 1 with y's read claimed as 0.
        let mut run = honest(&binary("i32.div_u"), &[5, 1]);
        let row = row_of(&run, Kind::Div, BinOp::DivU);
        run.set(Kind::Div, Y_LO, row, 0);
        run.set(Kind::Div, AY0, row, 0);
        run.rejected();
    }

    #[test]
    fn int_min_over_minus_one() {
        // INT_MIN / −1 traps, so it has no trace; INT_MIN rem −1 (= 0) has one, with the same
        // magnitudes. Turn that row into `div_s` (in the program too) claiming the quotient
        // 2^31: only the overflow guard stops it.
        let mut run = honest(&binary("i32.rem_s"), &[1 << 31, u32::MAX]);
        let row = row_of(&run, Kind::Div, BinOp::RemS);
        for instr in &mut run.program.code {
            if let Instr::Binary { op, .. } = instr
                && *op == BinOp::RemS
            {
                *op = BinOp::DivS;
            }
        }
        // The ROM table's row of that pc: `enabler, tag, pc, opcode, …`.
        let pc = run.get(Kind::Div, 1, row) as usize;
        run.set(Kind::Rom, 3, pc, obelysk_vm::ir::Opcode::DivS.word());
        assert_eq!(run.get(Kind::Div, SQ, row), 0);
        run.set(Kind::Div, AFTER_FRAME + 1, row, 0);
        run.set(Kind::Div, RES_LO + 1, row, 0x8000);
        run.set(Kind::Div, G, row, 1);
        // The value written: its read by `write`, its range check, the stack cell's final
        // value (`t, lo, hi` of space 0) in the boundary.
        let write = run.row(Kind::Io, |i| matches!(i, Instr::Write { .. }));
        run.set(Kind::Io, AFTER_FRAME + 4, write, 0x8000);
        let count = |run: &Run, v: usize| run.get(Kind::Range16, 0, v);
        let (zeros, high) = (count(&run, 0), count(&run, 0x8000));
        run.set(Kind::Range16, 0, 0, zeros - 1);
        run.set(Kind::Range16, 0, 0x8000, high + 1);
        let cell = (run.get(Kind::Div, 2, row) + run.get(Kind::Div, 6, row)) as usize;
        run.set(Kind::Boundary, 2, cell, 0x8000);
        run.statement.output = vec![1 << 31];
        let err = run.rejected();
        assert!(
            matches!(
                err,
                CheckError::Constraint {
                    component: "div",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn unsigned_magnitude_for_a_signed_operand() {
        // −7 rem_s 3 is −1. Claim x non-negative (sx = 0): ax would have to be 2^32 − 7.
        let mut run = honest(&binary("i32.rem_s"), &[(-7i32) as u32, 3]);
        let row = row_of(&run, Kind::Div, BinOp::RemS);
        assert_eq!(run.get(Kind::Div, SX, row), 1);
        run.set(Kind::Div, SX, row, 0);
        run.rejected();
    }
}

mod unary {
    use super::*;
    use obelysk_vm::ir::UnOp;

    // Flags ctz, popcnt, extend8_s, extend16_s; bits b0..b31; hi_1..hi_30; lo_1..lo_31;
    // r_lo, r_hi.
    const B0: usize = AFTER_FRAME + 4;
    const HI1: usize = B0 + 32;
    const R_LO: usize = HI1 + 30 + 31;

    const OPS: [(&str, UnOp); 5] = [
        ("i32.clz", UnOp::Clz),
        ("i32.ctz", UnOp::Ctz),
        ("i32.popcnt", UnOp::Popcnt),
        ("i32.extend8_s", UnOp::Extend8S),
        ("i32.extend16_s", UnOp::Extend16S),
    ];

    fn program(op: &str) -> Vec<u8> {
        module(&format!(
            r#"(func (export "main") (call $write ({op} (call $read (i32.const 0)))))"#
        ))
    }

    #[test]
    fn edges() {
        for (wat_op, op) in OPS {
            let wasm = program(wat_op);
            for x in EDGES
                .into_iter()
                .chain([0x80, 0x7f, 0xff, 0x8000, 0x0001_0000, 0x8765_4321])
            {
                let run = honest(&wasm, &[x]);
                run.check()
                    .unwrap_or_else(|e| panic!("{wat_op} {x:#x}: {e}"));
                assert_eq!(run.statement.output, [op.apply(x)], "{wat_op} {x:#x}");
            }
        }
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main") (local $a i32)
                (local.set $a (call $read (i32.const 0)))
                (call $write (i32.clz (local.get $a)))
                (call $write (i32.ctz (local.get $a)))
                (call $write (i32.popcnt (local.get $a)))
                (call $write (i32.extend8_s (local.get $a)))
                (call $write (i32.extend16_s (local.get $a)))
                (call $write (i32.clz (i32.const -1)))
                (call $write (i32.ctz (i32.const -1)))
                (call $write (i32.extend8_s (i32.const 0x7f)))
                (call $write (i32.extend16_s (i32.const 0x7fff))))"#,
        );
        // The constant operands set the bits that 0x0f0f_8421 leaves clear (a prefix or
        // suffix column is caught only where some change can show).
        every_column_is_load_bearing(&honest(&wasm, &[0x0f0f_8421]), Kind::Unary);
    }

    #[test]
    fn clz_skipping_a_set_bit() {
        // clz(0x00f0_0000) = 8. Clearing the prefix flags at bits 20..23 claims 12.
        let wasm = program("i32.clz");
        let mut run = honest(&wasm, &[0x00f0_0000]);
        let row = run.row(Kind::Unary, |_| true);
        assert_eq!(run.get(Kind::Unary, R_LO, row), 8);
        for i in 20..24 {
            run.set(Kind::Unary, HI1 + i - 1, row, 0);
        }
        run.set(Kind::Unary, R_LO, row, 12);
        run.statement.output = vec![12];
        run.rejected();
        run.rejected_end_to_end(&wasm);
    }

    #[test]
    fn bits_that_are_not_bits() {
        // x = 2 as bits (2, 0, …): the same limb, but popcnt would count 2.
        let mut run = honest(&program("i32.popcnt"), &[2]);
        let row = run.row(Kind::Unary, |_| true);
        run.set(Kind::Unary, B0, row, 2);
        run.set(Kind::Unary, B0 + 1, row, 0);
        run.set(Kind::Unary, R_LO, row, 2);
        run.statement.output = vec![2];
        assert!(matches!(
            run.rejected(),
            CheckError::Constraint {
                component: "unary",
                ..
            }
        ));
    }
}

mod jump_table {
    use super::*;

    // x_lo, x_hi, borrow0, lt, off.
    const LT: usize = AFTER_FRAME + 3;
    const OFF: usize = AFTER_FRAME + 4;

    /// `br_table` over three targets and a default, each writing its own number; the second
    /// target carries a value out of its block.
    fn program() -> Vec<u8> {
        module(
            r#"(func $pick (param $i i32) (result i32)
                (block $d (block $c (block $b (block $a
                    (br_table $a $b $c $d (local.get $i)))
                    (return (i32.const 10)))
                    (return (i32.const 11)))
                    (return (i32.const 12)))
                (i32.const 13))
               (func $carry (param $i i32) (result i32)
                (block $out (result i32)
                    (i32.const 77)
                    (br_table $out $out (local.get $i))))
               (func (export "main")
                (call $write (call $pick (call $read (i32.const 0))))
                (call $write (call $carry (call $read (i32.const 0)))))"#,
        )
    }

    #[test]
    fn edges() {
        let wasm = program();
        for (i, expected) in [(0, 10), (1, 11), (2, 12), (3, 13), (4, 13), (1 << 16, 13)]
            .into_iter()
            .chain([(u32::MAX, 13), (1 << 31, 13)])
        {
            let run = honest(&wasm, &[i]);
            run.check().unwrap_or_else(|e| panic!("index {i:#x}: {e}"));
            assert_eq!(run.statement.output, [expected, 77], "index {i:#x}");
        }
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func $pick (param $i i32) (result i32)
                (block $b (block $a (br_table $a $b (local.get $i))) (return (i32.const 1)))
                (i32.const 2))
               (func (export "main")
                (call $write (call $pick (i32.const 0)))
                (call $write (call $pick (i32.const 0x10000)))
                (call $write (call $pick (i32.const 7))))"#,
        );
        every_column_is_load_bearing(&honest(&wasm, &[]), Kind::JumpTable);
    }

    #[test]
    fn default_taken_for_an_index_in_range() {
        // Index 1 of 3 goes to the entry for target 1; claim it is out of range (the default).
        let wasm = program();
        let mut run = honest(&wasm, &[1]);
        let row = run.row(Kind::JumpTable, |_| true);
        assert_eq!(run.get(Kind::JumpTable, LT, row), 1);
        run.set(Kind::JumpTable, LT, row, 0);
        run.set(Kind::JumpTable, OFF, row, 0);
        run.rejected();
    }
}

mod globals {
    use super::*;

    // v_lo, v_hi, old_lo, old_hi (both families).
    const V_LO: usize = AFTER_FRAME;

    /// `$g` starts at 0x8000_ffff and `$k` is immutable: writes `$g`, then `$g ← input[0]`,
    /// then `$g + $k` and `$z` (a mutable global that starts at zero).
    fn program(g_init: u32) -> Vec<u8> {
        module(&format!(
            r#"(global $g (mut i32) (i32.const {g_init}))
               (global $k i32 (i32.const 9))
               (global $z (mut i32) (i32.const 0))
               (func (export "main")
                 (call $write (global.get $g))
                 (global.set $g (call $read (i32.const 0)))
                 (call $write (i32.add (global.get $g) (global.get $k)))
                 (call $write (global.get $z)))"#,
            g_init = g_init as i32
        ))
    }

    #[test]
    fn edges() {
        for x in EDGES {
            let run = honest(&program(0x8000_ffff), &[x]);
            run.check().unwrap();
            assert_eq!(run.statement.output, [0x8000_ffff, x.wrapping_add(9), 0]);
        }
    }

    #[test]
    fn columns() {
        let run = honest(&program(0x8000_ffff), &[0x1234_5678]);
        every_column_is_load_bearing(&run, Kind::GlobalGet);
        every_column_is_load_bearing(&run, Kind::GlobalSet);
    }

    #[test]
    fn initial_value_is_in_the_program_id() {
        let a = obelysk_vm::lower::lower(&program(1)).unwrap();
        let b = obelysk_vm::lower::lower(&program(2)).unwrap();
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn stale_read() {
        // The second `global.get $g` claims the initial value instead of input[0].
        let mut run = honest(&program(5), &[7]);
        let pcs = &run.witness.table(Kind::GlobalGet).columns[1];
        let second = (0..run.witness.table(Kind::GlobalGet).rows())
            .filter(|&r| {
                matches!(
                    run.program.code[pcs[r].0 as usize],
                    Instr::GlobalGet { global: 0, .. }
                )
            })
            .nth(1)
            .unwrap();
        assert_eq!(run.get(Kind::GlobalGet, V_LO, second), 7);
        run.set(Kind::GlobalGet, V_LO, second, 5);
        run.statement.output = vec![5, 14, 0];
        run.rejected();
        run.rejected_end_to_end(&program(5));
    }

    #[test]
    fn set_writes_another_value() {
        let mut run = honest(&program(5), &[7]);
        // Row 0 is the entry stub's initial value, row 1 main's `global.set`.
        let row = run.witness.table(Kind::GlobalSet).rows() - 1;
        assert_eq!(run.get(Kind::GlobalSet, V_LO, row), 7);
        run.set(Kind::GlobalSet, V_LO, row, 8);
        run.rejected();
    }
}

/// The immediate forms (`BinaryImm`: `i32.const` then an addition or a shift, in one step):
/// honest on edge operands, every column load-bearing, and the immediate bound to the
/// instruction.
mod immediate {
    use super::*;

    // add_sub after the frame: d, is_sub, is_imm, x_lo, x_hi, y_lo, y_hi, r_lo, r_hi, ...
    const IS_IMM: usize = AFTER_FRAME + 2;
    const Y_LO: usize = AFTER_FRAME + 5;
    const R_LO: usize = AFTER_FRAME + 7;

    const OPS: [(&str, BinOp); 7] = [
        ("i32.add", BinOp::Add),
        ("i32.sub", BinOp::Sub),
        ("i32.shl", BinOp::Shl),
        ("i32.shr_s", BinOp::ShrS),
        ("i32.shr_u", BinOp::ShrU),
        ("i32.rotl", BinOp::Rotl),
        ("i32.rotr", BinOp::Rotr),
    ];

    /// `write(input[0] op k)` with `k` a constant.
    fn with_constant(wat_op: &str, k: u32) -> Vec<u8> {
        module(&format!(
            r#"(func (export "main")
                (call $write ({wat_op} (call $read (i32.const 0)) (i32.const {}))))"#,
            k as i32
        ))
    }

    fn imm_row(run: &Run, kind: Kind, op: BinOp) -> usize {
        run.row(
            kind,
            |i| matches!(i, Instr::BinaryImm { op: o, .. } if *o == op),
        )
    }

    #[test]
    fn edges() {
        for (wat_op, op) in OPS {
            let kind = if matches!(op, BinOp::Add | BinOp::Sub) {
                Kind::AddSub
            } else {
                Kind::Shift
            };
            for k in [0, 1, 31, 32, 0xffff, 0x1_0000, 1 << 31, u32::MAX] {
                let wasm = with_constant(wat_op, k);
                for x in [0, 0x8765_4321, u32::MAX] {
                    let run = honest(&wasm, &[x]);
                    imm_row(&run, kind, op);
                    run.check()
                        .unwrap_or_else(|e| panic!("{wat_op} {x:#x} {k:#x}: {e}"));
                    assert_eq!(
                        run.statement.output,
                        [op.apply(x, k)],
                        "{wat_op} {x:#x} {k:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn columns() {
        let wasm = module(
            r#"(func (export "main") (local $a i32)
                (local.set $a (call $read (i32.const 0)))
                (call $write (i32.add (local.get $a) (i32.const 0x12345)))
                (call $write (i32.sub (local.get $a) (i32.const 7)))
                (call $write (i32.add (local.get $a) (local.get $a))))"#,
        );
        every_column_is_load_bearing(&honest(&wasm, &[0xdead_beef]), Kind::AddSub);
    }

    /// `x + 5` claimed as `x + 6`: the row's own arithmetic holds, only the binding of `y` to
    /// the instruction's immediate rejects it.
    #[test]
    fn another_immediate() {
        let wasm = with_constant("i32.add", 5);
        let mut run = honest(&wasm, &[100]);
        let row = imm_row(&run, Kind::AddSub, BinOp::Add);
        assert_eq!(run.get(Kind::AddSub, Y_LO, row), 5);
        run.set(Kind::AddSub, Y_LO, row, 6);
        run.set(Kind::AddSub, R_LO, row, 106);
        run.statement.output = vec![106];
        assert!(matches!(
            run.rejected(),
            CheckError::Constraint {
                component: "add_sub",
                ..
            }
        ));
        run.rejected_end_to_end(&wasm);
    }

    /// The flag names the instruction: set on a register row or cleared on an immediate
    /// row, the row claims an opcode the program does not have there.
    #[test]
    fn flag_flipped() {
        let wasm = module(
            r#"(func (export "main") (local $a i32)
                (local.set $a (call $read (i32.const 0)))
                (call $write (i32.add (local.get $a) (i32.const 5)))
                (call $write (i32.add (local.get $a) (local.get $a))))"#,
        );
        let honest_run = honest(&wasm, &[9]);
        let imm = imm_row(&honest_run, Kind::AddSub, BinOp::Add);
        let register = row_of(&honest_run, Kind::AddSub, BinOp::Add);
        for (row, flag) in [(imm, 0), (register, 1)] {
            let mut run = honest(&wasm, &[9]);
            assert_eq!(run.get(Kind::AddSub, IS_IMM, row), 1 - flag);
            run.set(Kind::AddSub, IS_IMM, row, flag);
            run.rejected();
        }
    }

    /// On a padding row the flag would make the skipped read's multiplicity −1 (a memory
    /// token from nowhere): the flag is tied to the enabler.
    #[test]
    fn flag_on_a_padding_row() {
        let mut run = honest(&with_constant("i32.add", 5), &[1]);
        let rows = 1usize << run.witness.claim.log_size(Kind::AddSub);
        let table = run.witness.table_mut(Kind::AddSub);
        let padding = table.rows();
        assert!(padding < rows);
        for column in &mut table.columns {
            column.push(stwo::core::fields::m31::M31::from(0u32));
        }
        run.check().expect("an explicit all-zero row is padding");
        run.set(Kind::AddSub, IS_IMM, padding, 1);
        assert!(matches!(
            run.rejected(),
            CheckError::Constraint {
                component: "add_sub",
                ..
            }
        ));
    }
}
