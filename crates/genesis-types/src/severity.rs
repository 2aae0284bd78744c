//! How bad a known vulnerability is: a format type, since a bundle's signed BOM records the
//! scan verdict by severity and a trust policy requires one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a vulnerability is, ordered from unknown to critical. From a CVSS base score:
/// low below 4.0, medium below 7.0, high below 9.0, critical from 9.0 (CVSS v3.x's
/// qualitative scale); unknown when the record gives no score and no rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No score or rating known.
    Unknown,
    /// CVSS 0.1–3.9.
    Low,
    /// CVSS 4.0–6.9.
    Medium,
    /// CVSS 7.0–8.9.
    High,
    /// CVSS 9.0–10.0.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] =
        [Severity::Unknown, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The rating of a CVSS base score.
    pub fn from_score(score: f32) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    /// Its lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    /// A rating as scanners write it, in any case (`HIGH`, `High`, `high`); `negligible`
    /// (grype) reads as low.
    fn from_str(s: &str) -> Result<Severity, String> {
        match s.to_ascii_lowercase().as_str() {
            "unknown" | "none" => Ok(Severity::Unknown),
            "low" | "negligible" => Ok(Severity::Low),
            "medium" | "moderate" => Ok(Severity::Medium),
            "high" | "important" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("{other:?} is not a severity (critical, high, medium, low, unknown)")),
        }
    }
}
