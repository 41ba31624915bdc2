//! Prometheus metrics: GraphQL requests and latency by operation, errors by
//! code, and the connection pool.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;

/// Distinct operation names kept as labels; later ones count as `other`, so
/// clients can not grow the series without bound.
const MAX_OPERATIONS: usize = 200;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<OperationLabels, Counter>,
    latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    errors: Family<CodeLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    operations: Mutex<HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tasklane");
        let requests = Family::<OperationLabels, Counter>::default();
        let latency = Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let errors = Family::<CodeLabels, Counter>::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations executed",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL operation latency",
            latency.clone(),
        );
        registry.register(
            "graphql_errors",
            "GraphQL errors by extensions.code",
            errors.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            pool.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            errors,
            pool,
            operations: Mutex::new(HashSet::new()),
        }
    }

    /// Adds the live-update gauges: open WebSocket connections, active subscriptions.
    pub fn with_live(mut self, (connections, subscriptions): (Gauge, Gauge)) -> Self {
        self.registry.register(
            "websocket_connections",
            "Open WebSocket connections",
            connections,
        );
        self.registry.register(
            "subscriptions",
            "Active GraphQL subscriptions",
            subscriptions,
        );
        self
    }

    fn label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|n| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) else {
            return if operation.is_none() {
                "anonymous"
            } else {
                "other"
            }
            .to_owned();
        };
        let Ok(mut known) = self.operations.lock() else {
            return "other".to_owned();
        };
        if known.contains(name) || known.len() < MAX_OPERATIONS {
            known.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// One executed operation.
    pub fn observe(&self, operation: Option<&str>, elapsed: Duration, error_codes: &[&str]) {
        let labels = OperationLabels {
            operation: self.label(operation),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        for code in error_codes {
            self.errors
                .get_or_create(&CodeLabels {
                    code: (*code).to_owned(),
                })
                .inc();
        }
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

pub async fn render(State(state): State<Arc<AppState>>) -> Response {
    let status = state.services.db.status();
    let metrics = &state.metrics;
    let in_use = status.size.saturating_sub(status.available);
    for (name, value) in [
        ("in_use", in_use),
        ("idle", status.available),
        ("max", status.max_size),
    ] {
        metrics
            .pool
            .get_or_create(&PoolLabels {
                state: name.to_owned(),
            })
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}
