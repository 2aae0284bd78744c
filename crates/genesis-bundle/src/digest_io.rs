//! Hashing bytes as they pass, the one way the workspace hashes a stream: [`DigestAdapter`]
//! wraps a reader or a writer and computes the SHA-256 and length of what goes through it;
//! given the [`Digest`] (and size) the bytes must have, a reader fails on a mismatch by
//! itself, like tough's `DigestAdapter`, and [`DigestAdapter::finish`] ends a writer's stream
//! with the same verdict. Nothing is buffered to be hashed.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

use genesis_types::Digest;
use sha2::{Digest as _, Sha256};

/// The SHA-256 and length of a byte stream (an archive file, a download, a blob), computed
/// while it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// SHA-256 of every byte.
    pub sha256: [u8; 32],
    /// How many bytes.
    pub len: u64,
}

impl FileDigest {
    /// The SHA-256 and length of `bytes`.
    pub fn of(bytes: &[u8]) -> FileDigest {
        FileDigest { sha256: Sha256::digest(bytes).into(), len: bytes.len() as u64 }
    }

    /// The SHA-256 as a [`Digest`].
    pub fn digest(&self) -> Digest {
        Digest::from_sha256_bytes(self.sha256)
    }
}

/// The bytes that passed a [`DigestAdapter`] are not the ones it expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMismatch {
    /// The digest the bytes should have.
    pub expected: Digest,
    /// Their size, when it was given.
    pub expected_len: Option<u64>,
    /// What passed.
    pub actual: Digest,
    /// How many bytes passed.
    pub actual_len: u64,
}

impl fmt::Display for DigestMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}", self.expected)?;
        if let Some(n) = self.expected_len {
            write!(f, " ({n} bytes)")?;
        }
        write!(f, ", got {} ({} bytes)", self.actual, self.actual_len)
    }
}

impl std::error::Error for DigestMismatch {}

/// A reader or writer that hashes (SHA-256) and counts the bytes passing through it, and
/// optionally checks them against the digest and size they must have.
///
/// As a [`Read`]er with an expectation, a read fails with [`io::ErrorKind::InvalidData`]
/// carrying a [`DigestMismatch`] as soon as the bytes are known to differ: the read that
/// goes past the expected size, the one that reaches it (a consumer that stops at the size it
/// knows gets the verdict without reading on), and the one that finds the end of the stream.
/// So no consumer can take bad bytes for good ones. As a [`Write`]r, it refuses a write that
/// would go past the expected size (none of it reaches the inner writer) and hashes what the
/// inner writer accepted; only the writer's user knows where the stream ends, so
/// [`DigestAdapter::finish`] is its check, too few bytes included. Only SHA-256 is computed:
/// an expected digest of another algorithm never matches.
///
/// ```
/// use std::io::Read as _;
/// use genesis_bundle::digest_io::DigestAdapter;
///
/// let good = genesis_bundle::sha256(b"hello");
/// let mut out = Vec::new();
/// DigestAdapter::new(&b"hello"[..]).expecting(&good, Some(5)).read_to_end(&mut out)?;
/// let bad = DigestAdapter::new(&b"hellO"[..]).expecting(&good, None).read_to_end(&mut out);
/// assert_eq!(bad.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DigestAdapter<T> {
    inner: T,
    hasher: Sha256,
    len: u64,
    expected: Option<(Digest, Option<u64>)>,
}

impl<T> DigestAdapter<T> {
    /// Hashes what passes through `inner`, expecting nothing.
    pub fn new(inner: T) -> Self {
        DigestAdapter { inner, hasher: Sha256::new(), len: 0, expected: None }
    }

    /// Expects all that passes (what passed so far included) to come to `digest`, and to
    /// `len` bytes when given.
    pub fn expecting(self, digest: &Digest, len: Option<u64>) -> Self {
        DigestAdapter { expected: Some((digest.clone(), len)), ..self }
    }

    /// Goes on over `inner`, keeping the hash, count and expectation of what passed so far:
    /// a resumed download hashes the kept part of its partial file while reading it, then
    /// the rest while writing it.
    pub fn map_inner<U>(self, wrap: impl FnOnce(T) -> U) -> DigestAdapter<U> {
        DigestAdapter { inner: wrap(self.inner), hasher: self.hasher, len: self.len, expected: self.expected }
    }

    /// How many bytes have passed.
    pub fn passed(&self) -> u64 {
        self.len
    }

    /// The digest and length of what has passed so far, expected or not.
    pub fn digest(&self) -> FileDigest {
        FileDigest { sha256: self.hasher.clone().finalize().into(), len: self.len }
    }

    /// The digest and length of what has passed, checked against the expectation when there
    /// is one, the stream going on: for a caller that still needs the adapter whatever the
    /// verdict. At the end of a stream, [`DigestAdapter::finish`].
    pub fn check(&self) -> Result<FileDigest, DigestMismatch> {
        verdict(self.expected.as_ref(), &self.hasher, self.len)
    }

    /// Ends the stream: the wrapped reader or writer and the digest and length of all that
    /// passed, or how that differs from the expectation (too few bytes, which only the end
    /// shows, among it).
    pub fn finish(self) -> Result<(T, FileDigest), DigestMismatch> {
        let digest = self.check()?;
        Ok((self.inner, digest))
    }

    /// The wrapped reader or writer.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped reader or writer; bytes moved through it directly are not hashed.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Gives back the wrapped reader or writer.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> DigestAdapter<R> {
    /// Reads what is left of the stream, hashing it (and checking it, as the end of the
    /// stream does); returns how many bytes that was.
    pub fn drain(&mut self) -> io::Result<u64> {
        let before = self.len;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(self.len - before),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// What `hasher` and `len` say of the stream against `expected`.
fn verdict(expected: Option<&(Digest, Option<u64>)>, hasher: &Sha256, len: u64) -> Result<FileDigest, DigestMismatch> {
    let got = FileDigest { sha256: hasher.clone().finalize().into(), len };
    match expected {
        Some((digest, size)) if got.digest() != *digest || size.is_some_and(|n| n != len) => {
            Err(DigestMismatch { expected: digest.clone(), expected_len: *size, actual: got.digest(), actual_len: len })
        }
        _ => Ok(got),
    }
}

fn invalid(mismatch: DigestMismatch) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, mismatch)
}

impl<R: Read> Read for DigestAdapter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        let at_end = n == 0 && !buf.is_empty();
        let verdict_due = match &self.expected {
            None => false,
            Some((_, Some(size))) => self.len >= *size || at_end,
            Some((_, None)) => at_end,
        };
        if verdict_due {
            self.check().map_err(invalid)?;
        }
        Ok(n)
    }
}

impl<W: Write> Write for DigestAdapter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let after = self.len + buf.len() as u64;
        if let Some((expected, Some(size))) = &self.expected
            && after > *size
        {
            // Refused whole: none of it reaches the inner writer.
            let mut would = self.hasher.clone();
            would.update(buf);
            return Err(invalid(DigestMismatch {
                expected: expected.clone(),
                expected_len: Some(*size),
                actual: Digest::from_sha256_bytes(would.finalize().into()),
                actual_len: after,
            }));
        }
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 of a byte slice as a [`Digest`].
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::from_sha256_bytes(Sha256::digest(bytes).into())
}

/// SHA-256 and length of the regular file at `path` ([`open_regular`]), read through a
/// [`DigestAdapter`].
pub fn sha256_file(path: &Path) -> io::Result<FileDigest> {
    let mut file = DigestAdapter::new(open_regular(path)?);
    file.drain()?;
    Ok(file.digest())
}

/// Opens `path` for reading if it is a regular file (a symlink to one is followed), without
/// waiting: anything else (a FIFO, which would wait for a writer, a device such as
/// `/dev/zero`, which never ends, a directory) is refused at once with
/// [`io::ErrorKind::InvalidInput`], naming what it is.
pub fn open_regular(path: &Path) -> io::Result<File> {
    use rustix::fs::OFlags;
    // Opening a FIFO without O_NONBLOCK waits for a writer; a regular file ignores the flag.
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    let file = OpenOptions::new().read(true).custom_flags(flags.bits().cast_signed()).open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} where a regular file belongs", what(kind))))
}

/// What a file type that is not a regular file is, in words.
fn what(kind: fs::FileType) -> &'static str {
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something other than a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_hashes_what_passes_and_fails_at_the_end_on_a_mismatch() {
        let data = b"the bytes of a blob";
        let good = sha256(data);
        let mut read = Vec::new();
        let mut checked = DigestAdapter::new(&data[..]).expecting(&good, Some(data.len() as u64));
        checked.read_to_end(&mut read).unwrap();
        assert_eq!((read.as_slice(), checked.check().unwrap().digest()), (&data[..], good.clone()));

        let mut changed = data.to_vec();
        changed[0] ^= 1;
        let e = DigestAdapter::new(changed.as_slice()).expecting(&good, None).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mismatch = e.get_ref().and_then(|e| e.downcast_ref::<DigestMismatch>()).unwrap();
        assert_eq!((&mismatch.expected, &mismatch.actual), (&good, &sha256(&changed)));

        let short = DigestAdapter::new(&data[..]).expecting(&good, Some(data.len() as u64 + 1)).drain().unwrap_err();
        assert!(short.to_string().contains(&format!("({} bytes)", data.len() + 1)), "{short}");
        let sha512: Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
        assert!(DigestAdapter::new(&data[..]).expecting(&sha512, None).drain().is_err(), "only SHA-256 is computed");
    }

    /// A consumer that reads exactly the size it knows, never seeing the end of the stream,
    /// still gets the verdict: from the read that reaches the size. And a stream that goes on
    /// past the size fails on the read that passes it, however much more would follow.
    #[test]
    fn a_reader_fails_on_the_read_that_reaches_or_passes_the_expected_size() {
        let data = b"the bytes of a blob";
        let (good, size) = (sha256(data), data.len() as u64);
        let mut buf = vec![0u8; data.len()];
        DigestAdapter::new(&data[..]).expecting(&good, Some(size)).read_exact(&mut buf).unwrap();
        let mut changed = data.to_vec();
        changed[0] ^= 1;
        let e = DigestAdapter::new(changed.as_slice()).expecting(&good, Some(size)).read_exact(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);

        let mut longer = DigestAdapter::new(io::repeat(b'x').take(64 << 20)).expecting(&good, Some(size));
        let e = longer.drain().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(longer.passed() <= 256 << 10, "read {} bytes where {size} were expected", longer.passed());
    }

    /// A writer takes nothing past the expected size, and its user's check is `finish`, which
    /// also sees a stream that ended short.
    #[test]
    fn a_writer_refuses_bytes_past_the_expected_size_and_finish_gives_the_verdict() {
        let good = sha256(b"blob");
        let mut out = DigestAdapter::new(Vec::new()).expecting(&good, Some(4));
        out.write_all(b"bl").unwrap();
        let e = out.write_all(b"ob!").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(out.get_ref().as_slice(), b"bl", "nothing of a write past the size reaches the inner writer");
        let short = out.finish().unwrap_err();
        assert_eq!((short.expected_len, short.actual_len), (Some(4), 2));

        let mut out = DigestAdapter::new(Vec::new()).expecting(&good, Some(4));
        out.write_all(b"blob").unwrap();
        let (inner, digest) = out.finish().unwrap();
        assert_eq!((inner, digest.digest()), (b"blob".to_vec(), good));
    }

    /// A FIFO (which would wait for a writer) and a link to `/dev/zero` (which never ends)
    /// are refused at once, named for what they are.
    #[test]
    fn only_a_regular_file_is_hashed_and_a_fifo_or_a_device_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let (sent, refused) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for path in [fifo, zero] {
                let _ = sent.send(sha256_file(&path).map_err(|e| (e.kind(), e.to_string())));
            }
        });
        for what in ["a FIFO", "a device"] {
            let refused = refused.recv_timeout(std::time::Duration::from_secs(10)).expect("refused at once");
            let (kind, message) = refused.unwrap_err();
            assert_eq!(kind, io::ErrorKind::InvalidInput, "{message}");
            assert!(message.contains(what), "{what}: {message}");
        }
    }

    #[test]
    fn a_writer_hashes_what_it_wrote_and_goes_on_over_another_inner() {
        let mut out = DigestAdapter::new(Vec::new());
        out.write_all(b"kept part, ").unwrap();
        let mut out = out.map_inner(|kept| (kept, Vec::<u8>::new())).map_inner(|(_, rest)| rest);
        out.write_all(b"then the rest").unwrap();
        assert_eq!(out.get_ref().as_slice(), b"then the rest");
        let digest = out.check().unwrap();
        assert_eq!((digest.digest(), digest.len), (sha256(b"kept part, then the rest"), 24));
    }

    #[test]
    fn a_file_is_hashed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = vec![7u8; (256 << 10) + 3];
        std::fs::write(&path, &data).unwrap();
        let file = sha256_file(&path).unwrap();
        assert_eq!((file.digest(), file.len), (sha256(&data), data.len() as u64));
    }
}
