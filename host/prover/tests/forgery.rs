//! Forged witnesses: each attack of `../shared/design/vm-air.md` against the VM AIR. A forgery
//! must fail a constraint or unbalance the LogUp sum ([`check_witness`]), so no proof of it
//! verifies; the attacks marked "end to end" also run the real prover and verifier.

mod common;

use common::*;
use obelysk_air::components::Kind;
use obelysk_prover::check::CheckError;
use obelysk_vm::ir::Instr;
use stwo::core::fields::m31::M31;

// Step frame columns.
const E: usize = 0;
const PC: usize = 1;
const CLK: usize = 3;
const B: usize = 7;
// `cmp` columns (see `obelysk_air::components::cmp`).
const CMP_FLAGS: usize = 11;
// add_sub after the wide frame (`d` at 9): is_sub, is_imm, x_lo, x_hi, y_lo, y_hi, r_lo, r_hi,
// carry0, carry1, old_lo, old_hi, then the read of x (prev_ts, d_hi).
const ADD_IS_SUB: usize = 10;
const ADD_X_LO: usize = 12;
const ADD_R_LO: usize = 16;
const ADD_CARRY0: usize = 18;
const ADD_X_PREV_TS: usize = 22;
const CMP_D_HI: usize = 9 + CMP_FLAGS + 9;
const CMP_BORROW1: usize = 9 + CMP_FLAGS + 11;
const CMP_R: usize = 9 + CMP_FLAGS + 15;

#[test]
fn honest_witnesses_pass() {
    honest(&coverage(), &[5, 9, 2, 7]).check().unwrap();
    for a in EDGES {
        for b in [0, 1, a, u32::MAX - a, 1 << 16, a ^ 0x8000_8000] {
            honest(&all_ops(), &[a, b]).check().unwrap();
        }
    }
}

/// Every column of every component is constrained: changing it on some real row is caught.
/// (A column free on every row could hold anything: the bug class this stops.)
#[test]
fn every_column_is_load_bearing() {
    let run = honest(&coverage(), &[5, 9, 2, 7]);
    for kind in Kind::ALL {
        common::every_column_is_load_bearing(&run, kind);
    }
}

#[test]
fn wrong_carry_with_compensating_result() {
    // 0xffff + 1 = 0x1_0000: honest carry0 = 1, r = (0, 1). Forge carry0 = 0 with the result
    // (lo, hi) = (0x1_0000, 0): the same field value `lo + 2^16·hi`, and both limb equations
    // hold. Only the range check of the written limb stops it.
    let mut run = honest(&all_ops(), &[0xffff, 1]);
    let row = run.row(Kind::AddSub, |i| matches!(i, Instr::Binary { .. }));
    assert_eq!(
        (
            run.get(Kind::AddSub, ADD_R_LO, row),
            run.get(Kind::AddSub, ADD_CARRY0, row)
        ),
        (0, 1)
    );
    run.set(Kind::AddSub, ADD_R_LO, row, 0x10000);
    run.set(Kind::AddSub, ADD_R_LO + 1, row, 0);
    run.set(Kind::AddSub, ADD_CARRY0, row, 0);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn flag_of_two() {
    let mut run = honest(&all_ops(), &[3, 4]);
    let row = run.row(Kind::Cmp, |_| true);
    // The flags follow the frame's 9 columns (this read one column early, the frame's `c`,
    // until the lowering changed which slot `c` names).
    let flags: Vec<u32> = (9..9 + CMP_FLAGS)
        .map(|c| run.get(Kind::Cmp, c, row))
        .collect();
    let set = 9 + flags.iter().position(|&f| f == 1).unwrap();
    run.set(Kind::Cmp, set, row, 2);
    assert!(matches!(
        run.rejected(),
        CheckError::Constraint {
            component: "cmp",
            ..
        }
    ));
}

#[test]
fn wrong_comparison_result() {
    // 3 < 4: claim the borrow away and the result false.
    let mut run = honest(&all_ops(), &[3, 4]);
    let row = run.row(Kind::Cmp, |i| {
        matches!(
            i,
            Instr::Binary {
                op: obelysk_vm::ir::BinOp::LtU,
                ..
            }
        )
    });
    assert_eq!(run.get(Kind::Cmp, CMP_R, row), 1);
    run.set(Kind::Cmp, CMP_R, row, 0);
    run.rejected();
    // Same, with a consistent-looking borrow: the difference limb leaves the range.
    let mut run = honest(&all_ops(), &[3, 4]);
    run.set(Kind::Cmp, CMP_BORROW1, row, 0);
    run.set(Kind::Cmp, CMP_D_HI, row, 0u32.wrapping_sub(1) & 0x7fff_ffff);
    run.rejected();
}

#[test]
fn changed_input_or_output() {
    let run = honest(&coverage(), &[5, 9, 2, 7]);
    let mut forged = Run {
        statement: run.statement.clone(),
        ..honest(&coverage(), &[5, 9, 2, 7])
    };
    forged.statement.input[1] = 10;
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
    forged.statement = run.statement.clone();
    forged.statement.output[0] += 1;
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
    // Missing and duplicated output words.
    forged.statement.output = run.statement.output[1..].to_vec();
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
    forged.statement.output = run.statement.output.clone();
    forged
        .statement
        .output
        .push(*run.statement.output.last().unwrap());
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
    // Fewer steps.
    forged.statement = run.statement.clone();
    forged.statement.steps -= 1;
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
}

#[test]
fn changed_immediate_in_program_and_step() {
    // Rewrite `i32.const 7` as 8 in both the ROM row and the step that executes it.
    let mut run = honest(&coverage(), &[5, 9, 2, 7]);
    let row = run.row(Kind::Const, |i| matches!(i, Instr::Const { value: 7, .. }));
    let pc = run.get(Kind::Const, PC, row) as usize;
    for step in 0..run.witness.table(Kind::Const).rows() {
        if run.get(Kind::Const, PC, step) == pc as u32 {
            run.set(Kind::Const, B, step, 8);
        }
    }
    run.set(Kind::Rom, 5, pc, 8);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
    run.rejected_end_to_end(&coverage());
}

#[test]
fn changed_opcode() {
    // Execute the `sub` as an `add` (is_sub flipped, result adjusted): the ROM says sub.
    let mut run = honest(&all_ops(), &[10, 3]);
    let row = run.row(Kind::AddSub, |i| {
        matches!(
            i,
            Instr::Binary {
                op: obelysk_vm::ir::BinOp::Sub,
                ..
            }
        )
    });
    assert_eq!(run.get(Kind::AddSub, ADD_IS_SUB, row), 1);
    run.set(Kind::AddSub, ADD_IS_SUB, row, 0);
    run.set(Kind::AddSub, ADD_R_LO, row, 13);
    run.set(Kind::AddSub, ADD_CARRY0, row, 0);
    run.set(Kind::AddSub, ADD_CARRY0 + 1, row, 0);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn extra_program_row_and_padding_with_multiplicity() {
    let run = honest(&coverage(), &[5, 9]);
    let rows = run.witness.table(Kind::Rom).rows();
    let padding = rows; // the first padding row
    assert!(padding < 1 << run.witness.claim.log_size(Kind::Rom));
    // An extra enabled row: its Bind is not in the verifier's ROM.
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&coverage(), &[5, 9])
    };
    for (column, value) in [(0, 1), (1, 0), (2, 9999), (3, 0)] {
        forged.witness.table_mut(Kind::Rom).columns[column].push(M31::from(value));
    }
    for column in 4..9 {
        forged.witness.table_mut(Kind::Rom).columns[column].push(M31::from(0));
    }
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
    // A padding row that serves lookups.
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&coverage(), &[5, 9])
    };
    for column in 0..9 {
        let value = if column == 8 { 1 } else { 0 };
        forged.witness.table_mut(Kind::Rom).columns[column].push(M31::from(value));
    }
    assert!(matches!(
        forged.rejected(),
        CheckError::Constraint {
            component: "rom",
            ..
        }
    ));
}

#[test]
fn skipped_or_reordered_steps() {
    let run = honest(&coverage(), &[5, 9]);
    // Skip: drop a copy step (its successor's state is never yielded).
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&coverage(), &[5, 9])
    };
    let last = forged.witness.table(Kind::Copy).rows() - 1;
    forged.set(Kind::Copy, E, last, 0);
    forged.rejected();
    // Reorder: swap the clocks of two copy steps.
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&coverage(), &[5, 9])
    };
    let (c0, c1) = (
        forged.get(Kind::Copy, CLK, 0),
        forged.get(Kind::Copy, CLK, 1),
    );
    forged.set(Kind::Copy, CLK, 0, c1);
    forged.set(Kind::Copy, CLK, 1, c0);
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
}

#[test]
fn jump_to_nowhere() {
    let mut run = honest(&coverage(), &[5, 9]);
    let row = run.row(Kind::Jump, |i| matches!(i, Instr::Jump { .. }));
    run.set(Kind::Jump, 16, row, 1 << 19);
    assert!(matches!(
        run.rejected(),
        CheckError::Constraint {
            component: "jump",
            ..
        }
    ));
    // Also moving the target itself: the ROM pins it.
    let mut run = honest(&coverage(), &[5, 9]);
    run.set(Kind::Jump, B, row, 1 << 19);
    run.set(Kind::Jump, 16, row, 1 << 19);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn return_to_wrong_pc_or_fp() {
    for column in [9, 10] {
        let mut run = honest(&coverage(), &[5, 9]);
        let value = run.get(Kind::Ret, column, 0);
        run.set(Kind::Ret, column, 0, value + 1);
        assert_eq!(run.rejected(), CheckError::Unbalanced);
    }
}

#[test]
fn stale_read_and_read_from_the_future() {
    let run = honest(&sum_input(), &[1, 2, 3]);
    // The add that accumulates (its second time) reads `sum` (x, access 0). A stale read: an
    // older token of the same cell (its initial value at ts 0) instead of the latest.
    let table = run.witness.table(Kind::AddSub);
    let row = (0..table.rows())
        .filter(|&r| {
            let pc = table.columns[PC][r].0 as usize;
            matches!(run.program.code[pc], Instr::Binary { .. })
        })
        .nth(1)
        .expect("two accumulating adds");
    assert_ne!(run.get(Kind::AddSub, ADD_X_PREV_TS, row), 0);
    let mut stale = Run {
        witness: run.witness.clone(),
        ..honest(&sum_input(), &[1, 2, 3])
    };
    stale.set(Kind::AddSub, ADD_X_PREV_TS, row, 0);
    stale.set(Kind::AddSub, ADD_X_LO, row, 0);
    stale.set(Kind::AddSub, ADD_X_LO + 1, row, 0);
    stale.rejected();
    // From the future: a prev_ts past this step's own timestamp fails the range check.
    let mut future = Run {
        witness: run.witness.clone(),
        ..honest(&sum_input(), &[1, 2, 3])
    };
    let clk = future.get(Kind::AddSub, CLK, row);
    future.set(Kind::AddSub, ADD_X_PREV_TS, row, 8 * clk + 9);
    future.set(Kind::AddSub, ADD_X_PREV_TS + 1, row, 0);
    future.rejected();
}

#[test]
fn out_of_bounds_address() {
    // A boundary smaller than the memory the run touched: the cells past it have no initial
    // token.
    let mut run = honest(&fib_recursive(), &[18]);
    let log = run.witness.claim.log_size(Kind::Boundary);
    assert!(log > 4, "the recursion uses more than 16 cells");
    run.witness.claim.log_sizes[Kind::Boundary.index()] = log - 1;
    for column in &mut run.witness.table_mut(Kind::Boundary).columns {
        column.truncate(1 << (log - 1));
    }
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn double_initialisation() {
    // Use a cell's initial token twice: the second read of a never-written slot claims ts 0.
    let mut run = honest(&coverage(), &[5, 9]);
    // Boundary rows cannot repeat an address (the preprocessed `seq` column); a forged final
    // value for an untouched cell leaves its initial token unconsumed.
    let untouched = run.witness.table(Kind::Boundary).rows() - 1;
    run.set(Kind::Boundary, 1, untouched, 5);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn forged_io() {
    // A read of input word 1 claiming another word.
    let mut run = honest(&coverage(), &[5, 9]);
    let row = run.row(Kind::Io, |i| matches!(i, Instr::Read { .. }));
    let w = run.get(Kind::Io, 14, row);
    run.set(Kind::Io, 14, row, w + 1);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
    run.rejected_end_to_end(&coverage());
}
