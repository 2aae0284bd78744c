//! Where a portal keeps its data: what `serve` and every admin command share.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::artifacts::{Artifacts, S3Config};
use crate::store::{Store, redact};

/// Where the portal keeps its data. On the embedded defaults it needs nothing installed:
/// SQLite (`DATA_DIR/portal.db`) and a directory (`DATA_DIR/artifacts`).
#[derive(Debug, Clone, Default)]
pub struct PortalConfig {
    /// The data directory: the SQLite database and artifacts by default, scratch space.
    pub data_dir: Option<PathBuf>,
    /// Metadata in this database instead of `DATA_DIR/portal.db` (`postgres://…` or
    /// `sqlite://…`).
    pub database_url: Option<String>,
    /// Artifacts in this bucket instead of `DATA_DIR/artifacts`.
    pub object_store: Option<S3Config>,
}

impl PortalConfig {
    /// The network endpoints the portal may contact: the database unless it is SQLite (its
    /// password redacted), the S3 endpoint.
    pub fn endpoints(&self) -> Vec<String> {
        let database = self.database_url.as_deref().filter(|url| !url.starts_with("sqlite:")).map(redact);
        database.into_iter().chain(self.object_store.as_ref().map(S3Config::endpoint)).collect()
    }

    /// The data directory, created when missing.
    pub(crate) fn data_dir(&self) -> anyhow::Result<&Path> {
        let dir = self
            .data_dir
            .as_deref()
            .context("no data directory: pass --data-dir DIR (or set GENESIS_PORTAL_DATA_DIR)")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// The metadata database, its schema created when absent.
    pub(crate) async fn open_store(&self) -> anyhow::Result<Store> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir()?.join("portal.db").display()),
        };
        Store::open(&url).await
    }

    /// The artifact store.
    pub(crate) fn open_artifacts(&self) -> anyhow::Result<Artifacts> {
        Artifacts::open(self.object_store.as_ref(), self.data_dir()?)
    }
}
