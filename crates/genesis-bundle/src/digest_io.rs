//! Hashing bytes as they pass, the one way the workspace hashes a stream: [`DigestAdapter`]
//! wraps a reader or a writer and computes the SHA-256 and length of what goes through it;
//! given the [`Digest`] (and size) the bytes must have, a read at the end of the stream fails
//! on a mismatch, like tough's `DigestAdapter`, and [`DigestAdapter::check`] says the same for
//! a writer or a reader read to a known length. Nothing is buffered to be hashed.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
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
/// As a [`Read`]er with an expectation, the read that finds the end of the stream fails with
/// [`io::ErrorKind::InvalidData`] carrying a [`DigestMismatch`] when the bytes differ, so a
/// consumer reading to the end cannot take bad bytes for good ones. As a [`Write`]r, it hashes
/// what the inner writer accepted; [`DigestAdapter::check`] ends the stream. Only SHA-256 is
/// computed: an expected digest of another algorithm never matches.
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
    /// `len` bytes when given, at the end of the stream.
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
    /// is one: call it at the end of the stream.
    pub fn check(&self) -> Result<FileDigest, DigestMismatch> {
        let got = self.digest();
        match &self.expected {
            Some((digest, len)) if got.digest() != *digest || len.is_some_and(|n| n != got.len) => {
                Err(DigestMismatch {
                    expected: digest.clone(),
                    expected_len: *len,
                    actual: got.digest(),
                    actual_len: got.len,
                })
            }
            _ => Ok(got),
        }
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

impl<R: Read> Read for DigestAdapter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.expected.is_some() {
            self.check().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for DigestAdapter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
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

/// SHA-256 and length of the file at `path`, read through a [`DigestAdapter`].
pub fn sha256_file(path: &Path) -> io::Result<FileDigest> {
    let mut file = DigestAdapter::new(File::open(path)?);
    file.drain()?;
    Ok(file.digest())
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
