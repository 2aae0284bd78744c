//! Certificates for TLS tests, made with rcgen: a CA, leaves for 127.0.0.1 under it (valid,
//! expiring soon, expired), and a second CA that trusts none of them.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

/// PEM files written by [`TlsPki::write`].
pub struct TlsPki {
    /// The CA the leaves chain to.
    pub ca: PathBuf,
    /// A CA unrelated to the leaves.
    pub other_ca: PathBuf,
    /// (certificate, key) valid for a year.
    pub valid: (PathBuf, PathBuf),
    /// (certificate, key) that expires in five days.
    pub expiring: (PathBuf, PathBuf),
    /// (certificate, key) that expired yesterday.
    pub expired: (PathBuf, PathBuf),
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params, key)
}

impl TlsPki {
    /// Writes every certificate and key into `dir`.
    pub fn write(dir: &Path) -> TlsPki {
        let write = |name: &str, pem: String| {
            let p = dir.join(name);
            std::fs::write(&p, pem).unwrap();
            p
        };
        let (ca_params, ca_key) = ca("genesis preflight test CA");
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca_params, ca_key);
        let (other_params, other_key) = ca("an unrelated CA");
        let other_pem = other_params.self_signed(&other_key).unwrap().pem();
        let now = OffsetDateTime::now_utc();
        let leaf = |name: &str, not_before: OffsetDateTime, not_after: OffsetDateTime| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
            params.not_before = not_before;
            params.not_after = not_after;
            let cert = params.signed_by(&key, &issuer).unwrap();
            (write(&format!("{name}.crt"), cert.pem()), write(&format!("{name}.key"), key.serialize_pem()))
        };
        TlsPki {
            ca: write("ca.crt", ca_pem),
            other_ca: write("other-ca.crt", other_pem),
            valid: leaf("valid", now - Duration::days(1), now + Duration::days(365)),
            expiring: leaf("expiring", now - Duration::days(1), now + Duration::days(5)),
            expired: leaf("expired", now - Duration::days(30), now - Duration::days(1)),
        }
    }
}
