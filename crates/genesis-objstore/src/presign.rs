//! Presigned URLs, seed 002's dual client: the store's reads and writes go to the endpoint the
//! portal reaches it by (the internal one, `clusterIP:9000`), while a URL handed to a client
//! must name the endpoint the client reaches it by (the external one), or it is unusable. So
//! URLs are minted by a second client of the same bucket, configured exactly like the first
//! but for its endpoint: [`ObjectStoreConfig::presigner`](crate::ObjectStoreConfig::presigner).
//! Minting is local (an HMAC over the request with the static credential): that client never
//! sends a request, and its endpoint is never contacted by whoever mints.

use std::fmt;
use std::time::Duration;

use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer as _;
use url::Url;

use crate::config::ObjectStoreKind;
use crate::error::{ObjStoreError, Result};

/// Mints presigned `GET` URLs of the objects of an S3 store, every key under its prefix, on
/// the store's public endpoint. It holds a client of that endpoint that only signs: nothing is
/// ever sent to it from here.
pub struct Presigner {
    /// The bucket as reached at the public endpoint: only its signer is used.
    s3: AmazonS3,
    /// The store's prefix, which the data client's keys are under too.
    prefix: ObjectPath,
    /// The store's URL (`s3://BUCKET[/PREFIX]`), for errors.
    url: String,
    /// The public endpoint, as it may be shown.
    endpoint: String,
    /// Its origin, `scheme://host[:port]`.
    origin: String,
}

/// The endpoint only: the client's own `Debug` could show the credential it holds.
impl fmt::Debug for Presigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presigner").field("url", &self.url).field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl Presigner {
    /// The presigner of `url`'s objects under `prefix`, through `s3`, the bucket at the
    /// public `endpoint` (as shown). An endpoint without a host (it has no origin a client
    /// could check) is refused.
    pub(crate) fn new(s3: AmazonS3, prefix: ObjectPath, url: &str, endpoint: String) -> Result<Presigner> {
        let origin = Url::parse(&endpoint)
            .ok()
            .filter(Url::has_host)
            .map(|parsed| parsed.origin().ascii_serialization())
            .ok_or_else(|| ObjStoreError::NotAnEndpoint { store: ObjectStoreKind::S3, endpoint: endpoint.clone() })?;
        Ok(Presigner { s3, prefix, url: url.trim_end_matches('/').to_owned(), endpoint, origin })
    }

    /// The public endpoint the URLs name, as it may be shown (announced, logged): handed to
    /// clients, never contacted by whoever mints.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The public endpoint's origin, `scheme://host[:port]` (the port left out when it is the
    /// scheme's): what a client checks a presigned URL against.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A URL that lets whoever holds it `GET` the object `key` (its bytes, or a `Range` of
    /// them) for `expires`, without credentials of their own: AWS Signature Version 4 in the
    /// query string, over the public endpoint's host. Made here, without any request.
    pub async fn presign_get(&self, key: &str, expires: Duration) -> Result<Url> {
        // As the data client's `PrefixStore` puts `key` under the prefix.
        let path: ObjectPath = self.prefix.parts().chain(ObjectPath::from(key).parts()).collect();
        self.s3
            .signed_url(http::Method::GET, &path, expires)
            .await
            .map_err(ObjStoreError::operation(format!("presigning a download of {}/{key}", self.url)))
    }
}
