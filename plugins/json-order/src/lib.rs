//! Input: a byte payload holding a JSON order (UTF-8, no escapes inside strings), e.g.
//!
//! ```json
//! {"id": 42, "buyer": "alice", "paid": true,
//!  "items": [{"sku": 7, "qty": 2, "price": 1250}, {"sku": 9, "qty": 1, "price": 99}]}
//! ```
//!
//! Fields may come in any order; unknown fields are skipped; `items` holds at most
//! [`MAX_ITEMS`]. Output for a valid order: `[1, id, items, total low, total high, paid,
//! FNV-1a of buyer]`, where `total = Σ qty × price` as u64 (u32 × u32 per item). Output for
//! anything else (bad JSON, a missing field, a number out of range, too many items, trailing
//! bytes): `[0]`. Parsed with the `serde-json-core` crate (rust-embedded, `no_std`).
#![no_std]

extern crate alloc;

use obelysk_guest as guest;
use serde::Deserialize;

/// The most items an order may hold.
pub const MAX_ITEMS: usize = 32;

#[derive(Deserialize)]
struct Item {
    #[allow(dead_code)]
    sku: u32,
    qty: u32,
    price: u32,
}

#[derive(Deserialize)]
struct Order<'a> {
    id: u32,
    buyer: &'a str,
    paid: bool,
    items: heapless::Vec<Item, MAX_ITEMS>,
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h: u32, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn main() {
    let json = guest::input_bytes();
    match serde_json_core::from_slice::<Order<'_>>(&json) {
        Ok((order, used)) if used == json.len() => {
            let total: u64 = order
                .items
                .iter()
                .map(|item| u64::from(item.qty) * u64::from(item.price))
                .sum();
            guest::write_words(&[
                1,
                order.id,
                order.items.len() as u32,
                total as u32,
                (total >> 32) as u32,
                u32::from(order.paid),
                fnv1a(order.buyer.as_bytes()),
            ]);
        }
        _ => guest::write_word(0),
    }
}

guest::entry!(main);
