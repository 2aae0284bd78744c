//! `genesis preflight`: deterministic checks that the environment a bundle is about to be
//! installed into is ready — PostgreSQL answers `SELECT 1`, Redis answers `PING`, names
//! resolve, a TLS endpoint's chain verifies against the given CA (warning before expiry), the
//! registry answers `/v2/` with the given credentials, the disk can hold the bundle's payload.
//! Each check reports PASS, WARN or FAIL with the cause and a [`Remedy`]. Nothing is ever
//! remediated: the operator decides. Nothing here names a command-line flag: the caller words
//! the remedies that depend on its own options.

mod checks;
mod spec;

pub use checks::run;
pub use spec::{PreflightSpec, SpecError};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ready.
    Pass,
    /// Ready, but act soon (an expiring certificate, little disk headroom).
    Warn,
    /// Not ready: the install would fail.
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        })
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `postgres 127.0.0.1:5432/genesis`.
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub remedy: Remedy,
}

/// What to do about a check's result. Not `#[non_exhaustive]`: a caller words
/// [`Remedy::ClusterCredentials`] itself, and a new kind it must word should not compile
/// until it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// Nothing is to be done.
    Nothing,
    /// This step, in words that hold for every caller.
    Step(String),
    /// Give the checks credentials for the cluster: a kubeconfig, `KUBECONFIG`, or a run
    /// inside the cluster. The caller words it, since only it knows how its user names a
    /// kubeconfig (a flag, a setting).
    ClusterCredentials,
}

impl From<&str> for Remedy {
    fn from(step: &str) -> Remedy {
        Remedy::Step(step.to_owned())
    }
}

impl From<String> for Remedy {
    fn from(step: String) -> Remedy {
        Remedy::Step(step)
    }
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), status: Status::Pass, detail: detail.into(), remedy: Remedy::Nothing }
    }

    fn warn(name: impl Into<String>, detail: impl Into<String>, remedy: impl Into<Remedy>) -> Check {
        Check { name: name.into(), status: Status::Warn, detail: detail.into(), remedy: remedy.into() }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, remedy: impl Into<Remedy>) -> Check {
        Check { name: name.into(), status: Status::Fail, detail: detail.into(), remedy: remedy.into() }
    }
}
