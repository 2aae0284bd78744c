//! Redaction by rule: each rule a name and a regular expression; every match replaced by
//! `[REDACTED:<rule>]` and counted, never kept. The built-in rules find secrets and PHI by
//! their shape (an e-mail address, a US SSN, a PEM private key, a password in a connection
//! string); what has no shape (a patient's name in free text) they cannot find, which the
//! support bundle's README says.
//!
//! Rules run one after the other, in a fixed order, each over what the previous ones left:
//! a value that two rules would match counts once, for the earlier rule (a JWT sent as
//! `Bearer …` is a `bearer-token`; the password of `postgres://app:PW@db.example.com` is a
//! `connection-password`, and what is left is no e-mail address). The replacement never
//! matches a later rule. A rule whose pattern has a group named `secret` replaces that group
//! alone, keeping the words around it (`password=[REDACTED:connection-password]`).

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::ser::SerializeStruct as _;
use serde_json::Value;

use crate::{Result, SupportError};

/// The group of a pattern that alone is replaced, when the pattern has one.
const SECRET_GROUP: &str = "secret";

/// The rule name that passwords found by their key (`"DB_PASSWORD": "…"`) count under.
const PASSWORD_RULE: &str = "connection-password";

/// The optional rule for IP addresses.
const IP_RULE: &str = "ip-address";

/// A PEM private key block, whole: RSA, EC, OpenSSH, PKCS#8 (also encrypted), PGP. One whose
/// end is missing (a truncated paste) is redacted to the end of the text.
const PRIVATE_KEY: &str =
    r"-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----|\z)";

/// `Authorization: <scheme> <credentials>` (a header, a JSON field, a `key=value`): the
/// scheme and credentials go; without a known scheme, a value of 16 characters or more.
const AUTHORIZATION: &str = concat!(
    r#"(?i)\bauthorization["']?[ \t]*[:=][ \t]*["']?"#,
    r#"(?P<secret>(?:bearer|basic|digest|negotiate|token)[ \t]+[^\s"',;]+|[^\s"',;\[]{16,})"#,
);

/// `Bearer <token>`, the token of 8 characters or more (the word alone, as in prose or
/// `token_type: Bearer`, is no token).
const BEARER: &str = r"\bBearer[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)";

/// A JSON Web Token: three base64url parts, the header's JSON starting `{"` (`eyJ`); the
/// signature may be empty (`alg: none`).
const JWT: &str = r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*";

/// An AWS access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 more.
const AWS_KEY_ID: &str = r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b";

/// The secret access key that goes with it, when it is named.
const AWS_SECRET: &str = r#"(?i)aws_secret_access_key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9/+=]{40})"#;

/// The key of an Azure connection string (Storage `AccountKey=`, Service Bus and Event Hubs
/// `SharedAccessKey=`).
const AZURE_KEY: &str = r#"(?i)\b(?:AccountKey|SharedAccessKey)=(?P<secret>[^;\s"']+)"#;

/// The password of a URL's user information: `scheme://user:PASSWORD@host`.
const URL_PASSWORD: &str = r#"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@"'\[\]]*:(?P<secret>[^\s@/?#"'\[\]]+)@"#;

/// A password given as a pair: `Password=…;` (ADO.NET, JDBC, libpq), `pwd=…` (ODBC),
/// `password: …` (YAML), `"password":"…"` (JSON text), `DB_PASSWORD=…` (environment).
const PASSWORD_PAIR: &str =
    r#"(?i)(?:password|passwd|\bpwd)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[^\s"'&;,\[\]{}][^\s"'&;,]*)"#;

/// A container's environment variable whose name says it holds a password, as JSON text has
/// it (`kubectl.kubernetes.io/last-applied-configuration`: `{"name":"DB_PASSWORD","value":"…"}`).
const ENV_PASSWORD_JSON: &str =
    r#"(?i)"name"[ \t]*:[ \t]*"[^"]*(?:password|passwd|pwd)"[ \t]*,[ \t]*"value"[ \t]*:[ \t]*"(?P<secret>[^"\\]+)""#;

/// The same in YAML text (a chart's values in a config map): `name: DB_PASSWORD` and, on the
/// next line, `value: …`.
const ENV_PASSWORD_YAML: &str = concat!(
    r#"(?i)\bname:[ \t]*["']?[A-Za-z0-9_.-]*(?:password|passwd|pwd)["']?[ \t]*\r?\n"#,
    r#"[ \t]*value:[ \t]*["']?(?P<secret>[^\s"']+)"#,
);

/// An e-mail address: a local part, `@`, a domain with a dot and a top-level name.
const EMAIL: &str = concat!(
    r"\b[A-Za-z0-9._%+-]+@",
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b",
);

/// A US social security number, `NNN-NN-NNNN`.
const US_SSN: &str = r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b";

/// A telephone number: NANP with separators (`(555) 123-4567`, `555-123-4567`,
/// `555.123.4567`, `+1 555 123 4567`, `1-800-555-0199`), international numbers with a `+`
/// and separators (`+44 20 7946 0958`), or E.164 (`+15551234567`). Ten digits without
/// separators are not taken for one: they are as likely a resource version or a size.
const PHONE: &str = concat!(
    r"(?:\+1[ .-]?)?\([0-9]{3}\)[ .-]?[0-9]{3}[ .-][0-9]{4}\b",
    r"|(?:\+1[ .-]?|\b1[ .-])?\b[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}\b",
    r"|\+[1-9][0-9]{0,2}[ .-]\(?[0-9]{1,4}\)?(?:[ .-][0-9]{2,8}){1,4}\b",
    r"|\+[1-9][0-9]{7,14}\b",
);

/// The built-in rules in the order they run (a name may have several patterns).
const BUILTIN: &[(&str, &str)] = &[
    ("private-key", PRIVATE_KEY),
    ("bearer-token", AUTHORIZATION),
    ("bearer-token", BEARER),
    ("jwt", JWT),
    ("aws-access-key", AWS_KEY_ID),
    ("aws-access-key", AWS_SECRET),
    ("azure-storage-key", AZURE_KEY),
    ("connection-password", URL_PASSWORD),
    ("connection-password", ENV_PASSWORD_JSON),
    ("connection-password", ENV_PASSWORD_YAML),
    ("connection-password", PASSWORD_PAIR),
    ("email", EMAIL),
    ("us-ssn", US_SSN),
    ("phone", PHONE),
];

/// An IPv6 address (full, compressed around `::`, with an IPv4 tail, IPv4-mapped) or an IPv4
/// address in dotted decimal. MAC addresses and times (`12:34:56`) have no `::` and not eight
/// groups, so are left alone.
fn ip_pattern() -> String {
    let h = "[0-9A-Fa-f]{1,4}";
    let octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let v4 = format!(r"(?:{octet}\.){{3}}{octet}");
    [
        format!(r"\b(?:{h}:){{6}}{v4}\b"),
        format!(r"::ffff(?::0{{1,4}})?:{v4}\b"),
        format!(r"\b(?:{h}:){{7}}{h}\b"),
        format!(r"\b{h}(?::{h}){{0,5}}::{h}(?::{h}){{0,5}}\b"),
        format!(r"::{h}(?::{h}){{0,6}}\b"),
        format!(r"\b{v4}\b"),
    ]
    .join("|")
}

/// One rule: a name for the report and what it matches.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name, in the report and in `[REDACTED:<name>]`.
    pub name: String,
    /// What it matches; when the pattern has a group named `secret`, only that group is
    /// replaced.
    pub pattern: Regex,
}

impl Rule {
    /// `text` with every match replaced, and how many there were; `None` when there were
    /// none. Empty matches are no matches: they would mark every position.
    fn apply(&self, text: &str) -> (Option<String>, u64) {
        // Most strings match no rule: the quick test spares them the search for groups.
        if !self.pattern.is_match(text) {
            return (None, 0);
        }
        let placeholder = format!("[REDACTED:{}]", self.name);
        let secret_only = self.pattern.capture_names().flatten().any(|n| n == SECRET_GROUP);
        let (mut out, mut last, mut count) = (String::new(), 0, 0);
        for captures in self.pattern.captures_iter(text) {
            let target = if secret_only { captures.name(SECRET_GROUP) } else { captures.get(0) };
            let Some(target) = target.filter(|m| !m.is_empty()) else { continue };
            out.push_str(&text[last..target.start()]);
            out.push_str(&placeholder);
            last = target.end();
            count += 1;
        }
        if count == 0 {
            return (None, 0);
        }
        out.push_str(&text[last..]);
        (Some(out), count)
    }
}

/// The rules a support bundle is redacted with, in the order they run: the built-in ones,
/// then those of rules files.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<Rule>,
}

/// A rules file: `rules: [{name: NAME, pattern: REGEX}]`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: String,
    pattern: String,
}

impl Redactor {
    /// The built-in rules (named exactly): `email`, `phone` (NANP and E.164-ish with
    /// separators), `us-ssn` (NNN-NN-NNNN), `jwt` (three base64url parts, header starting
    /// `eyJ`), `bearer-token` (`Bearer <token>`, `Authorization: …`), `private-key` (whole PEM
    /// `-----BEGIN … PRIVATE KEY-----` blocks), `aws-access-key` (AKIA/ASIA + 16, and a
    /// named `aws_secret_access_key`), `azure-storage-key` (`AccountKey=…` and
    /// `SharedAccessKey=…` in connection strings), `connection-password`
    /// (`scheme://user:PASSWORD@host` → the password only, `password=…;` / `pwd=…` pairs, and
    /// in JSON the value of a key ending in `password`, `passwd` or `pwd`), plus `ip-address`
    /// (IPv4 and IPv6) only when `with_ip` is true.
    pub fn builtin(with_ip: bool) -> Redactor {
        let rule = |name: &str, pattern: &str| Rule {
            name: name.to_owned(),
            pattern: Regex::new(pattern).expect("a built-in rule compiles (tested)"),
        };
        let mut rules: Vec<Rule> = BUILTIN.iter().map(|&(name, pattern)| rule(name, pattern)).collect();
        if with_ip {
            rules.push(rule(IP_RULE, &ip_pattern()));
        }
        Redactor { rules }
    }

    /// Adds rules from a YAML file: `rules: [{name: NAME, pattern: REGEX}]`; a bad regex or
    /// a name given twice is an error naming the file and the rule. A name is a plain word
    /// (letters, digits, `.`, `_`, `-`; at most 64) that no built-in rule has, `ip-address`
    /// included; a pattern may not match the empty string. These rules run after the
    /// built-in ones, in the file's order, and a group named `secret` in a pattern is all
    /// that is replaced of its matches.
    pub fn with_rules_file(mut self, path: &Path) -> Result<Redactor> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SupportError::RulesRead { path: path.to_owned(), source })?;
        let file: RulesFile = serde_yaml_ng::from_str(&text)
            .map_err(|e| SupportError::RulesSyntax { path: path.to_owned(), reason: e.to_string() })?;
        for entry in file.rules {
            let refuse =
                |reason: String| SupportError::Rule { path: path.to_owned(), rule: entry.name.clone(), reason };
            if !is_rule_name(&entry.name) {
                return Err(refuse(
                    "a rule's name is 1 to 64 letters, digits, `.`, `_` or `-`, beginning with a letter or digit"
                        .into(),
                ));
            }
            if BUILTIN.iter().any(|&(name, _)| name == entry.name) || entry.name == IP_RULE {
                return Err(refuse("a built-in rule has this name: choose another".into()));
            }
            if self.rules.iter().any(|r| r.name == entry.name) {
                return Err(refuse("the name is given twice".into()));
            }
            let pattern = Regex::new(&entry.pattern).map_err(|e| refuse(format!("invalid regular expression: {e}")))?;
            if pattern.is_match("") {
                return Err(refuse("the pattern matches the empty string, so it would match everywhere".into()));
            }
            self.rules.push(Rule { name: entry.name, pattern });
        }
        Ok(self)
    }

    /// The names of the rules, once each, in the order they run.
    pub fn rule_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for rule in &self.rules {
            if !names.contains(&rule.name.as_str()) {
                names.push(&rule.name);
            }
        }
        names
    }

    /// Whether IP addresses are redacted.
    pub fn redacts_ip_addresses(&self) -> bool {
        self.rules.iter().any(|r| r.name == IP_RULE)
    }

    /// `text` with every match replaced by `[REDACTED:<rule>]`, counting into `report`
    /// (every rule gets an entry, 0 when it matched nothing).
    pub fn redact(&self, text: &str, report: &mut RedactionReport) -> String {
        let mut current: Option<String> = None;
        for rule in &self.rules {
            let (replaced, count) = rule.apply(current.as_deref().unwrap_or(text));
            report.add(&rule.name, count);
            if replaced.is_some() {
                current = replaced;
            }
        }
        current.unwrap_or_else(|| text.to_owned())
    }

    /// A JSON value with every string in it, object keys included, redacted as
    /// [`Redactor::redact`] does. A string under a key ending in `password`, `passwd` or
    /// `pwd` (any case: `DB_PASSWORD`, `adminPassword`), or the `value` of an object whose
    /// `name` is such a key (a container's `env` entry), is replaced whole and counted as a
    /// `connection-password` when no rule found anything in it. Two keys that redact alike
    /// stay two entries: the second is suffixed `#2`, and so on.
    pub fn redact_json(&self, value: Value, report: &mut RedactionReport) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact(&s, report)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.redact_json(v, report)).collect()),
            Value::Object(map) => {
                let env_password = map.get("name").and_then(Value::as_str).is_some_and(names_a_password);
                let mut out = serde_json::Map::new();
                for (key, value) in map {
                    let password = names_a_password(&key) || (env_password && key == "value");
                    let value = match value {
                        Value::String(s) if password => Value::String(self.redact_password(&s, report)),
                        other => self.redact_json(other, report),
                    };
                    let redacted = self.redact(&key, report);
                    let mut key = redacted.clone();
                    let mut n = 1;
                    while out.contains_key(&key) {
                        n += 1;
                        key = format!("{redacted}#{n}");
                    }
                    out.insert(key, value);
                }
                Value::Object(out)
            }
            other => other,
        }
    }

    /// A value known to be a password: redacted by the rules, or whole when they found
    /// nothing in it.
    fn redact_password(&self, text: &str, report: &mut RedactionReport) -> String {
        let redacted = self.redact(text, report);
        if redacted != text || text.trim().is_empty() {
            return redacted;
        }
        report.add(PASSWORD_RULE, 1);
        format!("[REDACTED:{PASSWORD_RULE}]")
    }
}

/// Whether a JSON key names a password: it ends in `password`, `passwd` or `pwd`, any case.
fn names_a_password(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "pwd"].iter().any(|end| key.ends_with(end))
}

/// 1 to 64 ASCII letters, digits, `.`, `_` or `-`, the first a letter or digit.
fn is_rule_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    (1..=64).contains(&name.len())
        && name.chars().all(word)
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// How many values each rule replaced, never the values; serialised as
/// `{"schema": "genesis.support.redaction.v1", "rules": {"email": 3, …}, "total": N}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionReport {
    rules: BTreeMap<String, u64>,
}

impl RedactionReport {
    /// The `schema` of the serialised report.
    pub const SCHEMA: &'static str = "genesis.support.redaction.v1";

    /// Counts by rule name, every rule that ran listed (0 when it matched nothing).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.rules
    }

    /// How many values `rule` replaced.
    pub fn count(&self, rule: &str) -> u64 {
        self.rules.get(rule).copied().unwrap_or(0)
    }

    /// How many values were replaced in all.
    pub fn total(&self) -> u64 {
        self.rules.values().sum()
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &RedactionReport) {
        for (rule, count) in &other.rules {
            self.add(rule, *count);
        }
    }

    fn add(&mut self, rule: &str, count: u64) {
        *self.rules.entry(rule.to_owned()).or_insert(0) += count;
    }
}

impl serde::Serialize for RedactionReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RedactionReport", 3)?;
        s.serialize_field("schema", Self::SCHEMA)?;
        s.serialize_field("rules", &self.rules)?;
        s.serialize_field("total", &self.total())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` redacted, and the report.
    fn redacted(with_ip: bool, text: &str) -> (String, RedactionReport) {
        let mut report = RedactionReport::default();
        (Redactor::builtin(with_ip).redact(text, &mut report), report)
    }

    /// Each input becomes its expected output, counted as the values of `rule` that output
    /// shows replaced, and no other rule counts anything (IP addresses included).
    fn check(rule: &str, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let (out, report) = redacted(true, input);
            assert_eq!(out, *expected, "{rule}: {input:?}");
            let replaced = expected.matches(&format!("[REDACTED:{rule}]")).count() as u64;
            assert!(replaced > 0, "{rule}: {input:?}: the expected output redacts nothing");
            assert_eq!(report.count(rule), replaced, "{rule}: {input:?}: {report:?}");
            assert_eq!(report.total(), replaced, "{rule}: {input:?}: another rule matched: {report:?}");
        }
    }

    /// Each input is left as it is by every rule, IP addresses included.
    fn untouched(inputs: &[&str]) {
        for input in inputs {
            let (out, report) = redacted(true, input);
            assert_eq!(&out, input, "{report:?}");
            assert_eq!(report.total(), 0, "{input:?}");
        }
    }

    #[test]
    fn every_built_in_pattern_compiles_and_the_rules_are_named_as_documented() {
        assert_eq!(
            Redactor::builtin(false).rule_names(),
            [
                "private-key",
                "bearer-token",
                "jwt",
                "aws-access-key",
                "azure-storage-key",
                "connection-password",
                "email",
                "us-ssn",
                "phone"
            ]
        );
        let with_ip = Redactor::builtin(true);
        assert_eq!(with_ip.rule_names().last(), Some(&"ip-address"));
        assert!(with_ip.redacts_ip_addresses() && !Redactor::builtin(false).redacts_ip_addresses());
        for rule in &with_ip.rules {
            assert!(!rule.pattern.is_match(""), "{} matches the empty string", rule.name);
        }
    }

    #[test]
    fn private_keys_go_whole_whatever_their_kind() {
        check(
            "private-key",
            &[
                (
                    "tls.key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\nnext",
                    "tls.key: [REDACTED:private-key]\nnext",
                ),
                (
                    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
                    "[REDACTED:private-key]",
                ),
                (
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n",
                    "[REDACTED:private-key]\n",
                ),
                (
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkq\n-----END ENCRYPTED PRIVATE KEY-----",
                    "[REDACTED:private-key]",
                ),
                (
                    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
                    "[REDACTED:private-key]",
                ),
                // As JSON text has it (an annotation holding an object): `\n` escaped.
                (
                    r#"{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n"}"#,
                    r#"{"key":"[REDACTED:private-key]\n"}"#,
                ),
                // Cut short: everything after its beginning goes.
                ("key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB", "key: [REDACTED:private-key]"),
                (
                    "a -----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY----- b -----BEGIN PRIVATE KEY-----\nBB\n-----END PRIVATE KEY----- c",
                    "a [REDACTED:private-key] b [REDACTED:private-key] c",
                ),
            ],
        );
        untouched(&[
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
            "the private key is mounted from the Secret tls-demo",
        ]);
    }

    #[test]
    fn bearer_tokens_and_authorization_values_go() {
        check(
            "bearer-token",
            &[
                ("Authorization: Bearer abc.def-123_456", "Authorization: [REDACTED:bearer-token]"),
                (
                    r#"{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}"#,
                    r#"{"Authorization": "[REDACTED:bearer-token]"}"#,
                ),
                ("authorization=s3cr3t-api-key-0123456789", "authorization=[REDACTED:bearer-token]"),
                // A JWT sent as a bearer token counts once, as a bearer token.
                (
                    "curl -H 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl' https://api",
                    "curl -H 'Bearer [REDACTED:bearer-token]' https://api",
                ),
                ("Bearer sk-live-0123456789abcdef", "Bearer [REDACTED:bearer-token]"),
            ],
        );
        untouched(&[
            "the bearer of this token",
            "token_type: Bearer",
            "Bearer token",
            "authorization: denied",
            "apiVersion: rbac.authorization.k8s.io/v1",
            "authorization.k8s.io/decision: allow",
        ]);
    }

    #[test]
    fn json_web_tokens_go() {
        check(
            "jwt",
            &[
                (
                    "token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                    "token=[REDACTED:jwt]",
                ),
                ("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. end", "unsigned [REDACTED:jwt] end"),
            ],
        );
        untouched(&["eyJhbGciOiJIUzI1NiJ9", "eyJ.a.b", "keyJson.value.x", "version 1.2.3"]);
    }

    #[test]
    fn cloud_access_keys_go() {
        check(
            "aws-access-key",
            &[
                ("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]"),
                ("key ASIAY34FZKBOKMUTVV7A.", "key [REDACTED:aws-access-key]."),
                (
                    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    "aws_secret_access_key = [REDACTED:aws-access-key]",
                ),
            ],
        );
        check(
            "azure-storage-key",
            &[
                (
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED:azure-storage-key];EndpointSuffix=core.windows.net",
                ),
                (
                    "Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc123=",
                    "Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=[REDACTED:azure-storage-key]",
                ),
            ],
        );
        untouched(&[
            "AKIA1234",
            "akiaiosfodnn7example",
            "XAKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPLEX",
            "AccountName=acct;EndpointSuffix=core.windows.net",
            "AccountKeyRotation=30d",
        ]);
    }

    #[test]
    fn passwords_in_connection_strings_go_and_nothing_else_of_them() {
        check(
            "connection-password",
            &[
                (
                    "DATABASE_URL=postgres://app:s3cr3t@db.example.com:5432/app?sslmode=verify-full",
                    "DATABASE_URL=postgres://app:[REDACTED:connection-password]@db.example.com:5432/app?sslmode=verify-full",
                ),
                ("redis://:hunter2@cache:6379/0", "redis://:[REDACTED:connection-password]@cache:6379/0"),
                ("jdbc:mysql://root:p4ss:w0rd@mysql/db", "jdbc:mysql://root:[REDACTED:connection-password]@mysql/db"),
                (
                    "Server=db;Database=app;User Id=sa;Password=Hunter2!;",
                    "Server=db;Database=app;User Id=sa;Password=[REDACTED:connection-password];",
                ),
                ("Driver={ODBC};Host=db;Pwd=abc123", "Driver={ODBC};Host=db;Pwd=[REDACTED:connection-password]"),
                ("POSTGRES_PASSWORD=hunter2", "POSTGRES_PASSWORD=[REDACTED:connection-password]"),
                ("db:\n  password: hunter2\n", "db:\n  password: [REDACTED:connection-password]\n"),
                (r#"{"password":"hunter2"}"#, r#"{"password":"[REDACTED:connection-password]"}"#),
                // A container's environment as an annotation keeps it (JSON text), and as a
                // chart's values have it (YAML).
                (
                    r#"{"env":[{"name":"DB_PASSWORD","value":"hunter2"},{"name":"MODE","value":"fast"}]}"#,
                    r#"{"env":[{"name":"DB_PASSWORD","value":"[REDACTED:connection-password]"},{"name":"MODE","value":"fast"}]}"#,
                ),
                (
                    "env:\n  - name: ADMIN_PWD\n    value: 'hunter2'\n  - name: MODE\n    value: fast\n",
                    "env:\n  - name: ADMIN_PWD\n    value: '[REDACTED:connection-password]'\n  - name: MODE\n    value: fast\n",
                ),
            ],
        );
        untouched(&[
            "https://registry.example.com:5000/v2/",
            "http://user@host/path",
            "ssh://git@host:22/repo",
            "passwordless: true",
            "password_file=/run/secrets/db",
            "password:",
            "password: ''",
            "docker login --password-stdin",
            "db_password: {{ .Values.db.password }}",
            r#"{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}"#,
            "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}\n",
        ]);
    }

    #[test]
    fn e_mail_addresses_go() {
        check(
            "email",
            &[
                ("contact jane.doe+test@example.co.uk today", "contact [REDACTED:email] today"),
                (
                    r#"{"owner":"ops@customer.example","cc":"x_y@sub.example.org"}"#,
                    r#"{"owner":"[REDACTED:email]","cc":"[REDACTED:email]"}"#,
                ),
            ],
        );
        untouched(&[
            "nginx@sha256:0123456789abcdef",
            "registry.local/app@sha256:0123abcd",
            "user@localhost",
            "@example.com",
            "system:serviceaccount:genesis:console",
        ]);
    }

    #[test]
    fn social_security_numbers_go() {
        check(
            "us-ssn",
            &[("SSN 123-45-6789.", "SSN [REDACTED:us-ssn]."), ("ssn=078-05-1120", "ssn=[REDACTED:us-ssn]")],
        );
        untouched(&["2024-01-15", "1234-56-7890", "123-45-67890", "12-345-6789", "v1-23-4567"]);
    }

    #[test]
    fn telephone_numbers_go() {
        check(
            "phone",
            &[
                ("call (555) 123-4567 now", "call [REDACTED:phone] now"),
                ("555-123-4567", "[REDACTED:phone]"),
                ("555.123.4567", "[REDACTED:phone]"),
                ("tel: +1 555 123 4567", "tel: [REDACTED:phone]"),
                ("+1 (555) 123-4567", "[REDACTED:phone]"),
                ("1-800-555-0199", "[REDACTED:phone]"),
                ("+44 20 7946 0958", "[REDACTED:phone]"),
                ("+49 30 1234567", "[REDACTED:phone]"),
                ("+33 1 23 45 67 89", "[REDACTED:phone]"),
                ("sms +15551234567.", "sms [REDACTED:phone]."),
            ],
        );
        untouched(&[
            "2024-01-15T10:20:30Z",
            "resourceVersion: 5551234567",
            "v1.33.0",
            "123e4567-e89b-12d3-a456-426614174000",
            "port 8080",
            "+05:30",
            "sha256:5551234567",
            "memory: 536870912",
        ]);
    }

    #[test]
    fn ip_addresses_go_only_when_asked() {
        let text = "node 10.0.0.1 and fe80::1ff:fe23:4567:890a";
        let (out, report) = redacted(false, text);
        assert_eq!(out, text);
        assert!(!report.counts().contains_key("ip-address"), "{report:?}");
        check(
            "ip-address",
            &[
                ("node 10.0.0.1 and fe80::1ff:fe23:4567:890a", "node [REDACTED:ip-address] and [REDACTED:ip-address]"),
                ("192.168.1.254", "[REDACTED:ip-address]"),
                ("2001:db8::1", "[REDACTED:ip-address]"),
                ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[REDACTED:ip-address]"),
                ("listen [::1]:8080", "listen [[REDACTED:ip-address]]:8080"),
                ("::ffff:192.168.1.10", "[REDACTED:ip-address]"),
                ("64:ff9b:0:0:0:0:192.0.2.33", "[REDACTED:ip-address]"),
            ],
        );
        untouched(&[
            "1.33.0",
            "v1.2.3.4",
            "00:1a:2b:3c:4d:5e",
            "12:34:56",
            "999.1.1.1",
            "std::io::Error",
            "sha256:abcd",
        ]);
    }

    #[test]
    fn the_report_counts_by_rule_and_never_holds_a_value() {
        let text = "a@example.com b@example.com 555-123-4567 AKIAIOSFODNN7EXAMPLE";
        let (out, mut report) = redacted(false, text);
        assert_eq!(out, "[REDACTED:email] [REDACTED:email] [REDACTED:phone] [REDACTED:aws-access-key]");
        assert_eq!((report.count("email"), report.count("phone"), report.count("jwt"), report.total()), (2, 1, 0, 4));
        // Every rule that ran is listed, those that found nothing with 0.
        assert_eq!(report.counts().keys().map(String::as_str).collect::<Vec<_>>().len(), 9);
        let again = report.clone();
        report.merge(&again);
        assert_eq!(report.total(), 8);
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["schema"], "genesis.support.redaction.v1");
        assert_eq!(json["total"], 4);
        assert_eq!(json["rules"]["email"], 2);
        assert_eq!(json["rules"]["us-ssn"], 0);
        let said = json.to_string();
        for value in ["a@example.com", "555-123-4567", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!said.contains(value), "{said}");
        }
        assert_eq!(serde_json::to_value(RedactionReport::default()).unwrap()["total"], 0);
    }

    #[test]
    fn json_is_redacted_string_by_string_keys_included() {
        let redactor = Redactor::builtin(false);
        let mut report = RedactionReport::default();
        let value = serde_json::json!({
            "data": {
                "DB_PASSWORD": "hunter2",
                "adminPassword": "postgres://app:s3cr3t@db:5432/app",
                "contact": "jane@example.com",
                "jane@example.com": "a key that is an address",
                "joe@example.com": "another",
                "replicas": 3,
            },
            "env": [{"name": "API_PASSWORD", "value": "x1"}, {"name": "MODE", "value": "fast"}],
            "note": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        });
        let out = redactor.redact_json(value, &mut report);
        assert_eq!(
            out,
            serde_json::json!({
                "data": {
                    "DB_PASSWORD": "[REDACTED:connection-password]",
                    "adminPassword": "postgres://app:[REDACTED:connection-password]@db:5432/app",
                    "contact": "[REDACTED:email]",
                    "[REDACTED:email]": "a key that is an address",
                    "[REDACTED:email]#2": "another",
                    "replicas": 3,
                },
                "env": [{"name": "API_PASSWORD", "value": "[REDACTED:connection-password]"}, {"name": "MODE", "value": "fast"}],
                "note": "[REDACTED:private-key]",
            })
        );
        assert_eq!(
            (report.count("connection-password"), report.count("email"), report.count("private-key")),
            (3, 3, 1)
        );
        assert_eq!(report.total(), 7);
    }

    fn rules_file(yaml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yaml");
        std::fs::write(&path, yaml).unwrap();
        (dir, path)
    }

    #[test]
    fn a_rules_file_adds_rules_that_run_after_the_built_in_ones() {
        let (_dir, path) = rules_file(
            "rules:\n  - name: mrn\n    pattern: 'MRN-\\d{6}'\n  - name: patient-id\n    pattern: 'patient-id: (?P<secret>[0-9]+)'\n",
        );
        let redactor = Redactor::builtin(false).with_rules_file(&path).unwrap();
        assert_eq!(redactor.rule_names()[9..], ["mrn", "patient-id"]);
        let mut report = RedactionReport::default();
        let out = redactor.redact("MRN-123456 and MRN-654321, patient-id: 42, MRN-12345", &mut report);
        assert_eq!(out, "[REDACTED:mrn] and [REDACTED:mrn], patient-id: [REDACTED:patient-id], MRN-12345");
        assert_eq!((report.count("mrn"), report.count("patient-id"), report.total()), (2, 1, 3));

        let (_dir, empty) = rules_file("rules: []\n");
        assert_eq!(Redactor::builtin(false).with_rules_file(&empty).unwrap().rule_names().len(), 9);
    }

    #[test]
    fn a_bad_rules_file_is_refused_naming_the_file_and_the_rule() {
        for (yaml, rule, reason) in [
            ("rules:\n  - name: mrn\n    pattern: 'MRN-(\\d{6}'\n", "mrn", "invalid regular expression"),
            ("rules:\n  - {name: mrn, pattern: 'MRN-1'}\n  - {name: mrn, pattern: 'MRN-2'}\n", "mrn", "given twice"),
            ("rules:\n  - {name: email, pattern: 'x@y'}\n", "email", "built-in rule"),
            ("rules:\n  - {name: ip-address, pattern: '10\\.0'}\n", "ip-address", "built-in rule"),
            ("rules:\n  - {name: anything, pattern: 'x*'}\n", "anything", "empty string"),
            ("rules:\n  - {name: 'my rule', pattern: 'x'}\n", "my rule", "a rule's name"),
            ("rules:\n  - {name: '', pattern: 'x'}\n", "", "a rule's name"),
        ] {
            let (_dir, path) = rules_file(yaml);
            let e = Redactor::builtin(false).with_rules_file(&path).unwrap_err();
            let said = e.to_string();
            assert!(matches!(&e, SupportError::Rule { rule: r, .. } if r == rule), "{yaml}: {said}");
            assert!(said.starts_with(&format!("redaction rules {}: rule {rule:?}: ", path.display())), "{said}");
            assert!(said.contains(reason), "{said}");
        }
        for yaml in ["rules: 3\n", "rules:\n  - {name: a}\n", "rules:\n  - {name: a, pattern: b, extra: c}\n", "[1, 2"]
        {
            let (_dir, path) = rules_file(yaml);
            let said = Redactor::builtin(false).with_rules_file(&path).unwrap_err().to_string();
            assert!(said.starts_with(&format!("redaction rules {}: not a rules file", path.display())), "{said}");
        }
        let missing = std::path::Path::new("/nonexistent/rules.yaml");
        let e = Redactor::builtin(false).with_rules_file(missing).unwrap_err();
        assert!(matches!(e, SupportError::RulesRead { .. }), "{e}");
        assert_eq!(e.to_string(), "redaction rules /nonexistent/rules.yaml: cannot read it");
    }

    #[test]
    fn an_empty_match_is_no_match() {
        let rule = Rule { name: "b".into(), pattern: Regex::new(r"\b").unwrap() };
        assert_eq!(rule.apply("two words"), (None, 0));
    }
}
