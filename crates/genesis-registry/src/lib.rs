//! OCI distribution for Genesis: a registry client ([`Registry`]), loading a verified
//! bundle into a registry ([`load`]), serving a bundle as a read-only registry, the layered
//! resolver and image-reference rewriting. Async (tokio); the binaries own the runtime.

mod archive_blobs;
pub mod charts;
mod client;
mod error;
pub mod export;
pub mod flux;
pub mod load;
pub mod resolver;
pub mod rewrite;
pub mod serve;
mod stream_upload;

pub use archive_blobs::{ArchiveIndex, ArchiveRange};
pub use client::{
    BlobSource, CHUNK, ChunkReceiver, Credentials, DOCKER_HUB_API, MAX_MANIFEST, Manifest, PushOutcome, Registry,
    RegistryOptions, api_host, endpoint, fallback_tag, fetch_url, tls_config,
};
pub use error::{RegistryError, Result};
pub use load::{Destination, LoadPlan, LoadSummary, load, push_manifests_only};
