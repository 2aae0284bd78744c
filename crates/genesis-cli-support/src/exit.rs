//! Exit codes, as DESIGN.md fixes them, and the `main` wrapper that prints errors.
//!
//! Each library error type says what kind of failure it is ([`Classify`]); this module maps
//! the four kinds to codes, in [`code_of`], and finds the first classified error of a chain.
//! A chain holds its errors as `dyn Error`, and a downcast needs the concrete type, so each
//! binary names the library error types it links in its [`Errors`]: none links a library
//! only to classify errors it never meets. Library messages name no command-line flags or
//! commands; the binary's [`Errors::hint`] adds the one that gets past an error, on a `hint:`
//! line.

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

/// How to read the class of one error in a chain, if it is of one type: [`classify`].
pub type Classifier = fn(&(dyn Error + 'static)) -> Option<ErrorClass>;

/// The [`Classifier`] of the error type `T`.
pub fn classify<T: Classify + Error + 'static>(cause: &(dyn Error + 'static)) -> Option<ErrorClass> {
    cause.downcast_ref::<T>().map(T::class)
}

/// The error types every binary meets: a value refused at the boundary, and what the binary
/// reads and writes itself.
const EVERY_BINARY: &[Classifier] = &[classify::<genesis_types::TypeError>, classify::<std::io::Error>];

/// What a binary knows about the errors of the libraries it links.
pub struct Errors {
    /// One [`classify`] for each library error type the binary links (`TypeError` and
    /// `std::io::Error` are always tried). A library error type missing here is not
    /// classified: its chain falls through to what it wraps, or to a usage error.
    pub classes: &'static [Classifier],
    /// The flag or command of this binary that gets past one error of a chain, if any.
    pub hint: fn(&(dyn Error + 'static)) -> Option<String>,
}

/// The exit code for an error: that of the first error in its chain that classifies itself
/// (the outermost decides: a registry error caused by a broken connection is a network error
/// whatever the connection's own error says), else a usage error.
pub fn code_for(errors: &Errors, err: &anyhow::Error) -> u8 {
    err.chain().find_map(|cause| class_of(errors, cause)).map_or(USAGE, code_of)
}

/// The class of one error of a chain, if a classifier knows its type. An `io::Error` that
/// carries another error (`io::Error::other(e)`, what a `Read` impl returns for its own
/// failure) is classified by what it carries first: its `source()` is the carried error's
/// source, so the chain never shows the carried error itself, and its kind (`Other`) would
/// make a corrupt archive read through a reader an input error.
fn class_of(errors: &Errors, cause: &(dyn Error + 'static)) -> Option<ErrorClass> {
    let carried = cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
    carried
        .and_then(|inner| class_of(errors, inner))
        .or_else(|| errors.classes.iter().chain(EVERY_BINARY).find_map(|class| class(cause)))
}

/// Runs a command body and turns its outcome into the process exit code: see [`outcome`].
pub fn run(errors: &Errors, body: impl FnOnce() -> anyhow::Result<u8>) -> ExitCode {
    ExitCode::from(outcome(errors, body()))
}

/// The exit code of a command's outcome: its own code, or for an error, printed with its chain
/// and the binary's hint on stderr, [`code_for`]; an error met while Ctrl-C's handler removes
/// the run's output is the interrupt's, and the run is interrupted. Nothing in an error chain means success: a
/// closed stdout (`| head`) never reaches here, as the output functions
/// ([`crate::write_stdout`]) end output quietly and leave the command its own code.
pub fn outcome(errors: &Errors, result: anyhow::Result<u8>) -> u8 {
    match result {
        Ok(code) => code,
        Err(_) if crate::interrupt::begun() => crate::interrupt::INTERRUPTED,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(hint) = err.chain().find_map(errors.hint) {
                eprintln!("  hint: {hint}");
            }
            code_for(errors, &err)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use anyhow::Context as _;

    use super::*;

    /// No hint: these tests are about exit codes.
    fn no_hint(_: &(dyn Error + 'static)) -> Option<String> {
        None
    }

    /// The library errors of `bundle-loader` these tests meet.
    const LOADER: Errors = Errors {
        classes: &[classify::<genesis_registry::RegistryError>, classify::<genesis_kube::KubeError>],
        hint: no_hint,
    };

    #[test]
    fn a_broken_pipe_inside_a_failure_is_that_failure_not_success() {
        // What a registry or S3 that drops the connection mid-upload leaves in the chain.
        let cut = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("uploading a blob");
        assert_eq!(outcome(&LOADER, Err(cut)), NETWORK);
    }

    #[test]
    fn a_library_error_carried_inside_an_io_error_gives_its_own_class_not_the_io_kind() {
        // What `genesis_bundle::RangeReader` returns for a damaged frame, as a bin's own
        // `io::copy` out of it meets it.
        const READER: Errors = Errors { classes: &[classify::<genesis_bundle::BundleError>], hint: no_hint };
        let corrupt = genesis_bundle::BundleError::Corrupt { detail: "zstd frame: checksum mismatch".into() };
        let read: anyhow::Result<()> = Err(io::Error::other(corrupt)).context("copying a blob out of the bundle");
        assert_eq!(code_for(&READER, &read.unwrap_err()), VERIFICATION_FAILED);
        // Nested the same way twice, and still only what the carried error says.
        let twice = io::Error::other(io::Error::other(genesis_bundle::BundleError::Corrupt { detail: "x".into() }));
        assert_eq!(code_for(&READER, &anyhow::Error::new(twice)), VERIFICATION_FAILED);
        // What carries no classified error keeps the class of its kind.
        let plain = anyhow::Error::new(io::Error::other("disk on fire"));
        assert_eq!(code_for(&READER, &plain), USAGE);
    }

    #[test]
    fn a_library_error_anywhere_in_the_chain_gives_its_class_and_an_unclassified_chain_is_a_usage_error() {
        let refused = genesis_registry::RegistryError::Refused(Box::new(genesis_trust::TrustError::NoTrustedKey));
        assert_eq!(code_for(&LOADER, &anyhow::Error::new(refused).context("loading")), USAGE);
        let missing: anyhow::Result<()> = Err(io::Error::from(io::ErrorKind::NotFound)).context("reading the spec");
        assert_eq!(code_for(&LOADER, &missing.unwrap_err()), NOT_FOUND);
        let late = genesis_kube::KubeError::NotEstablished { name: "widgets.example.com".into(), seconds: 60 };
        assert_eq!(code_for(&LOADER, &anyhow::Error::new(late).context("applying")), NETWORK);
        assert_eq!(code_for(&LOADER, &anyhow::anyhow!("not logged in to a portal")), USAGE);
    }
}
