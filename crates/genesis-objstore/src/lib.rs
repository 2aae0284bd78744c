//! An S3-compatible or Azure Blob object store, opened from configuration and reached only at
//! the endpoint configured and announced: [`ObjectStoreConfig::open`] gives an
//! [`ObjectStorage`] (streamed multipart uploads, ranged reads, sizes, listings, deletes, every
//! key under the URL's prefix). The portal keeps its artifacts in one; the same layer serves
//! wherever Genesis reads or writes a bucket.
//!
//! It keeps seed 002's rules for object storage:
//! - **The endpoint comes from the configuration**, never from `AWS_*` or `AZURE_*`
//!   variables, and [`ObjectStoreConfig::endpoint`] is the one to announce before any
//!   connection: it is checked before anything is contacted (`https://`, or `http://` only
//!   when allowed; no user info, query or fragment, where a credential could travel), and
//!   the HTTP client ignores proxy variables and follows no redirect, so requests go there
//!   and nowhere else.
//! - **Static credentials only**: an access key (and its secret and session token from
//!   variables, never arguments), an Azure account key or SAS token. No provider chain,
//!   instance metadata (managed identity), container, web- or workload-identity credential or
//!   Azure CLI is ever asked.
//! - **Idempotent creation**: an Azure container is created when missing, at every open,
//!   `409 ContainerAlreadyExists` counting as success; an S3 bucket is never created, it must
//!   exist.
//! - **A short idle timeout**: a connection idle for 5 s is closed rather than reused, so a
//!   backend that closes kept-alive connections early causes no failed request.
//! - **Two clients for presigned URLs**: [`ObjectStoreConfig::presigner`] builds a second S3
//!   client, alike but for the externally reachable endpoint, that only mints presigned URLs
//!   ([`Presigner::presign_get`]); reads and writes stay on the configured endpoint.
//!
//! ```no_run
//! # async fn run() -> genesis_objstore::Result<()> {
//! use genesis_objstore::{AzureConfig, ObjectStoreConfig, S3Config, SecretVariables};
//!
//! let config = ObjectStoreConfig {
//!     url: "s3://landing/vendor".into(),
//!     s3: S3Config {
//!         endpoint: Some("https://minio.example:9000".into()),
//!         region: "us-east-1".into(),
//!         access_key_id: Some("genesis".into()),
//!         secrets: SecretVariables::PORTAL,
//!         allow_http: false,
//!     },
//!     azure: AzureConfig { account: None, endpoint: None, allow_http: false },
//! };
//! // What to announce before any connection: https://minio.example:9000
//! let endpoint = config.endpoint();
//! # let _ = endpoint;
//! let store = config.open().await?;
//! let size: Option<u64> = store.head("releases/demo/1.0.0/demo.tar.zst").await?;
//! # let _ = size;
//! # Ok(()) }
//! ```

mod config;
mod connector;
mod error;
mod presign;
mod remote;
mod storage;

pub use config::{AzureConfig, ObjectStoreConfig, ObjectStoreKind, S3Config, SecretVariables, shown_endpoint};
pub use error::{ObjStoreError, Result};
pub use presign::Presigner;
pub use remote::BucketFolder;
pub use storage::{ByteStream, ObjectStorage, ObjectVersion};
