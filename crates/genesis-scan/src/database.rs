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

mod zip;

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Read};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use sha2::{Digest, Sha256};

use crate::osv::{self, Event, EventFields, RangeKind, Record};
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

    /// The database from the workers' parts: records sorted by id (the workers' order
    /// varies), then indexed.
    fn merge(inputs: &[Input], parts: Vec<Loaded>) -> Database {
        let mut vulns = Vec::new();
        let mut records = 0;
        let mut newest_modified: Option<String> = None;
        let mut digests = Vec::new();
        for part in parts {
            vulns.extend(part.vulns);
            records += part.records;
            digests.extend(part.digests);
            if let Some(modified) = part.newest
                && newest_modified.as_deref().is_none_or(|n| osv::cmp_timestamps(&modified, n).is_gt())
            {
                newest_modified = Some(modified);
            }
        }
        vulns.sort_by(|a, b| (&a.id, &a.aliases, &a.summary).cmp(&(&b.id, &b.aliases, &b.summary)));
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
        Database { vulns, index, ecosystems, records, newest_modified, digest }
    }
}

impl Vuln {
    /// What matching needs of `record`, or `None` when none of its packages is of an
    /// ecosystem a scan can name.
    fn from_record(mut record: Record) -> Option<Vuln> {
        let entries = std::mem::take(&mut record.affected);
        let affected: Box<[AffectedPackage]> =
            entries.into_iter().filter_map(|entry| AffectedPackage::new(&record, entry)).collect();
        if affected.is_empty() {
            return None;
        }
        let mut aliases: Vec<Box<str>> = record
            .aliases
            .iter()
            .chain(record.upstream.iter().filter(|_| record.upstream.len() == 1))
            .filter(|alias| **alias != record.id)
            .map(|alias| alias.as_str().into())
            .collect();
        aliases.sort_unstable();
        aliases.dedup();
        Some(Vuln {
            summary: record.headline().map(String::into_boxed_str),
            id: record.id.into_boxed_str(),
            aliases: aliases.into_boxed_slice(),
            affected,
        })
    }
}

impl AffectedPackage {
    /// The package of `entry` in `record`, when a scan can match it: of an ecosystem a scan
    /// names, with a range it can evaluate or versions listed.
    fn new(record: &Record, entry: osv::Affected) -> Option<AffectedPackage> {
        let package = entry.package.as_ref()?;
        if !ecosystem::is_matched(&package.ecosystem) {
            return None;
        }
        let (severity, score) = record.severity_of(&entry);
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
    loaded.vulns.extend(Vuln::from_record(record));
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
