//! Prometheus metrics at `/metrics` (text exposition format). Names follow seed 003
//! (`export.bootstrap.completed`, `export.bootstrap.duration_ms`) in Prometheus spelling.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The labels of a request count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template, e.g. `/v1/releases/{product}/{version}`.
    pub route: String,
    /// The status code.
    pub status: u16,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Body bytes sent by artifact and export downloads.
    pub download_bytes: Counter,
    /// Downloads being streamed right now.
    pub downloads_in_flight: Gauge,
    /// Downloads answered with a redirect to a presigned URL of the object store: their bytes
    /// go from the store to the client, and are not in `download_bytes`.
    pub presigned_downloads: Counter,
    /// Exports built.
    pub exports_completed: Counter,
    /// Exports whose build failed.
    pub exports_failed: Counter,
    /// Build time of exports, in milliseconds.
    pub export_duration_ms: Histogram,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("portal_http_requests", "HTTP requests by route and status", requests.clone());
        let download_bytes = Counter::default();
        registry.register(
            "portal_download_bytes",
            "Bytes sent by artifact and export downloads",
            download_bytes.clone(),
        );
        let downloads_in_flight = Gauge::default();
        registry.register("portal_downloads_in_flight", "Downloads being streamed", downloads_in_flight.clone());
        let presigned_downloads = Counter::default();
        registry.register(
            "portal_presigned_downloads",
            "Downloads redirected to a presigned URL of the object store",
            presigned_downloads.clone(),
        );
        let exports_completed = Counter::default();
        registry.register("export_bootstrap_completed", "Bootstrap packs built", exports_completed.clone());
        let exports_failed = Counter::default();
        registry.register("export_bootstrap_failed", "Bootstrap pack builds that failed", exports_failed.clone());
        let export_duration_ms = Histogram::new(exponential_buckets(10.0, 4.0, 9));
        registry.register("export_bootstrap_duration_ms", "Bootstrap pack build time", export_duration_ms.clone());
        Metrics {
            registry,
            requests,
            download_bytes,
            downloads_in_flight,
            presigned_downloads,
            exports_completed,
            exports_failed,
            export_duration_ms,
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
