//! Alpine packages (and Wolfi's, which uses apk too): apk's installed database,
//! `lib/apk/db/installed`.
//!
//! Format (Alpine wiki, "Apk spec", <https://wiki.alpinelinux.org/wiki/Apk_spec>, and
//! apk-tools' `database.c`): one record per package, records separated by a blank line, each
//! line one field written `X:value` with a one-letter key. We read `P` (name), `V`
//! (version), `A` (architecture), `L` (licence) and `o` (origin, the source package).

use crate::error::InventoryError;
use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::{distro_qualifier, os_namespace, purl};

/// Where apk keeps its installed database.
pub(crate) const DATABASE: &str = "lib/apk/db/installed";

/// The packages of an apk installed database. A line that is not a field, or a record
/// without `P` or `V`, makes the whole file malformed.
pub(crate) fn parse_installed(bytes: &[u8], file: &FoundFile<'_>) -> Result<Vec<Package>, InventoryError> {
    let text = String::from_utf8_lossy(bytes);
    let malformed = |reason: String| InventoryError::Malformed { path: file.path.to_owned(), reason };
    let mut packages = Vec::new();
    let mut record = Record::default();
    let mut number = 1;
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() {
            if let Some(package) = record.take(number, file).map_err(malformed)? {
                packages.push(package);
                number += 1;
            }
            continue;
        }
        let (key, value) = match line.as_bytes() {
            [key, b':', ..] => (*key, &line[2..]),
            _ => return Err(malformed(format!("line {} is not a field: {line:?}", index + 1))),
        };
        record.set(key, value);
    }
    if let Some(package) = record.take(number, file).map_err(malformed)? {
        packages.push(package);
    }
    Ok(packages)
}

/// The fields of the record being read.
#[derive(Default)]
struct Record<'a> {
    /// Whether any line was read since the last record ended.
    started: bool,
    name: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    license: Option<&'a str>,
    origin: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn set(&mut self, key: u8, value: &'a str) {
        self.started = true;
        let field = match key {
            b'P' => &mut self.name,
            b'V' => &mut self.version,
            b'A' => &mut self.arch,
            b'L' => &mut self.license,
            b'o' => &mut self.origin,
            _ => return,
        };
        *field = Some(value).filter(|value| !value.is_empty());
    }

    /// The package this record describes, when one was read (`number` counts records from 1,
    /// for the error), and a fresh record in its place.
    fn take(&mut self, number: usize, file: &FoundFile<'_>) -> Result<Option<Package>, String> {
        let record = std::mem::take(self);
        if !record.started {
            return Ok(None);
        }
        let name = record.name.ok_or_else(|| format!("record {number} has no P: (name)"))?;
        let version = record.version.ok_or_else(|| format!("record {number} ({name}) has no V: (version)"))?;
        Ok(Some(package(
            name,
            version,
            record.arch,
            record.license,
            record.origin.filter(|origin| *origin != name),
            file,
        )))
    }
}

/// One package and its purl, `pkg:apk/<distro id>/<name>@<version>?arch=…&distro=…`, with
/// an `upstream` qualifier naming its origin when that differs (as for Debian's source).
fn package(
    name: &str,
    version: &str,
    arch: Option<&str>,
    license: Option<&str>,
    origin: Option<&str>,
    file: &FoundFile<'_>,
) -> Package {
    let distro = file.distro.map(distro_qualifier);
    let qualifiers = [
        ("arch", arch.unwrap_or_default()),
        ("distro", distro.as_deref().unwrap_or_default()),
        ("upstream", origin.unwrap_or_default()),
    ];
    Package {
        kind: PackageKind::Apk,
        name: name.to_owned(),
        version: version.to_owned(),
        source: origin.map(str::to_owned),
        arch: arch.map(str::to_owned),
        licenses: license.map(str::to_owned).into_iter().collect(),
        purl: purl(PackageKind::Apk, Some(os_namespace(file.distro, "alpine")), name, version, &qualifiers),
        found_in: file.path.to_owned(),
        layer: file.layer.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::package::Distro;

    fn alpine() -> Distro {
        Distro {
            id: "alpine".into(),
            version_id: Some("3.18.4".into()),
            version_codename: None,
            pretty_name: Some("Alpine Linux v3.18".into()),
        }
    }

    fn file(distro: Option<&Distro>) -> FoundFile<'_> {
        FoundFile { path: "lib/apk/db/installed", layer: "sha256:bb", distro }
    }

    /// `tests/data/apk-installed`: three records written by hand in the documented format.
    #[test]
    fn an_installed_database_gives_each_package_with_licence_origin_and_purl() {
        let distro = alpine();
        let packages = parse_installed(include_bytes!("../tests/data/apk-installed"), &file(Some(&distro))).unwrap();
        let purls: Vec<_> = packages.iter().map(|package| package.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4",
                "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.18.4",
                "pkg:apk/alpine/libcrypto3@3.1.3-r0?arch=x86_64&distro=alpine-3.18.4&upstream=openssl",
            ]
        );
        assert_eq!(packages[0].licenses, ["MIT"]);
        assert_eq!(packages[1].licenses, ["GPL-2.0-only"]);
        assert_eq!(packages[2].licenses, ["Apache-2.0"]);
        assert_eq!(packages[2].source.as_deref(), Some("openssl"));
        assert_eq!(packages[0].source, None, "musl's origin is musl");
        assert_eq!(packages[2].found_in, "lib/apk/db/installed");
        assert_eq!(packages[2].layer, "sha256:bb");
    }

    #[test]
    fn wolfi_names_its_own_namespace_and_no_distro_falls_back_to_alpine() {
        let wolfi = Distro {
            id: "wolfi".into(),
            version_id: Some("20230201".into()),
            version_codename: None,
            pretty_name: None,
        };
        let text = b"P:glibc\nV:2.38-r1\nA:aarch64\n";
        assert_eq!(
            parse_installed(text, &file(Some(&wolfi))).unwrap()[0].purl,
            "pkg:apk/wolfi/glibc@2.38-r1?arch=aarch64&distro=wolfi-20230201"
        );
        assert_eq!(parse_installed(text, &file(None)).unwrap()[0].purl, "pkg:apk/alpine/glibc@2.38-r1?arch=aarch64");
    }

    #[test]
    fn extra_blank_lines_and_a_missing_final_blank_line_change_nothing() {
        let packages = parse_installed(b"\n\nP:a\nV:1\n\n\n\nP:b\nV:2", &file(None)).unwrap();
        let names: Vec<_> = packages.iter().map(|package| package.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(parse_installed(b"", &file(None)).unwrap().is_empty());
    }

    #[test]
    fn a_broken_record_names_the_file_and_the_record() {
        let error = parse_installed(b"P:a\nV:1\n\nP:b\nA:x86_64\n", &file(None)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "lib/apk/db/installed: malformed package metadata: record 2 (b) has no V: (version); its packages are not inventoried"
        );
        let error = parse_installed(b"P:a\nnot a field\n", &file(None)).unwrap_err();
        assert!(error.to_string().contains("line 2 is not a field"), "{error}");
        assert!(parse_installed(b"V:1\n", &file(None)).unwrap_err().to_string().contains("record 1 has no P: (name)"));
    }

    #[test]
    fn hostile_bytes_give_packages_or_an_error_never_a_panic() {
        for bytes in [&b"\xff:\xfe"[..], b":", b"P:", b"P:\xc3\nV:\xff\n", b"\r\n", b"P:a\nV:1\nL:\n"] {
            let _ = parse_installed(bytes, &file(None));
        }
        assert!(parse_installed(b"P:a\nV:1\nL:\n", &file(None)).unwrap()[0].licenses.is_empty());
    }
}
