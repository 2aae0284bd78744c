//! What the inventory finds: packages, each with its package URL, and the distribution.

use serde::{Deserialize, Serialize};

/// Where a package's metadata says it belongs: the package manager or language ecosystem
/// that installed it, which decides its version ordering and its OSV ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    /// Debian and Ubuntu packages (dpkg).
    Deb,
    /// Alpine packages (apk).
    Apk,
    /// RPM packages (Red Hat, Rocky, Alma, Fedora, SUSE...).
    Rpm,
    /// Python distributions (`*.dist-info`).
    Pypi,
    /// npm packages (`node_modules/**/package.json`).
    Npm,
    /// Go modules, from a Go binary's build info.
    Golang,
    /// Rust crates, from a binary built with cargo-auditable.
    Cargo,
}

impl PackageKind {
    /// Every kind, in order.
    pub const ALL: [PackageKind; 7] = [
        PackageKind::Deb,
        PackageKind::Apk,
        PackageKind::Rpm,
        PackageKind::Pypi,
        PackageKind::Npm,
        PackageKind::Golang,
        PackageKind::Cargo,
    ];

    /// Its package-URL type, which is also its lowercase name: `deb`, `apk`, `rpm`, `pypi`,
    /// `npm`, `golang`, `cargo`.
    pub fn purl_type(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Pypi => "pypi",
            PackageKind::Npm => "npm",
            PackageKind::Golang => "golang",
            PackageKind::Cargo => "cargo",
        }
    }

    /// The kind whose package-URL type is `purl_type` (lowercase, as a canonical purl writes
    /// it), or `None` for a type no kind stands for (`maven`, `gem`, `oci`...).
    pub fn from_purl_type(purl_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.purl_type() == purl_type)
    }
}

/// The distribution of an image, from `/etc/os-release` (or `/usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Distro {
    /// `ID`: `debian`, `ubuntu`, `alpine`, `rhel`, `rocky`, `almalinux`, `fedora`...
    pub id: String,
    /// `VERSION_ID`: `12`, `3.18.4`, `9.3`.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`: `bookworm`.
    pub version_codename: Option<String>,
    /// `PRETTY_NAME`, for people.
    pub pretty_name: Option<String>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// Its ecosystem.
    pub kind: PackageKind,
    /// Its name.
    pub name: String,
    /// The version as the ecosystem writes it: dpkg `[epoch:]upstream[-revision]`, rpm
    /// `[epoch:]version-release`, apk `1.2.3-r4`, PEP 440, semver (npm, cargo), Go `v1.2.3`.
    pub version: String,
    /// The source package when it differs (deb `Source:`, the name in rpm's SOURCERPM):
    /// OSV's distribution records are keyed by source package.
    pub source: Option<String>,
    /// Its architecture, when the metadata states one.
    pub arch: Option<String>,
    /// Licences as the metadata states them (SPDX expressions or names); empty when none.
    pub licenses: Vec<String>,
    /// Its package URL, e.g. `pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12`.
    pub purl: String,
    /// The file it was found in, without a leading slash (`var/lib/dpkg/status`).
    pub found_in: String,
    /// The digest (`sha256:…`) of the layer that last wrote that file.
    pub layer: String,
}

/// A file of interest as it stands after every layer, handed to a parser.
#[derive(Debug, Clone, Copy)]
pub struct FoundFile<'a> {
    /// Its path, without a leading slash.
    pub path: &'a str,
    /// The digest of the layer that last wrote it.
    pub layer: &'a str,
    /// The image's distribution, for purl qualifiers.
    pub distro: Option<&'a Distro>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_read_back_from_its_purl_type_and_no_other_type_names_a_kind() {
        for kind in PackageKind::ALL {
            assert_eq!(PackageKind::from_purl_type(kind.purl_type()), Some(kind), "{kind:?}");
        }
        assert_eq!(PackageKind::from_purl_type("maven"), None);
        assert_eq!(PackageKind::from_purl_type("Deb"), None, "a canonical purl's type is lowercase");
    }
}
