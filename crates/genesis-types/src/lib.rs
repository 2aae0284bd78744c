//! Value types that every Genesis crate agrees on, each parsed once at the boundary and
//! valid from then on: [`Digest`], [`Descriptor`], [`Platform`], [`ImageReference`] and
//! [`BundlePath`]. No I/O happens here. [`ErrorClass`] is the one classification of failures
//! (verdict, input, network, not found) that every crate's error type gives through
//! [`Classify`], and every binary turns into its exit code.
//!
//! ```
//! use genesis_types::{BundlePath, Digest};
//!
//! let d: Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse()?;
//! assert_eq!(d.hex().len(), 64);
//! assert!("../etc/passwd".parse::<BundlePath>().is_err());
//! # Ok::<(), genesis_types::TypeError>(())
//! ```

mod class;
mod descriptor;
mod digest;
mod path;
mod platform;
mod reference;
mod severity;

pub use class::{Classify, ErrorClass, error_chain};
pub use descriptor::{Descriptor, ImageIndex, ImageManifest, MAX_MANIFEST, annotations, media_types};
pub use digest::{Algorithm, Digest};
pub use path::BundlePath;
pub use platform::Platform;
pub use reference::{DEFAULT_REGISTRY, ImageReference};
pub use severity::Severity;

/// The `tracing` target of an endpoint a library learns while it runs (a token service a
/// registry names, a chart host an index names, where a redirect leads) rather than from
/// its configuration. Such an event is a warning with an `endpoint` field (the origin, e.g.
/// `https://auth.example`) and says who named it, logged before the endpoint is contacted;
/// the binaries print it beside the start-up line naming what a run contacts and add it to
/// that list, so no endpoint is contacted unnamed.
pub const EGRESS_TARGET: &str = "genesis::egress";

/// Whether a trust policy's `signedBy` value names a key file (relative to the policy) rather
/// than a key fingerprint (`SHA256:…`) or a keyless identity (`identity SAN (issuer ISS)`):
/// the one rule for the policy's reader, which reads such a file as its key's fingerprint, and
/// for the build script that embeds a policy with the files it names. Here, not beside the
/// reader, because a build script can depend on this crate without compiling the reader's.
pub fn signed_by_names_key_file(signed_by: &str) -> bool {
    !signed_by.starts_with("SHA256:") && !signed_by.starts_with("identity ")
}

/// Why a value was refused at the boundary.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeError {
    /// A digest string does not follow `algorithm:hex` with a known algorithm and exact length.
    #[error("invalid digest {value:?}: {reason}")]
    Digest {
        /// The refused text.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path inside a bundle is unsafe or malformed.
    #[error("unsafe bundle path {value:?}: {reason}")]
    Path {
        /// The refused path.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A platform string is not `os/arch[/variant]`.
    #[error("invalid platform {value:?}: expected os/arch[/variant], e.g. linux/arm64")]
    Platform {
        /// The refused text.
        value: String,
    },
    /// An image reference does not follow the distribution reference grammar.
    #[error("invalid image reference {value:?}: {reason}")]
    Reference {
        /// The refused text.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
