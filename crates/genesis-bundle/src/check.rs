//! Checking the payload of a bundle against its (already verified) BOM in one streaming
//! pass, handing each verified byte to a sink: nowhere for `verify`, a staging directory for
//! `extract`.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use genesis_types::BundlePath;

use crate::archive::{ArchiveReader, Head};
use crate::bom::{Bom, ExpectedEntry};
use crate::digest_io::FileDigest;
use crate::scratch::Scratch;
use crate::stamp::FileStamp;
use crate::tar::EntryKind;
use crate::{BundleError, HEAD_PATHS, Result, SIGNATURE_PATH};

/// Where verified payload goes.
pub trait PayloadSink {
    /// Creates a directory (`path` ends with `/`).
    fn dir(&mut self, path: &str) -> Result<()>;
    /// Opens the destination of a file's bytes.
    fn file(&mut self, path: &BundlePath) -> Result<Box<dyn Write + '_>>;
    /// Told once the file just written matched its BOM entry. A sink that forwards bytes
    /// elsewhere holds back the last of them until then, so nothing that failed its check
    /// is ever complete at the other end.
    fn verified(&mut self, _path: &BundlePath) -> Result<()> {
        Ok(())
    }
}

/// A sink that keeps nothing: `verify`.
pub struct Discard;

impl PayloadSink for Discard {
    fn dir(&mut self, _: &str) -> Result<()> {
        Ok(())
    }
    fn file(&mut self, _: &BundlePath) -> Result<Box<dyn Write + '_>> {
        Ok(Box::new(io::sink()))
    }
}

/// What one full pass established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadSummary {
    /// Payload files checked against the BOM.
    pub files: u64,
    /// Payload bytes checked.
    pub bytes: u64,
    /// Digest and length of the archive file itself.
    pub archive: FileDigest,
    /// The archive file's stamp, the same at the start and the end of the pass.
    pub stamp: FileStamp,
}

/// Streams every entry after the head through `sink`, requiring exactly the entries the BOM
/// implies, in canonical order, each with the BOM's size and SHA-256. The last entry's
/// bytes reach the sink before its digest is known: callers that keep data (extraction)
/// must treat the sink's contents as untrusted until this returns `Ok`. Only as trustworthy
/// as `bom`: public as [`crate::danger::check_payload`], for the verifier.
pub fn check_payload(mut reader: ArchiveReader, bom: &Bom, sink: &mut dyn PayloadSink) -> Result<PayloadSummary> {
    let expected = bom.expected_entries();
    let known: HashSet<&str> = expected.iter().map(ExpectedEntry::tar_path).collect();
    let mut next = 0usize;
    let mut previous = SIGNATURE_PATH.to_owned();
    let (mut files, mut bytes) = (0u64, 0u64);
    while let Some(h) = reader.next_header()? {
        let want = expected.get(next);
        if want.map(ExpectedEntry::tar_path) != Some(h.path.as_str()) {
            return Err(misplaced(&h.path, &previous, want, &known));
        }
        match (want.expect("matched above"), h.kind) {
            (ExpectedEntry::Dir(d), EntryKind::Dir) => sink.dir(d)?,
            (ExpectedEntry::File(f), EntryKind::File) => {
                if h.size != f.size {
                    return Err(BundleError::SizeMismatch { path: f.path.clone(), expected: f.size, actual: h.size });
                }
                let mut out = sink.file(&f.path)?;
                let actual = reader.copy_entry(h.size, &mut out)?;
                out.flush().map_err(BundleError::io("writing", f.path.as_str()))?;
                drop(out);
                if actual != f.sha256 {
                    return Err(BundleError::DigestMismatch {
                        path: f.path.clone(),
                        expected: f.sha256.clone(),
                        actual,
                    });
                }
                sink.verified(&f.path)?;
                files += 1;
                bytes += f.size;
            }
            _ => {
                return Err(BundleError::Corrupt {
                    detail: format!("{:?} has the wrong entry type for the BOM", h.path),
                });
            }
        }
        previous = h.path;
        next += 1;
    }
    if let Some(missing) = expected[next..].iter().find_map(|e| match e {
        ExpectedEntry::File(f) => Some(f.path.clone()),
        ExpectedEntry::Dir(_) => None,
    }) {
        return Err(BundleError::MissingEntry { path: missing });
    }
    let stamp = reader.stamp();
    let archive = reader.finish()?;
    Ok(PayloadSummary { files, bytes, archive, stamp })
}

/// Names what is wrong with an entry that is not the one expected next.
fn misplaced(path: &str, previous: &str, want: Option<&ExpectedEntry<'_>>, known: &HashSet<&str>) -> BundleError {
    if path == previous || HEAD_PATHS.contains(&path) || (known.contains(path) && path < previous) {
        return BundleError::DuplicateEntry { path: path.to_owned() };
    }
    if !known.contains(path) {
        return BundleError::UnknownEntry { path: path.to_owned() };
    }
    match want {
        Some(ExpectedEntry::File(f)) => BundleError::MissingEntry { path: f.path.clone() },
        _ => BundleError::OutOfOrder { path: path.to_owned(), previous: previous.to_owned() },
    }
}

/// A staging directory next to the final one, `.<name>.staging-<random>` (mode 0700), locked
/// while it lives ([`crate::scratch`]). Dropped without [`Staging::commit`], it removes
/// itself, so a rejected bundle leaves nothing behind; an interrupt handler removes it with
/// [`crate::scratch::remove_live`].
pub struct Staging {
    dir: Scratch,
    target: PathBuf,
}

impl Staging {
    /// Creates the staging directory beside `target`, after removing those that killed runs
    /// left there. Refuses an existing target.
    pub fn begin(target: &Path) -> Result<Staging> {
        if target.symlink_metadata().is_ok() {
            return Err(BundleError::OutputExists { path: target.to_owned() });
        }
        crate::scratch::remove_abandoned(target, "staging");
        let dir = Scratch::dir(target).map_err(BundleError::io("creating a staging directory beside", target))?;
        Ok(Staging { dir, target: target.to_owned() })
    }

    /// The staging directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the head of the bundle (`bom.json`, its signature and the provenance when there
    /// is one, in the head's form) into the staging directory under the names they have in
    /// the archive, byte for byte, so that the extracted tree carries what it was verified
    /// against and can be verified again (`genesis verify --dir`). Call it once the payload
    /// is in: the payload may have made `provenance/` already (`Bom::validate` keeps payload
    /// files off the head's own names).
    pub fn write_head(&mut self, head: &Head) -> Result<()> {
        for (name, bytes) in head.entries() {
            self.write_beside_payload(name, bytes)?;
        }
        Ok(())
    }

    /// Writes `bytes` as the new file `name` (a relative path, its folder made when missing)
    /// beside the payload: what a tree carries besides it, the head and the countersignatures.
    pub fn write_beside_payload(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent()
            && parent != self.dir.path()
            && !parent.is_dir()
        {
            fs::DirBuilder::new().mode(0o755).create(parent).map_err(BundleError::io("creating", parent))?;
        }
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .map_err(BundleError::io("creating", &path))?;
        out.write_all(bytes).map_err(BundleError::io("writing", &path))?;
        Ok(())
    }

    /// Moves the staging directory into place (one rename, checked: the target appears whole
    /// or not at all, and is this directory). Everything staged reaches the disk before the
    /// rename that publishes it, and the rename before this returns: after a power cut the
    /// target is absent or whole, never a tree of empty files.
    ///
    /// An error before the rename leaves nothing behind (the staging directory goes when
    /// this returns). Once the rename is done the target is published and stays: if its
    /// directory then cannot be synced, the error is [`BundleError::NotDurable`], which says
    /// the files are in place but a power cut could still undo the rename.
    pub fn commit(mut self) -> Result<PathBuf> {
        let dir = self.dir.path().to_owned();
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(BundleError::io("setting permissions on", &dir))?;
        sync_tree(&dir).map_err(BundleError::io("syncing", &dir))?;
        self.dir.rename_to(&self.target).map_err(BundleError::io("renaming staging into", &self.target))?;
        published(&self.target, crate::scratch::sync_parent(&self.target))
    }
}

/// What a commit returns once the rename published `target`, given whether its directory
/// then synced.
fn published(target: &Path, synced: io::Result<()>) -> Result<PathBuf> {
    match synced {
        Ok(()) => Ok(target.to_owned()),
        Err(source) => Err(BundleError::NotDurable { path: target.to_owned(), source }),
    }
}

/// Flushes every file under `dir`, and each directory's entries, to stable storage. The
/// staging tree holds only the files and directories its sinks created.
///
/// One `fsync` per file rather than one `syncfs` on the staging filesystem: `fsync` reports a
/// failed write-back of that very file on every kernel, while `syncfs` reported none before
/// Linux 5.8, flushes every other process's dirty data on the filesystem too, and is
/// Linux-only. An extracted bundle is mostly large blobs, so the files are few next to their
/// bytes, and those bytes have to reach the disk either way.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        } else {
            File::open(entry.path())?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

impl PayloadSink for Staging {
    fn dir(&mut self, path: &str) -> Result<()> {
        let p = self.dir.path().join(path.trim_end_matches('/'));
        fs::DirBuilder::new().mode(0o755).create(&p).map_err(BundleError::io("creating", p))
    }

    fn file(&mut self, path: &BundlePath) -> Result<Box<dyn Write + '_>> {
        let p = self.dir.path().join(path.as_str());
        let f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&p)
            .map_err(BundleError::io("creating", p))?;
        Ok(Box::new(BufWriter::with_capacity(256 << 10, f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BOM_PATH, HeadForm, PROVENANCE_PATH, SIGSTORE_PROVENANCE_PATH, SIGSTORE_SIGNATURE_PATH};

    /// The head lands under its archive names, byte for byte, beside a payload that made
    /// `provenance/` itself (the payload's folder is shared, not refused), and goes with the
    /// staging directory into place.
    #[test]
    fn the_head_is_written_under_its_archive_names_beside_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut staging = Staging::begin(&target).unwrap();
        staging.dir("provenance/").unwrap();
        let payload: BundlePath = "provenance/notes.txt".parse().unwrap();
        staging.file(&payload).unwrap().write_all(b"payload").unwrap();
        let head = Head {
            bom: b"{}\n".to_vec(),
            signature: b"MEUC".to_vec(),
            provenance: Some(b"{\"dsse\":1}".to_vec()),
            form: HeadForm::Cosign,
        };
        staging.write_head(&head).unwrap();
        assert_eq!(staging.commit().unwrap(), target);
        assert_eq!(fs::read(target.join(BOM_PATH)).unwrap(), head.bom);
        assert_eq!(fs::read(target.join(SIGNATURE_PATH)).unwrap(), head.signature);
        assert_eq!(fs::read(target.join(PROVENANCE_PATH)).unwrap(), head.provenance.unwrap());
        assert_eq!(fs::read(target.join("provenance/notes.txt")).unwrap(), b"payload");

        let bare = dir.path().join("bare");
        let mut staging = Staging::begin(&bare).unwrap();
        staging
            .write_head(&Head { bom: vec![1], signature: vec![2], provenance: None, form: HeadForm::Cosign })
            .unwrap();
        staging.commit().unwrap();
        let mut names: Vec<String> =
            fs::read_dir(&bare).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, [BOM_PATH, SIGNATURE_PATH], "no provenance folder without a provenance");

        // A pipeline's sigstore bundles land under their own names.
        let keyless = dir.path().join("keyless");
        let mut staging = Staging::begin(&keyless).unwrap();
        let head = Head { bom: vec![1], signature: vec![2], provenance: Some(vec![3]), form: HeadForm::Sigstore };
        staging.write_head(&head).unwrap();
        staging.commit().unwrap();
        assert_eq!(fs::read(keyless.join(SIGSTORE_SIGNATURE_PATH)).unwrap(), [2u8]);
        assert_eq!(fs::read(keyless.join(SIGSTORE_PROVENANCE_PATH)).unwrap(), [3u8]);
        assert!(!keyless.join(SIGNATURE_PATH).exists() && !keyless.join(PROVENANCE_PATH).exists());
    }

    /// A head whose signature is of one form and whose provenance of the other (a bundle put
    /// together by hand from two builds) is refused as that, in both directions, not as a
    /// duplicate of a head entry.
    #[test]
    fn a_head_mixing_the_two_forms_is_refused_naming_the_other_forms_provenance() {
        let dir = tempfile::tempdir().unwrap();
        for (signature, provenance) in
            [(SIGNATURE_PATH, SIGSTORE_PROVENANCE_PATH), (SIGSTORE_SIGNATURE_PATH, PROVENANCE_PATH)]
        {
            let mut tar = Vec::new();
            for (path, data) in [(BOM_PATH, &b"{}"[..]), (signature, &b"sig"[..]), (provenance, &b"{}"[..])] {
                tar.extend_from_slice(&crate::tar::file_header(path, data.len() as u64, 0).unwrap());
                tar.extend_from_slice(data);
                tar.extend(std::iter::repeat_n(0u8, crate::tar::padding(data.len() as u64)));
            }
            tar.extend_from_slice(&crate::tar::END_OF_ARCHIVE);
            let archive = dir.path().join("mixed.tar");
            fs::write(&archive, &tar).unwrap();
            let e = ArchiveReader::open(&archive, &crate::Limits::default()).unwrap().read_head().unwrap_err();
            assert!(matches!(e, BundleError::NotSigned { .. }), "{signature}: {e:?}");
            let said = format!("{provenance} follows {signature}: it is the provenance of the other head form");
            assert!(e.to_string().contains(&said), "{e}");
        }
    }

    /// Once the rename is done the target stays, so a directory that then does not sync is
    /// reported as what it is: the files in place, not yet durable.
    #[test]
    fn a_published_target_whose_directory_does_not_sync_is_in_place_but_not_durable() {
        let target = Path::new("out");
        assert_eq!(published(target, Ok(())).unwrap(), target);
        let e = published(target, Err(io::Error::other("input/output error"))).unwrap_err();
        assert!(matches!(&e, BundleError::NotDurable { path, .. } if path == target), "{e:?}");
        assert!(e.to_string().starts_with("out is in place but not yet durable"), "{e}");
    }
}
