//! The OSV database a scan matches against, loaded from what was carried across the gap:
//! directories of OSV JSON records and OSV's per-ecosystem `all.zip` exports, in any mix.
//!
//! Records are parsed on every core (one job per file or zip entry), and only what
//! matching needs is kept: for each affected package of an ecosystem a scan can name
//! (`ecosystem::is_matched`), its ranges, listed versions and severity; the record's id,
//! aliases and headline. Withdrawn records are skipped but still date the database. Every
//! size is capped before it is read ([`DatabaseLimits`]): a zip entry declaring more than
//! the record limit is refused without inflating it, and one inflating past what it
//! declares is refused one byte later.
//!
//! A record may state no severity: Debian's (`DSA-…`, `DLA-…`, `DEBIAN-CVE-…`) never do,
//! leaving it to the CVE. Such a record takes the highest severity stated for an ID it names
//! in `aliases` or `upstream`, across every input (the CVE's record may sit in another export
//! than the advisory), by the records of that vulnerability as published for it: the record
//! of that ID (the CVE's own, which osv.dev converts from NVD), and the distribution records
//! whose only upstream is that ID (`DEBIAN-CVE-…`, `UBUNTU-CVE-…`: OSV's `upstream` field was
//! added for distributions' records of an upstream vulnerability, ossf/osv-schema#249). A
//! distribution's record is one whose every package is of a Linux distribution's ecosystem
//! (Debian, Ubuntu, Alpine, Red Hat, Rocky Linux, AlmaLinux, openSUSE...: those a scan names,
//! less the languages'); any other record with one upstream (a PyPI advisory of the CVE of a
//! C library it bundles) rates its own packages, not the vulnerability, and lends nothing.
//! Borrowing never lowers a record's own severity, but it turns an unknown one, which fails
//! the gate, into one that may pass, so weak evidence does not count: not another
//! ecosystem's advisory that merely gives the ID as an alias (a GHSA of a Python binding
//! rates the binding, not the C library a Debian advisory fixes), nor a `related` ID (the
//! record of another vulnerability). One hop only: what a record found that way names in
//! turn is not followed, since aliases are not clean in the wild (records alias several CVEs,
//! osv.dev's alias sets merge them) and every further hop would spread one vulnerability's
//! score over others. A record's own packages do not rate each other this way. The finding
//! says which record its severity came from. To stay within memory, loading keeps each rated
//! record's ID, its only upstream and its severity (no JSON, no aliases: at most two names a
//! record, whatever it aliases), and the merge then keeps only the names some record without
//! a severity asks for.

mod zip;

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use genesis_inventory::PackageKind;
use sha2::{Digest, Sha256};

use crate::osv::{self, Event, EventFields, RangeKind, Record, cmp_ratings};
use crate::{ScanError, Severity, ecosystem};

/// Bounds on what a database may make us read, against corrupt or hostile archives. Each
/// default is well above what OSV's own exports need (a record is rarely over a megabyte,
/// and the largest exports hold some hundred thousand records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseLimits {
    /// Largest record: a JSON file, or a zip entry once inflated. Default 16 MiB.
    pub max_record_size: u64,
    /// Largest total of all records, inflated. Default 16 GiB.
    pub max_total_size: u64,
    /// Most records (JSON files and zip entries) in all. Default 4 000 000.
    pub max_records: u64,
}

impl Default for DatabaseLimits {
    fn default() -> DatabaseLimits {
        DatabaseLimits { max_record_size: 16 << 20, max_total_size: 16 << 30, max_records: 4_000_000 }
    }
}

/// An OSV database, indexed by ecosystem and package name for matching.
#[derive(Debug)]
pub struct Database {
    /// Records with at least one package a scan can match, sorted by id.
    vulns: Vec<Vuln>,
    /// (ecosystem before its first `:`, package name as normalised) → (vuln, affected) indexes.
    index: HashMap<(String, String), Vec<(usize, usize)>>,
    /// Every ecosystem string of the affected packages kept.
    ecosystems: BTreeSet<String>,
    /// The severities stated by the records known by each ID that a kept record without a
    /// severity names (see the module's documentation).
    stated: HashMap<Box<str>, Vec<Stated>>,
    records: usize,
    newest_modified: Option<String>,
    digest: String,
}

/// A record as matching needs it.
#[derive(Debug)]
pub(crate) struct Vuln {
    pub(crate) id: Box<str>,
    /// Its aliases, sorted, and its `upstream` ID when it has one only (a `DEBIAN-CVE-…` is
    /// its `CVE-…`). Not the upstream IDs of an advisory of many CVEs (an RHSA, a DSA of
    /// several): an exception for one of them must not except the advisory.
    pub(crate) aliases: Box<[Box<str>]>,
    pub(crate) summary: Option<Box<str>>,
    pub(crate) affected: Box<[AffectedPackage]>,
    /// Every ID it names as itself (aliases and upstream), sorted: where a package of it
    /// without a severity takes one from. Empty when all its packages have a severity.
    pub(crate) links: Box<[Box<str>]>,
}

/// One affected package of a record.
#[derive(Debug)]
pub(crate) struct AffectedPackage {
    /// The ecosystem as the record writes it (`Debian:12`, `Red Hat:…::appstream`).
    pub(crate) ecosystem: Box<str>,
    /// The name, normalised for the ecosystem (PEP 503 for PyPI).
    pub(crate) name: Box<str>,
    /// Its `SEMVER` and `ECOSYSTEM` ranges (`GIT` ranges need a repository's history).
    pub(crate) ranges: Box<[VersionRange]>,
    /// Versions listed as affected.
    pub(crate) versions: Box<[Box<str>]>,
    pub(crate) severity: Severity,
    pub(crate) score: Option<f32>,
}

/// A severity a record states, kept for the records that name it and state none.
#[derive(Debug, Clone)]
struct Stated {
    /// The record's ID.
    id: Box<str>,
    severity: Severity,
    score: Option<f32>,
}

impl Stated {
    /// Whether this outranks `other`: a higher severity, then a higher score, then the lower
    /// ID, so that the choice does not depend on the order the records were read in.
    fn outranks(&self, other: &Stated) -> bool {
        cmp_ratings((self.severity, self.score), (other.severity, other.score))
            .then_with(|| other.id.cmp(&self.id))
            .is_gt()
    }
}

/// A record's stated severity as loading keeps it, with the one other name it lends it
/// under: its only upstream, when it is a distribution's record of that vulnerability
/// ([`lent_under`]). Its aliases are not kept: a record does not lend under them, and
/// osv.dev's merged alias sets run to hundreds of IDs a record.
#[derive(Debug)]
struct Rated {
    stated: Stated,
    upstream: Option<Box<str>>,
}

impl Rated {
    /// `record` rated `severity` with `score`, when that is a severity, lending it under
    /// `upstream` too.
    fn new(record: &Record, (severity, score): (Severity, Option<f32>), upstream: Option<Box<str>>) -> Option<Rated> {
        (severity != Severity::Unknown)
            .then(|| Rated { stated: Stated { id: record.id.as_str().into(), severity, score }, upstream })
    }
}

/// A finding's severity, and the record it was taken from when not the matched one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rating<'a> {
    pub(crate) severity: Severity,
    pub(crate) score: Option<f32>,
    /// The ID of the record the severity was taken from (`CVE-2024-1234`).
    pub(crate) from: Option<&'a str>,
}

/// A range of affected versions, ordered by semver or by the ecosystem's own rules.
#[derive(Debug)]
pub(crate) struct VersionRange {
    /// `Semver` or `Ecosystem`.
    pub(crate) kind: RangeKind,
    pub(crate) events: Box<[Event]>,
}

impl Database {
    /// Loads the database from `paths`: directories (searched recursively for `*.json`
    /// records and `*.zip` exports) and files (`*.json`, `*.zip`), with the default
    /// [`DatabaseLimits`].
    pub fn open(paths: &[PathBuf]) -> Result<Database, ScanError> {
        Database::open_with_limits(paths, &DatabaseLimits::default())
    }

    /// [`Database::open`] with other limits.
    pub fn open_with_limits(paths: &[PathBuf], limits: &DatabaseLimits) -> Result<Database, ScanError> {
        let inputs = plan(paths, limits)?;
        let jobs = jobs(&inputs);
        let threads = thread::available_parallelism().map_or(1, NonZero::get).min(jobs.len()).max(1);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let outcomes: Vec<Result<Loaded, (usize, ScanError)>> = thread::scope(|scope| {
            let workers: Vec<_> =
                (0..threads).map(|_| scope.spawn(|| work(&inputs, &jobs, &next, &failed, limits))).collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        // Jobs are taken in order, so every job before a failed one ran: the first failure
        // reported is the same whatever the threads' timing.
        let mut parts = Vec::with_capacity(outcomes.len());
        let mut first_failure: Option<(usize, ScanError)> = None;
        for outcome in outcomes {
            match outcome {
                Ok(loaded) => parts.push(loaded),
                Err((job, error)) => {
                    if first_failure.as_ref().is_none_or(|(first, _)| job < *first) {
                        first_failure = Some((job, error));
                    }
                }
            }
        }
        if let Some((_, error)) = first_failure {
            return Err(error);
        }
        let database = Database::merge(&inputs, parts);
        if database.newest_modified.is_none() {
            return Err(ScanError::EmptyDatabase { paths: paths.to_vec() });
        }
        Ok(database)
    }

    /// The newest `modified` time of any record read (withdrawn ones included), RFC 3339:
    /// how old the database is.
    pub fn newest_modified(&self) -> Option<&str> {
        self.newest_modified.as_deref()
    }

    /// `sha256:` and the hex SHA-256 of the database's input files: each file's SHA-256
    /// (32 bytes; a JSON record, or a whole zip archive), concatenated in the order of the
    /// files' paths relative to the directory given (a file given itself counts by its
    /// name), and hashed again. It names what was scanned against, wherever it sits on disk.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    /// How many records were read, withdrawn ones not counted.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The affected packages of the ecosystem `wanted` (as [`crate::osv_ecosystem`] names
    /// it) called `name` (normalised by `ecosystem::normalize_name`), with their records.
    pub(crate) fn candidates(&self, wanted: &str, name: &str) -> Vec<(&Vuln, &AffectedPackage)> {
        let key = (ecosystem::base(wanted).to_owned(), name.to_owned());
        self.index
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|&(v, a)| {
                let vuln = self.vulns.get(v)?;
                let affected = vuln.affected.get(a)?;
                ecosystem::matches(&affected.ecosystem, wanted).then_some((vuln, affected))
            })
            .collect()
    }

    /// Whether any record kept is of the ecosystem `wanted` (as [`crate::osv_ecosystem`]
    /// names it): a database without the ecosystem of an image's packages cannot have
    /// checked them.
    pub(crate) fn has_ecosystem(&self, wanted: &str) -> bool {
        self.ecosystems.iter().any(|e| ecosystem::matches(e, wanted))
    }

    /// The severity of `affected` in `vuln`: its own, else the highest stated for an ID `vuln`
    /// names by the record of that ID or a distribution record whose only upstream it is,
    /// other than `vuln` itself (see the module's documentation), with that record's ID; else
    /// unknown.
    pub(crate) fn severity<'a>(&'a self, vuln: &Vuln, affected: &AffectedPackage) -> Rating<'a> {
        if affected.severity != Severity::Unknown {
            return Rating { severity: affected.severity, score: affected.score, from: None };
        }
        let best = vuln
            .links
            .iter()
            .filter_map(|id| self.stated.get(&**id))
            .flatten()
            .filter(|stated| stated.id != vuln.id)
            .reduce(|best, stated| if stated.outranks(best) { stated } else { best });
        match best {
            Some(stated) => Rating { severity: stated.severity, score: stated.score, from: Some(&*stated.id) },
            None => Rating { severity: Severity::Unknown, score: None, from: None },
        }
    }

    /// The database from the workers' parts: records sorted by id (the workers' order
    /// varies), then indexed.
    fn merge(inputs: &[Input], parts: Vec<Loaded>) -> Database {
        let mut vulns = Vec::new();
        let mut rated = Vec::with_capacity(parts.len());
        let mut records = 0;
        let mut newest_modified: Option<String> = None;
        let mut digests = Vec::new();
        for part in parts {
            vulns.extend(part.vulns);
            rated.push(part.rated);
            records += part.records;
            digests.extend(part.digests);
            if let Some(modified) = part.newest
                && newest_modified.as_deref().is_none_or(|n| osv::cmp_timestamps(&modified, n).is_gt())
            {
                newest_modified = Some(modified);
            }
        }
        vulns.sort_by(|a, b| (&a.id, &a.aliases, &a.summary).cmp(&(&b.id, &b.aliases, &b.summary)));
        // Before the index is built, so that the loaded severities are freed first.
        let stated = stated_severities(&vulns, rated);
        let mut index: HashMap<(String, String), Vec<(usize, usize)>> = HashMap::new();
        let mut ecosystems = BTreeSet::new();
        for (v, vuln) in vulns.iter().enumerate() {
            for (a, affected) in vuln.affected.iter().enumerate() {
                let key = (ecosystem::base(&affected.ecosystem).to_owned(), affected.name.to_string());
                index.entry(key).or_default().push((v, a));
                if !ecosystems.contains(&*affected.ecosystem) {
                    ecosystems.insert(affected.ecosystem.to_string());
                }
            }
        }
        let mut named: Vec<(&str, [u8; 32])> =
            digests.into_iter().filter_map(|(i, digest)| Some((inputs.get(i)?.name(), digest))).collect();
        named.sort_unstable();
        let mut hasher = Sha256::new();
        for (_, digest) in &named {
            hasher.update(digest);
        }
        let digest = format!("sha256:{}", hex(&hasher.finalize()));
        Database { vulns, index, ecosystems, stated, records, newest_modified, digest }
    }
}

/// The severities stated under each ID that a record in `vulns` links to, by the rated
/// record of that ID and the distributions' records whose only upstream it is; the rest of
/// `rated` is dropped.
fn stated_severities(vulns: &[Vuln], rated: Vec<Vec<Rated>>) -> HashMap<Box<str>, Vec<Stated>> {
    let wanted: HashSet<&str> = vulns.iter().flat_map(|vuln| vuln.links.iter().map(|id| &**id)).collect();
    let mut stated: HashMap<Box<str>, Vec<Stated>> = HashMap::new();
    for Rated { stated: record, upstream } in rated.into_iter().flatten() {
        for name in std::iter::once(&record.id).chain(upstream.as_ref()) {
            if wanted.contains(&**name) {
                stated.entry(name.clone()).or_default().push(record.clone());
            }
        }
    }
    for sources in stated.values_mut() {
        sources.shrink_to_fit();
    }
    stated
}

/// The other names of `record`'s vulnerability, sorted: its aliases, and its `upstream` ID
/// when it has one only (a `DEBIAN-CVE-…` is its `CVE-…`). Not the upstream IDs of an
/// advisory of many CVEs (an RHSA, a DSA of several): it is none of them alone.
fn other_names(record: &Record) -> Vec<Box<str>> {
    sorted_ids(record, record.aliases.iter().chain(sole_upstream(record)))
}

/// The `upstream` ID of `record` when it names one only: the vulnerability a distribution's
/// record (`DEBIAN-CVE-…`, `UBUNTU-CVE-…`) is of.
fn sole_upstream(record: &Record) -> Option<&String> {
    match record.upstream.as_slice() {
        [only] => Some(only),
        _ => None,
    }
}

/// The name besides its own that `record`, whose packages are `entries`, lends its severity
/// under: its only upstream, when it is a distribution's record of that vulnerability, every
/// package of it of a distribution's ecosystem ([`is_distribution`]). Not a language
/// ecosystem's record with one upstream (a PyPI advisory of the CVE of a C library it bundles
/// rates the binding, not the library), nor a record naming no package (a CVE's own record
/// lends under its ID).
fn lent_under(record: &Record, entries: &[osv::Affected]) -> Option<Box<str>> {
    let upstream = sole_upstream(record).filter(|upstream| **upstream != record.id)?;
    let distribution = !entries.is_empty()
        && entries.iter().all(|entry| entry.package.as_ref().is_some_and(|p| is_distribution(&p.ecosystem)));
    distribution.then(|| upstream.as_str().into())
}

/// Whether the ecosystem `name` is a Linux distribution's (`Debian:12`, `Ubuntu:Pro:22.04:LTS`,
/// `Red Hat:enterprise_linux:9::appstream`): by its part before the first `:`, one a scan
/// names ([`ecosystem::is_matched`]; Ubuntu Pro's streams are Ubuntu's), and not a
/// language's, which [`ecosystem::osv_ecosystem`] names without a distribution.
fn is_distribution(name: &str) -> bool {
    let base = ecosystem::base(name);
    ecosystem::is_matched(base)
        && !PackageKind::ALL
            .into_iter()
            .filter_map(|kind| ecosystem::osv_ecosystem(kind, None))
            .any(|language| language == base)
}

/// Every ID `record` names as itself: its aliases and upstream IDs, sorted. Not its
/// `related` IDs, which are of other vulnerabilities.
fn links(record: &Record) -> Vec<Box<str>> {
    sorted_ids(record, record.aliases.iter().chain(&record.upstream))
}

/// `ids` other than `record`'s own, sorted, each once.
fn sorted_ids<'a>(record: &Record, ids: impl Iterator<Item = &'a String>) -> Vec<Box<str>> {
    let mut ids: Vec<Box<str>> = ids.filter(|id| **id != record.id).map(|id| id.as_str().into()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What loading keeps of `record`: what matching needs (`None` when none of its packages is
/// of an ecosystem a scan can name), and the highest severity it states for any package or
/// for itself alone, for the records that state none (`None` when it states none either).
/// Each package's severity is computed once, for both.
fn keep(mut record: Record) -> (Option<Vuln>, Option<Rated>) {
    let entries = std::mem::take(&mut record.affected);
    let upstream = lent_under(&record, &entries);
    // A package without scores of its own is rated at least as the record alone is (it has
    // the record's scores and ratings, and maybe ratings of its own), so the record alone
    // counts only when there is no such package (a GitHub advisory may name none).
    let mut stated = if entries.iter().all(|entry| !entry.severity.is_empty()) {
        record.severity_of(&osv::Affected::default())
    } else {
        (Severity::Unknown, None)
    };
    let mut affected = Vec::new();
    for entry in entries {
        let rating = record.severity_of(&entry);
        if cmp_ratings(rating, stated).is_gt() {
            stated = rating;
        }
        affected.extend(AffectedPackage::new(entry, rating));
    }
    let rated = Rated::new(&record, stated, upstream);
    (Vuln::new(record, affected.into_boxed_slice()), rated)
}

impl Vuln {
    /// `record` with its `affected` packages a scan can match, or `None` when there are none.
    fn new(record: Record, affected: Box<[AffectedPackage]>) -> Option<Vuln> {
        if affected.is_empty() {
            return None;
        }
        let unrated = affected.iter().any(|a| a.severity == Severity::Unknown);
        Some(Vuln {
            summary: record.headline().map(String::into_boxed_str),
            aliases: other_names(&record).into_boxed_slice(),
            links: if unrated { links(&record).into_boxed_slice() } else { Box::default() },
            id: record.id.into_boxed_str(),
            affected,
        })
    }
}

impl AffectedPackage {
    /// The package of `entry`, rated `severity` with `score`, when a scan can match it: of an
    /// ecosystem a scan names, with a range it can evaluate or versions listed.
    fn new(entry: osv::Affected, (severity, score): (Severity, Option<f32>)) -> Option<AffectedPackage> {
        let package = entry.package.as_ref()?;
        if !ecosystem::is_matched(&package.ecosystem) {
            return None;
        }
        let osv::Affected { package, ranges, versions, .. } = entry;
        let package = package?;
        let ranges: Box<[VersionRange]> = ranges
            .into_iter()
            .filter(|range| matches!(range.kind, RangeKind::Semver | RangeKind::Ecosystem))
            .map(|range| VersionRange {
                kind: range.kind,
                events: range.events.into_iter().filter_map(EventFields::event).collect(),
            })
            .collect();
        if ranges.is_empty() && versions.is_empty() {
            return None;
        }
        Some(AffectedPackage {
            name: ecosystem::normalize_name(&package.ecosystem, &package.name).into_owned().into_boxed_str(),
            ecosystem: package.ecosystem.into_boxed_str(),
            ranges,
            versions: versions.into_iter().map(String::into_boxed_str).collect(),
            severity,
            score,
        })
    }
}

/// A file the database is read from.
#[derive(Debug)]
enum Input {
    /// One OSV record.
    Json {
        path: PathBuf,
        /// Its path relative to the directory given, or its file name.
        name: String,
    },
    /// An OSV export: one record per `*.json` entry.
    Zip {
        path: PathBuf,
        /// Its path relative to the directory given, or its file name.
        name: String,
        /// Its length, when planned.
        len: u64,
        /// Its `*.json` entries.
        entries: Vec<zip::Entry>,
    },
}

impl Input {
    fn name(&self) -> &str {
        match self {
            Input::Json { name, .. } | Input::Zip { name, .. } => name,
        }
    }
}

/// The input files under `paths`, with every size checked against `limits` (a zip
/// archive's from its central directory, before any entry is inflated).
fn plan(paths: &[PathBuf], limits: &DatabaseLimits) -> Result<Vec<Input>, ScanError> {
    let mut planner = Planner { limits, inputs: Vec::new(), records: 0, total: 0 };
    for path in paths {
        let meta = fs::metadata(path).map_err(io_error("reading", path))?;
        if meta.is_dir() {
            planner.walk(path)?;
        } else {
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
            if !planner.add(path, name, meta.len())? {
                return Err(ScanError::Input {
                    path: path.clone(),
                    reason: "neither a directory of OSV records, an OSV JSON record (*.json) nor an OSV export (*.zip)"
                        .into(),
                });
            }
        }
    }
    Ok(planner.inputs)
}

/// Collects input files, counting records and bytes against the limits.
struct Planner<'a> {
    limits: &'a DatabaseLimits,
    inputs: Vec<Input>,
    records: u64,
    total: u64,
}

impl Planner<'_> {
    /// Every `*.json` and `*.zip` under `root`, in path order. Symbolic links to files are
    /// followed; to directories, not (a loop would never end).
    fn walk(&mut self, root: &Path) -> Result<(), ScanError> {
        let mut directories = vec![root.to_path_buf()];
        while let Some(directory) = directories.pop() {
            let mut children = Vec::new();
            for entry in fs::read_dir(&directory).map_err(io_error("listing", &directory))? {
                let entry = entry.map_err(io_error("listing", &directory))?;
                children.push((entry.path(), entry.file_type().map_err(io_error("reading", &entry.path()))?));
            }
            children.sort_by(|a, b| a.0.cmp(&b.0));
            for (path, kind) in children {
                if kind.is_dir() {
                    directories.push(path);
                    continue;
                }
                let meta = fs::metadata(&path).map_err(io_error("reading", &path))?;
                if meta.is_file() {
                    let name = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                    self.add(&path, name, meta.len())?;
                }
            }
        }
        Ok(())
    }

    /// Adds `path` (`len` bytes) when it is a `*.json` record or a `*.zip` export, and
    /// says whether it was.
    fn add(&mut self, path: &Path, name: String, len: u64) -> Result<bool, ScanError> {
        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("json") => {
                self.count(path, None, len)?;
                self.inputs.push(Input::Json { path: path.to_owned(), name });
            }
            Some("zip") => {
                let mut file = File::open(path).map_err(io_error("opening", path))?;
                let allowed = self.limits.max_records.saturating_sub(self.records);
                let entries = zip::entries(&mut file, len, allowed).map_err(|e| self.zip_error(path, None, e))?;
                let entries: Vec<zip::Entry> =
                    entries.into_iter().filter(|e| e.name.to_ascii_lowercase().ends_with(".json")).collect();
                for entry in &entries {
                    self.count(path, Some(&entry.name), entry.size)?;
                }
                self.inputs.push(Input::Zip { path: path.to_owned(), name, len, entries });
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Counts one record of `size` bytes against the limits.
    fn count(&mut self, path: &Path, entry: Option<&str>, size: u64) -> Result<(), ScanError> {
        let over = |what, actual, limit| ScanError::LimitExceeded {
            path: path.to_owned(),
            entry: entry.map(str::to_owned),
            what,
            actual,
            limit,
        };
        if size > self.limits.max_record_size {
            return Err(over("the record's size in bytes", size, self.limits.max_record_size));
        }
        self.records += 1;
        if self.records > self.limits.max_records {
            return Err(over("the number of records read", self.records, self.limits.max_records));
        }
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_total_size {
            return Err(over("the database's size in bytes so far", self.total, self.limits.max_total_size));
        }
        Ok(())
    }

    fn zip_error(&self, path: &Path, entry: Option<&str>, error: zip::ZipError) -> ScanError {
        zip_error(path, entry, error, self.limits)
    }
}

/// A zip reader's failure as a `ScanError` naming the archive and entry.
fn zip_error(path: &Path, entry: Option<&str>, error: zip::ZipError, limits: &DatabaseLimits) -> ScanError {
    let entry = entry.map(str::to_owned);
    match error {
        zip::ZipError::Io(source) => ScanError::Io { action: "reading", path: path.to_owned(), source },
        zip::ZipError::Corrupt(reason) => ScanError::Zip { path: path.to_owned(), entry, reason },
        zip::ZipError::TooManyEntries(count) => ScanError::LimitExceeded {
            path: path.to_owned(),
            entry,
            what: "the number of records read",
            actual: count,
            limit: limits.max_records,
        },
    }
}

/// One unit of loading work.
#[derive(Debug, Clone, Copy)]
enum Job {
    /// Hash the zip archive `inputs[i]`.
    Hash(usize),
    /// Read the JSON record `inputs[i]`.
    Json(usize),
    /// Read entry `e` of the zip archive `inputs[i]`.
    Entry(usize, usize),
}

/// The jobs for `inputs`, each archive's hashing first so it overlaps its entries' parsing.
fn jobs(inputs: &[Input]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match input {
            Input::Json { .. } => jobs.push(Job::Json(i)),
            Input::Zip { entries, .. } => {
                jobs.push(Job::Hash(i));
                jobs.extend((0..entries.len()).map(|e| Job::Entry(i, e)));
            }
        }
    }
    jobs
}

/// What one worker read.
#[derive(Default)]
struct Loaded {
    vulns: Vec<Vuln>,
    /// The severities of the records that state one.
    rated: Vec<Rated>,
    records: usize,
    newest: Option<String>,
    /// (input index, SHA-256 of the file).
    digests: Vec<(usize, [u8; 32])>,
}

/// Takes jobs until none is left or one failed anywhere; a failure comes back with its
/// job's index.
fn work(
    inputs: &[Input],
    jobs: &[Job],
    next: &AtomicUsize,
    failed: &AtomicBool,
    limits: &DatabaseLimits,
) -> Result<Loaded, (usize, ScanError)> {
    let mut loaded = Loaded::default();
    let mut archives: HashMap<usize, File> = HashMap::new();
    let mut buffer = Vec::new();
    while !failed.load(Ordering::Relaxed) {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(&job) = jobs.get(n) else { break };
        let done = match (job, job_input(inputs, job)) {
            (Job::Hash(i), Some(input)) => hash_file(input_path(input)).map(|digest| loaded.digests.push((i, digest))),
            (Job::Json(i), Some(Input::Json { path, .. })) => read_json(path, limits, &mut buffer).and_then(|digest| {
                loaded.digests.push((i, digest));
                ingest(&buffer, path, None, &mut loaded)
            }),
            (Job::Entry(i, e), Some(Input::Zip { path, len, entries, .. })) => match entries.get(e) {
                Some(entry) => read_entry(&mut archives, i, path, *len, entry, limits, &mut buffer)
                    .and_then(|()| ingest(&buffer, path, Some(&entry.name), &mut loaded)),
                None => Ok(()),
            },
            _ => Ok(()),
        };
        if let Err(error) = done {
            failed.store(true, Ordering::Relaxed);
            return Err((n, error));
        }
    }
    Ok(loaded)
}

fn job_input(inputs: &[Input], job: Job) -> Option<&Input> {
    match job {
        Job::Hash(i) | Job::Json(i) | Job::Entry(i, _) => inputs.get(i),
    }
}

fn input_path(input: &Input) -> &Path {
    match input {
        Input::Json { path, .. } | Input::Zip { path, .. } => path,
    }
}

/// Reads the record file at `path` into `buffer` (at most the record limit) and returns
/// its SHA-256.
fn read_json(path: &Path, limits: &DatabaseLimits, buffer: &mut Vec<u8>) -> Result<[u8; 32], ScanError> {
    let file = File::open(path).map_err(io_error("opening", path))?;
    buffer.clear();
    file.take(limits.max_record_size.saturating_add(1)).read_to_end(buffer).map_err(io_error("reading", path))?;
    let size = buffer.len() as u64;
    if size > limits.max_record_size {
        // The file grew since it was planned.
        return Err(ScanError::LimitExceeded {
            path: path.to_owned(),
            entry: None,
            what: "the record's size in bytes",
            actual: size,
            limit: limits.max_record_size,
        });
    }
    Ok(Sha256::digest(buffer.as_slice()).into())
}

/// Reads `entry` of the archive `inputs[i]` at `path` into `buffer`, inflated, through this
/// worker's own handle on the archive.
fn read_entry(
    archives: &mut HashMap<usize, File>,
    i: usize,
    path: &Path,
    len: u64,
    entry: &zip::Entry,
    limits: &DatabaseLimits,
    buffer: &mut Vec<u8>,
) -> Result<(), ScanError> {
    let file = match archives.entry(i) {
        Slot::Occupied(slot) => slot.into_mut(),
        Slot::Vacant(slot) => slot.insert(File::open(path).map_err(io_error("opening", path))?),
    };
    zip::read(file, len, entry, buffer).map_err(|e| zip_error(path, Some(&entry.name), e, limits))
}

/// The SHA-256 of the file at `path`, read in 1 MiB pieces.
fn hash_file(path: &Path) -> Result<[u8; 32], ScanError> {
    let mut file = File::open(path).map_err(io_error("opening", path))?;
    let mut hasher = Sha256::new();
    let mut piece = vec![0; 1 << 20];
    loop {
        let n = match file.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("reading", path)(e)),
        };
        hasher.update(piece.get(..n).unwrap_or_default());
    }
    Ok(hasher.finalize().into())
}

/// Parses one record and keeps what matching needs of it.
fn ingest(bytes: &[u8], path: &Path, entry: Option<&str>, loaded: &mut Loaded) -> Result<(), ScanError> {
    let record = Record::from_slice(bytes).map_err(|source| ScanError::Malformed {
        path: path.to_owned(),
        entry: entry.map(str::to_owned),
        source,
    })?;
    record.validate().map_err(|reason| ScanError::InvalidRecord {
        path: path.to_owned(),
        entry: entry.map(str::to_owned),
        reason,
    })?;
    if loaded.newest.as_deref().is_none_or(|newest| osv::cmp_timestamps(&record.modified, newest).is_gt()) {
        loaded.newest = Some(record.modified.clone());
    }
    if record.withdrawn.is_some() {
        return Ok(());
    }
    loaded.records += 1;
    let (vuln, rated) = keep(record);
    loaded.vulns.extend(vuln);
    loaded.rated.extend(rated);
    Ok(())
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ScanError + use<> {
    let path = path.to_owned();
    move |source| ScanError::Io { action, path, source }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The test records and the zip archives the tests make of them, written by Python's
/// `zipfile`: an independent writer of the format.
#[cfg(test)]
pub(crate) mod testdata {
    #![allow(clippy::expect_used)]

    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// `tests/data/osv-records`: OSV records for the tests (see its README).
    pub(crate) fn records_dir() -> PathBuf {
        crate::fixtures::data("osv-records")
    }

    /// Runs the Python `script` with `args`.
    pub(crate) fn python(script: &str, args: &[&Path]) {
        let status =
            Command::new("python3").arg("-c").arg(script).args(args).status().expect(
                "python3 (Debian package python3) must run: the tests write zip archives with its zipfile module",
            );
        assert!(status.success(), "python3 failed running:\n{script}");
    }

    /// Zips the `*.json` files of `dir` into `zip`, deflated, as OSV's `all.zip` holds them.
    pub(crate) fn zip_dir(dir: &Path, zip: &Path) {
        python(
            "import pathlib, sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for p in sorted(pathlib.Path(sys.argv[1]).glob('*.json')):\n\
             \x20       z.write(p, p.name)\n",
            &[dir, zip],
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A copy of the test records' `*.json` files in a new directory.
    fn copy_records() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(testdata::records_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        dir
    }

    /// A database of `records`, each written as a file of a new directory.
    fn database_of(records: &[serde_json::Value]) -> Database {
        let dir = tempfile::tempdir().unwrap();
        for (i, record) in records.iter().enumerate() {
            fs::write(dir.path().join(format!("{i}.json")), record.to_string()).unwrap();
        }
        Database::open(&[dir.path().to_owned()]).unwrap()
    }

    /// A Debian advisory for glibc in Debian 12 naming `links` (a JSON object's fields, such
    /// as `upstream`), with `ecosystem_specific` for its package.
    fn advisory(id: &str, links: serde_json::Value, specific: serde_json::Value) -> serde_json::Value {
        let mut record = serde_json::json!({
            "id": id, "modified": "2024-05-02T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                          "ecosystem_specific": specific}]
        });
        record.as_object_mut().unwrap().extend(links.as_object().unwrap().clone());
        record
    }

    /// glibc in Debian 11 as an affected package, of the Debian `urgency` given.
    fn bullseye(urgency: &str) -> serde_json::Value {
        serde_json::json!({
            "package": {"ecosystem": "Debian:11", "name": "glibc"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            "ecosystem_specific": {"urgency": urgency}
        })
    }

    /// A CVE record as osv.dev converts it from NVD: no package, NVD's vector.
    fn cve(id: &str, vector: &str) -> serde_json::Value {
        serde_json::json!({
            "id": id, "modified": "2024-05-01T00:00:00Z",
            "affected": [{"ranges": [{"type": "GIT", "repo": "https://example.org/x.git",
                                      "events": [{"introduced": "0"}, {"fixed": "f9dc6090"}]}]}],
            "severity": [{"type": "CVSS_V3", "score": vector}]
        })
    }

    const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N";
    const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";

    /// The severity of the `affected`-th package of the record `id`, and where it came from.
    fn rating(db: &Database, id: &str, affected: usize) -> (Severity, Option<f32>, Option<String>) {
        let vuln = db.vulns.iter().find(|v| &*v.id == id).unwrap();
        let rating = db.severity(vuln, &vuln.affected[affected]);
        (rating.severity, rating.score, rating.from.map(str::to_owned))
    }

    #[test]
    fn a_record_without_severity_takes_the_highest_of_the_ids_it_names() {
        let db = database_of(&[
            advisory(
                "DSA-9001-1",
                serde_json::json!({"upstream": ["CVE-2024-1", "CVE-2024-2"]}),
                serde_json::json!({}),
            ),
            cve("CVE-2024-1", MEDIUM),
            cve("CVE-2024-2", CRITICAL),
        ]);
        assert_eq!(rating(&db, "DSA-9001-1", 0), (Severity::Critical, Some(9.8), Some("CVE-2024-2".into())));
    }

    /// A related record is of another vulnerability: its score is not this one's.
    #[test]
    fn aliases_are_named_too_and_related_ids_are_not_followed() {
        let db = database_of(&[
            advisory("DLA-9001-1", serde_json::json!({"aliases": ["CVE-2024-1"]}), serde_json::json!({})),
            advisory("DLA-9002-1", serde_json::json!({"related": ["CVE-2024-1"]}), serde_json::json!({})),
            cve("CVE-2024-1", MEDIUM),
        ]);
        assert_eq!(rating(&db, "DLA-9001-1", 0), (Severity::Medium, Some(5.3), Some("CVE-2024-1".into())));
        assert_eq!(rating(&db, "DLA-9002-1", 0), (Severity::Unknown, None, None));
    }

    #[test]
    fn a_record_with_a_severity_of_its_own_keeps_it() {
        let db = database_of(&[
            advisory(
                "DEBIAN-CVE-2024-2",
                serde_json::json!({"upstream": ["CVE-2024-2"]}),
                serde_json::json!({"urgency": "low"}),
            ),
            cve("CVE-2024-2", CRITICAL),
        ]);
        assert_eq!(rating(&db, "DEBIAN-CVE-2024-2", 0), (Severity::Low, None, None));
    }

    #[test]
    fn an_id_the_database_does_not_hold_leaves_the_severity_unknown() {
        let db = database_of(&[advisory(
            "DSA-9001-1",
            serde_json::json!({"upstream": ["CVE-2024-404"]}),
            serde_json::json!({}),
        )]);
        assert_eq!(rating(&db, "DSA-9001-1", 0), (Severity::Unknown, None, None));
    }

    /// Ubuntu's record of the CVE (its own `Ubuntu` priority, the CVE as its only upstream)
    /// is the CVE's record in a distribution.
    #[test]
    fn a_distribution_record_whose_only_upstream_is_a_named_id_rates_it() {
        let ubuntu = serde_json::json!({
            "id": "UBUNTU-CVE-2024-3", "modified": "2024-05-01T00:00:00Z", "upstream": ["CVE-2024-3"],
            "severity": [{"type": "Ubuntu", "score": "high"}],
            "affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "glibc"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
        });
        let usn = serde_json::json!({
            "id": "USN-9001-1", "modified": "2024-05-01T00:00:00Z", "upstream": ["CVE-2024-3", "CVE-2024-4"],
            "severity": [{"type": "Ubuntu", "score": "critical"}]
        });
        let dsa = advisory("DSA-9003-1", serde_json::json!({"upstream": ["CVE-2024-3"]}), serde_json::json!({}));
        let db = database_of(&[dsa.clone(), ubuntu]);
        assert_eq!(rating(&db, "DSA-9003-1", 0), (Severity::High, None, Some("UBUNTU-CVE-2024-3".into())));
        // An advisory of two CVEs is neither of them.
        let db = database_of(&[dsa, usn]);
        assert_eq!(rating(&db, "DSA-9003-1", 0), (Severity::Unknown, None, None));
    }

    /// Only a distribution's record lends its severity under its only upstream: a PyPI
    /// advisory of one CVE (that of the C library lxml's wheels bundle) rates lxml, and would
    /// turn the Debian advisory's unknown, which fails the gate, into its rating. Ubuntu's
    /// record of the CVE does lend, Ubuntu Pro's streams among its packages; one that also
    /// names a language's package is no distribution's.
    #[test]
    fn only_a_distribution_s_record_lends_under_its_only_upstream() {
        let dsa = advisory("DSA-9007-1", serde_json::json!({"upstream": ["CVE-2024-10"]}), serde_json::json!({}));
        let pypi = serde_json::json!({
            "id": "PYSEC-2024-1", "modified": "2024-05-01T00:00:00Z", "upstream": ["CVE-2024-10"],
            "severity": [{"type": "CVSS_V3", "score": MEDIUM}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "lxml"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.2"}]}]}]
        });
        let db = database_of(&[dsa.clone(), pypi.clone()]);
        assert_eq!(rating(&db, "DSA-9007-1", 0), (Severity::Unknown, None, None));

        let package = |ecosystem: &str| {
            serde_json::json!({"package": {"ecosystem": ecosystem, "name": "libxml2"},
                               "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]})
        };
        let mut ubuntu = serde_json::json!({
            "id": "UBUNTU-CVE-2024-10", "modified": "2024-05-01T00:00:00Z", "upstream": ["CVE-2024-10"],
            "severity": [{"type": "Ubuntu", "score": "medium"}],
            "affected": [package("Ubuntu:22.04:LTS"), package("Ubuntu:Pro:16.04:LTS")]
        });
        let db = database_of(&[dsa.clone(), pypi.clone(), ubuntu.clone()]);
        assert_eq!(
            rating(&db, "DSA-9007-1", 0),
            (Severity::Medium, None, Some("UBUNTU-CVE-2024-10".into())),
            "Ubuntu's medium, not the PyPI advisory's scored medium"
        );
        ubuntu["affected"].as_array_mut().unwrap().push(package("PyPI"));
        let db = database_of(&[dsa, pypi, ubuntu]);
        assert_eq!(rating(&db, "DSA-9007-1", 0), (Severity::Unknown, None, None));
    }

    /// The distributions' ecosystems, by the classification the scan already has: those it
    /// names, less the languages'.
    #[test]
    fn distributions_ecosystems_are_those_a_scan_names_but_the_languages() {
        for distribution in [
            "Debian:12",
            "Ubuntu:22.04:LTS",
            "Ubuntu:Pro:16.04:LTS",
            "Alpine:v3.18",
            "Red Hat:enterprise_linux:9::baseos",
        ] {
            assert!(is_distribution(distribution), "{distribution}");
        }
        for other in ["PyPI", "npm", "Go", "crates.io", "Maven", "Linux"] {
            assert!(!is_distribution(other), "{other}");
        }
    }

    /// `--db` with Debian's and PyPI's exports and no CVE records: a GitHub advisory for lxml
    /// giving the CVE of a libxml2 advisory as an alias rates lxml, not libxml2 in Debian.
    /// Its moderate would turn the advisory's unknown, which fails the gate, into a pass.
    #[test]
    fn another_ecosystems_advisory_aliasing_a_named_id_does_not_rate_it() {
        let mut dsa = advisory("DSA-9006-1", serde_json::json!({"upstream": ["CVE-2024-9"]}), serde_json::json!({}));
        dsa["affected"][0]["package"]["name"] = "libxml2".into();
        let github = serde_json::json!({
            "id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-05-01T00:00:00Z", "aliases": ["CVE-2024-9"],
            "database_specific": {"severity": "MODERATE"},
            "affected": [{"package": {"ecosystem": "PyPI", "name": "lxml"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.2"}]}]}]
        });
        let db = database_of(&[dsa.clone(), github.clone()]);
        assert_eq!(rating(&db, "DSA-9006-1", 0), (Severity::Unknown, None, None));
        assert!(db.stated.is_empty(), "nothing is kept for it: {:?}", db.stated);
        // The CVE's own record does rate it, with the advisory beside it.
        let db = database_of(&[dsa, github, cve("CVE-2024-9", MEDIUM)]);
        assert_eq!(rating(&db, "DSA-9006-1", 0), (Severity::Medium, Some(5.3), Some("CVE-2024-9".into())));
    }

    /// A rated record is kept under its own ID and its only upstream, never its aliases: a
    /// record of osv.dev's merged alias sets names hundreds.
    #[test]
    fn a_rated_record_keeps_no_other_name_than_its_only_upstream() {
        let rated = |json: serde_json::Value| {
            let (_, rated) = keep(Record::from_slice(json.to_string().as_bytes()).unwrap());
            let rated = rated.unwrap();
            (rated.stated.id.to_string(), rated.upstream.map(String::from))
        };
        let aliases: Vec<String> = (0..1000).map(|n| format!("CVE-2024-{n}")).collect();
        let github = serde_json::json!({
            "id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-05-01T00:00:00Z", "aliases": aliases,
            "database_specific": {"severity": "HIGH"}
        });
        assert_eq!(rated(github), ("GHSA-aaaa-bbbb-cccc".into(), None));
        let mut ubuntu = cve("UBUNTU-CVE-2024-3", MEDIUM);
        ubuntu["affected"] = serde_json::json!([{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "glibc"}}]);
        ubuntu["upstream"] = serde_json::json!(["CVE-2024-3"]);
        ubuntu["aliases"] = serde_json::json!(aliases);
        assert_eq!(rated(ubuntu.clone()), ("UBUNTU-CVE-2024-3".into(), Some("CVE-2024-3".into())));
        ubuntu["upstream"] = serde_json::json!(["CVE-2024-3", "CVE-2024-4"]);
        assert_eq!(rated(ubuntu), ("UBUNTU-CVE-2024-3".into(), None), "an advisory of two CVEs is neither");
    }

    #[test]
    fn what_a_named_record_names_is_not_followed() {
        let mut unrated = cve("CVE-2024-5", MEDIUM);
        unrated.as_object_mut().unwrap().remove("severity");
        unrated.as_object_mut().unwrap().insert("aliases".into(), serde_json::json!(["GHSA-dddd-eeee-ffff"]));
        let db = database_of(&[
            advisory("DSA-9004-1", serde_json::json!({"upstream": ["CVE-2024-5"]}), serde_json::json!({})),
            unrated,
            serde_json::json!({"id": "GHSA-dddd-eeee-ffff", "modified": "2024-05-01T00:00:00Z",
                               "database_specific": {"severity": "CRITICAL"}}),
        ]);
        assert_eq!(rating(&db, "DSA-9004-1", 0), (Severity::Unknown, None, None));
    }

    /// Debian's record of a CVE rated for Debian 11 only: its Debian 12 package does not take
    /// the Debian 11 urgency through the CVE it is known by.
    #[test]
    fn a_records_packages_do_not_rate_each_other() {
        let mut record =
            advisory("DEBIAN-CVE-2024-6", serde_json::json!({"upstream": ["CVE-2024-6"]}), serde_json::json!({}));
        record["affected"].as_array_mut().unwrap().push(bullseye("high"));
        let db = database_of(&[record]);
        assert_eq!(rating(&db, "DEBIAN-CVE-2024-6", 1), (Severity::High, None, None));
        assert_eq!(rating(&db, "DEBIAN-CVE-2024-6", 0), (Severity::Unknown, None, None));
    }

    #[test]
    fn a_record_rates_the_ids_it_is_known_by_with_the_highest_it_states_for_any_package() {
        let mut debian = advisory(
            "DEBIAN-CVE-2024-8",
            serde_json::json!({"upstream": ["CVE-2024-8"]}),
            serde_json::json!({"urgency": "low"}),
        );
        debian["affected"].as_array_mut().unwrap().push(bullseye("high"));
        let db = database_of(&[
            advisory("DSA-9005-1", serde_json::json!({"upstream": ["CVE-2024-8"]}), serde_json::json!({})),
            debian,
        ]);
        assert_eq!(rating(&db, "DSA-9005-1", 0), (Severity::High, None, Some("DEBIAN-CVE-2024-8".into())));
    }

    #[test]
    fn only_severities_a_record_without_one_asks_for_are_kept() {
        let db = database_of(&[
            advisory("DSA-9001-1", serde_json::json!({"upstream": ["CVE-2024-1"]}), serde_json::json!({})),
            cve("CVE-2024-1", MEDIUM),
            cve("CVE-2024-7", CRITICAL),
        ]);
        let kept: Vec<&str> = db.stated.keys().map(|k| &**k).collect();
        assert_eq!(kept, ["CVE-2024-1"]);
        // The test records: every record without a severity names IDs none of them has.
        assert!(Database::open(&[testdata::records_dir()]).unwrap().stated.is_empty());
    }

    #[test]
    fn withdrawn_records_match_nothing_but_still_date_the_database() {
        let db = Database::open(&[testdata::records_dir()]).unwrap();
        assert_eq!(db.records(), 8, "nine records, one withdrawn");
        assert_eq!(db.newest_modified(), Some("2024-07-01T00:00:00Z"), "the withdrawn record is the newest");
        let ids: Vec<&str> = db.candidates("PyPI", "jinja2").iter().map(|(v, _)| &*v.id).collect();
        assert_eq!(ids, ["GHSA-h5c8-rqwp-cp95"]);
    }

    #[test]
    fn records_of_ecosystems_no_scan_names_are_not_kept() {
        let db = Database::open(&[testdata::records_dir()]).unwrap();
        assert!(db.has_ecosystem("Debian:12") && db.has_ecosystem("Alpine:v3.18") && db.has_ecosystem("Go"));
        assert!(!db.has_ecosystem("Maven"));
        assert!(db.vulns.iter().all(|v| &*v.id != "GHSA-jfh8-c2jp-5v3q"));
    }

    #[test]
    fn the_digest_hashes_each_files_digest_in_path_order_wherever_the_files_sit() {
        let (a, b) = (copy_records(), copy_records());
        let digest = Database::open(&[a.path().to_owned()]).unwrap().digest();
        assert_eq!(Database::open(&[b.path().to_owned()]).unwrap().digest(), digest);

        let mut names: Vec<String> =
            fs::read_dir(a.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        let mut outer = Sha256::new();
        for name in &names {
            outer.update(Sha256::digest(fs::read(a.path().join(name)).unwrap()));
        }
        assert_eq!(digest, format!("sha256:{}", hex(&outer.finalize())));

        let mut changed = fs::read(b.path().join("GO-2023-2102.json")).unwrap();
        changed.push(b'\n');
        fs::write(b.path().join("GO-2023-2102.json"), changed).unwrap();
        assert_ne!(Database::open(&[b.path().to_owned()]).unwrap().digest(), digest);
    }

    #[test]
    fn an_osv_export_holds_what_its_directory_holds() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("all.zip");
        testdata::zip_dir(&testdata::records_dir(), &zip);
        let from_zip = Database::open(std::slice::from_ref(&zip)).unwrap();
        let from_dir = Database::open(&[testdata::records_dir()]).unwrap();
        assert_eq!(from_zip.records(), from_dir.records());
        assert_eq!(from_zip.newest_modified(), from_dir.newest_modified());
        assert_eq!(from_zip.vulns.len(), from_dir.vulns.len());
        // An export found inside a directory is read too, with records beside it.
        let both = Database::open(&[dir.path().to_owned(), testdata::records_dir()]).unwrap();
        assert_eq!(both.records(), 2 * from_dir.records());
    }

    #[test]
    fn an_invalid_record_is_refused_naming_its_file() {
        let dir = copy_records();
        fs::write(dir.path().join("GHSA-bad.json"), br#"{"id": "GHSA-bad", "modified": "#).unwrap();
        let err = Database::open(&[dir.path().to_owned()]).unwrap_err();
        assert!(matches!(err, ScanError::Malformed { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("GHSA-bad.json: not an OSV record"), "{message}");

        let zip = dir.path().join("all.zip");
        testdata::zip_dir(dir.path(), &zip);
        let err = Database::open(&[zip]).unwrap_err();
        assert!(err.to_string().contains("all.zip!GHSA-bad.json: not an OSV record"), "{err}");
    }

    #[test]
    fn a_record_breaking_the_schemas_rules_is_refused_naming_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let record = r#"{"id": "GHSA-x", "modified": "last week", "affected": []}"#;
        fs::write(dir.path().join("GHSA-x.json"), record).unwrap();
        let err = Database::open(&[dir.path().to_owned()]).unwrap_err();
        assert!(matches!(err, ScanError::InvalidRecord { .. }), "{err:?}");
        assert!(err.to_string().contains("GHSA-x.json: invalid OSV record"), "{err}");
    }

    #[test]
    fn a_zip_bomb_entry_is_refused_before_it_is_inflated() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("all.zip");
        // 16 MiB and one byte of spaces deflate to a few kilobytes.
        testdata::python(
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   z.writestr('BOMB-1.json', b' ' * (16 * 1024 * 1024 + 1))\n",
            &[&zip],
        );
        assert!(fs::metadata(&zip).unwrap().len() < 1 << 20);
        let err = Database::open(std::slice::from_ref(&zip)).unwrap_err();
        assert!(matches!(err, ScanError::LimitExceeded { actual: 16_777_217, limit: 16_777_216, .. }), "{err:?}");
        assert!(err.to_string().contains("all.zip!BOMB-1.json"), "{err}");
    }

    /// Central directory records that all point at one local header would make a small
    /// archive read as millions of records: refused.
    #[test]
    fn entries_sharing_one_local_header_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("all.zip");
        let record = fs::read(testdata::records_dir().join("DSA-5532-1.json")).unwrap();
        let single = dir.path().join("DSA-5532-1.json");
        fs::write(&single, &record).unwrap();
        testdata::zip_dir(dir.path(), &zip);
        // Repeat the one central directory record, and count it twice in the end record.
        let bytes = fs::read(&zip).unwrap();
        let central = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        let end = bytes.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
        let record = &bytes[central..end];
        let mut forged = bytes[..end].to_vec();
        forged.extend_from_slice(record);
        let mut end_record = bytes[end..].to_vec();
        end_record[8..10].copy_from_slice(&2u16.to_le_bytes());
        end_record[10..12].copy_from_slice(&2u16.to_le_bytes());
        end_record[12..16].copy_from_slice(&u32::try_from(record.len() * 2).unwrap().to_le_bytes());
        forged.extend_from_slice(&end_record);
        fs::write(&zip, forged).unwrap();
        fs::remove_file(&single).unwrap();
        let err = Database::open(std::slice::from_ref(&zip)).unwrap_err();
        assert!(err.to_string().contains("two entries share one local header"), "{err}");
    }

    #[test]
    fn an_entry_inflating_past_its_declared_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("all.zip");
        testdata::python(
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   z.writestr('LIAR-1.json', b' ' * 100000)\n",
            &[&zip],
        );
        // The central directory header's uncompressed size (offset 24) claims 100 bytes.
        let mut bytes = fs::read(&zip).unwrap();
        let header = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        bytes[header + 24..header + 28].copy_from_slice(&100_u32.to_le_bytes());
        fs::write(&zip, bytes).unwrap();
        let err = Database::open(&[zip]).unwrap_err();
        assert!(matches!(err, ScanError::Zip { .. }), "{err:?}");
        assert!(err.to_string().contains("LIAR-1.json: unreadable zip archive: the entry inflates past"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_an_archive_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("all.zip");
        fs::write(&fake, b"this is not a zip archive").unwrap();
        let err = Database::open(&[fake]).unwrap_err();
        assert!(err.to_string().contains("no end of central directory record"), "{err}");
        let notes = dir.path().join("notes.txt");
        fs::write(&notes, b"hello").unwrap();
        assert!(matches!(Database::open(&[notes]).unwrap_err(), ScanError::Input { .. }));
    }

    #[test]
    fn a_database_without_records_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Database::open(&[dir.path().to_owned()]).unwrap_err();
        assert!(matches!(err, ScanError::EmptyDatabase { .. }), "{err:?}");
    }

    #[test]
    fn the_record_count_limit_is_enforced() {
        let limits = DatabaseLimits { max_records: 3, ..DatabaseLimits::default() };
        let err = Database::open_with_limits(&[testdata::records_dir()], &limits).unwrap_err();
        assert!(matches!(err, ScanError::LimitExceeded { actual: 4, limit: 3, .. }), "{err:?}");
    }
}
