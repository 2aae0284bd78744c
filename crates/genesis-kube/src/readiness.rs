//! Whether applied workloads and Flux HelmReleases are ready, read from their status the way
//! `kubectl rollout status` and `flux get` read it: the controller must have observed the
//! current generation, and then the replicas (or the Ready condition) must say so.

use std::time::Duration;

use serde_json::Value;

use crate::apply::AppliedObject;
use crate::{Cluster, KubeError, Result};

/// The readiness of one object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    /// `Kind namespace/name`.
    pub object: String,
    /// Whether it is ready.
    pub ready: bool,
    /// What its status says.
    pub detail: String,
}

/// Kinds whose readiness is read.
pub(crate) fn watched(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "HelmRelease")
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// Judges one object from its JSON.
pub fn judge(kind: &str, object: &Value) -> (bool, String) {
    let status = &object["status"];
    let generation = int(&object["metadata"]["generation"]);
    let observed = int(&status["observedGeneration"]);
    if kind != "Job" && observed < generation {
        return (false, format!("generation {generation} not yet observed (observed {observed})"));
    }
    match kind {
        "Deployment" | "StatefulSet" => {
            let want = object["spec"]["replicas"].as_i64().unwrap_or(1);
            let ready = int(&status["readyReplicas"]);
            let updated = int(&status["updatedReplicas"]);
            (ready >= want && updated >= want, format!("{ready}/{want} ready, {updated} updated"))
        }
        "DaemonSet" => {
            let want = int(&status["desiredNumberScheduled"]);
            let ready = int(&status["numberReady"]);
            (ready >= want && want > 0, format!("{ready}/{want} ready"))
        }
        "Job" => match condition(status, "Complete") {
            Some(c) if c["status"] == "True" => (true, "Complete".into()),
            _ => match condition(status, "Failed") {
                Some(c) if c["status"] == "True" => (false, format!("Failed: {}", c["message"].as_str().unwrap_or(""))),
                _ => (false, "running".into()),
            },
        },
        _ => match condition(status, "Ready") {
            Some(c) => (
                c["status"] == "True",
                format!(
                    "Ready={} {}: {}",
                    c["status"].as_str().unwrap_or("?"),
                    c["reason"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                ),
            ),
            None => (false, "no Ready condition yet".into()),
        },
    }
}

/// Polls the workloads and HelmReleases among `applied` until all are ready or `timeout`
/// passes; returns each one's last state.
pub async fn wait_ready(cluster: &Cluster, applied: &[AppliedObject], timeout: Duration) -> Result<Vec<Readiness>> {
    // Discovered once; only the objects are read again on each poll.
    let mut watched_objects = Vec::new();
    for o in applied.iter().filter(|o| watched(&o.kind)) {
        let (resource, namespaced) = cluster
            .discover(&o.api_version, &o.kind)
            .await
            .map_err(|source| KubeError::Api { object: o.display_name(), source })?;
        let namespace = if namespaced { o.namespace.as_deref() } else { None };
        watched_objects.push((o, cluster.dynamic_api(&resource, namespace)));
    }
    let start = tokio::time::Instant::now();
    loop {
        let mut states = Vec::new();
        for (o, api) in &watched_objects {
            let object =
                api.get(&o.name).await.map_err(|source| KubeError::Api { object: o.display_name(), source })?;
            let (ready, detail) = judge(&o.kind, &serde_json::to_value(&object).expect("an object is JSON"));
            states.push(Readiness { object: o.display_name(), ready, detail });
        }
        if states.iter().all(|s| s.ready) || start.elapsed() >= timeout {
            return Ok(states);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_generation_replicas_and_conditions() {
        let deployment = |generation: i64, observed: i64, ready: i64| {
            serde_json::json!({"metadata": {"generation": generation}, "spec": {"replicas": 2},
                "status": {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": ready}})
        };
        assert!(judge("Deployment", &deployment(3, 3, 2)).0);
        assert!(!judge("Deployment", &deployment(3, 2, 2)).0, "an unobserved generation is not ready");
        assert!(!judge("Deployment", &deployment(3, 3, 1)).0);
        let release = |status: &str| {
            serde_json::json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": status, "reason": "R", "message": "m"}]}})
        };
        assert!(judge("HelmRelease", &release("True")).0);
        let (ready, detail) = judge("HelmRelease", &release("False"));
        assert!(!ready && detail == "Ready=False R: m", "{detail}");
        let job =
            serde_json::json!({"status": {"conditions": [{"type": "Failed", "status": "True", "message": "backoff"}]}});
        assert_eq!(judge("Job", &job), (false, "Failed: backoff".to_owned()));
    }
}
