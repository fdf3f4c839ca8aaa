//! Input: any words `[x0, x1, ...]`; output `[count, sum mod 2^32, max]` (max = 0 when empty).
//! The words are first copied into a heap vector, so the run exercises linear memory.
#![no_std]

extern crate alloc;

use obelysk_guest as guest;

fn main() {
    let values = guest::input_words();
    let sum = values.iter().fold(0u32, |acc, &x| acc.wrapping_add(x));
    let max = values.iter().copied().max().unwrap_or(0);
    guest::write_words(&[values.len() as u32, sum, max]);
}

guest::entry!(main);
