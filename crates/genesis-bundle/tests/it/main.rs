//! The seekable container: frames cut at entry boundaries and at a fixed size inside large
//! blobs, read in parallel front to back, or randomly without touching earlier frames; the
//! archives the readers refuse, one test each (`rejections`); and property tests that feed
//! every reader of untrusted bytes mutated tar headers, seek tables and BOMs (`fuzz`).

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod fuzz;
mod rejections;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;

use genesis_bundle::danger::SeekableFile;
use genesis_bundle::{
    ArchiveReader, BOM_SCHEMA, Bom, Compression, Content, FRAME_SIZE, FileEntry, Limits, WriteOptions, rfc3339, sha256,
    write_bundle,
};
use genesis_types::BundlePath;

/// Deterministic incompressible bytes (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn bundle_with(files: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, std::path::PathBuf, Bom) {
    let mut contents = BTreeMap::new();
    let mut entries = Vec::new();
    for (path, data) in files {
        let p: BundlePath = path.parse().unwrap();
        entries.push(FileEntry { path: p.clone(), size: data.len() as u64, sha256: sha256(data) });
        contents.insert(p, Content::Bytes(data.clone()));
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let bom = Bom {
        schema: BOM_SCHEMA.into(),
        name: "t".into(),
        version: "1".into(),
        created: rfc3339(0),
        expires: None,
        files: entries,
        images: vec![],
        charts: vec![],
        manifests: vec![],
        sboms: vec![],
        scan: None,
        requires: None,
    };
    let bytes = bom.to_bytes();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tar.zst");
    let out = File::create(&path).unwrap();
    write_bundle(
        out,
        &bom,
        &bytes,
        b"sig",
        None,
        &contents,
        WriteOptions { compression: Compression::Zstd, mtime: 0, progress: Default::default() },
    )
    .unwrap();
    (dir, path, bom)
}

fn big_bundle() -> (tempfile::TempDir, std::path::PathBuf, Bom) {
    bundle_with(&[
        ("a/small.txt", b"first\n".to_vec()),
        ("b/blob", noise(3 * FRAME_SIZE + 12_345, 7)),
        ("c/last.txt", b"the last entry\n".to_vec()),
    ])
}

#[test]
fn large_blobs_span_fixed_size_frames_and_plain_zstd_reads_the_stream() {
    let (_d, path, _) = big_bundle();
    let file = File::open(&path).unwrap();
    let s = SeekableFile::open(file, &Limits::default()).unwrap();
    let sizes: Vec<u32> = s.table().frames.iter().map(|f| f.decompressed).collect();
    // head and small entries, then three full frames of the blob, then its tail and the rest.
    assert_eq!(sizes.len(), 5, "{sizes:?}");
    assert!(sizes[1..4].iter().all(|&n| n as usize == FRAME_SIZE), "{sizes:?}");
    // An independent decoder (the zstd library's streaming API) reads the same bytes.
    let mut whole = Vec::new();
    zstd::stream::read::Decoder::new(File::open(&path).unwrap()).unwrap().read_to_end(&mut whole).unwrap();
    assert_eq!(whole.len() as u64, s.table().decompressed_len());
}

#[test]
fn one_entry_is_read_without_decompressing_the_blob_before_it() {
    let (_d, path, _) = big_bundle();
    let mut s = SeekableFile::open(File::open(&path).unwrap(), &Limits::default()).unwrap();
    let entries = s.entries(&Limits::default()).unwrap();
    let (header, offset) = entries.iter().find(|(h, _)| h.path == "c/last.txt").unwrap().clone();
    let mut data = vec![0u8; header.size as usize];
    s.read_exact_at(offset, &mut data).unwrap();
    assert_eq!(data, b"the last entry\n");
    // The head frame and the last frame are decompressed whole; the blob's first frame is
    // read only as far as its header, and the two frames in the middle of the blob not at all.
    assert_eq!(s.table().frames.len(), 5);
    assert_eq!(s.frames_decompressed(), 2);
}

#[test]
fn the_parallel_reader_verifies_a_multi_frame_bundle() {
    let (_d, path, bom) = big_bundle();
    let mut reader = ArchiveReader::open(&path, &Limits::default()).unwrap();
    let head = reader.read_head().unwrap();
    assert_eq!(head.signature, b"sig");
    let progress = reader.progress();
    let summary = genesis_bundle::danger::check_payload(reader, &bom, &mut genesis_bundle::Discard).unwrap();
    assert_eq!(summary.files, 3);
    // A progress bar's count ends at the payload's size: the head's entries are not in it.
    assert_eq!(progress.done(), bom.payload_size());
    assert_eq!(summary.archive.len, std::fs::metadata(&path).unwrap().len());
    assert_eq!(sha256(&std::fs::read(&path).unwrap()).hex(), hex(&summary.archive.sha256));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_frame_that_lies_about_its_size_is_refused() {
    let (_d, path, _) = big_bundle();
    let mut bytes = std::fs::read(&path).unwrap();
    // The seek table's first entry's decompressed size sits 8 + 4 bytes into the table.
    let table_len = 8 + 5 * 8 + 9;
    let first = bytes.len() - table_len + 8 + 4;
    bytes[first] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let mut reader = ArchiveReader::open(&path, &Limits::default()).unwrap();
    let err = reader.read_head().unwrap_err().to_string();
    assert!(err.contains("its seek table entry says"), "{err}");
}
