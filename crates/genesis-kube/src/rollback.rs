//! Anti-rollback from the cluster's own memory, beside the policy file's state: the install
//! record of a bundle's name says which version is installed. An older bundle is refused,
//! and so is the installed version with another BOM, and one that cannot be compared with
//! it (a record that cannot be read, a version that is not semver), never taken for
//! "nothing installed"; unless the caller allows a downgrade, which is then said.
//!
//! An install judges the record three times: before it loads anything, again just before
//! it applies (another install may have recorded meanwhile), and once more if the record
//! changed before it could replace it, which it does only at the version it judged.

use crate::record::{self, RecordedBundle, Snapshot};
use crate::{Cluster, InstallProgress, InstallRecord, KubeError, Refusal, Result};

/// Anti-rollback for one install of one bundle on `cluster`.
pub(crate) struct Guard<'a> {
    cluster: &'a Cluster,
    bundle: &'a RecordedBundle,
    allowed: bool,
    progress: &'a dyn InstallProgress,
    /// The override last said, not said again while the record stays as it was.
    said: Option<String>,
}

impl<'a> Guard<'a> {
    /// Anti-rollback for `bundle` (its name, version and BOM's SHA-256): refusing what it
    /// finds unless `allowed`, when `progress` hears what was let through.
    pub(crate) fn new(
        cluster: &'a Cluster,
        bundle: &'a RecordedBundle,
        allowed: bool,
        progress: &'a dyn InstallProgress,
    ) -> Self {
        Guard { cluster, bundle, allowed, progress, said: None }
    }

    /// The first check, before anything is loaded: [`Refusal::Downgrade`] when the record
    /// refuses the bundle.
    pub(crate) async fn check(&mut self) -> Result<()> {
        let seen = record::snapshot(self.cluster, &self.bundle.name).await?;
        self.judge(&seen).map_err(|reason| Refusal::Downgrade { reason }.into())
    }

    /// The check just before the apply: [`Refusal::Overtaken`] when the record now refuses
    /// the bundle; else the record as judged, the one [`Guard::record`] replaces.
    pub(crate) async fn recheck(&mut self) -> Result<Snapshot> {
        let seen = record::snapshot(self.cluster, &self.bundle.name).await?;
        self.judge(&seen).map_err(|reason| Refusal::Overtaken { reason })?;
        Ok(seen)
    }

    /// Records `ours` in place of `seen`, the record judged; if another install changed it
    /// since, judges what it wrote and replaces that, once. Returns the record replaced, if
    /// it could be read.
    pub(crate) async fn record(&mut self, ours: &InstallRecord, seen: Snapshot) -> Result<Option<InstallRecord>> {
        if record::write(self.cluster, ours, &seen).await? {
            return Ok(seen.into_record());
        }
        let changed = |reason: String| KubeError::RecordChanged { record: ours.location(), reason };
        let now = record::snapshot(self.cluster, &self.bundle.name).await?;
        self.judge(&now).map_err(changed)?;
        if record::write(self.cluster, ours, &now).await? {
            return Ok(now.into_record());
        }
        Err(changed("another install keeps changing it".into()))
    }

    /// `Ok` when `seen` holds nothing this bundle may not replace, or when a downgrade is
    /// allowed (said once for each finding); else why the bundle is refused.
    fn judge(&mut self, seen: &Snapshot) -> Result<(), String> {
        let cluster = self.cluster.describe();
        let finding = match seen {
            Snapshot::Absent => None,
            Snapshot::Held { record: Ok(installed), .. } => {
                let RecordedBundle { name, version, bom_digest, .. } = self.bundle;
                compare(installed, name, version, bom_digest, cluster)
            }
            Snapshot::Held { record: Err(e), .. } => Some(Finding::not_compared(e.to_string())),
        };
        let Some(Finding { reason, note }) = finding else { return Ok(()) };
        if !self.allowed {
            return Err(reason);
        }
        if self.said.as_deref() != Some(note.as_str()) {
            tracing::info!(%note, "anti-rollback overridden");
            self.progress.downgrade_allowed(&note);
            self.said = Some(note);
        }
        Ok(())
    }
}

/// Why anti-rollback refuses a bundle, and what is said when a downgrade is allowed.
#[derive(Debug)]
struct Finding {
    reason: String,
    note: String,
}

impl Finding {
    /// A record or version anti-rollback cannot judge.
    fn not_compared(reason: String) -> Finding {
        let note = format!("{reason}: anti-rollback not checked");
        Finding { reason, note }
    }
}

/// Why anti-rollback refuses bundle `name` at `version` (its BOM's SHA-256 `bom_digest`) on
/// `cluster` (as [`Cluster::describe`](crate::Cluster::describe) says it) while `installed` is
/// its install record, if it does, in the words an install refuses with: what a console shows
/// before it asks for a downgrade to be confirmed ([`crate::InstallOptions::allow_downgrade`]).
pub fn downgrade_reason(
    installed: &InstallRecord,
    name: &str,
    version: &str,
    bom_digest: &str,
    cluster: &str,
) -> Option<String> {
    compare(installed, name, version, bom_digest, cluster).map(|finding| finding.reason)
}

/// What anti-rollback finds against `installed` on `cluster` for bundle `name` at `version`
/// (its BOM's SHA-256 `bom_digest`), if anything: `None` when it is a newer version, or the
/// same version with the same BOM.
fn compare(installed: &InstallRecord, name: &str, version: &str, bom_digest: &str, cluster: &str) -> Option<Finding> {
    match (semver::Version::parse(&installed.version), semver::Version::parse(version)) {
        (Ok(theirs), Ok(ours)) if ours > theirs || (ours == theirs && installed.bom_digest == bom_digest) => None,
        (Ok(theirs), Ok(ours)) if ours == theirs => Some(Finding {
            reason: format!(
                "{name} {ours} is installed on {cluster} with BOM {}, this one is {bom_digest}: same version, different content (install record {})",
                installed.bom_digest,
                installed.location()
            ),
            note: format!("replacing {name} {ours} with another BOM of the same version"),
        }),
        (Ok(theirs), Ok(ours)) => Some(Finding {
            reason: format!(
                "{name} {ours} is older than {theirs}, installed on {cluster} (applied {})",
                installed.applied_at
            ),
            note: format!("downgrading {name} from {theirs} to {ours}"),
        }),
        (Err(e), _) => Some(Finding::not_compared(format!(
            "install record {}: the installed version {:?} is not a semantic version ({e})",
            installed.location(),
            installed.version
        ))),
        (Ok(theirs), Err(e)) => Some(Finding::not_compared(format!(
            "{name} {version:?} is not a semantic version ({e}), so it cannot be compared with {theirs}, installed on {cluster} (install record {})",
            installed.location()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(version: &str, bom_digest: &str) -> InstallRecord {
        let record = serde_json::json!({"name": "demo", "version": version, "bomDigest": bom_digest,
            "appliedAt": "2026-01-01T00:00:00Z", "objects": []});
        serde_json::from_value(record).unwrap()
    }

    /// `None` when the bundle may replace the record, else the start of the reason.
    fn check(installed: &InstallRecord, version: &str, bom_digest: &str) -> Option<String> {
        compare(installed, "demo", version, bom_digest, "https://127.0.0.1:6443").map(|f| f.reason)
    }

    #[test]
    fn the_installed_version_with_another_bom_is_refused_like_an_older_one() {
        let record = installed("1.0.0", "sha256:aa");
        assert_eq!(check(&record, "1.0.1", "sha256:bb"), None, "newer");
        assert_eq!(check(&record, "1.0.0", "sha256:aa"), None, "the same bundle again");
        let same_version = check(&record, "1.0.0", "sha256:bb").unwrap();
        assert_eq!(
            same_version,
            "demo 1.0.0 is installed on https://127.0.0.1:6443 with BOM sha256:aa, this one is sha256:bb: same version, different content (install record genesis-system/genesis-bundle-demo)"
        );
        let older = check(&record, "0.9.0", "sha256:aa").unwrap();
        assert!(older.starts_with("demo 0.9.0 is older than 1.0.0, installed on https://127.0.0.1:6443"), "{older}");
        let nightly = check(&record, "nightly", "sha256:aa").unwrap();
        assert!(nightly.starts_with(r#"demo "nightly" is not a semantic version"#), "{nightly}");
    }
}
