//! From a bundle spec to a packed, signed, byte-stable bundle.
//!
//! [`BundleSpec::load`] parses the spec (every error names its field and line);
//! [`build`] resolves images from OCI layouts, charts and manifests, writes the BOM, signs
//! it deterministically, packs the archive and writes the `.sha256` and `.sig` sidecars.
//! The same spec, inputs and key give the same archive bytes on any machine.
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
mod chart_repo;
mod error;
mod layout;
mod provenance;
pub mod pull;
pub mod sbom;
pub mod spec;
pub mod sweep;

pub use build::{BuildOptions, BuildOutput, archive_path, build, keygen, partial_path};
pub use chart::{ChartContents, ChartMeta, read_chart};
pub use error::{BuildError, Result};
pub use layout::{Layout, ResolvedImage};
pub use spec::BundleSpec;
