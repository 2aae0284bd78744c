//! A byte count shared between the thread doing long work (checking, uploading, writing a
//! bundle) and the one drawing its progress bar.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A shared count of payload bytes processed and expected, for a progress display on
/// another thread. Cloning shares the counts.
#[derive(Debug, Clone, Default)]
pub struct ProgressCounter(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    done: AtomicU64,
    total: AtomicU64,
}

impl ProgressCounter {
    /// Adds `n` processed bytes.
    pub fn add(&self, n: u64) {
        self.0.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes back `n` bytes counted for work that has to be redone (a retried upload).
    pub fn sub(&self, n: u64) {
        self.0.done.fetch_sub(n, Ordering::Relaxed);
    }

    /// Sets the number of bytes the whole job will process, once known.
    pub fn set_total(&self, total: u64) {
        self.0.total.store(total, Ordering::Relaxed);
    }

    /// Bytes processed so far.
    pub fn done(&self) -> u64 {
        self.0.done.load(Ordering::Relaxed)
    }

    /// Bytes expected in all (0 while unknown).
    pub fn total(&self) -> u64 {
        self.0.total.load(Ordering::Relaxed)
    }
}
