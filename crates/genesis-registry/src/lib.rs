//! OCI distribution for Genesis: a registry client ([`Registry`]), loading a verified
//! bundle into a registry ([`load`]) with its charts ([`charts`]), copying images from
//! registry to registry with their digests ([`copy`]), serving a bundle as a read-only
//! registry ([`serve`]), and the layered resolver. Async (tokio); the binaries own
//! the runtime. What reads a bundle's files in place is offline and lives in
//! `genesis-bundle` (`ArchiveIndex`); rewriting manifests to the loaded images lives beside
//! the Kubernetes loader in `genesis-kube`.

pub mod charts;
mod client;
pub mod copy;
mod error;
pub mod load;
pub mod resolver;
pub mod serve;
mod stream_upload;

pub use client::{
    BlobSource, CHUNK, ChunkReceiver, Credentials, Manifest, PushOutcome, Registry, RegistryOptions, endpoint,
    fallback_tag, fetch_url,
};
pub use copy::{CopiedImage, CopySession, CopyStats};
pub use error::{RegistryError, Result};
pub use load::{Destination, LoadPlan, LoadSummary, load, push_manifests_only};
