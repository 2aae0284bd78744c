//! Frame buffers handed back by the readers of an archive and given to the next frame read.
//!
//! `serve` reads frame after frame (4 MiB each) for every response. Asking the allocator for
//! a fresh buffer each time costs more than it seems: a buffer that large is mapped anew, so
//! the kernel faults it in and zeroes it page by page, and a raw frame's part was zeroed once
//! more before being read into. Measured with perf on 4 parallel pulls: an eighth of the
//! server's CPU. A buffer dropped by its last holder goes back to its archive instead, and
//! the next read overwrites it (decision 0045).

use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

/// How many buffers an archive keeps for reuse: one per response sending while another
/// decompresses, on the two to four cores `serve` runs on. What is kept past its use is idle
/// memory, so a burst does not leave more behind.
const KEPT: usize = 4;

/// The largest buffer kept: a frame as the builder writes them, with the slack [`fits`]
/// allows. A larger one (frames of up to 16 MiB are valid) goes back to the allocator, so
/// the spares hold at most 18 MiB.
const LARGEST_KEPT: usize = crate::seekable::FRAME_SIZE + crate::seekable::FRAME_SIZE / 8;

/// Whether a spare of `capacity` bytes serves a read of `len`: large enough, and not more
/// than an eighth larger, so that what a reader holds, and what a server reserves and a
/// cache counts for it (its length), is what it takes; a small read of a large frame's
/// part gets a buffer of its own size, never a whole frame's.
fn fits(capacity: usize, len: usize) -> bool {
    capacity >= len && capacity - len <= len / 8
}

/// Buffers no reader holds, kept for the next frame read of the same archive.
#[derive(Debug, Default)]
pub(crate) struct SpareBuffers(Mutex<Vec<Vec<u8>>>);

impl SpareBuffers {
    /// A buffer of `len` bytes to be overwritten whole: a spare that [`fits`], holding what it
    /// held last (nothing zeroed but what it grows by), else a new one.
    pub(crate) fn filled(self: &Arc<Self>, len: usize) -> FrameBuf {
        let bytes = match self.take_fitting(len) {
            Some(mut bytes) => {
                bytes.resize(len, 0);
                bytes
            }
            None => vec![0; len],
        };
        FrameBuf { bytes, spares: Arc::clone(self) }
    }

    /// An empty buffer with room for `capacity` bytes (a spare that [`fits`], else a new one),
    /// for a decoder that writes into the room and sets the length.
    pub(crate) fn with_capacity(self: &Arc<Self>, capacity: usize) -> Vec<u8> {
        let mut bytes = self.take_fitting(capacity).unwrap_or_default();
        bytes.clear();
        bytes.reserve_exact(capacity);
        bytes
    }

    /// `bytes` as a frame whose buffer comes back here once dropped.
    pub(crate) fn frame(self: &Arc<Self>, bytes: Vec<u8>) -> FrameBuf {
        FrameBuf { bytes, spares: Arc::clone(self) }
    }

    /// Keeps `bytes` for a later read (unless larger than [`LARGEST_KEPT`]), in place of the
    /// smallest kept if [`KEPT`] are.
    pub(crate) fn give_back(&self, bytes: Vec<u8>) {
        if bytes.capacity() == 0 || bytes.capacity() > LARGEST_KEPT {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEPT {
            kept.push(bytes);
        } else if let Some(smallest) = kept.iter_mut().min_by_key(|b| b.capacity())
            && smallest.capacity() < bytes.capacity()
        {
            *smallest = bytes;
        }
    }

    /// The smallest spare that [`fits`] `len`, taken out of the spares.
    fn take_fitting(&self, len: usize) -> Option<Vec<u8>> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let at = (0..kept.len()).filter(|&i| fits(kept[i].capacity(), len)).min_by_key(|&i| kept[i].capacity());
        at.map(|i| kept.swap_remove(i))
    }

    /// Buffers kept now (for tests).
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// A frame's bytes (decompressed, or the part of a raw frame a range read from the file),
/// shared by the cache and whoever sends them: its buffer goes back to the archive it was
/// read from when the last holder drops it.
pub struct FrameBuf {
    bytes: Vec<u8>,
    spares: Arc<SpareBuffers>,
}

impl FrameBuf {
    /// A copy of `part` in a buffer of the same archive: what a response keeps of a large
    /// frame when it sends only a small part of it.
    pub fn copy_of(&self, part: std::ops::Range<usize>) -> FrameBuf {
        let mut copy = self.spares.filled(part.len());
        copy.bytes.copy_from_slice(&self.bytes[part]);
        copy
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Deref for FrameBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for FrameBuf {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for FrameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameBuf({} bytes)", self.bytes.len())
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        self.spares.give_back(std::mem::take(&mut self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_frame_lends_its_buffer_to_the_next_read_without_zeroing_it() {
        let spares = Arc::new(SpareBuffers::default());
        let mut first = spares.filled(4096);
        first.as_mut_slice().fill(b'x');
        let room = first.bytes.as_ptr();
        drop(first);
        assert_eq!(spares.kept(), 1);
        let second = spares.filled(4000);
        assert_eq!(second.bytes.as_ptr(), room, "the same buffer, not a new one");
        assert!(second.iter().all(|&b| b == b'x'), "what it held, to be overwritten: nothing zeroed it");
        assert_eq!(spares.kept(), 0);
    }

    #[test]
    fn a_small_read_gets_a_buffer_of_its_size_not_a_spare_frame() {
        let spares = Arc::new(SpareBuffers::default());
        drop(spares.filled(4 << 20));
        let part = spares.filled(1000);
        assert_eq!(part.bytes.capacity(), 1000, "a part holds its own size, whatever is spare");
        assert_eq!(spares.kept(), 1, "the frame's buffer is still spare");
        let almost = spares.filled((4 << 20) - 1000);
        assert_eq!(almost.bytes.capacity(), 4 << 20, "a read within an eighth of a spare takes it");
        let decoded = spares.with_capacity(3 << 20);
        assert_eq!(decoded.capacity(), 3 << 20, "room for exactly what was asked");
    }

    #[test]
    fn at_most_kept_buffers_stay_and_the_smallest_fitting_is_taken() {
        let spares = Arc::new(SpareBuffers::default());
        let frames: Vec<FrameBuf> = (0..KEPT + 2).map(|i| spares.filled((64 + i) << 10)).collect();
        drop(frames);
        assert_eq!(spares.kept(), KEPT, "the rest went back to the allocator");
        assert_eq!(spares.with_capacity(64 << 10).capacity(), 66 << 10, "the two smallest gave way to larger ones");
        assert_eq!(spares.with_capacity(64 << 10).capacity(), 67 << 10, "then the smallest of those left");
        drop(spares.filled(LARGEST_KEPT + 1));
        assert_eq!(spares.kept(), KEPT - 2, "a buffer past the largest kept is not kept");
    }
}
