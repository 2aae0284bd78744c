//! Catalogs: seed 004's catalog file (`version: 1`, `entries` of `from`, `to`, `copy_policy`,
//! `pub_key`), `seed-catalog` (every entry seeded into its own subdirectory, concurrently,
//! then the roll-up), and `sync`, a catalog built from two registries and a list of
//! repositories.
//!
//! ```yaml
//! version: 1
//! entries:
//!   - from: registry.upstream.example.com/robot-behavior:v1
//!     to:   localhost:5000/robot-behavior:v1
//!     copy_policy: true
//!     pub_key: ./cosign.pub          # relative to this file
//! ```

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt as _;
use genesis_registry::copy::CopyStats;
use genesis_types::ImageReference;

use crate::manifest::{
    CATALOG_SCHEMA, CatalogEntryResult, CatalogSeedManifest, EntryStatus, remove_rollup, write_rollup,
};
use crate::seed::{SeedOutcome, SeedRequest, Seeder, Trust, now, tag_of};
use crate::{Result, SeedError};

/// The catalog format version this reads.
pub const CATALOG_VERSION: u32 = 1;
/// Largest catalog file read.
pub const MAX_CATALOG: u64 = 1 << 20;
/// Entries seeded at once. Their blobs share the seeder's bound, so this bounds only how
/// many images are in progress (and read back, and verified) together.
pub const CATALOG_CONCURRENCY: usize = 4;

/// A catalog: the images of a site, each with its destination.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// [`CATALOG_VERSION`].
    pub version: u32,
    /// The images, in order.
    pub entries: Vec<CatalogEntry>,
}

/// One image of a [`Catalog`].
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// The source reference (tag or digest).
    pub from: String,
    /// The destination reference.
    pub to: String,
    /// Also replicate the `<tag>-lock` and `<tag>-policy` sidecars.
    #[serde(default)]
    pub copy_policy: bool,
    /// The cosign public key this entry verifies with, instead of the run's trust.
    #[serde(default)]
    pub pub_key: Option<PathBuf>,
}

/// The catalog document, its entries kept as YAML until each is read on its own, so that an
/// error names the entry it is in.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    version: u32,
    entries: Vec<serde_yaml_ng::Value>,
}

/// The name of entry `number`'s subdirectory (counted from 1): `NN-<last path component of
/// to>-<tag>` (`01-robot-behavior-v1`), a digest destination's tag being `sha256-<12 hex>`,
/// every character outside `[A-Za-z0-9._-]` replaced by `_`. A `to` that is no reference
/// gives `NN-<its last component>`.
pub fn entry_dir(number: usize, to: &str) -> String {
    let name = match to.parse::<ImageReference>() {
        Ok(reference) => {
            let last = reference.repository().rsplit('/').next().unwrap_or_default();
            // A reference has a tag (`latest` when it names none) unless it is pinned by digest.
            let tag = tag_of(&reference)
                .map(str::to_owned)
                .or_else(|| reference.digest().map(|d| format!("{}-{}", d.algorithm().name(), &d.hex()[..12])))
                .unwrap_or_default();
            format!("{last}-{tag}")
        }
        Err(_) => to.rsplit('/').next().unwrap_or(to).to_owned(),
    };
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    format!("{number:02}-{safe}")
}

/// What a destination writes: its registry host (lowercase: host names are
/// case-insensitive), its repository, and the tag it puts (its digest when it puts none).
fn destination_key(to: &ImageReference) -> (String, String, String) {
    let tag = tag_of(to).map(str::to_owned).or_else(|| to.digest().map(ToString::to_string)).unwrap_or_default();
    (to.registry().to_ascii_lowercase(), to.repository().to_owned(), tag)
}

/// Checks every entry: references that parse, tags where the sidecars are asked for, and no
/// destination named twice, however it is spelled (`Localhost:5000/app` is
/// `localhost:5000/app:latest`). The failing entry's number (from 1) and why.
fn check_entries(entries: &[CatalogEntry]) -> std::result::Result<(), (usize, String)> {
    let mut destinations: Vec<(String, String, String)> = Vec::with_capacity(entries.len());
    for (n, entry) in entries.iter().enumerate().map(|(i, e)| (i + 1, e)) {
        let parse = |field: &str, text: &str| text.parse::<ImageReference>().map_err(|e| (n, format!("{field}: {e}")));
        let (from, to) = (parse("from", &entry.from)?, parse("to", &entry.to)?);
        if entry.copy_policy
            && let Some(pinned) = [&from, &to].into_iter().find(|r| tag_of(r).is_none())
        {
            return Err((
                n,
                format!("copy_policy needs tag references on both sides, and {pinned} is pinned by digest"),
            ));
        }
        let key = destination_key(&to);
        if let Some(first) = destinations.iter().position(|d| *d == key) {
            return Err((n, format!("its destination {to} is also entry {}'s", first + 1)));
        }
        destinations.push(key);
    }
    Ok(())
}

impl Catalog {
    /// Reads a catalog file (at most [`MAX_CATALOG`] bytes): version 1, at least one entry,
    /// each entry's references valid; `pub_key` paths resolve against the file's folder.
    /// Errors name the file and the entry (counted from 1).
    pub fn load(path: &Path) -> Result<Catalog> {
        let refused =
            |entry: Option<usize>, reason: String| SeedError::Catalog { path: path.to_owned(), entry, reason };
        let file = std::fs::File::open(path).map_err(SeedError::io("opening", path))?;
        let mut bytes = Vec::new();
        file.take(MAX_CATALOG + 1).read_to_end(&mut bytes).map_err(SeedError::io("reading", path))?;
        if bytes.len() as u64 > MAX_CATALOG {
            return Err(refused(None, format!("larger than {MAX_CATALOG} bytes")));
        }
        let raw: RawCatalog = serde_yaml_ng::from_slice(&bytes).map_err(|e| refused(None, e.to_string()))?;
        if raw.version != CATALOG_VERSION {
            return Err(refused(None, format!("version {} is not supported (this reads version 1)", raw.version)));
        }
        if raw.entries.is_empty() {
            return Err(refused(None, "no entries".to_owned()));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let entries = raw
            .entries
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let mut entry: CatalogEntry =
                    serde_yaml_ng::from_value(value).map_err(|e| refused(Some(i + 1), e.to_string()))?;
                entry.pub_key = entry.pub_key.map(|key| if key.is_relative() { base.join(key) } else { key });
                Ok(entry)
            })
            .collect::<Result<Vec<_>>>()?;
        check_entries(&entries).map_err(|(n, reason)| refused(Some(n), reason))?;
        Ok(Catalog { version: raw.version, entries })
    }

    /// The catalog of an edge-to-edge sync: `A/<repo>:<tag>` to `B/<repo>:<tag>` for each
    /// of `repos` (`repo:tag`), each verified by the run's trust.
    pub fn sync(from_registry: &str, to_registry: &str, repos: &[String], copy_policy: bool) -> Result<Catalog> {
        for host in [from_registry, to_registry] {
            let named = format!("{host}/probe").parse::<ImageReference>().map(|r| r.registry() == host);
            if named != Ok(true) {
                return Err(SeedError::Input {
                    what: format!("registry {host:?}"),
                    reason: "not a registry host: HOST[:PORT] with a dot, a port or `localhost` expected".to_owned(),
                });
            }
        }
        if repos.is_empty() {
            return Err(SeedError::Input { what: "repositories".to_owned(), reason: "none given".to_owned() });
        }
        let entries: Vec<CatalogEntry> = repos
            .iter()
            .map(|repo| CatalogEntry {
                from: format!("{from_registry}/{repo}"),
                to: format!("{to_registry}/{repo}"),
                copy_policy,
                pub_key: None,
            })
            .collect();
        check_entries(&entries)
            .map_err(|(n, reason)| SeedError::Input { what: format!("repository {} ({})", n, repos[n - 1]), reason })?;
        Ok(Catalog { version: CATALOG_VERSION, entries })
    }
}

/// What a catalog seed did.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogOutcome {
    /// The roll-up written; `None` when a failure stopped a fail-fast run (none is written).
    pub rollup: Option<PathBuf>,
    /// Every entry's result (what the roll-up holds, or would have).
    pub manifest: CatalogSeedManifest,
    /// What the seeded entries' copies sent, mounted and found present, summed.
    pub copy: CopyStats,
    /// How many entries failed.
    pub failed: usize,
}

/// The result of an entry that was not started.
fn not_attempted(entry: &CatalogEntry, dir: String) -> CatalogEntryResult {
    CatalogEntryResult {
        from: entry.from.clone(),
        to: entry.to.clone(),
        dir,
        status: EntryStatus::NotAttempted,
        dest_digest: None,
        verified: false,
        error: None,
    }
}

/// The result of an entry that ran, with its copy statistics when it was seeded.
fn row(entry: &CatalogEntry, dir: String, outcome: Result<SeedOutcome>) -> (CatalogEntryResult, Option<CopyStats>) {
    let mut result = not_attempted(entry, dir);
    match outcome {
        Ok(seeded) => {
            result.status = EntryStatus::Seeded;
            result.verified = seeded.manifest.verified;
            result.dest_digest = Some(seeded.manifest.dest_digest);
            (result, Some(seeded.copy))
        }
        Err(e) => {
            result.status = EntryStatus::Failed;
            result.error = Some(e.to_string());
            (result, None)
        }
    }
}

impl Seeder {
    /// Seeds every entry of `catalog`, each into its own subdirectory of `out`
    /// ([`entry_dir`]), [`CATALOG_CONCURRENCY`] at a time over the seeder's shared copy
    /// session. An entry verifies with `default_trust`, its own `pub_key` (when it has one)
    /// replacing the signers but not a policy's rules; with neither it fails
    /// ([`SeedError::NoTrust`]).
    ///
    /// Fail-fast unless `keep_going`: after the first failure no entry is started (those
    /// running finish), the rest are `not_attempted`, and no roll-up is written. With
    /// `keep_going` every entry is attempted and the roll-up records each outcome. Either
    /// way, a run without failures writes it. A roll-up an earlier run left in `out` is
    /// removed first, so that a failed run never leaves one to be published. Only what stops
    /// the whole run is an error (the output directory, the roll-up); entries' failures are
    /// in the outcome.
    pub async fn seed_catalog(
        &self,
        catalog: &Catalog,
        catalog_name: &str,
        out: &Path,
        keep_going: bool,
        default_trust: Option<&Trust>,
    ) -> Result<CatalogOutcome> {
        std::fs::create_dir_all(out).map_err(SeedError::io("creating", out))?;
        remove_rollup(out)?;
        let stop = AtomicBool::new(false);
        let stop = &stop;
        let mut rows: Vec<(usize, CatalogEntryResult, Option<CopyStats>)> =
            futures_util::stream::iter(catalog.entries.iter().enumerate())
                .map(|(i, entry)| async move {
                    let dir = entry_dir(i + 1, &entry.to);
                    if stop.load(Ordering::SeqCst) {
                        return (i, not_attempted(entry, dir), None);
                    }
                    let outcome = self.seed_entry(entry, out.join(&dir), default_trust).await;
                    if let Err(e) = &outcome {
                        tracing::warn!(entry = i + 1, from = %entry.from, error = %e, "catalog entry failed");
                        if !keep_going {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    let (result, stats) = row(entry, dir, outcome);
                    (i, result, stats)
                })
                .buffer_unordered(CATALOG_CONCURRENCY)
                .collect()
                .await;
        rows.sort_by_key(|(i, ..)| *i);

        let mut copy = CopyStats::default();
        let mut entries = Vec::with_capacity(rows.len());
        for (_, result, stats) in rows {
            if let Some(stats) = stats {
                copy.add(&stats);
            }
            entries.push(result);
        }
        let failed = entries.iter().filter(|e| e.status == EntryStatus::Failed).count();
        let manifest = CatalogSeedManifest {
            schema_version: CATALOG_SCHEMA.to_owned(),
            catalog: catalog_name.to_owned(),
            seeded_at: now(),
            complete: entries.iter().all(|e| e.status == EntryStatus::Seeded),
            entries,
        };
        let rollup = if failed == 0 || keep_going { Some(write_rollup(out, &manifest)?) } else { None };
        Ok(CatalogOutcome { rollup, manifest, copy, failed })
    }

    /// Seeds one entry into `out`, with the run's trust, its signers replaced by the entry's
    /// own key when it names one ([`Trust::with_key`]).
    async fn seed_entry(
        &self,
        entry: &CatalogEntry,
        out: PathBuf,
        default_trust: Option<&Trust>,
    ) -> Result<SeedOutcome> {
        let parse = |field: &str, text: &str| {
            text.parse::<ImageReference>()
                .map_err(|e| SeedError::Input { what: field.to_owned(), reason: e.to_string() })
        };
        let request = SeedRequest {
            from: parse("from", &entry.from)?,
            to: parse("to", &entry.to)?,
            copy_policy: entry.copy_policy,
            out,
        };
        let own_key;
        let trust = match (&entry.pub_key, default_trust) {
            (Some(key), Some(run)) => {
                own_key = run.with_key(key)?;
                &own_key
            }
            (Some(key), None) => {
                own_key = Trust::key(key)?;
                &own_key
            }
            (None, run) => run.ok_or(SeedError::NoTrust)?,
        };
        self.seed(&request, trust).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// seed 004's `site-a.yaml`, its second key absolute.
    const SITE_A: &str = r#"# site-a.yaml
version: 1
entries:
  - from: registry.upstream.example.com/robot-behavior:v1
    to:   localhost:5000/robot-behavior:v1
    copy_policy: true
    pub_key: ./cosign.pub
  - from: registry.upstream.example.com/nav-stack:v2
    to:   localhost:5000/nav-stack:v2
    pub_key: /keys/cosign.pub
"#;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("site.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn seed_004s_catalog_reads_with_keys_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), SITE_A);
        let catalog = Catalog::load(&path).unwrap();
        assert_eq!(catalog.version, 1);
        assert_eq!(catalog.entries.len(), 2);
        let first = &catalog.entries[0];
        assert_eq!(first.to, "localhost:5000/robot-behavior:v1");
        assert!(first.copy_policy);
        assert_eq!(first.pub_key.as_deref(), Some(dir.path().join("./cosign.pub").as_path()));
        assert!(!catalog.entries[1].copy_policy);
        assert_eq!(catalog.entries[1].pub_key.as_deref(), Some(Path::new("/keys/cosign.pub")));
    }

    #[test]
    fn a_catalog_error_names_the_file_and_the_entry_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let good = "  - from: a.example/app:v1\n    to: localhost:5000/app:v1\n";
        let digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        for (entries, why) in [
            (
                format!("{good}  - from: a.example/db:v1\n    too: localhost:5000/db:v1\n"),
                "entry 2: unknown field `too`",
            ),
            (format!("{good}  - from: a.example/db:v1\n"), "entry 2: missing field `to`"),
            (
                format!("{good}  - from: a.example/DB:v1\n    to: localhost:5000/db:v1\n"),
                "entry 2: from: invalid image reference",
            ),
            (
                format!("{good}  - from: a.example/db@{digest}\n    to: localhost:5000/db:v1\n    copy_policy: true\n"),
                "entry 2: copy_policy needs tag references on both sides, and a.example/db@sha256:",
            ),
            (format!("{good}{good}"), "entry 2: its destination localhost:5000/app:v1 is also entry 1's"),
        ] {
            let path = write(dir.path(), &format!("version: 1\nentries:\n{entries}"));
            let refused = Catalog::load(&path).unwrap_err();
            assert!(matches!(refused, SeedError::Catalog { .. }), "{refused:?}");
            let message = refused.to_string();
            let file = format!("catalog {}: ", path.display());
            assert!(message.starts_with(&file) && message.contains(why), "{why}: {message}");
        }
        for (text, why) in [
            (format!("version: 2\nentries:\n{good}"), "version 2 is not supported"),
            ("version: 1\nentries: []\n".to_owned(), "no entries"),
            (format!("version: 1\nsites: []\nentries:\n{good}"), "unknown field `sites`"),
            (format!("entries:\n{good}"), "missing field `version`"),
        ] {
            let message = Catalog::load(&write(dir.path(), &text)).unwrap_err().to_string();
            assert!(message.contains(why), "{why}: {message}");
        }
    }

    #[test]
    fn two_spellings_of_one_destination_are_one_destination() {
        let entry = |to: &str| CatalogEntry {
            from: "a.example/app:v1".to_owned(),
            to: to.to_owned(),
            copy_policy: false,
            pub_key: None,
        };
        let tagged = "localhost:5000/app:v1@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        let pinned = "localhost:5000/app@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        for (first, second) in [
            ("localhost:5000/app:v1", "LOCALHOST:5000/app:v1"),
            ("Edge.Example.com/app:v1", "edge.example.com/app:v1"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("localhost:5000/app:v1", tagged),
            ("nginx:1", "docker.io/library/nginx:1"),
        ] {
            let refused = check_entries(&[entry(first), entry(second)]).unwrap_err();
            assert_eq!(refused.0, 2, "{first} / {second}");
            assert!(refused.1.ends_with("is also entry 1's"), "{first} / {second}: {}", refused.1);
        }
        for (first, second) in [
            ("localhost:5000/app:v1", "localhost:5000/app:V1"),
            ("localhost:5000/app:v1", "localhost:5001/app:v1"),
            ("localhost:5000/app:v1", "localhost:5000/other:v1"),
            ("localhost:5000/app:v1", pinned),
        ] {
            check_entries(&[entry(first), entry(second)]).unwrap_or_else(|e| panic!("{first} / {second}: {e:?}"));
        }
    }

    #[test]
    fn entry_directories_are_numbered_and_named_after_the_destination() {
        let pinned = "localhost:5000/app@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        for (number, to, dir) in [
            (1, "localhost:5000/robot-behavior:v1", "01-robot-behavior-v1"),
            (2, "localhost:5000/fleet/nav-stack:v2.1_rc", "02-nav-stack-v2.1_rc"),
            (3, "localhost:5000/app", "03-app-latest"),
            (12, pinned, "12-app-sha256-2c26b46b68ff"),
            (4, "localhost:5000/Not A Ref", "04-Not_A_Ref"),
            (100, "localhost:5000/app:v1", "100-app-v1"),
        ] {
            assert_eq!(entry_dir(number, to), dir, "{to}");
        }
    }

    #[test]
    fn a_sync_copies_each_repository_to_the_same_path_on_the_peer() {
        let repos = ["robot-behavior:v1".to_owned(), "fleet/nav-stack:v2".to_owned()];
        let catalog = Catalog::sync("edge-a.local:5000", "edge-b.local:5000", &repos, true).unwrap();
        let pairs: Vec<(&str, &str, bool)> =
            catalog.entries.iter().map(|e| (e.from.as_str(), e.to.as_str(), e.copy_policy)).collect();
        assert_eq!(
            pairs,
            [
                ("edge-a.local:5000/robot-behavior:v1", "edge-b.local:5000/robot-behavior:v1", true),
                ("edge-a.local:5000/fleet/nav-stack:v2", "edge-b.local:5000/fleet/nav-stack:v2", true),
            ]
        );
        assert!(catalog.entries.iter().all(|e| e.pub_key.is_none()));

        let not_a_host = Catalog::sync("edge-a", "edge-b.local:5000", &repos, false).unwrap_err().to_string();
        assert!(not_a_host.contains("registry \"edge-a\": not a registry host"), "{not_a_host}");
        let bad = ["ok:v1".to_owned(), "Bad:v1".to_owned()];
        let refused = Catalog::sync("a.local:5000", "b.local:5000", &bad, false).unwrap_err().to_string();
        assert!(refused.starts_with("repository 2 (Bad:v1): from: invalid image reference"), "{refused}");
    }
}
