//! The portal's metadata (organisations, keys, entitlements, releases, exports) in SQL:
//! SQLite in the data directory by default, PostgreSQL when `--database-url` names one. The
//! same statements run on both through sqlx's `Any` driver, so the two cannot drift apart.
//!
//! License keys are stored only as their SHA-256: a key is 192 random bits, so a plain hash
//! is enough to make a stolen database useless for authenticating (no password stretching
//! needed), and it lets a lookup be one indexed query.

use anyhow::{Context as _, bail};
use genesis_portal_client::Entitlement;
use genesis_portal_client::protocol::{ArtifactKind, ExportState, Scope};
use sha2::{Digest as _, Sha256};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

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
];

/// Columns added after their table was first released, as `(table, column, type)`: a database
/// created before gets them when it is opened.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("exports", "finished", "BIGINT"), ("exports", "expired", "BIGINT")];

/// The metadata database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
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
    /// SHA-256 hex.
    pub sha256: String,
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
    pub root_hash: Option<String>,
    /// Pack SHA-256 when ready.
    pub sha256: Option<String>,
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

/// SHA-256 hex of a license key: what the database holds instead of the key.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The columns of a key a lookup reads, and their row.
const KEY_COLUMNS: &str = "id, org, scopes, expires, revoked";
type KeyRow = (String, String, String, i64, Option<i64>);

fn key_record((id, org, scopes, expires, revoked): KeyRow) -> KeyRecord {
    // Scopes are stored space-separated; a word no longer known grants nothing.
    KeyRecord { id, org, scopes: scopes.split_whitespace().filter_map(|s| s.parse().ok()).collect(), expires, revoked }
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
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .with_context(|| format!("opening the metadata database {}", redact(url)))?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await.context("creating the schema")?;
        }
        for (table, column, kind) in ADDED_COLUMNS {
            // Selecting the column is the one probe SQLite and PostgreSQL both answer alike.
            let probe = format!("SELECT {column} FROM {table} LIMIT 1");
            if sqlx::query(&probe).fetch_optional(&pool).await.is_err() {
                sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))
                    .execute(&pool)
                    .await
                    .with_context(|| format!("adding the column {table}.{column}"))?;
            }
        }
        Ok(Store { pool })
    }

    /// Creates an organisation.
    pub async fn create_org(&self, name: &str, now: i64) -> anyhow::Result<()> {
        let inserted = sqlx::query("INSERT INTO orgs (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        if inserted.rows_affected() == 0 {
            bail!("organisation `{name}` already exists");
        }
        Ok(())
    }

    /// Every organisation.
    pub async fn orgs(&self) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM orgs ORDER BY name").fetch_all(&self.pool).await?)
    }

    /// Fails with a helpful message when `org` does not exist.
    pub async fn require_org(&self, org: &str) -> anyhow::Result<()> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT name FROM orgs WHERE name = $1").bind(org).fetch_optional(&self.pool).await?;
        if found.is_none() {
            bail!("no organisation `{org}`: create it with `genesis-portal org create {org}`");
        }
        Ok(())
    }

    /// Stores a new key (by hash).
    pub async fn insert_key(&self, record: &KeyRecord, hash: &str, now: i64) -> anyhow::Result<()> {
        let scopes: Vec<_> = record.scopes.iter().map(|s| s.as_str()).collect();
        sqlx::query("INSERT INTO keys (id, org, hash, scopes, created, expires) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&record.id)
            .bind(&record.org)
            .bind(hash)
            .bind(scopes.join(" "))
            .bind(now)
            .bind(record.expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The key whose hash is `hash`.
    pub async fn key_by_hash(&self, hash: &str) -> anyhow::Result<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(key_record))
    }

    /// The keys of an organisation (never their secret).
    pub async fn keys(&self, org: &str) -> anyhow::Result<Vec<KeyRecord>> {
        let rows: Vec<KeyRow> =
            sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE org = $1 ORDER BY created, id"))
                .bind(org)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(key_record).collect())
    }

    /// Revokes a key from `now` on.
    pub async fn revoke_key(&self, id: &str, now: i64) -> anyhow::Result<()> {
        let done = sqlx::query("UPDATE keys SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            bail!("no active key `{id}` (see `genesis-portal key list --org ORG`)");
        }
        Ok(())
    }

    /// Entitles an organisation to a version range of a product.
    pub async fn entitle(&self, org: &str, product: &str, versions: &str) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO entitlements (org, product, versions) VALUES ($1, $2, $3) \
             ON CONFLICT (org, product, versions) DO NOTHING",
        )
        .bind(org)
        .bind(product)
        .bind(versions)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An organisation's entitlements.
    pub async fn entitlements(&self, org: &str) -> anyhow::Result<Vec<Entitlement>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT product, versions FROM entitlements WHERE org = $1 ORDER BY product, versions")
                .bind(org)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(product, versions)| Entitlement { product, versions }).collect())
    }

    /// Records a published release and its artifacts in one transaction: either the whole
    /// release is visible or none of it.
    pub async fn insert_release(&self, release: &Release, artifacts: &[StoredArtifact]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
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
        .await?;
        if inserted.rows_affected() == 0 {
            bail!(
                "{} {} is already published; releases are immutable, publish a new version",
                release.product,
                release.version
            );
        }
        for a in artifacts {
            sqlx::query(
                "INSERT INTO artifacts (product, version, name, kind, size, sha256) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&release.product)
            .bind(&release.version)
            .bind(&a.name)
            .bind(kind_name(a.kind))
            .bind(i64::try_from(a.size)?)
            .bind(&a.sha256)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every release, newest publication first.
    pub async fn releases(&self) -> anyhow::Result<Vec<Release>> {
        let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT product, version, published, signer, signer_pem FROM releases ORDER BY published DESC, product, version",
        )
        .fetch_all(&self.pool)
        .await?;
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
    pub async fn release(&self, product: &str, version: &str) -> anyhow::Result<Option<Release>> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT published, signer, signer_pem FROM releases WHERE product = $1 AND version = $2")
                .bind(product)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(published, signer, signer_pem)| Release {
            product: product.to_owned(),
            version: version.to_owned(),
            published,
            signer,
            signer_pem,
        }))
    }

    /// A release's artifacts, by name.
    pub async fn artifacts(&self, product: &str, version: &str) -> anyhow::Result<Vec<StoredArtifact>> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT name, kind, size, sha256 FROM artifacts WHERE product = $1 AND version = $2 ORDER BY name",
        )
        .bind(product)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(name, kind, size, sha256)| {
                Ok(StoredArtifact {
                    kind: serde_json::from_value(serde_json::Value::String(kind))?,
                    name,
                    size: u64::try_from(size)?,
                    sha256,
                })
            })
            .collect()
    }

    /// Records a new pending export.
    pub async fn insert_export(&self, export: &Export) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO exports (id, org, product, version, status, created) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&export.id)
            .bind(&export.org)
            .bind(&export.product)
            .bind(&export.version)
            .bind(state_name(export.status))
            .bind(export.created)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how an export's build ended.
    pub async fn finish_export(&self, export: &Export) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE exports SET status = $1, root_hash = $2, sha256 = $3, size = $4, error = $5, finished = $6 \
             WHERE id = $7",
        )
        .bind(state_name(export.status))
        .bind(&export.root_hash)
        .bind(&export.sha256)
        .bind(export.size.map(i64::try_from).transpose()?)
        .bind(&export.error)
        .bind(export.finished)
        .bind(&export.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The exports whose build ended at or before `cutoff` and that have not expired yet, as
    /// `(org, id)`.
    pub async fn exports_finished_by(&self, cutoff: i64) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT org, id FROM exports WHERE finished <= $1 AND expired IS NULL ORDER BY id")
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records that an export's pack was deleted at `now`.
    pub async fn expire_export(&self, id: &str, now: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE exports SET expired = $1 WHERE id = $2").bind(now).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// One export of `org` (another organisation's export is not found).
    pub async fn export(&self, org: &str, id: &str) -> anyhow::Result<Option<Export>> {
        type Row = (
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
        let row: Option<Row> = sqlx::query_as(
            "SELECT product, version, status, root_hash, sha256, size, error, created, finished, expired \
             FROM exports WHERE id = $1 AND org = $2",
        )
        .bind(id)
        .bind(org)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(product, version, status, root_hash, sha256, size, error, created, finished, expired)| {
            Ok(Export {
                id: id.to_owned(),
                org: org.to_owned(),
                product,
                version,
                status: serde_json::from_value(serde_json::Value::String(status))?,
                root_hash,
                sha256,
                size: size.map(u64::try_from).transpose()?,
                error,
                created,
                finished,
                expired,
            })
        })
        .transpose()
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _password)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
