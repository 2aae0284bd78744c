//! The files a seed leaves: `seed-manifest.json` and `seed.lock` for one image (seed 004's
//! fields, in its order), and the catalog roll-up `catalog-seed-manifest.json`. This module
//! is their one encoder and reader; every file is written whole or not at all.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::{Result, SeedError};

/// `schema_version` of a seed manifest.
pub const SEED_SCHEMA: &str = "seed.v1";
/// `schema_version` of a catalog roll-up.
pub const CATALOG_SCHEMA: &str = "catalog-seed.v1";
/// The file name of a seed manifest.
pub const SEED_MANIFEST_FILE: &str = "seed-manifest.json";
/// The file name of the digest-pinned destination.
pub const SEED_LOCK_FILE: &str = "seed.lock";
/// The file name of a catalog roll-up.
pub const ROLLUP_FILE: &str = "catalog-seed-manifest.json";
/// Largest roll-up read back ([`read_rollup`]): a catalog of thousands of entries fits.
pub const MAX_ROLLUP: u64 = 1 << 20;

/// seed 004's `seed-manifest.json`: exactly its fields, in its order. An audit artifact of
/// one seed, written only when every step passed (or verification was skipped, which
/// `verified: false` says).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeedManifest {
    /// [`SEED_SCHEMA`].
    pub schema_version: String,
    /// The source, as copied (`registry/repository:tag` or `…@sha256:…`).
    pub source_ref: String,
    /// The digest of the source's top manifest, as read from the source.
    pub source_digest: String,
    /// The destination reference.
    pub dest_ref: String,
    /// The digest of the destination's top manifest, as read back from the destination.
    pub dest_digest: String,
    /// Every platform of a multi-arch index (`linux/arm64/v8`); empty for a single
    /// manifest that names none.
    pub platforms: Vec<String>,
    /// Whether a `<tag>-lock` or `<tag>-policy` sidecar was replicated.
    pub copied_policy: bool,
    /// The public key or policy file the destination was verified with; `null` when
    /// verification was skipped.
    pub signing_key_ref: Option<String>,
    /// Whether the destination passed the four steps. `false` only when verification was
    /// skipped: a failed step writes no manifest at all.
    pub verified: bool,
    /// When the seed finished: RFC 3339, UTC, whole seconds.
    pub seeded_at: String,
}

/// `catalog-seed-manifest.json`: the result of every entry of a catalog seed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSeedManifest {
    /// [`CATALOG_SCHEMA`].
    pub schema_version: String,
    /// The catalog seeded (its file, or what a sync was built from).
    pub catalog: String,
    /// When the run finished: RFC 3339, UTC, whole seconds.
    pub seeded_at: String,
    /// Whether every entry was seeded.
    pub complete: bool,
    /// Each entry's result, in the catalog's order.
    pub entries: Vec<CatalogEntryResult>,
}

/// One entry of a [`CatalogSeedManifest`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntryResult {
    /// The entry's source.
    pub from: String,
    /// The entry's destination.
    pub to: String,
    /// The subdirectory of the output directory holding its seed manifest and lock.
    pub dir: String,
    /// What became of it.
    pub status: EntryStatus,
    /// The destination digest, when seeded.
    pub dest_digest: Option<String>,
    /// Whether the destination passed the four steps (`false` when skipped or not seeded).
    pub verified: bool,
    /// Why it failed.
    pub error: Option<String>,
}

/// What became of one catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Copied, verified (unless skipped), and its files written.
    Seeded,
    /// A step failed; nothing written for it.
    Failed,
    /// Not started: an earlier entry failed and the run stopped starting new ones.
    NotAttempted,
}

/// The text of `seed.lock`: the destination pinned by digest, `registry/repo@sha256:<hex>`
/// and a newline.
pub fn lock_line(registry: &str, repository: &str, digest: &str) -> String {
    format!("{registry}/{repository}@{digest}\n")
}

/// Writes `seed.lock` and then `seed-manifest.json` into `out` (created if needed), each
/// atomically; the manifest last, so that a manifest is never there without its lock.
/// Returns the files written.
pub fn write_seed(out: &Path, manifest: &SeedManifest, lock: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(SeedError::io("creating", out))?;
    let lock_path = out.join(SEED_LOCK_FILE);
    genesis_bundle::scratch::atomic_write(&lock_path, lock.as_bytes()).map_err(SeedError::io("writing", &lock_path))?;
    let manifest_path = out.join(SEED_MANIFEST_FILE);
    genesis_bundle::scratch::atomic_write(&manifest_path, &to_json(manifest))
        .map_err(SeedError::io("writing", &manifest_path))?;
    Ok(vec![manifest_path, lock_path])
}

/// Writes the roll-up into `out` (created if needed), atomically; returns its path.
pub fn write_rollup(out: &Path, rollup: &CatalogSeedManifest) -> Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(SeedError::io("creating", out))?;
    let path = out.join(ROLLUP_FILE);
    genesis_bundle::scratch::atomic_write(&path, &to_json(rollup)).map_err(SeedError::io("writing", &path))?;
    Ok(path)
}

/// Removes the roll-up from `out` if there is one (and nothing else): a catalog run starts
/// without an earlier run's roll-up, which would otherwise stand for this run's. Anything
/// but its absence that stops the removal is an error.
pub fn remove_rollup(out: &Path) -> Result<()> {
    let path = out.join(ROLLUP_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(SeedError::io("removing the earlier roll-up", path)(e))
        }
        _ => Ok(()),
    }
}

/// Pretty JSON and a final newline.
fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("plain structs are JSON");
    bytes.push(b'\n');
    bytes
}

/// Reads a file given as a roll-up, at most [`MAX_ROLLUP`] bytes: its exact bytes and what
/// they say. Anything but a `catalog-seed.v1` roll-up is refused ([`SeedError::NotRollup`]).
pub fn read_rollup(path: &Path) -> Result<(Vec<u8>, CatalogSeedManifest)> {
    let file = std::fs::File::open(path).map_err(SeedError::io("opening", path))?;
    let mut bytes = Vec::new();
    file.take(MAX_ROLLUP + 1).read_to_end(&mut bytes).map_err(SeedError::io("reading", path))?;
    if bytes.len() as u64 > MAX_ROLLUP {
        return Err(SeedError::NotRollup { path: path.to_owned(), reason: format!("larger than {MAX_ROLLUP} bytes") });
    }
    let rollup = parse_rollup(&bytes).map_err(|reason| SeedError::NotRollup { path: path.to_owned(), reason })?;
    Ok((bytes, rollup))
}

/// Parses and checks a roll-up: its schema, no field it does not define, each entry
/// consistent ([`check_entry`]), and `complete` saying what the entries say.
fn parse_rollup(bytes: &[u8]) -> std::result::Result<CatalogSeedManifest, String> {
    let rollup: CatalogSeedManifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if rollup.schema_version != CATALOG_SCHEMA {
        return Err(format!("schema_version is {:?}, not {CATALOG_SCHEMA:?}", rollup.schema_version));
    }
    for (n, entry) in rollup.entries.iter().enumerate() {
        check_entry(entry).map_err(|why| format!("entry {} ({}): {why}", n + 1, entry.to))?;
    }
    let all_seeded = rollup.entries.iter().all(|e| e.status == EntryStatus::Seeded);
    if rollup.complete != all_seeded {
        return Err(format!(
            "complete is {} but {} entry was seeded",
            rollup.complete,
            if all_seeded { "every" } else { "not every" }
        ));
    }
    Ok(rollup)
}

/// An entry says one thing: a valid `dest_digest` exactly when it was seeded, an `error`
/// exactly when it failed, and `verified` only when it was seeded.
fn check_entry(entry: &CatalogEntryResult) -> std::result::Result<(), String> {
    let seeded = entry.status == EntryStatus::Seeded;
    match (&entry.dest_digest, seeded) {
        (Some(digest), true) => digest.parse::<genesis_types::Digest>().map(drop).map_err(|e| e.to_string())?,
        (None, false) => {}
        (None, true) => return Err("seeded, but no dest_digest".to_owned()),
        (Some(_), false) => return Err(format!("a dest_digest, but {}", status_name(entry.status))),
    }
    let failed = entry.status == EntryStatus::Failed;
    if entry.error.is_some() != failed {
        let has = if failed { "no error" } else { "an error" };
        return Err(format!("{has}, and {}", status_name(entry.status)));
    }
    if entry.verified && !seeded {
        return Err(format!("verified, but {}", status_name(entry.status)));
    }
    Ok(())
}

/// A status as the roll-up spells it.
fn status_name(status: EntryStatus) -> &'static str {
    match status {
        EntryStatus::Seeded => "seeded",
        EntryStatus::Failed => "failed",
        EntryStatus::NotAttempted => "not_attempted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// seed 004's example, its digests filled in.
    const EXAMPLE: &str = r#"{
  "schema_version": "seed.v1",
  "source_ref": "registry.upstream.example.com/robot-behavior:v1",
  "source_digest": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
  "dest_ref": "localhost:5000/robot-behavior:v1",
  "dest_digest": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
  "platforms": ["linux/amd64", "linux/arm64", "linux/riscv64"],
  "copied_policy": true,
  "signing_key_ref": "./cosign.pub",
  "verified": true,
  "seeded_at": "2026-05-25T00:00:00Z"
}"#;

    const DIGEST: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    fn example() -> SeedManifest {
        SeedManifest {
            schema_version: SEED_SCHEMA.into(),
            source_ref: "registry.upstream.example.com/robot-behavior:v1".into(),
            source_digest: DIGEST.into(),
            dest_ref: "localhost:5000/robot-behavior:v1".into(),
            dest_digest: DIGEST.into(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into(), "linux/riscv64".into()],
            copied_policy: true,
            signing_key_ref: Some("./cosign.pub".into()),
            verified: true,
            seeded_at: "2026-05-25T00:00:00Z".into(),
        }
    }

    /// The example with its whitespace outside strings taken out: the same fields, in the
    /// same order, as compact JSON.
    fn compact(text: &str) -> String {
        let mut out = String::new();
        let mut in_string = false;
        for c in text.chars() {
            if c == '"' {
                in_string = !in_string;
            }
            if in_string || !c.is_whitespace() {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn the_seed_manifest_has_exactly_seed_004s_fields_in_its_order() {
        assert_eq!(serde_json::to_string(&example()).unwrap(), compact(EXAMPLE));
        assert_eq!(serde_json::from_str::<SeedManifest>(EXAMPLE).unwrap(), example());
    }

    #[test]
    fn a_skipped_verification_writes_a_null_key_and_verified_false() {
        let skipped = SeedManifest { signing_key_ref: None, verified: false, ..example() };
        let text = serde_json::to_string(&skipped).unwrap();
        assert!(text.contains(r#""signing_key_ref":null,"verified":false"#), "{text}");
    }

    #[test]
    fn the_lock_pins_the_destination_by_digest_on_one_line() {
        assert_eq!(
            lock_line("localhost:5000", "robot-behavior", DIGEST),
            format!("localhost:5000/robot-behavior@{DIGEST}\n")
        );
    }

    #[test]
    fn the_seed_files_are_written_into_a_directory_made_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("seed").join("01-app-v1");
        let lock = lock_line("localhost:5000", "robot-behavior", DIGEST);
        let written = write_seed(&out, &example(), &lock).unwrap();
        assert_eq!(written, vec![out.join(SEED_MANIFEST_FILE), out.join(SEED_LOCK_FILE)]);
        assert_eq!(std::fs::read_to_string(out.join(SEED_LOCK_FILE)).unwrap(), lock);
        let read: SeedManifest = serde_json::from_slice(&std::fs::read(out.join(SEED_MANIFEST_FILE)).unwrap()).unwrap();
        assert_eq!(read, example());
    }

    fn rollup() -> CatalogSeedManifest {
        CatalogSeedManifest {
            schema_version: CATALOG_SCHEMA.into(),
            catalog: "site-a.yaml".into(),
            seeded_at: "2026-05-25T00:00:00Z".into(),
            complete: false,
            entries: vec![
                CatalogEntryResult {
                    from: "registry.upstream.example.com/robot-behavior:v1".into(),
                    to: "localhost:5000/robot-behavior:v1".into(),
                    dir: "01-robot-behavior-v1".into(),
                    status: EntryStatus::Seeded,
                    dest_digest: Some(DIGEST.into()),
                    verified: true,
                    error: None,
                },
                CatalogEntryResult {
                    from: "registry.upstream.example.com/nav-stack:v2".into(),
                    to: "localhost:5000/nav-stack:v2".into(),
                    dir: "02-nav-stack-v2".into(),
                    status: EntryStatus::Failed,
                    dest_digest: None,
                    verified: false,
                    error: Some("destination verification failed (fail-closed) at step signature: …".into()),
                },
            ],
        }
    }

    /// Each entry says one thing: its status, its digest, its error and `verified` agree.
    #[test]
    fn a_rollup_whose_entries_contradict_themselves_is_refused() {
        fn not_attempted(entry: &mut CatalogEntryResult) {
            entry.status = EntryStatus::NotAttempted;
            entry.error = None;
        }
        type Edit = fn(&mut CatalogEntryResult);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ROLLUP_FILE);
        let contradictions: [(Edit, &str); 6] = [
            (
                |seeded| seeded.error = Some("but it failed".into()),
                "entry 1 (localhost:5000/robot-behavior:v1): an error, and seeded",
            ),
            (|failed| failed.error = None, "entry 2 (localhost:5000/nav-stack:v2): no error, and failed"),
            (|failed| failed.verified = true, "entry 2 (localhost:5000/nav-stack:v2): verified, but failed"),
            (
                |failed| failed.dest_digest = Some(DIGEST.into()),
                "entry 2 (localhost:5000/nav-stack:v2): a dest_digest, but failed",
            ),
            (
                |entry| {
                    not_attempted(entry);
                    entry.verified = true;
                },
                "entry 2 (localhost:5000/nav-stack:v2): verified, but not_attempted",
            ),
            (
                |entry| {
                    not_attempted(entry);
                    entry.error = Some("never ran".into());
                },
                "entry 2 (localhost:5000/nav-stack:v2): an error, and not_attempted",
            ),
        ];
        for (n, (contradict, why)) in contradictions.into_iter().enumerate() {
            let mut contradicted = rollup();
            contradict(&mut contradicted.entries[usize::from(n > 0)]);
            std::fs::write(&path, serde_json::to_vec(&contradicted).unwrap()).unwrap();
            let message = read_rollup(&path).unwrap_err().to_string();
            assert!(message.contains(why), "{why}: {message}");
        }
        let mut consistent = rollup();
        not_attempted(&mut consistent.entries[1]);
        std::fs::write(&path, serde_json::to_vec(&consistent).unwrap()).unwrap();
        assert_eq!(read_rollup(&path).unwrap().1, consistent);
    }

    #[test]
    fn a_rollup_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_rollup(dir.path(), &rollup()).unwrap();
        assert_eq!(path, dir.path().join(ROLLUP_FILE));
        let (bytes, read) = read_rollup(&path).unwrap();
        assert_eq!(read, rollup());
        assert_eq!(bytes, std::fs::read(&path).unwrap());
        assert!(String::from_utf8(bytes).unwrap().contains(r#""status": "failed""#));
    }

    #[test]
    fn anything_but_a_catalog_seed_rollup_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.json");
        let seed_manifest = serde_json::to_string(&example()).unwrap();
        let mut extra = serde_json::to_value(rollup()).unwrap();
        extra["publish_me"] = true.into();
        let mut other_schema = rollup();
        other_schema.schema_version = "catalog-seed.v2".into();
        let mut no_digest = rollup();
        no_digest.entries[0].dest_digest = None;
        let mut bad_digest = rollup();
        bad_digest.entries[0].dest_digest = Some("sha256:12".into());
        let mut overclaimed = rollup();
        overclaimed.complete = true;
        for (text, why) in [
            (r#"{"hello": "world"}"#.to_owned(), "unknown field `hello`"),
            ("[1, 2, 3]".to_owned(), "invalid type"),
            ("not json".to_owned(), "expected ident"),
            (seed_manifest, "unknown field `source_ref`"),
            (extra.to_string(), "unknown field `publish_me`"),
            (
                serde_json::to_string(&other_schema).unwrap(),
                r#"schema_version is "catalog-seed.v2", not "catalog-seed.v1""#,
            ),
            (
                serde_json::to_string(&no_digest).unwrap(),
                "entry 1 (localhost:5000/robot-behavior:v1): seeded, but no dest_digest",
            ),
            (serde_json::to_string(&bad_digest).unwrap(), "entry 1 (localhost:5000/robot-behavior:v1): invalid digest"),
            (serde_json::to_string(&overclaimed).unwrap(), "complete is true but not every entry was seeded"),
        ] {
            std::fs::write(&path, &text).unwrap();
            let refused = read_rollup(&path).unwrap_err();
            assert!(matches!(refused, SeedError::NotRollup { .. }), "{refused:?}");
            let message = refused.to_string();
            assert!(message.contains("not a catalog-seed.v1 roll-up") && message.contains(why), "{why}: {message}");
        }
        std::fs::write(&path, vec![b' '; MAX_ROLLUP as usize + 1]).unwrap();
        assert!(read_rollup(&path).unwrap_err().to_string().contains("larger than"));
    }
}
