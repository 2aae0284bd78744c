//! The one error type of this crate, grouped by phase: the redaction rules, the local files
//! read, the cluster, the archive written.

use std::path::PathBuf;

use genesis_types::{Classify, ErrorClass};

/// What can go wrong collecting, redacting or writing a support bundle. What the cluster
/// refuses to show (RBAC) is no error: it is a warning in [`crate::Collected`], and the
/// collection goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SupportError {
    // ---- the redaction rules
    /// A rules file could not be read.
    #[error("redaction rules {}: cannot read it", path.display())]
    RulesRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A rules file is not `rules: [{name, pattern}]`.
    #[error("redaction rules {}: not a rules file (`rules:`, a list of `name:` and `pattern:`): {reason}", path.display())]
    RulesSyntax {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said.
        reason: String,
    },
    /// One rule of a rules file is unusable: a bad regular expression, a name given twice or
    /// taken by a built-in rule, a name that is not a plain word, a pattern that matches
    /// nothing at all (the empty string).
    #[error("redaction rules {}: rule {rule:?}: {reason}", path.display())]
    Rule {
        /// The file.
        path: PathBuf,
        /// The rule's name as given.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },

    // ---- local files
    /// A file to include (the pre-flight results, a log) could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The pre-flight results are not JSON (a pre-flight run's JSON report is expected).
    #[error("{input}: not a JSON pre-flight report: {source}")]
    Preflight {
        /// The file's path, or what the caller held ([`crate::Input::describe`]).
        input: String,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A file to include is larger than this crate keeps in memory.
    #[error("{input}: {size} bytes, more than the {limit} a support bundle takes")]
    TooLarge {
        /// The file's path, or what the caller held ([`crate::Input::describe`]).
        input: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A log's name in the archive is not one plain file name, or two logs have it.
    #[error("log name {name:?}: {reason}")]
    LogName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A namespace to collect is not a namespace's name.
    #[error("{name:?} is no namespace name (lowercase letters, digits and `-`, at most 63)")]
    Namespace {
        /// The name given.
        name: String,
    },

    // ---- the cluster
    /// The API server failed a request that the support bundle cannot do without, or failed
    /// in a way that is no refusal (a connection that broke, a server error).
    #[error("{what}: {source}")]
    Api {
        /// What was being read.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The loader's own reading of the cluster failed (boxed: a large error, so that every
    /// result of this crate stays small).
    #[error(transparent)]
    Kube(Box<genesis_kube::KubeError>),

    // ---- the archive
    /// A path given to the archive cannot be an entry of it.
    #[error("archive entry {path:?}: {reason}")]
    EntryPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The tar encoding refused an entry (a path too long for a ustar header).
    #[error(transparent)]
    Bundle(#[from] genesis_bundle::BundleError),
    /// The archive or its `.sha256` could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<genesis_kube::KubeError> for SupportError {
    fn from(e: genesis_kube::KubeError) -> Self {
        SupportError::Kube(Box::new(e))
    }
}

/// Rules and files the caller gave are its input (a missing one is not found); the API
/// server's failures are the network's, but for a 404 (what was named is not there); the
/// loader's errors and the tar encoder's say themselves.
impl Classify for SupportError {
    fn class(&self) -> ErrorClass {
        match self {
            SupportError::RulesRead { source, .. } | SupportError::Read { source, .. } => source.class(),
            SupportError::RulesSyntax { .. }
            | SupportError::Rule { .. }
            | SupportError::Preflight { .. }
            | SupportError::TooLarge { .. }
            | SupportError::LogName { .. }
            | SupportError::Namespace { .. }
            | SupportError::EntryPath { .. } => ErrorClass::Input,
            SupportError::Api { source: kube::Error::Api(status), .. } if status.code == 404 => ErrorClass::NotFound,
            SupportError::Api { .. } => ErrorClass::Network,
            SupportError::Kube(e) => e.class(),
            SupportError::Bundle(e) => e.class(),
            SupportError::Write { source, .. } => source.class(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = SupportError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use kube::core::Status;

    use super::*;

    #[test]
    fn errors_are_classified_by_what_failed() {
        let status = |code, reason| kube::Error::Api(Status::failure("refused", reason).with_code(code).boxed());
        let path = || PathBuf::from("rules.yaml");
        for (e, class) in [
            (SupportError::RulesRead { path: path(), source: Error::from(ErrorKind::NotFound) }, ErrorClass::NotFound),
            (SupportError::RulesSyntax { path: path(), reason: "no rules".into() }, ErrorClass::Input),
            (SupportError::Rule { path: path(), rule: "mrn".into(), reason: "bad".into() }, ErrorClass::Input),
            (SupportError::Read { path: path(), source: Error::from(ErrorKind::PermissionDenied) }, ErrorClass::Input),
            (SupportError::TooLarge { input: "preflight.json".into(), size: 2, limit: 1 }, ErrorClass::Input),
            (SupportError::LogName { name: "../x".into(), reason: "not plain".into() }, ErrorClass::Input),
            (SupportError::Namespace { name: "Demo".into() }, ErrorClass::Input),
            (SupportError::Api { what: "nodes".into(), source: status(404, "NotFound") }, ErrorClass::NotFound),
            (SupportError::Api { what: "nodes".into(), source: status(500, "InternalError") }, ErrorClass::Network),
            (genesis_kube::KubeError::Connect("no kubeconfig".into()).into(), ErrorClass::Input),
            (SupportError::EntryPath { path: "/x".into(), reason: "absolute".into() }, ErrorClass::Input),
            (SupportError::Write { path: path(), source: Error::from(ErrorKind::PermissionDenied) }, ErrorClass::Input),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }

    #[test]
    fn a_bad_rule_names_the_file_and_the_rule() {
        let e = SupportError::Rule {
            path: PathBuf::from("rules.yaml"),
            rule: "mrn".into(),
            reason: "invalid regular expression".into(),
        };
        assert_eq!(e.to_string(), "redaction rules rules.yaml: rule \"mrn\": invalid regular expression");
    }
}
