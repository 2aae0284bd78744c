//! The dependency list cargo-auditable embeds in a Rust binary
//! (<https://github.com/rust-secure-code/cargo-auditable>): the ELF section `.dep-v0`, not
//! loaded, holding zlib-compressed JSON in the format its `auditable-serde` crate documents
//! (<https://docs.rs/auditable-serde>): `{"packages": [{"name", "version", "source", "kind",
//! "dependencies", "root"}, …]}`, where `kind` is `"build"` or `"runtime"` (and omitted when
//! runtime) and `source` is `"crates.io"`, `"git"`, `"local"` or `"registry"`.

use std::io::Read;

use flate2::read::ZlibDecoder;
use serde::Deserialize;

use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::purl;

/// The ELF section cargo-auditable writes.
pub(super) const SECTION: &[u8] = b".dep-v0";
/// The most bytes the section, and the JSON it decompresses to, may hold: a binary of a
/// thousand crates writes well under 100 KiB of JSON; a bigger one is a zip bomb.
pub(super) const CAP: u64 = 16 << 20;

/// The document, of which only the packages are read.
#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<AuditedPackage>,
}

#[derive(Deserialize)]
struct AuditedPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// The crates of a `.dep-v0` section's bytes, each `pkg:cargo/<name>@<version>`, the root
/// package (the binary's own crate) included. Build dependencies are left out: they ran on
/// the build machine (build scripts, procedural macros) and none of their code is in the
/// binary; cargo-auditable records a crate used both ways as `runtime`.
pub(super) fn packages(compressed: &[u8], file: &FoundFile<'_>) -> Result<Vec<Package>, String> {
    let mut json = Vec::new();
    ZlibDecoder::new(compressed)
        .take(CAP + 1)
        .read_to_end(&mut json)
        .map_err(|error| format!("it does not decompress as zlib: {error}"))?;
    if json.len() as u64 > CAP {
        return Err(format!("it decompresses to over {CAP} bytes"));
    }
    let info: VersionInfo =
        serde_json::from_slice(&json).map_err(|error| format!("it is not the JSON cargo-auditable writes: {error}"))?;
    Ok(info
        .packages
        .into_iter()
        .filter(|package| package.kind.as_deref() != Some("build") && !package.name.is_empty())
        .map(|package| Package {
            kind: PackageKind::Cargo,
            purl: purl(PackageKind::Cargo, None, &package.name, &package.version, &[]),
            name: package.name,
            version: package.version,
            source: None,
            arch: None,
            licenses: Vec::new(),
            found_in: file.path.to_owned(),
            layer: file.layer.to_owned(),
        })
        .collect())
}
