//! The Status tab: what is installed, as the install records in `genesis-system` say it
//! (bundle, version, who signed it, its BOM's digest, when it was applied), and what became of
//! each object a record lists: present or missing, ready or not, and changed by someone else
//! since the install ([`genesis_kube::object_states`], which reads drift from the objects'
//! own managedFields: no copy of what was applied is kept).
//!
//! Seeing the tab takes `get installs.console.genesis.dev` and the user's own right to `list`
//! config maps in `genesis-system`, where the records are. The console reads the records and
//! the objects with its own credentials, but an object only when a SubjectAccessReview says
//! the user may `get` it: one they may not is shown as withheld, and nothing of it is read.
//! The page is read afresh on every visit: nothing of it is kept.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use genesis_kube::{Access, Drift, INSTALL_NAMESPACE, InstallRecord, ObjectState, RecordedSigner};
use genesis_web::html::{Column, count, date, table};
use maud::{Markup, html};

use crate::auth::{Signed, console_access};
use crate::page::{PageError, Tab, page};
use crate::state::Shared;

/// `GET /status`.
pub(crate) fn routes() -> Router<Shared> {
    Router::new().route("/status", get(status))
}

/// The user's right to read the install records, which are config maps in `genesis-system`:
/// what seeing them takes, on this tab and on the support bundle's (which offers the
/// installed bundles' namespaces).
pub(crate) fn install_records_access() -> Access {
    Access {
        verb: "list".to_owned(),
        group: String::new(),
        resource: "configmaps".to_owned(),
        namespace: Some(INSTALL_NAMESPACE.to_owned()),
        name: None,
    }
}

/// `GET /status`: the install records and the state of each of their objects.
async fn status(State(state): State<Shared>, signed: Signed) -> Result<Response, PageError> {
    signed.authorize_all(&state, &[console_access(&state, "get", "installs"), install_records_access()]).await?;
    let records = genesis_kube::read_records(&state.cluster).await?;
    let mut installed = Vec::with_capacity(records.len());
    for record in records {
        let objects = genesis_kube::object_states(&state.cluster, &record, Some(&signed.user)).await?;
        installed.push((record, objects));
    }
    Ok(page(&signed, Tab::Status, "Status", StatusCode::OK, body(&installed)))
}

/// The tab's body: the records' table, then a section per record with its objects.
fn body(installed: &[(InstallRecord, Vec<ObjectState>)]) -> Markup {
    use Column::Text;
    html! {
        h1 { "Status" }
        @if installed.is_empty() {
            p.notice #nothing-installed {
                "Nothing is installed yet: " code { (INSTALL_NAMESPACE) } " holds no install record. Install a \
                 bundle from the " a href="/bundles" { "Bundles tab" } "."
            }
        } @else {
            p {
                "What the install records in " code { (INSTALL_NAMESPACE) } " say is installed, and what became of \
                 each object since. " em { "Changed" } " means a field manager other than the loader wrote the object \
                 after the install, as its " code { "managedFields" } " say (who and when); a status written by a \
                 controller is no change. This page reads the cluster each time it is opened."
            }
            (table(
                "install-records",
                &[Text("Bundle"), Text("Version"), Text("Signed by"), Text("BOM digest"), Text("Applied")],
                html! {
                    @for (i, (record, _)) in installed.iter().enumerate() {
                        tr data-record=(record.name) {
                            th scope="row" { a href={ "#record-" (i + 1) } { (record.name) } }
                            td { (record.version) }
                            td { (signed_by(&record.signers)) }
                            td { code.mono title=(record.bom_digest) { (short_digest(&record.bom_digest)) } }
                            td { (applied(&record.applied_at)) }
                        }
                    }
                },
            ))
            @for (i, (record, objects)) in installed.iter().enumerate() {
                section.record id={ "record-" (i + 1) } data-record=(record.name) {
                    h2 { (record.name) " " (record.version) }
                    p.muted { (summary(objects)) }
                    div.table-wrap {
                        table.data.objects {
                            thead {
                                tr {
                                    th scope="col" { "Object" }
                                    th scope="col" { "Ready" }
                                    th scope="col" { "Since the install" }
                                }
                            }
                            tbody {
                                @for o in objects {
                                    tr data-object=(o.object)
                                        data-ready=[o.ready.map(|ready| if ready { "true" } else { "false" })]
                                        data-drift=(o.drift.as_str()) {
                                        th scope="row" { code.mono { (o.object) } }
                                        td { (readiness(o)) }
                                        td { (drift(o)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Who signed a bundle, as its record keeps them: the vendor, then each countersigner.
fn signed_by(signers: &[RecordedSigner]) -> Markup {
    html! {
        @match signers.split_first() {
            None => span.muted { "not recorded (installed by an earlier version)" },
            Some((vendor, countersigners)) => {
                (vendor.to_string())
                @for countersigner in countersigners {
                    br;
                    "countersigned by " (countersigner.to_string())
                }
            }
        }
    }
}

/// `sha256:` and the first 12 hex digits of a digest, `…` after them: the whole is in the
/// cell's title.
fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) if hex.chars().count() > 12 => {
            format!("{algorithm}:{}…", hex.chars().take(12).collect::<String>())
        }
        _ => digest.to_owned(),
    }
}

/// When a record says it was applied, for people; as written when it is no RFC 3339 time.
fn applied(applied_at: &str) -> String {
    genesis_bundle::parse_rfc3339(applied_at).map_or_else(|| applied_at.to_owned(), when)
}

/// Seconds since the Unix epoch for people, to the minute.
fn when(unix: u64) -> String {
    date(i64::try_from(unix).unwrap_or(i64::MAX))
}

/// A record's objects in one line: how many, how many ready, and any changed, missing,
/// withheld or unknown.
fn summary(objects: &[ObjectState]) -> String {
    let ready = objects.iter().filter(|o| o.ready == Some(true)).count();
    let mut parts = vec![count(objects.len(), "object", "objects"), format!("{ready} ready")];
    for (drift, said) in [
        ("changed", "changed since the install"),
        ("missing", "missing"),
        ("withheld", "withheld"),
        ("unknown", "unknown"),
    ] {
        let n = objects.iter().filter(|o| o.drift.as_str() == drift).count();
        if n > 0 {
            parts.push(format!("{n} {said}"));
        }
    }
    parts.join(", ")
}

/// An object's readiness: a word (never colour alone) and what its status says.
fn readiness(o: &ObjectState) -> Markup {
    html! {
        @match o.ready {
            Some(true) => span.pass { "ready" },
            Some(false) => span.fail { "not ready" },
            None => span.muted { "not read" },
        }
        @if o.ready.is_some() && !o.detail.is_empty() {
            " " span.muted { (o.detail) }
        }
    }
}

/// How an object compares with the install: as installed, changed (by whom, how, when),
/// missing, withheld (which right the user lacks) or unknown (why).
fn drift(o: &ObjectState) -> Markup {
    html! {
        @match &o.drift {
            Drift::None => span.pass { "as installed" },
            Drift::Changed(changes) => {
                span.warn { "changed" }
                @for (i, change) in changes.iter().enumerate() {
                    @if i > 0 { ";" }
                    " by " strong { (change.manager) }
                    @if !change.operation.is_empty() { " (" (change.operation) ")" }
                    " at " (when(change.at))
                }
            },
            Drift::Missing => { span.fail { "missing" } ": " (o.detail) },
            Drift::Withheld => span.muted { "withheld: " (o.detail) },
            Drift::Unknown => { span.degraded { "unknown" } ": " (o.detail) },
        }
    }
}

#[cfg(test)]
mod tests {
    use genesis_kube::Change;

    use super::*;

    fn record(name: &str, signers: serde_json::Value) -> InstallRecord {
        serde_json::from_value(serde_json::json!({
            "name": name, "version": "0.1.0",
            "bomDigest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "appliedAt": "2026-01-01T00:00:00Z", "signers": signers, "objects": [],
        }))
        .unwrap()
    }

    fn state(object: &str, ready: Option<bool>, detail: &str, drift: Drift) -> ObjectState {
        let (kind, rest) = object.split_once(' ').unwrap();
        let (namespace, name) = rest.split_once('/').map_or((None, rest), |(ns, name)| (Some(ns.to_owned()), name));
        ObjectState {
            object: object.to_owned(),
            kind: kind.to_owned(),
            namespace,
            name: name.to_owned(),
            ready,
            detail: detail.to_owned(),
            drift,
        }
    }

    #[test]
    fn each_record_and_each_object_is_a_row_with_its_state() {
        let signers = serde_json::json!([{"kind": "key", "fingerprint": "SHA256:vendor"},
            {"kind": "key", "fingerprint": "SHA256:customer"}]);
        let changed =
            Drift::Changed(vec![Change { manager: "someone".into(), operation: "Update".into(), at: 1_767_225_900 }]);
        let objects = vec![
            state("Namespace demo", Some(true), "present", Drift::None),
            state("Deployment demo/app", Some(false), "0/1 ready, 0 updated", changed),
            state("Service demo/app", Some(false), "not found", Drift::Missing),
            state("Secret demo/<db>", None, "your account may not get Secret in demo", Drift::Withheld),
        ];
        let text = body(&[(record("demo", signers), objects)]).into_string();
        for expected in [
            r#"<table id="install-records">"#,
            r##"<tr data-record="demo"><th scope="row"><a href="#record-1">demo</a></th><td>0.1.0</td>"##,
            "<td>key SHA256:vendor<br>countersigned by key SHA256:customer</td>",
            r#"<code class="mono" title="sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef">sha256:0123456789ab…</code>"#,
            "<td>2026-01-01 00:00 UTC</td>",
            r#"<section class="record" id="record-1" data-record="demo">"#,
            "4 objects, 1 ready, 1 changed since the install, 1 missing, 1 withheld",
            r#"<table class="data objects">"#,
            r#"<tr data-object="Namespace demo" data-ready="true" data-drift="none">"#,
            r#"<tr data-object="Deployment demo/app" data-ready="false" data-drift="changed">"#,
            r#"<span class="warn">changed</span> by <strong>someone</strong> (Update) at 2026-01-01 00:05 UTC"#,
            r#"<tr data-object="Service demo/app" data-ready="false" data-drift="missing">"#,
            r#"<tr data-object="Secret demo/&lt;db&gt;" data-drift="withheld">"#,
            r#"<span class="muted">withheld: your account may not get Secret in demo</span>"#,
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        assert!(!text.contains("nothing-installed") && !text.contains("<db>"), "{text}");
    }

    #[test]
    fn nothing_installed_points_at_the_bundles_tab() {
        let text = body(&[]).into_string();
        assert!(text.contains(r#"<p class="notice" id="nothing-installed">"#), "{text}");
        assert!(text.contains(r#"<a href="/bundles">Bundles tab</a>"#), "{text}");
        assert!(!text.contains("install-records"), "{text}");
    }

    #[test]
    fn a_record_of_an_earlier_version_and_an_odd_time_show_as_they_are() {
        let mut old = record("old", serde_json::json!([]));
        old.applied_at = "yesterday".into();
        old.bom_digest = "sha256:00".into();
        let text = body(&[(old, Vec::new())]).into_string();
        assert!(text.contains("not recorded (installed by an earlier version)"), "{text}");
        assert!(text.contains("<td>yesterday</td>") && text.contains(">sha256:00</code>"), "{text}");
        assert_eq!(short_digest("sha256:ééééééééééééé"), "sha256:éééééééééééé…");
        assert_eq!(install_records_access().describe(), "list configmaps in genesis-system");
    }
}
