//! Where one proof's heap goes: proves `tests/fixtures/mixed.wat` at about `2^k` steps with a
//! counting allocator, and prints, as each of stwo's and our tracing spans closes, the live
//! heap and the highest it reached inside the span. The last line is the proof's peak.
//!
//! `cargo run --release -p obelysk-benches --example proof_memory -- 20`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use obelysk_air::security::SecurityLevel;
use obelysk_benches::mixed;
use tracing::span;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                let live =
                    LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Prints each span's name, depth, live heap at its close and the peak since the previous
/// print (spans close innermost first, so a parent's peak covers its children).
struct HeapLayer;

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for HeapLayer {
    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let depth = span.scope().count() - 1;
        let peak = PEAK.swap(LIVE.load(Relaxed), Relaxed);
        eprintln!(
            "{:indent$}{}: live {:.0} MiB, peak {:.0} MiB",
            "",
            span.name(),
            mib(LIVE.load(Relaxed)),
            mib(peak),
            indent = 2 * depth
        );
    }
}

fn main() {
    let log_steps: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let program = obelysk_vm::lower::lower(&mixed::wasm()).unwrap();
    let input = mixed::input(&program, log_steps);
    tracing_subscriber::registry().with(HeapLayer).init();
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let mut highest = 0;
    let (_, file) = obelysk_prover::prove_program(
        &program,
        &input,
        SecurityLevel::Bits96,
        u64::MAX,
        &mut |_| highest = highest.max(PEAK.load(Relaxed)),
    )
    .unwrap();
    eprintln!(
        "2^{log_steps}: {} steps, heap before {:.0} MiB, after {:.0} MiB",
        file.statement.steps,
        mib(before),
        mib(LIVE.load(Relaxed))
    );
}
