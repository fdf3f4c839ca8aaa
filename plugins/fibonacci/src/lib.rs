//! Input `[n]`; output `[F(n) mod 2^32]` with F(0) = 0, F(1) = 1, computed iteratively.
#![no_std]

use obelysk_guest as guest;

fn main() {
    let n = guest::read_word(0);
    let (mut a, mut b) = (0u32, 1u32);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    guest::write_word(a);
}

guest::entry!(main);
