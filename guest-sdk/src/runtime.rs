//! What a `no_std` wasm32 guest needs from its SDK: a panic handler that traps and a
//! bump allocator over linear memory.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;

const PAGE: usize = 64 * 1024;

/// A panic ends the run with a trap; the host reports it as a failed job.
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    wasm32::unreachable()
}

/// Hands out memory from `__heap_base` upwards and frees only the most recent allocation.
/// Runs are short and single-threaded, so this is both the smallest and the fastest choice.
struct BumpAllocator {
    next: Cell<usize>,
}

// SAFETY: wasm32 guests run on one thread.
unsafe impl Sync for BumpAllocator {}

unsafe extern "C" {
    static __heap_base: u8;
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator { next: Cell::new(0) };

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.get();
        if next == 0 {
            next = &raw const __heap_base as usize;
        }
        let start = (next + layout.align() - 1) & !(layout.align() - 1);
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        let available = wasm32::memory_size(0) * PAGE;
        if end > available {
            let pages = (end - available).div_ceil(PAGE);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
        }
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }
}
