//! The vendor's admin use cases: organisations, license keys, entitlements, publishing and
//! offline license files. There is no admin HTTP API: each works on the same database and
//! artifact store the server uses, and checks what it is given before opening them.

use std::path::Path;

use genesis_bundle::scratch::atomic_write;
use genesis_portal_client::License;
use genesis_portal_client::license::LICENSE_SCHEMA;
use genesis_portal_client::protocol::{Scope, valid_org_name};
use genesis_trust::PrivateKey;

use crate::config::PortalConfig;
use crate::error::{PortalServerError, Result};
use crate::store::{KeyRecord, Store, key_hash};
use crate::{now, random_hex, when};

pub use crate::publish::{Publication, publish};

/// Seconds in a day, for validity periods given in days.
const DAY: i64 = 86_400;

/// Creates an organisation (lower-case letters, digits and `-`, at most 40).
pub async fn create_org(portal: &PortalConfig, name: &str) -> Result<()> {
    if !valid_org_name(name) {
        return Err(PortalServerError::BadOrgName { org: name.to_owned() });
    }
    portal.open_store().await?.create_org(name, now()).await
}

/// Every organisation, by name.
pub async fn orgs(portal: &PortalConfig) -> Result<Vec<String>> {
    portal.open_store().await?.orgs().await
}

/// A license key just created: shown once, as the portal keeps only its hash.
pub struct NewKey {
    /// The key itself (`sk_<org>_<random>`).
    pub key: String,
    /// What the portal keeps of it.
    pub record: KeyRecord,
}

/// Creates a key of `org` for `scopes` (`releases:read` when empty), valid for
/// `expires_in_days`.
pub async fn create_key(portal: &PortalConfig, org: &str, scopes: &[Scope], expires_in_days: u32) -> Result<NewKey> {
    let store = portal.open_store().await?;
    store.require_org(org).await?;
    let mut scopes = if scopes.is_empty() { vec![Scope::ReleasesRead] } else { scopes.to_vec() };
    scopes.dedup();
    let key = format!("sk_{org}_{}", random_hex(24));
    let record = KeyRecord {
        id: format!("k_{}", random_hex(6)),
        org: org.to_owned(),
        scopes,
        expires: now() + i64::from(expires_in_days) * DAY,
        revoked: None,
    };
    store.insert_key(&record, &key_hash(&key), now()).await?;
    Ok(NewKey { key, record })
}

/// Where a key stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Revoked at this Unix time.
    Revoked(i64),
    /// Expired at this Unix time.
    Expired(i64),
    /// Usable until this Unix time.
    Active(i64),
}

impl KeyRecord {
    /// Where the key stands now.
    pub fn state(&self) -> KeyState {
        match self.revoked {
            Some(revoked) => KeyState::Revoked(revoked),
            None if self.expires <= now() => KeyState::Expired(self.expires),
            None => KeyState::Active(self.expires),
        }
    }
}

/// The keys of `org` (their records, never the keys).
pub async fn keys(portal: &PortalConfig, org: &str) -> Result<Vec<KeyRecord>> {
    let store = portal.open_store().await?;
    store.require_org(org).await?;
    store.keys(org).await
}

/// Revokes the key with id `id`: it is refused from the next request on.
pub async fn revoke_key(portal: &PortalConfig, id: &str) -> Result<()> {
    portal.open_store().await?.revoke_key(id, now()).await
}

/// Entitles `org` to the `versions` (a semver range, e.g. `>=3.2, <4`) of `product`.
pub async fn entitle(portal: &PortalConfig, org: &str, product: &str, versions: &str) -> Result<()> {
    semver::VersionReq::parse(versions)
        .map_err(|source| PortalServerError::NotSemverRange { versions: versions.to_owned(), source })?;
    let store = portal.open_store().await?;
    store.require_org(org).await?;
    store.entitle(org, product, versions).await
}

/// Writes to `out` a license file of `org`'s entitlements, signed with `key` and valid for
/// `valid_days`; returns the license.
pub async fn issue_license(
    portal: &PortalConfig,
    org: &str,
    key: &PrivateKey,
    valid_days: u32,
    out: &Path,
) -> Result<License> {
    let store = portal.open_store().await?;
    store.require_org(org).await?;
    let license = license_for(&store, org, now() + i64::from(valid_days) * DAY).await?;
    // Replaced whole, and never written through a symlink planted at the name.
    atomic_write(out, &license.sign(key)).map_err(PortalServerError::io("writing", out))?;
    Ok(license)
}

/// The license of `org`'s entitlements, issued now and valid until `expires`: what both
/// [`issue_license`] and `GET /v1/license` sign.
pub(crate) async fn license_for(store: &Store, org: &str, expires: i64) -> Result<License> {
    Ok(License {
        schema: LICENSE_SCHEMA.into(),
        license_id: format!("lic_{}", random_hex(8)),
        org: org.to_owned(),
        entitlements: store.entitlements(org).await?,
        issued: when(now()),
        expires: when(expires),
    })
}
