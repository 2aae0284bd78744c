//! Bounded answer bodies: no server decides how much memory a client of Genesis spends.

use bytes::Bytes;
use reqwest::Response;

/// Largest error body read from a server (a registry, the portal): its error JSON is a few
/// hundred bytes, and only the start of it is shown.
pub const MAX_ERROR_BODY: usize = 64 << 10;

/// Why [`read_limited`] returned no body.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More bytes arrived, or were announced, than the limit allows.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// Reads a response body of at most `max` bytes, stopping (and failing) as soon as more
/// arrive: every body a network client of Genesis keeps in memory is read through here.
pub async fn read_limited(mut resp: Response, max: usize) -> Result<Bytes, BodyError> {
    let too_large = BodyError::TooLarge { limit: max };
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > max {
            return Err(too_large);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use genesis_testkit::http::{StandIn, respond, runtime, stream_body};

    use super::*;

    /// GETs `url` with a plain-HTTP client and reads the answer through [`read_limited`].
    async fn get(url: String, max: usize) -> Result<Bytes, BodyError> {
        let policy = reqwest::redirect::Policy::none();
        let client = crate::client_builder(Duration::from_secs(30), policy, None).build().unwrap();
        read_limited(client.get(url).send().await?, max).await
    }

    #[test]
    fn a_body_is_read_whole_within_its_limit_and_refused_when_announced_larger() {
        let server = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"0123456789"));
        let runtime = runtime();
        assert_eq!(runtime.block_on(get(server.url(), 10)).unwrap(), Bytes::from_static(b"0123456789"));
        let error = runtime.block_on(get(server.url(), 9)).unwrap_err();
        assert!(matches!(error, BodyError::TooLarge { limit: 9 }), "{error:?}");
        assert_eq!(error.to_string(), "the answer is larger than 9 bytes");
    }

    #[test]
    fn an_endless_body_is_read_up_to_its_limit_and_no_further() {
        const SENT: u64 = 100 << 20;
        let (written, wrote) = std::sync::mpsc::channel();
        let server = StandIn::start(move |_, conn| {
            written.send(stream_body(conn, "200 OK", b' ', SENT)).unwrap();
            Err(std::io::ErrorKind::ConnectionAborted.into())
        });
        let runtime = runtime();
        let error = runtime.block_on(get(server.url(), MAX_ERROR_BODY)).unwrap_err();
        drop(runtime);
        assert!(matches!(error, BodyError::TooLarge { limit: MAX_ERROR_BODY }), "{error:?}");
        let read = wrote.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(read < SENT / 4, "the client took {read} bytes of an endless body");
    }
}
