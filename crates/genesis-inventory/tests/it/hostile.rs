//! Layers from anywhere: paths that climb out of the root, whiteouts that name nothing, sizes
//! that lie, streams cut short, bytes that are no layer at all, broken metadata. Each gives a
//! note or a clear error naming the layer, never a panic.

use std::io::Read;

use genesis_inventory::InventoryError;
use tar::EntryType;

use crate::Entry::{Dir, File};
use crate::{
    ALPINE_OS_RELEASE, APK_INSTALLED, APK_PURLS, BASE, DEBIAN_OS_RELEASE, DPKG_PURLS, DPKG_STATUS, UPPER, ZLIB_PURL,
    ZLIB_STATUS, append, debian_base, gzipped, inventory_of, layer, purls, raw_entry, raw_link, try_inventory,
    zstd_compressed,
};

/// The two zero blocks that end a tar archive.
const END: [u8; 1024] = [0; 1024];

fn assert_layer_error(result: Result<genesis_inventory::Inventory, InventoryError>, case: &str) {
    let error = result.expect_err(case);
    assert!(
        matches!(&error, InventoryError::Layer { layer, .. } | InventoryError::Read { layer, .. } if layer == BASE),
        "{case}: {error:?}"
    );
    assert!(error.to_string().contains(BASE), "{case}: {error}");
}

/// Both runtimes keep a layer inside the root: containerd clamps a name that climbs out of it,
/// and moby unpacks inside a chroot of it, where `../x` is `/x`. So such names are read at the
/// root, as both write them, whiteouts too.
#[test]
fn an_entry_path_climbing_out_of_the_root_is_read_at_the_root() {
    let base = [
        raw_entry(b"../var/lib/dpkg/status", EntryType::Regular, ZLIB_STATUS.len() as u64, ZLIB_STATUS),
        raw_entry(b"etc/../../etc/os-release", EntryType::Regular, DEBIAN_OS_RELEASE.len() as u64, DEBIAN_OS_RELEASE),
        raw_entry(b"/../../lib/apk/db/installed", EntryType::Regular, APK_INSTALLED.len() as u64, APK_INSTALLED),
        END.to_vec(),
    ]
    .concat();
    let found = inventory_of(&[(BASE, base.clone())]);
    assert_eq!(found.distro.map(|distro| distro.id).as_deref(), Some("debian"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);
    let at: Vec<&str> = found.packages.iter().map(|package| package.found_in.as_str()).collect();
    assert!(at.contains(&"var/lib/dpkg/status") && at.contains(&"lib/apk/db/installed"), "{at:?}");

    let upper = [
        raw_entry(b"var/lib/dpkg/status.d/../../../../../lib/apk/db/.wh.installed", EntryType::Regular, 0, b""),
        END.to_vec(),
    ]
    .concat();
    let found = inventory_of(&[(BASE, base), (UPPER, upper)]);
    assert_eq!(purls(&found), [ZLIB_PURL], "the whiteout deletes the clamped path");
    assert!(found.notes.is_empty(), "{:?}", found.notes);
}

#[test]
fn leading_slashes_and_dot_slashes_name_the_same_files() {
    let blob = [
        raw_entry(b"./etc/os-release", EntryType::Regular, DEBIAN_OS_RELEASE.len() as u64, DEBIAN_OS_RELEASE),
        raw_entry(b"/var//lib/./dpkg/status", EntryType::Regular, ZLIB_STATUS.len() as u64, ZLIB_STATUS),
        END.to_vec(),
    ]
    .concat();
    let found = inventory_of(&[(BASE, blob)]);
    assert_eq!(purls(&found), [ZLIB_PURL]);
    assert_eq!(found.packages[0].found_in, "var/lib/dpkg/status");
}

#[test]
fn a_path_that_is_not_utf8_is_passed_over() {
    let blob = [
        raw_entry(b"var/lib/dpkg/\xff\xfe", EntryType::Regular, 3, b"abc"),
        raw_entry(b"etc/os-release", EntryType::Regular, DEBIAN_OS_RELEASE.len() as u64, DEBIAN_OS_RELEASE),
        raw_entry(b"var/lib/dpkg/status", EntryType::Regular, ZLIB_STATUS.len() as u64, ZLIB_STATUS),
        END.to_vec(),
    ]
    .concat();
    let found = inventory_of(&[(BASE, blob)]);
    assert_eq!(purls(&found), [ZLIB_PURL]);
    assert!(found.notes.is_empty(), "{:?}", found.notes);
}

/// Names are cleaned as bytes, as Go cleans them, so one whose `..` takes away what is not
/// UTF-8 is read where runtimes write it. Every path kept is UTF-8, so a link whose name is
/// not, a whiteout, and a file of interest under such a link cannot be placed: each is a
/// note (here the link `\xff` makes `\xff/status` dpkg's status in every runtime), never
/// passed over.
#[test]
fn names_that_are_not_utf8_are_cleaned_as_bytes_and_links_whiteouts_and_files_of_interest_are_notes() {
    let blob = [
        raw_entry(b"etc/os-release", EntryType::Regular, DEBIAN_OS_RELEASE.len() as u64, DEBIAN_OS_RELEASE),
        raw_link(b"\xff", EntryType::Symlink, b"/var/lib/dpkg"),
        raw_entry(b"\xff/status", EntryType::Regular, ZLIB_STATUS.len() as u64, ZLIB_STATUS),
        raw_entry(b"\xff/../var/lib/dpkg/status", EntryType::Regular, DPKG_STATUS.len() as u64, DPKG_STATUS),
        raw_entry(b"opt/.wh.\xff", EntryType::Regular, 0, b""),
        END.to_vec(),
    ]
    .concat();
    let found = inventory_of(&[(BASE, blob)]);
    assert_eq!(purls(&found), DPKG_PURLS);
    assert!(found.packages.iter().all(|package| package.found_in == "var/lib/dpkg/status"));
    assert_eq!(
        found.notes,
        [
            format!(
                "layer {BASE}: entry \"\u{fffd}\" is skipped: a link whose name is not UTF-8, which the inventory \
                 cannot keep or follow"
            ),
            format!(
                "layer {BASE}: entry \"\u{fffd}/status\" is skipped: a file the inventory reads, whose name is not \
                 UTF-8, so it is not read"
            ),
            format!(
                "layer {BASE}: entry \"opt/.wh.\u{fffd}\" is skipped: a whiteout whose name is not UTF-8, which the \
                 inventory cannot apply"
            ),
        ]
    );
}

/// No runtime creates a name longer than `PATH_MAX` (4096 bytes), nor a link to a longer
/// target (`ENAMETOOLONG`): such an entry is a note and is not resolved (a megabyte name
/// `a/a/a…` would cost its length for each of its components), and the note stays short.
#[test]
fn a_name_or_link_target_longer_than_path_max_is_a_short_note() {
    let name = format!("{}status", "a/".repeat(512 << 10));
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(ZLIB_STATUS.len() as u64);
    builder.append_data(&mut header, &name, ZLIB_STATUS).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Symlink);
    header.set_mode(0o777);
    header.set_size(0);
    builder.append_link(&mut header, "var/lib/dpkg", "t/".repeat(2_100)).unwrap();
    append(&mut builder, &[File("etc/os-release", DEBIAN_OS_RELEASE), File("var/lib/dpkg/status", ZLIB_STATUS)]);
    let found = inventory_of(&[(BASE, builder.into_inner().unwrap())]);
    assert_eq!(purls(&found), [ZLIB_PURL], "the link is not kept, so the status is where its name says");
    assert_eq!(found.notes.len(), 2, "{:?}", found.notes);
    assert!(
        found.notes[0].contains(&format!(
            "… ({} bytes)\" is skipped: its name is longer than 4096 bytes (PATH_MAX), which container runtimes \
             cannot create",
            name.len()
        )),
        "{}",
        found.notes[0]
    );
    assert!(
        found.notes[1].ends_with(
            "entry \"var/lib/dpkg\" is skipped: its link target is longer than 4096 bytes (PATH_MAX), which \
             container runtimes cannot create"
        ),
        "{}",
        found.notes[1]
    );
    assert!(found.notes.iter().all(|note| note.len() < 1_000));
}

/// A whiteout that names no file of its directory (`.wh.`, `.wh..`, `.wh...`) is refused by
/// containerd (`validateWhiteout`): the layer is unreadable, and the error names the entry.
#[test]
fn whiteout_names_made_of_dots_make_the_layer_unreadable() {
    for name in ["var/lib/dpkg/.wh.", "var/lib/dpkg/.wh..", "var/lib/dpkg/.wh...", ".wh."] {
        let upper = layer(&[File(name, b"")]);
        let error = try_inventory(&[(BASE, debian_base()), (UPPER, upper)]).expect_err(name);
        assert!(matches!(&error, InventoryError::Layer { layer, .. } if layer == UPPER), "{name}: {error:?}");
        assert!(error.to_string().contains(&format!("{name:?}")), "{name}: {error}");
    }
    let ordinary = layer(&[File("var/lib/dpkg/.wh.status-old", b""), File("var/lib/dpkg/.wh..wh.aufs", b"")]);
    assert_eq!(purls(&inventory_of(&[(BASE, debian_base()), (UPPER, ordinary)])), DPKG_PURLS);
}

#[test]
fn a_size_the_layer_does_not_hold_is_a_clear_error_for_the_layer() {
    let cases: [(&[u8], u64); 3] =
        [(b"var/lib/dpkg/status", 1 << 40), (b"usr/share/big.bin", 1 << 40), (b"var/lib/dpkg/status", 4096)];
    for (name, size) in cases {
        let plain = raw_entry(name, EntryType::Regular, size, ZLIB_STATUS);
        assert_layer_error(try_inventory(&[(BASE, plain.clone())]), "plain");
        assert_layer_error(try_inventory(&[(BASE, gzipped(&plain))]), "gzip");
        assert_layer_error(try_inventory(&[(BASE, zstd_compressed(&plain))]), "zstd");
    }
}

#[test]
fn a_file_of_interest_over_the_size_limit_is_noted_and_the_rest_read() {
    const LIMIT: u64 = 64 << 20;
    let mut builder = tar::Builder::new(zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(LIMIT + 1);
    builder.append_data(&mut header, "var/lib/dpkg/status", std::io::repeat(b'\n').take(LIMIT + 1)).unwrap();
    append(&mut builder, &[File("etc/os-release", DEBIAN_OS_RELEASE)]);
    let blob = builder.into_inner().unwrap().finish().unwrap();

    let found = inventory_of(&[(BASE, blob)]);
    assert!(found.packages.is_empty());
    assert_eq!(found.distro.map(|distro| distro.id).as_deref(), Some("debian"), "the entry after it is read");
    assert_eq!(
        found.notes,
        ["var/lib/dpkg/status holds 67108865 bytes, over the 67108864-byte limit of one file: not inventoried"]
    );
}

#[test]
fn a_truncated_layer_is_a_clear_error_wherever_it_is_cut() {
    let plain = debian_base();
    let gzip = gzipped(&plain);
    for cut in [gzip.len() - 1, gzip.len() - 8, gzip.len() * 2 / 3, gzip.len() / 2, 30, 11] {
        assert_layer_error(try_inventory(&[(BASE, gzip[..cut].to_vec())]), &format!("gzip cut at {cut}"));
    }
    let zstd = zstd_compressed(&plain);
    for cut in [zstd.len() - 1, zstd.len() / 2, 30, 5] {
        assert_layer_error(try_inventory(&[(BASE, zstd[..cut].to_vec())]), &format!("zstd cut at {cut}"));
    }
    for cut in [plain.len() / 2 + 100, 700, 100] {
        assert_layer_error(try_inventory(&[(BASE, plain[..cut].to_vec())]), &format!("tar cut at {cut}"));
    }
}

#[test]
fn bytes_that_are_no_layer_are_a_clear_error() {
    let mut bad_checksum = layer(&[File("etc/os-release", DEBIAN_OS_RELEASE)]);
    bad_checksum[0] ^= 1;
    let mut corrupt_gzip = gzipped(&debian_base());
    corrupt_gzip[20..40].fill(0xff);
    for (case, blob) in [
        ("text", b"hello, world".to_vec()),
        ("gzip magic alone", vec![0x1f, 0x8b, 0x08, 0x00]),
        ("zstd magic and noise", vec![0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8]),
        ("header checksum", bad_checksum),
        ("corrupt deflate data", corrupt_gzip),
    ] {
        assert_layer_error(try_inventory(&[(BASE, blob)]), case);
    }
}

#[test]
fn an_empty_layer_holds_nothing() {
    let found = inventory_of(&[(BASE, Vec::new()), ("sha256:end-only", END.to_vec())]);
    assert!(found.packages.is_empty() && found.notes.is_empty() && found.distro.is_none());
}

#[test]
fn a_malformed_database_is_a_note_and_the_rest_of_the_image_is_still_inventoried() {
    let base = layer(&[
        File("etc/os-release", ALPINE_OS_RELEASE),
        File("var/lib/dpkg/status", b"Package: a\nno field on this line\n"),
        Dir("lib/apk/db"),
        File("lib/apk/db/installed", APK_INSTALLED),
    ]);
    let found = inventory_of(&[(BASE, base)]);
    assert_eq!(purls(&found), APK_PURLS);
    assert_eq!(
        found.notes,
        ["var/lib/dpkg/status: malformed package metadata: stanza 1: line \"no field on this line\" is not a field; \
             its packages are not inventoried"]
    );
}

#[test]
fn data_after_the_end_of_the_archive_is_read_up_to_a_limit_and_noted_beyond() {
    let padded = [debian_base(), vec![0; 9 * 1024]].concat();
    assert!(inventory_of(&[(BASE, gzipped(&padded))]).notes.is_empty());

    let junk = [debian_base(), vec![0x55; 2 << 20]].concat();
    let found = inventory_of(&[(BASE, junk)]);
    assert_eq!(purls(&found), DPKG_PURLS);
    assert_eq!(
        found.notes,
        ["layer sha256:base: more than 1048576 bytes follow the end of its tar archive; they are not read"]
    );
}

#[test]
fn status_files_of_every_shape_give_packages_or_notes_never_a_panic() {
    let mut shapes: Vec<Vec<u8>> =
        vec![Vec::new(), b"\n\n\n".to_vec(), vec![0xff; 4096], DPKG_STATUS[..DPKG_STATUS.len() / 2].to_vec()];
    shapes.extend((0..DPKG_STATUS.len()).step_by(97).map(|cut| DPKG_STATUS[cut..].to_vec()));
    for shape in shapes {
        let blob = layer(&[
            File("etc/os-release", DEBIAN_OS_RELEASE),
            File("var/lib/dpkg/status", &shape),
            File("lib/apk/db/installed", &shape),
        ]);
        let found = inventory_of(&[(BASE, blob)]);
        assert!(found.packages.len() <= DPKG_PURLS.len() * 2, "{:?}", purls(&found));
    }
}

/// One tar entry whose header `edit` changes after it is made (checksum recomputed).
fn edited_entry(name: &[u8], entry_type: EntryType, data: &[u8], edit: impl Fn(&mut [u8; 512])) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(entry_type);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    edit(header.as_mut_bytes());
    header.set_cksum();
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(data);
    bytes.resize(bytes.len().next_multiple_of(512), 0);
    bytes
}

/// Headers that Go's `archive/tar` (what containerd and moby unpack layers with) reads as
/// `var/lib/dpkg/status` while the `tar` crate reads another name: each would hide the
/// database from the inventory and not from the runtime, so the layer is refused whole.
#[test]
fn headers_container_runtimes_read_as_another_file_make_the_layer_unreadable() {
    // A ustar magic with version "\0\0": Go prepends the prefix, the tar crate does not.
    let prefixed = edited_entry(b"status", EntryType::Regular, ZLIB_STATUS, |h| {
        h[345..357].copy_from_slice(b"var/lib/dpkg");
        h[263..265].copy_from_slice(b"\0\0");
    });
    // A PAX header in a pre-POSIX (V7) block: Go applies its path to the next entry.
    let record = b"28 path=var/lib/dpkg/status\n";
    let v7 = |h: &mut [u8; 512]| h[257..265].fill(0);
    let pax_in_v7 = [
        edited_entry(b"pax", EntryType::XHeader, record, v7),
        edited_entry(b"junk", EntryType::Regular, ZLIB_STATUS, v7),
    ]
    .concat();
    // A PAX 1.0 sparse file: Go names it by GNU.sparse.name.
    let sparse_record = b"39 GNU.sparse.name=var/lib/dpkg/status\n";
    let sparse = [
        edited_entry(b"pax", EntryType::XHeader, sparse_record, |_| {}),
        edited_entry(b"GNUSparseFile.0/status", EntryType::Regular, ZLIB_STATUS, |_| {}),
    ]
    .concat();
    for (case, entries) in [("ustar version", prefixed), ("PAX in a V7 block", pax_in_v7), ("PAX sparse", sparse)] {
        let blob = [entries, END.to_vec()].concat();
        assert_layer_error(try_inventory(&[(BASE, blob)]), case);
    }
    // The same database under a plain ustar header is read.
    let plain = [edited_entry(b"var/lib/dpkg/status", EntryType::Regular, ZLIB_STATUS, |_| {}), END.to_vec()].concat();
    assert!(try_inventory(&[(BASE, plain)]).is_ok());
}

/// A package database replaced by a symbolic link is not followed, and says so: the image
/// is not passed as if it had no packages.
#[test]
fn a_package_database_that_is_a_symbolic_link_is_a_note() {
    let mut header = tar::Header::new_ustar();
    header.set_path("var/lib/dpkg/status").unwrap();
    header.set_entry_type(EntryType::Symlink);
    header.set_link_name("../../../opt/elsewhere/status").unwrap();
    header.set_size(0);
    header.set_mode(0o777);
    header.set_cksum();
    let blob = [header.as_bytes().to_vec(), END.to_vec()].concat();
    let found = inventory_of(&[(BASE, blob)]);
    assert!(found.packages.is_empty());
    assert_eq!(
        found.notes,
        ["var/lib/dpkg/status is a symbolic link to ../../../opt/elsewhere/status: a package database is read only \
          as a file, so not inventoried"]
    );
}

/// The rpmdb is read as its main file holds it: a write-ahead log with content beside it is
/// noted (packages only there are not inventoried); an empty one is nothing.
#[test]
fn a_non_empty_rpmdb_write_ahead_log_is_a_note() {
    let wal = |data: &[u8]| {
        let bytes = raw_entry(b"var/lib/rpm/rpmdb.sqlite-wal", EntryType::Regular, data.len() as u64, data);
        [bytes, END.to_vec()].concat()
    };
    let found = inventory_of(&[(BASE, wal(b"WAL frames"))]);
    assert_eq!(
        found.notes,
        ["var/lib/rpm/rpmdb.sqlite-wal: the rpm database's write-ahead log is not read, so packages recorded only \
          there are not inventoried"]
    );
    assert!(inventory_of(&[(BASE, wal(b""))]).notes.is_empty());
}
