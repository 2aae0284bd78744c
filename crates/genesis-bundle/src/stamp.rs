//! Telling whether a file is still the one that was verified, without reading it again.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;

use sha2::{Digest as _, Sha256};

/// The identity and state of the files an archive is read from: for each, device, inode,
/// size, and the modification and status-change times (nanoseconds), folded into one SHA-256.
/// Writing, truncating or replacing a file changes it, and the status-change time cannot be
/// set back without root, so an equal stamp means the bytes verified under it are the bytes
/// still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp([u8; 32]);

impl FileStamp {
    /// The stamp of an open file (`fstat`).
    pub fn of(file: &File) -> io::Result<FileStamp> {
        FileStamp::folded(&[StampItem::File(file)])
    }

    /// The stamp of an archive's sources in order: open files, and remote objects by what
    /// identifies their version (ETag and size).
    pub(crate) fn folded(items: &[StampItem<'_>]) -> io::Result<FileStamp> {
        let mut hasher = Sha256::new();
        for item in items {
            match item {
                StampItem::File(file) => {
                    let m = file.metadata()?;
                    for field in [m.dev(), m.ino(), m.len()] {
                        hasher.update(field.to_le_bytes());
                    }
                    for field in [m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()] {
                        hasher.update(field.to_le_bytes());
                    }
                }
                StampItem::Identity(identity) => {
                    hasher.update((identity.len() as u64).to_le_bytes());
                    hasher.update(identity);
                }
            }
        }
        Ok(FileStamp(hasher.finalize().into()))
    }
}

/// One source of an archive, as a stamp sees it.
pub(crate) enum StampItem<'a> {
    /// A file on disk.
    File(&'a File),
    /// A remote object's version.
    Identity(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_write_changes_the_stamp_and_a_read_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"verified").unwrap();
        let file = File::open(&path).unwrap();
        let before = FileStamp::of(&file).unwrap();
        let _ = std::fs::read(&path).unwrap();
        assert_eq!(FileStamp::of(&file).unwrap(), before);
        // Same length, same second: only the times (and at least the status change) tell.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        w.write_all(b"tampered").unwrap();
        drop(w);
        assert_ne!(FileStamp::of(&file).unwrap(), before);
    }
}
