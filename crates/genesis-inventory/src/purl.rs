//! Package URLs: the one place a purl is written, canonical per the purl specification
//! (<https://github.com/package-url/purl-spec>, "How to build a purl string" and
//! "Character encoding", and each type's definition under `types/`), so that a scanner given
//! our SBOM and OSV's own purls compare as strings.

use crate::package::{Distro, PackageKind};
use crate::python::pep503_name;

/// The purl of one package, canonical:
///
/// - the type is [`PackageKind::purl_type`] (`deb`, `apk`, `rpm`, `pypi`, `npm`, `golang`,
///   `cargo`);
/// - each namespace segment, the name and the version are percent-encoded: every byte but
///   ASCII letters, digits, `.-_~` and `:` (which the spec forbids encoding) becomes `%XX`,
///   so a Debian `+b1` is written `%2Bb1` and an npm scope `@angular` is `%40angular`;
/// - the type's own normalisation applies: `deb` and `apk` lowercase namespace and name, `rpm`
///   its namespace, `npm` its scope and name, `pypi` lowercases its name and folds each run
///   of `-`, `_` and `.` into one `-` (PEP 503). `golang` keeps its case although its type
///   definition says to lowercase: Go module paths are case-sensitive (`github.com/Azure/…`),
///   lowercasing names another module, and packageurl-python keeps the case too;
/// - qualifiers with an empty value are dropped, keys lowercased, the rest sorted by key.
///
/// ```
/// use genesis_inventory::{PackageKind, purl};
///
/// assert_eq!(
///     purl(PackageKind::Deb, Some("debian"), "attr", "1:2.4.47-2+b1", &[("arch", "amd64")]),
///     "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64",
/// );
/// assert_eq!(purl(PackageKind::Npm, Some("@angular"), "animation", "12.3.1", &[]), "pkg:npm/%40angular/animation@12.3.1");
/// ```
pub fn purl(
    kind: PackageKind,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut out = format!("pkg:{}/", kind.purl_type());
    let segments = namespace.unwrap_or_default().split('/').filter(|segment| !segment.is_empty());
    for segment in segments {
        encode_into(&mut out, &normalise_namespace(kind, segment));
        out.push('/');
    }
    encode_into(&mut out, &normalise_name(kind, name.trim_matches('/')));
    if !version.is_empty() {
        out.push('@');
        encode_into(&mut out, version);
    }
    let mut pairs: Vec<(String, &str)> = qualifiers
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.to_ascii_lowercase(), *value))
        .collect();
    pairs.sort();
    for (index, (key, value)) in pairs.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// The namespace of an operating-system package's purl: the distribution's `ID` (`debian`,
/// `ubuntu`, `alpine`, `wolfi`, `fedora`...), or `fallback` for an image without os-release.
pub(crate) fn os_namespace<'a>(distro: Option<&'a Distro>, fallback: &'a str) -> &'a str {
    distro.map_or(fallback, |distro| distro.id.as_str())
}

/// The `distro` qualifier of an operating-system package's purl: `debian-12`,
/// `ubuntu-22.04`, `alpine-3.18.4`. A release without `VERSION_ID` (Debian testing) is named
/// by its codename (`debian-trixie`, which the spec's "name, codename, or suite" allows), or
/// by its `ID` alone.
pub(crate) fn distro_qualifier(distro: &Distro) -> String {
    match distro.version_id.as_deref().or(distro.version_codename.as_deref()) {
        Some(version) => format!("{}-{version}", distro.id),
        None => distro.id.clone(),
    }
}

fn normalise_namespace(kind: PackageKind, segment: &str) -> String {
    match kind {
        PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm | PackageKind::Npm => segment.to_lowercase(),
        PackageKind::Pypi | PackageKind::Golang | PackageKind::Cargo => segment.to_owned(),
    }
}

fn normalise_name(kind: PackageKind, name: &str) -> String {
    match kind {
        PackageKind::Deb | PackageKind::Apk | PackageKind::Npm => name.to_lowercase(),
        PackageKind::Pypi => pep503_name(name),
        PackageKind::Rpm | PackageKind::Golang | PackageKind::Cargo => name.to_owned(),
    }
}

/// Appends `text` percent-encoded: the spec's "allowed set" (ASCII letters, digits, `.-_~`)
/// and the colon stay, every other UTF-8 byte becomes `%XX` with uppercase hex.
fn encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distro(id: &str, version_id: Option<&str>, codename: Option<&str>) -> Distro {
        Distro {
            id: id.into(),
            version_id: version_id.map(Into::into),
            version_codename: codename.map(Into::into),
            pretty_name: None,
        }
    }

    /// The examples of the spec's type definitions (deb, apk, rpm, pypi, npm, golang, cargo),
    /// rebuilt from their components; the rpm example's qualifiers are sorted, as the spec's
    /// "How to build" requires of a canonical purl.
    #[test]
    fn the_specs_own_examples_are_rebuilt_exactly() {
        let i386_jessie = [("arch", "i386"), ("distro", "jessie")];
        assert_eq!(
            purl(PackageKind::Deb, Some("debian"), "curl", "7.50.3-1", &i386_jessie),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"
        );
        assert_eq!(
            purl(PackageKind::Deb, Some("ubuntu"), "dpkg", "1.19.0.4", &[("arch", "amd64")]),
            "pkg:deb/ubuntu/dpkg@1.19.0.4?arch=amd64"
        );
        assert_eq!(
            purl(PackageKind::Deb, Some("debian"), "attr", "1:2.4.47-2", &[("arch", "source")]),
            "pkg:deb/debian/attr@1:2.4.47-2?arch=source"
        );
        assert_eq!(
            purl(PackageKind::Deb, Some("debian"), "attr", "1:2.4.47-2+b1", &[("arch", "amd64")]),
            "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64"
        );
        assert_eq!(
            purl(PackageKind::Apk, Some("alpine"), "curl", "7.83.0-r0", &[("arch", "x86")]),
            "pkg:apk/alpine/curl@7.83.0-r0?arch=x86"
        );
        let fedora = [("arch", "i386"), ("distro", "fedora-25")];
        assert_eq!(
            purl(PackageKind::Rpm, Some("fedora"), "curl", "7.50.3-1.fc25", &fedora),
            "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&distro=fedora-25"
        );
        let epoch = [("arch", "i686"), ("epoch", "1"), ("distro", "fedora-25")];
        assert_eq!(
            purl(PackageKind::Rpm, None, "centerim", "4.22.10-1.el6", &epoch),
            "pkg:rpm/centerim@4.22.10-1.el6?arch=i686&distro=fedora-25&epoch=1"
        );
        assert_eq!(purl(PackageKind::Pypi, None, "django", "1.11.1", &[]), "pkg:pypi/django@1.11.1");
        assert_eq!(purl(PackageKind::Pypi, None, "django-allauth", "12.23", &[]), "pkg:pypi/django-allauth@12.23");
        assert_eq!(purl(PackageKind::Npm, None, "foobar", "12.3.1", &[]), "pkg:npm/foobar@12.3.1");
        assert_eq!(
            purl(PackageKind::Npm, Some("@angular"), "animation", "12.3.1", &[]),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            purl(PackageKind::Golang, Some("github.com/gorilla"), "context", "234fd47e07d1004f0aed9c", &[]),
            "pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c",
        );
        assert_eq!(purl(PackageKind::Cargo, None, "rand", "0.7.2", &[]), "pkg:cargo/rand@0.7.2");
    }

    #[test]
    fn the_colon_and_tilde_stay_and_other_punctuation_is_encoded() {
        assert_eq!(
            purl(
                PackageKind::Deb,
                Some("debian"),
                "openssl",
                "3.0.11-1~deb12u2",
                &[("arch", "amd64"), ("distro", "debian-12")]
            ),
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
        );
        assert_eq!(
            purl(PackageKind::Cargo, None, "a b", "1.0.0+build/5?x#y&z=%", &[]),
            "pkg:cargo/a%20b@1.0.0%2Bbuild%2F5%3Fx%23y%26z%3D%25",
        );
        assert_eq!(purl(PackageKind::Npm, None, "café", "1", &[]), "pkg:npm/caf%C3%A9@1");
    }

    #[test]
    fn qualifiers_are_sorted_by_lowercased_key_and_empty_values_dropped() {
        assert_eq!(
            purl(
                PackageKind::Apk,
                Some("alpine"),
                "musl",
                "1.2.4-r2",
                &[("distro", "alpine-3.18.4"), ("upstream", ""), ("ARCH", "x86_64")]
            ),
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4",
        );
        assert_eq!(
            purl(
                PackageKind::Deb,
                Some("debian"),
                "bsdutils",
                "1:2.38.1-5+deb12u3",
                &[("upstream", "util-linux@2.38.1-5+deb12u3")]
            ),
            "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?upstream=util-linux%402.38.1-5%2Bdeb12u3",
        );
        assert_eq!(purl(PackageKind::Deb, Some("debian"), "x", "1", &[("arch", "")]), "pkg:deb/debian/x@1");
    }

    #[test]
    fn each_type_applies_its_own_case_and_name_rules() {
        assert_eq!(purl(PackageKind::Pypi, None, "Zope.Interface__x", "5.0", &[]), "pkg:pypi/zope-interface-x@5.0");
        assert_eq!(purl(PackageKind::Deb, Some("Debian"), "LibFoo", "1", &[]), "pkg:deb/debian/libfoo@1");
        assert_eq!(
            purl(PackageKind::Rpm, Some("Fedora"), "NetworkManager", "1.0-1", &[]),
            "pkg:rpm/fedora/NetworkManager@1.0-1"
        );
        assert_eq!(purl(PackageKind::Npm, Some("@Babel"), "Core", "7.0.0", &[]), "pkg:npm/%40babel/core@7.0.0");
        assert_eq!(
            purl(PackageKind::Golang, Some("github.com/Azure"), "go-autorest", "v14.2.0+incompatible", &[]),
            "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible",
        );
        assert_eq!(purl(PackageKind::Cargo, None, "Inflector", "0.11.4", &[]), "pkg:cargo/Inflector@0.11.4");
    }

    #[test]
    fn an_empty_version_and_stray_slashes_leave_no_trace() {
        assert_eq!(
            purl(PackageKind::Golang, Some("/google.golang.org/"), "/genproto/", "", &[]),
            "pkg:golang/google.golang.org/genproto"
        );
    }

    #[test]
    fn the_distro_qualifier_names_the_release_by_version_then_codename() {
        assert_eq!(distro_qualifier(&distro("debian", Some("12"), Some("bookworm"))), "debian-12");
        assert_eq!(distro_qualifier(&distro("ubuntu", Some("22.04"), Some("jammy"))), "ubuntu-22.04");
        assert_eq!(distro_qualifier(&distro("debian", None, Some("trixie"))), "debian-trixie");
        assert_eq!(distro_qualifier(&distro("arch", None, None)), "arch");
        assert_eq!(os_namespace(None, "debian"), "debian");
        assert_eq!(os_namespace(Some(&distro("ubuntu", None, None)), "debian"), "ubuntu");
    }
}
