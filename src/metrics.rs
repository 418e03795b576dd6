//! Metrics: one Prometheus recorder for the process, metric names in one place. Labels are
//! bounded: route patterns (never raw paths), methods, statuses, reasons; never ids or
//! personal data.

use crate::domain::feasibility::Reason;
use metrics::{Counter, KeyName, Recorder, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const FEASIBILITY_ANSWERS: &str = "feasibility_answers_total";
pub const RESERVATION_HOLDS: &str = "reservation_holds_total";
pub const RESERVATION_TRANSITIONS: &str = "reservation_transitions_total";
pub const EXPIRY_RUNS: &str = "expiry_runs_total";
pub const EXPIRY_RELEASED: &str = "expiry_released_total";
pub const EXPIRY_LAST_SUCCESS: &str = "expiry_last_success_timestamp_seconds";
pub const INDEX_BOXES: &str = "index_boxes";
pub const INDEX_LOAD_SECONDS: &str = "index_load_duration_seconds";
pub const INDEX_MEMORY: &str = "index_memory_bytes";
pub const SERVICE_READY: &str = "service_ready";
pub const DB_POOL: &str = "db_pool_connections";
pub const SYNC_LAG: &str = "replica_sync_lag_seconds";
pub const CHANGE_VERSION: &str = "replica_change_version";
pub const DELIVERIES: &str = "webhook_deliveries_total";
pub const DELIVERIES_PENDING: &str = "webhook_deliveries_pending";
pub const DELIVERY_LATENCY: &str = "webhook_delivery_latency_seconds";
pub const ALERTS: &str = "alerts_total";

/// What each metric is, as its HELP line says (`promtool check metrics` wants one for each).
const HELP: [(&str, Kind, &str); 19] = [
    (
        HTTP_REQUESTS,
        Kind::Counter,
        "HTTP requests answered, by method, route pattern and status.",
    ),
    (
        HTTP_DURATION,
        Kind::Histogram,
        "Time to answer an HTTP request, by method, route pattern and status.",
    ),
    (
        FEASIBILITY_ANSWERS,
        Kind::Counter,
        "Feasibility answers, by reason (feasible when there is none).",
    ),
    (
        RESERVATION_HOLDS,
        Kind::Counter,
        "Reservation requests, by outcome (created, replayed or why refused).",
    ),
    (
        RESERVATION_TRANSITIONS,
        Kind::Counter,
        "Reservation status changes, by transition.",
    ),
    (
        EXPIRY_RUNS,
        Kind::Counter,
        "Runs of the expiry job, by result.",
    ),
    (
        EXPIRY_RELEASED,
        Kind::Counter,
        "Unconfirmed reservations released by the expiry job.",
    ),
    (
        EXPIRY_LAST_SUCCESS,
        Kind::Gauge,
        "Unix time of the expiry job's last successful run.",
    ),
    (INDEX_BOXES, Kind::Gauge, "Boxes in the in-memory index."),
    (
        INDEX_LOAD_SECONDS,
        Kind::Gauge,
        "Time the last full load of the index from the database took.",
    ),
    (
        INDEX_MEMORY,
        Kind::Gauge,
        "Memory held by the in-memory index.",
    ),
    (
        SERVICE_READY,
        Kind::Gauge,
        "1 when the database is reachable and the index loaded, else 0.",
    ),
    (
        DB_POOL,
        Kind::Gauge,
        "Database connections of the pool, by state (idle, in_use).",
    ),
    (
        SYNC_LAG,
        Kind::Gauge,
        "Age of the last change this replica applied from the change log, when it applied it.",
    ),
    (
        CHANGE_VERSION,
        Kind::Gauge,
        "The change-log version this replica has applied.",
    ),
    (
        DELIVERIES,
        Kind::Counter,
        "Webhook delivery attempts, by result (delivered, retry, failed).",
    ),
    (
        DELIVERIES_PENDING,
        Kind::Gauge,
        "Webhook deliveries waiting for an attempt.",
    ),
    (
        DELIVERY_LATENCY,
        Kind::Histogram,
        "Time from an event's commit to its delivery.",
    ),
    (
        ALERTS,
        Kind::Counter,
        "Alert e-mails, by kind (webhook_failing, webhook_disabled, key_expiring) and result (sent, logged, error).",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The HTTP methods a `method` label takes; any other token a client sends is `other`, so
/// that a client cannot make new series.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// Latency buckets, seconds: the service answers in microseconds, the database in
/// milliseconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Delivery latency buckets, seconds: a first attempt within a second, retries minutes to
/// hours later.
const DELIVERY_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0, 3600.0, 36000.0,
];

/// The process's recorder (installed on first use; tests start many services in one
/// process and share it).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &BUCKETS)
                .expect("buckets are not empty")
                .set_buckets_for_metric(Matcher::Full(DELIVERY_LATENCY.into()), &DELIVERY_BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            for (name, kind, help) in HELP {
                let (key, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
                // Units are in the names already (`_seconds`, `_bytes`).
                let unit = None;
                match kind {
                    Kind::Counter => recorder.describe_counter(key, unit, help),
                    Kind::Gauge => recorder.describe_gauge(key, unit, help),
                    Kind::Histogram => recorder.describe_histogram(key, unit, help),
                }
            }
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness): keep ours local then.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// One HTTP request.
pub fn request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [
        ("method", method_label(method).to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(seconds);
}

/// One feasibility answer, labelled by its reason (`feasible` when there is none).
pub fn feasibility_answer(reason: Option<Reason>) {
    // Registered once: looking a labelled counter up costs an allocation per call, and this
    // is counted on the hottest path.
    // Slot 0 is `feasible`, slot 1 + i is `Reason::ALL[i]` (declaration order).
    static COUNTERS: OnceLock<[Counter; 5]> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        handle();
        std::array::from_fn(|i| {
            let label = i
                .checked_sub(1)
                .map_or("feasible", |r| Reason::ALL[r].as_str());
            metrics::counter!(FEASIBILITY_ANSWERS, "reason" => label)
        })
    });
    counters[reason.map_or(0, |r| r as usize + 1)].increment(1);
}

/// One reservation request's end: `created`, `replayed`, or the reason it was refused.
pub fn hold(outcome: &'static str) {
    metrics::counter!(RESERVATION_HOLDS, "outcome" => outcome).increment(1);
}

pub fn transition(transition: &'static str) {
    metrics::counter!(RESERVATION_TRANSITIONS, "transition" => transition).increment(1);
}

/// One run of the expiry job.
pub fn expiry_run(ok: bool, released: usize) {
    metrics::counter!(EXPIRY_RUNS, "result" => if ok { "ok" } else { "error" }).increment(1);
    if ok {
        metrics::counter!(EXPIRY_RELEASED).increment(released as u64);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!(EXPIRY_LAST_SUCCESS).set(now);
    }
}

pub fn index_loaded(seconds: f64) {
    metrics::gauge!(INDEX_LOAD_SECONDS).set(seconds);
}

/// A change from the log applied `lag` seconds after it was made (0 when none was waiting).
pub fn sync_lag(lag: f64) {
    metrics::gauge!(SYNC_LAG).set(lag);
}

pub fn change_applied(version: i64) {
    metrics::gauge!(CHANGE_VERSION).set(version as f64);
}

/// One webhook delivery attempt; `latency` (commit to delivery) when it delivered.
pub fn delivery(result: &'static str, latency: Option<f64>) {
    metrics::counter!(DELIVERIES, "result" => result).increment(1);
    if let Some(s) = latency {
        metrics::histogram!(DELIVERY_LATENCY).record(s);
    }
}

/// One alert e-mail: `result` is sent, logged (no smtp_url) or error (tried again).
pub fn alert(kind: &'static str, result: &'static str) {
    metrics::counter!(ALERTS, "kind" => kind, "result" => result).increment(1);
}

pub fn deliveries_pending(n: i64) {
    metrics::gauge!(DELIVERIES_PENDING).set(n as f64);
}

/// Gauges read when `/metrics` is scraped.
pub fn scrape_gauges(boxes: usize, memory: usize, ready: bool, pool_idle: usize, pool_size: usize) {
    metrics::gauge!(INDEX_BOXES).set(boxes as f64);
    metrics::gauge!(INDEX_MEMORY).set(memory as f64);
    metrics::gauge!(SERVICE_READY).set(if ready { 1.0 } else { 0.0 });
    metrics::gauge!(DB_POOL, "state" => "idle").set(pool_idle as f64);
    metrics::gauge!(DB_POOL, "state" => "in_use").set(pool_size.saturating_sub(pool_idle) as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_are_other() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("M339ab19ccfd1"), "other");
        assert_eq!(method_label("get"), "other");
    }
}
