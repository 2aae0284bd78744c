//! The vulnerability gate before the boundary, offline: the packages of a bundle's images
//! (from `genesis-inventory`) matched against an OSV database carried across the gap, each
//! ecosystem's versions in its own ordering, severities from the CVSS vectors in the
//! records, exceptions from OpenVEX documents, and a verdict under a policy (the severity
//! that fails, the oldest database allowed). A trivy or grype JSON report can be judged by
//! the same policy instead, for sites that already run one.
//!
//! Nothing here reaches a network: the database is files (OSV's per-ecosystem `all.zip`
//! exports, or a directory of records), and its age is part of the verdict, since a stale
//! database passes what a fresh one would fail.

mod cvss;
mod database;
mod ecosystem;
mod error;
mod finding;
#[cfg(test)]
mod fixtures;
mod gate;
mod matching;
mod osv;
mod output;
mod reports;
mod sbom;
pub mod version;
mod vex;

pub use cvss::base_score;
pub use database::{Database, DatabaseLimits};
pub use ecosystem::osv_ecosystem;
pub use error::ScanError;
pub use finding::{Finding, Severity};
pub use gate::{
    DEFAULT_FAIL_ON, DEFAULT_MAX_DB_AGE, DbInfo, DbVerdict, JudgedFinding, Policy, Verdict, format_duration, judge,
    parse_duration,
};
pub use matching::{Scan, scan};
pub use output::{sarif, text};
pub use reports::read_report;
pub use sbom::{SbomPackages, packages_in_cyclonedx};
pub use vex::{Exceptions, VexStatus};
