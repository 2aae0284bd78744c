//! One test per kind of hostile archive the readers must refuse with their own error: tar
//! entry types bundles never contain, sizes and seek tables that lie, so that the first
//! failure does not hide the rest. Each refusal comes before any buffer sized from the
//! lie is allocated.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use genesis_bundle::danger::SeekableFile;
use genesis_bundle::test_support::{FrameEntry, MAX_FRAME_SIZE, SeekTable, max_frames};
use genesis_bundle::{
    ArchiveReader, BLOCK, BundleError, END_OF_ARCHIVE, FRAME_SIZE, Limits, SeekableWriter, file_header, padding,
};

/// A header for `path` of type `kind` announcing `size` bytes in octal, with a valid
/// checksum: everything but the type is what the writer emits.
pub(crate) fn header(path: &str, kind: u8, size: u64) -> [u8; BLOCK] {
    let mut h = file_header(path, 0, 0).unwrap();
    h[156] = kind;
    set_size_octal(&mut h, size);
    seal(&mut h);
    h
}

fn set_size_octal(h: &mut [u8; BLOCK], size: u64) {
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
}

/// Stores `size` in GNU base-256, as the writer does for entries of 8 GiB and more.
pub(crate) fn set_size_base256(h: &mut [u8; BLOCK], size: u64) {
    h[124..128].copy_from_slice(&[0x80, 0, 0, 0]);
    h[128..136].copy_from_slice(&size.to_be_bytes());
}

/// Recomputes the header checksum after an edit.
pub(crate) fn seal(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A tar stream of one header, its data, padding and the end marker.
fn tar_with(h: [u8; BLOCK], data: &[u8]) -> Vec<u8> {
    let mut tar = h.to_vec();
    tar.extend_from_slice(data);
    tar.extend(std::iter::repeat_n(0u8, padding(data.len() as u64)));
    tar.extend_from_slice(&END_OF_ARCHIVE);
    tar
}

/// `tar` compressed as a seekable archive in frames of at most `frame` bytes.
pub(crate) fn seekable(tar: &[u8], frame: usize) -> Vec<u8> {
    let mut w = SeekableWriter::new(Vec::new());
    for chunk in tar.chunks(frame) {
        w.push_frame(chunk.to_vec()).unwrap();
    }
    w.finish().unwrap().0
}

/// How both readers refuse `tar`: the streaming reader of a plain tar (verify, extract,
/// load) and the index of a seekable archive (serve, single-blob reads).
fn refusals(tar: &[u8]) -> [BundleError; 2] {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("t.tar");
    std::fs::write(&plain, tar).unwrap();
    let streamed = ArchiveReader::open(&plain, &Limits::default()).and_then(|mut r| r.read_head().map(drop));
    let zst = dir.path().join("t.tar.zst");
    std::fs::write(&zst, seekable(tar, FRAME_SIZE)).unwrap();
    let indexed = SeekableFile::open(File::open(&zst).unwrap(), &Limits::default())
        .and_then(|mut s| s.entries(&Limits::default()).map(drop));
    [streamed.unwrap_err(), indexed.unwrap_err()]
}

/// Both readers refuse an entry of type `kind` as the forbidden `name`.
fn check_forbidden(kind: u8, path: &str, data: &[u8], name: &str) {
    for err in refusals(&tar_with(header(path, kind, data.len() as u64), data)) {
        match err {
            BundleError::ForbiddenEntryType { path: p, kind: k } => assert_eq!((p.as_str(), k), (path, name)),
            other => panic!("type {:?}: expected {name}, got {other}", kind as char),
        }
    }
}

#[test]
fn a_pax_extended_header_is_refused() {
    check_forbidden(b'x', "PaxHeaders/bom.json", b"30 path=../../etc/passwd\n", "pax extended header");
}

#[test]
fn a_pax_global_header_is_refused() {
    check_forbidden(b'g', "pax_global_header", b"20 comment=evil\n", "pax global header");
}

#[test]
fn a_gnu_long_name_is_refused() {
    let long = format!("{}/evil.yaml", "d".repeat(300));
    check_forbidden(b'L', "././@LongLink", long.as_bytes(), "GNU long-name header");
}

#[test]
fn a_gnu_long_link_name_is_refused() {
    check_forbidden(b'K', "././@LongLink", b"/etc/passwd", "GNU long-link-name header");
}

#[test]
fn a_sparse_file_is_refused() {
    check_forbidden(b'S', "manifests/sparse.yaml", b"", "GNU sparse file");
}

#[test]
fn a_fifo_is_refused() {
    check_forbidden(b'6', "manifests/pipe", b"", "fifo");
}

#[test]
fn unknown_type_flags_are_refused() {
    for kind in [b'V', b'M', b'N', b'Z', b'9', 0x80, 0xff] {
        check_forbidden(kind, "manifests/odd", b"", "entry of unknown type");
    }
}

#[test]
fn a_base_256_size_near_u64_max_is_refused_by_the_seekable_index() {
    // Adding the header offset to this size overflows u64: a panic in debug builds, a
    // wrapped offset pointing back into the archive in release builds.
    for size in [u64::MAX, u64::MAX - 511, u64::MAX - (1 << 20)] {
        let mut h = header("oci/blobs/sha256/huge", b'0', 0);
        set_size_base256(&mut h, size);
        seal(&mut h);
        let dir = tempfile::tempdir().unwrap();
        let zst = dir.path().join("t.tar.zst");
        std::fs::write(&zst, seekable(&tar_with(h, b""), FRAME_SIZE)).unwrap();
        let mut s = SeekableFile::open(File::open(&zst).unwrap(), &Limits::default()).unwrap();
        match s.entries(&Limits::default()) {
            Err(BundleError::Truncated { detail }) => {
                assert!(detail.contains("past the end of the archive"), "{detail}")
            }
            other => panic!("size {size}: {other:?}"),
        }
    }
}

#[test]
fn a_gzip_archive_whose_stream_is_not_gzip_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tar.gz");
    let mut bytes = vec![0x1f_u8, 0x8b, 0xff];
    bytes.resize(64, 0);
    std::fs::write(&path, bytes).unwrap();
    match ArchiveReader::open(&path, &Limits::default()).and_then(|mut r| r.read_head().map(drop)) {
        Err(BundleError::Corrupt { detail }) => assert!(detail.contains("gzip"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- seek tables

/// A good seekable archive of a few small entries, cut into frames of 1 KiB so its table
/// has several entries.
fn good_archive() -> Vec<u8> {
    let (_d, path, _) = crate::bundle_with(&[("a/one.txt", b"one\n".to_vec()), ("b/two.txt", vec![7u8; 3000])]);
    seekable(&zstd::decode_all(File::open(&path).unwrap()).unwrap(), 1024)
}

/// Byte offsets in an archive of its seek table's parts.
struct Layout {
    /// The skippable frame header (magic, then size).
    table: usize,
    /// The footer: frame count, descriptor, magic.
    footer: usize,
}

fn layout(bytes: &[u8]) -> Layout {
    let footer = bytes.len() - 9;
    let count = u32::from_le_bytes(bytes[footer..footer + 4].try_into().unwrap()) as usize;
    Layout { table: footer - count * 8 - 8, footer }
}

/// How opening `bytes` as a seekable archive with `limits` is refused, by the index and by
/// the full reader alike.
fn open_refusal(bytes: &[u8], limits: &Limits) -> BundleError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tar.zst");
    std::fs::write(&path, bytes).unwrap();
    let indexed = SeekableFile::open(File::open(&path).unwrap(), limits).map(drop).unwrap_err();
    let streamed = ArchiveReader::open(&path, limits).map(drop).unwrap_err();
    assert_eq!(indexed.to_string(), streamed.to_string());
    indexed
}

#[test]
fn a_seek_table_footer_with_another_magic_is_no_seek_table() {
    let mut bytes = good_archive();
    let at = layout(&bytes).footer + 5;
    bytes[at..at + 4].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
    match open_refusal(&bytes, &Limits::default()) {
        BundleError::Truncated { detail } => assert!(detail.contains("no zstd seek table"), "{detail}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_seek_table_whose_frame_header_disagrees_with_its_footer_is_refused() {
    let good = good_archive();
    let table = layout(&good).table;
    for (offset, value) in [(0, 0x184D_2A50_u32), (4, u32::MAX)] {
        let mut bytes = good.clone();
        bytes[table + offset..table + offset + 4].copy_from_slice(&value.to_le_bytes());
        match open_refusal(&bytes, &Limits::default()) {
            BundleError::Corrupt { detail } => assert!(detail.contains("does not match its footer"), "{detail}"),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn a_seek_table_with_descriptor_bits_set_is_refused() {
    let good = good_archive();
    for descriptor in [0x80, 0x40, 0x01] {
        let mut bytes = good.clone();
        bytes[layout(&good).footer + 4] = descriptor;
        match open_refusal(&bytes, &Limits::default()) {
            BundleError::Corrupt { detail } => assert!(detail.contains("unsupported descriptor"), "{detail}"),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn a_frame_count_larger_than_the_file_is_refused_without_reading_the_table() {
    let good = good_archive();
    let footer = layout(&good).footer;
    // u32::MAX entries of 8 bytes overflow 32-bit arithmetic; one entry more than the
    // file holds is the smallest lie.
    for count in [u32::MAX, (good.len() / 8) as u32] {
        let mut bytes = good.clone();
        bytes[footer..footer + 4].copy_from_slice(&count.to_le_bytes());
        match open_refusal(&bytes, &Limits::default()) {
            BundleError::Corrupt { detail } => assert!(detail.contains("frame count larger than the file"), "{detail}"),
            other => panic!("count {count}: {other}"),
        }
    }
}

#[test]
fn a_frame_count_beyond_the_limits_is_refused_before_the_table_is_read() {
    // 11 frames at most for 10 entries and 1 MiB; the file holds a table of 1000.
    let limits = Limits { max_entries: 10, max_total_size: 1 << 20, ..Limits::default() };
    assert_eq!(max_frames(&limits), 11);
    let bytes = forged_table(&[FrameEntry { compressed: 1, decompressed: 1 }; 1000]);
    match open_refusal(&bytes, &limits) {
        BundleError::LimitExceeded { what, actual, limit } => {
            assert!(what.contains("frame count"), "{what}");
            assert_eq!((actual, limit), (1000, 11));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn frames_that_do_not_tile_the_file_are_refused() {
    let good = good_archive();
    let mut bytes = good.clone();
    let first = layout(&good).table + 8;
    let compressed = u32::from_le_bytes(bytes[first..first + 4].try_into().unwrap());
    bytes[first..first + 4].copy_from_slice(&(compressed - 1).to_le_bytes());
    match open_refusal(&bytes, &Limits::default()) {
        BundleError::Truncated { detail } => assert!(detail.contains("seek table describes"), "{detail}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_frame_larger_than_zstd_can_write_is_refused() {
    let bound = zstd::zstd_safe::compress_bound(512) as u32;
    let dir = tempfile::tempdir().unwrap();
    let at_bound = forged_frame(dir.path(), bound, 512);
    SeekableFile::open(File::open(at_bound).unwrap(), &Limits::default()).unwrap();
    let bytes = std::fs::read(forged_frame(dir.path(), bound + 1, 512)).unwrap();
    match open_refusal(&bytes, &Limits::default()) {
        BundleError::Corrupt { detail } => {
            assert!(detail.contains(&format!("claims {} compressed bytes for 512", bound + 1)), "{detail}");
            assert!(detail.contains("which no zstd frame takes"), "{detail}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_frame_of_zero_compressed_bytes_is_refused() {
    let bytes = forged_table(&[
        FrameEntry { compressed: 0, decompressed: 0 },
        FrameEntry { compressed: 100, decompressed: 100 },
    ]);
    match open_refusal(&bytes, &Limits::default()) {
        BundleError::Corrupt { detail } => assert!(detail.contains("frame 0 claims 0 compressed bytes"), "{detail}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_frame_larger_than_the_largest_frame_read_is_refused() {
    let bytes = forged_table(&[FrameEntry { compressed: 100_000, decompressed: MAX_FRAME_SIZE + 1 }]);
    match open_refusal(&bytes, &Limits::default()) {
        BundleError::LimitExceeded { what, .. } => assert_eq!(what, "decompressed size of one zstd frame"),
        other => panic!("{other}"),
    }
}

/// One seek table entry holds one zstd frame. zstd alone decompresses a skippable frame (of
/// any bytes, which no BOM digest covers) before the real one, and two frames given as one, to
/// the very bytes the entry declares: both readers refuse either, naming the frame, before a
/// header of it is parsed.
#[test]
fn a_seek_table_entry_holding_more_than_one_frame_is_refused() {
    let (_d, path, _) = crate::bundle_with(&[("a/one.txt", b"one\n".to_vec()), ("b/two.txt", vec![7u8; 3000])]);
    let tar = zstd::decode_all(File::open(&path).unwrap()).unwrap();
    let frames: Vec<(Vec<u8>, u32)> =
        tar.chunks(1024).map(|raw| (zstd::bulk::compress(raw, 3).unwrap(), raw.len() as u32)).collect();
    let archive = |frames: &[(Vec<u8>, u32)]| {
        let table = SeekTable {
            frames: frames.iter().map(|(c, d)| FrameEntry { compressed: c.len() as u32, decompressed: *d }).collect(),
        };
        [frames.iter().flat_map(|(c, _)| c.clone()).collect::<Vec<u8>>(), table.encode()].concat()
    };
    for read in read_both(&archive(&frames)) {
        read.unwrap();
    }

    let mut skippable = 0x184D_2A50_u32.to_le_bytes().to_vec();
    skippable.extend_from_slice(&6u32.to_le_bytes());
    skippable.extend_from_slice(b"hidden");
    let mut hidden = frames.clone();
    hidden[1].0 = [skippable, frames[1].0.clone()].concat();
    let mut merged = frames.clone();
    let second = merged.remove(2);
    merged[1] = ([frames[1].0.clone(), second.0].concat(), frames[1].1 + second.1);
    for (what, frames, said) in [
        ("a skippable frame first", hidden, "does not start with a zstd frame"),
        ("two frames", merged, "which hold more than one frame"),
    ] {
        for read in read_both(&archive(&frames)) {
            match read {
                Err(BundleError::Corrupt { detail }) => {
                    assert!(detail.starts_with("zstd frame 1: ") && detail.contains(said), "{what}: {detail}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}

/// The seekable archive `bytes` read by the full reader (its head) and by the index (its
/// entries).
fn read_both(bytes: &[u8]) -> [Result<(), BundleError>; 2] {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tar.zst");
    std::fs::write(&path, bytes).unwrap();
    let limits = Limits::default();
    let streamed = ArchiveReader::open(&path, &limits).and_then(|mut r| r.read_head().map(drop));
    let indexed =
        SeekableFile::open(File::open(&path).unwrap(), &limits).and_then(|mut s| s.entries(&limits).map(drop));
    [streamed, indexed]
}

/// An archive of frames of the given sizes (zeros after a zstd magic) and their table.
fn forged_table(frames: &[FrameEntry]) -> Vec<u8> {
    let table = SeekTable { frames: frames.to_vec() };
    let mut bytes = vec![0u8; table.compressed_len() as usize];
    bytes[..4].copy_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
    [bytes, table.encode()].concat()
}

/// A sparse archive of `frames` (only the first one's zstd magic written) closed by a seek
/// table declaring them, so the frames tile the file exactly whatever sizes they claim.
/// Fails, with the reason, where `dir` keeps no sparse files: the file is as large as the
/// table claims (gigabytes).
pub(crate) fn forged_archive(dir: &Path, frames: &[FrameEntry]) -> PathBuf {
    assert_sparse_files(dir);
    let path = dir.join("forged.tar.zst");
    let file = File::create(&path).unwrap();
    file.write_all_at(&[0x28, 0xb5, 0x2f, 0xfd], 0).unwrap();
    let table = SeekTable { frames: frames.to_vec() };
    file.write_all_at(&table.encode(), table.compressed_len()).unwrap();
    path
}

/// [`forged_archive`] of one frame.
fn forged_frame(dir: &Path, compressed: u32, decompressed: u32) -> PathBuf {
    forged_archive(dir, &[FrameEntry { compressed, decompressed }])
}

/// Set in the child [`capped_child`] starts, to its cap in bytes.
const CAPPED: &str = "GENESIS_TEST_CAPPED_CHILD";

/// Whether this process is the capped child. Otherwise runs `test` (this binary's test of
/// that name) again in a child whose address space `ulimit -v` caps at `bytes`, and
/// asserts it passed there: an allocation past the cap aborts the child.
///
/// What this needs of the machine is checked, and a test that lacks it fails with the
/// reason (on CI a missing capability is a failure, not a skip): a `sh` whose `ulimit -v`
/// the kernel enforces (Linux does, macOS does not), which the child checks by reserving
/// twice its cap; and no sanitizer, whose shadow memory (terabytes of address space
/// reserved at start) no capped child can hold.
fn capped_child(test: &str, bytes: u64) -> bool {
    if let Some(cap) = std::env::var_os(CAPPED) {
        let past_cap = 2 * cap.to_str().and_then(|c| c.parse::<usize>().ok()).expect("the cap in bytes");
        assert!(
            Vec::<u8>::new().try_reserve_exact(past_cap).is_err(),
            "`ulimit -v` did not cap this process: {past_cap} bytes could be reserved. This test needs a sh \
             and a kernel that enforce it (Linux)"
        );
        return true;
    }
    if let Some(reserved) = address_space() {
        assert!(
            reserved < 1 << 40,
            "this process reserves {} GiB of address space, the shadow memory of a sanitizer: no child capped at \
             {bytes} bytes can start. Run this test without a sanitizer",
            reserved >> 30
        );
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" --exact \"$1\" --nocapture --test-threads=1", bytes >> 10))
        .arg(std::env::current_exe().unwrap())
        .arg(test)
        .env(CAPPED, bytes.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} under a {bytes}-byte address-space cap: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// The address space this process has reserved (`VmSize`), where `/proc` tells it.
fn address_space() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmSize:"))?.trim().strip_suffix("kB")?.trim();
    kib.parse::<u64>().ok().map(|kib| kib << 10)
}

/// Fails, with the reason, unless files in `dir` can be sparse: a forged archive that
/// claims gigabytes must take no disk, or forging it writes gigabytes of zeros.
fn assert_sparse_files(dir: &Path) {
    let path = dir.join("sparse-probe");
    let probe = File::create(&path).unwrap();
    probe.write_all_at(&[1], 64 << 20).unwrap();
    let on_disk = probe.metadata().unwrap().blocks() * 512;
    std::fs::remove_file(&path).unwrap();
    assert!(
        on_disk < 1 << 20,
        "{} keeps no sparse files (a 64 MiB file with one byte written takes {on_disk} bytes): set TMPDIR to a \
         filesystem that does (ext4, xfs, btrfs, tmpfs)",
        dir.display()
    );
}

#[test]
fn a_forged_4_gib_frame_is_refused_before_a_buffer_for_it_is_allocated() {
    // Run under a 1 GiB address-space cap: allocating the 4 GiB the table claims aborts.
    if !capped_child("rejections::a_forged_4_gib_frame_is_refused_before_a_buffer_for_it_is_allocated", 1 << 30) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = forged_frame(dir.path(), u32::MAX, 512);
    let indexed = SeekableFile::open(File::open(&path).unwrap(), &Limits::default())
        .and_then(|mut s| s.frame(0).map(drop))
        .unwrap_err();
    let streamed =
        ArchiveReader::open(&path, &Limits::default()).and_then(|mut r| r.read_head().map(drop)).unwrap_err();
    for err in [indexed, streamed] {
        match err {
            BundleError::Corrupt { detail } => {
                assert!(detail.contains("frame 0 claims 4294967295 compressed bytes for 512"), "{detail}");
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn a_tail_full_of_fake_footers_is_explained_with_one_look() {
    // 1 MiB of footers, each announcing a 4 MiB table the file has room for, then a byte
    // that is no footer: the reader looks back for the table once, not once per footer
    // (a hundred thousand reads of 4 MiB).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake-footers.tar.zst");
    let mut footer = (1u32 << 19).to_le_bytes().to_vec();
    footer.push(0);
    footer.extend_from_slice(&0x8F92_EAB1_u32.to_le_bytes());
    let mut f = File::create(&path).unwrap();
    f.write_all(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap();
    f.write_all(&vec![0u8; 5 << 20]).unwrap();
    f.write_all(&footer.repeat((1 << 20) / footer.len())).unwrap();
    f.write_all(&[0]).unwrap();
    drop(f);
    let started = Instant::now();
    let err = SeekableFile::open(File::open(&path).unwrap(), &Limits::default()).map(drop).unwrap_err();
    assert!(matches!(err, BundleError::Truncated { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}
