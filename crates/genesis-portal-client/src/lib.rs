//! The vendor portal, as the gap-host sees it: the HTTP protocol as plain types shared by
//! the client and the reference server (`genesis-portal-server`), the client `genesis login /
//! releases / pull` use, the use cases over it (a release pulled, a bootstrap pack exported,
//! the license file fetched: [`pull`]), the login kept between runs, and offline license files.
//!
//! ```
//! use genesis_portal_client::protocol::{ArtifactKind, Scope};
//!
//! assert_eq!(ArtifactKind::of("genesis-ops-3.2.10.tar.zst.sha256"), ArtifactKind::Sha256);
//! assert_eq!("export:read".parse::<Scope>(), Ok(Scope::ExportRead));
//! ```

pub mod client;
pub mod credentials;
pub mod license;
pub mod protocol;
pub mod pull;

pub use client::{Downloaded, PortalClient, PortalError};
pub use credentials::{CredentialStore, Credentials, PortalSettings};
pub use license::{Entitlement, License, LicenseError};
pub use pull::{ExportedPack, PullProgress, PulledFile, PulledRelease};
