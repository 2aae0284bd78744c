//! The vendor's admin use cases: organisations, license keys, entitlements, publishing,
//! offline license files, and the admins who sign in to the vendor's pages. There is no admin
//! HTTP API: each works on the same database and artifact store the server uses, and checks
//! what it is given before opening them.
//!
//! Every change is recorded in the audit log with who made it. The use cases the vendor's
//! pages share (`*_in`) take the store and that actor (`admin:<name>`); the commands here
//! open the portal and pass `cli:<user>`.

use std::path::Path;

use genesis_bundle::scratch::atomic_write;
use genesis_portal_client::License;
use genesis_portal_client::license::LICENSE_SCHEMA;
use genesis_portal_client::protocol::{Scope, valid_org_name, valid_product_name};
use genesis_trust::PrivateKey;

use crate::config::PortalConfig;
use crate::error::{PortalServerError, Result};
use crate::store::{AdminRecord, KeyRecord, LookupError, Store, action, key_hash};
use crate::{now, random_hex, when};

pub use crate::publish::{Publication, publish};

/// Seconds in a day, for validity periods given in days.
const DAY: i64 = 86_400;

/// The audit log's name for whoever runs an admin command: `cli:<user>` (`$USER`), or
/// `cli:unknown` where the environment names no user.
pub(crate) fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()))
}

/// Creates an organisation (lower-case letters, digits and `-`, at most 40).
pub async fn create_org(portal: &PortalConfig, name: &str) -> Result<()> {
    // Refused before the database is opened.
    check_org_name(name)?;
    create_org_in(&portal.open_store().await?, name, &cli_actor()).await
}

/// Creates an organisation for `actor`.
pub(crate) async fn create_org_in(store: &Store, name: &str, actor: &str) -> Result<()> {
    check_org_name(name)?;
    store.create_org(name, now()).await?;
    store.audit_now(actor, action::ORG_CREATE, Some(name), name).await
}

fn check_org_name(name: &str) -> Result<()> {
    if !valid_org_name(name) {
        return Err(PortalServerError::BadOrgName { org: name.to_owned() });
    }
    Ok(())
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

/// Hex digits of a key's random part kept as its prefix (24 of 192 bits).
const KEY_PREFIX_HEX: usize = 6;

/// Creates a key of `org` for `scopes` (`releases:read` when empty), valid for
/// `expires_in_days`.
pub async fn create_key(portal: &PortalConfig, org: &str, scopes: &[Scope], expires_in_days: u32) -> Result<NewKey> {
    create_key_in(&portal.open_store().await?, org, scopes, expires_in_days, &cli_actor()).await
}

/// Creates a key of `org` for `actor`, as [`create_key`].
pub(crate) async fn create_key_in(
    store: &Store,
    org: &str,
    scopes: &[Scope],
    expires_in_days: u32,
    actor: &str,
) -> Result<NewKey> {
    store.require_org(org).await?;
    let mut scopes = if scopes.is_empty() { vec![Scope::ReleasesRead] } else { scopes.to_vec() };
    scopes.dedup();
    let head = format!("sk_{org}_");
    let key = format!("{head}{}", random_hex(24));
    let record = KeyRecord {
        id: format!("k_{}", random_hex(6)),
        org: org.to_owned(),
        scopes,
        expires: now() + i64::from(expires_in_days) * DAY,
        revoked: None,
        prefix: key.get(..head.len() + KEY_PREFIX_HEX).map(str::to_owned),
    };
    store.insert_key(&record, &key_hash(&key), now()).await?;
    store.audit_now(actor, action::KEY_CREATE, Some(org), &record.id).await?;
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
    revoke_key_in(&portal.open_store().await?, id, &cli_actor()).await?;
    Ok(())
}

/// Revokes the key with id `id` for `actor`; the key as it now stands (its organisation tells
/// the pages where to go back to). Its sessions on the web pages are left for their next
/// request, which checks the key, ends the session and tells the browser why.
pub(crate) async fn revoke_key_in(store: &Store, id: &str, actor: &str) -> Result<KeyRecord> {
    store.revoke_key(id, now()).await?;
    let record = store.key_by_id(id).await?.ok_or_else(|| LookupError::NoActiveKey { id: id.to_owned() })?;
    store.audit_now(actor, action::KEY_REVOKE, Some(&record.org), id).await?;
    Ok(record)
}

/// Entitles `org` to the `versions` (a semver range, e.g. `>=3.2, <4`) of `product`.
pub async fn entitle(portal: &PortalConfig, org: &str, product: &str, versions: &str) -> Result<()> {
    // Refused before the database is opened.
    check_product_name(product)?;
    check_range(versions)?;
    entitle_in(&portal.open_store().await?, org, product, versions, &cli_actor()).await
}

/// Entitles `org` for `actor`, as [`entitle`].
pub(crate) async fn entitle_in(store: &Store, org: &str, product: &str, versions: &str, actor: &str) -> Result<()> {
    check_product_name(product)?;
    check_range(versions)?;
    store.require_org(org).await?;
    store.entitle(org, product, versions).await?;
    store.audit_now(actor, action::ENTITLE, Some(org), &format!("{product} {versions}")).await
}

/// Refuses a product name that is not one plain path segment ([`valid_product_name`]): it
/// names releases in URLs and in the artifact store's keys.
pub(crate) fn check_product_name(product: &str) -> Result<()> {
    if !valid_product_name(product) {
        return Err(PortalServerError::BadProductName { product: product.to_owned() });
    }
    Ok(())
}

fn check_range(versions: &str) -> Result<()> {
    semver::VersionReq::parse(versions)
        .map_err(|source| PortalServerError::NotSemverRange { versions: versions.to_owned(), source })?;
    Ok(())
}

/// An admin just created: the token is shown once, as the portal keeps only its hash.
pub struct NewAdmin {
    /// The token itself (`gat_<random>`), which signs in to the vendor's pages.
    pub token: String,
    /// What the portal keeps of it.
    pub record: AdminRecord,
}

/// The longest admin name: it is shown in every line of the audit log.
const ADMIN_NAME_MAX: usize = 64;

/// Creates an admin named `name` (letters, digits and `.-_@`; the person, as the audit log
/// will name them, so no other admin, even a revoked one, may have it): a token of 192 random
/// bits that signs in to the vendor's pages.
pub async fn create_admin(portal: &PortalConfig, name: &str) -> Result<NewAdmin> {
    let valid = !name.is_empty()
        && name.len() <= ADMIN_NAME_MAX
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_@".contains(&b));
    if !valid {
        return Err(PortalServerError::BadAdminName { name: name.to_owned() });
    }
    let store = portal.open_store().await?;
    let token = format!("gat_{}", random_hex(24));
    let record =
        AdminRecord { id: format!("a_{}", random_hex(6)), name: name.to_owned(), created: now(), revoked: None };
    store.insert_admin(&record, &key_hash(&token)).await?;
    store.audit_now(&cli_actor(), action::ADMIN_CREATE, None, &format!("{} ({name})", record.id)).await?;
    Ok(NewAdmin { token, record })
}

/// Every admin, oldest first (their records, never the tokens).
pub async fn admins(portal: &PortalConfig) -> Result<Vec<AdminRecord>> {
    portal.open_store().await?.admins().await
}

/// Revokes the admin with id `id`: their token is refused, and their sessions end at their
/// next request.
pub async fn revoke_admin(portal: &PortalConfig, id: &str) -> Result<()> {
    let store = portal.open_store().await?;
    store.revoke_admin(id, now()).await?;
    store.audit_now(&cli_actor(), action::ADMIN_REVOKE, None, id).await
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

#[cfg(test)]
mod tests {
    use genesis_portal_client::protocol::Scope;

    use super::{admins, create_admin, create_key_in, create_org_in, entitle, entitle_in, revoke_admin, revoke_key_in};
    use crate::config::PortalConfig;
    use crate::error::PortalServerError;
    use crate::store::{LookupError, key_hash};

    /// The audit log's `(actor, action, org, subject)`, oldest first.
    async fn audited(store: &crate::store::Store) -> Vec<(String, String, Option<String>, String)> {
        let mut log: Vec<_> =
            store.audit_log(100).await.unwrap().into_iter().map(|e| (e.actor, e.action, e.org, e.subject)).collect();
        log.reverse();
        log
    }

    fn line(actor: &str, action: &str, org: Option<&str>, subject: &str) -> (String, String, Option<String>, String) {
        (actor.into(), action.into(), org.map(str::to_owned), subject.into())
    }

    #[tokio::test]
    async fn a_key_is_revoked_once_and_each_change_is_audited_with_its_actor() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let store = portal.open_store().await.unwrap();
        create_org_in(&store, "acme", "admin:alice").await.unwrap();
        let new = create_key_in(&store, "acme", &[Scope::ReleasesRead], 30, "admin:alice").await.unwrap();
        let prefix = new.record.prefix.clone().unwrap();
        assert!(new.key.starts_with(&prefix) && prefix.len() == "sk_acme_".len() + 6, "{prefix}");
        assert_eq!(store.key_by_hash(&key_hash(&new.key)).await.unwrap().unwrap().prefix, Some(prefix));
        let id = new.record.id.clone();

        let revoked = revoke_key_in(&store, &id, "admin:bob").await.unwrap();
        assert_eq!((revoked.org.as_str(), revoked.revoked.is_some()), ("acme", true));
        assert!(matches!(
            revoke_key_in(&store, &id, "admin:bob").await,
            Err(PortalServerError::Lookup(LookupError::NoActiveKey { .. }))
        ));
        assert_eq!(
            audited(&store).await,
            [
                line("admin:alice", "org.create", Some("acme"), "acme"),
                line("admin:alice", "key.create", Some("acme"), &id),
                line("admin:bob", "key.revoke", Some("acme"), &id),
            ]
        );
    }

    #[tokio::test]
    async fn an_admin_s_token_is_kept_as_a_hash_and_is_revoked_once() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let long = "a".repeat(65);
        for bad in ["", "alice smith", "<script>", long.as_str()] {
            assert!(matches!(create_admin(&portal, bad).await, Err(PortalServerError::BadAdminName { .. })), "{bad}");
        }
        let alice = create_admin(&portal, "alice@vendor.example").await.unwrap();
        assert!(alice.token.starts_with("gat_") && alice.token.len() == 4 + 48, "{}", alice.token);
        assert!(alice.record.id.starts_with("a_") && alice.record.id.len() == 2 + 12, "{}", alice.record.id);
        let store = portal.open_store().await.unwrap();
        assert_eq!(store.admin_by_hash(&key_hash(&alice.token)).await.unwrap(), Some(alice.record.clone()));
        assert_eq!(store.admin_by_hash(&key_hash("gat_other")).await.unwrap(), None);

        // The audit log names admins by name: a name is one person's, however many tokens.
        let exists = |e: crate::Result<super::NewAdmin>| match e {
            Err(PortalServerError::AdminExists { name }) => name == "alice@vendor.example",
            _ => false,
        };
        assert!(exists(create_admin(&portal, "alice@vendor.example").await));

        revoke_admin(&portal, &alice.record.id).await.unwrap();
        assert!(exists(create_admin(&portal, "alice@vendor.example").await), "a revoked admin keeps their name");
        let listed = admins(&portal).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].revoked.is_some());
        assert_eq!(store.admin_by_id(&alice.record.id).await.unwrap(), Some(listed[0].clone()));
        assert!(matches!(
            revoke_admin(&portal, &alice.record.id).await,
            Err(PortalServerError::Lookup(LookupError::NoActiveAdmin { .. }))
        ));
        let actions: Vec<String> = audited(&store).await.into_iter().map(|(_, action, _, _)| action).collect();
        assert_eq!(actions, ["admin.create", "admin.revoke"]);
    }

    /// A product names releases in URLs and in the artifact store's keys: an entitlement to
    /// one that is not a plain path segment is refused, from the command and from the pages.
    #[tokio::test]
    async fn an_entitlement_to_a_product_that_is_no_plain_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let store = portal.open_store().await.unwrap();
        create_org_in(&store, "acme", "admin:alice").await.unwrap();
        for product in ["../x", "a/b", "", "Genesis", ".."] {
            let bad = |e: crate::Result<()>| match e {
                Err(PortalServerError::BadProductName { product: given }) => given == product,
                _ => false,
            };
            assert!(bad(entitle(&portal, "acme", product, "*").await), "{product:?}");
            assert!(bad(entitle_in(&store, "acme", product, "*", "admin:alice").await), "{product:?}");
        }
        assert!(store.entitlements("acme").await.unwrap().is_empty());
        entitle_in(&store, "acme", "demo", ">=0.1, <1", "admin:alice").await.unwrap();
        assert_eq!(store.entitlements("acme").await.unwrap().len(), 1);
    }
}
