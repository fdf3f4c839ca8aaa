//! Input: a byte payload holding the postcard encoding of `(Matrix, Matrix)`;
//! output `[rows, cols, c00, c01, ...]`: their product, row-major, entries mod 2^32.
//! Mismatched dimensions or a malformed payload trap.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use obelysk_guest as guest;
use serde::Deserialize;

/// A row-major matrix; `data.len()` must be `rows × cols`.
#[derive(Deserialize)]
struct Matrix {
    rows: u32,
    cols: u32,
    data: Vec<u32>,
}

impl Matrix {
    fn at(&self, r: u32, c: u32) -> u32 {
        self.data[(r * self.cols + c) as usize]
    }
}

fn main() {
    let (a, b): (Matrix, Matrix) = guest::read_postcard();
    assert!(a.cols == b.rows, "inner dimensions differ");
    assert!(a.data.len() == (a.rows * a.cols) as usize && b.data.len() == (b.rows * b.cols) as usize);
    guest::write_words(&[a.rows, b.cols]);
    for r in 0..a.rows {
        for c in 0..b.cols {
            let dot = (0..a.cols).fold(0u32, |acc, k| acc.wrapping_add(a.at(r, k).wrapping_mul(b.at(k, c))));
            guest::write_word(dot);
        }
    }
}

guest::entry!(main);
