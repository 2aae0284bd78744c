//! What of a Kubernetes object is never kept, wherever the object is found: in a list the API
//! server returned, or as JSON text inside a string of another object (an annotation, a
//! config map's value). These parts are not collected; a note of what was there, and how
//! large, takes their place, and nothing is counted as a redaction:
//! - `metadata.managedFields` (says nothing of the object's state, often half its size);
//! - the `kubectl.kubernetes.io/last-applied-configuration` annotation: the whole object as
//!   `kubectl apply` last sent it, a Secret's data included;
//! - a config map's `binaryData`, which no rule can read;
//! - a Secret's `data` and `stringData`;
//! - the data of a config map Helm keeps a release in (`owner: helm` with a `release` key:
//!   base64 of gzip of the chart's values and rendered manifests, Secrets included);
//! - a pod's termination messages (`status.*containerStatuses[].{state,lastState}.terminated.message`),
//!   which `terminationMessagePolicy: FallbackToLogsOnError` fills with the end of the
//!   container's log.

use serde_json::{Map, Value};

/// The annotation `kubectl apply` keeps the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What takes the place of a Secret's data.
const SECRET_DATA: &str = "(not collected: a Secret's data)";

/// What takes the place of a termination message.
const TERMINATION_MESSAGE: &str = "(not collected: a termination message, which may be the end of the container's log)";

/// The lists of a pod's status whose entries may hold a termination message.
const CONTAINER_STATUSES: [&str; 3] = ["containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"];

/// `object` (a Kubernetes object, `kind` and `metadata` at its top) without what is never
/// kept: see the module's documentation.
pub(crate) fn tidy_object(object: &mut Map<String, Value>) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        let applied = metadata.get_mut("annotations").and_then(|a| a.get_mut(LAST_APPLIED));
        if let Some(applied) = applied {
            *applied = Value::String(format!(
                "(not collected: the object as `kubectl apply` last sent it, {} characters)",
                chars(applied)
            ));
        }
    }
    if let Some(binary) = object.get_mut("binaryData").and_then(Value::as_object_mut) {
        for value in binary.values_mut() {
            *value = Value::String(format!("(not collected: {} characters of base64)", chars(value)));
        }
    }
    let kind = object.get("kind").and_then(Value::as_str).map(str::to_owned);
    match kind.as_deref() {
        Some("Secret") => {
            for data in ["data", "stringData"] {
                if let Some(value) = object.get_mut(data) {
                    *value = Value::String(SECRET_DATA.into());
                }
            }
        }
        Some("ConfigMap") if is_helm_release(object) => {
            if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
                for value in data.values_mut() {
                    *value = Value::String(format!(
                        "(not collected: a Helm release (the chart's values and rendered manifests, Secrets included), {} characters)",
                        chars(value)
                    ));
                }
            }
        }
        Some("Pod") => {
            let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) else { return };
            for list in CONTAINER_STATUSES {
                let Some(statuses) = status.get_mut(list).and_then(Value::as_array_mut) else { continue };
                for container in statuses {
                    for state in ["state", "lastState"] {
                        let message = container
                            .get_mut(state)
                            .and_then(|s| s.get_mut("terminated"))
                            .and_then(|t| t.get_mut("message"));
                        if let Some(message) = message {
                            *message = Value::String(TERMINATION_MESSAGE.into());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Every object within `value` (itself included) through [`tidy_object`]: for JSON text found
/// inside a string, which may hold objects at any depth (a `List`, a chart's manifests).
pub(crate) fn tidy_all(value: &mut Value) {
    match value {
        Value::Object(map) => {
            tidy_object(map);
            map.values_mut().for_each(tidy_all);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy_all),
        _ => {}
    }
}

/// Whether a config map is one Helm's `configmap` storage driver keeps a release in.
fn is_helm_release(object: &Map<String, Value>) -> bool {
    let owner = object.get("metadata").and_then(|m| m.get("labels")).and_then(|l| l.get("owner"));
    owner.and_then(Value::as_str).is_some_and(|owner| owner.eq_ignore_ascii_case("helm"))
        && object.get("data").and_then(|d| d.get("release")).is_some()
}

/// How long a value was: the characters of a string, of its JSON text otherwise.
fn chars(value: &Value) -> usize {
    match value {
        Value::String(s) => s.chars().count(),
        other => other.to_string().chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tidied(mut value: Value) -> Value {
        tidy_all(&mut value);
        value
    }

    #[test]
    fn managed_fields_the_last_applied_object_and_binary_data_go() {
        let applied = r#"{"data":{"password":"hunter2"}}"#;
        let value = tidied(json!({
            "kind": "ConfigMap",
            "metadata": {
                "name": "cfg",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {LAST_APPLIED: applied, "note": "kept"},
            },
            "data": {"a": "b"},
            "binaryData": {"blob": "AAAA"},
        }));
        assert_eq!(
            value,
            json!({
                "kind": "ConfigMap",
                "metadata": {
                    "name": "cfg",
                    "annotations": {
                        LAST_APPLIED: "(not collected: the object as `kubectl apply` last sent it, 31 characters)",
                        "note": "kept",
                    },
                },
                "data": {"a": "b"},
                "binaryData": {"blob": "(not collected: 4 characters of base64)"},
            })
        );
    }

    #[test]
    fn a_secrets_data_and_a_helm_release_go_at_any_depth() {
        let value = tidied(json!({"kind": "List", "items": [
            {"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}, "stringData": {"x": "y"}},
            {"kind": "ConfigMap", "metadata": {"name": "sh.helm.release.v1.emr.v1", "labels": {"owner": "helm", "name": "emr"}},
             "data": {"release": "H4sIAAAAAAAC"}},
            {"kind": "ConfigMap", "metadata": {"name": "plain", "labels": {"owner": "team"}}, "data": {"release": "1.2"}},
        ]}));
        assert_eq!(value["items"][0]["data"], SECRET_DATA);
        assert_eq!(value["items"][0]["stringData"], SECRET_DATA);
        assert_eq!(
            value["items"][1]["data"]["release"],
            "(not collected: a Helm release (the chart's values and rendered manifests, Secrets included), 12 characters)"
        );
        assert_eq!(value["items"][2]["data"]["release"], "1.2");
    }

    #[test]
    fn termination_messages_go_and_the_rest_of_the_status_stays() {
        let terminated = |message: &str| json!({"terminated": {"exitCode": 1, "reason": "Error", "message": message}});
        let value = tidied(json!({
            "kind": "Pod",
            "metadata": {"name": "api"},
            "status": {
                "phase": "Running",
                "containerStatuses": [{"name": "api", "state": terminated("jane@example.com crashed"),
                                        "lastState": terminated("password=hunter2")}],
                "initContainerStatuses": [{"name": "init", "state": terminated("log tail")}],
                "ephemeralContainerStatuses": [{"name": "debug", "lastState": terminated("log tail")}],
            },
        }));
        let status = &value["status"];
        for message in [
            &status["containerStatuses"][0]["state"]["terminated"]["message"],
            &status["containerStatuses"][0]["lastState"]["terminated"]["message"],
            &status["initContainerStatuses"][0]["state"]["terminated"]["message"],
            &status["ephemeralContainerStatuses"][0]["lastState"]["terminated"]["message"],
        ] {
            assert_eq!(message, TERMINATION_MESSAGE);
        }
        assert_eq!(status["containerStatuses"][0]["state"]["terminated"]["exitCode"], 1);
        assert_eq!(status["phase"], "Running");
        assert!(!value.to_string().contains("hunter2") && !value.to_string().contains("jane@"));
    }
}
