//! The vendor portal's reference server, as a library: the HTTP API of
//! [`genesis_portal_client::protocol`] and the customers' and vendor's web pages as an axum
//! [`router`] over a metadata database (SQLite or PostgreSQL) and an artifact store (a
//! directory, or an S3 bucket or an Azure Blob container through [`genesis_objstore`]; with
//! [`PortalConfig::s3_public_endpoint`], API downloads are redirected to URLs presigned for
//! the S3 store's public endpoint, seed 002's dual client), seed 003's air-gap export packs,
//! `/metrics`, and the vendor's [`admin`] use cases. The
//! `genesis-portal` binary parses arguments into these types and renders what they return.
//!
//! ```no_run
//! # async fn run() -> genesis_portal_server::Result<()> {
//! use genesis_portal_server::{ApiConfig, AppState, PortalConfig, router};
//!
//! let portal = PortalConfig { data_dir: Some("/srv/portal".into()), ..PortalConfig::default() };
//! let api = ApiConfig { export_ttl_secs: 3_600, ..ApiConfig::default() };
//! let app: axum::Router = router(AppState::open(&portal, api).await?);
//! # Ok(()) }
//! ```

pub mod admin;
mod api;
mod artifacts;
mod config;
mod error;
mod export;
mod facts;
mod metrics;
mod publish;
mod serve;
mod store;
mod web;

use genesis_bundle::rfc3339;
use rand_core::RngCore as _;

pub use api::{ApiConfig, AppState, parse_public_url, router};
pub use config::{ConfigError, PortalConfig};
pub use error::{PortalServerError, Result};
pub use serve::{ServeConfig, TlsFiles, serve};
pub use store::{AdminRecord, KeyRecord, LookupError, StoredArtifact};

/// The one timestamp inside export packs unless told otherwise: 2025-01-01T00:00:00Z, seed
/// 003's pinned pack timestamp.
pub const DEFAULT_SOURCE_DATE_EPOCH: u64 = 1_735_689_600;

/// `n` random bytes, hex.
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0; n];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The current Unix time.
fn now() -> i64 {
    genesis_bundle::unix_now() as i64
}

/// A Unix time as RFC 3339.
fn when(unix: i64) -> String {
    rfc3339(u64::try_from(unix).unwrap_or(0))
}
