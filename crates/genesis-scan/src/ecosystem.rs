//! Where an installed package is in OSV: its ecosystem string and the name its records use.
//!
//! The ecosystems and their naming rules are the OSV schema's ("Defined ecosystems" in
//! `docs/schema.md` of ossf/osv-schema): Debian and Ubuntu records are keyed by source
//! package, Alpine's by origin (its source), PyPI names are PEP 503-normalised, Go's standard
//! library is the module `stdlib`. The release suffixes follow the records osv.dev exports:
//! `Debian:12`, `Ubuntu:22.04:LTS` (the `:LTS` suffix is mandatory for LTS releases, which
//! are the even years' `.04`), `Alpine:v3.18`, `Red Hat:enterprise_linux:9::appstream`,
//! `Rocky Linux:9`, `AlmaLinux:9`, `openSUSE:Leap 15.5`, `Mageia:9`, `Photon OS:5.0`,
//! `Azure Linux:3`. A distribution whose packages OSV covers only partly or under product
//! names /etc/os-release does not give (SUSE Linux Enterprise's modules, openEuler's
//! service packs) gets no ecosystem, so that the scan says it was not checked rather than
//! pass it on a partial match.

use std::borrow::Cow;

use genesis_inventory::{Distro, Package, PackageKind};

/// The OSV ecosystem of a package of `kind` in an image of `distro`: `PyPI`, `npm`, `Go`,
/// `crates.io` whatever the distribution; for a distribution's own packages the release's
/// ecosystem (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.18`, `Rocky Linux:9`...), or `None`
/// when the distribution is unknown or has none in OSV.
///
/// Red Hat's is a prefix: its records name a product stream after it
/// (`Red Hat:enterprise_linux:9::appstream`, `…::baseos`), and all of them match.
///
/// ```
/// use genesis_inventory::{Distro, PackageKind};
/// use genesis_scan::osv_ecosystem;
///
/// let bookworm = Distro { id: "debian".into(), version_id: Some("12".into()), version_codename: None, pretty_name: None };
/// assert_eq!(osv_ecosystem(PackageKind::Deb, Some(&bookworm)).as_deref(), Some("Debian:12"));
/// assert_eq!(osv_ecosystem(PackageKind::Pypi, None).as_deref(), Some("PyPI"));
/// ```
pub fn osv_ecosystem(kind: PackageKind, distro: Option<&Distro>) -> Option<String> {
    match kind {
        PackageKind::Pypi => Some("PyPI".into()),
        PackageKind::Npm => Some("npm".into()),
        PackageKind::Golang => Some("Go".into()),
        PackageKind::Cargo => Some("crates.io".into()),
        PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm => distribution(kind, distro?),
    }
}

/// The release ecosystem of a distribution's packages.
fn distribution(kind: PackageKind, distro: &Distro) -> Option<String> {
    let id = distro.id.trim().to_ascii_lowercase();
    let version = distro.version_id.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let mut parts = version.unwrap_or("").split('.');
    let major = parts.next().filter(|p| digits(p.trim()));
    let minor = parts.next().filter(|p| digits(p.trim()));
    match (kind, id.as_str()) {
        (PackageKind::Deb, "debian") => Some(format!("Debian:{}", major?)),
        (PackageKind::Deb, "ubuntu") => {
            let (year, month) = (major?, minor?);
            let lts = month == "04" && year.parse::<u32>().is_ok_and(|y| y % 2 == 0);
            Some(if lts { format!("Ubuntu:{year}.{month}:LTS") } else { format!("Ubuntu:{year}.{month}") })
        }
        (PackageKind::Apk, "alpine") => Some(format!("Alpine:v{}.{}", major?, minor?)),
        (PackageKind::Apk, "wolfi") => Some("Wolfi".into()),
        (PackageKind::Apk, "chainguard") => Some("Chainguard".into()),
        (PackageKind::Rpm, "rhel") => Some(format!("Red Hat:enterprise_linux:{}", major?)),
        (PackageKind::Rpm, "rocky") => Some(format!("Rocky Linux:{}", major?)),
        (PackageKind::Rpm, "almalinux") => Some(format!("AlmaLinux:{}", major?)),
        (PackageKind::Rpm, "opensuse-leap") => Some(format!("openSUSE:Leap {}.{}", major?, minor?)),
        (PackageKind::Rpm, "opensuse-tumbleweed") => Some("openSUSE:Tumbleweed".into()),
        (PackageKind::Rpm, "mageia") => Some(format!("Mageia:{}", major?)),
        (PackageKind::Rpm, "photon") => Some(format!("Photon OS:{}.{}", major?, minor.unwrap_or("0"))),
        (PackageKind::Rpm, "azurelinux") => Some(format!("Azure Linux:{}", major?)),
        _ => None,
    }
}

/// The ecosystems [`osv_ecosystem`] can name, by the part before the first `:`: records of
/// any other ecosystem (Maven, NuGet, the Linux kernel...) can match no package here.
const MATCHED: [&str; 16] = [
    "AlmaLinux",
    "Alpine",
    "Azure Linux",
    "Chainguard",
    "crates.io",
    "Debian",
    "Go",
    "Mageia",
    "npm",
    "openSUSE",
    "Photon OS",
    "PyPI",
    "Red Hat",
    "Rocky Linux",
    "Ubuntu",
    "Wolfi",
];

/// The part of an ecosystem string before its first `:` (`Debian` of `Debian:12`).
pub(crate) fn base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// Whether records of `ecosystem` can match any package a scan sees. Ubuntu Pro's
/// (`Ubuntu:Pro:22.04:LTS`, fixes for subscribers) cannot: an image's os-release does not
/// say it has Pro's packages.
pub(crate) fn is_matched(ecosystem: &str) -> bool {
    MATCHED.contains(&base(ecosystem)) && !ecosystem.starts_with("Ubuntu:Pro:")
}

/// Whether a record's `ecosystem` is the `wanted` one [`osv_ecosystem`] named: equal, or
/// `wanted` followed by a `:` and a stream (Red Hat's `…:9` matches `…:9::appstream`).
pub(crate) fn matches(ecosystem: &str, wanted: &str) -> bool {
    ecosystem.strip_prefix(wanted).is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
}

/// The name a record of `ecosystem` would give the package `name`: PEP 503-normalised for
/// PyPI ([`genesis_inventory::pep503_name`], as in the package's purl), as written elsewhere.
/// Applied to records' names and packages' names alike.
pub(crate) fn normalize_name<'a>(ecosystem: &str, name: &'a str) -> Cow<'a, str> {
    if base(ecosystem) != "PyPI" {
        return Cow::Borrowed(name);
    }
    Cow::Owned(genesis_inventory::pep503_name(name))
}

/// The names to look `package` up by in `ecosystem`, normalised: Debian, Ubuntu and Alpine
/// key their records by source package (the binary's name when it states none); RPM
/// distributions and Wolfi key them by source or binary name depending on the
/// distribution, so both are tried.
pub(crate) fn lookup_names<'a>(ecosystem: &str, package: &'a Package) -> Vec<Cow<'a, str>> {
    // A source field written as `openssl (3.0.11-1)` (dpkg's form, when the versions
    // differ) names the package `openssl`.
    let source = package.source.as_deref().and_then(|s| s.split_whitespace().next()).filter(|s| !s.is_empty());
    let names: Vec<&str> = match (package.kind, base(ecosystem)) {
        (PackageKind::Deb | PackageKind::Apk, "Debian" | "Ubuntu" | "Alpine") => {
            vec![source.unwrap_or(package.name.as_str())]
        }
        (PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm, _) => match source {
            Some(source) if source != package.name => vec![package.name.as_str(), source],
            _ => vec![package.name.as_str()],
        },
        _ => vec![package.name.as_str()],
    };
    names.into_iter().map(|name| normalize_name(ecosystem, name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distro(id: &str, version: Option<&str>) -> Distro {
        Distro { id: id.into(), version_id: version.map(Into::into), version_codename: None, pretty_name: None }
    }

    fn ecosystem(kind: PackageKind, id: &str, version: Option<&str>) -> Option<String> {
        osv_ecosystem(kind, Some(&distro(id, version)))
    }

    #[test]
    fn distributions_map_to_their_release_ecosystems() {
        use PackageKind::{Apk, Deb, Rpm};
        for (kind, id, version, expected) in [
            (Deb, "debian", Some("12"), "Debian:12"),
            (Deb, "debian", Some("11"), "Debian:11"),
            (Deb, "ubuntu", Some("22.04"), "Ubuntu:22.04:LTS"),
            (Deb, "ubuntu", Some("24.04"), "Ubuntu:24.04:LTS"),
            (Deb, "ubuntu", Some("23.10"), "Ubuntu:23.10"),
            (Deb, "ubuntu", Some("23.04"), "Ubuntu:23.04"),
            (Apk, "alpine", Some("3.18.4"), "Alpine:v3.18"),
            (Apk, "alpine", Some("3.20.0"), "Alpine:v3.20"),
            (Apk, "wolfi", Some("20230201"), "Wolfi"),
            (Rpm, "rhel", Some("9.3"), "Red Hat:enterprise_linux:9"),
            (Rpm, "rocky", Some("9.3"), "Rocky Linux:9"),
            (Rpm, "almalinux", Some("8.9"), "AlmaLinux:8"),
            (Rpm, "opensuse-leap", Some("15.5"), "openSUSE:Leap 15.5"),
            (Rpm, "mageia", Some("9"), "Mageia:9"),
            (Rpm, "photon", Some("5.0"), "Photon OS:5.0"),
            (Rpm, "azurelinux", Some("3.0"), "Azure Linux:3"),
        ] {
            assert_eq!(ecosystem(kind, id, version).as_deref(), Some(expected), "{id} {version:?}");
        }
    }

    #[test]
    fn a_distribution_without_an_osv_ecosystem_or_version_gets_none() {
        assert_eq!(ecosystem(PackageKind::Rpm, "fedora", Some("39")), None);
        assert_eq!(ecosystem(PackageKind::Rpm, "sles", Some("15.5")), None);
        assert_eq!(ecosystem(PackageKind::Deb, "debian", None), None);
        assert_eq!(ecosystem(PackageKind::Apk, "alpine", Some("edge")), None);
        assert_eq!(osv_ecosystem(PackageKind::Deb, None), None);
        // dpkg packages in an Alpine image are not Alpine's
        assert_eq!(ecosystem(PackageKind::Deb, "alpine", Some("3.18.4")), None);
    }

    #[test]
    fn language_ecosystems_do_not_depend_on_the_distribution() {
        let d = distro("alpine", Some("3.18.4"));
        assert_eq!(osv_ecosystem(PackageKind::Pypi, Some(&d)).as_deref(), Some("PyPI"));
        assert_eq!(osv_ecosystem(PackageKind::Npm, None).as_deref(), Some("npm"));
        assert_eq!(osv_ecosystem(PackageKind::Golang, None).as_deref(), Some("Go"));
        assert_eq!(osv_ecosystem(PackageKind::Cargo, None).as_deref(), Some("crates.io"));
    }

    #[test]
    fn pypi_names_are_pep_503_normalised() {
        assert_eq!(normalize_name("PyPI", "Jinja2"), "jinja2");
        assert_eq!(normalize_name("PyPI", "zope.interface"), "zope-interface");
        assert_eq!(normalize_name("PyPI", "Typing__Extensions"), "typing-extensions");
        assert_eq!(normalize_name("PyPI", "a-_.b"), "a-b");
        assert_eq!(normalize_name("npm", "@Scope/Name"), "@Scope/Name");
    }

    #[test]
    fn an_ecosystem_matches_itself_and_its_streams_only() {
        assert!(matches("Debian:12", "Debian:12"));
        assert!(!matches("Debian:12", "Debian:1"));
        assert!(!matches("Debian:11", "Debian:12"));
        assert!(matches("Red Hat:enterprise_linux:9::appstream", "Red Hat:enterprise_linux:9"));
        assert!(!matches("Red Hat:enterprise_linux:10::appstream", "Red Hat:enterprise_linux:1"));
        assert!(!matches("Ubuntu:Pro:22.04:LTS", "Ubuntu:22.04:LTS"));
        assert!(is_matched("Ubuntu:22.04:LTS") && is_matched("PyPI"));
        assert!(!is_matched("Ubuntu:Pro:22.04:LTS") && !is_matched("Maven"));
    }

    fn package(kind: PackageKind, name: &str, source: Option<&str>) -> Package {
        Package {
            kind,
            name: name.into(),
            version: "1".into(),
            source: source.map(Into::into),
            arch: None,
            licenses: Vec::new(),
            purl: String::new(),
            found_in: String::new(),
            layer: String::new(),
        }
    }

    #[test]
    fn debian_packages_are_looked_up_by_source_and_rpm_by_both_names() {
        let libssl = package(PackageKind::Deb, "libssl3", Some("openssl"));
        assert_eq!(lookup_names("Debian:12", &libssl), ["openssl"]);
        let dpkg_form = package(PackageKind::Deb, "libssl3", Some("openssl (3.0.11-1)"));
        assert_eq!(lookup_names("Debian:12", &dpkg_form), ["openssl"]);
        let curl = package(PackageKind::Apk, "curl", None);
        assert_eq!(lookup_names("Alpine:v3.18", &curl), ["curl"]);
        let libs = package(PackageKind::Rpm, "openssl-libs", Some("openssl"));
        assert_eq!(lookup_names("Rocky Linux:9", &libs), ["openssl-libs", "openssl"]);
        let pypi = package(PackageKind::Pypi, "Jinja2", None);
        assert_eq!(lookup_names("PyPI", &pypi), ["jinja2"]);
    }
}
