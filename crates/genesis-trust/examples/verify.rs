//! Verifies a Genesis bundle offline, the way an embedder of `genesis-trust` does: open the
//! archive, verify its BOM signature against a policy of one public key, then stream the
//! payload, checking every entry against the signed BOM (with an output directory given,
//! extracting it there, renamed into place only when everything checked out).
//!
//! ```sh
//! cargo run -p genesis-trust --example verify -- \
//!     fixtures/keys/test.pub fixtures/bundles/good/demo-0.1.0.tar.zst [OUTPUT-DIR]
//! ```

use std::path::PathBuf;

use genesis_trust::{Limits, PublicKey, TrustPolicy, UnverifiedBundle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(key), Some(archive), output) = (args.next(), args.next(), args.next()) else {
        return Err("usage: verify KEY.pub BUNDLE.tar.zst [OUTPUT-DIR]".into());
    };
    // No key, no trust: a policy names at least one public key.
    let policy = TrustPolicy::from_keys(vec![PublicKey::from_pem_file(&key)?])?;
    // Reads the head only (the BOM and its signature), within the default limits.
    let bundle = UnverifiedBundle::open(&archive, &Limits::default())?;
    // The signature is checked before the BOM is parsed; then the provenance and the policy.
    let verified = bundle.verify(&policy)?;
    let report = match output {
        Some(dir) => verified.extract(&dir)?,
        None => verified.check()?.report().clone(),
    };
    println!(
        "{} {}: {} files, {} bytes, signed by {}",
        report.head.name, report.head.version, report.files, report.payload_bytes, report.head.signer
    );
    Ok(())
}
