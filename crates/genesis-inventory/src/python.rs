//! Python distributions: the core metadata file each installed distribution carries,
//! `<name>-<version>.dist-info/METADATA` (wheels, as pip installs them) or
//! `<name>.egg-info/PKG-INFO` (setuptools' eggs and `setup.py install`).
//!
//! Format: the PyPA "Core metadata specifications", versions 1.0 to 2.4
//! (<https://packaging.python.org/en/latest/specifications/core-metadata/>): RFC 822 style
//! header fields (`Name: value`; a line starting with a space or tab continues the field
//! before it), ended by the first empty line, after which comes the free-text description,
//! which is not read (it could hold any `Name:` line).

use crate::error::InventoryError;
use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::purl;

/// The distribution a core metadata file describes, or `None` when it names no `Name` and
/// `Version` (test fixtures and templates inside packages look like metadata files and
/// describe nothing installed). Its purl is `pkg:pypi/<name>@<version>`, the name
/// normalised as PEP 503 says (`lazr.uri` is `lazr-uri`); `name` stays as the file writes it.
pub(crate) fn parse_metadata(bytes: &[u8], file: &FoundFile<'_>) -> Result<Option<Package>, InventoryError> {
    let text = std::str::from_utf8(bytes).map_err(|error| InventoryError::Malformed {
        path: file.path.to_owned(),
        reason: format!("it is not UTF-8, which core metadata must be ({error})"),
    })?;
    let fields = header_fields(text);
    let (Some(name), Some(version)) = (field(&fields, "Name"), field(&fields, "Version")) else { return Ok(None) };
    Ok(Some(Package {
        kind: PackageKind::Pypi,
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        arch: None,
        licenses: licenses(&fields),
        purl: purl(PackageKind::Pypi, None, name, version, &[]),
        found_in: file.path.to_owned(),
        layer: file.layer.to_owned(),
    }))
}

/// A distribution's name as PEP 503 normalises it, the form package indexes, purls and
/// advisories (OSV's PyPI records) compare names in: lowercase, each run of `-`, `_` and `.`
/// one `-`.
///
/// ```
/// assert_eq!(genesis_inventory::pep503_name("lazr.uri"), "lazr-uri");
/// assert_eq!(genesis_inventory::pep503_name("Typing__Extensions"), "typing-extensions");
/// ```
pub fn pep503_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// The header fields, in order, each value with its continuation lines joined by `\n` and
/// trimmed. A line that is neither a field nor a continuation ends the header, as it does
/// for Python's own `email` parser, which `importlib.metadata` reads these files with.
fn header_fields(text: &str) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { break };
        fields.push((name.trim(), value.trim().to_owned()));
    }
    for (_, value) in &mut fields {
        value.truncate(value.trim_end().len());
    }
    fields
}

/// The first non-empty value of the field `name` (field names are case-insensitive).
fn field<'a>(fields: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(field, value)| field.eq_ignore_ascii_case(name) && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// The licences the metadata states, the most precise source first:
/// `License-Expression` (an SPDX expression, metadata 2.4); else `License` when it is a
/// one-line name (many projects paste their whole licence text there, which names nothing;
/// `UNKNOWN` is what old setuptools wrote for none); else the last segment of each
/// `Classifier: License :: …` (`License :: OSI Approved :: MIT License` is `MIT License`).
fn licenses(fields: &[(&str, String)]) -> Vec<String> {
    if let Some(expression) = field(fields, "License-Expression") {
        return vec![expression.to_owned()];
    }
    if let Some(license) = field(fields, "License").filter(|license| !license.contains('\n') && *license != "UNKNOWN") {
        return vec![license.to_owned()];
    }
    let mut names: Vec<String> = Vec::new();
    for (_, classifier) in fields.iter().filter(|(field, _)| field.eq_ignore_ascii_case("Classifier")) {
        let mut segments = classifier.split("::").map(str::trim);
        if segments.next() != Some("License") {
            continue;
        }
        // `License :: OSI Approved` alone says only that some approved licence applies.
        if let Some(name) = segments.last().filter(|name| !name.is_empty() && *name != "OSI Approved")
            && !names.iter().any(|known| known == name)
        {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(bytes: &[u8]) -> Option<Package> {
        let file =
            FoundFile { path: "usr/lib/python3/site-packages/x.dist-info/METADATA", layer: "sha256:cc", distro: None };
        parse_metadata(bytes, &file).unwrap()
    }

    /// (name, version, purl, licences) of a parsed file.
    fn summary(bytes: &[u8]) -> (String, String, String, Vec<String>) {
        let package = parse(bytes).expect("a package");
        (package.name, package.version, package.purl, package.licenses)
    }

    /// A metadata file, and the name, version, purl and licences read from it.
    type Case<'a> = (&'a [u8], (&'a str, &'a str, &'a str, &'a [&'a str]));

    /// The header block (and the description's first lines) of real metadata files from
    /// this machine's Python installations: PyYAML 6.0 and packaging 23.0 (Debian 12's
    /// python3-yaml and python3-packaging), lazr.uri 1.0.6's egg PKG-INFO, and MarkupSafe
    /// 3.0.3 and traitlets 5.15.0 as pip installed their PyPI wheels.
    #[test]
    fn real_metadata_files_give_name_version_purl_and_the_most_precise_licence() {
        let cases: [Case<'_>; 5] = [
            (
                include_bytes!("../tests/data/python-PyYAML-6.0-METADATA"),
                ("PyYAML", "6.0", "pkg:pypi/pyyaml@6.0", &["MIT"]),
            ),
            (
                include_bytes!("../tests/data/python-lazr.uri-1.0.6-PKG-INFO"),
                ("lazr.uri", "1.0.6", "pkg:pypi/lazr-uri@1.0.6", &["LGPL v3"]),
            ),
            (
                include_bytes!("../tests/data/python-MarkupSafe-3.0.3-METADATA"),
                ("MarkupSafe", "3.0.3", "pkg:pypi/markupsafe@3.0.3", &["BSD-3-Clause"]),
            ),
            // Its License field is the whole BSD text, over continuation lines: the
            // classifier names it instead.
            (
                include_bytes!("../tests/data/python-traitlets-5.15.0-METADATA"),
                ("traitlets", "5.15.0", "pkg:pypi/traitlets@5.15.0", &["BSD License"]),
            ),
            (
                include_bytes!("../tests/data/python-packaging-23.0-METADATA"),
                ("packaging", "23.0", "pkg:pypi/packaging@23.0", &["Apache Software License", "BSD License"]),
            ),
        ];
        for (bytes, (name, version, purl, licenses)) in cases {
            assert_eq!(
                summary(bytes),
                (
                    name.to_owned(),
                    version.to_owned(),
                    purl.to_owned(),
                    licenses.iter().map(|license| (*license).to_owned()).collect()
                )
            );
        }
        let package = parse(include_bytes!("../tests/data/python-PyYAML-6.0-METADATA")).unwrap();
        assert_eq!(package.kind, PackageKind::Pypi);
        assert_eq!(package.found_in, "usr/lib/python3/site-packages/x.dist-info/METADATA");
        assert_eq!(package.layer, "sha256:cc");
    }

    #[test]
    fn the_description_after_the_first_empty_line_is_never_read() {
        let text = "Metadata-Version: 2.1\r\nname: Foo_Bar.baz\r\nVERSION: 1.0\r\n\r\n\
                    Name: evil\nVersion: 666\nLicense: GPL\n";
        assert_eq!(
            summary(text.as_bytes()),
            ("Foo_Bar.baz".into(), "1.0".into(), "pkg:pypi/foo-bar-baz@1.0".into(), vec![])
        );
    }

    #[test]
    fn a_line_of_spaces_continues_a_field_and_a_line_that_is_no_field_ends_the_header() {
        let text = "Name: a\nLicense: MIT\n        \n        \nVersion: 2\n";
        assert_eq!(summary(text.as_bytes()), ("a".into(), "2".into(), "pkg:pypi/a@2".into(), vec!["MIT".into()]));
        let text = "Name: a\nVersion: 2\nthis line is no field\nLicense: MIT\n";
        assert!(summary(text.as_bytes()).3.is_empty());
    }

    #[test]
    fn unknown_or_absent_licences_fall_back_to_classifiers_and_otherwise_to_none() {
        let text = "Name: a\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved\n\
                    Classifier: License :: Public Domain\nClassifier: Topic :: License :: Nope\n\
                    Classifier: License :: Public Domain\n";
        assert_eq!(summary(text.as_bytes()).3, ["Public Domain"]);
        assert!(summary(b"Name: a\nVersion: 1\n").3.is_empty());
    }

    #[test]
    fn a_file_without_name_or_version_describes_no_package() {
        assert_eq!(parse(b"Name: a\n"), None);
        assert_eq!(parse(b"Version: 1\n"), None);
        assert_eq!(parse(b"Name:\nVersion: 1\n"), None);
        assert_eq!(parse(b"\nName: a\nVersion: 1\n"), None, "an empty first line ends an empty header");
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error_naming_the_file() {
        let file = FoundFile { path: "a.dist-info/METADATA", layer: "l", distro: None };
        let error = parse_metadata(b"Name: caf\xe9\nVersion: 1\n", &file).unwrap_err();
        assert!(
            error.to_string().starts_with("a.dist-info/METADATA: malformed package metadata: it is not UTF-8"),
            "{error}"
        );
    }

    #[test]
    fn hostile_text_gives_a_package_none_or_an_error_never_a_panic() {
        for text in [
            "::::\n",
            " \n\t\n",
            "Name: a\n Version: 1\n",
            ":Name: a\n",
            "Name: a\nVersion: 1\nClassifier: License ::\n",
        ] {
            let _ = parse(text.as_bytes());
        }
        assert_eq!(summary(b"Name: a\nVersion: 1\nClassifier: License :: \n").3, Vec::<String>::new());
    }
}
