//! The packages installed in a container image, read from its layers in our own code, so a
//! bundle's SBOM lists what a vulnerability scanner can match (issue 17) without shelling
//! out to syft.
//!
//! [`inventory`] applies an image's layers in order, whiteouts honoured (the OCI image
//! spec's `layer.md`), reading each layer once as a stream and keeping only the files that
//! say what is installed:
//!
//! - the distribution, from `etc/os-release` (or `usr/lib/os-release`), which names the
//!   purls of its packages (`distro=debian-12`);
//! - Debian and Ubuntu: dpkg's `var/lib/dpkg/status`, distroless's `var/lib/dpkg/status.d/`,
//!   and licences from machine-readable `usr/share/doc/<package>/copyright` files;
//! - Alpine and Wolfi: `lib/apk/db/installed`;
//! - RPM distributions: the SQLite rpmdb (`var/lib/rpm/rpmdb.sqlite`,
//!   `usr/lib/sysimage/rpm/rpmdb.sqlite`);
//! - Python (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`) and npm
//!   (`node_modules/**/package.json`) packages;
//! - Go modules from a Go binary's build info, and Rust crates from a binary built with
//!   cargo-auditable: every executable ELF file is looked at.
//!
//! What it does not read it says, a sentence each in [`Inventory::notes`], never silently:
//! RPM's BerkeleyDB and NDB databases, files over the size limit, metadata that does not
//! parse, a binary whose build info it cannot read. It does not guess from file names or
//! read package managers' caches.
//!
//! Symbolic links are followed as a container runtime and a package manager follow them: an
//! entry is written where the links its own layer wrote before it lead its directory, and a
//! package database or the os-release is read where the image's links lead from its path
//! (`var/lib/dpkg` linked to `/opt/d`, a usrmerged `lib`, `etc` linked elsewhere), so a
//! package is found at its real path. A link at a database's own path is not followed, and
//! one that cannot be resolved (a loop) is a note. Where container runtimes disagree, or
//! this crate cannot tell what they would do, the entry is skipped with a note, never a
//! silent choice: an entry written through a link an earlier layer wrote (overlayfs
//! snapshotters replace the link with a directory, the native snapshotter follows it), a
//! hard link to a file of an earlier layer, a link, whiteout or file of interest whose name
//! is not UTF-8, a name or link target longer than `PATH_MAX`.
//!
//! Input is hostile: sizes are capped, every file, link and note kept counts against one
//! memory budget, a `..` that climbs out of the root stays at the root (as container
//! runtimes keep it), and a malformed file becomes a note naming it. Only a layer that cannot
//! be read (broken compression or tar stream), that container runtimes would read otherwise
//! than this crate, or that takes what is kept past the budget fails the inventory, since
//! nothing after the break is known.
//!
//! ```
//! use genesis_inventory::{Layer, PackageKind, inventory};
//!
//! let os_release = "ID=debian\nVERSION_ID=\"12\"\n";
//! let status = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\
//!               Source: zlib\nVersion: 1:1.2.13.dfsg-1\n";
//! let mut tar = tar::Builder::new(Vec::new());
//! for (path, text) in [("etc/os-release", os_release), ("var/lib/dpkg/status", status)] {
//!     let mut header = tar::Header::new_gnu();
//!     header.set_size(text.len() as u64);
//!     header.set_mode(0o644);
//!     tar.append_data(&mut header, path, text.as_bytes())?;
//! }
//! let layer = tar.into_inner()?;
//!
//! let found = inventory([Layer { digest: "sha256:0a".into(), reader: layer.as_slice() }])?;
//! assert_eq!(found.distro.map(|distro| distro.id).as_deref(), Some("debian"));
//! assert_eq!(found.packages[0].kind, PackageKind::Deb);
//! assert_eq!(
//!     found.packages[0].purl,
//!     "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib",
//! );
//! assert!(found.notes.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apk;
mod binary;
mod dpkg;
mod error;
mod layers;
mod npm;
mod os_release;
mod package;
mod purl;
mod python;
mod rpm;

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

pub use error::InventoryError;
pub use package::{Distro, Package, PackageKind};
pub use purl::purl;
pub use python::pep503_name;

use layers::{Content, Database, Image, Overlay};
use package::FoundFile;

/// What an image holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// Its distribution, from os-release; `None` for an image without one (scratch, a static
    /// binary).
    pub distro: Option<Distro>,
    /// Every package found, sorted, each once.
    pub packages: Vec<Package>,
    /// What was seen but not inventoried, a sentence each: entries skipped in the order their
    /// layers met them, database paths that do not resolve, then files in path order.
    pub notes: Vec<String>,
}

/// One layer blob: its digest and its bytes (tar, gzip or zstd: detected from magic bytes).
#[derive(Debug)]
pub struct Layer<R> {
    /// The layer's digest (`sha256:…`), recorded in each package found in it.
    pub digest: String,
    /// The layer's bytes, read once to their end.
    pub reader: R,
}

/// The packages of the image whose layers, bottom first, these are.
///
/// # Errors
/// [`InventoryError::Layer`] or [`InventoryError::Read`] when a layer's compression or tar
/// stream is broken, when runtimes would read a layer otherwise, or when the image leaves
/// more than the inventory's memory budget; [`InventoryError::TempFile`] when an rpm database
/// cannot be handed to SQLite. Anything wrong with one file is a note of the result instead.
pub fn inventory<R: Read>(layers: impl IntoIterator<Item = Layer<R>>) -> Result<Inventory, InventoryError> {
    let mut overlay = Overlay::default();
    for layer in layers {
        overlay.apply(layer.digest, layer.reader)?;
    }
    let image = overlay.finish()?;
    let distro = image.os_release().map(os_release::parse);
    let Image { files, layers, mut notes, .. } = image;
    let mut packages = Vec::new();
    let mut licenses = BTreeMap::new();
    let mut has_database = false;
    for (path, file) in files {
        let layer = layers.get(file.layer).map_or("", String::as_str);
        let found = FoundFile { path: &path, layer, distro: distro.as_ref() };
        match file.content {
            Content::Database(database, bytes) => {
                has_database = true;
                match parse_database(database, &bytes, &found) {
                    Ok(parsed) => packages.extend(parsed),
                    Err(error) if error.fails_inventory() => return Err(error),
                    Err(error) => notes.push(error.to_string()),
                }
            }
            Content::Found { packages: parsed, notes: said } => {
                packages.extend(parsed);
                notes.extend(said);
            }
            Content::Licenses(names) => {
                if let Some(package) = dpkg::copyright_package(&path) {
                    licenses.insert(package.to_owned(), names);
                }
            }
            Content::NotRead(note) => notes.push(note),
            // A possible database is settled by `Overlay::finish`: none is left here.
            Content::OsRelease(_) | Content::Symlink(_) | Content::IfLinked(_) => {}
        }
    }
    if has_database && distro.is_none() {
        notes.push(
            "the image has package databases but no os-release file (etc/os-release, usr/lib/os-release): \
             their purls name no distribution release"
                .to_owned(),
        );
    }
    dpkg::attach_licenses(&mut packages, &licenses);
    packages.sort();
    packages.dedup();
    Ok(Inventory { distro, packages, notes })
}

fn parse_database(database: Database, bytes: &[u8], file: &FoundFile<'_>) -> Result<Vec<Package>, InventoryError> {
    match database {
        Database::Dpkg => dpkg::parse_status(bytes, file),
        Database::Apk => apk::parse_installed(bytes, file),
        Database::RpmSqlite => rpm::parse_sqlite(bytes, file),
    }
}
