//! Prometheus metrics served at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of a finished job: `completed`, or the failure code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

/// The node's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    pub jobs_submitted: Counter,
    pub jobs_rejected_full: Counter,
    pub jobs_finished: Family<OutcomeLabel, Counter>,
    pub job_run_seconds: Histogram,
    pub fuel_used: Counter,
    pub queue_depth: Gauge,
    pub jobs_running: Gauge,
    pub plugins_uploaded: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("obelysk");
        let metrics = Metrics {
            jobs_submitted: Counter::default(),
            jobs_rejected_full: Counter::default(),
            jobs_finished: Family::default(),
            job_run_seconds: Histogram::new(exponential_buckets(0.0005, 4.0, 10)),
            fuel_used: Counter::default(),
            queue_depth: Gauge::default(),
            jobs_running: Gauge::default(),
            plugins_uploaded: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "jobs_submitted",
            "Jobs accepted by POST /jobs",
            metrics.jobs_submitted.clone(),
        );
        registry.register(
            "jobs_rejected_queue_full",
            "Jobs refused with 429",
            metrics.jobs_rejected_full.clone(),
        );
        registry.register(
            "jobs_finished",
            "Jobs finished, by outcome",
            metrics.jobs_finished.clone(),
        );
        registry.register(
            "job_run_seconds",
            "Sandbox time per job",
            metrics.job_run_seconds.clone(),
        );
        registry.register(
            "fuel_used",
            "Fuel consumed by completed jobs",
            metrics.fuel_used.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs waiting for a worker",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "jobs_running",
            "Jobs being executed",
            metrics.jobs_running.clone(),
        );
        registry.register(
            "plugins_uploaded",
            "New modules stored",
            metrics.plugins_uploaded.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
