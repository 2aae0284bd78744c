//! A verdict written for people (an aligned table, then the counts and PASS or FAIL with the
//! reasons) and for code-scanning tools (SARIF 2.1.0). Its JSON is the serde of
//! [`Verdict`](crate::gate::Verdict), documented there.
//!
//! Every text cell comes from a report or a database from anywhere: control characters and
//! the invisible or direction-changing ones a terminal would act on are written escaped
//! (`\u{1b}`), and a cell is cut at 80 characters.

use std::collections::BTreeMap;

use genesis_bundle::{VexStatement, cut_chars, escape_controls};
use serde_json::{Value, json};

use crate::finding::{Finding, Severity};
use crate::gate::{JudgedFinding, Verdict, format_duration, human_age, not_excepting};
use crate::vex::VexStatus;

/// The longest text cell, in characters.
const MAX_CELL: usize = 80;

/// The SARIF schema a log names: 2.1.0 with its errata, as OASIS publishes it.
const SARIF_SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The verdict as a table of findings (package, installed, fixed, ID, severity, image, what
/// the gate made of it, and what OpenVEX says of it), most severe first, then the counts, the
/// database's age, and `PASS` or `FAIL` with each reason.
pub fn text(verdict: &Verdict) -> String {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if verdict.findings.is_empty() {
        line("No known vulnerability in any package.");
    } else {
        let header = ["PACKAGE", "INSTALLED", "FIXED", "ID", "SEVERITY", "IMAGE", "STATUS", "VEX"].map(str::to_owned);
        let rows: Vec<[String; 8]> =
            std::iter::once(header).chain(verdict.findings.iter().map(|f| row(f, verdict.fail_on))).collect();
        let mut widths = [0; 8];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in &rows {
            let mut text = String::new();
            for (cell, width) in row.iter().zip(widths) {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
            line(&text);
        }
    }

    let counts: Vec<String> =
        Severity::ALL.iter().rev().map(|s| format!("{} {s}", verdict.counts.get(s).copied().unwrap_or(0))).collect();
    line("");
    line(&format!("Without an exception: {}. Excepted by OpenVEX: {}.", counts.join(", "), verdict.excepted));
    if let Some(db) = &verdict.database {
        let newest = db.newest_modified.as_deref().map_or_else(|| "no modified date".to_owned(), cell);
        let age = db.age_seconds.map_or_else(|| "age unknown".to_owned(), |age| format!("{} old", human_age(age)));
        let limit = db.max_age_seconds.map_or_else(
            || "no age limit".to_owned(),
            |max| format!("limit {}", format_duration(std::time::Duration::from_secs(max))),
        );
        let stale = if db.stale { ", STALE" } else { "" };
        line(&format!("Database {}: newest record {newest}, {age} ({limit}){stale}.", cell(&db.digest)));
    }
    if verdict.passed {
        line(&format!("PASS (fail on {})", verdict.fail_on));
    } else {
        line(&format!("FAIL (fail on {})", verdict.fail_on));
        for reason in &verdict.reasons {
            line(&format!("  - {}", escape_controls(reason)));
        }
    }
    out
}

fn row(judged: &JudgedFinding, fail_on: Severity) -> [String; 8] {
    let f = &judged.finding;
    [
        cell(&f.package),
        cell(&f.installed),
        cell(f.fixed.as_deref().unwrap_or("-")),
        cell(&f.id),
        severity(f),
        cell(&f.image),
        status(judged, fail_on),
        judged.vex.as_ref().map_or_else(|| "-".to_owned(), |vex| cell(&vex.to_string())),
    ]
}

/// A finding's severity, and the record it was taken from when not its own:
/// `high (CVE-2024-1234)` for a Debian advisory rated by its CVE.
fn severity(f: &Finding) -> String {
    match &f.severity_from {
        Some(from) => format!("{} ({})", f.severity, cell(from)),
        None => f.severity.to_string(),
    }
}

/// What the gate made of a finding: `excepted`, `BLOCKS`, or `below <threshold>`.
fn status(judged: &JudgedFinding, fail_on: Severity) -> String {
    if judged.excepted() {
        "excepted".to_owned()
    } else if judged.blocking {
        "BLOCKS".to_owned()
    } else {
        format!("below {fail_on}")
    }
}

/// A table cell: [`escape_controls`], cut at [`MAX_CELL`] characters.
fn cell(text: &str) -> String {
    cut_chars(escape_controls(text), MAX_CELL)
}

/// What a SARIF rule says of one vulnerability, gathered over its findings.
struct RuleFacts<'a> {
    summary: Option<&'a str>,
    score: Option<f32>,
    severity: Severity,
}

/// The verdict as a SARIF 2.1.0 log with one run: one rule per vulnerability ID (its summary,
/// highest score as `security-severity` and severity in its properties), and one result per
/// finding, at level `error` when it blocks, `note` when an exception excepts it, `warning`
/// otherwise. What OpenVEX says is an external suppression: accepted for an exception,
/// `underReview` for `under_investigation`, rejected for an exception that expired; an
/// `affected` statement suppresses nothing. A result's location is logical: the image, and
/// the package by its purl. The verdict itself (passed, threshold, counts, database, reasons)
/// is in the run's properties.
pub fn sarif(verdict: &Verdict, tool_version: &str) -> Value {
    let mut facts: BTreeMap<&str, RuleFacts<'_>> = BTreeMap::new();
    for judged in &verdict.findings {
        let f = &judged.finding;
        let rule = facts.entry(&f.id).or_insert(RuleFacts { summary: None, score: None, severity: Severity::Unknown });
        rule.summary = rule.summary.or(f.summary.as_deref());
        rule.score = match (rule.score, f.score) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        rule.severity = rule.severity.max(f.severity);
    }
    let index: BTreeMap<&str, usize> = facts.keys().enumerate().map(|(n, id)| (*id, n)).collect();
    let rules: Vec<Value> = facts
        .iter()
        .map(|(&id, rule)| {
            let mut properties = json!({"tags": ["security", "vulnerability"], "severity": rule.severity});
            if let Some(score) = rule.score {
                properties["security-severity"] = json!(format!("{score:.1}"));
            }
            json!({"id": id, "shortDescription": {"text": rule.summary.unwrap_or(id)}, "properties": properties})
        })
        .collect();
    let results: Vec<Value> = verdict
        .findings
        .iter()
        .map(|judged| {
            let f = &judged.finding;
            let level = if judged.blocking {
                "error"
            } else if judged.excepted() {
                "note"
            } else {
                "warning"
            };
            let mut result = json!({
                "ruleId": f.id,
                "ruleIndex": index.get(f.id.as_str()),
                "level": level,
                "message": {"text": message(judged)},
                "locations": [{"logicalLocations": [
                    {"name": f.image, "kind": "image"},
                    {"name": f.package, "fullyQualifiedName": f.purl, "kind": "package"},
                ]}],
                "properties": {
                    "severity": f.severity,
                    "severityFrom": f.severity_from,
                    "score": f.score,
                    "installed": f.installed,
                    "fixed": f.fixed,
                    "aliases": f.aliases,
                    "vex": judged.vex,
                    "blocking": judged.blocking,
                },
            });
            if let Some(suppression) = judged.vex.as_ref().and_then(suppression) {
                result["suppressions"] = json!([suppression]);
            }
            result
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "genesis", "version": tool_version, "rules": rules}},
            "results": results,
            "properties": {
                "passed": verdict.passed,
                "failOn": verdict.fail_on,
                "counts": verdict.counts,
                "excepted": verdict.excepted,
                "database": verdict.database,
                "reasons": verdict.reasons,
            },
        }],
    })
}

fn message(judged: &JudgedFinding) -> String {
    let f = &judged.finding;
    let fix = f.fixed.as_ref().map_or_else(|| "no fixed version is known".to_owned(), |v| format!("fixed in {v}"));
    let vex = match &judged.vex {
        Some(vex) if vex.is_exception() => format!("; excepted by OpenVEX: {vex}"),
        Some(vex) => format!("; not excepted, {}", not_excepting(vex)),
        None => String::new(),
    };
    format!("{} {} in {} is affected by {} ({}); {fix}{vex}", f.package, f.installed, f.image, f.id, f.severity)
}

/// What OpenVEX says as a SARIF suppression (external to the scanned artifact): accepted
/// when it excepts, rejected when the exception expired, under review while the vendor
/// investigates; an `affected` statement asks for no suppression.
fn suppression(vex: &VexStatement) -> Option<Value> {
    let status = match vex.status {
        _ if vex.is_exception() => "accepted",
        VexStatus::NotAffected | VexStatus::Fixed => "rejected",
        VexStatus::UnderInvestigation => "underReview",
        VexStatus::Affected => return None,
    };
    Some(json!({"kind": "external", "status": status, "justification": format!("OpenVEX {vex}")}))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::process::Command;

    use super::*;
    use crate::fixtures::{NOW, data};
    use crate::gate::{DEFAULT_MAX_DB_AGE, DbInfo, Policy, judge};
    use crate::reports::read_report;
    use crate::vex::Exceptions;

    fn policy(fail_on: Severity) -> Policy {
        Policy {
            fail_on,
            max_db_age: Some(DEFAULT_MAX_DB_AGE),
            exceptions: Some(Exceptions::load(&data("vex-debian-12.openvex.json")).unwrap()),
            allow_unknown: false,
            allow_incomplete: false,
        }
    }

    /// The trivy sample judged with the sample exceptions: one finding excepted by image and
    /// subcomponent, one by alias, one whose exception expired and blocks.
    fn sample(fail_on: Severity) -> Verdict {
        let db = DbInfo { digest: "sha256:0d1f".into(), newest_modified: Some("2026-02-26T04:07:10Z".into()) };
        judge(read_report(&data("trivy-debian-12.json")).unwrap(), &policy(fail_on), Some(db), NOW)
    }

    #[test]
    fn the_text_is_an_aligned_table_then_the_counts_and_the_verdict() {
        let expected = "\
PACKAGE    INSTALLED         FIXED             ID              SEVERITY  IMAGE                    STATUS      VEX
zlib1g     1:1.2.13.dfsg-1   -                 CVE-2023-45853  critical  debian:12 (linux/amd64)  excepted    not_affected: vulnerable_code_not_present (expires 2026-08-01T00:00:00Z)
libc6      2.36-9+deb12u4    2.36-9+deb12u6    CVE-2024-2961   high      debian:12 (linux/amd64)  BLOCKS      not_affected: inline_mitigations_already_exist (expired 2026-02-15T00:00:00Z)
libssl3    3.0.11-1~deb12u2  3.0.13-1~deb12u1  CVE-2024-0727   medium    debian:12 (linux/amd64)  below high  -
requests   2.31.0            2.32.0            CVE-2024-35195  medium    debian:12 (linux/amd64)  excepted    not_affected: vulnerable_code_not_in_execute_path
coreutils  9.1-1             -                 CVE-2016-2781   low       debian:12 (linux/amd64)  below high  -

Without an exception: 0 critical, 1 high, 1 medium, 1 low, 0 unknown. Excepted by OpenVEX: 2.
Database sha256:0d1f: newest record 2026-02-26T04:07:10Z, 2d 19h old (limit 7d).
FAIL (fail on high)
  - 1 finding at or above high has no exception: CVE-2024-2961 in libc6 2.36-9+deb12u4 (high, its exception expired 2026-02-15T00:00:00Z)
";
        assert_eq!(text(&sample(Severity::High)), expected);
        let passing = text(&sample(Severity::Critical));
        assert!(passing.ends_with("(limit 7d).\nPASS (fail on critical)\n"), "{passing}");
    }

    #[test]
    fn a_severity_taken_from_another_record_names_it_in_the_table_and_the_sarif() {
        let mut verdict = sample(Severity::High);
        verdict.findings[4].finding.severity_from = Some("CVE-2016-2781".into());
        assert!(text(&verdict).contains("CVE-2016-2781   low (CVE-2016-2781)"), "{}", text(&verdict));
        let log = sarif(&verdict, "0.1.0");
        assert_eq!(log["runs"][0]["results"][4]["properties"]["severityFrom"], "CVE-2016-2781");
    }

    #[test]
    fn the_text_escapes_what_a_terminal_would_act_on_and_cuts_long_cells() {
        let mut verdict = sample(Severity::High);
        verdict.findings[0].finding.package = "zlib\u{1b}[2J\u{202e}1g\n".into();
        verdict.findings[0].finding.image = "x".repeat(200);
        verdict.reasons.push("a reason\rwith a carriage return".into());
        let out = text(&verdict);
        assert!(out.contains("zlib\\u{1b}[2J\\u{202e}1g\\u{a}"), "{out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}') && !out.contains('\r'));
        assert!(out.contains(&format!("{}…", "x".repeat(79))));
        assert!(!out.contains(&"x".repeat(80)));
        let nothing = text(&judge(vec![], &policy(Severity::High), None, NOW));
        assert_eq!(
            nothing,
            "No known vulnerability in any package.\n\nWithout an exception: 0 critical, 0 high, 0 medium, 0 low, 0 unknown. Excepted by OpenVEX: 0.\nPASS (fail on high)\n"
        );
    }

    #[test]
    fn sarif_has_one_rule_per_vulnerability_and_a_level_and_suppression_per_finding() {
        let log = sarif(&sample(Severity::High), "0.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "genesis");
        assert_eq!(run["tool"]["driver"]["version"], "0.1.0");
        let rules: Vec<&str> =
            run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(rules, ["CVE-2016-2781", "CVE-2023-45853", "CVE-2024-0727", "CVE-2024-2961", "CVE-2024-35195"]);
        assert_eq!(run["tool"]["driver"]["rules"][1]["properties"]["security-severity"], "9.8");

        let results = run["results"].as_array().unwrap();
        let summary: Vec<_> = results
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap(),
                    r["ruleIndex"].as_i64().unwrap(),
                    r["level"].as_str().unwrap(),
                    r["suppressions"][0]["status"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("CVE-2023-45853", 1, "note", Some("accepted")),
                ("CVE-2024-2961", 3, "error", Some("rejected")),
                ("CVE-2024-0727", 2, "warning", None),
                ("CVE-2024-35195", 4, "note", Some("accepted")),
                ("CVE-2016-2781", 0, "warning", None),
            ]
        );
        assert_eq!(
            results[0]["locations"][0]["logicalLocations"][1]["fullyQualifiedName"],
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12.5"
        );
        assert_eq!(run["properties"]["passed"], false);
        assert_eq!(run["properties"]["failOn"], "high");
    }

    /// The sample with statements that do not except: libssl3's finding under investigation,
    /// coreutils' affected (neither excepts, so the counts stand).
    fn with_open_statements() -> Verdict {
        let mut verdict = sample(Severity::High);
        let file = genesis_bundle::sha256(b"an OpenVEX file");
        verdict.findings[2].vex =
            Some(VexStatement::new(VexStatus::UnderInvestigation, None, file.clone(), None, None));
        verdict.findings[4].vex = Some(VexStatement::new(VexStatus::Affected, None, file, None, None));
        verdict
    }

    #[test]
    fn a_statement_that_does_not_except_is_shown_and_suppresses_nothing() {
        let verdict = with_open_statements();
        let table = text(&verdict);
        let line_of = |package: &str| table.lines().find(|l| l.starts_with(package)).unwrap().to_owned();
        assert!(line_of("libssl3 ").ends_with("below high  under_investigation"), "{table}");
        assert!(line_of("coreutils ").ends_with("below high  affected"), "{table}");

        let log = sarif(&verdict, "0.1.0");
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(
            results[2]["suppressions"],
            json!([{"kind": "external", "status": "underReview", "justification": "OpenVEX under_investigation"}])
        );
        assert_eq!(results[2]["level"], "warning");
        assert!(
            results[2]["message"]["text"].as_str().unwrap().ends_with("; not excepted, OpenVEX: under_investigation"),
            "{}",
            results[2]["message"]
        );
        assert!(results[4].get("suppressions").is_none(), "affected asks for no suppression: {}", results[4]);
        assert_eq!(
            results[1]["suppressions"][0]["justification"],
            "OpenVEX not_affected: inline_mitigations_already_exist (expired 2026-02-15T00:00:00Z)"
        );
        assert!(
            results[1]["message"]["text"]
                .as_str()
                .unwrap()
                .ends_with("; not excepted, its exception expired 2026-02-15T00:00:00Z"),
            "{}",
            results[1]["message"]
        );
    }

    /// What the SARIF 2.1.0 schema in tests/data (origin in gate-data-origin.md) says is wrong
    /// with `log`, as Debian's python3-jsonschema reports it; empty when it validates.
    fn schema_errors(log: &Value) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scan.sarif");
        std::fs::write(&file, serde_json::to_vec_pretty(log).unwrap()).unwrap();
        let script = "import json, sys, jsonschema\n\
                      schema = json.load(open(sys.argv[1]))\n\
                      jsonschema.Draft4Validator.check_schema(schema)\n\
                      errors = list(jsonschema.Draft4Validator(schema).iter_errors(json.load(open(sys.argv[2]))))\n\
                      for e in errors: print('/'.join(map(str, e.absolute_path)), e.message)\n\
                      sys.exit(1 if errors else 0)\n";
        // The test venv `cargo xtask test-deps` makes holds jsonschema.
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/test-venv/bin/python3");
        let output = Command::new(venv)
            .arg("-c")
            .arg(script)
            .arg(data("gate-sarif-schema-2.1.0-rtm.5.json"))
            .arg(&file)
            .output()
            .expect("target/test-venv runs jsonschema: run `cargo xtask test-deps`");
        if output.status.success() {
            return String::new();
        }
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    }

    #[test]
    fn sarif_validates_against_the_sarif_2_1_0_schema() {
        let empty = judge(vec![], &policy(Severity::High), None, NOW);
        for verdict in [sample(Severity::High), sample(Severity::Critical), with_open_statements(), empty] {
            let errors = schema_errors(&sarif(&verdict, "0.1.0"));
            assert!(errors.is_empty(), "not valid SARIF 2.1.0 (is python3-jsonschema installed?):\n{errors}");
        }
    }

    #[test]
    fn the_schema_check_refuses_an_invalid_log() {
        let mut log = sarif(&sample(Severity::High), "0.1.0");
        log["runs"][0]["results"][0]["level"] = json!("fatal");
        let errors = schema_errors(&log);
        assert!(errors.contains("'fatal' is not one of"), "a level outside the schema's enum is caught: {errors}");
    }
}
