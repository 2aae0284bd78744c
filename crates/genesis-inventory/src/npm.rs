//! npm packages: the manifest of each installed package, `node_modules/<name>/package.json`
//! or `node_modules/@<scope>/<name>/package.json`, at any depth (npm installs a conflicting
//! version inside its dependent's own `node_modules`).
//!
//! Format: npm's package.json documentation
//! (<https://docs.npmjs.com/cli/v10/configuring-npm/package-json>): `name` (`@scope/name`
//! for a scoped package), `version`, and `license`, an SPDX expression, which replaced the
//! object form `{"type": "MIT", "url": …}` and the `licenses` array of such objects that
//! older packages still carry.

use serde_json::Value;

use crate::error::InventoryError;
use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::purl;

/// Whether `path` is an installed package's manifest: `package.json` directly in
/// `node_modules/<name>/` or `node_modules/@<scope>/<name>/`. Deeper files
/// (`node_modules/glob/dist/esm/package.json`, which says only `{"type": "module"}`) are
/// a package's own files, not packages.
pub(crate) fn is_package_json(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/package.json") else { return false };
    let mut segments = dir.rsplit('/');
    let (Some(name), Some(parent)) = (segments.next(), segments.next()) else { return false };
    // npm names never start with `.` or `_`; `@` starts a scope, not a name.
    if name.is_empty() || name.starts_with(['.', '_', '@']) {
        return false;
    }
    parent == "node_modules" || (parent.len() > 1 && parent.starts_with('@') && segments.next() == Some("node_modules"))
}

/// The package a manifest describes, or `None` when it has no `name` or no `version` (test
/// fixtures inside packages hold such files). Its purl is `pkg:npm/<name>@<version>`, or
/// `pkg:npm/%40<scope>/<name>@<version>` for a scoped package. A UTF-8 byte order mark is
/// skipped, as Node does; bytes that are not a JSON object are an error.
pub(crate) fn parse_package_json(bytes: &[u8], file: &FoundFile<'_>) -> Result<Option<Package>, InventoryError> {
    let malformed = |reason: String| InventoryError::Malformed { path: file.path.to_owned(), reason };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let manifest: Value =
        serde_json::from_slice(bytes).map_err(|error| malformed(format!("it is not JSON: {error}")))?;
    let Value::Object(fields) = manifest else { return Err(malformed("it is not a JSON object".to_owned())) };
    let text = |key: &str| match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.trim()).filter(|value| !value.is_empty())),
        Some(_) => Err(malformed(format!("its {key} is not a string"))),
    };
    let (Some(name), Some(version)) = (text("name")?, text("version")?) else { return Ok(None) };
    let (scope, bare_name) = match name.split_once('/') {
        Some((scope, bare_name)) if scope.starts_with('@') => (Some(scope), bare_name),
        _ => (None, name),
    };
    let mut licenses = Vec::new();
    for value in ["license", "licenses"].iter().filter_map(|key| fields.get(*key)) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| add_license(item, &mut licenses)),
            single => add_license(single, &mut licenses),
        }
    }
    Ok(Some(Package {
        kind: PackageKind::Npm,
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        arch: None,
        licenses,
        purl: purl(PackageKind::Npm, scope, bare_name, version, &[]),
        found_in: file.path.to_owned(),
        layer: file.layer.to_owned(),
    }))
}

/// Adds the licence a `license` value (or one item of `licenses`) names, once: a string
/// (`"MIT"`, `"(MIT OR Apache-2.0)"`, `"SEE LICENSE IN LICENSE.txt"`, kept as written) or
/// an object's `type`.
fn add_license(value: &Value, licenses: &mut Vec<String>) {
    let name = match value {
        Value::String(name) => name.as_str(),
        Value::Object(object) => object.get("type").and_then(Value::as_str).unwrap_or_default(),
        _ => "",
    };
    let name = name.trim();
    if !name.is_empty() && !licenses.iter().any(|known| known == name) {
        licenses.push(name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(text: &str) -> Option<Package> {
        let file = FoundFile { path: "app/node_modules/x/package.json", layer: "sha256:dd", distro: None };
        parse_package_json(text.as_bytes(), &file).unwrap()
    }

    /// (purl, licences) of a manifest.
    fn summary(text: &str) -> (String, Vec<String>) {
        let package = parse(text).expect("a package");
        (package.purl, package.licenses)
    }

    /// Three manifests copied unchanged from the node_modules of npm 11.19.1 on this
    /// machine (`/usr/lib/node_modules/npm/node_modules/`): util-deprecate (`license` as a
    /// string), @npmcli/fs (a scoped package), qrcode-terminal (the deprecated `licenses`
    /// array of objects).
    #[test]
    fn real_manifests_give_name_version_purl_and_licence() {
        let util = parse(include_str!("../tests/data/npm-util-deprecate-package.json")).unwrap();
        assert_eq!((util.name.as_str(), util.version.as_str()), ("util-deprecate", "1.0.2"));
        assert_eq!(util.purl, "pkg:npm/util-deprecate@1.0.2");
        assert_eq!(util.licenses, ["MIT"]);
        assert_eq!(util.kind, PackageKind::Npm);
        assert_eq!(util.found_in, "app/node_modules/x/package.json");
        assert_eq!(util.layer, "sha256:dd");

        let fs = parse(include_str!("../tests/data/npm-npmcli-fs-package.json")).unwrap();
        assert_eq!(fs.name, "@npmcli/fs");
        assert_eq!((fs.purl.as_str(), fs.licenses.as_slice()), ("pkg:npm/%40npmcli/fs@5.0.0", &["ISC".to_owned()][..]));

        assert_eq!(
            summary(include_str!("../tests/data/npm-qrcode-terminal-package.json")),
            ("pkg:npm/qrcode-terminal@0.12.0".into(), vec!["Apache 2.0".into()])
        );
    }

    #[test]
    fn every_licence_form_npm_has_known_is_read_once() {
        let legacy = r#"{"name": "a", "version": "1.0.0", "license": {"type": "MIT", "url": "https://x/LICENSE"}}"#;
        assert_eq!(summary(legacy).1, ["MIT"]);
        let both = r#"{"name": "a", "version": "1.0.0", "license": "MIT",
                       "licenses": [{"type": "MIT"}, "Apache-2.0", {"url": "no type"}, 7, {"type": " "}]}"#;
        assert_eq!(summary(both).1, ["MIT", "Apache-2.0"]);
        let array = r#"{"name": "a", "version": "1.0.0", "license": ["BSD-2-Clause", "(MIT OR GPL-3.0)"]}"#;
        assert_eq!(summary(array).1, ["BSD-2-Clause", "(MIT OR GPL-3.0)"]);
        assert!(summary(r#"{"name": "a", "version": "1.0.0", "license": null}"#).1.is_empty());
    }

    #[test]
    fn a_manifest_without_name_or_version_describes_no_package() {
        assert_eq!(parse(r#"{"type": "module"}"#), None);
        assert_eq!(parse(r#"{"name": "a"}"#), None);
        assert_eq!(parse(r#"{"name": "a", "version": ""}"#), None);
        assert_eq!(parse(r#"{"name": null, "version": "1.0.0"}"#), None);
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_uppercase_legacy_names_are_lowercased_in_the_purl_only() {
        let file = FoundFile { path: "node_modules/JSONStream/package.json", layer: "l", distro: None };
        let bytes = b"\xEF\xBB\xBF{\"name\": \"JSONStream\", \"version\": \"1.3.5\"}";
        let package = parse_package_json(bytes, &file).unwrap().unwrap();
        assert_eq!((package.name.as_str(), package.purl.as_str()), ("JSONStream", "pkg:npm/jsonstream@1.3.5"));
    }

    #[test]
    fn bytes_that_are_not_a_json_object_with_string_fields_are_errors_naming_the_file() {
        let file = FoundFile { path: "node_modules/a/package.json", layer: "l", distro: None };
        for (bytes, expected) in [
            (&b"{\"name\": "[..], "it is not JSON"),
            (&b"[1, 2]"[..], "it is not a JSON object"),
            (&b"{\"name\": \"a\", \"version\": 1}"[..], "its version is not a string"),
            (&b"{\"name\": [\"a\"], \"version\": \"1\"}"[..], "its name is not a string"),
        ] {
            let message = parse_package_json(bytes, &file).unwrap_err().to_string();
            assert!(message.starts_with("node_modules/a/package.json: malformed package metadata: "), "{message}");
            assert!(message.contains(expected), "{message} should say {expected:?}");
        }
    }

    #[test]
    fn only_a_packages_own_manifest_is_a_package_json() {
        for path in [
            "node_modules/a/package.json",
            "usr/lib/node_modules/npm/package.json",
            "app/node_modules/@npmcli/fs/package.json",
            "app/node_modules/a/node_modules/b/package.json",
            "app/node_modules/a/node_modules/@s/b/package.json",
        ] {
            assert!(is_package_json(path), "{path}");
        }
        for path in [
            "package.json",
            "app/package.json",
            "node_modules/package.json",
            "node_modules/a/lib/package.json",
            "node_modules/glob/dist/esm/package.json",
            "node_modules/@scope/package.json",
            "node_modules/@/x/package.json",
            "node_modules/.bin/package.json",
            "node_modules/.pnpm/package.json",
            "node_modules/a/package.json.bak",
            "node_modules/a/package.jsonx",
            "x/@scope/name/package.json",
            "node_modules//package.json",
        ] {
            assert!(!is_package_json(path), "{path}");
        }
    }
}
