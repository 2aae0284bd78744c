//! Name resolution, TLS chains and the registry's `/v2/`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use genesis_kube::Endpoint;
use genesis_registry::{Credentials, Registry, RegistryOptions};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use x509_cert::der::Decode as _;

use super::{bounded, refused_file};
use crate::Check;
use crate::spec::{RegistryCheck, TlsCheck, redact, registry_address};

/// The name resolves to at least one address (through the system resolver).
pub async fn dns(host: &str) -> Check {
    let name = format!("dns {host}");
    let remedy = "add the name to the internal DNS (or /etc/hosts), or correct it in the file";
    bounded(&name, remedy, async {
        match tokio::net::lookup_host((host, 0)).await {
            Ok(addrs) => {
                let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                if addrs.is_empty() {
                    Check::fail(&name, "no address", remedy)
                } else {
                    Check::pass(&name, format!("resolves to {}", addrs.join(", ")))
                }
            }
            Err(e) => Check::fail(&name, format!("does not resolve: {e}"), remedy),
        }
    })
    .await
}

/// The endpoint's chain verifies against the CA bundle for its host name; WARN when the
/// leaf expires within `warn_days`. With `connect` (its Service's endpoint), the check
/// connects there, and still verifies for the endpoint's host name.
pub async fn tls(t: &TlsCheck, connect: Option<&Endpoint>) -> Check {
    let name = format!("tls {}", t.endpoint);
    let ca = t.ca.display().to_string();
    let remedy = "point tls[].ca at a PEM CA bundle";
    // Looked at before it is read whole: /dev/zero would never end.
    if let Some(problem) = refused_file(&t.ca) {
        return Check::fail(&name, format!("CA bundle {ca}: {problem}"), format!("{remedy}, a file of at most 1 MiB"));
    }
    let roots = match genesis_http::root_store(Some(t.ca.as_path())) {
        Ok(r) => r,
        Err(e) => return Check::fail(&name, format!("CA bundle {ca}: {}", ca_problem(&e)), remedy),
    };
    let host = t.endpoint.rsplit_once(':').map_or(t.endpoint.as_str(), |(h, _)| h).trim_matches(['[', ']']);
    let Ok(server_name) = ServerName::try_from(host.to_owned()) else {
        return Check::fail(
            &name,
            format!("{host:?} is not a host name or address"),
            "write the endpoint as host:port",
        );
    };
    let config = genesis_http::tls_config(roots).expect("ring supports the default protocol versions");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let address = connect.map_or_else(|| t.endpoint.clone(), Endpoint::to_string);
    bounded(&name, "start the endpoint, or correct tls[].endpoint", async {
        let tcp = match TcpStream::connect(&address).await {
            Ok(s) => s,
            Err(e) => {
                return Check::fail(
                    &name,
                    format!("cannot connect: {e}"),
                    "start the endpoint, or correct tls[].endpoint",
                );
            }
        };
        let stream = match connector.connect(server_name, tcp).await {
            Ok(s) => s,
            Err(e) => return handshake_failure(&name, &e.to_string(), &ca),
        };
        let Some(leaf) = stream.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
            return Check::fail(&name, "the server sent no certificate", "configure a certificate on the endpoint");
        };
        let Ok(cert) = x509_cert::Certificate::from_der(leaf.as_ref()) else {
            return Check::fail(&name, "the leaf certificate does not parse", "reissue the certificate");
        };
        let not_after = cert.tbs_certificate.validity.not_after;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let days_left = not_after.to_unix_duration().saturating_sub(now).as_secs() / 86_400;
        let detail = format!("chain verifies against {ca}; leaf valid until {not_after} ({days_left} days)");
        if days_left < u64::from(t.warn_days) {
            Check::warn(&name, detail, format!("renew the certificate: it expires within {} days", t.warn_days))
        } else {
            Check::pass(&name, detail)
        }
    })
    .await
}

/// What is wrong with a CA bundle, without its name (the check's detail names it).
fn ca_problem(e: &genesis_http::TlsError) -> String {
    match e {
        genesis_http::TlsError::CaBundle { source, .. } => source.to_string(),
        genesis_http::TlsError::BadRoot { source, .. } => source.to_string(),
        genesis_http::TlsError::NoRoots { .. } => "no certificate in it".to_owned(),
        other => other.to_string(),
    }
}

/// A failed handshake, with the cause an operator can act on.
fn handshake_failure(name: &str, error: &str, ca: &str) -> Check {
    let (detail, remedy) = if error.contains("Expired") {
        ("the certificate has expired".to_owned(), "renew the endpoint's certificate".to_owned())
    } else if error.contains("UnknownIssuer") || error.contains("BadSignature") {
        (
            format!("the chain does not lead to a CA in {ca}"),
            format!("install a certificate issued under {ca}, or give the right CA bundle"),
        )
    } else if error.contains("NotValidForName") {
        (
            "the certificate is not valid for this host name".to_owned(),
            "reissue it with this name in its SAN".to_owned(),
        )
    } else {
        ("TLS handshake failed".to_owned(), "check the endpoint's TLS configuration".to_owned())
    };
    Check::fail(name, format!("{detail} ({error})"), remedy)
}

/// `GET /v2/` answers 200, after authenticating with the authfile's credentials if asked.
/// With `connect` (its Service's endpoint), the check connects there; the credentials are
/// still those the authfile holds for the URL's host.
pub async fn registry(r: &RegistryCheck, connect: Option<&Endpoint>) -> Check {
    let name = format!("registry {}", redact(&r.url));
    let (plain_http, host) = match registry_address(&r.url) {
        Ok(address) => address,
        Err(problem) => {
            return Check::fail(&name, format!("registry.url {problem}"), "write registry.url as https://host:port");
        }
    };
    // Both files are looked at before either is read whole: /dev/zero would never end.
    let files = [
        (&r.authfile, "authfile", "point registry.authfile at a Docker config.json"),
        (&r.ca, "CA bundle", "point registry.ca at a PEM CA bundle"),
    ];
    for (file, what, remedy) in files {
        let Some(file) = file else { continue };
        if let Some(problem) = refused_file(file) {
            return Check::fail(
                &name,
                format!("{what} {}: {problem}", file.display()),
                format!("{remedy}, a file of at most 1 MiB"),
            );
        }
    }
    let credentials = match &r.authfile {
        Some(f) => match Credentials::from_docker_config(f, host) {
            Ok(c) => c,
            Err(e) => return Check::fail(&name, e.to_string(), "point registry.authfile at a Docker config.json"),
        },
        None => None,
    };
    let authenticated = credentials.is_some();
    let options = RegistryOptions { plain_http, ca_file: r.ca.clone(), credentials, retries: 1 };
    let address = connect.map_or_else(|| host.to_owned(), Endpoint::to_string);
    let client = match Registry::new(&address, &options) {
        Ok(c) => c,
        Err(e) => return Check::fail(&name, e.to_string(), "correct registry.url or registry.ca"),
    };
    let remedy = "start the registry, or correct registry.url";
    bounded(&name, remedy, async {
        match client.ping().await {
            Ok(()) if authenticated => Check::pass(&name, "/v2/ answered 200 with the authfile's credentials"),
            Ok(()) => Check::pass(&name, "/v2/ answered 200"),
            Err(e) if e.to_string().contains("401") => Check::fail(
                &name,
                format!("authentication refused: {e}"),
                "give registry.authfile with credentials this registry accepts",
            ),
            Err(e) => Check::fail(&name, e.to_string(), remedy),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::Status;

    fn tls_with_ca(ca: &Path) -> TlsCheck {
        TlsCheck { endpoint: "127.0.0.1:1".into(), service: None, ca: ca.to_owned(), warn_days: 30 }
    }

    fn registry_with(ca: Option<PathBuf>, authfile: Option<PathBuf>) -> RegistryCheck {
        RegistryCheck { url: "https://127.0.0.1:1".into(), service: None, ca, authfile }
    }

    #[tokio::test]
    async fn a_ca_bundle_that_is_a_device_fails_at_once_without_being_read() {
        // Read whole, /dev/zero would fill the memory: the check must not open it.
        let started = Instant::now();
        let check = tls(&tls_with_ca(Path::new("/dev/zero")), None).await;
        assert_eq!(check.status, Status::Fail, "{check:?}");
        assert_eq!(check.detail, "CA bundle /dev/zero: is a character device, not a regular file");
        assert!(check.remedy.step("").contains("a file of at most 1 MiB"), "{check:?}");
        let check = registry(&registry_with(None, Some("/dev/zero".into())), None).await;
        assert_eq!(check.status, Status::Fail, "{check:?}");
        assert_eq!(check.detail, "authfile /dev/zero: is a character device, not a regular file");
        let check = registry(&registry_with(Some("/dev/zero".into()), None), None).await;
        assert_eq!(check.detail, "CA bundle /dev/zero: is a character device, not a regular file");
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_kernel_file_as_a_ca_bundle_or_authfile_fails_at_once_without_being_read() {
        // A regular file that reports size 0 and reads some 256 GiB: refused for where it is.
        let pagemap = Path::new("/proc/self/pagemap");
        let kernel = "/proc/self/pagemap: is under /proc, whose files report no true size: a check reads none of them";
        let started = Instant::now();
        let check = tls(&tls_with_ca(pagemap), None).await;
        assert_eq!((check.status, check.detail.as_str()), (Status::Fail, format!("CA bundle {kernel}").as_str()));
        assert!(check.remedy.step("").contains("a file of at most 1 MiB"), "{check:?}");
        let check = registry(&registry_with(Some(pagemap.to_owned()), None), None).await;
        assert_eq!((check.status, check.detail), (Status::Fail, format!("CA bundle {kernel}")));
        let check = registry(&registry_with(None, Some(pagemap.to_owned())), None).await;
        assert_eq!((check.status, check.detail), (Status::Fail, format!("authfile {kernel}")));
        // An empty file (a kernel file elsewhere would look the same) is refused as well.
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::File::create(&empty).unwrap();
        let check = tls(&tls_with_ca(&empty), None).await;
        let said = format!("CA bundle {}: is empty, or a kernel file that reports no size", empty.display());
        assert_eq!((check.status, check.detail), (Status::Fail, said));
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_ca_bundle_or_authfile_larger_than_1_mib_or_a_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("ca.pem");
        std::fs::File::create(&big).unwrap().set_len(2 << 20).unwrap();
        let too_big = format!("{}: is 2097152 bytes, more than the 1048576 bytes (1 MiB) a check reads", big.display());
        let check = tls(&tls_with_ca(&big), None).await;
        assert_eq!((check.status, check.detail), (Status::Fail, format!("CA bundle {too_big}")));
        let check = registry(&registry_with(Some(big.clone()), None), None).await;
        assert_eq!((check.status, check.detail), (Status::Fail, format!("CA bundle {too_big}")));
        let check = registry(&registry_with(None, Some(big.clone())), None).await;
        assert_eq!((check.status, check.detail), (Status::Fail, format!("authfile {too_big}")));
        let check = tls(&tls_with_ca(dir.path()), None).await;
        assert_eq!(check.detail, format!("CA bundle {}: is a folder, not a regular file", dir.path().display()));
        // A missing file is left to the reader, which says so as before.
        let check = tls(&tls_with_ca(&dir.path().join("missing.pem")), None).await;
        assert!(check.detail.contains("No such file"), "{check:?}");
    }
}
