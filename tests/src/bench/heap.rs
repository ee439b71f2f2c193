//! Heap accounting through the counting allocator the bench binary installs
//! (`stats_alloc`), so this crate needs no allocator code of its own.

use std::alloc::System;

use stats_alloc::StatsAlloc;

/// Reads the counters of the process's global allocator.
#[derive(Clone, Copy, Debug)]
pub struct HeapMeter {
    alloc: &'static StatsAlloc<System>,
}

impl HeapMeter {
    /// A meter over `alloc`, or `None` if `alloc` is not the global allocator (its
    /// counters do not move when the heap is used).
    pub fn new(alloc: &'static StatsAlloc<System>) -> Option<HeapMeter> {
        let before = alloc.stats().allocations;
        let probe = std::hint::black_box(vec![0_u8; 64]);
        let counted = alloc.stats().allocations > before;
        drop(probe);
        counted.then_some(HeapMeter { alloc })
    }

    /// Runs `f` and returns what it built with the heap bytes still held when it returned
    /// (bytes allocated minus bytes freed during the call; reallocations count by their
    /// size change). Only allocations through the Rust allocator are seen: memory that C
    /// code (SQLite) takes from `malloc` directly is not.
    pub fn held_by<T>(&self, f: impl FnOnce() -> T) -> (T, i64) {
        let before = self.alloc.stats();
        let value = f();
        let after = self.alloc.stats();
        let net = |s: stats_alloc::Stats| to_i64(s.bytes_allocated) - to_i64(s.bytes_deallocated);
        (value, net(after) - net(before))
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
