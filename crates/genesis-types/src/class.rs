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
    fn a_value_refused_at_the_boundary_is_input() {
        let refused = "sha256:zz".parse::<crate::Digest>().unwrap_err();
        assert_eq!(refused.class(), ErrorClass::Input);
    }
}
