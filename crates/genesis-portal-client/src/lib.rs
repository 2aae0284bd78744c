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

/// A size for people, in binary units to one decimal: `812 B`, `1.4 MiB`, `3.0 GiB`. What
/// `genesis releases / pull` print and the portal's pages show.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_in_binary_units_to_one_decimal() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(human_size(u64::MAX), "16777216.0 TiB");
    }
}
