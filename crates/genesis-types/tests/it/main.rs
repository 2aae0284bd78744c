//! Property tests of the value types against hostile input: OCI manifests and indexes,
//! digests, references and platforms.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod oci;
