//! PHI-like values and secrets planted in a cluster, for the support bundle's tests (`genesis
//! support-bundle` and the console's button): the objects holding them, what the built-in
//! redaction rules must count of them, every value that must be in no byte of an archive,
//! and the checks on an archive (extracted by the real `tar`, decompressed by `zcat`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::text;

/// The namespace the values are planted in.
pub const NS: &str = "emr";
pub const EMAIL: &str = "jane.roe@clinic.example";
pub const EMAIL_2: &str = "ops.lead@hospital.example";
/// In JSON text inside the ConfigMap's data, its local part with a letter beyond ASCII.
pub const EMAIL_3: &str = "dr.müller@klinik.example";
pub const PHONE: &str = "555-867-5309";
pub const PHONE_2: &str = "(555) 010-4477";
pub const PHONE_3: &str = "+1 555 123 9876";
pub const SSN: &str = "078-05-1120";
pub const SSN_2: &str = "219-09-9999";
pub const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwYXRpZW50LTQ3MTEiLCJuYW1lIjoiSmFuZSBSb2UifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
/// The last-applied annotation's secrets: a password, a JWT, binary data.
pub const APPLIED_PASSWORD: &str = "LastApplied-Pw-7731";
pub const APPLIED_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsYXN0LWFwcGxpZWQifQ.TGFzdEFwcGxpZWRTaWduYXR1cmU";
pub const APPLIED_BINARY: &str = "QXBwbGllZEJpbmFyeU1hcmtlcg==";
/// What Helm's config map driver keeps a release as (base64 of gzip of JSON, Secrets included).
pub const HELM_RELEASE: &str = "H4sIAAAAAAAC/helm-release-marker-5f3a";
/// The lines of the planted private key's body: the block goes whole, header to footer.
pub const KEY_BODY: [&str; 2] = [
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDPlantedLineOne",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUPlantedKeyLineTwoXYZabcdefGHIJKLMN",
];
pub const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// Passwords inside connection strings: the ConfigMap's and the Deployment's, and one
/// holding `@` and `:` (the redaction must take it to the last `@`, not leave `ss:w0rd…`).
pub const DB_PASSWORD: &str = "Hunter2Secret";
pub const DB_PASSWORD_2: &str = "Pa55w0rdZebra";
pub const AT_PASSWORD: &str = "p@ss:w0rd@Zebra";
pub const AT_PASSWORD_TAIL: &str = "w0rd@Zebra";
/// Secrets found by the key they are given under: the Deployment's `AWS_SECRET_ACCESS_KEY`
/// and `--db-password` argument, and a password in JSON text in the ConfigMap.
pub const AWS_SECRET: &str = "PlantedAwsSecret/0123456789+abcdefGHIJKL";
pub const ARG_PASSWORD: &str = "argpw1";
pub const EMBEDDED_PASSWORD: &str = "Embedded-Pw-4410";
/// A patient id no built-in rule knows: only a rules file redacts it.
pub const MRN: &str = "MRN-123456";
/// The Secret: its name is listed, its data (as written, and as the API returns it) and its
/// annotation never are.
pub const SECRET_NAME: &str = "emr-db-credentials";
pub const SECRET_MARKER: &str = "secret-marker-4b1d9e";
pub const SECRET_MARKER_BASE64: &str = "c2VjcmV0LW1hcmtlci00YjFkOWU=";
pub const SECRET_ANNOTATION: &str = "secret-annotation-marker-77c2";

/// What the built-in rules must replace, and how many times each: every value above but the
/// MRN, once per place it was planted; none of what is not collected at all (the
/// last-applied annotation, the Helm release, the Secret), which is no redaction.
pub fn planted_counts() -> BTreeMap<String, u64> {
    [
        // EMAIL (ConfigMap), EMAIL_2 (Service annotation), EMAIL_3 (JSON text in the ConfigMap).
        ("email", 3),
        // PHONE (ConfigMap), PHONE_2 (Deployment annotation), PHONE_3 (Event).
        ("phone", 3),
        // SSN (ConfigMap), SSN_2 (Event).
        ("us-ssn", 2),
        // JWT (ConfigMap); APPLIED_JWT is in the annotation, which is not collected.
        ("jwt", 1),
        // The PEM block (ConfigMap, under `tls.key`: found whole, so counted by its shape).
        ("private-key", 1),
        // AWS_KEY (ConfigMap; `AWS_ACCESS_KEY_ID` names an id, no secret).
        ("aws-access-key", 1),
        // DB_PASSWORD (ConfigMap URL), DB_PASSWORD_2 (Deployment env URL), AT_PASSWORD
        // (ConfigMap URL).
        ("connection-password", 3),
        // EMBEDDED_PASSWORD (JSON text, under `password`), AWS_SECRET (env entry named
        // AWS_SECRET_ACCESS_KEY), ARG_PASSWORD (after `--db-password`).
        ("credential", 3),
    ]
    .into_iter()
    .map(|(rule, n)| (rule.to_owned(), n))
    .collect()
}

/// Every planted value that must be in no byte of any archive.
pub fn never_kept() -> Vec<&'static str> {
    let mut values = vec![
        EMAIL,
        EMAIL_2,
        EMAIL_3,
        PHONE,
        PHONE_2,
        PHONE_3,
        SSN,
        SSN_2,
        JWT,
        AWS_KEY,
        DB_PASSWORD,
        DB_PASSWORD_2,
        AT_PASSWORD,
        AT_PASSWORD_TAIL,
        AWS_SECRET,
        ARG_PASSWORD,
        EMBEDDED_PASSWORD,
        APPLIED_PASSWORD,
        APPLIED_JWT,
        APPLIED_BINARY,
        HELM_RELEASE,
        SECRET_MARKER,
        SECRET_MARKER_BASE64,
        SECRET_ANNOTATION,
    ];
    values.extend(KEY_BODY);
    values
}

/// The objects planted in [`NS`].
pub fn planted_objects() -> Vec<Value> {
    let private_key =
        format!("-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----\n", KEY_BODY[0], KEY_BODY[1]);
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "emr-settings", "namespace": NS},
            "data": {
                "contact": format!("Patient contact: {EMAIL}, phone {PHONE}"),
                "intake.properties": format!("patient.ssn={SSN}\nsession.token={JWT}\n"),
                "tls.key": private_key,
                "backup.env": format!("AWS_ACCESS_KEY_ID={AWS_KEY}\n"),
                "database.url": format!("postgres://emr:{DB_PASSWORD}@db.internal:5432/emr"),
                "cache.url": format!("redis://default:{AT_PASSWORD}@redis.internal:6379/0"),
                "settings.json": json!({
                    "db": {"host": "db.internal", "password": EMBEDDED_PASSWORD},
                    "contact": EMAIL_3,
                }).to_string(),
            },
        }),
        // The annotation `kubectl apply` (client-side) writes, set here by hand: the apply
        // below is server-side, which writes none.
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "emr-applied", "namespace": NS,
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "emr-applied", "namespace": NS},
                    "data": {"password": APPLIED_PASSWORD, "token": APPLIED_JWT, "mode": "applied"},
                    "binaryData": {"blob": APPLIED_BINARY},
                }).to_string()},
            },
            "data": {"mode": "applied"},
        }),
        // A release as Helm's config map driver keeps it.
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "sh.helm.release.v1.emr.v1", "namespace": NS,
                "labels": {"owner": "helm", "name": "emr", "status": "deployed", "version": "1"},
            },
            "data": {"release": HELM_RELEASE},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "emr-api", "namespace": NS,
                "annotations": {"clinic.example/on-call": format!("Dr. Roe, {PHONE_2}")},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "emr-api"}},
                "template": {
                    "metadata": {"labels": {"app": "emr-api"}},
                    "spec": {"containers": [{
                        "name": "api",
                        "image": "registry.local:5000/emr/api:1.0",
                        "args": ["--db-password", ARG_PASSWORD],
                        "env": [
                            {"name": "DATABASE_URL", "value": format!("postgresql://svc:{DB_PASSWORD_2}@pg.internal:5432/emr")},
                            {"name": "AWS_SECRET_ACCESS_KEY", "value": AWS_SECRET},
                        ],
                    }]},
                },
            },
        }),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "emr-api", "namespace": NS,
                "annotations": {"clinic.example/escalation": format!("mail {EMAIL_2}")},
            },
            "spec": {"selector": {"app": "emr-api"}, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        }),
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "emr-api.probe-failed", "namespace": NS},
            "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "emr-api", "namespace": NS},
            "reason": "ProbeFailed",
            "type": "Warning",
            "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
            "message": format!("lookup failed for patient {MRN}: callback {PHONE_3}, ssn {SSN_2}"),
        }),
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": NS, "annotations": {"clinic.example/note": SECRET_ANNOTATION}},
            "type": "Opaque",
            "data": {"password": SECRET_MARKER_BASE64},
        }),
    ]
}

/// Every file of `archive` as the real `tar -xzf` extracts it, by path.
pub fn extract(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "tar -xzf {}: {}", archive.display(), text(&out.stderr));
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.path().to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let name = path.strip_prefix(dir.path()).unwrap().to_str().unwrap().to_owned();
                files.insert(name, std::fs::read(path).unwrap());
            }
        }
    }
    files
}

/// The decompressed tar stream, headers and all, as `zcat` gives it.
pub fn decompressed(archive: &Path) -> Vec<u8> {
    let out = Command::new("zcat").arg(archive).output().unwrap();
    assert!(out.status.success(), "zcat {}: {}", archive.display(), text(&out.stderr));
    out.stdout
}

/// How many times `needle` is in `haystack`.
pub fn occurrences(haystack: &[u8], needle: &str) -> u64 {
    haystack.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count() as u64
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    occurrences(haystack, needle) > 0
}

/// Panics naming each of `values` found in any extracted file, in the decompressed stream,
/// or in the compressed bytes.
pub fn assert_absent(archive: &Path, files: &BTreeMap<String, Vec<u8>>, values: &[&str]) {
    let stream = decompressed(archive);
    let raw = std::fs::read(archive).unwrap();
    let mut found = Vec::new();
    for value in values {
        for (name, bytes) in files {
            if contains(bytes, value) {
                found.push(format!("{value:?} in {name}"));
            }
        }
        if contains(&stream, value) || contains(&raw, value) {
            found.push(format!("{value:?} in the archive's bytes"));
        }
    }
    assert!(found.is_empty(), "planted values kept: {found:#?}");
}

/// The counts a redaction report gives, rules that matched nothing left out.
pub fn counts(report: &Value) -> BTreeMap<String, u64> {
    assert_eq!(report["schema"], "genesis.support.redaction.v1", "{report}");
    let counts: BTreeMap<String, u64> = report["rules"]
        .as_object()
        .unwrap_or_else(|| panic!("no rules in {report}"))
        .iter()
        .map(|(rule, n)| (rule.clone(), n.as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(report["total"].as_u64(), Some(counts.values().sum::<u64>()), "{report}");
    counts
}
