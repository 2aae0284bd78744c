//! Trust for Genesis bundles, entirely offline: ECDSA P-256 keys in cosign's PEM forms,
//! deterministic signatures, the trust policy, and the bundle verifier, a typestate
//! (`UnverifiedBundle -> verify(policy) -> VerifiedBundle`) whose payload can only be read
//! after the BOM signature checked out. Any other artifact verifies with [`verify_blob`]
//! against a cosign signature, a DSSE envelope or a sigstore bundle.
//!
//! A third party can depend on this crate alone to verify a bundle: it pulls in no async
//! runtime and no network code. `examples/verify.rs` is the whole path: open, verify with a
//! policy, check or extract. A tree `extract` wrote holds the bundle's head beside the payload
//! and is verified again, on its own, with [`verify_tree`].
//!
//! ```
//! use genesis_trust::{PrivateKey, TrustPolicy};
//!
//! let key = PrivateKey::generate();
//! let signature = key.sign(b"bom bytes");
//! let policy = TrustPolicy::from_keys(vec![key.public_key()])?;
//! assert_eq!(policy.key_for(b"bom bytes", &signature).map(|k| k.fingerprint()), Some(key.public_key().fingerprint()));
//! # Ok::<(), genesis_trust::TrustError>(())
//! ```

mod blob;
pub mod cosign_image;
pub mod cosign_key;
mod countersign;
mod detached;
mod error;
mod keys;
mod policy;
pub mod policy_file;
pub mod provenance;
pub mod requirement;
mod sbom;
mod signer;
pub mod sigstore;
mod tree;
mod verify;

pub use blob::{BlobEvidence, BlobPolicy, BlobVerification, verify_blob};
pub use countersign::{Countersigning, countersign, countersignature_folder, countersignature_name};
pub use detached::SignatureSidecars;
pub use error::{Result, TrustError};
/// What the readers of a verified bundle give and take ([`SignedBom::archive_index`],
/// [`CheckedBundle::export_images`]), re-exported so an embedder depends on this crate alone.
pub use genesis_bundle::{ArchiveIndex, ArchiveRange, ExportedImage, RuntimeFormat};
/// What [`UnverifiedBundle::open`] takes and [`TrustError::Bundle`] holds, re-exported so an
/// embedder depends on this crate alone.
pub use genesis_bundle::{BundleError, Limits};
pub use keys::{KeyFingerprint, PrivateKey, PublicKey, decode_signature, encode_signature, key_pair_paths};
pub use policy::{KeyValidity, Keyless, TrustPolicy};
pub use signer::AcceptedSigner;
pub use tree::{TreeReport, UnverifiedTree, VerifiedTree, verify_tree};
pub use verify::{
    AttestationReport, AttestedBundle, CheckedBundle, HeadReport, ListedFile, PartsReport, Sidecar, SignedBom,
    UnverifiedBundle, VerifiedBundle, VerifyReport, cosign_bundle_path, listed_files, sidecar_paths,
};
