//! Matching an image's packages against the database: which records affect which installed
//! version, and the lowest version that fixes it.
//!
//! A version is affected when it is listed in an affected package's `versions`, or inside
//! one of its ranges by the OSV schema's evaluation (`docs/schema.md`, "Evaluation"): below
//! a `limit` when the range has any (`*` is no limit), then decided by the greatest event at
//! or below it in the range's order, an `introduced` (`"0"`: before every version) making it
//! affected, a `fixed` or an exceeded `last_affected` not. That greatest event is found in
//! one pass instead of by sorting, so a comparison that is not a total order (a hostile
//! record's versions) cannot make the scan panic. `ECOSYSTEM` ranges are ordered by the
//! package's ecosystem ([`crate::version`]), `SEMVER` ranges by SemVer 2.0 precedence (Go's
//! `v1.2.3` and toolchain `go1.22.1` read as `1.2.3` and `1.22.1`), `GIT` ranges not at all:
//! a scan knows versions, not commits.

use std::cmp::Ordering;
use std::collections::btree_map::Entry as Slot;
use std::collections::{BTreeMap, BTreeSet};

use genesis_inventory::{Distro, Package, PackageKind};

use crate::database::{AffectedPackage, Database, Rating, Vuln};
use crate::osv::{Event, RangeKind, cmp_ratings};
use crate::{Finding, ecosystem, version};

/// What a scan of one image found, and what it could not judge: no package is skipped
/// without a sentence saying so.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// Known vulnerabilities of the image's packages, most severe first, then by ID, then by
    /// package. A finding's `package` is the installed package's name (the binary package
    /// for distributions, whose records name the source); `fixed` is the lowest fixed
    /// version above the installed one, `None` when the record names none (no fix
    /// available).
    pub findings: Vec<Finding>,
    /// Packages the database has records for whose ranges could not be evaluated: the
    /// installed version is not one its ecosystem can order (it was matched against listed
    /// versions only), or a record's range bound is not. One sentence per package and
    /// cause, naming the records.
    pub unordered: Vec<String>,
    /// Packages not looked up at all, one sentence per kind of package and cause: the
    /// image's distribution has no OSV ecosystem (or the image names none), or the database
    /// holds no record of the ecosystem, so it cannot have checked them.
    pub unscanned: Vec<String>,
}

/// Matches `packages` (of the image `image`, whose distribution is `distro`) against `db`.
///
/// ```no_run
/// # fn main() -> Result<(), genesis_scan::ScanError> {
/// use genesis_scan::{Database, scan};
///
/// let db = Database::open(&["/media/osv/Debian/all.zip".into()])?;
/// let result = scan(&db, "registry.example/app:1.0 (linux/amd64)", None, &[]);
/// assert!(result.findings.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn scan(db: &Database, image: &str, distro: Option<&Distro>, packages: &[Package]) -> Scan {
    let mut found: BTreeMap<(String, String, String), Finding> = BTreeMap::new();
    let mut unordered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut without_ecosystem: BTreeMap<PackageKind, usize> = BTreeMap::new();
    let mut not_in_database: BTreeMap<(String, PackageKind), usize> = BTreeMap::new();
    for package in packages {
        let Some(wanted) = ecosystem::osv_ecosystem(package.kind, distro) else {
            *without_ecosystem.entry(package.kind).or_default() += 1;
            continue;
        };
        if !db.has_ecosystem(&wanted) {
            *not_in_database.entry((wanted, package.kind)).or_default() += 1;
            continue;
        }
        for name in ecosystem::lookup_names(&wanted, package) {
            for (vuln, affected) in db.candidates(&wanted, &name) {
                match judge(package, affected) {
                    Judgement::Affected { fixed } => {
                        add(&mut found, image, package, vuln, db.severity(vuln, affected), fixed);
                    }
                    Judgement::Unaffected => {}
                    Judgement::Unordered(why) => {
                        let sentence = format!(
                            "{image}: {} package {} {}: {why}",
                            package.kind.purl_type(),
                            package.name,
                            package.version
                        );
                        unordered.entry(sentence).or_default().insert(vuln.id.to_string());
                    }
                }
            }
        }
    }

    let mut findings: Vec<Finding> = found.into_values().collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.purl.cmp(&b.purl))
    });
    let unordered = unordered
        .into_iter()
        .map(|(sentence, ids)| {
            format!("{sentence}; not evaluated against {}", ids.into_iter().collect::<Vec<_>>().join(", "))
        })
        .collect();
    let mut unscanned = Vec::new();
    for (kind, count) in without_ecosystem {
        let why = match distro {
            None => "the image names no distribution (no /etc/os-release)".to_owned(),
            Some(d) => format!(
                "its distribution ({} {}) has no OSV ecosystem this scan matches",
                d.id,
                d.version_id.as_deref().unwrap_or("without VERSION_ID")
            ),
        };
        unscanned.push(format!("{image}: {count} {} package(s) not checked: {why}", kind.purl_type()));
    }
    for ((wanted, kind), count) in not_in_database {
        unscanned.push(format!(
            "{image}: {count} {} package(s) not checked: the database holds no record of ecosystem {wanted} (carry its all.zip)",
            kind.purl_type()
        ));
    }
    Scan { findings, unordered, unscanned }
}

/// Records a finding of `vuln` rated `rating`, merging it with one of the same record for
/// the same package (a record listing the package under two streams, or found by source and
/// binary name): the lowest fix and the highest severity, with where it came from, stand.
fn add(
    found: &mut BTreeMap<(String, String, String), Finding>,
    image: &str,
    package: &Package,
    vuln: &Vuln,
    rating: Rating<'_>,
    fixed: Option<String>,
) {
    match found.entry((vuln.id.to_string(), package.name.clone(), package.purl.clone())) {
        Slot::Vacant(slot) => {
            slot.insert(Finding {
                id: vuln.id.to_string(),
                aliases: vuln.aliases.iter().map(|a| a.to_string()).collect(),
                package: package.name.clone(),
                kind: package.kind,
                installed: package.version.clone(),
                fixed,
                severity: rating.severity,
                score: rating.score,
                severity_from: rating.from.map(str::to_owned),
                image: image.to_owned(),
                purl: package.purl.clone(),
                summary: vuln.summary.as_deref().map(str::to_owned),
            });
        }
        Slot::Occupied(mut slot) => {
            let finding = slot.get_mut();
            finding.fixed = lower_fix(package.kind, finding.fixed.take(), fixed);
            if cmp_ratings((rating.severity, rating.score), (finding.severity, finding.score)).is_gt() {
                finding.severity = rating.severity;
                finding.score = rating.score;
                finding.severity_from = rating.from.map(str::to_owned);
            }
        }
    }
}

/// The lower of two fixes (either when only one is known).
fn lower_fix(kind: PackageKind, a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let b_lower = if version::is_valid(kind, &a) && version::is_valid(kind, &b) {
                version::compare(kind, &b, &a).is_lt()
            } else {
                semver_version(kind, &a)
                    .zip(semver_version(kind, &b))
                    .is_some_and(|(a, b)| b.cmp_precedence(&a).is_lt())
            };
            Some(if b_lower { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

/// Whether one affected package covers an installed version.
enum Judgement {
    /// It does; fixed from this version on, when one is known.
    Affected { fixed: Option<String> },
    /// It does not.
    Unaffected,
    /// It is not listed, and a range could not be evaluated: why.
    Unordered(String),
}

/// Whether `affected` covers `package`'s installed version.
fn judge(package: &Package, affected: &AffectedPackage) -> Judgement {
    let installed = package.version.as_str();
    let mut hit = false;
    let mut lowest_fix: Option<(Key<'_>, &str)> = None;
    let mut problem: Option<String> = None;
    for range in affected.ranges.iter() {
        let scheme = Scheme::of(range.kind, package.kind);
        let Some(at) = scheme.key(installed) else {
            if problem.is_none() {
                problem = Some(format!("the version is not a valid {} version", scheme.name()));
            }
            continue;
        };
        match evaluate(scheme, &at, &range.events) {
            Ok(outcome) => {
                hit |= outcome.affected;
                if let Some((key, text)) = outcome.next_fix
                    && lowest_fix.as_ref().is_none_or(|(lowest, _)| compare(&key, lowest).is_lt())
                {
                    lowest_fix = Some((key, text));
                }
            }
            Err(bound) => {
                if problem.is_none() {
                    problem =
                        Some(format!("a record's range bound {bound:?} is not a valid {} version", scheme.name()));
                }
            }
        }
    }
    if !hit && !affected.versions.is_empty() {
        hit = listed(package.kind, installed, &affected.versions);
    }
    match (hit, problem) {
        (true, _) => Judgement::Affected { fixed: lowest_fix.map(|(_, text)| text.to_owned()) },
        (false, Some(problem)) => Judgement::Unordered(problem),
        (false, None) => Judgement::Unaffected,
    }
}

/// Whether `installed` is one of `versions`: the same string, or equal by the ecosystem's
/// ordering or by semver (`1.0` and `1.0.0` under PEP 440; Go's `v1.2.3` and OSV's `1.2.3`).
fn listed(kind: PackageKind, installed: &str, versions: &[Box<str>]) -> bool {
    let valid = version::is_valid(kind, installed);
    let as_semver = semver_version(kind, installed);
    versions.iter().any(|entry| {
        let entry: &str = entry;
        entry == installed
            || (valid && version::is_valid(kind, entry) && version::compare(kind, entry, installed).is_eq())
            || as_semver.as_ref().zip(semver_version(kind, entry)).is_some_and(|(a, b)| a.cmp_precedence(&b).is_eq())
    })
}

/// How a range's versions are ordered.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    /// By the ecosystem's own rules.
    Ecosystem(PackageKind),
    /// By SemVer 2.0 precedence (the kind says how to read Go's versions).
    Semver(PackageKind),
}

/// A version placed in a scheme's order.
#[derive(Debug)]
enum Key<'a> {
    /// `introduced: "0"`: before every version.
    Zero,
    /// A version its ecosystem accepts.
    Ecosystem(PackageKind, &'a str),
    /// A semantic version.
    Semver(semver::Version),
}

impl Scheme {
    fn of(range: RangeKind, kind: PackageKind) -> Scheme {
        if range == RangeKind::Semver { Scheme::Semver(kind) } else { Scheme::Ecosystem(kind) }
    }

    /// `text` in this order, when it is a version of it.
    fn key(self, text: &str) -> Option<Key<'_>> {
        match self {
            Scheme::Ecosystem(kind) => version::is_valid(kind, text).then_some(Key::Ecosystem(kind, text)),
            Scheme::Semver(kind) => semver_version(kind, text).map(Key::Semver),
        }
    }

    /// An `introduced` bound: `"0"` or a version.
    fn introduced(self, text: &str) -> Option<Key<'_>> {
        if text == "0" { Some(Key::Zero) } else { self.key(text) }
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Semver(_) => "SemVer 2.0",
            Scheme::Ecosystem(PackageKind::Deb) => "dpkg",
            Scheme::Ecosystem(PackageKind::Apk) => "apk",
            Scheme::Ecosystem(PackageKind::Rpm) => "rpm",
            Scheme::Ecosystem(PackageKind::Pypi) => "PEP 440",
            Scheme::Ecosystem(PackageKind::Npm | PackageKind::Cargo) => "semver",
            Scheme::Ecosystem(PackageKind::Golang) => "Go module",
        }
    }
}

/// Orders two keys of one scheme (keys of two schemes never meet: they compare equal).
fn compare(a: &Key<'_>, b: &Key<'_>) -> Ordering {
    match (a, b) {
        (Key::Zero, Key::Zero) => Ordering::Equal,
        (Key::Zero, _) => Ordering::Less,
        (_, Key::Zero) => Ordering::Greater,
        (Key::Ecosystem(kind, a), Key::Ecosystem(_, b)) => version::compare(*kind, a, b),
        (Key::Semver(a), Key::Semver(b)) => a.cmp_precedence(b),
        _ => Ordering::Equal,
    }
}

/// A range's verdict on one version.
struct Outcome<'a> {
    affected: bool,
    /// The lowest `fixed` above the version.
    next_fix: Option<(Key<'a>, &'a str)>,
}

/// Evaluates the range `events` at the version `at` (see the module's documentation); a
/// bound that is not a version of `scheme` comes back as the error.
fn evaluate<'a>(scheme: Scheme, at: &Key<'a>, events: &'a [Event]) -> Result<Outcome<'a>, &'a str> {
    let mut limits = events
        .iter()
        .filter_map(|e| match e {
            Event::Limit(v) => Some(v.as_str()),
            _ => None,
        })
        .peekable();
    if limits.peek().is_some() {
        let mut below = false;
        for limit in limits {
            if limit.contains('*') {
                below = true;
                break;
            }
            if compare(at, &scheme.key(limit).ok_or(limit)?).is_lt() {
                below = true;
                break;
            }
        }
        if !below {
            return Ok(Outcome { affected: false, next_fix: None });
        }
    }
    // The greatest event that applies decides (the later of equal ones, as a stable sort
    // would leave it last).
    let mut last: Option<(Key<'a>, bool)> = None;
    let mut next_fix: Option<(Key<'a>, &'a str)> = None;
    for event in events {
        let (text, introduces) = match event {
            Event::Introduced(v) => (v.as_str(), true),
            Event::Fixed(v) | Event::LastAffected(v) => (v.as_str(), false),
            Event::Limit(_) => continue,
        };
        let parsed = if introduces { scheme.introduced(text) } else { scheme.key(text) };
        let bound = parsed.ok_or(text)?;
        let order = compare(&bound, at);
        let applies = if matches!(event, Event::LastAffected(_)) { order.is_lt() } else { order.is_le() };
        if applies {
            if last.as_ref().is_none_or(|(greatest, _)| compare(&bound, greatest).is_ge()) {
                last = Some((bound, introduces));
            }
        } else if matches!(event, Event::Fixed(_))
            && next_fix.as_ref().is_none_or(|(lowest, _)| compare(&bound, lowest).is_lt())
        {
            next_fix = Some((bound, text));
        }
    }
    Ok(Outcome { affected: last.is_some_and(|(_, introduces)| introduces), next_fix })
}

/// `text` as a semantic version: a leading `v` dropped (Go's module versions), and for Go a
/// toolchain version (`go1.22.1`, `go1.21`, `go1.21rc2`) read as the Go vulnerability
/// database writes it (`1.22.1`, `1.21.0`, `1.21.0-rc.2`).
fn semver_version(kind: PackageKind, text: &str) -> Option<semver::Version> {
    let text = text.trim();
    let bare = text.strip_prefix('v').unwrap_or(text);
    match semver::Version::parse(bare) {
        Ok(version) => Some(version),
        Err(_) if kind == PackageKind::Golang => semver::Version::parse(&go_release(bare)?).ok(),
        Err(_) => None,
    }
}

/// A Go toolchain version (`go1.21rc2`) in semver form (`1.21.0-rc.2`).
fn go_release(text: &str) -> Option<String> {
    let text = text.strip_prefix("go").unwrap_or(text);
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (numbers, pre) = text.split_at(split);
    let mut parts: Vec<&str> = numbers.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    parts.resize(3, "0");
    let mut release = parts.join(".");
    if !pre.is_empty() {
        let (word, number) = pre.split_at(pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len()));
        if word.is_empty()
            || !word.bytes().all(|b| b.is_ascii_lowercase())
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        release = if number.is_empty() { format!("{release}-{word}") } else { format!("{release}-{word}.{number}") };
    }
    Some(release)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::Severity;
    use crate::database::testdata;

    fn package(kind: PackageKind, name: &str, version: &str, source: Option<&str>) -> Package {
        Package {
            kind,
            name: name.into(),
            version: version.into(),
            source: source.map(Into::into),
            arch: None,
            licenses: Vec::new(),
            purl: format!("pkg:{}/{name}@{version}", kind.purl_type()),
            found_in: String::new(),
            layer: String::new(),
        }
    }

    fn distro(id: &str, version: &str) -> Distro {
        Distro { id: id.into(), version_id: Some(version.into()), version_codename: None, pretty_name: None }
    }

    /// The packages of a Debian 12 image: openssl's binaries at a vulnerable version, plus
    /// Python, npm and Go packages, some vulnerable, some at their fixed version.
    fn bookworm_packages() -> Vec<Package> {
        vec![
            package(PackageKind::Deb, "libssl3", "3.0.11-1~deb12u1", Some("openssl")),
            package(PackageKind::Deb, "openssl", "3.0.11-1~deb12u1", None),
            package(PackageKind::Deb, "curl", "7.88.1-10+deb12u5", None),
            package(PackageKind::Pypi, "Jinja2", "3.1.2", None),
            package(PackageKind::Npm, "semver", "7.5.1", None),
            package(PackageKind::Npm, "semver", "6.3.1", None),
            package(PackageKind::Golang, "stdlib", "go1.22.1", None),
            package(PackageKind::Golang, "golang.org/x/net", "v0.17.0", None),
        ]
    }

    /// (id, package, fixed, severity) of each finding, in order.
    fn summary(scan: &Scan) -> Vec<(&str, &str, Option<&str>, Severity)> {
        scan.findings.iter().map(|f| (f.id.as_str(), f.package.as_str(), f.fixed.as_deref(), f.severity)).collect()
    }

    fn expected_bookworm() -> Vec<(&'static str, &'static str, Option<&'static str>, Severity)> {
        vec![
            ("DSA-5532-1", "libssl3", Some("3.0.11-1~deb12u2"), Severity::High),
            ("DSA-5532-1", "openssl", Some("3.0.11-1~deb12u2"), Severity::High),
            ("GHSA-c2qf-rxjj-qqgw", "semver", Some("7.5.2"), Severity::High),
            ("GHSA-h5c8-rqwp-cp95", "Jinja2", Some("3.1.3"), Severity::Medium),
            ("DEBIAN-CVE-2024-2511", "libssl3", None, Severity::Low),
            ("DEBIAN-CVE-2024-2511", "openssl", None, Severity::Low),
            ("GO-2024-2687", "golang.org/x/net", Some("0.23.0"), Severity::Unknown),
            ("GO-2024-2687", "stdlib", Some("1.22.2"), Severity::Unknown),
        ]
    }

    #[test]
    fn a_debian_image_is_matched_by_source_package_ecosystem_and_range() {
        let db = Database::open(&[testdata::records_dir()]).unwrap();
        let result = scan(&db, "app:1 (linux/amd64)", Some(&distro("debian", "12")), &bookworm_packages());
        assert_eq!(summary(&result), expected_bookworm());
        assert!(result.unordered.is_empty(), "{:?}", result.unordered);
        assert!(result.unscanned.is_empty(), "{:?}", result.unscanned);

        let dsa = &result.findings[0];
        assert_eq!(dsa.score, Some(7.5));
        assert_eq!(dsa.aliases, ["CVE-2023-5363"]);
        assert_eq!(dsa.installed, "3.0.11-1~deb12u1");
        assert_eq!(dsa.image, "app:1 (linux/amd64)");
        assert_eq!(dsa.purl, "pkg:deb/libssl3@3.0.11-1~deb12u1");
        assert_eq!(dsa.summary.as_deref(), Some("openssl - security update"));
        let jinja = result.findings.iter().find(|f| f.id == "GHSA-h5c8-rqwp-cp95").unwrap();
        assert_eq!(jinja.score, Some(5.4));
        assert_eq!(jinja.aliases, ["CVE-2024-22195"]);
    }

    /// A Debian advisory as osv.dev exports it (no severity, its CVE in `upstream`), and the
    /// CVE's record as osv.dev converts it from NVD (no package, a GIT range, NVD's vector),
    /// the latter in another export: the finding takes the CVE's severity and says so.
    #[test]
    fn an_advisory_without_severity_takes_its_cves_from_another_export_and_says_so() {
        let root = tempfile::tempdir().unwrap();
        let (debian, nvd) = (root.path().join("debian"), root.path().join("nvd"));
        std::fs::create_dir_all(&debian).unwrap();
        std::fs::create_dir_all(&nvd).unwrap();
        let dsa = serde_json::json!({
            "schema_version": "1.7.0", "id": "DSA-9001-1", "modified": "2024-05-02T00:00:00Z",
            "summary": "glibc - security update", "upstream": ["CVE-2024-1234"],
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": "glibc", "purl": "pkg:deb/debian/glibc?arch=source"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u7"}]}]
            }]
        });
        let cve = serde_json::json!({
            "id": "CVE-2024-1234", "modified": "2024-05-01T00:00:00Z",
            "affected": [{"ranges": [{"type": "GIT", "repo": "https://sourceware.org/git/glibc.git",
                                      "events": [{"introduced": "0"}, {"fixed": "f9dc6090"}]}]}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]
        });
        std::fs::write(debian.join("DSA-9001-1.json"), dsa.to_string()).unwrap();
        std::fs::write(nvd.join("CVE-2024-1234.json"), cve.to_string()).unwrap();
        let export = root.path().join("nvd.zip");
        testdata::zip_dir(&nvd, &export);
        let db = Database::open(&[debian, export]).unwrap();
        let packages = [package(PackageKind::Deb, "libc6", "2.36-9+deb12u4", Some("glibc"))];
        let result = scan(&db, "app:1", Some(&distro("debian", "12")), &packages);
        assert_eq!(summary(&result), [("DSA-9001-1", "libc6", Some("2.36-9+deb12u7"), Severity::High)]);
        assert_eq!(result.findings[0].score, Some(7.5));
        assert_eq!(result.findings[0].severity_from.as_deref(), Some("CVE-2024-1234"));
    }

    #[test]
    fn the_same_records_zipped_as_an_osv_export_give_the_same_findings() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("all.zip");
        testdata::zip_dir(&testdata::records_dir(), &zip);
        let db = Database::open(&[zip]).unwrap();
        let result = scan(&db, "app:1 (linux/amd64)", Some(&distro("debian", "12")), &bookworm_packages());
        assert_eq!(summary(&result), expected_bookworm());
    }

    #[test]
    fn an_alpine_image_is_matched_by_origin_in_its_release() {
        let db = Database::open(&[testdata::records_dir()]).unwrap();
        let packages = [
            package(PackageKind::Apk, "libcrypto3", "3.1.4-r0", Some("openssl")),
            package(PackageKind::Apk, "libssl3", "3.1.4-r1", Some("openssl")),
        ];
        let result = scan(&db, "alpine:3.18", Some(&distro("alpine", "3.18.4")), &packages);
        assert_eq!(summary(&result), [("ALPINE-CVE-2023-5678", "libcrypto3", Some("3.1.4-r1"), Severity::Medium)]);
        assert_eq!(result.findings[0].score, Some(5.3));
        // Another Alpine release's packages are not matched against 3.18's records.
        let other = scan(&db, "alpine:3.17", Some(&distro("alpine", "3.17.0")), &packages);
        assert!(other.findings.is_empty());
        assert_eq!(other.unscanned.len(), 1, "{:?}", other.unscanned);
        assert!(other.unscanned[0].contains("Alpine:v3.17"), "{}", other.unscanned[0]);
    }

    #[test]
    fn packages_without_a_distribution_are_reported_not_checked() {
        let db = Database::open(&[testdata::records_dir()]).unwrap();
        let result = scan(&db, "scratch-app", None, &bookworm_packages()[..3]);
        assert!(result.findings.is_empty());
        assert_eq!(
            result.unscanned,
            ["scratch-app: 3 deb package(s) not checked: the image names no distribution (no /etc/os-release)"]
        );
    }

    #[test]
    fn a_version_the_ecosystem_cannot_order_is_reported_not_skipped() {
        let db = Database::open(&[testdata::records_dir()]).unwrap();
        let packages = [package(PackageKind::Pypi, "jinja2", "not a version!", None)];
        let result = scan(&db, "app", None, &packages);
        assert!(result.findings.is_empty());
        assert_eq!(result.unordered.len(), 1, "{:?}", result.unordered);
        assert!(result.unordered[0].contains("jinja2 not a version!"), "{}", result.unordered[0]);
        assert!(result.unordered[0].ends_with("not evaluated against GHSA-h5c8-rqwp-cp95"), "{}", result.unordered[0]);
    }

    /// The bench's shape at a smaller size, untimed: an export of 70 000 records (past zip's
    /// 65 535 entries, so Python writes zip64 end records) against 2 000 packages.
    #[test]
    fn a_zip64_export_of_70_000_records_matches_2_000_packages() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("all.zip");
        testdata::python(
            "import json, sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for i in range(70000):\n\
             \x20       events = [{'introduced': '0'}, {'fixed': '2.0.%d' % (i % 7)}]\n\
             \x20       record = {'id': 'GHSA-bulk-%05d' % i, 'modified': '2024-01-01T00:00:00Z',\n\
             \x20                 'affected': [{'package': {'ecosystem': 'npm', 'name': 'pkg-%d' % (i % 2000)},\n\
             \x20                               'ranges': [{'type': 'SEMVER', 'events': events}]}]}\n\
             \x20       z.writestr('GHSA-bulk-%05d.json' % i, json.dumps(record))\n",
            &[&zip],
        );
        let bytes = std::fs::read(&zip).unwrap();
        assert!(bytes.windows(4).any(|w| w == b"PK\x06\x06"), "the archive has a zip64 end record");
        let db = Database::open(&[zip]).unwrap();
        assert_eq!(db.records(), 70_000);
        let packages: Vec<Package> =
            (0..2000).map(|i| package(PackageKind::Npm, &format!("pkg-{i}"), "1.0.0", None)).collect();
        let result = scan(&db, "bulk", None, &packages);
        assert_eq!(result.findings.len(), 70_000);
        assert!(result.findings.iter().all(|f| f.fixed.as_deref().is_some_and(|v| v.starts_with("2.0."))));
    }

    fn events(list: &[(&str, &str)]) -> Vec<Event> {
        list.iter()
            .map(|(kind, v)| match *kind {
                "introduced" => Event::Introduced((*v).into()),
                "fixed" => Event::Fixed((*v).into()),
                "last_affected" => Event::LastAffected((*v).into()),
                _ => Event::Limit((*v).into()),
            })
            .collect()
    }

    /// Whether `version` is in the SEMVER range `list`, and its next fix.
    fn in_range(list: &[(&str, &str)], version: &str) -> (bool, Option<String>) {
        let scheme = Scheme::Semver(PackageKind::Npm);
        let events = events(list);
        let at = scheme.key(version).unwrap();
        let outcome = evaluate(scheme, &at, &events).unwrap();
        (outcome.affected, outcome.next_fix.map(|(_, text)| text.to_owned()))
    }

    #[test]
    fn ranges_evaluate_as_the_osv_schema_says() {
        let all = [("introduced", "0")];
        assert_eq!(in_range(&all, "0.0.1"), (true, None));
        let two = [("introduced", "1.0.0"), ("fixed", "1.0.2"), ("introduced", "3.0.0"), ("fixed", "3.2.5")];
        assert_eq!(in_range(&two, "0.9.0"), (false, Some("1.0.2".into())));
        assert_eq!(in_range(&two, "1.0.0"), (true, Some("1.0.2".into())));
        assert_eq!(in_range(&two, "1.0.2"), (false, Some("3.2.5".into())));
        assert_eq!(in_range(&two, "3.1.0"), (true, Some("3.2.5".into())));
        assert_eq!(in_range(&two, "3.2.5"), (false, None));
        // Events in any order evaluate the same.
        let shuffled = [("fixed", "3.2.5"), ("introduced", "3.0.0"), ("fixed", "1.0.2"), ("introduced", "1.0.0")];
        assert_eq!(in_range(&shuffled, "3.1.0"), (true, Some("3.2.5".into())));
        assert_eq!(in_range(&shuffled, "2.0.0"), (false, Some("3.2.5".into())));
        let last_affected = [("introduced", "0"), ("last_affected", "2.1.214")];
        assert_eq!(in_range(&last_affected, "2.1.214"), (true, None));
        assert_eq!(in_range(&last_affected, "2.1.215"), (false, None));
        let limited = [("introduced", "1.0.0"), ("limit", "2.0.0")];
        assert_eq!(in_range(&limited, "1.5.0"), (true, None));
        assert_eq!(in_range(&limited, "2.0.0"), (false, None));
        let unlimited = [("introduced", "1.0.0"), ("limit", "*")];
        assert_eq!(in_range(&unlimited, "9.0.0"), (true, None));
        // Prereleases sort before their release.
        assert_eq!(in_range(&[("introduced", "0"), ("fixed", "2.0.0")], "2.0.0-rc.1"), (true, Some("2.0.0".into())));
    }

    #[test]
    fn a_bound_that_is_not_a_version_is_an_error_not_a_guess() {
        let scheme = Scheme::Semver(PackageKind::Npm);
        let list = events(&[("introduced", "0"), ("fixed", "next-week")]);
        let at = scheme.key("1.0.0").unwrap();
        assert_eq!(evaluate(scheme, &at, &list).err(), Some("next-week"));
    }

    #[test]
    fn go_versions_read_as_the_go_vulnerability_database_writes_them() {
        let v = |text| semver_version(PackageKind::Golang, text).map(|v| v.to_string());
        assert_eq!(v("v1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(v("go1.22.1").as_deref(), Some("1.22.1"));
        assert_eq!(v("go1.20").as_deref(), Some("1.20.0"));
        assert_eq!(v("go1.21rc2").as_deref(), Some("1.21.0-rc.2"));
        assert_eq!(v("v0.0.0-20230101000000-abcdef123456").as_deref(), Some("0.0.0-20230101000000-abcdef123456"));
        assert_eq!(v("(devel)"), None);
        assert_eq!(semver_version(PackageKind::Npm, "go1.22.1"), None);
    }

    #[test]
    fn listed_versions_match_by_the_ecosystems_equality() {
        let versions: Vec<Box<str>> = vec!["1.2.3".into(), "2.0".into()];
        assert!(listed(PackageKind::Golang, "v1.2.3", &versions));
        assert!(listed(PackageKind::Pypi, "2.0.0", &versions));
        assert!(!listed(PackageKind::Pypi, "2.0.1", &versions));
    }

    #[test]
    fn of_two_fixes_the_lower_stands() {
        let fix = |a: Option<&str>, b: Option<&str>| lower_fix(PackageKind::Deb, a.map(Into::into), b.map(Into::into));
        assert_eq!(fix(Some("1.2-1"), Some("1.10-1")).as_deref(), Some("1.2-1"));
        assert_eq!(fix(Some("1.10-1"), Some("1.2-1")).as_deref(), Some("1.2-1"));
        assert_eq!(fix(None, Some("1.2-1")).as_deref(), Some("1.2-1"));
        assert_eq!(fix(None, None), None);
    }
}
