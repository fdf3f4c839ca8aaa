//! Input: a byte payload of a 28×28 grey-scale image, 784 bytes row-major (0 = black).
//! Output: `[class, logit 0, ..., logit 9]`, the logits as i32 bit patterns and `class` the
//! first index of the largest.
//!
//! The network is `784 → 32 → 10`, integer-only as a quantised model runs on a phone:
//! pixels are u8, weights i8, accumulators i32 with an i32 bias; the hidden layer is
//! `clamp((acc + bias) >> 8, 0, 127)` (ReLU and requantisation to int8 in one step); the
//! output layer's accumulators are the logits. The weights are fixed, drawn at compile time
//! from a 64-bit LCG ([`Weights::generate`]), so the module is self-contained and the host
//! can rebuild the same network for its reference test.
#![no_std]

extern crate alloc;

use obelysk_guest as guest;

/// Input pixels (28 × 28).
pub const INPUTS: usize = 784;
/// Hidden units.
pub const HIDDEN: usize = 32;
/// Classes.
pub const CLASSES: usize = 10;

/// The network's parameters.
pub struct Weights {
    hidden: [[i8; INPUTS]; HIDDEN],
    hidden_bias: [i32; HIDDEN],
    output: [[i8; HIDDEN]; CLASSES],
    output_bias: [i32; CLASSES],
}

/// Knuth's MMIX LCG; each draw is the top byte of the next state.
struct Lcg(u64);

impl Lcg {
    const fn next(&mut self) -> i8 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 56) as u8 as i8
    }
}

impl Weights {
    /// Weights in draw order: hidden rows, hidden biases (draw × 64), output rows, output
    /// biases (draw × 16), from seed `0x0be1_75c0`.
    const fn generate() -> Weights {
        let mut lcg = Lcg(0x0be1_75c0);
        let mut w = Weights {
            hidden: [[0; INPUTS]; HIDDEN],
            hidden_bias: [0; HIDDEN],
            output: [[0; HIDDEN]; CLASSES],
            output_bias: [0; CLASSES],
        };
        let mut j = 0;
        while j < HIDDEN {
            let mut i = 0;
            while i < INPUTS {
                w.hidden[j][i] = lcg.next();
                i += 1;
            }
            j += 1;
        }
        let mut j = 0;
        while j < HIDDEN {
            w.hidden_bias[j] = lcg.next() as i32 * 64;
            j += 1;
        }
        let mut k = 0;
        while k < CLASSES {
            let mut j = 0;
            while j < HIDDEN {
                w.output[k][j] = lcg.next();
                j += 1;
            }
            k += 1;
        }
        let mut k = 0;
        while k < CLASSES {
            w.output_bias[k] = lcg.next() as i32 * 16;
            k += 1;
        }
        w
    }
}

static WEIGHTS: Weights = Weights::generate();

fn classify(pixels: &[u8; INPUTS], w: &Weights) -> [i32; CLASSES] {
    let mut hidden = [0i8; HIDDEN];
    for (h, (row, bias)) in hidden.iter_mut().zip(w.hidden.iter().zip(w.hidden_bias)) {
        let acc = row
            .iter()
            .zip(pixels)
            .fold(bias, |acc, (&wt, &px)| acc + i32::from(wt) * i32::from(px));
        *h = (acc >> 8).clamp(0, 127) as i8;
    }
    let mut logits = [0i32; CLASSES];
    for (logit, (row, bias)) in logits.iter_mut().zip(w.output.iter().zip(w.output_bias)) {
        *logit = row
            .iter()
            .zip(&hidden)
            .fold(bias, |acc, (&wt, &h)| acc + i32::from(wt) * i32::from(h));
    }
    logits
}

fn main() {
    let bytes = guest::input_bytes();
    let Ok(pixels) = <&[u8; INPUTS]>::try_from(bytes.as_slice()) else {
        core::arch::wasm32::unreachable()
    };
    let logits = classify(pixels, &WEIGHTS);
    let mut class = 0;
    for (k, &logit) in logits.iter().enumerate() {
        if logit > logits[class] {
            class = k;
        }
    }
    guest::write_word(class as u32);
    for logit in logits {
        guest::write_word(logit as u32);
    }
}

guest::entry!(main);
