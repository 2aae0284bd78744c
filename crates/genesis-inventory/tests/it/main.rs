//! genesis-inventory's integration tests: image layers built here with the `tar` crate (plain,
//! gzip and zstd), read through the public [`inventory`] entry point.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod hostile;
mod overlay;
mod purls;

use std::io::Write;

use genesis_inventory::{Inventory, InventoryError, Layer, inventory};

/// Debian 12's os-release, as `usr/lib/os-release` holds it.
const DEBIAN_OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// Alpine 3.18.4's os-release.
const ALPINE_OS_RELEASE: &[u8] =
    b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME=\"Alpine Linux v3.18\"\n";

/// Five stanzas of a real Debian 12 dpkg status file (tests/data/README.md).
const DPKG_STATUS: &[u8] = include_bytes!("../data/dpkg-status");

/// The purls of [`DPKG_STATUS`] on Debian 12, in the inventory's order (by name).
const DPKG_PURLS: [&str; 5] = [
    "pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64&distro=debian-12",
    "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2",
    "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3",
    "pkg:deb/debian/libssl3@3.0.22-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
    "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12",
];

/// A hand-written apk installed database of three packages (tests/data/README.md).
const APK_INSTALLED: &[u8] = include_bytes!("../data/apk-installed");

/// The purls of [`APK_INSTALLED`] on Alpine 3.18.4, in the inventory's order.
const APK_PURLS: [&str; 3] = [
    "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.18.4",
    "pkg:apk/alpine/libcrypto3@3.1.3-r0?arch=x86_64&distro=alpine-3.18.4&upstream=openssl",
    "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4",
];

/// The digests of an image's lower and upper layers.
const BASE: &str = "sha256:base";
const UPPER: &str = "sha256:upper";

/// A dpkg status of one package, to tell an upper layer's database from the base's.
const ZLIB_STATUS: &[u8] =
    b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n";
const ZLIB_PURL: &str = "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib";

/// A Debian 12 base layer: os-release (linked from `etc/` as Debian ships it), the real
/// status file and three copyright files.
fn debian_base() -> Vec<u8> {
    layer(&[
        Entry::Dir("usr/lib"),
        Entry::File("usr/lib/os-release", DEBIAN_OS_RELEASE),
        Entry::Dir("etc"),
        Entry::Symlink("etc/os-release", "../usr/lib/os-release"),
        Entry::Dir("var/lib/dpkg"),
        Entry::File("var/lib/dpkg/status", DPKG_STATUS),
        Entry::File("usr/share/doc/libssl3/copyright", include_bytes!("../data/copyright-libssl3")),
        Entry::File("usr/share/doc/tzdata/copyright", include_bytes!("../data/copyright-tzdata")),
        Entry::File("usr/share/doc/base-files/copyright", include_bytes!("../data/copyright-base-files")),
    ])
}

/// One entry of a test layer.
#[derive(Debug, Clone, Copy)]
enum Entry<'a> {
    /// A regular file, mode 0644.
    File(&'a str, &'a [u8]),
    /// A regular file, mode 0755.
    Executable(&'a str, &'a [u8]),
    /// A directory.
    Dir(&'a str),
    /// A symbolic link and its target.
    Symlink(&'a str, &'a str),
    /// A hard link and the earlier entry it names.
    HardLink(&'a str, &'a str),
}

/// An uncompressed tar layer of these entries, in this order.
fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, entries);
    builder.into_inner().unwrap()
}

/// Appends the entries to a tar being written (to memory, or through a compressor).
fn append<W: Write>(builder: &mut tar::Builder<W>, entries: &[Entry<'_>]) {
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        match *entry {
            Entry::File(path, data) | Entry::Executable(path, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if matches!(entry, Entry::Executable(..)) { 0o755 } else { 0o644 });
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data).unwrap();
            }
            Entry::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                builder.append_data(&mut header, path, std::io::empty()).unwrap();
            }
            Entry::Symlink(path, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Entry::HardLink(path, target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                builder.append_link(&mut header, path, target).unwrap();
            }
        }
    }
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd_compressed(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

/// The inventory of an image of these layers (digest, blob), bottom first.
fn try_inventory(layers: &[(&str, Vec<u8>)]) -> Result<Inventory, InventoryError> {
    inventory(layers.iter().map(|(digest, blob)| Layer { digest: (*digest).to_owned(), reader: blob.as_slice() }))
}

/// As [`try_inventory`], for an image that must read.
fn inventory_of(layers: &[(&str, Vec<u8>)]) -> Inventory {
    try_inventory(layers).unwrap()
}

/// The purls found, in the inventory's order.
fn purls(inventory: &Inventory) -> Vec<&str> {
    inventory.packages.iter().map(|package| package.purl.as_str()).collect()
}

/// A tar entry written header by header, for paths and sizes the `tar` crate's builder
/// refuses: `name` goes into the header as it is.
fn raw_entry(name: &[u8], entry_type: tar::EntryType, declared_size: u64, data: &[u8]) -> Vec<u8> {
    let mut bytes = raw_header(name, entry_type, b"", declared_size);
    bytes.extend_from_slice(data);
    bytes.resize(bytes.len().next_multiple_of(512), 0);
    bytes
}

/// A link entry written as [`raw_entry`] writes a file: `name` and `target` as they are.
fn raw_link(name: &[u8], entry_type: tar::EntryType, target: &[u8]) -> Vec<u8> {
    raw_header(name, entry_type, target, 0)
}

fn raw_header(name: &[u8], entry_type: tar::EntryType, target: &[u8], declared_size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().linkname[..target.len()].copy_from_slice(target);
    header.set_entry_type(entry_type);
    header.set_mode(0o644);
    header.set_size(declared_size);
    header.set_cksum();
    header.as_bytes().to_vec()
}
