//! `genesis preflight`: deterministic checks that the environment a bundle is about to be
//! installed into is ready — PostgreSQL answers `SELECT 1`, Redis answers `PING`, names
//! resolve, a TLS endpoint's chain verifies against the given CA (warning before expiry), the
//! registry answers `/v2/` with the given credentials, the disk can hold the bundle's payload.
//! Each check reports PASS, WARN or FAIL with the cause and a [`Remedy`]. Nothing is ever
//! remediated: the operator decides. Nothing here names a command-line flag: the caller words
//! the remedies that depend on its own options.
//!
//! A dependency in the cluster may be named by its Service ([`ServiceRef`]); the caller says
//! how such a reference is resolved ([`Resolver`]: the CLI asks the API server each time, the
//! console through its cache), and a reference that does not resolve is a
//! [`Status::Degraded`] row, not an error. Each planned check has an id that stays the same
//! between runs of one file ([`Planned`]), so that one row can be run again alone.
//!
//! ```no_run
//! # async fn demo() -> Result<(), genesis_preflight::SpecError> {
//! let spec = genesis_preflight::PreflightSpec::load(std::path::Path::new("preflight.yaml"))?;
//! let resolver = genesis_preflight::ApiResolver::new(None);
//! let checks = genesis_preflight::run(&spec, None, &resolver).await;
//! let json = genesis_preflight::Report::new(&checks, "pass --kubeconfig");
//! # let _ = json;
//! # Ok(())
//! # }
//! ```

mod checks;
mod resolve;
mod spec;

pub use checks::{Planned, run};
pub use resolve::{ApiResolver, Resolver, Unresolved};
pub use spec::{MAX_CHECKS, PreflightSpec, ServiceRef, SpecError};

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
    /// Not checked: the dependency's Service reference did not resolve, so where it is is
    /// unknown (seed 002: discovery that fails degrades, it does not crash). Not ready
    /// either, since the install could not find it.
    Degraded,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Degraded => "DEGRADED",
        })
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Which planned check this is ([`Planned::id`]): `postgres`, `dns:db.internal`, ….
    pub id: String,
    /// What was checked, e.g. `postgres 127.0.0.1:5432/genesis`.
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub remedy: Remedy,
}

/// What to do about a check's result. A caller words [`Remedy::ClusterCredentials`] itself,
/// through [`Remedy::step`]: a new kind that a caller must word changes that function's
/// signature, so that no caller can miss it.
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

impl Remedy {
    /// The step in words, [`Remedy::ClusterCredentials`] in the caller's
    /// (`cluster_credentials`); empty when nothing is to be done.
    pub fn step<'a>(&'a self, cluster_credentials: &'a str) -> &'a str {
        match self {
            Remedy::Nothing => "",
            Remedy::Step(step) => step,
            Remedy::ClusterCredentials => cluster_credentials,
        }
    }
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

// The checks build their rows without an id: [`Planned::run`], which knows it, sets it.
impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>, remedy: impl Into<Remedy>) -> Check {
        Check { id: String::new(), name: name.into(), status, detail: detail.into(), remedy: remedy.into() }
    }

    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, detail, Remedy::Nothing)
    }

    fn warn(name: impl Into<String>, detail: impl Into<String>, remedy: impl Into<Remedy>) -> Check {
        Check::new(name, Status::Warn, detail, remedy)
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, remedy: impl Into<Remedy>) -> Check {
        Check::new(name, Status::Fail, detail, remedy)
    }
}

/// A run's rows as `genesis preflight --output json` prints them, the console offers them for
/// download and a support bundle keeps them (`preflight.json`): `{"checks": [{"id", "name",
/// "status", "detail", "remedy"}]}`, each remedy in words. The one encoder of that report.
#[derive(Debug, serde::Serialize)]
pub struct Report<'a> {
    checks: Vec<ReportRow<'a>>,
}

/// One row of a [`Report`].
#[derive(Debug, serde::Serialize)]
struct ReportRow<'a> {
    id: &'a str,
    name: &'a str,
    status: Status,
    detail: &'a str,
    remedy: &'a str,
}

impl<'a> Report<'a> {
    /// The report of `checks`, [`Remedy::ClusterCredentials`] worded `cluster_credentials`.
    pub fn new(checks: &'a [Check], cluster_credentials: &'a str) -> Report<'a> {
        let row = |c: &'a Check| ReportRow {
            id: &c.id,
            name: &c.name,
            status: c.status,
            detail: &c.detail,
            remedy: c.remedy.step(cluster_credentials),
        };
        Report { checks: checks.iter().map(row).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_words_each_remedy_and_keeps_the_rows_order() {
        let mut rows = vec![
            Check::pass("postgres postgres://genesis@db:5432/genesis", "connected; SELECT 1 answered"),
            Check::fail("kubernetes cert-manager", "no kubeconfig", Remedy::ClusterCredentials),
            Check::new("redis (Service data/redis:resp)", Status::Degraded, "not checked", "create it"),
        ];
        for (row, id) in rows.iter_mut().zip(["postgres", "cert-manager", "redis"]) {
            row.id = id.to_owned();
        }
        let json = serde_json::to_value(Report::new(&rows, "pass --kubeconfig")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"checks": [
                {"id": "postgres", "name": "postgres postgres://genesis@db:5432/genesis", "status": "pass",
                 "detail": "connected; SELECT 1 answered", "remedy": ""},
                {"id": "cert-manager", "name": "kubernetes cert-manager", "status": "fail", "detail": "no kubeconfig",
                 "remedy": "pass --kubeconfig"},
                {"id": "redis", "name": "redis (Service data/redis:resp)", "status": "degraded",
                 "detail": "not checked", "remedy": "create it"},
            ]})
        );
        assert_eq!(Status::Degraded.to_string(), "DEGRADED");
    }
}
