//! The support bundle's archive: a deterministic `.tar.gz` of files held in memory. The same
//! files give the same bytes on every machine: entries in path order, each directory once
//! before its first file, the bundle format's canonical ustar headers (mode 0644 for files
//! and 0755 for directories, uid and gid 0, no owner names, mtime 0), gzip at a fixed level
//! with mtime 0, no file name and OS 255 (unknown). Written atomically beside a `.sha256`
//! in `sha256sum -c` form.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use genesis_bundle::{BLOCK, END_OF_ARCHIVE, dir_header, file_header, padding};
use genesis_types::Digest;

use crate::{Result, SupportError};

/// The mtime of every entry and of the gzip header: the files describe the cluster when
/// collected, and the archive's bytes depend on nothing else.
const MTIME: u64 = 0;

/// The gzip header's mtime, for the same reason.
const GZIP_MTIME: u32 = 0;

/// gzip's "unknown" operating system, so the header does not say where it was written.
const OS_UNKNOWN: u8 = 255;

/// The archive's permissions: what it holds was redacted by rule, which finds secrets and
/// PHI by their shape only, so it is readable by its owner alone until they have looked.
const ARCHIVE_MODE: u32 = 0o600;

/// What [`write_archive`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The archive.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// The `.sha256` beside it.
    pub sidecar: PathBuf,
}

/// The deterministic `.tar.gz` of `files` (path → bytes) in memory, the tar compressed as it
/// is laid out. Paths are relative, `/`-separated, without empty, `.` or `..` components, and
/// none is both a file and a directory.
fn archive_bytes(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>> {
    check_paths(files)?;
    let mut gz = GzBuilder::new().mtime(GZIP_MTIME).operating_system(OS_UNKNOWN).write(Vec::new(), Compression::new(6));
    // Writing into memory fails only when memory does.
    let mut put = |bytes: &[u8]| gz.write_all(bytes).expect("compressing into memory");
    let mut dirs = BTreeSet::new();
    for (path, content) in files {
        for (i, _) in path.match_indices('/') {
            let dir = &path[..=i];
            if dirs.insert(dir) {
                put(&dir_header(dir, MTIME)?);
            }
        }
        put(&file_header(path, content.len() as u64, MTIME)?);
        put(content);
        put(&[0u8; BLOCK][..padding(content.len() as u64)]);
    }
    put(&END_OF_ARCHIVE);
    Ok(gz.finish().expect("compressing into memory"))
}

/// A deterministic .tar.gz of `files` (path → bytes, sorted by the BTreeMap; see
/// [`archive_bytes`]), written atomically at `out` (readable by its owner only: what is in
/// it was redacted by rule, and they should look before they share it) with `<out>.sha256`
/// (`sha256sum -c` format, the archive's file name); returns the archive's SHA-256 and size.
/// Neither file is synced to disk: a torn archive fails its `.sha256`.
pub fn write_archive(files: &BTreeMap<String, Vec<u8>>, out: &Path) -> Result<Written> {
    let bytes = archive_bytes(files)?;
    let sha256 = genesis_bundle::sha256(&bytes);
    let writing = |path: &Path| {
        let path = path.to_owned();
        move |source| SupportError::Write { path, source }
    };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
        writing(out)(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the output names no file"))
    })?;
    let mut file = AtomicFile::create(out, Mode::Exactly(ARCHIVE_MODE)).map_err(writing(out))?;
    file.write_all(&bytes).map_err(writing(out))?;
    file.commit(Durability::CheckedOnRead).map_err(writing(out))?;
    let sidecar = genesis_bundle::path_with_suffix(out, ".sha256");
    let mut list = AtomicFile::create(&sidecar, Mode::OfTarget).map_err(writing(&sidecar))?;
    list.write_all(format!("{}  {name}\n", sha256.hex()).as_bytes()).map_err(writing(&sidecar))?;
    list.commit(Durability::CheckedOnRead).map_err(writing(&sidecar))?;
    Ok(Written { path: out.to_owned(), sha256, size: bytes.len() as u64, sidecar })
}

/// Every path is a relative, `/`-separated path of plain names, and none is both a file and
/// the directory of another.
fn check_paths(files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    for path in files.keys() {
        let refuse = |reason: &str| SupportError::EntryPath { path: path.clone(), reason: reason.to_owned() };
        if path.is_empty() || path.starts_with('/') {
            return Err(refuse("an entry's path is relative and not empty"));
        }
        if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(refuse("an entry's path has no empty, `.` or `..` component (nor a trailing `/`)"));
        }
        if path.contains('\0') {
            return Err(refuse("an entry's path has no NUL byte"));
        }
        for (i, _) in path.match_indices('/') {
            if files.contains_key(&path[..i]) {
                return Err(refuse("a file of the archive has this path as its directory"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Command;

    use super::*;

    fn files() -> BTreeMap<String, Vec<u8>> {
        [
            ("redaction-report.json", b"{\"total\": 0}\n".to_vec()),
            ("namespaces/demo/pods.json", b"[]\n".to_vec()),
            ("README.txt", b"what this archive holds\n".to_vec()),
            ("namespaces/demo-2/events.json", b"[1]\n".to_vec()),
            ("cluster/version.json", vec![b'x'; 1000]),
            ("namespaces/demo/events.json", Vec::new()),
            ("logs/console.log", b"line\n".to_vec()),
        ]
        .into_iter()
        .map(|(path, content)| (path.to_owned(), content))
        .collect()
    }

    /// `tool args…` in `dir`, its stdout; a failure (or a missing tool) fails the test.
    fn run(dir: &Path, tool: &str, args: &[&str]) -> String {
        let out = Command::new(tool).args(args).current_dir(dir).env("TZ", "UTC").output().unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn the_same_files_give_the_same_bytes() {
        let first = archive_bytes(&files()).unwrap();
        // Built again from a map filled in another order: a BTreeMap either way.
        let mut reversed = BTreeMap::new();
        for (path, content) in files().into_iter().rev() {
            reversed.insert(path, content);
        }
        assert_eq!(archive_bytes(&reversed).unwrap(), first);

        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let one = write_archive(&files(), &a.path().join("support.tar.gz")).unwrap();
        let two = write_archive(&files(), &b.path().join("support.tar.gz")).unwrap();
        assert_eq!(std::fs::read(&one.path).unwrap(), first);
        assert_eq!(std::fs::read(&two.path).unwrap(), first);
        assert_eq!((one.sha256.clone(), one.size), (genesis_bundle::sha256(&first), first.len() as u64));
        assert_eq!(one.sha256, two.sha256);

        let mut changed = files();
        changed.insert("logs/console.log".into(), b"line!\n".to_vec());
        assert_ne!(archive_bytes(&changed).unwrap(), first);
    }

    #[test]
    fn tar_lists_the_entries_sorted_each_directory_before_its_files() {
        let dir = tempfile::tempdir().unwrap();
        write_archive(&files(), &dir.path().join("support.tar.gz")).unwrap();
        let listed = run(dir.path(), "tar", &["-tzf", "support.tar.gz"]);
        assert_eq!(
            listed.lines().collect::<Vec<_>>(),
            [
                "README.txt",
                "cluster/",
                "cluster/version.json",
                "logs/",
                "logs/console.log",
                "namespaces/",
                "namespaces/demo-2/",
                "namespaces/demo-2/events.json",
                "namespaces/demo/",
                "namespaces/demo/events.json",
                "namespaces/demo/pods.json",
                "redaction-report.json",
            ]
        );
        // Every file as it was given, through the real tar.
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        run(dir.path(), "tar", &["-xzf", "support.tar.gz", "-C", "out"]);
        for (path, content) in files() {
            assert_eq!(std::fs::read(out.join(&path)).unwrap(), content, "{path}");
        }
        // Owner root, mtime the epoch, modes 0644 and 0755, as tar itself reads them.
        let verbose = run(dir.path(), "tar", &["--numeric-owner", "--full-time", "-tvzf", "support.tar.gz"]);
        for line in verbose.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let mode = if fields[5].ends_with('/') { "drwxr-xr-x" } else { "-rw-r--r--" };
            assert_eq!((fields[0], fields[1], fields[3], fields[4]), (mode, "0/0", "1970-01-01", "00:00:00"), "{line}");
        }
    }

    #[test]
    fn every_header_has_mtime_0_and_the_gzip_header_says_nothing_of_the_writer() {
        let bytes = archive_bytes(&files()).unwrap();
        // gzip: magic, deflate, no flags (no file name), mtime 0, OS 255.
        assert_eq!(bytes[..4], [0x1f_u8, 0x8b, 8, 0]);
        assert_eq!(bytes[4..8], [0_u8; 4]);
        assert_eq!(bytes[9], 255);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut tar).unwrap();
        assert_eq!(tar.len() % BLOCK, 0);
        let octal = |field: &[u8]| {
            let digits: String = field.iter().take_while(|b| b.is_ascii_digit()).map(|&b| char::from(b)).collect();
            u64::from_str_radix(&digits, 8).unwrap()
        };
        let mut offset = 0;
        let mut entries = 0;
        while tar[offset..offset + BLOCK].iter().any(|&b| b != 0) {
            let h = &tar[offset..offset + BLOCK];
            let (mode, kind) = (octal(&h[100..108]), h[156]);
            assert_eq!(mode, if kind == b'5' { 0o755 } else { 0o644 });
            assert_eq!((octal(&h[108..116]), octal(&h[116..124]), octal(&h[136..148])), (0, 0, 0));
            assert!(h[265..297].iter().chain(&h[297..329]).all(|&b| b == 0), "no owner names");
            let size = octal(&h[124..136]) as usize;
            offset += BLOCK + size.div_ceil(BLOCK) * BLOCK;
            entries += 1;
        }
        assert_eq!(entries, 12);
        assert_eq!(tar[offset..], END_OF_ARCHIVE);
    }

    #[test]
    fn the_sidecar_checks_with_sha256sum_and_the_archive_is_its_owner_s() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_archive(&files(), &dir.path().join("support.tar.gz")).unwrap();
        assert_eq!(written.sidecar, dir.path().join("support.tar.gz.sha256"));
        assert_eq!(
            std::fs::read_to_string(&written.sidecar).unwrap(),
            format!("{}  support.tar.gz\n", written.sha256.hex())
        );
        assert_eq!(run(dir.path(), "sha256sum", &["-c", "support.tar.gz.sha256"]), "support.tar.gz: OK\n");
        let mode = std::fs::metadata(&written.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Written again over itself: replaced whole, nothing left beside it.
        write_archive(&files(), &written.path).unwrap();
        let mut names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["support.tar.gz", "support.tar.gz.sha256"]);
    }

    #[test]
    fn an_empty_archive_is_a_valid_one() {
        let dir = tempfile::tempdir().unwrap();
        write_archive(&BTreeMap::new(), &dir.path().join("empty.tar.gz")).unwrap();
        assert_eq!(run(dir.path(), "tar", &["-tzf", "empty.tar.gz"]), "");
    }

    #[test]
    fn paths_that_are_no_plain_relative_paths_are_refused() {
        for (path, reason) in [
            ("/etc/passwd", "relative"),
            ("", "relative"),
            ("a/../b", "`..`"),
            ("./a", "`.`"),
            ("a//b", "empty"),
            ("dir/", "trailing"),
            ("a\0b", "NUL"),
        ] {
            let files = BTreeMap::from([(path.to_owned(), b"x".to_vec())]);
            let e = archive_bytes(&files).unwrap_err();
            assert!(matches!(&e, SupportError::EntryPath { path: p, .. } if p == path), "{path:?}: {e}");
            assert!(e.to_string().contains(reason), "{path:?}: {e}");
        }
        let both = BTreeMap::from([("logs".to_owned(), b"x".to_vec()), ("logs/a".to_owned(), b"y".to_vec())]);
        assert!(archive_bytes(&both).unwrap_err().to_string().contains("as its directory"));
        let long = BTreeMap::from([("x".repeat(300), b"x".to_vec())]);
        assert!(matches!(archive_bytes(&long), Err(SupportError::Bundle(_))));
    }
}
