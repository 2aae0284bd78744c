//! The portal's metadata (organisations, keys, entitlements, releases, exports, and what the
//! web pages keep: sessions, admins, the audit log, bundle facts) in SQL: SQLite in the data
//! directory by default, PostgreSQL when the configuration names one. The same statements run
//! on both through sqlx's `Any` driver, so the two cannot drift apart.
//!
//! License keys are stored only as their SHA-256: a key is 192 random bits, so a plain hash
//! is enough to make a stolen database useless for authenticating (no password stretching
//! needed), and it lets a lookup be one indexed query.

mod web;

use std::net::IpAddr;
use std::str::FromStr as _;

use genesis_portal_client::Entitlement;
use genesis_portal_client::protocol::{ArtifactKind, ExportState, Scope};
use genesis_types::{Classify, Digest, ErrorClass};
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyConnection, AnyPool};

use crate::config::ConfigError;
use crate::error::{PortalServerError, Result};
use crate::facts::BundleFacts;

pub(crate) use web::action;
pub use web::{AdminRecord, AuditEntry, Session, SessionKind};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS orgs (name TEXT PRIMARY KEY, created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(name), \
     hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL, revoked BIGINT)",
    "CREATE TABLE IF NOT EXISTS entitlements (org TEXT NOT NULL REFERENCES orgs(name), product TEXT NOT NULL, \
     versions TEXT NOT NULL, PRIMARY KEY (org, product, versions))",
    "CREATE TABLE IF NOT EXISTS releases (product TEXT NOT NULL, version TEXT NOT NULL, published BIGINT NOT NULL, \
     signer TEXT NOT NULL, signer_pem TEXT NOT NULL, PRIMARY KEY (product, version))",
    "CREATE TABLE IF NOT EXISTS artifacts (product TEXT NOT NULL, version TEXT NOT NULL, name TEXT NOT NULL, \
     kind TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (product, version, name))",
    "CREATE TABLE IF NOT EXISTS exports (id TEXT PRIMARY KEY, org TEXT NOT NULL, product TEXT NOT NULL, \
     version TEXT NOT NULL, status TEXT NOT NULL, root_hash TEXT, sha256 TEXT, size BIGINT, error TEXT, \
     created BIGINT NOT NULL)",
    // The web pages' tables (decision 0038): see `web.rs`.
    "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, \
     csrf TEXT NOT NULL, expires BIGINT NOT NULL)",
    // Every new session deletes those that have ended.
    "CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires)",
    "CREATE TABLE IF NOT EXISTS admins (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, \
     created BIGINT NOT NULL, revoked BIGINT)",
    // The audit log names an admin by name: one name, one person, revoked or not.
    "CREATE UNIQUE INDEX IF NOT EXISTS admins_name ON admins (name)",
    "CREATE TABLE IF NOT EXISTS audit (at BIGINT NOT NULL, seq BIGINT NOT NULL, actor TEXT NOT NULL, \
     action TEXT NOT NULL, org TEXT, subject TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit (at, seq)",
    // The downloads counted per organisation, or of one, on the vendor's pages.
    "CREATE INDEX IF NOT EXISTS audit_action_org ON audit (action, org)",
    "CREATE TABLE IF NOT EXISTS bundle_facts (product TEXT NOT NULL, version TEXT NOT NULL, bundle TEXT NOT NULL, \
     facts TEXT NOT NULL, PRIMARY KEY (product, version, bundle))",
    // A release being published: claimed before its files are stored, so that two
    // publications of it never overwrite each other's files.
    "CREATE TABLE IF NOT EXISTS publishing (product TEXT NOT NULL, version TEXT NOT NULL, actor TEXT NOT NULL, \
     started BIGINT NOT NULL, PRIMARY KEY (product, version))",
    // Made by an earlier build of the pages and used by none.
    "DROP INDEX IF EXISTS sessions_subject",
];

/// Columns added after their table was first released, as `(table, column, type)`: a database
/// created before gets them when it is opened. An export's `owner` is the portal instance
/// building it and `heartbeat` the last time its build said it was alive (decision 0012); a
/// key's `prefix` is the start of the key a vendor's page shows (decision 0038).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("exports", "finished", "BIGINT"),
    ("exports", "expired", "BIGINT"),
    ("exports", "owner", "TEXT"),
    ("exports", "heartbeat", "BIGINT"),
    ("keys", "prefix", "TEXT"),
];

/// The metadata database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// An organisation or key an admin command names that the portal does not hold. The
/// messages name no command: the binary adds the one that creates or lists what is there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No organisation of this name.
    #[error("no organisation `{org}`")]
    NoOrg {
        /// The name given.
        org: String,
    },
    /// No key with this id, or only a revoked one.
    #[error("no active key `{id}`")]
    NoActiveKey {
        /// The id given.
        id: String,
    },
    /// No admin with this id, or only a revoked one.
    #[error("no active admin `{id}`")]
    NoActiveAdmin {
        /// The id given.
        id: String,
    },
}

/// What an admin command names and the portal does not hold is not found.
impl Classify for LookupError {
    fn class(&self) -> ErrorClass {
        match self {
            LookupError::NoOrg { .. } | LookupError::NoActiveKey { .. } | LookupError::NoActiveAdmin { .. } => {
                ErrorClass::NotFound
            }
        }
    }
}

/// A key as the server sees it after a lookup.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Public identifier.
    pub id: String,
    /// Its organisation.
    pub org: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Unix time it expires.
    pub expires: i64,
    /// Unix time it was revoked.
    pub revoked: Option<i64>,
    /// The key's first characters (`sk_<org>_` and 6 hex digits), which tell a vendor which
    /// key a customer holds: 24 of its 192 random bits, too few to help guess the rest.
    /// `None` for a key made before the portal kept them.
    pub prefix: Option<String>,
}

/// A stored release.
#[derive(Debug, Clone)]
pub struct Release {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Unix time of publication.
    pub published: i64,
    /// Fingerprint of the key its bundles verified against.
    pub signer: String,
    /// That key, PEM, to verify again when packing an export.
    pub signer_pem: String,
}

/// A stored artifact of a release.
#[derive(Debug, Clone)]
pub struct StoredArtifact {
    /// File name.
    pub name: String,
    /// Kind.
    pub kind: ArtifactKind,
    /// Size.
    pub size: u64,
    /// SHA-256 (bare hex in the database).
    pub sha256: Digest,
}

/// A stored export.
#[derive(Debug, Clone)]
pub struct Export {
    /// Identifier.
    pub id: String,
    /// Organisation that asked for it.
    pub org: String,
    /// Release product.
    pub product: String,
    /// Release version.
    pub version: String,
    /// State.
    pub status: ExportState,
    /// Root hash when ready.
    pub root_hash: Option<Digest>,
    /// Pack SHA-256 when ready.
    pub sha256: Option<Digest>,
    /// Pack size when ready.
    pub size: Option<u64>,
    /// Failure reason.
    pub error: Option<String>,
    /// Unix time it was asked for.
    pub created: i64,
    /// Unix time its build ended (ready or failed).
    pub finished: Option<i64>,
    /// Unix time its pack was deleted, its retention time being over.
    pub expired: Option<i64>,
}

impl Export {
    /// A request for a pack of `org`'s release `product` `version`, made at `created`, not
    /// yet built.
    pub fn pending(id: String, org: String, product: String, version: String, created: i64) -> Export {
        Export {
            id,
            org,
            product,
            version,
            status: ExportState::Pending,
            root_hash: None,
            sha256: None,
            size: None,
            error: None,
            created,
            finished: None,
            expired: None,
        }
    }
}

/// Whether `table` has `column`, from the database's own catalogue (a failed query is an
/// error, never a missing column).
async fn has_column(conn: &mut AnyConnection, table: &str, column: &str) -> Result<bool> {
    let probe = match conn.backend_name() {
        "SQLite" => "SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2",
        "PostgreSQL" => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name::text = $1 AND column_name::text = $2"
        }
        other => return Err(PortalServerError::UnsupportedDatabase { backend: other.to_owned() }),
    };
    let found: i64 = sqlx::query_scalar(probe)
        .bind(table)
        .bind(column)
        .fetch_one(&mut *conn)
        .await
        .map_err(PortalServerError::database(format!("looking for the column {table}.{column}")))?;
    Ok(found > 0)
}

/// The start of a statement failing pending exports: `$1` failed, `$2` the reason, `$3` the
/// time, `$4` pending; a condition on `$5` follows.
const FAIL_PENDING: &str = "UPDATE exports SET status = $1, error = $2, finished = $3 WHERE status = $4";

/// SHA-256 hex of a license key: what the database holds instead of the key.
pub fn key_hash(key: &str) -> String {
    genesis_bundle::sha256(key.as_bytes()).hex().to_owned()
}

/// The columns of a key a lookup reads, and their row.
const KEY_COLUMNS: &str = "id, org, scopes, expires, revoked, prefix";
type KeyRow = (String, String, String, i64, Option<i64>, Option<String>);

fn key_record((id, org, scopes, expires, revoked, prefix): KeyRow) -> KeyRecord {
    // Scopes are stored space-separated; a word no longer known grants nothing.
    let scopes = scopes.split_whitespace().filter_map(|s| s.parse().ok()).collect();
    KeyRecord { id, org, scopes, expires, revoked, prefix }
}

fn state_name(s: ExportState) -> &'static str {
    match s {
        ExportState::Pending => "pending",
        ExportState::Ready => "ready",
        ExportState::Failed => "failed",
    }
}

fn kind_name(kind: ArtifactKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and creates the schema when absent.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(PortalServerError::database(format!("opening the metadata database {}", redact(url))))?;
        let mut conn =
            pool.acquire().await.map_err(PortalServerError::database("connecting to the metadata database"))?;
        for statement in SCHEMA {
            // PostgreSQL checks `IF NOT EXISTS` before it writes its catalogue: a portal starting
            // at the same moment can create the table in between. Once more then finds it.
            if sqlx::query(statement).execute(&mut *conn).await.is_err() {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .map_err(PortalServerError::database("creating the schema"))?;
            }
        }
        for (table, column, kind) in ADDED_COLUMNS {
            if has_column(&mut conn, table, column).await? {
                continue;
            }
            let added =
                sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}")).execute(&mut *conn).await;
            // A portal starting at the same moment may have added it first ("duplicate column").
            if let Err(e) = added
                && !has_column(&mut conn, table, column).await?
            {
                return Err(PortalServerError::database(format!("adding the column {table}.{column}"))(e));
            }
        }
        Ok(Store { pool })
    }

    /// Creates an organisation.
    pub async fn create_org(&self, name: &str, now: i64) -> Result<()> {
        let inserted = sqlx::query("INSERT INTO orgs (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("creating the organisation {name}")))?;
        if inserted.rows_affected() == 0 {
            return Err(PortalServerError::OrgExists { org: name.to_owned() });
        }
        Ok(())
    }

    /// Every organisation.
    pub async fn orgs(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM orgs ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(PortalServerError::database("listing the organisations"))
    }

    /// Fails with [`LookupError::NoOrg`] when `org` does not exist.
    pub async fn require_org(&self, org: &str) -> Result<()> {
        let found: Option<String> = sqlx::query_scalar("SELECT name FROM orgs WHERE name = $1")
            .bind(org)
            .fetch_optional(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("looking up the organisation {org}")))?;
        if found.is_none() {
            return Err(LookupError::NoOrg { org: org.to_owned() }.into());
        }
        Ok(())
    }

    /// Stores a new key (by hash).
    pub async fn insert_key(&self, record: &KeyRecord, hash: &str, now: i64) -> Result<()> {
        let scopes: Vec<_> = record.scopes.iter().map(|s| s.as_str()).collect();
        sqlx::query(
            "INSERT INTO keys (id, org, hash, scopes, created, expires, prefix) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&record.id)
        .bind(&record.org)
        .bind(hash)
        .bind(scopes.join(" "))
        .bind(now)
        .bind(record.expires)
        .bind(&record.prefix)
        .execute(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("storing the key {}", record.id)))?;
        Ok(())
    }

    /// The key whose hash is `hash`.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(PortalServerError::database("looking up a license key"))?;
        Ok(row.map(key_record))
    }

    /// The key with id `id`, revoked or not.
    pub async fn key_by_id(&self, id: &str) -> Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("looking up the key {id}")))?;
        Ok(row.map(key_record))
    }

    /// The keys of an organisation (never their secret).
    pub async fn keys(&self, org: &str) -> Result<Vec<KeyRecord>> {
        let rows: Vec<KeyRow> =
            sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE org = $1 ORDER BY created, id"))
                .bind(org)
                .fetch_all(&self.pool)
                .await
                .map_err(PortalServerError::database(format!("listing the keys of {org}")))?;
        Ok(rows.into_iter().map(key_record).collect())
    }

    /// Revokes a key from `now` on; [`LookupError::NoActiveKey`] when none is active by that id.
    pub async fn revoke_key(&self, id: &str, now: i64) -> Result<()> {
        let done = sqlx::query("UPDATE keys SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("revoking the key {id}")))?;
        if done.rows_affected() == 0 {
            return Err(LookupError::NoActiveKey { id: id.to_owned() }.into());
        }
        Ok(())
    }

    /// Entitles an organisation to a version range of a product.
    pub async fn entitle(&self, org: &str, product: &str, versions: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO entitlements (org, product, versions) VALUES ($1, $2, $3) \
             ON CONFLICT (org, product, versions) DO NOTHING",
        )
        .bind(org)
        .bind(product)
        .bind(versions)
        .execute(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("entitling {org} to {product} {versions}")))?;
        Ok(())
    }

    /// An organisation's entitlements.
    pub async fn entitlements(&self, org: &str) -> Result<Vec<Entitlement>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT product, versions FROM entitlements WHERE org = $1 ORDER BY product, versions")
                .bind(org)
                .fetch_all(&self.pool)
                .await
                .map_err(PortalServerError::database(format!("reading the entitlements of {org}")))?;
        Ok(rows.into_iter().map(|(product, versions)| Entitlement { product, versions }).collect())
    }

    /// Records a published release, its artifacts and what the verification of its bundles
    /// established, in one transaction: either the whole release is visible, with its facts,
    /// or none of it.
    pub async fn insert_release(
        &self,
        release: &Release,
        artifacts: &[StoredArtifact],
        facts: &[BundleFacts],
    ) -> Result<()> {
        let recording = || format!("recording the release {} {}", release.product, release.version);
        let mut tx = self.pool.begin().await.map_err(PortalServerError::database(recording()))?;
        let inserted = sqlx::query(
            "INSERT INTO releases (product, version, published, signer, signer_pem) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (product, version) DO NOTHING",
        )
        .bind(&release.product)
        .bind(&release.version)
        .bind(release.published)
        .bind(&release.signer)
        .bind(&release.signer_pem)
        .execute(&mut *tx)
        .await
        .map_err(PortalServerError::database(recording()))?;
        if inserted.rows_affected() == 0 {
            return Err(PortalServerError::ReleaseExists {
                product: release.product.clone(),
                version: release.version.clone(),
            });
        }
        for a in artifacts {
            sqlx::query(
                "INSERT INTO artifacts (product, version, name, kind, size, sha256) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&release.product)
            .bind(&release.version)
            .bind(&a.name)
            .bind(kind_name(a.kind))
            .bind(i64::try_from(a.size).map_err(PortalServerError::column("artifacts.size"))?)
            .bind(a.sha256.hex())
            .execute(&mut *tx)
            .await
            .map_err(PortalServerError::database(recording()))?;
        }
        for f in facts {
            sqlx::query("INSERT INTO bundle_facts (product, version, bundle, facts) VALUES ($1, $2, $3, $4)")
                .bind(&release.product)
                .bind(&release.version)
                .bind(&f.bundle)
                .bind(serde_json::to_string(f).map_err(PortalServerError::column("bundle_facts.facts"))?)
                .execute(&mut *tx)
                .await
                .map_err(PortalServerError::database(recording()))?;
        }
        tx.commit().await.map_err(PortalServerError::database(recording()))?;
        Ok(())
    }

    /// Claims the publication of `product` `version` for `actor` at `now`: `None` when this
    /// caller holds the claim, else who holds it and since when. A claim started before
    /// `stale_before` was left by a publisher that died and is taken over.
    pub async fn claim_publication(
        &self,
        product: &str,
        version: &str,
        actor: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<(String, i64)>> {
        let failed = || PortalServerError::database(format!("claiming the publication of {product} {version}"));
        sqlx::query("DELETE FROM publishing WHERE product = $1 AND version = $2 AND started < $3")
            .bind(product)
            .bind(version)
            .bind(stale_before)
            .execute(&self.pool)
            .await
            .map_err(failed())?;
        let claimed = sqlx::query(
            "INSERT INTO publishing (product, version, actor, started) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (product, version) DO NOTHING",
        )
        .bind(product)
        .bind(version)
        .bind(actor)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(failed())?;
        if claimed.rows_affected() == 1 {
            return Ok(None);
        }
        sqlx::query_as("SELECT actor, started FROM publishing WHERE product = $1 AND version = $2")
            .bind(product)
            .bind(version)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed())
    }

    /// Gives up the claim [`Store::claim_publication`] made at `started`, and only that one.
    pub async fn end_publication_claim(&self, product: &str, version: &str, started: i64) -> Result<()> {
        sqlx::query("DELETE FROM publishing WHERE product = $1 AND version = $2 AND started = $3")
            .bind(product)
            .bind(version)
            .bind(started)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("ending the publication claim of {product} {version}")))?;
        Ok(())
    }

    /// Every release, newest publication first.
    pub async fn releases(&self) -> Result<Vec<Release>> {
        let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT product, version, published, signer, signer_pem FROM releases ORDER BY published DESC, product, version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(PortalServerError::database("listing the releases"))?;
        Ok(rows
            .into_iter()
            .map(|(product, version, published, signer, signer_pem)| Release {
                product,
                version,
                published,
                signer,
                signer_pem,
            })
            .collect())
    }

    /// One release.
    pub async fn release(&self, product: &str, version: &str) -> Result<Option<Release>> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT published, signer, signer_pem FROM releases WHERE product = $1 AND version = $2")
                .bind(product)
                .bind(version)
                .fetch_optional(&self.pool)
                .await
                .map_err(PortalServerError::database(format!("looking up the release {product} {version}")))?;
        Ok(row.map(|(published, signer, signer_pem)| Release {
            product: product.to_owned(),
            version: version.to_owned(),
            published,
            signer,
            signer_pem,
        }))
    }

    /// A release's artifacts, by name.
    pub async fn artifacts(&self, product: &str, version: &str) -> Result<Vec<StoredArtifact>> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT name, kind, size, sha256 FROM artifacts WHERE product = $1 AND version = $2 ORDER BY name",
        )
        .bind(product)
        .bind(version)
        .fetch_all(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("listing the artifacts of {product} {version}")))?;
        rows.into_iter()
            .map(|(name, kind, size, sha256)| {
                Ok(StoredArtifact {
                    kind: serde_json::from_value(serde_json::Value::String(kind))
                        .map_err(PortalServerError::column("artifacts.kind"))?,
                    name,
                    size: u64::try_from(size).map_err(PortalServerError::column("artifacts.size"))?,
                    sha256: Digest::from_sha256_hex(&sha256).map_err(PortalServerError::column("artifacts.sha256"))?,
                })
            })
            .collect()
    }

    /// Records a new pending export, built by the portal instance `owner`, alive as of its
    /// creation.
    pub async fn insert_export(&self, export: &Export, owner: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO exports (id, org, product, version, status, created, owner, heartbeat) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&export.id)
        .bind(&export.org)
        .bind(&export.product)
        .bind(&export.version)
        .bind(state_name(export.status))
        .bind(export.created)
        .bind(owner)
        .bind(export.created)
        .execute(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("recording the export {}", export.id)))?;
        Ok(())
    }

    /// Records that a pending export's build is alive at `now`.
    pub async fn beat_export(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE exports SET heartbeat = $1 WHERE id = $2 AND status = $3")
            .bind(now)
            .bind(id)
            .bind(state_name(ExportState::Pending))
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("recording that the export {id} is being built")))?;
        Ok(())
    }

    /// Records how an export's build ended.
    pub async fn finish_export(&self, export: &Export) -> Result<()> {
        sqlx::query(
            "UPDATE exports SET status = $1, root_hash = $2, sha256 = $3, size = $4, error = $5, finished = $6 \
             WHERE id = $7",
        )
        .bind(state_name(export.status))
        .bind(export.root_hash.as_ref().map(Digest::hex))
        .bind(export.sha256.as_ref().map(Digest::hex))
        .bind(export.size.map(i64::try_from).transpose().map_err(PortalServerError::column("exports.size"))?)
        .bind(&export.error)
        .bind(export.finished)
        .bind(&export.id)
        .execute(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("recording the outcome of the export {}", export.id)))?;
        Ok(())
    }

    /// Marks failed at `now`, with `reason`, the pending exports of the portal instance
    /// `owner`, known to have stopped (a kill, a crash, a shutdown mid-build): a build runs in
    /// the process that started it, so they would otherwise stay pending forever. Returns how
    /// many there were.
    pub async fn fail_exports_of(&self, owner: &str, now: i64, reason: &str) -> Result<u64> {
        let failed = sqlx::query(&format!("{FAIL_PENDING} AND owner = $5"))
            .bind(state_name(ExportState::Failed))
            .bind(reason)
            .bind(now)
            .bind(state_name(ExportState::Pending))
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("failing the exports {owner} left pending")))?;
        Ok(failed.rows_affected())
    }

    /// Marks failed at `now`, with `reason`, the pending exports whose build has not said it
    /// is alive since `silent_since`, whichever portal started it: one that stopped on another
    /// host, or a portal from before builds said so. Returns how many there were.
    pub async fn fail_silent_exports(&self, silent_since: i64, now: i64, reason: &str) -> Result<u64> {
        let failed = sqlx::query(&format!("{FAIL_PENDING} AND COALESCE(heartbeat, created) < $5"))
            .bind(state_name(ExportState::Failed))
            .bind(reason)
            .bind(now)
            .bind(state_name(ExportState::Pending))
            .bind(silent_since)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database("failing the exports whose build fell silent"))?;
        Ok(failed.rows_affected())
    }

    /// The id of `org`'s newest ready export of a release whose build ended after `since` and
    /// whose pack is not deleted.
    pub async fn ready_export(&self, org: &str, product: &str, version: &str, since: i64) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT id FROM exports WHERE org = $1 AND product = $2 AND version = $3 AND status = $4 \
             AND finished > $5 AND expired IS NULL ORDER BY finished DESC, id LIMIT 1",
        )
        .bind(org)
        .bind(product)
        .bind(version)
        .bind(state_name(ExportState::Ready))
        .bind(since)
        .fetch_optional(&self.pool)
        .await
        .map_err(PortalServerError::database(format!("looking up a ready export of {product} {version} for {org}")))
    }

    /// The exports whose build ended at or before `cutoff` and that have not expired yet, as
    /// `(org, id)`.
    pub async fn exports_finished_by(&self, cutoff: i64) -> Result<Vec<(String, String)>> {
        sqlx::query_as("SELECT org, id FROM exports WHERE finished <= $1 AND expired IS NULL ORDER BY id")
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await
            .map_err(PortalServerError::database("listing the exports past their retention time"))
    }

    /// Records that an export's pack was deleted at `now`.
    pub async fn expire_export(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE exports SET expired = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(PortalServerError::database(format!("recording that the export {id} expired")))?;
        Ok(())
    }

    /// One export of `org` (another organisation's export is not found).
    pub async fn export(&self, org: &str, id: &str) -> Result<Option<Export>> {
        let row: Option<ExportRow> =
            sqlx::query_as(&format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1 AND org = $2"))
                .bind(id)
                .bind(org)
                .fetch_optional(&self.pool)
                .await
                .map_err(PortalServerError::database(format!("looking up the export {id}")))?;
        row.map(export_record).transpose()
    }
}

/// The columns of an export a lookup reads, and their row.
const EXPORT_COLUMNS: &str =
    "id, org, product, version, status, root_hash, sha256, size, error, created, finished, expired";
type ExportRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
);

fn export_record(
    (id, org, product, version, status, root_hash, sha256, size, error, created, finished, expired): ExportRow,
) -> Result<Export> {
    let digest = |hex: Option<String>, column: &'static str| {
        hex.as_deref().map(Digest::from_sha256_hex).transpose().map_err(PortalServerError::column(column))
    };
    Ok(Export {
        id,
        org,
        product,
        version,
        status: serde_json::from_value(serde_json::Value::String(status))
            .map_err(PortalServerError::column("exports.status"))?,
        root_hash: digest(root_hash, "exports.root_hash")?,
        sha256: digest(sha256, "exports.sha256")?,
        size: size.map(u64::try_from).transpose().map_err(PortalServerError::column("exports.size"))?,
        error,
        created,
        finished,
        expired,
    })
}

/// The query parameters by which sqlx's PostgreSQL driver chooses where to connect and as
/// whom. Every other parameter (`password`, `sslpassword`, …) is left out of what is shown.
const POSTGRES_ENDPOINT_PARAMS: &[&str] = &["host", "hostaddr", "port", "user", "dbname"];

/// Where a database URL connects, for the endpoint announcement, messages and logs:
/// `scheme://user@host:port/database` at most, never a password or a query parameter. For
/// PostgreSQL it is what sqlx will contact, read by sqlx's own parser: the `host`,
/// `hostaddr`, `port`, `user` and `dbname` parameters and the `PG*` variables count.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "a database URL that does not parse".to_owned();
    };
    let endpoint: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| POSTGRES_ENDPOINT_PARAMS.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    // Fails only for a URL that cannot hold a password (no host): nothing to remove then.
    let _ = parsed.set_password(None);
    parsed.set_query(None);
    parsed.set_fragment(None);
    if matches!(parsed.scheme(), "postgres" | "postgresql") {
        if !endpoint.is_empty() {
            parsed.query_pairs_mut().extend_pairs(&endpoint);
        }
        if let Ok(pg) = sqlx::postgres::PgConnectOptions::from_str(parsed.as_str()) {
            let host = pg.get_socket().map_or_else(|| pg.get_host().to_owned(), |dir| dir.display().to_string());
            let database = pg.get_database().unwrap_or_default();
            return format!("{}://{}@{host}:{}/{database}", parsed.scheme(), pg.get_username(), pg.get_port());
        }
        parsed.set_query(None);
    }
    parsed.to_string()
}

/// The URL to connect to the metadata database with, TLS-wise. sqlx's default `sslmode`,
/// `prefer`, falls back to plain text and checks no certificate: whoever is on the path to a
/// PostgreSQL server could read and rewrite keys, entitlements and the keys releases are
/// verified against. So a server across a network gets `sslmode=verify-full` (its certificate
/// checked against the system's roots or the URL's `sslrootcert`, and against its name), and a
/// URL naming a weaker `sslmode` is refused unless `allow_insecure` (a weaker `PGSSLMODE` is
/// overridden). A Unix socket or a loopback address crosses no network and keeps what the URL
/// says; so does SQLite.
pub(crate) fn with_verified_tls(url: &str, allow_insecure: bool) -> Result<String, ConfigError> {
    let unchanged = Ok(url.to_owned());
    let Ok(mut parsed) = url::Url::parse(url) else {
        // sqlx refuses it, with its own message.
        return unchanged;
    };
    if allow_insecure || !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return unchanged;
    }
    // Where sqlx will connect, by its own parser (the `host` and `hostaddr` parameters and
    // `PGHOST` count). A URL it cannot parse, it refuses when connecting.
    let Ok(target) = PgConnectOptions::from_str(url) else {
        return unchanged;
    };
    if crosses_no_network(&target) {
        return unchanged;
    }
    // sqlx reads both spellings, the last one given winning.
    let named = parsed.query_pairs().filter(|(key, _)| key == "sslmode" || key == "ssl-mode").last();
    match named.map(|(_, mode)| mode.into_owned()) {
        None => {
            parsed.query_pairs_mut().append_pair("sslmode", "verify-full");
            Ok(parsed.into())
        }
        Some(mode) if mode.eq_ignore_ascii_case("verify-full") => unchanged,
        Some(sslmode) => Err(ConfigError::UnverifiedDatabase { url: redact(url), sslmode }),
    }
}

/// Whether sqlx reaches `target` without a network: over a Unix socket (a `host` that is a
/// directory, or the one sqlx finds when none is given) or a loopback address.
fn crosses_no_network(target: &PgConnectOptions) -> bool {
    let host = target.get_host();
    let address = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
    target.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || address.is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use sqlx::any::AnyPoolOptions;

    use genesis_portal_client::protocol::ExportState;

    use super::{ADDED_COLUMNS, Export, SCHEMA, Store, has_column, redact, with_verified_tls};
    use crate::config::ConfigError;

    /// Portals started together on a database from before the added columns: each finds
    /// them missing and adds them, and all but the first meet "duplicate column".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn portals_opening_an_old_database_at_the_same_time_all_add_its_columns_or_find_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("portal.db").display());
        sqlx::any::install_default_drivers();
        let old = AnyPoolOptions::new().connect(&url).await.unwrap();
        for statement in SCHEMA {
            sqlx::query(statement).execute(&old).await.unwrap();
        }
        old.close().await;
        let opened = futures_util::future::join_all((0..8).map(|_| Store::open(&url))).await;
        for store in opened {
            let store = store.unwrap_or_else(|e| panic!("{e:#}"));
            let mut conn = store.pool.acquire().await.unwrap();
            for (table, column, _) in ADDED_COLUMNS {
                assert!(has_column(&mut conn, table, column).await.unwrap(), "{table}.{column}");
            }
            assert!(!has_column(&mut conn, "exports", "nothing").await.unwrap());
        }
    }

    /// An export of `acme` as a request records it, pending since `created`.
    fn pending(id: &str, created: i64) -> Export {
        Export::pending(id.into(), "acme".into(), "genesis".into(), "0.1.0".into(), created)
    }

    /// Portals sharing a database: one stopped (`portal-a`), one still building
    /// (`portal-b`), one of whose builds fell silent.
    #[tokio::test]
    async fn only_the_exports_of_a_stopped_portal_or_of_a_silent_build_are_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("portal.db").display())).await.unwrap();
        let now = 100_000;
        for (id, owner, created) in [
            ("exp_stopped", "portal-a", now),
            ("exp_running", "portal-b", now),
            ("exp_silent", "portal-b", now - 600),
            ("exp_beating", "portal-b", now - 600),
        ] {
            store.insert_export(&pending(id, created), owner).await.unwrap();
        }
        store.beat_export("exp_beating", now - 30).await.unwrap();

        assert_eq!(store.fail_exports_of("portal-a", now, "portal-a stopped").await.unwrap(), 1);
        assert_eq!(store.fail_silent_exports(now - 120, now, "silent").await.unwrap(), 1);
        // A heartbeat arriving late does not bring a failed export back.
        store.beat_export("exp_silent", now).await.unwrap();
        assert_eq!(store.fail_silent_exports(now - 120, now, "silent").await.unwrap(), 0);
        for (id, status, error) in [
            ("exp_stopped", ExportState::Failed, Some("portal-a stopped")),
            ("exp_running", ExportState::Pending, None),
            ("exp_silent", ExportState::Failed, Some("silent")),
            ("exp_beating", ExportState::Pending, None),
        ] {
            let export = store.export("acme", id).await.unwrap().unwrap();
            assert_eq!((export.status, export.error.as_deref()), (status, error), "{id}");
        }
    }

    #[test]
    fn a_database_url_is_shown_without_its_password_or_parameters() {
        for (url, shown) in [
            ("postgres://genesis:s3cret@127.0.0.1:5433/portal", "postgres://genesis@127.0.0.1:5433/portal"),
            (
                "postgres://genesis@db.example:5432/portal?password=s3cret&sslpassword=s3cret&passfile=/s3cret&sslmode=require",
                "postgres://genesis@db.example:5432/portal",
            ),
            (
                "postgresql://genesis:s3cret@db.example:5432/portal#s3cret",
                "postgresql://genesis@db.example:5432/portal",
            ),
            ("sqlite:///srv/portal/portal.db?mode=rwc&password=s3cret", "sqlite:///srv/portal/portal.db"),
            ("sqlite://user:s3cret@host/portal.db", "sqlite://user@host/portal.db"),
            ("postgres://genesis:s3cret@[::1:5432/portal", "a database URL that does not parse"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn a_postgresql_url_is_shown_with_the_host_and_port_its_parameters_choose() {
        assert_eq!(
            redact("postgres://genesis:s3cret@127.0.0.1:5432/portal?host=db.other.example&port=6543&password=s3cret"),
            "postgres://genesis@db.other.example:6543/portal"
        );
        assert_eq!(
            redact("postgres://genesis@127.0.0.1:5432/portal?user=admin&dbname=other"),
            "postgres://admin@127.0.0.1:5432/other"
        );
    }

    #[test]
    fn a_postgresql_server_across_a_network_is_reached_over_verified_tls_or_refused() {
        // Loopback and Unix sockets cross no network: the URL stays as it is.
        for url in [
            "postgres://genesis@127.0.0.1:5432/portal",
            "postgres://genesis@localhost/portal?sslmode=disable",
            "postgres://genesis@[::1]:5432/portal?sslmode=prefer",
            "postgres://genesis@db.example.com/portal?host=127.0.0.1&sslmode=disable",
            "postgres:///portal?host=/var/run/postgresql",
            "postgresql://genesis@%2Fvar%2Frun%2Fpostgresql/portal",
            "sqlite:///srv/portal/portal.db?mode=rwc",
        ] {
            assert_eq!(with_verified_tls(url, false).unwrap(), url, "{url}");
        }
        // Across a network without a word: verify-full, which overrides a weaker PGSSLMODE.
        assert_eq!(
            with_verified_tls("postgres://genesis@db.example.com:5432/portal", false).unwrap(),
            "postgres://genesis@db.example.com:5432/portal?sslmode=verify-full"
        );
        let verified = "postgresql://genesis@db.example.com/portal?sslmode=verify-full&sslrootcert=/etc/portal/ca.pem";
        assert_eq!(with_verified_tls(verified, false).unwrap(), verified);
        // Anything weaker is refused, whether the host is in the URL or in its parameters.
        for (url, weaker) in [
            ("postgres://genesis:s3cret@db.example.com/portal?sslmode=disable", "disable"),
            ("postgres://genesis@db.example.com/portal?sslmode=prefer", "prefer"),
            ("postgres://genesis@db.example.com/portal?ssl-mode=require", "require"),
            ("postgres://genesis@10.0.0.7/portal?sslmode=verify-ca", "verify-ca"),
            ("postgres://genesis@127.0.0.1/portal?host=db.example.com&sslmode=require", "require"),
            ("postgres://genesis@db.example.com/portal?sslmode=verify-full&sslmode=allow", "allow"),
        ] {
            match with_verified_tls(url, false) {
                Err(ConfigError::UnverifiedDatabase { url: shown, sslmode }) => {
                    assert_eq!(sslmode, weaker, "{url}");
                    assert!(!shown.contains("s3cret"), "{shown}");
                }
                other => panic!("{url}: {other:?}"),
            }
            // Unless allowed: then the URL is taken at its word.
            assert_eq!(with_verified_tls(url, true).unwrap(), url, "{url}");
        }
    }
}
