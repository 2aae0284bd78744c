//! The error type of this crate: a configuration that cannot work (what is wrong, and where
//! the fix goes), a client that could not be set up, and what failed at the store.

use std::path::{Path, PathBuf};

use genesis_types::{Classify, ErrorClass};

use crate::config::ObjectStoreKind;

/// What can go wrong opening or using an object store. The messages name no command-line
/// flag: a binary adds the one that gets past each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjStoreError {
    // ---- a configuration that cannot work
    /// The object store is neither `s3://BUCKET[/PREFIX]` nor `az://CONTAINER[/PREFIX]`.
    #[error(
        "object store `{url}`: expected s3://BUCKET[/PREFIX] or az://CONTAINER[/PREFIX] (an Azure container is 3 \
         to 63 lower-case letters, digits and `-`)"
    )]
    NotABucket {
        /// What was given.
        url: String,
    },
    /// The object store's endpoint is plain HTTP and that was not allowed.
    #[error(
        "{store} endpoint {endpoint} is plain HTTP: artifacts and export packs would cross the network unencrypted; \
         use https://"
    )]
    PlainHttpEndpoint {
        /// The store's API.
        store: ObjectStoreKind,
        /// The endpoint.
        endpoint: String,
    },
    /// The object store's endpoint is not an `https://` (or allowed `http://`) URL.
    #[error("{store} endpoint `{endpoint}`: expected https://HOST[:PORT]")]
    NotAnEndpoint {
        /// The store's API.
        store: ObjectStoreKind,
        /// The endpoint.
        endpoint: String,
    },
    /// No S3 access key id was given.
    #[error(
        "{url} needs credentials: an access key id, and its secret in {variable}; they are never taken from \
         any other variable, a profile or instance metadata"
    )]
    NoAccessKeyId {
        /// The bucket.
        url: String,
        /// The variable the secret is read from.
        variable: &'static str,
    },
    /// The S3 secret access key is not in its variable.
    #[error("{url} needs {variable}, the secret of access key {access_key_id}")]
    NoSecretAccessKey {
        /// The bucket.
        url: String,
        /// The variable it is read from.
        variable: &'static str,
        /// The access key id that was given.
        access_key_id: String,
    },
    /// The object store's endpoint carries user info, a query or a fragment: a credential
    /// would travel, be announced and be logged in it. The message shows the endpoint without
    /// them, and says where the credential belongs.
    #[error("{store} endpoint {endpoint}: {fix}")]
    EndpointExtras {
        /// The store's API.
        store: ObjectStoreKind,
        /// The endpoint, its user info, query and fragment left out.
        endpoint: String,
        /// What to remove, and where a credential goes instead.
        fix: &'static str,
    },
    /// The Azure storage account's name is not one Azure gives: it is written into the
    /// endpoint's host name and into every signature.
    #[error("Azure storage account `{account}`: expected 3 to 24 lower-case letters and digits")]
    BadAzureAccount {
        /// What was given.
        account: String,
    },
    /// No Azure storage account was named.
    #[error("{url} needs the name of its Azure storage account")]
    NoAzureAccount {
        /// The container.
        url: String,
    },
    /// Neither or both of the Azure credentials are in their variables.
    #[error(
        "{url} needs one credential: the access key of storage account {account} in GENESIS_PORTAL_AZURE_ACCESS_KEY, \
         or a SAS token in GENESIS_PORTAL_AZURE_SAS_TOKEN (not both); the portal never takes them from AZURE_* \
         variables, managed identity (instance metadata) or the Azure CLI"
    )]
    NoAzureCredential {
        /// The container.
        url: String,
        /// The storage account.
        account: String,
    },
    /// An Azure credential's variable holds something else.
    #[error("{url}: {variable} does not hold {expected}")]
    BadAzureSecret {
        /// The container.
        url: String,
        /// The variable.
        variable: &'static str,
        /// What it should hold.
        expected: &'static str,
    },

    /// Presigned URLs were asked of a store whose API has none here: only an S3 store hands
    /// them out.
    #[error("{url} is an {store} store: only an S3 store hands out presigned URLs")]
    NotPresignable {
        /// The store.
        url: String,
        /// Its API.
        store: ObjectStoreKind,
    },

    // ---- the client and the store
    /// The object store client could not be set up from the configuration.
    #[error("configuring the {store} object store")]
    Setup {
        /// The store's API.
        store: ObjectStoreKind,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// The object store failed an operation.
    #[error("{action}")]
    Operation {
        /// What was being done, on which object (its address: the store's URL and the key).
        action: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// The request creating the Azure Blob container could not be made or sent.
    #[error("creating the container {container} at {endpoint}")]
    ContainerUnreachable {
        /// The container.
        container: String,
        /// The blob service endpoint.
        endpoint: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Azure Blob service answered the creation of the container with an error.
    #[error("creating the container {container} at {endpoint}: {status} {code}")]
    ContainerRefused {
        /// The container.
        container: String,
        /// The blob service endpoint.
        endpoint: String,
        /// The answer's status.
        status: http::StatusCode,
        /// The answer's `x-ms-error-code`.
        code: String,
    },
    /// A listing found more objects than one is allowed to take.
    #[error("{listing}: more than {most} objects; keep that folder to what is to be read")]
    TooManyObjects {
        /// What was being listed.
        listing: String,
        /// The most a listing takes.
        most: usize,
    },
    /// A read of the bucket was cancelled or its task failed.
    #[error("reading the bucket stopped: {0}")]
    Task(String),
    /// A local file being uploaded could not be read.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ObjStoreError {
    /// Wraps an I/O error with what was being done and on which path.
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ObjStoreError {
        move |source| ObjStoreError::Io { action, path: path.to_owned(), source }
    }

    /// Wraps an object store error with what was being done.
    pub(crate) fn operation(action: String) -> impl FnOnce(object_store::Error) -> ObjStoreError {
        move |source| ObjStoreError::Operation { action, source }
    }
}

/// A configuration that cannot work, or a client that cannot be set up from it, is the
/// caller's input; the object store and the Azure Blob service are remote parties, so their
/// failures are the network's (an object not there is not found); an I/O error says itself.
impl Classify for ObjStoreError {
    fn class(&self) -> ErrorClass {
        use ObjStoreError as E;
        match self {
            E::NotABucket { .. }
            | E::PlainHttpEndpoint { .. }
            | E::NotAnEndpoint { .. }
            | E::NoAccessKeyId { .. }
            | E::NoSecretAccessKey { .. }
            | E::EndpointExtras { .. }
            | E::BadAzureAccount { .. }
            | E::NoAzureAccount { .. }
            | E::NoAzureCredential { .. }
            | E::BadAzureSecret { .. }
            | E::NotPresignable { .. }
            | E::Setup { .. }
            | E::TooManyObjects { .. } => ErrorClass::Input,
            E::Operation { source, .. } => object_store_class(source),
            E::ContainerUnreachable { .. } | E::ContainerRefused { .. } | E::Task(_) => ErrorClass::Network,
            E::Io { source, .. } => source.class(),
        }
    }
}

/// The class of an object store failure: an object not there is not found, anything else the
/// store's (a refusal, an error answer, a connection that failed).
fn object_store_class(e: &object_store::Error) -> ErrorClass {
    match e {
        object_store::Error::NotFound { .. } => ErrorClass::NotFound,
        // object_store's error is non-exhaustive: the rest is the remote store's.
        _ => ErrorClass::Network,
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = ObjStoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_is_input_a_missing_object_not_found_and_the_store_s_failure_the_network_s() {
        let missing = || object_store::Error::NotFound { path: "a".into(), source: "absent".into() };
        let refused = || object_store::Error::Generic { store: "S3", source: "403 Forbidden".into() };
        for (e, class) in [
            (ObjStoreError::NotABucket { url: "gs://x".into() }, ErrorClass::Input),
            (ObjStoreError::Setup { store: ObjectStoreKind::S3, source: refused() }, ErrorClass::Input),
            (ObjStoreError::operation("reading s3://b/k".into())(missing()), ErrorClass::NotFound),
            (ObjStoreError::operation("reading s3://b/k".into())(refused()), ErrorClass::Network),
            (
                ObjStoreError::ContainerRefused {
                    container: "c".into(),
                    endpoint: "https://a.blob.core.windows.net".into(),
                    status: http::StatusCode::FORBIDDEN,
                    code: "AuthorizationFailure".into(),
                },
                ErrorClass::Network,
            ),
            (
                ObjStoreError::io("reading", Path::new("a.tar.zst"))(std::io::ErrorKind::NotFound.into()),
                ErrorClass::NotFound,
            ),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}
