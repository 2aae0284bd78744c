//! Debian and Ubuntu packages: dpkg's database (`var/lib/dpkg/status`, and distroless's
//! `var/lib/dpkg/status.d/<package>`, one control stanza per file), and the licences of
//! machine-readable `usr/share/doc/<package>/copyright` files, since the database names none.
//!
//! Formats: deb822 paragraphs (Debian Policy §5.1: `Field: value` lines, continuation lines
//! start with a space or tab, paragraphs are separated by blank lines), dpkg(1)'s package
//! states, and the copyright format 1.0 (DEP-5,
//! <https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/>).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::InventoryError;
use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::{distro_qualifier, os_namespace, purl};

/// Licences kept from one copyright file at most: a real one names a few dozen.
const MAX_LICENSES: usize = 64;

/// dpkg's states (dpkg(1), "Package states") in which a package's files are on disk, whatever
/// its selection says (`deinstall ok installed` is still installed). `config-files`,
/// `half-installed` and `not-installed` leave nothing to scan.
const FILES_ON_DISK: &[&str] = &["installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"];

/// The packages of a dpkg status file. A stanza without `Status` (distroless writes the
/// packages' control files, which have none) counts as installed. An installed stanza
/// without `Package` or `Version` makes the whole file malformed: a database that broken is
/// not to be half-believed.
pub(crate) fn parse_status(bytes: &[u8], file: &FoundFile<'_>) -> Result<Vec<Package>, InventoryError> {
    let text = String::from_utf8_lossy(bytes);
    let malformed = |reason: String| InventoryError::Malformed { path: file.path.to_owned(), reason };
    let mut packages = Vec::new();
    for (number, stanza) in stanzas(&text).enumerate() {
        let fields = parse_fields(&stanza)
            .map_err(|line| malformed(format!("stanza {}: line {line:?} is not a field", number + 1)))?;
        if let Some(status) = fields.get("status")
            && !status.split_whitespace().nth(2).is_some_and(|state| FILES_ON_DISK.contains(&state))
        {
            continue;
        }
        let required = |name: &str| {
            fields
                .get(name)
                .filter(|value| !value.is_empty())
                .copied()
                .ok_or_else(|| malformed(format!("stanza {} has no {name}", number + 1)))
        };
        let name = required("package")?;
        let version = required("version")?;
        let arch = fields.get("architecture").copied().filter(|arch| !arch.is_empty());
        let source = fields.get("source").copied().map(parse_source);
        packages.push(package(name, version, arch, source, file));
    }
    Ok(packages)
}

/// The licences a DEP-5 copyright file states: the value of each `License:` field, as
/// written (Debian short names and their `or`/`and`/`with … exception` expressions), sorted
/// and deduplicated. A file in another format (free text) states none we can read.
pub(crate) fn copyright_licenses(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let Some(header) = stanzas(&text).next() else { return Vec::new() };
    // `Format-Specification` is what drafts of DEP-5 before 1.0 called the field.
    if !header
        .iter()
        .any(|line| ["format", "format-specification"].iter().any(|name| field_named(line, name).is_some()))
    {
        return Vec::new();
    }
    let mut licenses = BTreeSet::new();
    for value in text.lines().filter_map(|line| field_named(line, "license")).filter(|value| !value.is_empty()) {
        if licenses.len() == MAX_LICENSES {
            break;
        }
        licenses.insert(value);
    }
    licenses.into_iter().map(str::to_owned).collect()
}

/// Whether `path` is a dpkg database: `var/lib/dpkg/status`, or a file of distroless's
/// `var/lib/dpkg/status.d/` (not its `*.md5sums` lists of file checksums).
pub(crate) fn is_database(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path
            .strip_prefix("var/lib/dpkg/status.d/")
            .is_some_and(|name| !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums"))
}

/// The package a copyright file belongs to, when `path` is `usr/share/doc/<package>/copyright`.
pub(crate) fn copyright_package(path: &str) -> Option<&str> {
    let package = path.strip_prefix("usr/share/doc/")?.strip_suffix("/copyright")?;
    (!package.is_empty() && !package.contains('/')).then_some(package)
}

/// Gives each Debian package without licences those of its copyright file, when the image
/// has one (keyed by package name).
pub(crate) fn attach_licenses(packages: &mut [Package], licenses: &BTreeMap<String, Vec<String>>) {
    for package in packages.iter_mut().filter(|package| package.kind == PackageKind::Deb && package.licenses.is_empty())
    {
        if let Some(found) = licenses.get(&package.name) {
            package.licenses.clone_from(found);
        }
    }
}

/// The source package a `Source:` field names: `openssl`, or `util-linux (2.38.1-5+deb12u3)`
/// when the binary's version differs from the source's (binNMUs, epochs).
struct SourceField<'a> {
    name: &'a str,
    version: Option<&'a str>,
}

fn parse_source(value: &str) -> SourceField<'_> {
    match value.split_once('(') {
        Some((name, rest)) => SourceField {
            name: name.trim(),
            version: rest.split_once(')').map(|(version, _)| version.trim()).filter(|version| !version.is_empty()),
        },
        None => SourceField { name: value.trim(), version: None },
    }
}

/// One package and its purl, `pkg:deb/<distro id>/<name>@<version>?arch=…&distro=…`, with
/// the purl spec's `upstream` qualifier naming the source package (and its version, when the
/// field gives one: `upstream=util-linux@2.38.1-5+deb12u3`) whenever it is not the binary.
fn package(
    name: &str,
    version: &str,
    arch: Option<&str>,
    source: Option<SourceField<'_>>,
    file: &FoundFile<'_>,
) -> Package {
    let source = source.filter(|source| !source.name.is_empty());
    let upstream = source.as_ref().and_then(|source| match source.version {
        Some(source_version) if source.name != name || source_version != version => {
            Some(format!("{}@{source_version}", source.name))
        }
        None if source.name != name => Some(source.name.to_owned()),
        _ => None,
    });
    let distro = file.distro.map(distro_qualifier);
    let qualifiers = [
        ("arch", arch.unwrap_or_default()),
        ("distro", distro.as_deref().unwrap_or_default()),
        ("upstream", upstream.as_deref().unwrap_or_default()),
    ];
    Package {
        kind: PackageKind::Deb,
        name: name.to_owned(),
        version: version.to_owned(),
        source: source.map(|source| source.name).filter(|source| *source != name).map(str::to_owned),
        arch: arch.map(str::to_owned),
        licenses: Vec::new(),
        purl: purl(PackageKind::Deb, Some(os_namespace(file.distro, "debian")), name, version, &qualifiers),
        found_in: file.path.to_owned(),
        layer: file.layer.to_owned(),
    }
}

/// The paragraphs of a deb822 text, each as its lines; blank (or whitespace-only) lines
/// separate them.
fn stanzas(text: &str) -> impl Iterator<Item = Vec<&str>> {
    let mut lines = text.lines().peekable();
    std::iter::from_fn(move || {
        while lines.next_if(|line| line.trim().is_empty()).is_some() {}
        let stanza: Vec<&str> = std::iter::from_fn(|| lines.next_if(|line| !line.trim().is_empty())).collect();
        (!stanza.is_empty()).then_some(stanza)
    })
}

/// A stanza's fields, by lowercased name, each the trimmed first line of its value
/// (continuation lines carry descriptions and file lists, which we do not read). The line
/// that is neither a field nor a continuation is the error.
fn parse_fields<'a>(stanza: &[&'a str]) -> Result<BTreeMap<String, &'a str>, &'a str> {
    let mut fields = BTreeMap::new();
    for &line in stanza {
        if line.starts_with([' ', '\t']) || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(line)?;
        fields.insert(name.trim().to_ascii_lowercase(), value.trim());
    }
    Ok(fields)
}

/// The value of `line` when it is the field `name` (case-insensitive, at the line's start).
fn field_named<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (field, value) = line.split_once(':')?;
    field.eq_ignore_ascii_case(name).then(|| value.trim())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::package::Distro;

    fn bookworm() -> Distro {
        Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            version_codename: Some("bookworm".into()),
            pretty_name: None,
        }
    }

    fn parse(text: &str, distro: Option<&Distro>) -> Vec<Package> {
        let file = FoundFile { path: "var/lib/dpkg/status", layer: "sha256:aa", distro };
        parse_status(text.as_bytes(), &file).unwrap()
    }

    fn purls(packages: &[Package]) -> Vec<&str> {
        packages.iter().map(|package| package.purl.as_str()).collect()
    }

    /// Five stanzas copied from this machine's `/var/lib/dpkg/status` (Debian 12): a source
    /// that differs (libssl3), a source with its own version and a binary epoch (bsdutils), a
    /// binNMU (bash), `Architecture: all` (tzdata), and one without `Source` (base-files).
    #[test]
    fn a_real_status_file_gives_every_installed_package_with_its_purl() {
        let distro = bookworm();
        let packages = parse(include_str!("../tests/data/dpkg-status"), Some(&distro));
        assert_eq!(
            purls(&packages),
            [
                "pkg:deb/debian/libssl3@3.0.22-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
                "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3",
                "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2",
                "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12",
                "pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64&distro=debian-12",
            ]
        );
        let bsdutils = &packages[1];
        assert_eq!(bsdutils.name, "bsdutils");
        assert_eq!(bsdutils.version, "1:2.38.1-5+deb12u3");
        assert_eq!(bsdutils.source.as_deref(), Some("util-linux"));
        assert_eq!(bsdutils.arch.as_deref(), Some("amd64"));
        assert_eq!(bsdutils.found_in, "var/lib/dpkg/status");
        assert_eq!(bsdutils.layer, "sha256:aa");
        assert_eq!(packages[2].source, None, "bash's source is bash, only its version differs");
    }

    #[test]
    fn packages_whose_files_are_gone_are_left_out() {
        let text = "Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64\n\n\
                    Package: conf\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: amd64\n\n\
                    Package: held\nStatus: hold ok installed\nVersion: 2\nArchitecture: amd64\n\n\
                    Package: leaving\nStatus: deinstall ok installed\nVersion: 3\nArchitecture: amd64\n\n\
                    Package: half\nStatus: install reinstreq half-installed\nVersion: 4\nArchitecture: amd64\n";
        let names: Vec<_> = parse(text, None).into_iter().map(|package| package.name).collect();
        assert_eq!(names, ["held", "leaving"]);
    }

    #[test]
    fn a_distroless_stanza_without_status_counts_as_installed() {
        let text = "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: arm64\nSource: glibc\n";
        assert_eq!(
            purls(&parse(text, Some(&bookworm()))),
            ["pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=arm64&distro=debian-12&upstream=glibc"]
        );
    }

    #[test]
    fn ubuntu_names_its_namespace_and_release_and_no_distro_falls_back_to_debian() {
        let ubuntu =
            Distro { id: "ubuntu".into(), version_id: Some("22.04".into()), version_codename: None, pretty_name: None };
        let text = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.11.dfsg-2ubuntu9.2\n";
        assert_eq!(
            purls(&parse(text, Some(&ubuntu))),
            ["pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-2ubuntu9.2?arch=amd64&distro=ubuntu-22.04&upstream=zlib"]
        );
        assert_eq!(
            purls(&parse(text, None)),
            ["pkg:deb/debian/zlib1g@1:1.2.11.dfsg-2ubuntu9.2?arch=amd64&upstream=zlib"]
        );
    }

    #[test]
    fn field_names_are_case_insensitive_and_blank_lines_may_hold_spaces() {
        let text = "\n  \npackage: a\nVERSION: 1\n \t\nPackage: b\nVersion: 2\r\n";
        assert_eq!(purls(&parse(text, None)), ["pkg:deb/debian/a@1", "pkg:deb/debian/b@2"]);
    }

    #[test]
    fn a_broken_installed_stanza_names_the_file_and_the_stanza() {
        let file = FoundFile { path: "var/lib/dpkg/status", layer: "sha256:aa", distro: None };
        let error =
            parse_status(b"Package: a\nVersion: 1\n\nPackage: b\nStatus: install ok installed\n", &file).unwrap_err();
        assert_eq!(
            error.to_string(),
            "var/lib/dpkg/status: malformed package metadata: stanza 2 has no version; its packages are not inventoried"
        );
        let error = parse_status(b"Package: a\nthis is no field\n", &file).unwrap_err();
        assert!(error.to_string().contains("stanza 1: line \"this is no field\" is not a field"), "{error}");
    }

    #[test]
    fn hostile_bytes_give_packages_or_an_error_never_a_panic() {
        let file = FoundFile { path: "p", layer: "l", distro: None };
        for bytes in [
            &b""[..],
            b"\xff\xfe\x00",
            b":\n",
            b"Package: (\nVersion: )\nSource: (((",
            b"Source: x (\nPackage: y\nVersion: 1",
        ] {
            let _ = parse_status(bytes, &file);
        }
        let packages = parse_status(b"Source: x (\nPackage: y\nVersion: 1", &file).unwrap();
        assert_eq!(packages[0].purl, "pkg:deb/debian/y@1?upstream=x");
    }

    /// libssl3's and tzdata's copyright files from this machine (DEP-5), and base-files's
    /// (free text).
    #[test]
    fn a_dep5_copyright_file_gives_its_license_names_and_free_text_none() {
        assert_eq!(
            copyright_licenses(include_bytes!("../tests/data/copyright-libssl3")),
            ["Apache-2.0", "Artistic", "Artistic or GPL-1+", "GPL-1+"]
        );
        assert_eq!(copyright_licenses(include_bytes!("../tests/data/copyright-tzdata")), ["public-domain"]);
        assert!(copyright_licenses(include_bytes!("../tests/data/copyright-base-files")).is_empty());
        assert!(copyright_licenses(b"").is_empty());
    }

    #[test]
    fn the_status_file_and_status_d_stanzas_are_databases_and_checksum_lists_are_not() {
        assert!(is_database("var/lib/dpkg/status"));
        assert!(is_database("var/lib/dpkg/status.d/libc6"));
        assert!(!is_database("var/lib/dpkg/status.d/libc6.md5sums"));
        assert!(!is_database("var/lib/dpkg/status.d/"));
        assert!(!is_database("var/lib/dpkg/status.d/a/b"));
        assert!(!is_database("var/lib/dpkg/status-old"));
    }

    #[test]
    fn copyright_paths_name_their_package_and_only_those() {
        assert_eq!(copyright_package("usr/share/doc/libssl3/copyright"), Some("libssl3"));
        assert_eq!(copyright_package("usr/share/doc/copyright"), None);
        assert_eq!(copyright_package("usr/share/doc//copyright"), None);
        assert_eq!(copyright_package("usr/share/doc/a/b/copyright"), None);
        assert_eq!(copyright_package("usr/share/doc/a/copyright.gz"), None);
    }

    #[test]
    fn licenses_attach_by_package_name_and_never_overwrite() {
        let mut packages = parse("Package: a\nVersion: 1\n\nPackage: b\nVersion: 1\n", None);
        packages[1].licenses = vec!["MIT".into()];
        let licenses = BTreeMap::from([
            ("a".to_owned(), vec!["GPL-2+".to_owned()]),
            ("b".to_owned(), vec!["BSD-3-clause".to_owned()]),
        ]);
        attach_licenses(&mut packages, &licenses);
        assert_eq!(packages[0].licenses, ["GPL-2+"]);
        assert_eq!(packages[1].licenses, ["MIT"]);
    }
}
