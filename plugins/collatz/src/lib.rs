//! Input `[n]` with n ≥ 1; output `[steps, peak_lo, peak_hi]`: the number of Collatz steps
//! from n to 1 and the largest value reached (64-bit, split into low and high words).
//! n = 0 traps.
#![no_std]

use obelysk_guest as guest;

fn main() {
    let mut n = u64::from(guest::read_word(0));
    assert!(n != 0, "the Collatz trajectory of 0 never reaches 1");
    let (mut steps, mut peak) = (0u32, n);
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        peak = peak.max(n);
        steps += 1;
    }
    guest::write_words(&[steps, peak as u32, (peak >> 32) as u32]);
}

guest::entry!(main);
