//! Who a bearer token belongs to, and what that user may do, as the API server itself says:
//! a TokenReview (authentication.k8s.io/v1) turns a token into a user, a SubjectAccessReview
//! (authorization.k8s.io/v1) asks whether that user may do one thing. A server that acts for
//! people (the Control Plane console) signs them in and authorises each action this way, with
//! its own credentials only to ask: what it may do itself is never lent to a user who may not.
//!
//! The token goes out in a request body only, never in a URL, and is never logged: the
//! review's answer, which echoes the token back, is parsed here and dropped, so no client log
//! line can carry it.

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::{Api, PostParams};

use crate::{Cluster, KubeError, Result};

/// Where TokenReviews are created (cluster-scoped, create only).
const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// The user a token authenticates as, as the API server named them: what a
/// SubjectAccessReview asks about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    /// The user name (`system:serviceaccount:NS:NAME` for a ServiceAccount).
    pub name: String,
    /// The user's unique id, empty when the authenticator gives none.
    pub uid: String,
    /// The groups the user belongs to.
    pub groups: Vec<String>,
    /// Whatever else the authenticator said about the user (a bound token's pod, a node).
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Asks the API server who `token` belongs to: `Ok(Ok(user))` when it authenticates it,
/// `Ok(Err(reason))` when it does not (expired, revoked, its ServiceAccount deleted, not a
/// token of this cluster), with the API server's own reason when it gives one. `Err` only when
/// the API server could not be asked (unreachable, or these credentials may not create
/// TokenReviews).
pub async fn review_token(cluster: &Cluster, token: &str) -> Result<std::result::Result<UserInfo, String>> {
    let api_error = |source| KubeError::Api { object: "TokenReview".to_owned(), source };
    let request = kube::core::Request::new(TOKEN_REVIEWS)
        .create(&PostParams::default(), token_review_body(token))
        .map_err(|e| api_error(kube::Error::BuildRequest(e)))?;
    // Read as text and parsed here rather than by `Client::request`, which logs an answer it
    // cannot parse: this answer holds the token.
    let text = cluster.client().request_text(request).await.map_err(api_error)?;
    let review: TokenReview = serde_json::from_str(&text).map_err(|e| api_error(kube::Error::SerdeError(e)))?;
    Ok(judge_review(review.status))
}

/// The body of a TokenReview of `token`.
fn token_review_body(token: &str) -> Vec<u8> {
    let review = TokenReview {
        spec: TokenReviewSpec { token: Some(token.to_owned()), audiences: None },
        ..TokenReview::default()
    };
    serde_json::to_vec(&review).expect("a TokenReview is JSON")
}

/// What a TokenReview's status says: the user when it authenticated the token, else why
/// not.
fn judge_review(status: Option<TokenReviewStatus>) -> std::result::Result<UserInfo, String> {
    let status = status.unwrap_or_default();
    let reason = status.error.filter(|e| !e.trim().is_empty());
    match (status.authenticated, status.user) {
        (Some(true), Some(user)) if user.username.as_deref().is_some_and(|n| !n.is_empty()) => Ok(UserInfo {
            name: user.username.unwrap_or_default(),
            uid: user.uid.unwrap_or_default(),
            groups: user.groups.unwrap_or_default(),
            extra: user.extra.unwrap_or_default(),
        }),
        (Some(true), _) => Err("the API server authenticated the token but named no user".to_owned()),
        _ => Err(reason.unwrap_or_else(|| {
            "the token is not valid: expired, revoked, its ServiceAccount deleted, or not a token of this cluster"
                .to_owned()
        })),
    }
}

/// One thing a user may or may not do: a verb on a resource of an API group, in a namespace
/// (none: cluster-scoped, or across all namespaces), on one object or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `get`, `list`, `create`, `update`, `patch`, `delete`, …
    pub verb: String,
    /// The API group, empty for the core group.
    pub group: String,
    /// The resource, plural and lowercase (`configmaps`, `installs`).
    pub resource: String,
    /// The namespace; None for cluster-scoped resources, or all namespaces.
    pub namespace: Option<String>,
    /// One object's name; None for any.
    pub name: Option<String>,
}

impl Access {
    /// `verb resource.group [name] in namespace` (`create installs.console.genesis.dev in
    /// genesis`, `update configmaps genesis-preflight in genesis`, `create namespaces
    /// cluster-wide`), for messages: the words an RBAC rule granting it is written in.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.verb, self.resource);
        if !self.group.is_empty() {
            text.push('.');
            text.push_str(&self.group);
        }
        if let Some(name) = &self.name {
            text.push(' ');
            text.push_str(name);
        }
        match &self.namespace {
            Some(ns) => {
                text.push_str(" in ");
                text.push_str(ns);
            }
            None => text.push_str(" cluster-wide"),
        }
        text
    }
}

/// Whether `user` may do `access`, as a SubjectAccessReview answers: `Err` only when the API
/// server could not answer (unreachable, or these credentials may not create
/// SubjectAccessReviews), never taken for a yes.
pub async fn may(cluster: &Cluster, user: &UserInfo, access: &Access) -> Result<bool> {
    let reviews: Api<SubjectAccessReview> = Api::all(cluster.client().clone());
    let answer = reviews.create(&PostParams::default(), &access_review(user, access)).await.map_err(|source| {
        KubeError::Api { object: format!("SubjectAccessReview of {} for {}", access.describe(), user.name), source }
    })?;
    Ok(answer.status.is_some_and(|status| status.allowed && status.denied != Some(true)))
}

/// The SubjectAccessReview asking whether `user` may do `access`.
fn access_review(user: &UserInfo, access: &Access) -> SubjectAccessReview {
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            uid: Some(user.uid.clone()).filter(|uid| !uid.is_empty()),
            groups: Some(user.groups.clone()),
            extra: Some(user.extra.clone()).filter(|extra| !extra.is_empty()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(access.verb.clone()),
                group: Some(access.group.clone()),
                resource: Some(access.resource.clone()),
                namespace: access.namespace.clone(),
                name: access.name.clone(),
                ..ResourceAttributes::default()
            }),
            non_resource_attributes: None,
        },
        ..SubjectAccessReview::default()
    }
}

/// The resource (plural, lowercase), API group and whether it is namespaced, of `kind` in
/// `api_version` (`group/version`, or `version` for the core group), as the API server's
/// discovery lists it: what a SubjectAccessReview on an object read from a manifest names.
/// Each call asks the API server; a caller judging many objects asks once per kind.
pub async fn resource_of(cluster: &Cluster, api_version: &str, kind: &str) -> Result<(String, String, bool)> {
    let (resource, namespaced) = cluster
        .discover(api_version, kind)
        .await
        .map_err(|source| KubeError::Api { object: format!("{kind} of {api_version}"), source })?;
    Ok((resource.plural, resource.group, namespaced))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::authentication::v1::UserInfo as ReviewedUser;

    use super::*;

    fn access(verb: &str, group: &str, resource: &str, namespace: Option<&str>, name: Option<&str>) -> Access {
        Access {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        }
    }

    fn alice() -> UserInfo {
        UserInfo {
            name: "system:serviceaccount:genesis-users:alice".to_owned(),
            uid: "5f0c".to_owned(),
            groups: vec!["system:serviceaccounts".to_owned(), "system:authenticated".to_owned()],
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn an_access_reads_as_the_rbac_rule_that_grants_it() {
        let install = access("create", "console.genesis.dev", "installs", Some("genesis"), None);
        assert_eq!(install.describe(), "create installs.console.genesis.dev in genesis");
        let config = access("update", "", "configmaps", Some("genesis"), Some("genesis-preflight"));
        assert_eq!(config.describe(), "update configmaps genesis-preflight in genesis");
        let namespaces = access("create", "", "namespaces", None, None);
        assert_eq!(namespaces.describe(), "create namespaces cluster-wide");
    }

    #[test]
    fn the_token_travels_in_the_body_of_a_token_review_only() {
        let token = "eyJhbGciOiJSUzI1NiJ9.secret.part";
        assert!(!TOKEN_REVIEWS.contains(token));
        let body: serde_json::Value = serde_json::from_slice(&token_review_body(token)).unwrap();
        assert_eq!(body["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(body["kind"], "TokenReview");
        assert_eq!(body["spec"]["token"], token);
        assert!(body["spec"].get("audiences").is_none(), "the API server's own audience: {body}");
    }

    #[test]
    fn a_review_names_the_user_only_when_it_authenticated_the_token() {
        let user = ReviewedUser {
            username: Some("system:serviceaccount:genesis-users:alice".to_owned()),
            uid: Some("5f0c".to_owned()),
            groups: Some(vec!["system:serviceaccounts".to_owned(), "system:authenticated".to_owned()]),
            extra: None,
        };
        let status = |authenticated, user: Option<ReviewedUser>, error: Option<&str>| {
            Some(TokenReviewStatus { authenticated, user, error: error.map(str::to_owned), audiences: None })
        };
        assert_eq!(judge_review(status(Some(true), Some(user.clone()), None)), Ok(alice()));
        assert_eq!(
            judge_review(status(Some(false), None, Some("service account genesis-users/alice has been deleted"))),
            Err("service account genesis-users/alice has been deleted".to_owned())
        );
        let unexplained = judge_review(status(None, None, Some("  "))).unwrap_err();
        assert!(unexplained.contains("not valid"), "{unexplained}");
        assert!(judge_review(None).unwrap_err().contains("not valid"));
        assert!(judge_review(status(Some(false), Some(user), None)).is_err(), "a user is no authentication");
        let nameless = ReviewedUser { username: Some(String::new()), ..ReviewedUser::default() };
        assert!(judge_review(status(Some(true), Some(nameless), None)).unwrap_err().contains("no user"));
    }

    #[test]
    fn an_access_review_asks_about_the_user_never_about_whoever_asks() {
        let review = access_review(&alice(), &access("list", "", "configmaps", Some("genesis-system"), None));
        let json = serde_json::to_value(&review).unwrap();
        assert_eq!(json["apiVersion"], "authorization.k8s.io/v1");
        assert_eq!(json["kind"], "SubjectAccessReview");
        let spec = &json["spec"];
        assert_eq!(spec["user"], "system:serviceaccount:genesis-users:alice");
        assert_eq!(spec["uid"], "5f0c");
        assert_eq!(spec["groups"], serde_json::json!(["system:serviceaccounts", "system:authenticated"]));
        assert!(spec.get("extra").is_none(), "{spec}");
        assert_eq!(
            spec["resourceAttributes"],
            serde_json::json!({"verb": "list", "group": "", "resource": "configmaps", "namespace": "genesis-system"})
        );
        let anonymous_uid = UserInfo { uid: String::new(), ..alice() };
        let json =
            serde_json::to_value(access_review(&anonymous_uid, &access("get", "", "pods", None, Some("p")))).unwrap();
        assert!(json["spec"].get("uid").is_none(), "{json}");
        assert_eq!(json["spec"]["resourceAttributes"]["name"], "p");
        assert!(json["spec"]["resourceAttributes"].get("namespace").is_none(), "cluster-scoped: {json}");
    }
}
