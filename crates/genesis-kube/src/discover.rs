//! Where an in-cluster dependency is, as the API server says (seed 002, "Service discovery"):
//! a Service and the name of one of its ports give a host and a port. The port comes from the
//! Service's port spec, looked up by name, never from a constant: an operator who renumbers
//! the port for compliance changes the Service, and every client follows. The API server is
//! asked rather than DNS, which an air-gapped cluster may restrict; the host handed back is
//! an address where there is one (the ClusterIP), else the name DNS must answer for.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::Api;

use crate::{Cluster, KubeError, Result};

/// Where to connect: a host (an address or a DNS name) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// An IPv4 or IPv6 address (unbracketed), or a DNS name.
    pub host: String,
    /// The port.
    pub port: u16,
}

/// `host:port`, an IPv6 address in brackets (`[fd00::1]:5432`): what a socket address, a URL's
/// authority and `TcpStream::connect` all read.
impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The endpoint of port `port_name` of Service `namespace/service`, read through the API
/// server:
///
/// - a Service with a ClusterIP: that address, and the port's `port` (what the Service
///   proxies);
/// - an `ExternalName` Service: its external name, and the port's `port`;
/// - a headless Service (`clusterIP: None`): `SERVICE.NAMESPACE.svc`, which DNS answers with
///   the pods' own addresses, and so the port's `targetPort` (the pods' port; nothing proxies
///   `port` there), `port` when no target is given.
///
/// A Service that is not there, has no port of that name, or gives nothing to connect to is
/// [`KubeError::Unresolved`], naming what is missing (and the ports the Service has).
pub async fn resolve_service(cluster: &Cluster, namespace: &str, service: &str, port_name: &str) -> Result<Endpoint> {
    let object = format!("{namespace}/{service}");
    let services: Api<Service> = Api::namespaced(cluster.client().clone(), namespace);
    let found = services
        .get_opt(service)
        .await
        .map_err(|source| KubeError::Api { object: format!("Service {object}"), source })?;
    let Some(found) = found else {
        return Err(KubeError::Unresolved {
            service: object,
            reason: format!("no such Service in namespace {namespace}"),
        });
    };
    endpoint_of(&found, namespace, service, port_name)
        .map_err(|reason| KubeError::Unresolved { service: object, reason })
}

/// What [`resolve_service`] judges of a Service it read: the endpoint, or what is missing.
fn endpoint_of(
    found: &Service,
    namespace: &str,
    service: &str,
    port_name: &str,
) -> std::result::Result<Endpoint, String> {
    let spec = found.spec.clone().unwrap_or_default();
    let ports = spec.ports.unwrap_or_default();
    let Some(port) = ports.iter().find(|p| p.name.as_deref() == Some(port_name)) else {
        let named: Vec<String> = ports
            .iter()
            .map(|p| match &p.name {
                Some(name) if !name.is_empty() => format!("{name} ({})", p.port),
                _ => format!("an unnamed one ({})", p.port),
            })
            .collect();
        return Err(match named.as_slice() {
            [] => format!("no port named {port_name}: the Service has no ports"),
            _ => format!("no port named {port_name}: the ports it has are {}", named.join(", ")),
        });
    };
    let number = |n: i32, what: &str| {
        u16::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("port {port_name} has {what} {n}, not a TCP port"))
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return match spec.external_name.filter(|name| !name.is_empty()) {
            Some(host) => Ok(Endpoint { host, port: number(port.port, "port")? }),
            None => Err("an ExternalName Service without an externalName".to_owned()),
        };
    }
    match spec.cluster_ip.as_deref() {
        Some("None") => {
            let port = match &port.target_port {
                None => number(port.port, "port")?,
                Some(IntOrString::Int(target)) => number(*target, "targetPort")?,
                Some(IntOrString::String(container_port)) => {
                    return Err(format!(
                        "port {port_name} of this headless Service targets the pods' port named {container_port}, \
                         whose number differs from pod to pod: give targetPort as a number, or give the Service a \
                         ClusterIP"
                    ));
                }
            };
            Ok(Endpoint { host: format!("{service}.{namespace}.svc"), port })
        }
        Some(ip) if !ip.is_empty() => Ok(Endpoint { host: ip.to_owned(), port: number(port.port, "port")? }),
        _ => Err("the Service has no ClusterIP yet and is not an ExternalName Service".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};

    use super::*;

    fn port(name: Option<&str>, port: i32, target: Option<IntOrString>) -> ServicePort {
        ServicePort { name: name.map(str::to_owned), port, target_port: target, ..ServicePort::default() }
    }

    fn service(type_: &str, cluster_ip: Option<&str>, external_name: Option<&str>, ports: Vec<ServicePort>) -> Service {
        Service {
            spec: Some(ServiceSpec {
                type_: Some(type_.to_owned()),
                cluster_ip: cluster_ip.map(str::to_owned),
                external_name: external_name.map(str::to_owned),
                ports: Some(ports),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    fn resolve(found: &Service, port_name: &str) -> std::result::Result<Endpoint, String> {
        endpoint_of(found, "data", "postgres", port_name)
    }

    #[test]
    fn the_port_is_found_by_name_in_the_port_spec() {
        let db = service(
            "ClusterIP",
            Some("10.96.0.12"),
            None,
            vec![port(Some("metrics"), 9187, None), port(Some("sql"), 15432, Some(IntOrString::Int(5432)))],
        );
        assert_eq!(resolve(&db, "sql"), Ok(Endpoint { host: "10.96.0.12".into(), port: 15432 }));
        assert_eq!(resolve(&db, "metrics"), Ok(Endpoint { host: "10.96.0.12".into(), port: 9187 }));
    }

    #[test]
    fn a_missing_port_names_the_ports_the_service_has() {
        let db =
            service("ClusterIP", Some("10.96.0.12"), None, vec![port(Some("sql"), 5432, None), port(None, 8080, None)]);
        assert_eq!(
            resolve(&db, "postgresql"),
            Err("no port named postgresql: the ports it has are sql (5432), an unnamed one (8080)".to_owned())
        );
        let empty = service("ClusterIP", Some("10.96.0.12"), None, Vec::new());
        assert_eq!(resolve(&empty, "sql"), Err("no port named sql: the Service has no ports".to_owned()));
    }

    #[test]
    fn an_external_name_service_gives_its_name_and_a_headless_one_its_dns_name_and_target_port() {
        let external = service("ExternalName", None, Some("db.customer.example"), vec![port(Some("sql"), 5432, None)]);
        assert_eq!(resolve(&external, "sql"), Ok(Endpoint { host: "db.customer.example".into(), port: 5432 }));
        let nameless = service("ExternalName", None, None, vec![port(Some("sql"), 5432, None)]);
        assert!(resolve(&nameless, "sql").unwrap_err().contains("without an externalName"));

        let headless = |target| service("ClusterIP", Some("None"), None, vec![port(Some("sql"), 80, target)]);
        let svc = |port| Ok(Endpoint { host: "postgres.data.svc".into(), port });
        assert_eq!(resolve(&headless(Some(IntOrString::Int(5432))), "sql"), svc(5432));
        assert_eq!(resolve(&headless(None), "sql"), svc(80));
        let named = resolve(&headless(Some(IntOrString::String("pg".into()))), "sql").unwrap_err();
        assert!(named.contains("port named pg") && named.contains("targetPort as a number"), "{named}");
    }

    #[test]
    fn a_service_without_an_address_is_refused_with_the_reason() {
        let pending = service("ClusterIP", None, None, vec![port(Some("sql"), 5432, None)]);
        assert!(resolve(&pending, "sql").unwrap_err().contains("no ClusterIP"));
        let silly = service("ClusterIP", Some("10.96.0.12"), None, vec![port(Some("sql"), 70000, None)]);
        assert!(resolve(&silly, "sql").unwrap_err().contains("not a TCP port"));
    }

    #[test]
    fn an_endpoint_reads_as_host_and_port_with_ipv6_in_brackets() {
        assert_eq!(Endpoint { host: "10.96.0.12".into(), port: 5432 }.to_string(), "10.96.0.12:5432");
        assert_eq!(Endpoint { host: "fd00::12".into(), port: 5432 }.to_string(), "[fd00::12]:5432");
        assert_eq!(Endpoint { host: "db.customer.example".into(), port: 5432 }.to_string(), "db.customer.example:5432");
    }
}
