//! The vendor portal, as the gap-host sees it: the HTTP protocol as plain types shared by
//! the client and the reference server (`bins/genesis-portal`), the client `genesis login /
//! releases / pull` use, and offline license files.
//!
//! ```
//! use genesis_portal::protocol::{ArtifactKind, Scope};
//!
//! assert_eq!(ArtifactKind::of("genesis-ops-3.2.10.tar.zst.sha256"), ArtifactKind::Sha256);
//! assert_eq!("export:read".parse::<Scope>(), Ok(Scope::ExportRead));
//! ```

pub mod client;
pub mod license;
pub mod protocol;

pub use client::{Downloaded, PortalClient, PortalError, sha256_file};
pub use license::{Entitlement, License, LicenseError};
