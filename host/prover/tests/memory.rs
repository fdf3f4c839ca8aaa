//! Linear memory: the `load`, `store`, `memory_size` and `memory_grow` families and the
//! sparse `memory` boundary. Honest edges (widths, alignments, page ends, grow at the
//! maximum), every column load-bearing, and the malicious witnesses of the issue: a stale
//! read, a never-written cell read as non-zero, a forged data byte, a store that changes a
//! neighbouring byte, an access past the memory, a cell initialised twice.

mod common;

use common::*;
use obelysk_air::components::Kind;
use obelysk_air::components::frame::ACCESSES_PER_STEP;
use obelysk_prover::check::CheckError;
use obelysk_vm::interp::{self, ExecError};
use obelysk_vm::ir::{Instr, LoadOp, StoreOp};
use obelysk_vm::lower::lower;

/// Columns after the frame (`enabler, pc, fp, clk, out, pages, a, b, c`).
const AFTER_FRAME: usize = 9;
/// `load`: `d`, 5 flags, `x_lo, x_hi, c1, c2, a_lo`, `b0..b3`, `n8, n16, old_lo, old_hi`,
/// then the accesses (`prev_ts, d_hi` each): base, bytes 0..3, dst.
const LOAD_B0: usize = AFTER_FRAME + 11;
const LOAD_ACCESSES: usize = AFTER_FRAME + 19;
/// `store`: `d`, 3 flags, `x_lo, x_hi, c1, c2, a_lo`, `q0..q3`, `o0..o3`.
const STORE_FLAGS: usize = AFTER_FRAME + 1;
/// `memory` boundary columns.
const M_ENABLER: usize = 0;
const M_IS_DATA: usize = 4;
const M_INIT: usize = 5;
const M_FINAL: usize = 7;

/// Data `2a 80` at 0x100; `a = input[0]`, `v = input[1]`: writes the data as `load8_u` and
/// `load16_s`, `memory[a..a+4]` (never written: zero), then stores `v` as one byte at `a` and
/// writes `load(a)`, stores it as a word at `a + 4` and writes `load16_u(a + 5)`.
fn program() -> Vec<u8> {
    module(
        r#"(data (i32.const 0x100) "\2a\80")
           (func (export "main") (local $a i32) (local $v i32)
             (local.set $a (call $read (i32.const 0)))
             (local.set $v (call $read (i32.const 1)))
             (call $write (i32.load8_u (i32.const 0x100)))
             (call $write (i32.load16_s (i32.const 0x100)))
             (call $write (i32.load (local.get $a)))
             (i32.store8 (local.get $a) (local.get $v))
             (call $write (i32.load (local.get $a)))
             (i32.store offset=4 (local.get $a) (local.get $v))
             (call $write (i32.load16_u offset=5 (local.get $a))))"#,
    )
}

fn expected(v: u32) -> Vec<u32> {
    vec![0x2a, 0xffff_802a, 0, v & 0xff, (v >> 8) & 0xffff]
}

/// The boundary row of byte address `addr`.
fn memory_row(run: &Run, addr: u32) -> usize {
    let table = run.witness.table(Kind::Memory);
    (0..table.rows())
        .find(|&r| table.columns[2][r].0 + (table.columns[3][r].0 << 16) == addr)
        .expect("the boundary has a row for the address")
}

/// The `load` rows executing `op`, in execution order.
fn loads(run: &Run, op: LoadOp) -> Vec<usize> {
    (0..run.witness.table(Kind::Load).rows())
        .filter(|&r| {
            let pc = run.get(Kind::Load, 1, r) as usize;
            matches!(run.program.code[pc], Instr::Load { op: o, .. } if o == op)
        })
        .collect()
}

#[test]
fn edges() {
    // Aligned, unaligned, the last bytes of the page.
    for a in [0, 1, 3, 0x1000, 0xfff4, 0xfff7] {
        for v in EDGES {
            let run = honest(&program(), &[a, v]);
            run.check()
                .unwrap_or_else(|e| panic!("a = {a:#x}, v = {v:#x}: {e}"));
            assert_eq!(run.statement.output, expected(v), "a = {a:#x}");
        }
    }
}

#[test]
fn every_width_round_trips() {
    // Each store width, read back by each load width, at a page-crossing address after a
    // grow: `write(load_k(store_j(a, v)))` for all j, k.
    let mut body = String::new();
    for store in ["i32.store8", "i32.store16", "i32.store"] {
        for load in [
            "i32.load8_u",
            "i32.load8_s",
            "i32.load16_u",
            "i32.load16_s",
            "i32.load",
        ] {
            body.push_str(&format!(
                "({store} (local.get $a) (local.get $v)) (call $write ({load} (local.get $a)))
                 (i32.store (local.get $a) (i32.const 0))"
            ));
        }
    }
    let wasm = module(&format!(
        r#"(func (export "main") (local $a i32) (local $v i32)
             (drop (memory.grow (i32.const 1)))
             (local.set $a (call $read (i32.const 0)))
             (local.set $v (call $read (i32.const 1)))
             {body})"#
    ));
    for a in [0xfffe, 0xffff, 0x1_fffc] {
        for v in EDGES {
            let run = honest(&wasm, &[a, v]);
            run.check()
                .unwrap_or_else(|e| panic!("a = {a:#x}, v = {v:#x}: {e}"));
            let mut want = Vec::new();
            for store in StoreOp::ALL {
                let mask = (1u64 << (8 * store.bytes())) - 1;
                let stored = (u64::from(v) & mask) as u32;
                for load in LoadOp::ALL {
                    want.push(load.extend(stored.to_le_bytes()));
                }
            }
            assert_eq!(run.statement.output, want, "a = {a:#x}, v = {v:#x}");
        }
    }
}

#[test]
fn columns() {
    let run = honest(&program(), &[0xfff7, 0x8123_4567]);
    for kind in [Kind::Load, Kind::Store, Kind::Memory] {
        every_column_is_load_bearing(&run, kind);
    }
}

/// `(memory 1 3)`: grows by `input[0]` then by `input[1]`, writes both results and the size,
/// then stores at the last word of the memory.
fn grower() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "obelysk" "read" (func $read (param i32) (result i32)))
            (import "obelysk" "write" (func $write (param i32)))
            (memory (export "memory") 1 3)
            (func (export "main")
              (call $write (memory.grow (call $read (i32.const 0))))
              (call $write (memory.grow (call $read (i32.const 1))))
              (call $write (memory.size))
              (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4))
                         (i32.const 7))))"#,
    )
    .unwrap()
}

#[test]
fn grow_at_the_maximum() {
    let cases: [([u32; 2], [u32; 3]); 6] = [
        ([0, 0], [1, 1, 1]),
        ([2, 0], [1, 3, 3]),
        ([2, 1], [1, u32::MAX, 3]),
        ([3, 2], [u32::MAX, 1, 3]),
        ([0x1_0000, 1], [u32::MAX, 1, 2]),
        ([u32::MAX, 0], [u32::MAX, 1, 1]),
    ];
    for (input, output) in cases {
        let run = honest(&grower(), &input);
        run.check().unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(run.statement.output, output, "{input:?}");
    }
    // A request of 2^16 pages or more sets `h` (and so constrains `inv`).
    let run = honest(&grower(), &[0x1_0000, 1]);
    every_column_is_load_bearing(&run, Kind::MemoryGrow);
    every_column_is_load_bearing(&run, Kind::MemorySize);
}

#[test]
fn grow_past_the_maximum_cannot_succeed() {
    // `grow(3)` from 1 page with max 3 fails; claim it succeeded (ok = 1, the old size, the
    // size 4): `le` cannot be 1 with X = 3 − 1 − 3 < 0.
    let mut run = honest(&grower(), &[3, 0]);
    let grow = |c: usize| AFTER_FRAME + c;
    // Row 0 is the entry stub's grow to 1 page; row 1 is main's first.
    let row = 1;
    run.set(Kind::MemoryGrow, grow(4), row, 1); // le
    run.set(Kind::MemoryGrow, grow(6), row, 1); // ok
    run.set(Kind::MemoryGrow, grow(7), row, 4); // next
    run.set(Kind::MemoryGrow, grow(8), row, 1); // r_lo
    run.rejected();
}

#[test]
fn out_of_bounds_has_no_proof() {
    // Past the end and a 32-bit overflow of base + offset both trap, so no trace exists.
    let p = lower(&program()).unwrap();
    for a in [0xfffd, 0x1_0000, u32::MAX - 3, u32::MAX] {
        assert!(
            matches!(
                interp::run(&p, &[a, 1], 1 << 16),
                Err(ExecError::OutOfBounds { .. })
            ),
            "{a:#x}"
        );
    }
}

#[test]
fn access_past_the_memory_size() {
    // `(memory 0)`, `grow(input[0])`, then `load(0)`. Honest with input 1. Forged: the prover
    // claims input 0, so the memory stays at zero pages, and keeps every other part of the
    // trace (the grow still "returns" 0, the load still reads zero bytes at 0). Everything
    // balances except the load's bound check, whose `pages − 1 − a_hi = −1` is no range entry.
    let wasm = wat::parse_str(
        r#"(module
            (import "obelysk" "read" (func $read (param i32) (result i32)))
            (import "obelysk" "write" (func $write (param i32)))
            (memory (export "memory") 0)
            (func (export "main")
              (drop (memory.grow (call $read (i32.const 0))))
              (call $write (i32.load (i32.const 0)))))"#,
    )
    .unwrap();
    let mut run = honest(&wasm, &[1]);
    run.check().unwrap();
    run.statement.input = vec![0];
    let input_row = run.program.code.len();
    run.set(Kind::Rom, 4, input_row, 0);
    let read = run.row(Kind::Io, |i| matches!(i, Instr::Read { .. }));
    run.set(Kind::Io, AFTER_FRAME + 5, read, 0);
    let grow_clk = run.get(Kind::MemoryGrow, 3, 0);
    let g = run.get(Kind::MemoryGrow, AFTER_FRAME + 5, 0);
    run.set(Kind::MemoryGrow, AFTER_FRAME, 0, 0); // δ_lo
    run.set(Kind::MemoryGrow, AFTER_FRAME + 5, 0, g + 1); // g = X
    run.set(Kind::MemoryGrow, AFTER_FRAME + 7, 0, 0); // next pages
    let uses = |run: &Run, v: u32| run.get(Kind::Range16, 0, v as usize);
    let (old, new) = (uses(&run, g), uses(&run, g + 1));
    run.set(Kind::Range16, 0, g as usize, old - 1);
    run.set(Kind::Range16, 0, g as usize + 1, new + 1);
    for kind in Kind::STEPS {
        for row in 0..run.witness.table(kind).rows() {
            if run.get(kind, 3, row) > grow_clk {
                run.set(kind, 5, row, 0);
            }
        }
    }
    // The load's bound lookup is now of −1, which the table does not hold (the table's
    // multiplicities are left as they were: without the bound check this forgery balances).
    assert_eq!(run.rejected(), CheckError::Unbalanced);
    run.rejected_end_to_end(&wasm);
}

#[test]
fn stale_read() {
    // The `load(a)` after `store8(a, v)` claims the byte's initial zero (the boundary's
    // token at timestamp 0) instead of `v`'s low byte.
    let mut run = honest(&program(), &[0x40, 0x99]);
    let row = loads(&run, LoadOp::W32)[1];
    assert_eq!(run.get(Kind::Load, LOAD_B0, row), 0x99);
    let clk = run.get(Kind::Load, 3, row);
    run.set(Kind::Load, LOAD_B0, row, 0);
    run.set(Kind::Load, LOAD_ACCESSES + 2, row, 0);
    run.set(
        Kind::Load,
        LOAD_ACCESSES + 3,
        row,
        (ACCESSES_PER_STEP * clk + 1) >> 16,
    );
    run.statement.output[3] = 0;
    run.rejected();
    run.rejected_end_to_end(&program());
}

#[test]
fn never_written_cell_reads_zero() {
    // `load(a)` of a never-written, non-data cell reads 5: the boundary row starts it at 5.
    // Byte 0x43 is read by both `load(a)`s.
    let run = honest(&program(), &[0x40, 0x99]);
    let rows = loads(&run, LoadOp::W32);
    let cell = memory_row(&run, 0x43);
    let forge = |run: &mut Run, is_data: u32| {
        for &row in &rows {
            run.set(Kind::Load, LOAD_B0 + 3, row, 5);
        }
        run.set(Kind::Memory, M_INIT, cell, 5);
        run.set(Kind::Memory, M_FINAL, cell, 5);
        run.set(Kind::Memory, M_IS_DATA, cell, is_data);
        run.statement.output[2] = 5 << 24;
        run.statement.output[3] = 0x99 | 5 << 24;
    };
    let mut run = honest(&program(), &[0x40, 0x99]);
    // As an ordinary cell: `(1 − is_data)·init = 0` fails.
    let mut plain = honest(&program(), &[0x40, 0x99]);
    forge(&mut plain, 0);
    assert!(matches!(
        plain.rejected(),
        CheckError::Constraint {
            component: "memory",
            ..
        }
    ));
    // Claimed as data: the verifier yields no `Data(0x43, 5)`.
    forge(&mut run, 1);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
    run.rejected_end_to_end(&program());
}

#[test]
fn forged_data_byte() {
    // The prover claims the data byte at 0x100 is 0x2b: the boundary's init, the load's byte
    // and the output agree with it, but the verifier yields `Data(0x100, 0x2a)`.
    let mut run = honest(&program(), &[0x40, 0x99]);
    let cell = memory_row(&run, 0x100);
    assert_eq!(run.get(Kind::Memory, M_INIT, cell), 0x2a);
    run.set(Kind::Memory, M_INIT, cell, 0x2b);
    run.set(Kind::Memory, M_FINAL, cell, 0x2b);
    for op in [LoadOp::U8, LoadOp::S16] {
        let row = loads(&run, op)[0];
        run.set(Kind::Load, LOAD_B0, row, 0x2b);
    }
    run.statement.output[0] = 0x2b;
    run.statement.output[1] = 0xffff_802b;
    assert_eq!(run.rejected(), CheckError::Unbalanced);
    // And the data is in the program id.
    let other = module(r#"(data (i32.const 0x100) "\2b\80") (func (export "main"))"#);
    let same = module(r#"(data (i32.const 0x100) "\2a\80") (func (export "main"))"#);
    assert_ne!(lower(&other).unwrap().id(), lower(&same).unwrap().id());
}

#[test]
fn store_cannot_change_a_neighbour() {
    // `store8(a, v)` executed as a 16-bit store (the flag moved): the ROM says store8.
    let mut run = honest(&program(), &[0x40, 0x1234]);
    let row = run.row(Kind::Store, |i| {
        matches!(
            i,
            Instr::Store {
                op: StoreOp::B8,
                ..
            }
        )
    });
    run.set(Kind::Store, STORE_FLAGS, row, 0);
    run.set(Kind::Store, STORE_FLAGS + 1, row, 1);
    run.rejected();
    // The byte after it changes in the boundary's final value with no access: unbalanced.
    let mut run = honest(&program(), &[0x40, 0x1234]);
    let cell = memory_row(&run, 0x41);
    let value = run.get(Kind::Memory, M_FINAL, cell);
    run.set(Kind::Memory, M_FINAL, cell, value ^ 0x12);
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn cell_initialised_twice() {
    // A second boundary row for a cell (as if it started twice, once per value): the address
    // chain cannot pass through it twice.
    let run = honest(&program(), &[0x40, 0x99]);
    let cell = memory_row(&run, 0x40);
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&program(), &[0x40, 0x99])
    };
    let table = forged.witness.table_mut(Kind::Memory);
    for column in &mut table.columns {
        let value = column[cell];
        column.push(value);
    }
    assert_eq!(forged.rejected(), CheckError::Unbalanced);
    // A row switched off: its cell has no initial token.
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&program(), &[0x40, 0x99])
    };
    let rows = forged.witness.table(Kind::Memory).rows();
    forged.set(Kind::Memory, M_ENABLER, rows - 1, 0);
    forged.rejected();
}

#[test]
fn sparse_addresses_are_bridged() {
    // Bytes at 5 and 0x3fff0 (four pages): the gap is bridged by untouched rows, and a
    // boundary without them cannot link the two.
    let wasm = module(
        r#"(func (export "main")
             (drop (memory.grow (i32.const 3)))
             (i32.store8 (i32.const 5) (i32.const 1))
             (i32.store8 (i32.const 0x3fff0) (i32.const 2))
             (call $write (i32.add (i32.load8_u (i32.const 5))
                                   (i32.load8_u (i32.const 0x3fff0)))))"#,
    );
    let run = honest(&wasm, &[]);
    run.check().unwrap();
    assert_eq!(run.statement.output, [3]);
    let rows = run.witness.table(Kind::Memory).rows();
    assert_eq!(rows, 2 + 3, "two cells and three bridging rows");
    let mut forged = Run {
        witness: run.witness.clone(),
        ..honest(&wasm, &[])
    };
    for column in &mut forged.witness.table_mut(Kind::Memory).columns {
        column.remove(1);
    }
    forged.rejected();
}

#[test]
fn address_chain_cannot_loop() {
    // A second row for cell 0x40 whose chain edge is a self-loop (`lower = addr + 1`): it
    // consumes the `MemOrder` token it yields, so without `addr − lower ∈ Range16` it would
    // balance and give the cell a second initial token. Its other range lookups are counted,
    // so only that check stops it.
    let mut run = honest(&program(), &[0x40, 0x99]);
    let addr = 0x40u32;
    let row = [1, addr + 1, addr & 0xffff, addr >> 16, 0, 0, 0, 0];
    let table = run.witness.table_mut(Kind::Memory);
    for (column, value) in table.columns.iter_mut().zip(row) {
        column.push(stwo::core::fields::m31::M31::from(value));
    }
    for v in [addr & 0xffff, addr >> 16, (addr >> 16) << 4] {
        let uses = run.get(Kind::Range16, 0, v as usize);
        run.set(Kind::Range16, 0, v as usize, uses + 1);
    }
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}

#[test]
fn address_chain_cannot_wrap_the_field() {
    // A cycle through p: a second row for cell 0x40 (a step of 1), then 32,768 untouched rows
    // whose steps sum to p − 1, so the chain comes back to 0x40 modulo p. Every step passes
    // `addr − lower ∈ Range16` and every token balances; only `addr < 2^28`
    // (`2^4·a_hi ∈ Range16`) stops the addresses past 2^28 that the cycle needs.
    let mut run = honest(&program(), &[0x40, 0x99]);
    const P: u64 = (1 << 31) - 1;
    let start = 0x40u64;
    let mut steps = vec![1u64];
    steps.extend(std::iter::repeat_n(1 << 16, 32767));
    steps.push((1 << 16) - 2);
    assert_eq!(steps.iter().sum::<u64>(), P);
    let mut lower = start;
    let mut rows = Vec::new();
    for step in steps {
        let addr = (lower + step - 1) % P;
        rows.push([
            1,
            lower as u32,
            (addr & 0xffff) as u32,
            (addr >> 16) as u32,
            0,
            0,
            0,
            0,
        ]);
        lower = (addr + 1) % P;
    }
    assert_eq!(lower, start, "the chain closes");
    let table = run.witness.table_mut(Kind::Memory);
    for row in &rows {
        for (column, &value) in table.columns.iter_mut().zip(row) {
            column.push(stwo::core::fields::m31::M31::from(value));
        }
    }
    let total = run.witness.table(Kind::Memory).rows();
    run.witness.claim.log_sizes[Kind::Memory.index()] = obelysk_air::vm::rows_log_size(total);
    for row in &rows {
        let addr = u64::from(row[2]) + (u64::from(row[3]) << 16);
        let diff = (addr + P - u64::from(row[1])) % P;
        for v in [
            u64::from(row[2]),
            u64::from(row[3]),
            diff,
            u64::from(row[3]) << 4,
        ] {
            if v < 1 << 16 {
                let uses = run.get(Kind::Range16, 0, v as usize);
                run.set(Kind::Range16, 0, v as usize, uses + 1);
            }
        }
    }
    assert_eq!(run.rejected(), CheckError::Unbalanced);
}
