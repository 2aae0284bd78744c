//! The gap-host's login, kept between runs: the portal's URL, the license key, how to reach
//! the portal (a private CA file, plain HTTP), and the origins the portal declared it may send
//! downloads to (its object store's public endpoint), in `credentials.json`, readable by the
//! user alone. A key is stored only once the portal accepted it, so a typo or a revoked key
//! is never kept; what a login remembers for one portal never carries over to another.
//!
//! One entry point per command: [`CredentialStore::login`] (`genesis login`),
//! [`CredentialStore::load`] (every command that contacts the portal), and
//! [`CredentialStore::remove`] (`genesis logout`).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use genesis_bundle::scratch::{Mode, atomic_write_with_mode};
use serde::{Deserialize, Serialize};

use crate::client::{PortalClient, PortalError, io};
use crate::protocol::{WhoAmI, looks_like_key};

type Result<T, E = PortalError> = std::result::Result<T, E>;

/// The file a login is kept in, inside the config directory.
const FILE_NAME: &str = "credentials.json";

/// How to reach a portal: what a login remembers beside the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSettings {
    /// The portal (`https://…`).
    pub url: String,
    /// Trust only this CA bundle for the portal's TLS (a private CA), not the system roots.
    pub ca_file: Option<PathBuf>,
    /// Allow plain `http://` to a portal that is not on loopback.
    pub plain_http: bool,
}

/// A portal and a license key for it.
#[derive(Clone)]
pub struct Credentials {
    portal: PortalSettings,
    key: String,
    /// The origins the portal declared at login that it may send downloads to
    /// ([`WhoAmI::download_origins`]).
    download_origins: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Credentials").field("portal", &self.portal).finish_non_exhaustive()
    }
}

impl Credentials {
    /// `key` for `portal`. What does not have the shape of a license key
    /// (`sk_<organisation>_<random>`) is refused here, before anything is contacted.
    pub fn new(portal: PortalSettings, key: &str) -> Result<Credentials> {
        if !looks_like_key(key) {
            return Err(PortalError::Invalid(
                "that is not a license key: keys look like sk_<organisation>_<random> (from your vendor)".into(),
            ));
        }
        Ok(Credentials { portal, key: key.to_owned(), download_origins: Vec::new() })
    }

    /// A client of the portal, with the key, following downloads to the origins the portal
    /// declared at login and no others.
    pub fn client(&self) -> Result<PortalClient> {
        let client =
            PortalClient::new(&self.portal.url, &self.key, self.portal.ca_file.as_deref(), self.portal.plain_http)?;
        Ok(client.with_download_origins(&self.download_origins))
    }

    /// The origins the portal declared at login that it may send downloads to.
    pub fn download_origins(&self) -> &[String] {
        &self.download_origins
    }
}

/// `credentials.json` as it is written (the format earlier versions wrote too).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsFile {
    portal: String,
    key: String,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    plain_http: bool,
    /// Left out when the portal declared none (and by earlier versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    download_origins: Vec<String>,
}

/// Where the login is kept: `credentials.json` in a config directory.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    dir: PathBuf,
    path: PathBuf,
}

impl CredentialStore {
    /// The store in `$GENESIS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/genesis`, else
    /// `~/.config/genesis`.
    pub fn from_env() -> Result<CredentialStore> {
        if let Some(dir) = std::env::var_os("GENESIS_CONFIG_DIR") {
            return Ok(CredentialStore::in_dir(PathBuf::from(dir)));
        }
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            return Ok(CredentialStore::in_dir(PathBuf::from(dir).join("genesis")));
        }
        let home =
            std::env::var_os("HOME").ok_or_else(|| PortalError::Invalid("no HOME: set GENESIS_CONFIG_DIR".into()))?;
        Ok(CredentialStore::in_dir(PathBuf::from(home).join(".config/genesis")))
    }

    /// The store in `dir`.
    pub fn in_dir(dir: PathBuf) -> CredentialStore {
        CredentialStore { path: dir.join(FILE_NAME), dir }
    }

    /// The credentials file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored login; [`PortalError::NotLoggedIn`] when there is none.
    pub fn load(&self) -> Result<Credentials> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PortalError::NotLoggedIn { path: self.path.clone() });
            }
            Err(e) => return Err(io("reading", &self.path)(e)),
        };
        let file: CredentialsFile = serde_json::from_slice(&text)
            .map_err(|source| PortalError::DamagedCredentials { path: self.path.clone(), source })?;
        let portal = PortalSettings { url: file.portal, ca_file: file.ca_file, plain_http: file.plain_http };
        Ok(Credentials { portal, key: file.key, download_origins: file.download_origins })
    }

    /// How a new login reaches its portal: `url` when given, else the portal of the last login.
    /// The last login's CA file and plain-HTTP permission carry over to the same portal only (a
    /// trailing `/` aside), under what is given now: another portal starts from the secure
    /// defaults. `None` when no portal is given or remembered.
    pub fn login_settings(
        &self,
        url: Option<&str>,
        ca_file: Option<PathBuf>,
        plain_http: bool,
    ) -> Option<PortalSettings> {
        let previous = self.load().ok().map(|c| c.portal).filter(|p| url.is_none_or(|url| same_portal(url, &p.url)));
        let url = url.map(str::to_owned).or_else(|| previous.as_ref().map(|p| p.url.clone()))?;
        Some(PortalSettings {
            url,
            ca_file: ca_file.or_else(|| previous.as_ref().and_then(|p| p.ca_file.clone())),
            plain_http: plain_http || previous.is_some_and(|p| p.plain_http),
        })
    }

    /// `genesis login`: asks the portal who the key belongs to, through `client` (the
    /// credentials' own, from [`Credentials::client`]), and stores the credentials only once
    /// it answered, with the origins it declared it may send downloads to (those of this
    /// answer: a new login is how a client learns of new ones).
    pub async fn login(&self, credentials: &Credentials, client: &PortalClient) -> Result<WhoAmI> {
        let me = client.whoami().await?;
        let credentials = Credentials { download_origins: me.download_origins.clone(), ..credentials.clone() };
        self.save(&credentials)?;
        Ok(me)
    }

    /// `genesis logout`: forgets the stored login, contacting nothing; whether there was one.
    pub fn remove(&self) -> Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("removing", &self.path)(e)),
        }
    }

    /// Writes the credentials readable by the user alone (0600 in a 0700 directory),
    /// atomically.
    fn save(&self, credentials: &Credentials) -> Result<()> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io("restricting", dir))?;
        let file = CredentialsFile {
            portal: credentials.portal.url.clone(),
            key: credentials.key.clone(),
            ca_file: credentials.portal.ca_file.clone(),
            plain_http: credentials.portal.plain_http,
            download_origins: credentials.download_origins.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).expect("credentials are JSON");
        atomic_write_with_mode(&self.path, &json, Mode::Exactly(0o600)).map_err(io("writing", &self.path))
    }
}

/// Whether two portal URLs name the same portal (a trailing `/` aside).
fn same_portal(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    const KEY: &str = "sk_acme_0123456789abcdef0123456789abcdef";

    fn settings(url: &str) -> PortalSettings {
        PortalSettings { url: url.into(), ca_file: None, plain_http: false }
    }

    #[test]
    fn a_login_is_kept_for_the_user_alone_read_back_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::in_dir(dir.path().join("genesis"));
        assert!(matches!(store.load(), Err(PortalError::NotLoggedIn { .. })));
        let portal = PortalSettings { ca_file: Some("ca.pem".into()), ..settings("https://portal.example") };
        store.save(&Credentials::new(portal.clone(), KEY).unwrap()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(store.path()), mode(&dir.path().join("genesis"))), (0o600, 0o700));
        let loaded = store.load().unwrap();
        assert_eq!((loaded.portal, loaded.key.as_str()), (portal, KEY));
        assert!(!format!("{:?}", store.load().unwrap()).contains(KEY), "Debug never shows the key");
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap(), "nothing left to forget");
    }

    /// The origins a portal declared at login are kept with the key and given to its client;
    /// a file without them (an earlier version's) reads as declaring none.
    #[test]
    fn the_download_origins_declared_at_login_are_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::in_dir(dir.path().to_owned());
        let origins = vec!["https://portal.example".to_owned(), "https://files.example:9000".to_owned()];
        let credentials = Credentials {
            download_origins: origins.clone(),
            ..Credentials::new(settings("https://portal.example"), KEY).unwrap()
        };
        store.save(&credentials).unwrap();
        assert_eq!(store.load().unwrap().download_origins(), origins.as_slice());
        let earlier = format!(r#"{{"portal": "https://portal.example", "key": "{KEY}"}}"#);
        std::fs::write(store.path(), earlier).unwrap();
        assert!(store.load().unwrap().download_origins().is_empty());
    }

    #[test]
    fn what_a_login_remembers_carries_over_to_the_same_portal_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::in_dir(dir.path().to_owned());
        assert_eq!(store.login_settings(None, None, false), None, "no portal given or remembered");
        let remembered =
            PortalSettings { ca_file: Some("ca.pem".into()), plain_http: true, ..settings("https://a.example/") };
        store.save(&Credentials::new(remembered.clone(), KEY).unwrap()).unwrap();
        assert_eq!(store.login_settings(None, None, false), Some(remembered.clone()));
        let same = store.login_settings(Some("https://a.example"), None, false).unwrap();
        assert_eq!((same.ca_file, same.plain_http), (remembered.ca_file, true));
        assert_eq!(store.login_settings(Some("https://b.example"), None, false), Some(settings("https://b.example")));
    }

    #[test]
    fn what_is_not_shaped_like_a_key_is_refused() {
        let refused = Credentials::new(settings("https://a.example"), "hello").unwrap_err();
        assert!(refused.to_string().contains("not a license key"), "{refused}");
    }
}
