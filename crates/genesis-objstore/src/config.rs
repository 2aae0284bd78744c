//! An object store as configured: its URL (API, bucket or container, prefix), how each API is
//! reached, and the checks every part passes before anything is contacted.

use std::fmt;
use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::azure::{AzureAccessKey, AzureAuthorizer, AzureCredential, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::client::{ClientOptions, HttpConnector, HttpRequestBody};
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, StaticCredentialProvider};

use crate::connector::DirectConnector;
use crate::error::{ObjStoreError, Result};
use crate::presign::Presigner;
use crate::storage::ObjectStorage;

/// The variables an S3 secret access key and an optional session token are read from (never
/// a flag: command lines are visible to every local user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretVariables {
    /// The secret access key's.
    pub secret_access_key: &'static str,
    /// The session token's.
    pub session_token: &'static str,
}

impl SecretVariables {
    /// The portal's own: `GENESIS_PORTAL_S3_SECRET_ACCESS_KEY`, `GENESIS_PORTAL_S3_SESSION_TOKEN`.
    pub const PORTAL: SecretVariables = SecretVariables {
        secret_access_key: "GENESIS_PORTAL_S3_SECRET_ACCESS_KEY",
        session_token: "GENESIS_PORTAL_S3_SESSION_TOKEN",
    };
    /// The standard AWS ones, for the command-line tools: `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`.
    pub const AWS: SecretVariables =
        SecretVariables { secret_access_key: "AWS_SECRET_ACCESS_KEY", session_token: "AWS_SESSION_TOKEN" };
}
/// The variable holding an Azure storage account's access key (never a flag).
const AZURE_ACCESS_KEY: &str = "GENESIS_PORTAL_AZURE_ACCESS_KEY";
/// The variable holding an Azure SAS token, the other credential an Azure store takes.
const AZURE_SAS_TOKEN: &str = "GENESIS_PORTAL_AZURE_SAS_TOKEN";

/// The API of an object store, as its URL's scheme names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectStoreKind {
    /// Amazon S3 or an S3-compatible server (`s3://`).
    S3,
    /// Azure Blob Storage (`az://`).
    Azure,
}

impl fmt::Display for ObjectStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectStoreKind::S3 => "S3",
            ObjectStoreKind::Azure => "Azure Blob",
        })
    }
}

/// An object store to keep artifacts in instead of `DATA_DIR/artifacts`, reached with only
/// what is given here (and the secrets in `GENESIS_PORTAL_S3_*` or `GENESIS_PORTAL_AZURE_*`
/// variables). Nothing comes from `AWS_*` or `AZURE_*` variables, instance metadata (managed
/// identity), container, web- or workload-identity credentials, the Azure CLI, or proxy
/// variables: the portal contacts the one endpoint it announces, with the credentials it was
/// given.
#[derive(Debug, Clone)]
pub struct ObjectStoreConfig {
    /// `s3://BUCKET[/PREFIX]` or `az://CONTAINER[/PREFIX]`: the API, the bucket or container,
    /// and the prefix every key is stored under (several portals, or other data, can then
    /// share a bucket).
    pub url: String,
    /// How an `s3://` store is reached.
    pub s3: S3Config,
    /// How an `az://` store is reached.
    pub azure: AzureConfig,
}

/// How an S3-compatible store is reached.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The S3 endpoint (MinIO, Ceph, moto, …); AWS's `https://s3.REGION.amazonaws.com` when
    /// `None`.
    pub endpoint: Option<String>,
    /// The bucket's region.
    pub region: String,
    /// The access key id. The secret access key (and a session token, if any) is read from
    /// the variables `secrets` names, never from an argument: command lines are visible to
    /// every local user.
    pub access_key_id: Option<String>,
    /// Where the secret access key and session token are read.
    pub secrets: SecretVariables,
    /// Allow a plain `http://` endpoint. Requests are still signed, but artifacts and export
    /// packs cross the network unencrypted and unauthenticated: only for a network you trust.
    pub allow_http: bool,
}

/// How an Azure Blob Storage account is reached. Its credential is the account's access key
/// in `GENESIS_PORTAL_AZURE_ACCESS_KEY` or a SAS token in `GENESIS_PORTAL_AZURE_SAS_TOKEN`,
/// never an argument (command lines are visible to every local user) and never managed
/// identity: `object_store` asks the instance metadata endpoint when it is given no
/// credential, and the portal always gives one.
#[derive(Debug, Clone)]
pub struct AzureConfig {
    /// The storage account's name.
    pub account: Option<String>,
    /// The account's blob service endpoint, as a connection string's `BlobEndpoint` names it
    /// (a sovereign cloud's, Azure Stack Hub's, or Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`); `https://ACCOUNT.blob.core.windows.net`
    /// when `None`.
    pub endpoint: Option<String>,
    /// Allow a plain `http://` endpoint. Requests are still signed, but artifacts and export
    /// packs cross the network unencrypted and unauthenticated: only for a network you trust.
    pub allow_http: bool,
}

impl ObjectStoreConfig {
    /// The endpoint the portal contacts, when the configuration names one (an Azure store
    /// names none without its account).
    pub fn endpoint(&self) -> Option<String> {
        match location(&self.url).ok()?.kind {
            ObjectStoreKind::S3 => Some(self.s3.endpoint()),
            ObjectStoreKind::Azure => self.azure.endpoint(),
        }
    }

    /// The store's API, when its URL names one.
    pub fn kind(&self) -> Option<ObjectStoreKind> {
        location(&self.url).ok().map(|location| location.kind)
    }

    /// Seed 002's second client of an S3 store: the one that mints presigned URLs naming
    /// `public_endpoint`, the endpoint clients reach the store by, while [`open`](Self::open)'s
    /// reads and writes go to the configured one. It is built exactly like the data client
    /// (the same checks, `https://` or an allowed `http://`, static credentials, the same
    /// connector) and never sends a request: its endpoint is handed to clients, never
    /// contacted. An Azure store is refused.
    pub fn presigner(&self, public_endpoint: &str) -> Result<Presigner> {
        let Location { kind, name, prefix } = location(&self.url)?;
        if kind != ObjectStoreKind::S3 {
            return Err(ObjStoreError::NotPresignable { url: self.url.clone(), store: kind });
        }
        let s3 = self.s3.open_at(&self.url, name, public_endpoint)?;
        Presigner::new(s3, prefix, &self.url, shown(public_endpoint))
    }

    /// The store, every key under the URL's prefix. Every part of the configuration is
    /// checked first; an S3 store is not contacted before its first operation, an Azure
    /// container is created when missing (with the account's key; a SAS token's container
    /// must exist).
    pub async fn open(&self) -> Result<ObjectStorage> {
        let Location { kind, name, prefix } = location(&self.url)?;
        let store: Arc<dyn ObjectStore> = match kind {
            ObjectStoreKind::S3 => Arc::new(PrefixStore::new(self.s3.open(&self.url, name)?, prefix)),
            ObjectStoreKind::Azure => Arc::new(PrefixStore::new(self.azure.open(&self.url, name).await?, prefix)),
        };
        Ok(ObjectStorage::new(store, &self.url))
    }
}

/// An object store URL taken apart.
struct Location<'a> {
    kind: ObjectStoreKind,
    /// The bucket or container.
    name: &'a str,
    /// Where under it the portal's keys are (empty: at its root).
    prefix: ObjectPath,
}

/// Takes `s3://BUCKET[/PREFIX]` or `az://CONTAINER[/PREFIX]` apart. A container name is
/// checked as Azure names them (lower-case letters, digits, `-`), as it is written into URLs.
fn location(url: &str) -> Result<Location<'_>> {
    let not_a_bucket = || ObjStoreError::NotABucket { url: url.to_owned() };
    let (kind, rest) = if let Some(rest) = url.strip_prefix("s3://") {
        (ObjectStoreKind::S3, rest)
    } else if let Some(rest) = url.strip_prefix("az://") {
        (ObjectStoreKind::Azure, rest)
    } else {
        return Err(not_a_bucket());
    };
    let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_name = match kind {
        ObjectStoreKind::S3 => !name.is_empty(),
        ObjectStoreKind::Azure => {
            (3..=63).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }
    };
    if !valid_name {
        return Err(not_a_bucket());
    }
    let prefix = ObjectPath::parse(prefix).map_err(|_| not_a_bucket())?;
    Ok(Location { kind, name, prefix })
}

/// Refuses an endpoint that is not `https://` (or `http://` when that was allowed), or that
/// carries user info, a query or a fragment: a credential goes in its variable, never in a
/// URL that is announced and logged (object_store would also send a query of its own to the
/// store, beside the credential it was given). A refusal shows the endpoint without them.
fn check_endpoint(store: ObjectStoreKind, endpoint: &str, allow_http: bool) -> Result<()> {
    let visible = shown(endpoint);
    let (scheme, rest) = endpoint.split_once("://").unwrap_or_default();
    match scheme {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(ObjStoreError::PlainHttpEndpoint { store, endpoint: visible }),
        _ => return Err(ObjStoreError::NotAnEndpoint { store, endpoint: visible }),
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let fix = match (rest.chars().find(|c| matches!(c, '?' | '#')), store) {
        (Some('?'), ObjectStoreKind::S3) => {
            "remove the query string (the secret access key belongs in its environment variable, never in a URL)"
        }
        (Some('?'), ObjectStoreKind::Azure) => {
            "remove the query string (a SAS belongs in GENESIS_PORTAL_AZURE_SAS_TOKEN)"
        }
        (Some(_), _) => "remove the fragment",
        (None, ObjectStoreKind::S3) if authority.contains('@') => {
            "remove the user info (the secret access key belongs in its environment variable, never in a URL)"
        }
        (None, ObjectStoreKind::Azure) if authority.contains('@') => {
            "remove the user info (the account's key belongs in GENESIS_PORTAL_AZURE_ACCESS_KEY)"
        }
        (None, _) => return Ok(()),
    };
    Err(ObjStoreError::EndpointExtras { store, endpoint: visible, fix })
}

/// `endpoint` as it may be shown (announced, logged, put in an error): its user info, query
/// and fragment, where a credential could be, left out.
pub fn shown_endpoint(endpoint: &str) -> String {
    shown(endpoint)
}

/// See [`shown_endpoint`].
fn shown(endpoint: &str) -> String {
    let bare = endpoint.split(['?', '#']).next().unwrap_or_default();
    let (scheme, rest) = match bare.split_once("://") {
        Some((scheme, rest)) => (&bare[..scheme.len() + 3], rest),
        None => ("", bare),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}{host}{path}")
}

/// Whether `account` is a storage account name as Azure gives them: 3 to 24 lower-case
/// letters and digits. The default endpoint's host name is made of it, so anything else
/// (`x@evil.com/`) could aim the portal at another host.
fn valid_azure_account(account: &str) -> bool {
    (3..=24).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl S3Config {
    /// The S3 endpoint the portal contacts, as it may be shown (user info, query and fragment,
    /// which opening the store refuses, left out).
    pub fn endpoint(&self) -> String {
        shown(&self.given_endpoint())
    }

    /// The S3 endpoint as given.
    fn given_endpoint(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region))
    }

    /// The bucket `bucket` of the store `url` names.
    fn open(&self, url: &str, bucket: &str) -> Result<AmazonS3> {
        self.open_at(url, bucket, &self.given_endpoint())
    }

    /// The bucket `bucket` of the store `url` names, reached at `endpoint`: the configured
    /// one, or the public one a presigner names. Both clients are built here alike: the same
    /// checks, static credentials and connector.
    fn open_at(&self, url: &str, bucket: &str, endpoint: &str) -> Result<AmazonS3> {
        check_endpoint(ObjectStoreKind::S3, endpoint, self.allow_http)?;
        let access_key_id = self.access_key_id.clone().filter(|id| !id.is_empty()).ok_or_else(|| {
            ObjStoreError::NoAccessKeyId { url: url.to_owned(), variable: self.secrets.secret_access_key }
        })?;
        let secret = env_value(self.secrets.secret_access_key).ok_or_else(|| ObjStoreError::NoSecretAccessKey {
            url: url.to_owned(),
            variable: self.secrets.secret_access_key,
            access_key_id: access_key_id.clone(),
        })?;
        // Static credentials, so object_store never falls back to a provider chain.
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_endpoint(endpoint)
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret)
            .with_http_connector(DirectConnector { allow_http: self.allow_http });
        if let Some(token) = env_value(self.secrets.session_token) {
            builder = builder.with_token(token);
        }
        builder.build().map_err(|source| ObjStoreError::Setup { store: ObjectStoreKind::S3, source })
    }
}

impl AzureConfig {
    /// The blob service endpoint the portal contacts, once a valid account is known, as it
    /// may be shown (user info, query and fragment, which opening the store refuses, left
    /// out).
    pub fn endpoint(&self) -> Option<String> {
        self.given_endpoint().map(|endpoint| shown(&endpoint).trim_end_matches('/').to_owned())
    }

    /// The blob service endpoint as given, else the valid account's.
    fn given_endpoint(&self) -> Option<String> {
        match &self.endpoint {
            Some(endpoint) => Some(endpoint.trim_end_matches('/').to_owned()),
            None => self
                .account()
                .filter(|account| valid_azure_account(account))
                .map(|account| format!("https://{account}.blob.core.windows.net")),
        }
    }

    /// The account and the endpoint of the store `url` names, both checked: a valid account
    /// name, an endpoint to contact as [`check_endpoint`] allows.
    fn checked(&self, url: &str) -> Result<(&str, String)> {
        let account = self.account().ok_or_else(|| ObjStoreError::NoAzureAccount { url: url.to_owned() })?;
        if !valid_azure_account(account) {
            return Err(ObjStoreError::BadAzureAccount { account: account.to_owned() });
        }
        let endpoint = self.given_endpoint().unwrap_or_default();
        check_endpoint(ObjectStoreKind::Azure, &endpoint, self.allow_http)?;
        Ok((account, endpoint))
    }

    /// The account's name, when given.
    fn account(&self) -> Option<&str> {
        self.account.as_deref().filter(|a| !a.is_empty())
    }

    /// The container `container` of the store `url` names, created when the access key is
    /// the credential (a SAS token is a delegation scoped by whoever minted it, usually to a
    /// container that exists: with one, the container must exist).
    async fn open(&self, url: &str, container: &str) -> Result<MicrosoftAzure> {
        let (account, endpoint) = self.checked(url)?;
        let credential = azure_credential(url, account)?;
        let create = matches!(credential, AzureCredential::AccessKey(_));
        // A static credential, so object_store never falls back to managed identity (the
        // instance metadata endpoint), workload identity or the Azure CLI.
        let store = MicrosoftAzureBuilder::new()
            .with_account(account)
            .with_container_name(container)
            .with_endpoint(endpoint.clone())
            .with_credentials(Arc::new(StaticCredentialProvider::new(credential)))
            .with_http_connector(DirectConnector { allow_http: self.allow_http })
            .build()
            .map_err(|source| ObjStoreError::Setup { store: ObjectStoreKind::Azure, source })?;
        if create {
            create_container(&store, &endpoint, account, container, self.allow_http).await?;
        }
        Ok(store)
    }
}

/// The one credential of an Azure store: the access key or the SAS token, from their
/// variables.
fn azure_credential(url: &str, account: &str) -> Result<AzureCredential> {
    let bad = |variable: &'static str, expected: &'static str| ObjStoreError::BadAzureSecret {
        url: url.to_owned(),
        variable,
        expected,
    };
    match (env_value(AZURE_ACCESS_KEY), env_value(AZURE_SAS_TOKEN)) {
        (Some(key), None) => AzureAccessKey::try_new(&key)
            .map(AzureCredential::AccessKey)
            .map_err(|_| bad(AZURE_ACCESS_KEY, "a storage account access key (base64)")),
        (None, Some(sas)) => {
            let pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(sas.trim_start_matches('?').as_bytes()).into_owned().collect();
            if !pairs.iter().any(|(name, _)| name == "sig") {
                return Err(bad(AZURE_SAS_TOKEN, "a SAS token (a query string with a `sig`)"));
            }
            Ok(AzureCredential::SASToken(pairs))
        }
        _ => Err(ObjStoreError::NoAzureCredential { url: url.to_owned(), account: account.to_owned() }),
    }
}

/// Creates the container unless it exists: one `PUT ?restype=container` signed with the
/// store's own credential, to the endpoint announced, through the same connector. `201
/// Created` and `409 ContainerAlreadyExists` both leave it there, so every start may ask.
async fn create_container(
    store: &MicrosoftAzure,
    endpoint: &str,
    account: &str,
    container: &str,
    allow_http: bool,
) -> Result<()> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| ObjStoreError::ContainerUnreachable {
        container: container.to_owned(),
        endpoint: endpoint.to_owned(),
        source,
    };
    let credential = store.credentials().get_credential().await.map_err(|e| failed(e.into()))?;
    let mut request = http::Request::builder()
        .method(http::Method::PUT)
        .uri(format!("{endpoint}/{container}?restype=container"))
        .header(http::header::CONTENT_LENGTH, "0")
        .body(HttpRequestBody::empty())
        .map_err(|e| failed(e.into()))?;
    AzureAuthorizer::new(&credential, account).authorize(&mut request);
    let client = DirectConnector { allow_http }.connect(&ClientOptions::default()).map_err(|e| failed(e.into()))?;
    let response = client.execute(request).await.map_err(|e| failed(e.into()))?;
    let code = response.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match (response.status(), code) {
        (http::StatusCode::CREATED, _) | (http::StatusCode::CONFLICT, "ContainerAlreadyExists") => Ok(()),
        (status, code) => Err(ObjStoreError::ContainerRefused {
            container: container.to_owned(),
            endpoint: endpoint.to_owned(),
            status,
            code: code.to_owned(),
        }),
    }
}

/// A non-empty environment variable.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azure(account: &str, endpoint: Option<&str>) -> AzureConfig {
        AzureConfig { account: Some(account.to_owned()), endpoint: endpoint.map(str::to_owned), allow_http: false }
    }

    /// A SAS (or any secret) put in the endpoint's query, or user info in its authority, is
    /// refused before anything is contacted, and neither the refusal nor the endpoint the
    /// portal announces shows it.
    #[test]
    fn an_endpoint_with_a_query_fragment_or_user_info_is_refused_without_showing_them() {
        let cases = [
            (
                "https://acct.blob.core.windows.net/?sv=2022-11-02&sig=hunter2",
                "remove the query string (a SAS belongs in GENESIS_PORTAL_AZURE_SAS_TOKEN)",
            ),
            ("https://acct.blob.core.windows.net#sig=hunter2", "remove the fragment"),
            ("https://acct:hunter2@acct.blob.core.windows.net", "remove the user info"),
        ];
        for (endpoint, fix) in cases {
            let config = azure("acct", Some(endpoint));
            let announced = config.endpoint().unwrap();
            assert_eq!(announced, "https://acct.blob.core.windows.net", "{endpoint}");
            let e = config.checked("az://genesis-portal").unwrap_err();
            assert!(matches!(e, ObjStoreError::EndpointExtras { store: ObjectStoreKind::Azure, .. }), "{e:?}");
            assert!(e.to_string().contains(fix), "{e}");
            assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
        }
        let e = check_endpoint(ObjectStoreKind::S3, "https://s3.example?X-Amz-Signature=hunter2", false).unwrap_err();
        assert!(e.to_string().contains("remove the query string"), "{e}");
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
        let e = check_endpoint(ObjectStoreKind::S3, "http://key:hunter2@s3.example/?a=hunter2", false).unwrap_err();
        assert!(matches!(e, ObjStoreError::PlainHttpEndpoint { .. }) && !format!("{e:?}").contains("hunter2"), "{e:?}");
        let config = azure("acct", Some("https://acct.blob.core.windows.net/"));
        assert_eq!(
            config.checked("az://genesis-portal").unwrap(),
            ("acct", "https://acct.blob.core.windows.net".into())
        );
    }

    /// An S3 store under `s3://landing/vendor`, its data client on `internal`. Its secret is
    /// read from `PATH`, a variable every test run has (tests cannot set one): URLs are only
    /// signed here, never sent.
    fn s3_store(internal: &str, allow_http: bool) -> ObjectStoreConfig {
        ObjectStoreConfig {
            url: "s3://landing/vendor".into(),
            s3: S3Config {
                endpoint: Some(internal.to_owned()),
                region: "eu-west-1".into(),
                access_key_id: Some("genesis".into()),
                secrets: SecretVariables { secret_access_key: "PATH", session_token: "GENESIS_TEST_NO_SUCH_VARIABLE" },
                allow_http,
            },
            azure: AzureConfig { account: None, endpoint: None, allow_http: false },
        }
    }

    /// Seed 002's dual client: the URL names the public endpoint, never the internal one the
    /// data client uses, and the object under the store's prefix; it expires as asked and
    /// carries a signature, not the secret. The public endpoint passes the same checks as the
    /// internal one, and an Azure store has no presigner.
    #[tokio::test]
    async fn a_presigned_url_names_the_public_endpoint_and_the_key_under_the_prefix() {
        let config = s3_store("http://10.0.0.7:9000", true);
        let presigner = config.presigner("https://files.example.com:8443/").unwrap();
        assert_eq!(presigner.origin(), "https://files.example.com:8443");
        assert_eq!(presigner.endpoint(), "https://files.example.com:8443/");
        let url = presigner
            .presign_get("releases/demo/1.0.0/demo.tar.zst", std::time::Duration::from_secs(900))
            .await
            .unwrap();
        assert_eq!(url.origin().ascii_serialization(), "https://files.example.com:8443");
        assert_eq!(url.path(), "/landing/vendor/releases/demo/1.0.0/demo.tar.zst");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let value = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(value("X-Amz-Expires"), Some("900"));
        assert_eq!(value("X-Amz-SignedHeaders"), Some("host"));
        assert!(value("X-Amz-Credential").is_some_and(|c| c.starts_with("genesis/")), "{url}");
        assert!(value("X-Amz-Signature").is_some_and(|s| s.len() == 64), "{url}");
        let secret = std::env::var("PATH").unwrap();
        assert!(!url.as_str().contains(&secret) && !url.as_str().contains("10.0.0.7"), "{url}");
        assert!(!format!("{presigner:?}").contains(&secret));

        let e = s3_store("https://10.0.0.7:9000", false).presigner("http://files.example.com").unwrap_err();
        assert!(matches!(e, ObjStoreError::PlainHttpEndpoint { store: ObjectStoreKind::S3, .. }), "{e:?}");
        let e = config.presigner("https://files.example.com/?X-Amz-Signature=hunter2").unwrap_err();
        assert!(matches!(e, ObjStoreError::EndpointExtras { .. }) && !e.to_string().contains("hunter2"), "{e:?}");
        let azure = ObjectStoreConfig { url: "az://genesis-portal".into(), ..config.clone() };
        let e = azure.presigner("https://files.example.com").unwrap_err();
        assert!(matches!(e, ObjStoreError::NotPresignable { store: ObjectStoreKind::Azure, .. }), "{e:?}");
        assert_eq!(azure.kind(), Some(ObjectStoreKind::Azure));
    }

    /// The account is written into the default endpoint's host name: one that is not an Azure
    /// account name (3 to 24 lower-case letters and digits) is refused, and no endpoint made
    /// of it is announced.
    #[test]
    fn an_azure_account_that_is_not_an_account_name_is_refused() {
        let long = "a".repeat(25);
        for account in ["x@evil.com/", "evil.com#", "Upper", "ab", long.as_str()] {
            let config = azure(account, None);
            assert_eq!(config.endpoint(), None, "{account}");
            let e = config.checked("az://genesis-portal").unwrap_err();
            assert!(matches!(&e, ObjStoreError::BadAzureAccount { account: a } if a == account), "{e:?}");
            assert!(e.to_string().contains("expected 3 to 24 lower-case letters and digits"), "{e}");
        }
        let valid = azure("devstoreaccount1", None);
        assert_eq!(valid.endpoint().as_deref(), Some("https://devstoreaccount1.blob.core.windows.net"));
        assert!(valid.checked("az://genesis-portal").is_ok());
    }
}
