//! # obelysk-guest: write Obelysk workloads in Rust
//!
//! A workload is a `no_std` `cdylib` crate built for `wasm32-unknown-unknown` with
//! `obelysk build <crate dir>`. It reads 32-bit input words, computes, and writes 32-bit
//! output words:
//!
//! ```ignore
//! #![no_std]
//! use obelysk_guest as guest;
//!
//! fn main() {
//!     let n = guest::read_word(0);
//!     guest::write_word(n.wrapping_mul(2));
//! }
//! guest::entry!(main);
//! ```
//!
//! ## The ABI
//! The module exports `memory` and `main: [] -> []` and imports only from module `obelysk`:
//! `input_len() -> i32` (number of input words), `read(i: i32) -> i32` (input word `i`, traps
//! when out of range) and `write(v: i32)` (appends one output word). Everything else in this
//! crate is built on those three functions.
//!
//! ## Byte payloads
//! [`codec`] packs bytes into words (a length word, then the bytes little-endian, four per
//! word). Hosts and guests use the same functions, so `obelysk run --input-text` and
//! [`input_bytes`] agree.

#![no_std]

extern crate alloc;

pub mod codec;

#[cfg(target_arch = "wasm32")]
mod runtime;

#[cfg(target_arch = "wasm32")]
use alloc::vec::Vec;

#[cfg(target_arch = "wasm32")]
mod raw {
    #[link(wasm_import_module = "obelysk")]
    unsafe extern "C" {
        pub fn input_len() -> i32;
        pub fn read(index: i32) -> i32;
        pub fn write(word: i32);
    }
}

/// Number of input words.
#[cfg(target_arch = "wasm32")]
pub fn input_len() -> usize {
    // SAFETY: a host import without memory effects.
    unsafe { raw::input_len() as u32 as usize }
}

/// Input word `index`; the host traps the run when `index >= input_len()`.
#[cfg(target_arch = "wasm32")]
pub fn read_word(index: usize) -> u32 {
    // SAFETY: a host import without memory effects.
    unsafe { raw::read(index as i32) as u32 }
}

/// Appends one word to the output.
#[cfg(target_arch = "wasm32")]
pub fn write_word(word: u32) {
    // SAFETY: a host import without memory effects.
    unsafe { raw::write(word as i32) }
}

/// All input words.
#[cfg(target_arch = "wasm32")]
pub fn input_words() -> Vec<u32> {
    (0..input_len()).map(read_word).collect()
}

/// Appends `words` to the output.
#[cfg(target_arch = "wasm32")]
pub fn write_words(words: &[u32]) {
    words.iter().copied().for_each(write_word)
}

/// The input decoded as a byte payload (see [`codec`]); traps on a malformed payload.
#[cfg(target_arch = "wasm32")]
pub fn input_bytes() -> Vec<u8> {
    match codec::unpack_bytes(&input_words()) {
        Ok(bytes) => bytes,
        Err(_) => core::arch::wasm32::unreachable(),
    }
}

/// Writes `bytes` as a byte payload (see [`codec`]).
#[cfg(target_arch = "wasm32")]
pub fn write_bytes(bytes: &[u8]) {
    write_words(&codec::pack_bytes(bytes))
}

/// The input decoded with postcard from a byte payload; traps when it does not decode.
#[cfg(all(target_arch = "wasm32", feature = "postcard"))]
pub fn read_postcard<T: serde::de::DeserializeOwned>() -> T {
    match postcard::from_bytes(&input_bytes()) {
        Ok(value) => value,
        Err(_) => core::arch::wasm32::unreachable(),
    }
}

/// Writes `value` with postcard as a byte payload.
#[cfg(all(target_arch = "wasm32", feature = "postcard"))]
pub fn write_postcard<T: serde::Serialize>(value: &T) {
    match postcard::to_allocvec(value) {
        Ok(bytes) => write_bytes(&bytes),
        Err(_) => core::arch::wasm32::unreachable(),
    }
}

/// Exports `$main` as the module's `main: [] -> []`.
///
/// ```ignore
/// fn main() { obelysk_guest::write_word(7) }
/// obelysk_guest::entry!(main);
/// ```
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "main")]
        pub extern "C" fn __obelysk_main() {
            let main: fn() = $main;
            main()
        }
    };
}
