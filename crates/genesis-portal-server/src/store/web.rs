//! What the web pages keep in the metadata database (decision 0038): browser sessions, the
//! vendor's admins, the audit log, what publishing recorded of each bundle, and the export
//! lists the pages show. Sessions live here rather than in the process so that portals sharing
//! a database share them, and so that revoking a key or an admin ends its sessions everywhere.
//!
//! As with license keys, the database holds only the SHA-256 of a session cookie and of an
//! admin token: both are 32 or more random bytes, so a plain hash makes a stolen database
//! useless for signing in.

use genesis_portal_client::protocol::ExportState;

use super::{EXPORT_COLUMNS, Export, ExportRow, LookupError, Store, export_record, state_name};
use crate::error::{PortalServerError, Result};
use crate::facts::BundleFacts;

/// The audit log's actions that the portal writes and reads back.
pub(crate) mod action {
    /// An organisation created.
    pub(crate) const ORG_CREATE: &str = "org.create";
    /// A license key created.
    pub(crate) const KEY_CREATE: &str = "key.create";
    /// A license key revoked.
    pub(crate) const KEY_REVOKE: &str = "key.revoke";
    /// An organisation entitled to a version range.
    pub(crate) const ENTITLE: &str = "entitle";
    /// A release published.
    pub(crate) const RELEASE_PUBLISH: &str = "release.publish";
    /// An artifact or an export pack downloaded (subject `product/version/name`).
    pub(crate) const DOWNLOAD: &str = "download";
    /// An export pack requested.
    pub(crate) const EXPORT_REQUEST: &str = "export.request";
    /// A customer or an admin signed in on the web pages.
    pub(crate) const SIGN_IN: &str = "sign-in";
    /// An admin created.
    pub(crate) const ADMIN_CREATE: &str = "admin.create";
    /// An admin revoked.
    pub(crate) const ADMIN_REVOKE: &str = "admin.revoke";
}

/// Who a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// A customer, signed in with a license key: the session's subject is the key's id.
    Customer,
    /// A vendor's admin, signed in with an admin token: the subject is the admin's id.
    Vendor,
}

impl SessionKind {
    /// The word the `sessions` table keeps.
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Customer => "customer",
            SessionKind::Vendor => "vendor",
        }
    }
}

/// A browser session, found by the SHA-256 of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who it is for.
    pub kind: SessionKind,
    /// The key id (customer) or admin id (vendor) behind it, checked again on every request.
    pub subject: String,
    /// The token every form of the session carries.
    pub csrf: String,
    /// Unix time it ends, however active it is.
    pub expires: i64,
}

/// One of the vendor's admins (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRecord {
    /// Public identifier (`a_<hex>`).
    pub id: String,
    /// The person, as the audit log names them (`admin:<name>`).
    pub name: String,
    /// Unix time it was created.
    pub created: i64,
    /// Unix time it was revoked.
    pub revoked: Option<i64>,
}

/// One line of the audit log: who did what, when, to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix time.
    pub at: i64,
    /// `admin:<name>`, `cli:<user>` or `key:<key id>`.
    pub actor: String,
    /// What was done (`key.create`, `download`, …).
    pub action: String,
    /// The organisation concerned, when one is.
    pub org: Option<String>,
    /// What it was done to: a key or admin id, `product/version`, `product/version/name`, ….
    pub subject: String,
}

/// The columns of an admin a lookup reads, and their row.
const ADMIN_COLUMNS: &str = "id, name, created, revoked";
type AdminRow = (String, String, i64, Option<i64>);

fn admin_record((id, name, created, revoked): AdminRow) -> AdminRecord {
    AdminRecord { id, name, created, revoked }
}

/// The clock in nanoseconds, which orders the audit entries of one second (`seq`): the
/// portable SQL of both databases has no common auto-increment.
fn clock_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Store {
    /// Records a new session under the SHA-256 of its cookie, and deletes the sessions that
    /// have ended (a session never met again would otherwise stay).
    pub async fn insert_session(&self, id_hash: &str, session: &Session) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires <= $1")
            .bind(crate::now())
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database("deleting the sessions that ended"))?;
        sqlx::query("INSERT INTO sessions (id, kind, subject, csrf, expires) VALUES ($1, $2, $3, $4, $5)")
            .bind(id_hash)
            .bind(session.kind.as_str())
            .bind(&session.subject)
            .bind(&session.csrf)
            .bind(session.expires)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("recording a session of {}", session.subject)))?;
        Ok(())
    }

    /// The session whose cookie hashes to `id_hash`; `None` when there is none or it ended
    /// by `now` (then its row is deleted).
    pub async fn session(&self, id_hash: &str, now: i64) -> Result<Option<Session>> {
        let row: Option<(String, String, String, i64)> =
            sqlx::query_as("SELECT kind, subject, csrf, expires FROM sessions WHERE id = $1")
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(PortalServerError::database("looking up a session"))?;
        let Some((kind, subject, csrf, expires)) = row else {
            return Ok(None);
        };
        if expires <= now {
            self.delete_session(id_hash).await?;
            return Ok(None);
        }
        let kind = serde_json::from_value(serde_json::Value::String(kind))
            .map_err(PortalServerError::column("sessions.kind"))?;
        Ok(Some(Session { kind, subject, csrf, expires }))
    }

    /// Ends a session (sign-out, or a key or admin found revoked).
    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database("ending a session"))?;
        Ok(())
    }

    /// Stores a new admin (its token by hash); [`PortalServerError::AdminExists`] when an
    /// admin, revoked or not, has its name already.
    pub async fn insert_admin(&self, admin: &AdminRecord, hash: &str) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO admins (id, name, hash, created, revoked) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&admin.id)
        .bind(&admin.name)
        .bind(hash)
        .bind(admin.created)
        .bind(admin.revoked)
        .execute(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("storing the admin {}", admin.id)))?;
        if inserted.rows_affected() == 0 {
            return Err(PortalServerError::AdminExists { name: admin.name.clone() });
        }
        Ok(())
    }

    /// The admin whose token hashes to `hash`, revoked or not.
    pub async fn admin_by_hash(&self, hash: &str) -> Result<Option<AdminRecord>> {
        let row: Option<AdminRow> = sqlx::query_as(&format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(PortalServerError::database("looking up an admin token"))?;
        Ok(row.map(admin_record))
    }

    /// The admin with id `id`, revoked or not.
    pub async fn admin_by_id(&self, id: &str) -> Result<Option<AdminRecord>> {
        let row: Option<AdminRow> = sqlx::query_as(&format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("looking up the admin {id}")))?;
        Ok(row.map(admin_record))
    }

    /// Every admin, oldest first.
    pub async fn admins(&self) -> Result<Vec<AdminRecord>> {
        let rows: Vec<AdminRow> = sqlx::query_as(&format!("SELECT {ADMIN_COLUMNS} FROM admins ORDER BY created, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(PortalServerError::database("listing the admins"))?;
        Ok(rows.into_iter().map(admin_record).collect())
    }

    /// Revokes an admin from `now` on; [`LookupError::NoActiveAdmin`] when none is active by
    /// that id.
    pub async fn revoke_admin(&self, id: &str, now: i64) -> Result<()> {
        let done = sqlx::query("UPDATE admins SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("revoking the admin {id}")))?;
        if done.rows_affected() == 0 {
            return Err(LookupError::NoActiveAdmin { id: id.to_owned() }.into());
        }
        Ok(())
    }

    /// Appends an entry to the audit log.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        sqlx::query("INSERT INTO audit (at, seq, actor, action, org, subject) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(entry.at)
            .bind(clock_nanos())
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.org)
            .bind(&entry.subject)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("recording `{}` in the audit log", entry.action)))?;
        Ok(())
    }

    /// Appends to the audit log that `actor` did `action` to `subject` (of `org`) now.
    pub(crate) async fn audit_now(&self, actor: &str, action: &str, org: Option<&str>, subject: &str) -> Result<()> {
        self.audit(&AuditEntry {
            at: crate::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            org: org.map(str::to_owned),
            subject: subject.to_owned(),
        })
        .await
    }

    /// The `limit` newest entries of the audit log, newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(i64, String, String, Option<String>, String)> =
            sqlx::query_as("SELECT at, actor, action, org, subject FROM audit ORDER BY at DESC, seq DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(PortalServerError::database("reading the audit log"))?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, org, subject)| AuditEntry { at, actor, action, org, subject })
            .collect())
    }

    /// How many downloads (artifacts and export packs) each organisation made, by name.
    pub async fn downloads_per_org(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT org, COUNT(*) FROM audit WHERE action = $1 AND org IS NOT NULL GROUP BY org ORDER BY org",
        )
        .bind(action::DOWNLOAD)
        .fetch_all(&self.pool)
        .await
        .map_err(PortalServerError::database("counting the downloads per organisation"))?;
        rows.into_iter()
            .map(|(org, count)| Ok((org, u64::try_from(count).map_err(PortalServerError::column("audit.count"))?)))
            .collect()
    }

    /// How many downloads (artifacts and export packs) `org` made.
    pub async fn downloads_of(&self, org: &str) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = $1 AND org = $2")
            .bind(action::DOWNLOAD)
            .bind(org)
            .fetch_one(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("counting the downloads of {org}")))?;
        u64::try_from(count).map_err(PortalServerError::column("audit.count"))
    }

    /// What publishing recorded of the bundles of a release, by bundle name; empty for a
    /// release published before the portal recorded it.
    pub async fn bundle_facts(&self, product: &str, version: &str) -> Result<Vec<BundleFacts>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT facts FROM bundle_facts WHERE product = $1 AND version = $2 ORDER BY bundle")
                .bind(product)
                .bind(version)
                .fetch_all(&self.pool)
                .await
                .map_err(PortalServerError::database(format!("reading the bundle facts of {product} {version}")))?;
        rows.iter()
            .map(|facts| serde_json::from_str(facts).map_err(PortalServerError::column("bundle_facts.facts")))
            .collect()
    }

    /// The exports of `org`, newest first.
    pub async fn exports_of(&self, org: &str) -> Result<Vec<Export>> {
        let rows: Vec<ExportRow> =
            sqlx::query_as(&format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE org = $1 ORDER BY created DESC, id"))
                .bind(org)
                .fetch_all(&self.pool)
                .await
                .map_err(PortalServerError::database(format!("listing the exports of {org}")))?;
        rows.into_iter().map(export_record).collect()
    }

    /// The exports still being built and the `limit` newest, newest first, across
    /// organisations.
    pub async fn recent_exports(&self, limit: u32) -> Result<Vec<Export>> {
        let rows: Vec<ExportRow> = sqlx::query_as(&format!(
            "SELECT {EXPORT_COLUMNS} FROM exports WHERE status = $1 \
             OR id IN (SELECT id FROM exports ORDER BY created DESC, id LIMIT $2) ORDER BY created DESC, id"
        ))
        .bind(state_name(ExportState::Pending))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(PortalServerError::database("listing the recent exports"))?;
        rows.into_iter().map(export_record).collect()
    }
}

#[cfg(test)]
mod tests {
    use genesis_trust::AcceptedSigner;

    use super::{AuditEntry, Session, SessionKind};
    use crate::facts::{BundleFacts, Component, SbomFacts};
    use crate::store::{Export, Release, Store};

    async fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("portal.db").display())).await.unwrap()
    }

    #[tokio::test]
    async fn a_session_is_found_until_it_ends_and_then_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let session = Session { kind: SessionKind::Customer, subject: "k_1".into(), csrf: "c".into(), expires: 1_000 };
        store.insert_session("h1", &session).await.unwrap();
        assert_eq!(store.session("h1", 999).await.unwrap(), Some(session));
        assert_eq!(store.session("h1", 1_000).await.unwrap(), None, "ended at its expiry");
        assert_eq!(store.session("h1", 999).await.unwrap(), None, "and deleted when met");
        assert_eq!(store.session("h2", 0).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_audit_log_reads_newest_first_and_counts_downloads_per_organisation() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let entry = |at, action: &str, org: Option<&str>, subject: &str| AuditEntry {
            at,
            actor: "cli:test".into(),
            action: action.into(),
            org: org.map(str::to_owned),
            subject: subject.into(),
        };
        let entries = [
            entry(10, "org.create", Some("acme"), "acme"),
            entry(20, "download", Some("acme"), "genesis/0.1.0/demo-0.1.0.tar.zst"),
            // The same second: the one recorded later is newer.
            entry(20, "download", Some("beta"), "genesis/0.1.0/demo-0.1.0.tar.zst"),
            entry(30, "download", Some("acme"), "genesis/0.1.0/demo-0.1.0.tar.zst.sha256"),
            entry(40, "release.publish", None, "genesis/0.2.0"),
        ];
        for e in &entries {
            store.audit(e).await.unwrap();
        }
        let newest_first: Vec<AuditEntry> = entries.iter().rev().cloned().collect();
        assert_eq!(store.audit_log(500).await.unwrap(), newest_first);
        assert_eq!(store.audit_log(2).await.unwrap(), newest_first[..2]);
        assert_eq!(store.downloads_per_org().await.unwrap(), [("acme".to_owned(), 2), ("beta".to_owned(), 1)]);
        assert_eq!((store.downloads_of("acme").await.unwrap(), store.downloads_of("gamma").await.unwrap()), (2, 0));
    }

    #[tokio::test]
    async fn a_release_s_bundle_facts_are_read_back_as_recorded_and_an_older_release_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let facts = BundleFacts {
            bundle: "demo-0.1.0.tar.zst".into(),
            verified_at: 1_700_000_000,
            signer: AcceptedSigner::Identity { subject: "ci@vendor.example".into(), issuer: "https://idp".into() },
            bom_sha256: format!("sha256:{}", "a".repeat(64)),
            files: 12,
            payload_bytes: 1 << 20,
            images: 1,
            charts: 1,
            manifests: 3,
            policy: vec!["signed by ci@vendor.example".into()],
            sbom: Some(SbomFacts {
                format: "CycloneDX 1.5".into(),
                components: vec![Component {
                    name: "web".into(),
                    version: Some("0.1.0".into()),
                    kind: "application".into(),
                    purl: None,
                }],
            }),
            provenance: None,
        };
        let release = |version: &str| Release {
            product: "genesis".into(),
            version: version.into(),
            published: 0,
            signer: "SHA256:x".into(),
            signer_pem: String::new(),
        };
        store.insert_release(&release("0.1.0"), &[], std::slice::from_ref(&facts)).await.unwrap();
        store.insert_release(&release("0.0.9"), &[], &[]).await.unwrap();
        assert_eq!(store.bundle_facts("genesis", "0.1.0").await.unwrap(), [facts]);
        assert!(store.bundle_facts("genesis", "0.0.9").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn exports_are_listed_newest_first_with_every_pending_one_among_the_recent() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        for (id, org, created) in [("exp_old", "acme", 1), ("exp_mid", "beta", 2), ("exp_new", "acme", 3)] {
            let export = Export::pending(id.into(), org.into(), "genesis".into(), "0.1.0".into(), created);
            store.insert_export(&export, "portal-a").await.unwrap();
        }
        // The two newer ones are done; the oldest is still building.
        for (id, org) in [("exp_mid", "beta"), ("exp_new", "acme")] {
            let mut done = store.export(org, id).await.unwrap().unwrap();
            done.status = genesis_portal_client::protocol::ExportState::Failed;
            done.finished = Some(4);
            store.finish_export(&done).await.unwrap();
        }
        let ids = |exports: Vec<Export>| exports.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(store.exports_of("acme").await.unwrap()), ["exp_new", "exp_old"]);
        assert_eq!(ids(store.recent_exports(1).await.unwrap()), ["exp_new", "exp_old"]);
        assert_eq!(ids(store.recent_exports(100).await.unwrap()), ["exp_new", "exp_mid", "exp_old"]);
    }
}
