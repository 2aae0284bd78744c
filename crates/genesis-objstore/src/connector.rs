//! The one HTTP client the object stores are given.

use std::time::Duration;

use object_store::client::{ClientOptions, HttpClient, HttpConnector};

/// How long a kept-alive connection may wait idle for its next request. S3-compatible
/// servers of the RustFS class, and proxies before them, close idle connections early to
/// bound what they hold (seed 002); a request sent on a connection the server is closing
/// fails with a reset or a broken pipe, mid multipart upload. reqwest keeps an idle
/// connection 90 s by default: 5 s still reuses one across the requests of an upload or a
/// download, and hands none to a server that has long forgotten it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The object stores' HTTP client. Unlike object_store's default connector it ignores
/// `HTTP(S)_PROXY` and `ALL_PROXY` and follows no redirect (neither the S3 nor the Azure Blob
/// API ever needs one to another host), so requests go to the announced endpoint and nowhere
/// else. It builds the client from its own settings alone (object_store's client options are
/// not consulted), so it is where plain HTTP is allowed or not.
#[derive(Debug)]
pub(crate) struct DirectConnector {
    /// Whether a plain `http://` endpoint may be contacted.
    pub(crate) allow_http: bool,
}

impl HttpConnector for DirectConnector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .no_proxy()
            // A redirect is answered as what it is, an error naming its status.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!self.allow_http)
            .http1_only()
            .connect_timeout(Duration::from_secs(5))
            // A stalled read fails; a long transfer that keeps moving does not.
            .read_timeout(Duration::from_secs(30))
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // Content-Encoding would hide the objects' real lengths (object_store does the same).
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate()
            .build()
            .map_err(|e| object_store::Error::Generic { store: "HTTP client", source: Box::new(e) })?;
        Ok(HttpClient::new(client))
    }
}
