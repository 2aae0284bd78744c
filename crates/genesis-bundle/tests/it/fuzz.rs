//! Property tests for every parser of untrusted bundle bytes: the tar header reader, the
//! seek table and frame reader, the BOM. Structure-aware generators start from what the
//! writer emits and mutate the fields an attacker controls (type flags, sizes, frame counts,
//! descriptor bits, magics, JSON fields). Each property asserts no panic, a clean refusal
//! (an error that is a verdict on the archive) or a result that keeps the reader's
//! promises, and that whatever is accepted stays within the sizes the limits state, which
//! bounds every buffer a reader allocates from it.
//!
//! Stable Rust, no `cargo fuzz`: each property runs a bounded number of cases in the normal
//! test suite, so CI runs them on every change.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use genesis_bundle::danger::SeekableFile;
use genesis_bundle::test_support::{
    EntryKind, FrameEntry, Header, MAX_FRAME_SIZE, SeekTable, compress_bound, max_compressed_frame, max_frames,
    parse_header,
};
use genesis_bundle::{
    ArchiveReader, BLOCK, BOM_SCHEMA, Bom, BundleError, Discard, FileEntry, Limits, ManifestEntry, file_header,
    padding, sha256,
};
use genesis_testkit::fuzz::{Edit, addition, damage, edit};
use genesis_types::{Classify as _, ErrorClass};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::rejections::{seal, seekable, set_size_base256};

/// Cases per property: enough to cover every mutation kind many times, few enough for CI.
const CASES: u32 = 256;

/// Limits far below the defaults, so that anything accepted beyond them shows.
fn small_limits() -> Limits {
    Limits { max_entries: 64, max_total_size: 1 << 20, max_bom_size: 1 << 16, ..Limits::default() }
}

/// An error that refuses the archive for what it holds (a verdict): what every hostile
/// input must get. An I/O error, an input or output error would mean a reader mistook its
/// input.
fn refused_cleanly(e: &BundleError) -> bool {
    e.class() == ErrorClass::Verdict
}

// ---------------------------------------------------------------- tar headers

/// Type flags: the two bundles hold, every one the reader names, and any byte.
fn type_flag() -> impl Strategy<Value = u8> {
    prop_oneof![prop::sample::select(b"05\x001234567xgLKSVMN".to_vec()), any::<u8>()]
}

/// What the reader must make of a type flag: the kind of entry, or the name it refuses.
fn named_kind(flag: u8) -> Result<EntryKind, &'static str> {
    match flag {
        b'0' | 0 => Ok(EntryKind::File),
        b'5' => Ok(EntryKind::Dir),
        b'1' => Err("hard link"),
        b'2' => Err("symbolic link"),
        b'3' => Err("character device"),
        b'4' => Err("block device"),
        b'6' => Err("fifo"),
        b'7' => Err("contiguous file"),
        b'x' => Err("pax extended header"),
        b'g' => Err("pax global header"),
        b'L' => Err("GNU long-name header"),
        b'K' => Err("GNU long-link-name header"),
        b'S' => Err("GNU sparse file"),
        _ => Err("entry of unknown type"),
    }
}

/// Sizes in both encodings, the huge base-256 values first among them.
#[derive(Debug, Clone)]
enum Size {
    Octal(u64),
    Base256(u64),
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        prop_oneof![Just(0u64), Just(1u64), Just(8u64.pow(11) - 1), 0..8u64.pow(11)].prop_map(Size::Octal),
        prop_oneof![Just(u64::MAX), Just(u64::MAX - 511), Just(1u64 << 33), Just(1u64 << 63), any::<u64>()]
            .prop_map(Size::Base256),
    ]
}

/// Paths every ustar header can hold (at most 123 bytes, components of at most 30).
fn tar_path() -> impl Strategy<Value = String> {
    "[a-z0-9._-]{1,30}(/[a-z0-9._-]{1,30}){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_tar_header_parses_to_exactly_what_its_fields_say(path in tar_path(), flag in type_flag(), encoded in size()) {
        let mut h = file_header(&path, 0, 1_735_689_600).unwrap();
        h[156] = flag;
        let n = match encoded {
            Size::Octal(n) => {
                h[124..136].copy_from_slice(format!("{n:011o}\0").as_bytes());
                n
            }
            Size::Base256(n) => {
                set_size_base256(&mut h, n);
                n
            }
        };
        seal(&mut h);
        match (named_kind(flag), parse_header(&h)) {
            (Ok(EntryKind::Dir), Err(BundleError::Corrupt { detail })) if n != 0 => {
                prop_assert!(detail.contains("directory with data"), "{}", detail);
            }
            (Ok(kind), Ok(Some(parsed))) => {
                prop_assert!(kind == EntryKind::File || n == 0, "a directory with {} bytes was accepted", n);
                prop_assert_eq!(parsed, Header { path: path.clone(), kind, size: n });
            }
            (Err(name), Err(BundleError::ForbiddenEntryType { path: refused, kind })) => {
                prop_assert_eq!(kind, name);
                prop_assert_eq!(refused, path.clone());
            }
            (want, got) => prop_assert!(false, "flag {:?}, size {}: expected {:?}, got {:?}", flag, n, want, got),
        }
    }

    #[test]
    fn any_edit_of_a_tar_header_is_parsed_or_refused_cleanly(
        flag in type_flag(),
        edits in prop::collection::vec((0..BLOCK, any::<u8>()), 0..16),
        reseal in any::<bool>(),
    ) {
        let mut h = file_header("manifests/app.yaml", 1234, 1_735_689_600).unwrap();
        h[156] = flag;
        for (at, byte) in edits {
            h[at] = byte;
        }
        if reseal {
            seal(&mut h);
        }
        match parse_header(&h) {
            Ok(Some(parsed)) => {
                prop_assert!(matches!(h[156], b'0' | 0 | b'5'), "type {:?} accepted", h[156]);
                prop_assert!(parsed.kind == EntryKind::File || parsed.size == 0);
                prop_assert!(parsed.path.len() <= 256);
            }
            Ok(None) => prop_assert!(h.iter().all(|&b| b == 0)),
            Err(e) => prop_assert!(
                matches!(e, BundleError::Corrupt { .. } | BundleError::ForbiddenEntryType { .. } | BundleError::UnsafePath { .. }),
                "{}", e
            ),
        }
    }
}

// ---------------------------------------------------------------- whole archives

/// A small bundle every archive property starts from: its BOM, its canonical tar, the
/// offset of every header in it, and the tar as a seekable archive of 1 KiB frames.
struct Base {
    bom: Bom,
    tar: Vec<u8>,
    headers: Vec<usize>,
    zst: Vec<u8>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let blob = b"{\"schemaVersion\":2}".to_vec();
        let blob_path = format!("oci/{}", sha256(&blob).blob_path());
        let (_dir, path, bom) = crate::bundle_with(&[
            ("manifests/app.yaml", b"kind: ConfigMap\n".to_vec()),
            ("manifests/big.yaml", crate::noise(3000, 11)),
            (blob_path.as_str(), blob),
        ]);
        let tar = zstd::decode_all(File::open(&path).unwrap()).unwrap();
        let mut headers = Vec::new();
        let mut at = 0;
        while let Some(h) = parse_header(tar[at..at + BLOCK].try_into().unwrap()).unwrap() {
            headers.push(at);
            at += BLOCK + h.size as usize + padding(h.size);
        }
        let zst = seekable(&tar, 1024);
        Base { bom, tar, headers, zst }
    })
}

/// Reads `archive` as `verify` does (the head, then every entry against `bom`) and as
/// `serve` does (the index, then every entry's bytes), within `limits`: each outcome, after
/// asserting that whatever was accepted stays within the limits.
fn read_both_ways(archive: &Path, bom: &Bom, limits: &Limits) -> [Result<(), BundleError>; 2] {
    let streamed = ArchiveReader::open(archive, limits).and_then(|mut r| {
        r.read_head()?;
        let summary = genesis_bundle::danger::check_payload(r, bom, &mut Discard)?;
        assert_eq!(summary.files, bom.files.len() as u64, "a pass that succeeds checked every file");
        Ok(())
    });
    let indexed = SeekableFile::open(File::open(archive).unwrap(), limits).and_then(|mut s| {
        let entries = s.entries(limits)?;
        assert!(entries.len() as u64 <= limits.max_entries, "{} entries", entries.len());
        for (h, offset) in entries {
            assert!(offset + h.size <= s.table().decompressed_len(), "{} lies past the end", h.path);
            let mut data = vec![0u8; h.size as usize];
            s.read_exact_at(offset, &mut data)?;
        }
        Ok(())
    });
    [streamed, indexed]
}

/// One edit of a header in the tar stream.
#[derive(Debug, Clone)]
enum HeaderEdit {
    Type(u8),
    Size(Size),
    Byte(usize, u8),
}

fn header_edit() -> impl Strategy<Value = HeaderEdit> {
    prop_oneof![
        type_flag().prop_map(HeaderEdit::Type),
        size().prop_map(HeaderEdit::Size),
        (0..BLOCK, any::<u8>()).prop_map(|(at, b)| HeaderEdit::Byte(at, b)),
    ]
}

/// One edit of a seekable archive: its seek table's fields, any byte, or its length.
#[derive(Debug, Clone)]
enum TableEdit {
    Count(u32),
    Descriptor(u8),
    FooterMagic(u32),
    FrameHeaderMagic(u32),
    FrameHeaderSize(u32),
    Compressed(usize, u32),
    Decompressed(usize, u32),
    Byte(usize, u8),
    Cut(usize),
    Append(Vec<u8>),
}

/// Sizes a forged table would claim: the edges of every bound, and anything.
fn claimed() -> impl Strategy<Value = u32> {
    let bound = max_compressed_frame() as u32;
    prop_oneof![
        Just(0u32),
        Just(1u32),
        Just(u32::MAX),
        Just(MAX_FRAME_SIZE),
        Just(MAX_FRAME_SIZE + 1),
        Just(bound),
        Just(bound + 1),
        0..4096u32,
        any::<u32>(),
    ]
}

fn table_edit() -> impl Strategy<Value = TableEdit> {
    prop_oneof![
        claimed().prop_map(TableEdit::Count),
        prop_oneof![Just(0x80u8), Just(0x40u8), Just(0x01u8), any::<u8>()].prop_map(TableEdit::Descriptor),
        any::<u32>().prop_map(TableEdit::FooterMagic),
        prop_oneof![Just(0x184D_2A50u32), any::<u32>()].prop_map(TableEdit::FrameHeaderMagic),
        claimed().prop_map(TableEdit::FrameHeaderSize),
        (any::<usize>(), claimed()).prop_map(|(i, v)| TableEdit::Compressed(i, v)),
        (any::<usize>(), claimed()).prop_map(|(i, v)| TableEdit::Decompressed(i, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| TableEdit::Byte(at, b)),
        any::<usize>().prop_map(TableEdit::Cut),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(TableEdit::Append),
    ]
}

/// `zst` with `edit` applied; table offsets are those of the unedited archive, and a write
/// past the end of a shortened archive is dropped.
fn apply_table_edit(zst: &mut Vec<u8>, edit: &TableEdit) {
    let footer = base().zst.len() - 9;
    let frames = u32::from_le_bytes(base().zst[footer..footer + 4].try_into().unwrap()) as usize;
    let table = footer - frames * 8 - 8;
    let (at, bytes) = match edit {
        TableEdit::Count(v) => (footer, v.to_le_bytes().to_vec()),
        TableEdit::Descriptor(v) => (footer + 4, vec![*v]),
        TableEdit::FooterMagic(v) => (footer + 5, v.to_le_bytes().to_vec()),
        TableEdit::FrameHeaderMagic(v) => (table, v.to_le_bytes().to_vec()),
        TableEdit::FrameHeaderSize(v) => (table + 4, v.to_le_bytes().to_vec()),
        TableEdit::Compressed(i, v) => (table + 8 + i % frames * 8, v.to_le_bytes().to_vec()),
        TableEdit::Decompressed(i, v) => (table + 12 + i % frames * 8, v.to_le_bytes().to_vec()),
        TableEdit::Byte(at, v) => (at % footer, vec![*v]),
        TableEdit::Cut(n) => return zst.truncate(zst.len() - n % zst.len()),
        TableEdit::Append(more) => return zst.extend_from_slice(more),
    };
    if let Some(slot) = zst.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_tar_stream_with_edited_headers_is_read_or_refused_cleanly(
        edits in prop::collection::vec((any::<usize>(), header_edit(), any::<bool>()), 1..4),
    ) {
        let base = base();
        let mut tar = base.tar.clone();
        for (which, edit, reseal) in &edits {
            let at = base.headers[which % base.headers.len()];
            let h: &mut [u8; BLOCK] = (&mut tar[at..at + BLOCK]).try_into().unwrap();
            match edit {
                HeaderEdit::Type(flag) => h[156] = *flag,
                HeaderEdit::Size(Size::Octal(n)) => h[124..136].copy_from_slice(format!("{n:011o}\0").as_bytes()),
                HeaderEdit::Size(Size::Base256(n)) => set_size_base256(h, *n),
                HeaderEdit::Byte(i, b) => h[*i] = *b,
            }
            if *reseal {
                seal(h);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("t.tar");
        std::fs::write(&plain, &tar).unwrap();
        let zst = dir.path().join("t.tar.zst");
        std::fs::write(&zst, seekable(&tar, 1024)).unwrap();
        let [streamed, _] = read_both_ways(&plain, &base.bom, &small_limits());
        for result in [streamed].into_iter().chain(read_both_ways(&zst, &base.bom, &small_limits())) {
            if let Err(e) = result {
                prop_assert!(refused_cleanly(&e), "{}", e);
            }
        }
    }

    #[test]
    fn a_seekable_archive_with_an_edited_seek_table_is_refused_before_allocating_what_it_claims(
        edits in prop::collection::vec(table_edit(), 1..4),
    ) {
        let base = base();
        let mut zst = base.zst.clone();
        for edit in &edits {
            apply_table_edit(&mut zst, edit);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tar.zst");
        std::fs::write(&path, &zst).unwrap();
        let limits = small_limits();
        match SeekTable::read_from(&File::open(&path).unwrap().into(), &limits) {
            Ok(table) => within_limits(&table, &limits)?,
            Err(e) => prop_assert!(refused_cleanly(&e), "{}", e),
        }
        for result in read_both_ways(&path, &base.bom, &limits) {
            if let Err(e) = result {
                prop_assert!(refused_cleanly(&e), "{}", e);
            }
        }
    }

    /// Edits of a small archive's table mostly break its tiling, which refuses them first.
    /// Here the frames tile a sparse file as large as they claim, so what must refuse a
    /// forged size is the check of the frame count, of each frame's bounds or of the
    /// totals, each before a buffer is sized from it.
    #[test]
    fn a_forged_seek_table_that_tiles_its_archive_is_refused_before_allocating_what_it_claims(
        frames in prop::collection::vec(forged_entry(), 1..100),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::rejections::forged_archive(dir.path(), &frames);
        let limits = small_limits();
        match SeekTable::read_from(&File::open(&path).unwrap().into(), &limits) {
            Ok(table) => within_limits(&table, &limits)?,
            Err(e) => prop_assert!(refused_cleanly(&e) && !matches!(e, BundleError::Truncated { .. }), "{}", e),
        }
        for result in read_both_ways(&path, &base().bom, &limits) {
            if let Err(e) = result {
                prop_assert!(refused_cleanly(&e), "{}", e);
            }
        }
    }
}

/// Every buffer a reader sizes from a seek table is a frame's compressed or decompressed
/// size, or the table itself: an accepted table keeps all three within the limits.
fn within_limits(table: &SeekTable, limits: &Limits) -> Result<(), TestCaseError> {
    prop_assert!(table.frames.len() as u64 <= max_frames(limits));
    for f in &table.frames {
        prop_assert!(f.compressed > 0 && u64::from(f.compressed) <= compress_bound(f.decompressed), "{:?}", f);
        prop_assert!(u64::from(f.compressed) <= max_compressed_frame(), "{:?}", f);
        prop_assert!(f.decompressed <= MAX_FRAME_SIZE, "{:?}", f);
    }
    prop_assert!(table.decompressed_len() <= limits.max_total_size);
    Ok(())
}

/// A frame a forged table claims: any two [`claimed`] sizes, or a compressed size at and
/// around the most zstd writes for the decompressed one.
fn forged_entry() -> impl Strategy<Value = FrameEntry> {
    let at_bound = (claimed(), -2i64..=2).prop_map(|(decompressed, off)| {
        let compressed = (compress_bound(decompressed) as i64 + off).clamp(0, i64::from(u32::MAX)) as u32;
        FrameEntry { compressed, decompressed }
    });
    prop_oneof![
        (claimed(), claimed()).prop_map(|(compressed, decompressed)| FrameEntry { compressed, decompressed }),
        at_bound,
    ]
}

// ---------------------------------------------------------------- BOM

/// One OCI blob of a generated BOM: its content, and whether its name is that content's
/// digest (or another's).
fn blob() -> impl Strategy<Value = (Vec<u8>, bool)> {
    (prop::collection::vec(any::<u8>(), 0..32), prop::sample::select(vec![true, true, true, false]))
}

/// A BOM as the builder writes it, except that its blobs may be misnamed and its sizes
/// huge: files in canonical order, manifests pointing at some of them.
fn generated_bom() -> impl Strategy<Value = Bom> {
    let sizes = prop_oneof![0..1_000_000u64, Just(u64::MAX), Just(u64::MAX / 2 + 1), any::<u64>()];
    (
        "[a-z][a-z0-9-]{0,15}",
        "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
        prop::collection::btree_map("(d[0-3]/)?f[0-9]{1,2}\\.yaml", (sizes, any::<[u8; 32]>()), 0..6),
        prop::collection::vec(blob(), 0..4),
    )
        .prop_map(|(name, version, files, blobs)| {
            let mut all: BTreeMap<String, FileEntry> = files
                .into_iter()
                .map(|(path, (size, digest))| {
                    let entry = FileEntry {
                        path: path.parse().unwrap(),
                        size,
                        sha256: genesis_types::Digest::from_sha256_bytes(digest),
                    };
                    (path, entry)
                })
                .collect();
            for (content, honest) in blobs {
                let name =
                    if honest { sha256(&content) } else { sha256(&[content.as_slice(), b"!".as_slice()].concat()) };
                let path = format!("oci/{}", name.blob_path());
                let entry =
                    FileEntry { path: path.parse().unwrap(), size: content.len() as u64, sha256: sha256(&content) };
                all.insert(path, entry);
            }
            let manifests = all
                .values()
                .filter(|f| f.path.as_str().ends_with(".yaml"))
                .step_by(2)
                .map(|f| ManifestEntry { path: f.path.clone() })
                .collect();
            Bom {
                schema: BOM_SCHEMA.into(),
                name,
                version,
                created: genesis_bundle::rfc3339(1_735_689_600),
                expires: None,
                files: all.into_values().collect(),
                images: vec![],
                charts: vec![],
                manifests,
                sboms: vec![],
                scan: None,
                requires: None,
            }
        })
}

/// Whether the BOM keeps the promises the parser makes: blobs named by their digests and
/// sizes that add up.
fn consistent(bom: &Bom) -> bool {
    let named = bom.files.iter().all(|f| match f.path.as_str().strip_prefix("oci/blobs/sha256/") {
        Some(hex) => f.sha256.hex() == hex,
        None => true,
    });
    named && bom.files.iter().try_fold(0u64, |total, f| total.checked_add(f.size)).is_some()
}

/// What a forger would put in a BOM's fields beyond the testkit's JSON values: paths that
/// escape or name the head, blob paths and digests of the wrong form, another schema, and
/// nesting deeper than the parser goes.
fn forged_bom_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "../etc/passwd",
            "/etc/passwd",
            "bom.json",
            "a//b",
            "\u{0}",
            "oci/blobs/sha256/00",
            "oci/blobs/sha1/0000000000000000000000000000000000000000",
            "sha256:00",
            "sha512:",
            "genesis.dev/bom/v2",
        ])
        .prop_map(Value::from),
        Just((0..300).fold(json!(0), |v, _| json!([v]))),
    ]
}

/// One edit of the BOM's JSON: the testkit's edits, a node replaced by a forged BOM value,
/// or a member the schema does not know added.
fn bom_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        edit(),
        (any::<prop::sample::Index>(), forged_bom_value()).prop_map(|(at, value)| Edit::Replace(at, value)),
        addition(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_bom_is_accepted_exactly_when_its_blobs_are_named_by_their_digests_and_its_sizes_add_up(bom in generated_bom()) {
        let parsed = Bom::parse(&bom.to_bytes(), &Limits::default());
        if consistent(&bom) {
            prop_assert_eq!(parsed.ok(), Some(bom));
        } else {
            prop_assert!(matches!(parsed, Err(BundleError::BomInvalid(_))), "{:?}", parsed);
        }
    }

    #[test]
    fn an_edited_bom_is_parsed_into_a_consistent_bom_or_refused_cleanly(
        bom in generated_bom(),
        edits in prop::collection::vec(bom_edit(), 1..4),
        // Half the documents keep their syntax, so the edits reach validation.
        damage in prop::option::weighted(0.5, damage()),
    ) {
        let mut doc = serde_json::to_value(&bom).unwrap();
        for edit in &edits {
            edit.apply(&mut doc);
        }
        let mut text = serde_json::to_vec_pretty(&doc).unwrap();
        if let Some(damage) = &damage {
            damage.apply(&mut text);
        }
        match Bom::parse(&text, &Limits::default()) {
            Ok(parsed) => {
                prop_assert!(consistent(&parsed));
                prop_assert!(parsed.validate().is_ok());
                // Sums the sizes: a panic here is an overflow validation let through.
                let _total = parsed.payload_size();
                prop_assert_eq!(Bom::parse(&parsed.to_bytes(), &Limits::default()).ok(), Some(parsed));
            }
            Err(e) => prop_assert!(
                matches!(e, BundleError::BomMalformed(_) | BundleError::BomInvalid(_)),
                "{}", e
            ),
        }
        // The size limit is checked before a byte is parsed.
        if !text.is_empty() {
            let tight = Limits { max_bom_size: text.len() as u64 - 1, ..Limits::default() };
            let refused = Bom::parse(&text, &tight);
            prop_assert!(matches!(refused, Err(BundleError::LimitExceeded { what: "bom.json size", .. })), "{:?}", refused);
        }
    }
}
