//! How Genesis speaks TLS and HTTP as a client, decided in one place: the roots a client
//! trusts (a CA bundle alone, or the system's), the one rustls provider (`ring`, installed
//! once as the process default reqwest needs), reqwest clients with our timeouts, no proxy
//! from the environment and a bounded redirect policy, the user agent, and [`read_limited`],
//! through which every answer a client keeps in memory is read. The registry client, the
//! portal client and preflight's TLS check build on it, and the servers build their TLS
//! configuration with the same [`provider`]. It is small on purpose: a crate that needs a
//! TLS client links rustls and reqwest through here, not the registry.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! let home: reqwest::Url = "https://portal.example".parse()?;
//! let tls = genesis_http::root_store(None).and_then(genesis_http::tls_config)?;
//! // Redirects within the home origin are followed; one elsewhere is answered as it is.
//! let redirects = genesis_http::redirects(home.clone(), 10, |attempt| attempt.stop());
//! let client = genesis_http::client_builder(Duration::from_secs(60), redirects, Some(tls)).build()?;
//! let answer = client.get(home.join("/v1/whoami")?).send().await?;
//! let whoami = genesis_http::read_limited(answer, 4 << 20).await?;
//! # Ok(())
//! # }
//! ```

mod body;
mod client;
mod tls;

pub use body::{BodyError, MAX_ERROR_BODY, read_limited};
pub use client::{USER_AGENT, client_builder, redirects};
pub use tls::{TlsError, provider, root_store, tls_config};
