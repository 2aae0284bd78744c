//! Where a portal keeps its data: what `serve` and every admin command share.

use std::path::{Path, PathBuf};

use genesis_objstore::{ObjectStoreConfig, Presigner};
use genesis_types::{Classify, ErrorClass};

use crate::artifacts::Artifacts;
use crate::error::{PortalServerError, Result};
use crate::store::{Store, redact, with_verified_tls};

/// A portal configuration that cannot work (an object store's is a
/// [`genesis_objstore::ObjStoreError`]). The messages name no command-line flag: the binary
/// adds the one that gets past each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No data directory was given.
    #[error("no data directory for the portal's database, artifacts and scratch space")]
    NoDataDir,
    /// A PostgreSQL server across a network with an `sslmode` that does not verify it, and
    /// that was not allowed.
    #[error(
        "database {url}: sslmode={sslmode} does not verify a server across a network, and whoever is on the path \
         could read or rewrite the portal's keys, entitlements and release signers; use sslmode=verify-full, or \
         name no sslmode"
    )]
    UnverifiedDatabase {
        /// The database, its password redacted.
        url: String,
        /// The `sslmode` the URL names.
        sslmode: String,
    },
    /// A public S3 endpoint was given for presigned downloads, and the artifacts are in no
    /// object store.
    #[error(
        "public S3 endpoint {endpoint}: presigned downloads come from an S3 bucket, and the portal keeps its \
         artifacts in its data directory"
    )]
    PresignWithoutObjectStore {
        /// The public endpoint, as it may be shown.
        endpoint: String,
    },
    /// The URL customers reach the portal by is not `http(s)://HOST[:PORT]`.
    #[error("public URL `{url}`: {reason}")]
    NotAPublicUrl {
        /// What was given (without a password).
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A configuration that cannot work is the caller's input.
impl Classify for ConfigError {
    fn class(&self) -> ErrorClass {
        match self {
            ConfigError::NoDataDir
            | ConfigError::UnverifiedDatabase { .. }
            | ConfigError::PresignWithoutObjectStore { .. }
            | ConfigError::NotAPublicUrl { .. } => ErrorClass::Input,
        }
    }
}

/// Where the portal keeps its data. On the embedded defaults it needs nothing installed:
/// SQLite (`DATA_DIR/portal.db`) and a directory (`DATA_DIR/artifacts`).
#[derive(Debug, Clone, Default)]
pub struct PortalConfig {
    /// The data directory: the SQLite database and artifacts by default, scratch space.
    pub data_dir: Option<PathBuf>,
    /// Metadata in this database instead of `DATA_DIR/portal.db` (`postgres://…` or
    /// `sqlite://…`).
    pub database_url: Option<String>,
    /// Connect to a PostgreSQL server across a network as the URL's `sslmode` says, even
    /// without TLS or with a certificate nobody checks: whoever is on the path can then read
    /// and rewrite the metadata, the keys releases are verified against included. Only for a
    /// network you trust; without it such a URL is refused, and one naming no `sslmode` gets
    /// `verify-full`.
    pub database_allow_insecure: bool,
    /// Artifacts in this S3 bucket or Azure Blob container instead of `DATA_DIR/artifacts`.
    pub object_store: Option<ObjectStoreConfig>,
    /// The endpoint clients reach the S3 store by, when it is not the one the portal uses
    /// (seed 002's dual client): downloads through the API are then answered with a redirect
    /// to a URL presigned for that endpoint, and the bytes go from the store to the client.
    /// The portal never contacts it. Only with an S3 store.
    pub s3_public_endpoint: Option<String>,
}

impl PortalConfig {
    /// The network endpoints the portal may contact: the database unless it is SQLite (its
    /// password redacted), the object store's endpoint.
    pub fn endpoints(&self) -> Vec<String> {
        let database = self.database_url.as_deref().filter(|url| !url.starts_with("sqlite:")).map(redact);
        database.into_iter().chain(self.object_store.as_ref().and_then(ObjectStoreConfig::endpoint)).collect()
    }

    /// The public S3 endpoint presigned URLs name, as it may be shown: handed to clients,
    /// never contacted, so not among [`PortalConfig::endpoints`].
    pub fn presign_endpoint(&self) -> Option<String> {
        self.s3_public_endpoint.as_deref().map(genesis_objstore::shown_endpoint)
    }

    /// The client that mints presigned URLs on the public S3 endpoint, when one is given;
    /// refused without an S3 store. It contacts nothing.
    pub(crate) fn open_presigner(&self) -> Result<Option<Presigner>> {
        let Some(public) = &self.s3_public_endpoint else {
            return Ok(None);
        };
        match &self.object_store {
            Some(store) => Ok(Some(store.presigner(public)?)),
            None => {
                Err(ConfigError::PresignWithoutObjectStore { endpoint: genesis_objstore::shown_endpoint(public) }
                    .into())
            }
        }
    }

    /// The data directory, created when missing.
    pub(crate) fn data_dir(&self) -> Result<&Path> {
        let dir = self.data_dir.as_deref().ok_or(ConfigError::NoDataDir)?;
        std::fs::create_dir_all(dir).map_err(PortalServerError::io("creating", dir))?;
        Ok(dir)
    }

    /// The metadata database, its schema created when absent.
    pub(crate) async fn open_store(&self) -> Result<Store> {
        let url = match &self.database_url {
            Some(url) => with_verified_tls(url, self.database_allow_insecure)?,
            None => format!("sqlite://{}?mode=rwc", self.data_dir()?.join("portal.db").display()),
        };
        Store::open(&url).await
    }

    /// The artifact store (an Azure container is created first when missing).
    pub(crate) async fn open_artifacts(&self) -> Result<Artifacts> {
        Artifacts::open(self.object_store.as_ref(), self.data_dir()?).await
    }
}
