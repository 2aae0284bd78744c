//! From a bundle spec to a packed, signed, byte-stable bundle.
//!
//! [`BundleSpec::load`] parses the spec (every error names its field and line);
//! [`build`] pulls what the spec names from registries and chart repositories, resolves
//! images from OCI layouts and the pull cache, charts and manifests, writes the BOM, signs
//! it deterministically, packs the archive and writes the `.sha256`, `.sig` and
//! `.cosign.bundle` sidecars, and on request the release evidence report (`genesis-report`),
//! made from the archive verified afresh and listed in the `.sha256`. The same spec, inputs
//! and key give the same archive bytes on any machine.
//!
//! A release pipeline that keeps its key elsewhere (a KMS, an HSM, cosign) builds in two
//! phases: [`prepare`] returns the BOM and provenance bytes to sign, and [`build_external`]
//! checks the pipeline's [`ExternalSignatures`] and packs the archive a one-step [`build`]
//! with that key would have written, byte for byte.
//!
//! [`resign`] moves a built bundle to another key without rebuilding it: verified in full
//! first, it is written again with the same BOM and provenance statement signed anew, its
//! payload's compressed frames copied byte for byte ([`prepare_resign`] and
//! [`resign_external`] for a pipeline's signatures).
//!
//! Pulling is the default feature `pull`, the only part of this crate that links an async
//! runtime and a network client. Without it (`default-features = false`) the crate builds
//! bundles from local inputs only (OCI layouts, chart files, manifests), and a spec that
//! needs the network fails with [`BuildError::PullNotBuilt`].
//!
//! ```
//! use genesis_build::BundleSpec;
//!
//! let spec = BundleSpec::parse(
//!     "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {name: demo, version: 0.1.0}\n\
//!      spec:\n  output: {dir: dist}\n",
//! )
//! .expect("valid spec");
//! assert_eq!(spec.metadata.name.as_str(), "demo");
//! ```

mod build;
mod chart;
#[cfg(feature = "pull")]
mod chart_repo;
mod delta;
mod error;
pub mod image_refs;
pub mod inventory;
mod layout;
mod provenance;
#[cfg(feature = "pull")]
mod pull;
mod remote;
mod resign;
pub mod sbom;
mod scan;
mod signing;
pub mod spec;

pub use build::{
    BuildOptions, BuildOutput, Expiry, archive_path, build, build_external, keygen, manifest_files, prepare,
};
pub use chart::{ChartContents, ChartMeta, read_chart};
pub use error::{BuildError, Result};
pub use layout::{Layout, ResolvedImage};
pub use remote::{default_cache_dir, hosts};
pub use resign::{ResignOptions, ResignOutput, prepare_resign, resign, resign_external};
pub use scan::ScanOptions;
pub use signing::{
    ExternalSignatures, PipelineSignature, PipelineSigner, Prepared, PreparedFiles, read_provenance_signature,
    read_signature,
};
pub use spec::BundleSpec;
