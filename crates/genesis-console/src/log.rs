//! The console's own log, kept in memory for the support bundle: the last [`LOG_BYTES`] of
//! what it wrote, whole lines. The binary's subscriber writes every formatted line to
//! stderr and here (`std::io::stderr.and(log.clone())`), so the support bundle holds what
//! `kubectl logs` would have shown, even after the pod's log rotated. Nothing the console
//! logs carries a token: tokens are never logged anywhere, so there is nothing to filter.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

/// How much of its log the console keeps: 1 MiB.
pub const LOG_BYTES: usize = 1 << 20;

/// The last lines of the console's log, shared by the subscriber that writes them and the
/// support bundle that reads them.
#[derive(Clone)]
pub struct ConsoleLog {
    lines: Arc<Mutex<VecDeque<u8>>>,
    capacity: usize,
}

impl Default for ConsoleLog {
    /// Keeps the last [`LOG_BYTES`].
    fn default() -> ConsoleLog {
        ConsoleLog::with_capacity(LOG_BYTES)
    }
}

impl ConsoleLog {
    /// A log keeping the last `capacity` bytes.
    fn with_capacity(capacity: usize) -> ConsoleLog {
        ConsoleLog { lines: Arc::default(), capacity }
    }

    /// What is kept, oldest first: whole lines, but for a single line longer than all that
    /// is kept, whose end alone is.
    pub fn snapshot(&self) -> Vec<u8> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().copied().collect()
    }

    fn append(&self, bytes: &[u8]) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        keep(&mut lines, bytes, self.capacity);
    }
}

/// Appends `bytes` to `kept`, then drops the oldest whole lines until at most `capacity`
/// bytes remain (the oldest bytes, when one line is longer than that).
fn keep(kept: &mut VecDeque<u8>, bytes: &[u8], capacity: usize) {
    kept.extend(bytes);
    let Some(excess) = kept.len().checked_sub(capacity).filter(|&n| n > 0) else {
        return;
    };
    // The end of the line holding the last byte that must go; when that line is the last
    // one, its end alone stays.
    let cut = kept
        .iter()
        .skip(excess - 1)
        .position(|&b| b == b'\n')
        .map(|at| excess + at)
        .filter(|&cut| cut < kept.len())
        .unwrap_or(excess);
    kept.drain(..cut);
}

/// Writes into a [`ConsoleLog`]; one formatted event is one write.
pub struct LogWriter<'a>(&'a ConsoleLog);

impl io::Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ConsoleLog {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> LogWriter<'a> {
        LogWriter(self)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use tracing_subscriber::fmt::MakeWriter as _;

    use super::*;

    fn kept_after(capacity: usize, writes: &[&str]) -> String {
        let log = ConsoleLog::with_capacity(capacity);
        for write in writes {
            log.make_writer().write_all(write.as_bytes()).unwrap();
        }
        String::from_utf8(log.snapshot()).unwrap()
    }

    #[test]
    fn the_log_keeps_the_newest_whole_lines_that_fit() {
        assert_eq!(kept_after(100, &["a\n", "b\n"]), "a\nb\n");
        assert_eq!(kept_after(6, &["one\n", "two\n"]), "two\n", "a line that does not fit whole goes whole");
        assert_eq!(kept_after(8, &["one\n", "two\n"]), "one\ntwo\n", "exactly full");
        assert_eq!(kept_after(9, &["one\n", "two\n", "three\n"]), "three\n");
        assert_eq!(kept_after(10, &["one\n", "two\n", "three\n"]), "two\nthree\n");
        assert_eq!(kept_after(10, &["1\n", "2\n", "3\n", "4\n", "5\n", "6\n"]), "2\n3\n4\n5\n6\n");
    }

    #[test]
    fn a_line_longer_than_the_log_keeps_its_end() {
        assert_eq!(kept_after(4, &["abcdefgh\n"]), "fgh\n");
        assert_eq!(kept_after(4, &["a\n", "bcdefgh\n"]), "fgh\n");
        assert_eq!(kept_after(3, &["abc"]), "abc");
    }

    #[test]
    fn clones_share_one_log() {
        let log = ConsoleLog::default();
        let writer = log.clone();
        writer.make_writer().write_all(b"signed in\n").unwrap();
        assert_eq!(log.snapshot(), b"signed in\n");
        assert_eq!(log.capacity, 1 << 20);
    }
}
