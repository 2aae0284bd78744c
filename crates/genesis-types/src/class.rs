//! What kind of failure an error is, decided by the error type itself, so that every binary
//! reports the same failure with the same exit code.

use crate::TypeError;

/// The kind of a failure, as the command line reports it (one exit code each). Every library
/// error type classifies its own variants through [`Classify`]; a binary maps these four
/// classes to its exit codes and never matches another crate's variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A verdict on what was checked: a bundle, a signature or a policy said no (a tampered
    /// entry, an untrusted key, a refused version, a download that does not match its digest).
    Verdict,
    /// The caller's input cannot be used: a malformed spec, key or reference, a file that
    /// cannot be read or written, an output that already exists.
    Input,
    /// A remote party failed or refused: a connection that could not be made or broke, an
    /// unexpected answer from a registry, the portal or the Kubernetes API server.
    Network,
    /// Something named does not exist: a file, an image, a release.
    NotFound,
}

/// An error that knows its [`ErrorClass`].
pub trait Classify {
    /// The class of this error; a variant that wraps another error delegates to it where
    /// the wrapped error decides.
    fn class(&self) -> ErrorClass;
}

/// A missing file is [`ErrorClass::NotFound`]; a connection that could not be made, broke or
/// timed out is [`ErrorClass::Network`]; any other I/O error is about a path the caller gave
/// ([`ErrorClass::Input`]).
impl Classify for std::io::Error {
    fn class(&self) -> ErrorClass {
        use std::io::ErrorKind as K;
        match self.kind() {
            K::NotFound => ErrorClass::NotFound,
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::TimedOut
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown => ErrorClass::Network,
            _ => ErrorClass::Input,
        }
    }
}

/// An error and its causes on one line, `: `-separated, as a log line or a check's reason
/// says them (a binary prints the causes on lines of their own instead).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut said = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        said.push_str(": ");
        said.push_str(&e.to_string());
        cause = e.source();
    }
    said
}

/// A value refused at the boundary is always the caller's input.
impl Classify for TypeError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Input
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    #[test]
    fn io_errors_are_classified_by_kind() {
        for (kind, class) in [
            (ErrorKind::NotFound, ErrorClass::NotFound),
            (ErrorKind::ConnectionRefused, ErrorClass::Network),
            (ErrorKind::ConnectionReset, ErrorClass::Network),
            (ErrorKind::BrokenPipe, ErrorClass::Network),
            (ErrorKind::TimedOut, ErrorClass::Network),
            (ErrorKind::PermissionDenied, ErrorClass::Input),
            (ErrorKind::AlreadyExists, ErrorClass::Input),
            (ErrorKind::AddrInUse, ErrorClass::Input),
        ] {
            assert_eq!(Error::from(kind).class(), class, "{kind:?}");
        }
    }

    #[test]
    fn an_error_chain_says_each_cause_after_a_colon() {
        let wrapped = Wrapped("writing /srv/portal", Error::other("disk on fire"));
        assert_eq!(error_chain(&wrapped), "writing /srv/portal: disk on fire");
    }

    /// An error that says `what` and has `source` as its cause.
    #[derive(Debug)]
    struct Wrapped(&'static str, Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn a_value_refused_at_the_boundary_is_input() {
        let refused = "sha256:zz".parse::<crate::Digest>().unwrap_err();
        assert_eq!(refused.class(), ErrorClass::Input);
    }
}
