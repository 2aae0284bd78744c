//! Exit codes, as DESIGN.md fixes them, and the `main` wrapper that prints errors.
//!
//! Each library error type says what kind of failure it is ([`Classify`]); this module maps
//! the four kinds to codes, in [`code_of`], and finds the first classified error of a chain.

use std::error::Error;
use std::process::ExitCode;

use genesis_types::{Classify, ErrorClass};

/// Success.
pub const OK: u8 = 0;
/// Verification or policy failure.
pub const VERIFICATION_FAILED: u8 = 1;
/// Usage or input error.
pub const USAGE: u8 = 2;
/// Network or registry error.
pub const NETWORK: u8 = 3;
/// Something named does not exist.
pub const NOT_FOUND: u8 = 4;

/// The exit code of a kind of failure.
pub fn code_of(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Verdict => VERIFICATION_FAILED,
        ErrorClass::Input => USAGE,
        ErrorClass::Network => NETWORK,
        ErrorClass::NotFound => NOT_FOUND,
    }
}

/// How to read the class of one error in a chain, if it is a `T`.
type Classifier = fn(&(dyn Error + 'static)) -> Option<ErrorClass>;

fn class_if<T: Classify + Error + 'static>(cause: &(dyn Error + 'static)) -> Option<ErrorClass> {
    cause.downcast_ref::<T>().map(T::class)
}

/// Every error type the libraries return, each of which classifies its own variants (and
/// `std::io::Error`, for what the binaries read and write themselves). A chain holds them as
/// `dyn Error`, and a downcast needs the concrete type: so they are named once, here, and a
/// new library error type is added to this list.
const CLASSIFIERS: &[Classifier] = &[
    class_if::<genesis_types::TypeError>,
    class_if::<genesis_bundle::BundleError>,
    class_if::<genesis_trust::TrustError>,
    class_if::<genesis_registry::RegistryError>,
    class_if::<genesis_build::BuildError>,
    class_if::<genesis_kube::KubeError>,
    class_if::<genesis_portal::PortalError>,
    class_if::<genesis_portal::LicenseError>,
    class_if::<std::io::Error>,
];

/// The exit code for an error: that of the first error in its chain that classifies itself
/// (the outermost decides: a registry error caused by a broken connection is a network error
/// whatever the connection's own error says), else a usage error.
pub fn code_for(err: &anyhow::Error) -> u8 {
    err.chain().find_map(|cause| CLASSIFIERS.iter().find_map(|class| class(cause))).map_or(USAGE, code_of)
}

/// Runs a command body and turns its outcome into the process exit code: see [`outcome`].
pub fn run(body: impl FnOnce() -> anyhow::Result<u8>) -> ExitCode {
    ExitCode::from(outcome(body()))
}

/// The exit code of a command's outcome: its own code, or for an error, printed with its chain
/// on stderr, [`code_for`]. Nothing in an error chain means success: a closed stdout (`| head`)
/// never reaches here, as the output functions ([`crate::write_stdout`]) end output quietly and
/// leave the command its own code.
pub fn outcome(result: anyhow::Result<u8>) -> u8 {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            code_for(&err)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use anyhow::Context as _;

    use super::*;

    #[test]
    fn a_broken_pipe_inside_a_failure_is_that_failure_not_success() {
        // What a registry or S3 that drops the connection mid-upload leaves in the chain.
        let cut = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("uploading a blob");
        assert_eq!(outcome(Err(cut)), NETWORK);
    }

    #[test]
    fn a_library_error_anywhere_in_the_chain_gives_its_class_and_an_unclassified_chain_is_a_usage_error() {
        let refused = genesis_registry::RegistryError::Refused(Box::new(genesis_trust::TrustError::NoTrustedKey));
        assert_eq!(code_for(&anyhow::Error::new(refused).context("loading")), USAGE);
        let missing: anyhow::Result<()> = Err(io::Error::from(io::ErrorKind::NotFound)).context("reading the spec");
        assert_eq!(code_for(&missing.unwrap_err()), NOT_FOUND);
        let late = genesis_kube::KubeError::NotEstablished { name: "widgets.example.com".into(), seconds: 60 };
        assert_eq!(code_for(&anyhow::Error::new(late).context("applying")), NETWORK);
        assert_eq!(code_for(&anyhow::anyhow!("not logged in to a portal")), USAGE);
    }
}
