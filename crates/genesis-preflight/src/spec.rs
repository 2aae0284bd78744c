//! The preflight file: what to check, each part optional.
//!
//! ```yaml
//! postgres: { url: "postgres://genesis@db.internal:5432/genesis" }
//! redis:    { url: "redis://cache.internal:6379" }
//! kubernetes: { certManager: true }
//! dns:      [ db.internal, cache.internal ]
//! tls:      [ { endpoint: "gateway.internal:443", ca: ca.pem, warnDays: 30 } ]
//! registry: { url: "https://registry.internal:5000", ca: ca.pem, authfile: auth.json }
//! disk:     { path: /var/lib/genesis, bundle: genesis-platform-3.2.10.tar.zst }
//! ```
//!
//! A dependency running in the cluster may be named by its Service instead of a fixed
//! address (seed 002, "Service discovery"): `service: NAMESPACE/SERVICE:PORT-NAME` on
//! `postgres`, `redis`, `registry` or a `tls` entry. The check then asks the API server where
//! that Service's port named PORT-NAME is (its ClusterIP, its ExternalName, or
//! `SERVICE.NAMESPACE.svc` when headless) and connects there: the host and port of `url` are
//! replaced (the user, password, database and scheme are kept: write any host, e.g.
//! `postgres://genesis@db/genesis`); a `tls` entry's `endpoint` stays the name its certificate
//! must be valid for, and the registry's `url` the host its `authfile` credentials are for.
//!
//! ```yaml
//! postgres: { url: "postgres://genesis@db/genesis", service: "data/postgres:sql" }
//! tls:      [ { endpoint: "gateway.internal:443", service: "ingress/gateway:https", ca: ca.pem } ]
//! ```
//!
//! A file is refused when it is read ([`SpecError::Refused`]) if it names more than
//! [`MAX_CHECKS`] checks, if a URL, a `dns` name or a `tls` endpoint holds a control
//! character (a line break would end a Redis command early, or a log line), if `postgres.url`
//! is not a `postgres://` URL (a `key=value` connection string is not accepted: its password
//! could not be kept out of the report), `redis.url` not a `redis://` one, or `registry.url`
//! not `https://HOST[:PORT]` (or `http://`): its credentials go in `authfile`. A check shows
//! a URL without its password, query and fragment. The files a check reads (`tls[].ca`,
//! `registry.ca`, `registry.authfile`) must be regular files of at most 1 MiB, looked at
//! before they are read: anything else (a device, a FIFO, a larger file) is that check's
//! FAIL row.

use std::path::{Path, PathBuf};

use genesis_types::{Classify, ErrorClass};

/// A preflight file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The preflight file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a preflight file: bad YAML, an unknown field, a missing one.
    #[error("{}: not a preflight file: {source}", path.display())]
    Parse {
        /// The preflight file.
        path: PathBuf,
        /// What is wrong, where.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A preflight file's text, given other than as a file (the console's ConfigMap), is
    /// not one: bad YAML, an unknown field, a missing one.
    #[error("not a preflight file: {source}")]
    Text {
        /// What is wrong, where (line and column).
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The file is YAML of the right shape, but a value in it is refused (see the module's
    /// documentation). The message names the value's place, never the value: a URL may hold
    /// a password.
    #[error("{}not a preflight file: {field} {reason}", in_file(.path.as_deref()))]
    Refused {
        /// The preflight file, when the text was read from one.
        path: Option<PathBuf>,
        /// Where the value is: `postgres.url`, `dns[3]`, `the file`.
        field: String,
        /// What is wrong with it, and what to write instead.
        reason: String,
    },
    /// A `service:` value is not `NAMESPACE/SERVICE:PORT-NAME`.
    #[error("{given:?} is not a Service reference NAMESPACE/SERVICE:PORT-NAME: {reason}")]
    ServiceRef {
        /// The value as written.
        given: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `PATH: ` before a message about the file at `path`, nothing without one.
fn in_file(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display())).unwrap_or_default()
}

/// A file that cannot be read is classed by its I/O error (a missing one is not found); a
/// malformed one is the caller's input.
impl Classify for SpecError {
    fn class(&self) -> ErrorClass {
        match self {
            SpecError::Read { source, .. } => source.class(),
            SpecError::Parse { .. }
            | SpecError::Text { .. }
            | SpecError::Refused { .. }
            | SpecError::ServiceRef { .. } => ErrorClass::Input,
        }
    }
}

/// Most checks one preflight file may name: a file naming more is refused when it is read.
/// Every check is run one after the other, each for up to 5 s (10 s with its Service): 256
/// is a run of at most some 40 minutes, and far more than an installation has dependencies.
pub const MAX_CHECKS: usize = 256;

/// The whole file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreflightSpec {
    /// A PostgreSQL server that must answer `SELECT 1`.
    #[serde(default)]
    pub postgres: Option<UrlCheck>,
    /// A Redis server that must answer `PING`.
    #[serde(default)]
    pub redis: Option<UrlCheck>,
    /// Cluster prerequisites, read through the API server.
    #[serde(default)]
    pub kubernetes: Option<KubernetesCheck>,
    /// Host names that must resolve.
    #[serde(default)]
    pub dns: Vec<String>,
    /// TLS endpoints whose chain must verify against a CA bundle.
    #[serde(default)]
    pub tls: Vec<TlsCheck>,
    /// The image registry that must answer `/v2/`.
    #[serde(default)]
    pub registry: Option<RegistryCheck>,
    /// Free space for a bundle's extraction.
    #[serde(default)]
    pub disk: Option<DiskCheck>,
}

/// A server named by URL.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlCheck {
    /// `postgres://…` or `redis://…`.
    pub url: String,
    /// The Service whose endpoint replaces the URL's host and port.
    #[serde(default)]
    pub service: Option<ServiceRef>,
}

/// What to check in the cluster.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesCheck {
    /// cert-manager's CRDs must be installed.
    #[serde(default)]
    pub cert_manager: bool,
}

/// One TLS endpoint.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCheck {
    /// `host:port`. With [`TlsCheck::service`], the host is still the name the certificate
    /// must be valid for (the name clients use), but the check connects to the Service's
    /// endpoint.
    pub endpoint: String,
    /// The Service whose endpoint the check connects to.
    #[serde(default)]
    pub service: Option<ServiceRef>,
    /// The CA bundle (PEM) the chain must verify against.
    pub ca: PathBuf,
    /// Warn when the leaf expires within this many days (default 30).
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
}

fn default_warn_days() -> u32 {
    30
}

/// The registry.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryCheck {
    /// `https://host[:port]` (or `http://` for a plain-HTTP registry). With
    /// [`RegistryCheck::service`], the host the authfile's credentials are looked up for;
    /// the Service's endpoint is where the check connects, and what a certificate of the
    /// registry must be valid for.
    pub url: String,
    /// The Service whose endpoint the check connects to.
    #[serde(default)]
    pub service: Option<ServiceRef>,
    /// CA bundle (PEM) instead of the system roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Docker `config.json` with the credentials.
    #[serde(default)]
    pub authfile: Option<PathBuf>,
}

/// Disk space.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCheck {
    /// Where the bundle will be extracted.
    pub path: PathBuf,
    /// The bundle whose payload must fit.
    pub bundle: PathBuf,
}

/// A Service's named port, `NAMESPACE/SERVICE:PORT-NAME`: where a dependency running in the
/// cluster is, as the API server says ([`genesis_kube::resolve_service`]). The three parts are
/// Kubernetes names (lowercase letters, digits and `-`; a port name at most 15 characters),
/// which also keeps the reference safe in a URL, an HTML attribute and an environment
/// variable's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ServiceRef {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The name of one of its ports (`spec.ports[].name`).
    pub port: String,
}

impl TryFrom<String> for ServiceRef {
    type Error = SpecError;

    fn try_from(given: String) -> Result<ServiceRef, SpecError> {
        let refuse = |reason: &str| SpecError::ServiceRef { given: given.clone(), reason: reason.to_owned() };
        let (namespace, rest) = given.split_once('/').ok_or_else(|| refuse("no / after the namespace"))?;
        let (name, port) = rest.split_once(':').ok_or_else(|| refuse("no : before the port's name"))?;
        for (part, what, longest) in [(namespace, "namespace", 63), (name, "Service name", 63), (port, "port name", 15)]
        {
            if let Some(problem) = name_problem(part, longest) {
                return Err(refuse(&format!("the {what} {part:?} {problem}")));
            }
        }
        Ok(ServiceRef { namespace: namespace.to_owned(), name: name.to_owned(), port: port.to_owned() })
    }
}

/// Why `part` is not a Kubernetes name of at most `longest` characters (a DNS label), if it
/// is not.
fn name_problem(part: &str, longest: usize) -> Option<String> {
    if part.is_empty() {
        Some("is empty".to_owned())
    } else if part.len() > longest {
        Some(format!("is longer than {longest} characters"))
    } else if !part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Some("may hold only lowercase letters, digits and -".to_owned())
    } else if part.starts_with('-') || part.ends_with('-') {
        Some("may not start or end with -".to_owned())
    } else {
        None
    }
}

/// `NAMESPACE/SERVICE:PORT-NAME`, as written.
impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.name, self.port)
    }
}

impl PreflightSpec {
    /// Reads a preflight file; relative paths in it are resolved against its folder.
    pub fn load(path: &Path) -> Result<PreflightSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_owned(), source })?;
        let mut spec: PreflightSpec =
            serde_yaml_ng::from_str(&text).map_err(|source| SpecError::Parse { path: path.to_owned(), source })?;
        spec.refusal().map_err(|(field, reason)| SpecError::Refused { path: Some(path.to_owned()), field, reason })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        spec.tls.iter_mut().for_each(|t| resolve(&mut t.ca));
        if let Some(r) = &mut spec.registry {
            r.ca.iter_mut().for_each(resolve);
            r.authfile.iter_mut().for_each(resolve);
        }
        if let Some(d) = &mut spec.disk {
            resolve(&mut d.path);
            resolve(&mut d.bundle);
        }
        Ok(spec)
    }

    /// A preflight file's text given other than as a file (the console keeps it in a
    /// ConfigMap): relative paths in it stay relative to the working directory of the process
    /// that runs the checks.
    pub fn parse(text: &str) -> Result<PreflightSpec, SpecError> {
        let spec: PreflightSpec = serde_yaml_ng::from_str(text).map_err(|source| SpecError::Text { source })?;
        spec.refusal().map_err(|(field, reason)| SpecError::Refused { path: None, field, reason })?;
        Ok(spec)
    }

    /// Why the file, though of the right shape, is refused: where the value is and what is
    /// wrong with it (see the module's documentation), never quoting a URL.
    fn refusal(&self) -> Result<(), (String, String)> {
        let refuse = |field: &str, reason: String| Err((field.to_owned(), reason));
        let named = self.checks_named();
        if named > MAX_CHECKS {
            return refuse(
                "the file",
                format!(
                    "names {named} checks, more than the {MAX_CHECKS} one file may name: split it into several files"
                ),
            );
        }
        let mut addresses: Vec<(String, &str)> = Vec::new();
        addresses.extend(self.postgres.as_ref().map(|p| ("postgres.url".to_owned(), p.url.as_str())));
        addresses.extend(self.redis.as_ref().map(|r| ("redis.url".to_owned(), r.url.as_str())));
        addresses.extend(self.registry.as_ref().map(|r| ("registry.url".to_owned(), r.url.as_str())));
        addresses.extend(self.dns.iter().enumerate().map(|(i, d)| (format!("dns[{i}]"), d.as_str())));
        addresses.extend(self.tls.iter().enumerate().map(|(i, t)| (format!("tls[{i}].endpoint"), t.endpoint.as_str())));
        if let Some((field, _)) = addresses.iter().find(|(_, text)| text.chars().any(char::is_control)) {
            return refuse(field, "holds a control character (a line break, a tab…): remove it".to_owned());
        }
        if let Some(p) = &self.postgres
            && !["postgres://", "postgresql://"].iter().any(|scheme| p.url.starts_with(scheme))
        {
            return refuse(
                "postgres.url",
                "is not a URL postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (a key=value connection string is \
                 not accepted)"
                    .to_owned(),
            );
        }
        if let Some(r) = &self.redis
            && !r.url.starts_with("redis://")
        {
            return refuse("redis.url", "is not a URL redis://[USER:PASSWORD@]HOST[:PORT]".to_owned());
        }
        if let Some(Err(reason)) = self.registry.as_ref().map(|r| registry_address(&r.url)) {
            return refuse("registry.url", reason.to_owned());
        }
        Ok(())
    }

    /// Every endpoint the file names, for the air-gap announcement (passwords redacted); a
    /// dependency named by its Service is announced as that Service's endpoint (the address
    /// is announced when it is learned, before it is contacted). With
    /// [`PreflightSpec::needs_api_server`], the checks also contact the Kubernetes API
    /// server, which the file does not name: the caller adds it, in its own words for how a
    /// kubeconfig is given.
    pub fn endpoints(&self) -> Vec<String> {
        let by_service = |service: &Option<ServiceRef>, named: String| match service {
            Some(service) => format!("the endpoint of Service {service}"),
            None => named,
        };
        let mut out = Vec::new();
        out.extend(self.postgres.as_ref().map(|p| by_service(&p.service, redact(&p.url))));
        out.extend(self.redis.as_ref().map(|r| by_service(&r.service, redact(&r.url))));
        out.extend(self.tls.iter().map(|t| by_service(&t.service, format!("tls://{}", t.endpoint))));
        out.extend(self.registry.as_ref().map(|r| by_service(&r.service, redact(&r.url))));
        out.extend(self.dns.iter().map(|d| format!("dns:{d}")));
        out
    }

    /// Whether the checks ask the Kubernetes API server: for cert-manager, or where a
    /// Service named in the file is.
    pub fn needs_api_server(&self) -> bool {
        self.kubernetes.as_ref().is_some_and(|k| k.cert_manager)
            || self.postgres.as_ref().is_some_and(|p| p.service.is_some())
            || self.redis.as_ref().is_some_and(|r| r.service.is_some())
            || self.tls.iter().any(|t| t.service.is_some())
            || self.registry.as_ref().is_some_and(|r| r.service.is_some())
    }
}

/// Whether a registry URL is plain HTTP, and its `HOST[:PORT]`; or why it is not
/// `https://HOST[:PORT]` or `http://HOST[:PORT]`, in words that do not quote it.
pub(crate) fn registry_address(url: &str) -> Result<(bool, &str), &'static str> {
    let (plain_http, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (true, rest),
        (_, Some(rest)) => (false, rest),
        _ => return Err("is not a URL https://HOST[:PORT] (or http://)"),
    };
    let host = rest.trim_end_matches('/');
    if host.contains('@') {
        Err("holds a user name or password: give the credentials in registry.authfile")
    } else if host.contains(['/', '?', '#']) {
        Err("is https://HOST[:PORT] (or http://), without a path, query or fragment")
    } else {
        Ok((plain_http, host))
    }
}

/// A URL as reports and logs show it: its scheme, user name, host, port and path, never a
/// password, a query (`?password=` is one way to give PostgreSQL one) or a fragment. The
/// user-info ends at the last `@`, as the Redis check reads a URL (PostgreSQL's reading, up
/// to the first `@`, leaves less of it out of sight). Of it only a user name is shown, and
/// only when it is plainly one (unreserved characters and `%` escapes): the part before a
/// `:`, or a whole user-info without `:` in a PostgreSQL URL only (in a Redis URL that is the
/// password, in others it may be a token). A text that is not `SCHEME://…` is shown as
/// `(not a URL)`: it may be a `key=value` connection string, password and all.
pub(crate) fn redact(url: &str) -> String {
    let scheme_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    let Some((scheme, rest)) = url.split_once("://").filter(|(s, _)| !s.is_empty() && s.chars().all(scheme_char))
    else {
        return "(not a URL)".to_owned();
    };
    let (user, place) = match rest.rsplit_once('@') {
        Some((userinfo, place)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) => user,
                None if matches!(scheme, "postgres" | "postgresql") => userinfo,
                None => "",
            };
            let plain = user.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%'));
            (Some(if plain { user } else { "" }), place)
        }
        None => (None, rest),
    };
    let place = place.split(['?', '#']).next().unwrap_or_default();
    match user {
        Some(user) => format!("{scheme}://{user}@{place}"),
        None => format!("{scheme}://{place}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(given: &str) -> Result<ServiceRef, String> {
        ServiceRef::try_from(given.to_owned()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_service_reference_is_namespace_service_and_port_name() {
        let sql = service("data/postgres:sql").unwrap();
        assert_eq!(sql, ServiceRef { namespace: "data".into(), name: "postgres".into(), port: "sql".into() });
        assert_eq!(sql.to_string(), "data/postgres:sql");
        for (given, problem) in [
            ("postgres:sql", "no / after the namespace"),
            ("data/postgres", "no : before the port's name"),
            ("data/postgres:5432x", ""),
            ("/postgres:sql", "the namespace \"\" is empty"),
            ("data/Postgres:sql", "may hold only lowercase letters, digits and -"),
            ("data/postgres:-sql", "may not start or end with -"),
            ("data/postgres:postgresql-primary", "the port name \"postgresql-primary\" is longer than 15 characters"),
            ("data/pg/x:sql", "may hold only"),
            ("data/postgres:sql:5432", "may hold only"),
        ] {
            match service(given) {
                Ok(parsed) => assert!(problem.is_empty(), "{given} parsed as {parsed}"),
                Err(e) => {
                    assert!(!problem.is_empty() && e.contains(problem), "{given}: {e}");
                    assert!(e.starts_with(&format!("{given:?} is not a Service reference")), "{e}");
                }
            }
        }
    }

    #[test]
    fn a_dependency_may_be_named_by_its_service_and_is_then_announced_so() {
        let spec = PreflightSpec::parse(
            "postgres: { url: \"postgres://genesis:pw@db/genesis\", service: \"data/postgres:sql\" }\n\
             redis: { url: \"redis://:pw@cache.internal:6379\" }\n\
             tls: [ { endpoint: \"gateway.internal:443\", service: \"ingress/gateway:https\", ca: ca.pem } ]\n",
        )
        .unwrap();
        assert_eq!(
            spec.postgres.as_ref().and_then(|p| p.service.as_ref()).map(ToString::to_string).as_deref(),
            Some("data/postgres:sql")
        );
        assert_eq!(
            spec.endpoints(),
            [
                "the endpoint of Service data/postgres:sql",
                "redis://@cache.internal:6379",
                "the endpoint of Service ingress/gateway:https"
            ]
        );
        assert!(spec.needs_api_server());
        assert!(
            !PreflightSpec::parse("redis: { url: \"redis://cache:6379\" }\nkubernetes: { certManager: false }\n")
                .unwrap()
                .needs_api_server()
        );
        assert!(PreflightSpec::parse("kubernetes: { certManager: true }\n").unwrap().needs_api_server());
    }

    #[test]
    fn text_that_is_no_preflight_file_is_refused_with_where_and_why() {
        let bad = PreflightSpec::parse("postgres: { url: \"postgres://db\", service: \"postgres\" }\n").unwrap_err();
        assert!(matches!(bad, SpecError::Text { .. }), "{bad:?}");
        let text = bad.to_string();
        assert!(text.starts_with("not a preflight file: ") && text.contains("no / after the namespace"), "{text}");
        let unknown = PreflightSpec::parse("postgress: { url: \"postgres://db\" }\n").unwrap_err().to_string();
        assert!(unknown.contains("unknown field `postgress`") && unknown.contains("`postgres`"), "{unknown}");
        assert_eq!(bad.class(), ErrorClass::Input);
    }

    /// The refusal of `yaml`: its message, after checking it is [`SpecError::Refused`] of
    /// `field`, classed as input, and quotes nothing of the value.
    fn refused(yaml: &str, field: &str) -> String {
        let error = PreflightSpec::parse(yaml).unwrap_err();
        assert!(matches!(&error, SpecError::Refused { field: f, path: None, .. } if f == field), "{yaml}: {error:?}");
        assert_eq!(error.class(), ErrorClass::Input);
        let text = error.to_string();
        assert!(text.starts_with(&format!("not a preflight file: {field} ")), "{text}");
        for quoted in ["s3cret", "FLUSHALL", "evil"] {
            assert!(!text.contains(quoted), "{yaml}: {text}");
        }
        text
    }

    #[test]
    fn an_address_with_a_control_character_is_refused_at_parse() {
        for (yaml, field) in [
            ("postgres: { url: \"postgres://db/genesis\\r\\nevil\" }\n", "postgres.url"),
            ("redis: { url: \"redis://:s3cret@cache\\r\\nFLUSHALL\" }\n", "redis.url"),
            ("redis: { url: \"redis://s3cret\\n@cache\" }\n", "redis.url"),
            ("registry: { url: \"https://registry.internal\\x1bevil\" }\n", "registry.url"),
            ("dns: [ db.internal, \"cache\\tevil\" ]\n", "dns[1]"),
            ("tls: [ { endpoint: \"gateway:443\\u007f\", ca: ca.pem } ]\n", "tls[0].endpoint"),
        ] {
            let text = refused(yaml, field);
            assert!(text.ends_with("holds a control character (a line break, a tab…): remove it"), "{text}");
        }
        assert!(PreflightSpec::parse("redis: { url: \"redis://:p ss@cache\" }\n").is_ok(), "a space is no control");
    }

    #[test]
    fn a_postgres_url_must_be_one_and_a_registry_url_holds_no_credentials() {
        let text = refused("postgres: { url: \"host=db user=genesis password=s3cret\" }\n", "postgres.url");
        assert!(text.contains("a key=value connection string is not accepted"), "{text}");
        refused("redis: { url: \"cache:6379\" }\n", "redis.url");
        let text = refused("registry: { url: \"https://genesis:s3cret@registry.internal\" }\n", "registry.url");
        assert!(text.contains("give the credentials in registry.authfile"), "{text}");
        let text = refused("registry: { url: \"https://registry.internal/v2/?token=s3cret\" }\n", "registry.url");
        assert!(text.contains("without a path, query or fragment"), "{text}");
        refused("registry: { url: \"registry.internal:5000\" }\n", "registry.url");
        let fine = "postgres: { url: \"postgresql://genesis:pw@db/genesis?sslmode=disable\" }\n\
                    registry: { url: \"https://registry.internal:5000/\" }\n";
        assert!(PreflightSpec::parse(fine).is_ok());
    }

    #[test]
    fn more_checks_than_the_cap_are_refused_at_parse_and_at_load() {
        let dns = |n: usize| format!("dns: [ {} ]\n", vec!["db.internal"; n].join(", "));
        assert_eq!(PreflightSpec::parse(&dns(MAX_CHECKS)).unwrap().dns.len(), MAX_CHECKS);
        let text = refused(&dns(10_000), "the file");
        assert_eq!(
            text,
            "not a preflight file: the file names 10000 checks, more than the 256 one file may name: split it into \
             several files"
        );
        let with_others = format!("{}redis: {{ url: \"redis://cache\" }}\n", dns(MAX_CHECKS));
        assert!(refused(&with_others, "the file").contains("names 257 checks"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("preflight.yaml");
        std::fs::write(&file, dns(MAX_CHECKS + 1)).unwrap();
        let error = PreflightSpec::load(&file).unwrap_err();
        assert!(matches!(&error, SpecError::Refused { path: Some(p), .. } if *p == file), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with(&format!("{}: not a preflight file: the file names 257 checks", file.display())));
    }

    #[test]
    fn a_url_is_shown_without_its_password_query_or_fragment() {
        for (url, shown) in [
            ("postgres://genesis:s3cret@db:5432/genesis", "postgres://genesis@db:5432/genesis"),
            ("postgres://genesis@db/genesis", "postgres://genesis@db/genesis"),
            ("postgres://db/genesis?password=s3cret", "postgres://db/genesis"),
            ("postgresql://genesis@db/x?sslmode=disable&password=s3cret#s3cret", "postgresql://genesis@db/x"),
            // PostgreSQL takes the user-info up to the first @: `db/x?password=s3cret` is its user.
            ("postgres://db/x?password=s3cret@other", "postgres://@other"),
            ("postgres://genesis:p@s3cret@db/x", "postgres://genesis@db/x"),
            ("postgres://genesis:pa/s3cret@db/x", "postgres://genesis@db/x"),
            ("redis://:s3cret@cache:6379", "redis://@cache:6379"),
            ("redis://s3cret@cache:6379", "redis://@cache:6379"),
            ("redis://default:s3cret@cache:6379/0", "redis://default@cache:6379/0"),
            ("redis://cache:6379?password=s3cret", "redis://cache:6379"),
            ("https://genesis:s3cret@registry.internal:5000", "https://genesis@registry.internal:5000"),
            ("https://s3cret@registry.internal:5000", "https://@registry.internal:5000"),
            ("https://registry.internal/?token=s3cret", "https://registry.internal/"),
            ("host=db user=genesis password=s3cret", "(not a URL)"),
            ("host=db password=s3cret://db", "(not a URL)"),
            ("://s3cret@db", "(not a URL)"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        let spec = PreflightSpec {
            registry: Some(RegistryCheck {
                url: "https://genesis:s3cret@registry.internal".into(),
                service: None,
                ca: None,
                authfile: None,
            }),
            ..PreflightSpec::default()
        };
        assert_eq!(spec.endpoints(), ["https://genesis@registry.internal"]);
    }
}
