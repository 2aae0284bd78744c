//! The checks, planned from a spec and run one after the other, each bounded by a timeout so
//! a silent server is a FAIL row rather than a hang. A run of every check and a run of one
//! are the same [`Planned::run`]: the console re-runs a row by its id.

mod cluster;
mod disk;
mod network;
mod services;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use genesis_kube::Endpoint;

use crate::spec::{DiskCheck, RegistryCheck, TlsCheck, UrlCheck};
use crate::{Check, PreflightSpec, Resolver, ServiceRef, Status, Unresolved};

/// How long one check may take; resolving its Service, if it names one, has as long again.
const TIMEOUT: Duration = Duration::from_secs(5);

/// One check a spec asks for, not yet run.
#[derive(Debug, Clone)]
pub struct Planned {
    id: String,
    what: What,
}

/// What a [`Planned`] check checks.
#[derive(Debug, Clone)]
enum What {
    Postgres(UrlCheck),
    Redis(UrlCheck),
    CertManager,
    Dns(String),
    Tls(TlsCheck),
    Registry(RegistryCheck),
    Disk(DiskCheck),
}

impl PreflightSpec {
    /// Every check the spec names, in the order [`run`] runs them: PostgreSQL, Redis,
    /// cert-manager, each DNS name, each TLS endpoint, the registry, the disk.
    pub fn plan(&self) -> Vec<Planned> {
        let mut what = Vec::new();
        what.extend(self.postgres.clone().map(What::Postgres));
        what.extend(self.redis.clone().map(What::Redis));
        if self.kubernetes.as_ref().is_some_and(|k| k.cert_manager) {
            what.push(What::CertManager);
        }
        what.extend(self.dns.iter().cloned().map(What::Dns));
        what.extend(self.tls.iter().cloned().map(What::Tls));
        what.extend(self.registry.clone().map(What::Registry));
        what.extend(self.disk.clone().map(What::Disk));
        let mut ids = Ids::default();
        what.into_iter().map(|what| Planned { id: ids.unique(what.id()), what }).collect()
    }

    /// How many checks [`PreflightSpec::plan`] plans, without planning them.
    pub(crate) fn checks_named(&self) -> usize {
        usize::from(self.postgres.is_some())
            + usize::from(self.redis.is_some())
            + usize::from(self.kubernetes.as_ref().is_some_and(|k| k.cert_manager))
            + self.dns.len()
            + self.tls.len()
            + usize::from(self.registry.is_some())
            + usize::from(self.disk.is_some())
    }
}

/// The ids handed out so far, each once: an id, or, when a check already has it (a name
/// listed twice, one TLS endpoint checked against two CA bundles), `id#2`, `id#3`…, the first
/// keeping the plain id. Linear in the checks planned: the next number to try is kept per
/// id, and a number is passed over only for an id a check already has (a name written
/// `db#2`), which happens once per such id.
#[derive(Default)]
struct Ids {
    taken: HashSet<String>,
    next: HashMap<String, u32>,
}

impl Ids {
    fn unique(&mut self, id: String) -> String {
        if !self.taken.contains(&id) {
            self.taken.insert(id.clone());
            return id;
        }
        let n = self.next.entry(id.clone()).or_insert(2);
        loop {
            let candidate = format!("{id}#{n}");
            *n += 1;
            if !self.taken.contains(&candidate) {
                self.taken.insert(candidate.clone());
                return candidate;
            }
        }
    }
}

impl What {
    fn id(&self) -> String {
        match self {
            What::Postgres(_) => "postgres".to_owned(),
            What::Redis(_) => "redis".to_owned(),
            What::CertManager => "cert-manager".to_owned(),
            What::Dns(name) => format!("dns:{name}"),
            What::Tls(t) => format!("tls:{}", t.endpoint),
            What::Registry(_) => "registry".to_owned(),
            What::Disk(_) => "disk".to_owned(),
        }
    }

    fn service(&self) -> Option<&ServiceRef> {
        match self {
            What::Postgres(u) | What::Redis(u) => u.service.as_ref(),
            What::Tls(t) => t.service.as_ref(),
            What::Registry(r) => r.service.as_ref(),
            What::CertManager | What::Dns(_) | What::Disk(_) => None,
        }
    }

    /// The check's name when it could not run: what it would have checked.
    fn label(&self) -> String {
        match self {
            What::Postgres(_) => "postgres".to_owned(),
            What::Redis(_) => "redis".to_owned(),
            What::CertManager => "kubernetes cert-manager".to_owned(),
            What::Dns(name) => format!("dns {name}"),
            What::Tls(t) => format!("tls {}", t.endpoint),
            What::Registry(r) => format!("registry {}", crate::spec::redact(&r.url)),
            What::Disk(d) => format!("disk {}", d.path.display()),
        }
    }
}

impl Planned {
    /// Stays the same between runs of one spec: `postgres`, `redis`, `cert-manager`,
    /// `dns:NAME`, `tls:ENDPOINT`, `registry`, `disk` (`#2`… appended to a repeated one).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Service whose endpoint the check connects to, when the spec names one.
    pub fn service(&self) -> Option<&ServiceRef> {
        self.what.service()
    }

    /// Runs this check (cluster checks with `kubeconfig`, else `KUBECONFIG`, else the
    /// in-cluster service account), first resolving its Service through `resolver` when it
    /// names one: a reference that does not resolve within the timeout is a
    /// [`Status::Degraded`] row; a check that fails against a resolved endpoint tells the
    /// resolver to [`Resolver::forget`] it.
    pub async fn run(&self, kubeconfig: Option<&Path>, resolver: &impl Resolver) -> Check {
        let (endpoint, service) = match self.service() {
            None => (None, None),
            Some(service) => match locate(service, resolver).await {
                Ok(endpoint) => (Some(endpoint), Some(service)),
                Err(unresolved) => return self.degraded(service, unresolved),
            },
        };
        let mut check = match &self.what {
            What::Postgres(p) => services::postgres(&with_endpoint(&p.url, endpoint.as_ref())).await,
            What::Redis(r) => services::redis(&with_endpoint(&r.url, endpoint.as_ref())).await,
            What::CertManager => cluster::cert_manager(kubeconfig).await,
            What::Dns(name) => network::dns(name).await,
            What::Tls(t) => network::tls(t, endpoint.as_ref()).await,
            What::Registry(r) => network::registry(r, endpoint.as_ref()).await,
            What::Disk(d) => disk::free_space(d),
        };
        check.id.clone_from(&self.id);
        if let Some(service) = service {
            check.name = format!("{} (Service {service})", check.name);
            if check.status == Status::Fail {
                resolver.forget(service);
            }
        }
        check
    }

    /// The row of a check whose Service did not resolve.
    fn degraded(&self, service: &ServiceRef, unresolved: Unresolved) -> Check {
        let mut check = Check::new(
            format!("{} (Service {service})", self.what.label()),
            Status::Degraded,
            format!("not checked, where it runs is unknown: {}", unresolved.reason),
            unresolved.remedy,
        );
        check.id.clone_from(&self.id);
        check
    }
}

/// Where `service` is, within [`TIMEOUT`]; announced (under [`genesis_types::EGRESS_TARGET`])
/// before any check contacts it, since no file names that address.
async fn locate(service: &ServiceRef, resolver: &impl Resolver) -> Result<Endpoint, Unresolved> {
    let endpoint = match tokio::time::timeout(TIMEOUT, resolver.resolve(service)).await {
        Ok(resolved) => resolved?,
        Err(_) => {
            return Err(Unresolved {
                reason: format!("no answer about Service {service} within {} s", TIMEOUT.as_secs()),
                remedy: "check that the API server answers".into(),
            });
        }
    };
    tracing::warn!(
        target: genesis_types::EGRESS_TARGET,
        endpoint = %endpoint,
        "contacting {endpoint}, the endpoint of Service {service}"
    );
    Ok(endpoint)
}

/// `url` with its host and port replaced by `endpoint`'s (user, password, path and query
/// kept), or `url` itself without an endpoint. The host is what follows the last `@` (as
/// the Redis check reads a URL, so a password holding `/` stays whole) up to the path; a
/// URL without `://` is left for its check to refuse in its own words.
fn with_endpoint(url: &str, endpoint: Option<&Endpoint>) -> String {
    let (Some(endpoint), Some(scheme_end)) = (endpoint, url.find("://")) else {
        return url.to_owned();
    };
    let authority = scheme_end + 3;
    let host = url[authority..].rfind('@').map_or(authority, |at| authority + at + 1);
    let end = url[host..].find(['/', '?', '#']).map_or(url.len(), |i| host + i);
    format!("{}{endpoint}{}", &url[..host], &url[end..])
}

/// Runs every check the spec names ([`PreflightSpec::plan`]), one after the other.
pub async fn run(spec: &PreflightSpec, kubeconfig: Option<&Path>, resolver: &impl Resolver) -> Vec<Check> {
    let mut checks = Vec::new();
    for planned in spec.plan() {
        checks.push(planned.run(kubeconfig, resolver).await);
    }
    checks
}

/// Largest file a check reads whole: a CA bundle (the system's whole store is some 200 KiB)
/// or a Docker `config.json`.
const MAX_FILE: u64 = 1 << 20;

/// Why the file at `path` may not be handed on to a reader that reads it whole, outside
/// the check's timeout, if it may not: it must be a regular file ([`not_regular`]) outside
/// the kernel's file systems ([`in_kernel_fs`]), of at least one byte and at most
/// [`MAX_FILE`]. A file of size 0 may be a kernel file anywhere (a bind mount of `/proc`),
/// which reports no size whatever it reads. Looked at with `stat` and the path's links
/// resolved, which opens nothing; a file `stat` cannot see is left for the reader to say why
/// it cannot read it, as it always has.
fn refused_file(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    not_regular(&meta).or_else(|| in_kernel_fs(path)).or_else(|| match meta.len() {
        0 => Some("is empty, or a kernel file that reports no size".to_owned()),
        size if size > MAX_FILE => {
            Some(format!("is {size} bytes, more than the {MAX_FILE} bytes (1 MiB) a check reads"))
        }
        _ => None,
    })
}

/// Where the kernel's file systems are mounted. Their files report a size unrelated to what
/// they read: `/proc/self/pagemap` is a regular file of size 0 that reads some 256 GiB.
const KERNEL_FILE_SYSTEMS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why `path` is refused for where it leads, if it is: under one of [`KERNEL_FILE_SYSTEMS`],
/// once its symbolic links are followed (a link elsewhere leads there as well).
fn in_kernel_fs(path: &Path) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let mount = KERNEL_FILE_SYSTEMS.into_iter().find(|mount| real.starts_with(mount))?;
    Some(format!("is under {mount}, whose files report no true size: a check reads none of them"))
}

/// Why a file (as `stat` saw it, following symbolic links as a mounted Secret's files are)
/// is not a regular one, if it is not: a device such as `/dev/zero` never ends, and opening
/// a FIFO waits for a writer.
fn not_regular(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something else"
    };
    Some(format!("is {what}, not a regular file"))
}

/// `work`, or a FAIL row named `name` when it does not finish within [`TIMEOUT`].
async fn bounded(name: &str, remedy: &str, work: impl Future<Output = Check>) -> Check {
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(check) => check,
        Err(_) => Check::fail(name, format!("no answer within {} s", TIMEOUT.as_secs()), remedy),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::Remedy;

    /// A resolver of fixed answers that notes what it was asked to forget.
    #[derive(Default)]
    struct Fixed {
        answers: BTreeMap<String, Endpoint>,
        forgotten: Mutex<Vec<String>>,
    }

    impl Resolver for Fixed {
        async fn resolve(&self, service: &ServiceRef) -> Result<Endpoint, Unresolved> {
            self.answers.get(&service.to_string()).cloned().ok_or_else(|| Unresolved {
                reason: format!("Service {}/{}: no such Service", service.namespace, service.name),
                remedy: "create it".into(),
            })
        }

        fn forget(&self, service: &ServiceRef) {
            self.forgotten.lock().unwrap().push(service.to_string());
        }
    }

    fn spec(yaml: &str) -> PreflightSpec {
        PreflightSpec::parse(yaml).unwrap()
    }

    fn ids(spec: &PreflightSpec) -> Vec<String> {
        spec.plan().iter().map(|p| p.id().to_owned()).collect()
    }

    #[test]
    fn every_check_has_an_id_that_a_second_plan_of_the_spec_gives_again() {
        let text = "disk: { path: /var/lib/genesis, bundle: b.tar.zst }\n\
             registry: { url: \"https://registry.internal:5000\" }\n\
             tls:\n\
             - { endpoint: \"gateway.internal:443\", ca: ca.pem }\n\
             - { endpoint: \"gateway.internal:443\", ca: other.pem }\n\
             dns: [ db.internal, cache.internal, db.internal ]\n\
             kubernetes: { certManager: true }\n\
             redis: { url: \"redis://cache.internal:6379\" }\n\
             postgres: { url: \"postgres://genesis@db.internal/genesis\" }\n";
        let expected = [
            "postgres",
            "redis",
            "cert-manager",
            "dns:db.internal",
            "dns:cache.internal",
            "dns:db.internal#2",
            "tls:gateway.internal:443",
            "tls:gateway.internal:443#2",
            "registry",
            "disk",
        ];
        assert_eq!(ids(&spec(text)), expected);
        assert_eq!(ids(&spec(text)), ids(&spec(text)), "the configuration read again");
        assert_eq!(ids(&spec("kubernetes: { certManager: false }\n")), Vec::<String>::new());
        let mut ids = Ids::default();
        let handed: Vec<String> =
            ["dns:a", "dns:a#2", "dns:a", "dns:a", "dns:a#2"].map(|id| ids.unique(id.into())).into();
        assert_eq!(handed, ["dns:a", "dns:a#2", "dns:a#3", "dns:a#4", "dns:a#2#2"], "a name written a#2 keeps it");
    }

    #[test]
    fn ten_thousand_repeated_names_are_planned_in_linear_time() {
        // More than a file may name (MAX_CHECKS): a spec made in code is planned all the same.
        let spec = PreflightSpec { dns: vec!["db.internal".to_owned(); 10_000], ..PreflightSpec::default() };
        let started = std::time::Instant::now();
        let planned = spec.plan();
        // One id at a time looked up among those taken, each time from 2, was cubic: hours.
        assert!(started.elapsed() < Duration::from_secs(2), "planned in {:?}", started.elapsed());
        assert_eq!(planned.len(), 10_000);
        assert_eq!(planned[0].id(), "dns:db.internal");
        assert_eq!(planned[9_999].id(), "dns:db.internal#10000");
        let distinct: HashSet<&str> = planned.iter().map(Planned::id).collect();
        assert_eq!(distinct.len(), 10_000);
        assert_eq!(spec.checks_named(), 10_000);
    }

    #[test]
    fn a_resolved_endpoint_replaces_the_url_s_host_and_port_only() {
        let at = |host: &str, port| Endpoint { host: host.into(), port };
        let ep = at("10.96.0.12", 15432);
        let replaced = |url| with_endpoint(url, Some(&ep));
        assert_eq!(
            replaced("postgres://genesis:pw@db/genesis?sslmode=disable"),
            "postgres://genesis:pw@10.96.0.12:15432/genesis?sslmode=disable"
        );
        assert_eq!(replaced("postgres://genesis@/genesis"), "postgres://genesis@10.96.0.12:15432/genesis");
        assert_eq!(replaced("redis://:p/ss@cache:6379"), "redis://:p/ss@10.96.0.12:15432");
        assert_eq!(replaced("redis://cache.internal"), "redis://10.96.0.12:15432");
        assert_eq!(replaced("https://registry.internal:5000/"), "https://10.96.0.12:15432/");
        assert_eq!(with_endpoint("redis://[::1]:6379", Some(&at("fd00::1", 6379))), "redis://[fd00::1]:6379");
        assert_eq!(replaced("cache:6379"), "cache:6379", "no scheme: the check refuses it");
        assert_eq!(with_endpoint("redis://cache:6379", None), "redis://cache:6379");
    }

    #[tokio::test]
    async fn an_unresolved_service_is_a_degraded_row_and_the_check_does_not_run() {
        let spec = spec("redis: { url: \"redis://:secret@cache\", service: \"data/redis:resp\" }\n");
        let [planned] = spec.plan().try_into().unwrap();
        assert_eq!(planned.service().map(ToString::to_string).as_deref(), Some("data/redis:resp"));
        let check = planned.run(None, &Fixed::default()).await;
        assert_eq!(check.id, "redis");
        assert_eq!(check.status, Status::Degraded);
        assert_eq!(check.name, "redis (Service data/redis:resp)");
        assert_eq!(check.detail, "not checked, where it runs is unknown: Service data/redis: no such Service");
        assert_eq!(check.remedy, Remedy::Step("create it".into()));
    }

    #[tokio::test]
    async fn no_check_shows_a_password_in_its_name_or_detail() {
        // A port nothing listens on: each check fails at once, naming what it tried.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = |url: String| Some(UrlCheck { url, service: None });
        // Made in code: a key=value string and user-info in registry.url are refused at parse.
        let specs = [
            PreflightSpec {
                postgres: url(format!("postgres://genesis@127.0.0.1:{port}/genesis?password=s3cret")),
                redis: url(format!("redis://s3cret@127.0.0.1:{port}?password=s3cret")),
                registry: Some(RegistryCheck {
                    url: format!("https://genesis:s3cret@127.0.0.1:{port}"),
                    service: None,
                    ca: None,
                    authfile: None,
                }),
                ..PreflightSpec::default()
            },
            PreflightSpec {
                postgres: url(format!("host=127.0.0.1 port={port} user=genesis password=s3cret")),
                ..PreflightSpec::default()
            },
        ];
        let mut names = Vec::new();
        for spec in &specs {
            for check in run(spec, None, &Fixed::default()).await {
                assert_eq!(check.status, Status::Fail, "{check:?}");
                assert!(!check.name.contains("s3cret") && !check.detail.contains("s3cret"), "{check:?}");
                names.push(check.name);
            }
        }
        assert_eq!(
            names,
            [
                format!("postgres postgres://genesis@127.0.0.1:{port}/genesis"),
                format!("redis redis://@127.0.0.1:{port}"),
                format!("registry https://genesis@127.0.0.1:{port}"),
                "postgres (not a URL)".to_owned(),
            ]
        );
    }

    #[test]
    fn a_kernel_file_or_an_empty_one_is_refused_before_it_is_read() {
        let kernel = "is under /proc, whose files report no true size: a check reads none of them";
        // A regular file that says it is empty and reads some 256 GiB.
        assert_eq!(refused_file(Path::new("/proc/self/pagemap")).as_deref(), Some(kernel));
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("ca.pem");
        std::os::unix::fs::symlink("/proc/self/pagemap", &link).unwrap();
        assert_eq!(refused_file(&link).as_deref(), Some(kernel), "a link there leads there");
        let empty = dir.path().join("empty.pem");
        std::fs::File::create(&empty).unwrap();
        assert_eq!(refused_file(&empty).as_deref(), Some("is empty, or a kernel file that reports no size"));
        let one_byte = dir.path().join("one.pem");
        std::fs::write(&one_byte, "-").unwrap();
        assert_eq!(refused_file(&one_byte), None);
        // A device is said to be one, wherever it is.
        assert_eq!(refused_file(Path::new("/dev/null")).as_deref(), Some("is a character device, not a regular file"));
        assert_eq!(refused_file(&dir.path().join("missing.pem")), None, "left for the reader to say");
    }

    #[tokio::test]
    async fn a_check_that_fails_against_a_resolved_endpoint_has_it_forgotten() {
        // A port nothing listens on: the check fails to connect.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let resolver = Fixed {
            answers: BTreeMap::from([("data/redis:resp".to_owned(), Endpoint { host: "127.0.0.1".into(), port })]),
            ..Fixed::default()
        };
        let spec = spec("redis: { url: \"redis://:secret@cache\", service: \"data/redis:resp\" }\n");
        let check = run(&spec, None, &resolver).await.remove(0);
        assert_eq!(check.status, Status::Fail, "{check:?}");
        assert_eq!(check.name, format!("redis redis://@127.0.0.1:{port} (Service data/redis:resp)"));
        assert!(!check.name.contains("secret"), "{check:?}");
        assert_eq!(*resolver.forgotten.lock().unwrap(), ["data/redis:resp"]);
    }
}
