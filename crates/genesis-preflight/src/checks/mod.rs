//! The checks, planned from a spec and run one after the other, each bounded by a timeout so
//! a silent server is a FAIL row rather than a hang. A run of every check and a run of one
//! are the same [`Planned::run`]: the console re-runs a row by its id.

mod cluster;
mod disk;
mod network;
mod services;

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
        let mut planned: Vec<Planned> = Vec::with_capacity(what.len());
        for what in what {
            let id = unique_id(what.id(), |id| planned.iter().any(|p| p.id == id));
            planned.push(Planned { id, what });
        }
        planned
    }
}

/// `id`, or, when a check already has it (a name listed twice, one TLS endpoint checked
/// against two CA bundles), `id#2`, `id#3`…: the first keeps the plain id.
fn unique_id(id: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&id) {
        return id;
    }
    let mut n = 2;
    loop {
        let candidate = format!("{id}#{n}");
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
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
            What::Registry(r) => format!("registry {}", r.url),
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
        assert_eq!(unique_id("dns:a".into(), |id| ["dns:a", "dns:a#2"].contains(&id)), "dns:a#3");
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
