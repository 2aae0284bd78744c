//! Anti-rollback from the cluster's own memory, beside the policy file's state: the install
//! record of a bundle's name says which version is installed. An older bundle is refused,
//! and so is one that cannot be compared with it (a record that cannot be read, a version
//! that is not semver), never taken for "nothing installed"; unless the caller allows a
//! downgrade, which is then said.

use genesis_bundle::Bom;

use crate::{Cluster, InstallProgress, InstallRecord, KubeError, Refusal, Result};

/// Checks `bom` against the cluster's install record of its name: `Ok` when nothing newer
/// is installed, or when `allowed` (and `progress` hears what was let through); else
/// [`Refusal::Downgrade`].
pub(crate) async fn check(cluster: &Cluster, bom: &Bom, allowed: bool, progress: &dyn InstallProgress) -> Result<()> {
    let finding = match crate::read_record(cluster, &bom.name).await {
        Ok(None) => return Ok(()),
        Ok(Some(installed)) => match compare(&installed, bom, cluster.describe()) {
            Some(finding) => finding,
            None => return Ok(()),
        },
        Err(e @ KubeError::UnreadableRecord { .. }) => Finding::not_compared(e.to_string()),
        Err(e) => return Err(e),
    };
    if allowed {
        tracing::info!(note = %finding.note, "anti-rollback overridden");
        progress.downgrade_allowed(&finding.note);
        return Ok(());
    }
    Err(Refusal::Downgrade { reason: finding.reason }.into())
}

/// Why anti-rollback refuses a bundle, and what is said when a downgrade is allowed.
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

/// What anti-rollback finds against `installed` on `cluster`, if anything: `None` when `bom`
/// is the same version or newer.
fn compare(installed: &InstallRecord, bom: &Bom, cluster: &str) -> Option<Finding> {
    match (semver::Version::parse(&installed.version), semver::Version::parse(&bom.version)) {
        (Ok(theirs), Ok(ours)) if ours >= theirs => None,
        (Ok(theirs), Ok(ours)) => Some(Finding {
            reason: format!(
                "{} {ours} is older than {theirs}, installed on {cluster} (applied {})",
                bom.name, installed.applied_at
            ),
            note: format!("downgrading {} from {theirs} to {ours}", bom.name),
        }),
        (Err(e), _) => Some(Finding::not_compared(format!(
            "install record {}: the installed version {:?} is not a semantic version ({e})",
            installed.location(),
            installed.version
        ))),
        (Ok(theirs), Err(e)) => Some(Finding::not_compared(format!(
            "{} {:?} is not a semantic version ({e}), so it cannot be compared with {theirs}, installed on {cluster} (install record {})",
            bom.name,
            bom.version,
            installed.location()
        ))),
    }
}
