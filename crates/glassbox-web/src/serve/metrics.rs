//! `GET /metrics`: the server's counters in the Prometheus text exposition format
//! (version 0.0.4), written by hand: a few atomics and one short lock per request.
//!
//! ```text
//! glassbox_http_requests_total{route,status}        counter: answers by route and status
//! glassbox_http_request_duration_seconds            histogram: from the request's head to its answer
//! glassbox_http_requests_shed_total{reason}         counter: answered 503 (busy) or closed (timeout)
//! glassbox_http_inflight_requests / _bytes          gauges: requests admitted, their body bytes
//!                                                   (both transports: they share the bounds)
//! glassbox_http_open_connections                    gauge (HTTP and gRPC connections)
//! glassbox_grpc_requests_total{method,code}         counter: gRPC calls by method and status code
//! glassbox_grpc_request_duration_seconds            histogram: from a call's head to its answer
//! glassbox_grpc_requests_shed_total{reason}         counter: calls refused UNAVAILABLE (busy) or too slow
//! glassbox_engine_batch_rows                        histogram: rows per pass through the network
//! glassbox_engine_queue_depth                       gauge: requests waiting for the engine
//! glassbox_engine_rows_predicted_total              counter
//! process_resident_memory_bytes                     gauge (Linux: /proc/self/statm)
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the batch-size histogram's buckets, in rows.
pub const BATCH_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// A Prometheus histogram: cumulative counts are made when it is written.
struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, and one for +Inf.
    counts: Vec<AtomicU64>,
    /// The sum of the observations, in millionths (µs for seconds, µrows for rows).
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        let at = self.bounds.partition_point(|&b| b < value);
        self.counts[at].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6).round() as u64, Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut total = 0;
        for (k, count) in self.counts.iter().enumerate() {
            total += count.load(Relaxed);
            let le = self.bounds.get(k).map_or("+Inf".into(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {total}");
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

/// Why a request was refused or a connection closed by the server's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shed {
    /// 503: the requests or bytes in flight were at their limit.
    Busy,
    /// 408: the body came slower than the minimum rate.
    BodyTimeout,
    /// A connection closed: its request head did not arrive in time.
    HeaderTimeout,
    /// A connection closed: idle past the keep-alive timeout.
    Idle,
}

impl Shed {
    fn label(self) -> &'static str {
        match self {
            Shed::Busy => "busy",
            Shed::BodyTimeout => "body_timeout",
            Shed::HeaderTimeout => "header_timeout",
            Shed::Idle => "idle",
        }
    }
}

/// The server's counters, shared by the handlers, the connections and the engine thread.
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Histogram,
    grpc_requests: Mutex<BTreeMap<(&'static str, i32), u64>>,
    grpc_latency: Histogram,
    grpc_shed: [AtomicU64; 4],
    batch_rows: Histogram,
    shed: [AtomicU64; 4],
    rows_predicted: AtomicU64,
    /// Requests sent to the engine and not yet taken by it.
    pub(crate) queue_depth: AtomicI64,
    pub(crate) inflight_requests: AtomicI64,
    pub(crate) inflight_bytes: AtomicI64,
    pub(crate) open_connections: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            latency: Histogram::new(&LATENCY_BUCKETS),
            grpc_requests: Mutex::new(BTreeMap::new()),
            grpc_latency: Histogram::new(&LATENCY_BUCKETS),
            grpc_shed: Default::default(),
            batch_rows: Histogram::new(&BATCH_BUCKETS),
            shed: Default::default(),
            rows_predicted: AtomicU64::new(0),
            queue_depth: AtomicI64::new(0),
            inflight_requests: AtomicI64::new(0),
            inflight_bytes: AtomicI64::new(0),
            open_connections: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answer on `route` (a route pattern, not the caller's path) and its
    /// latency.
    pub fn request(&self, route: &'static str, status: u16, latency: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route, status)).or_insert(0) += 1;
        }
        self.latency.observe(latency.as_secs_f64());
    }

    /// Counts one gRPC call of `method` (a method this server has, or "other") that
    /// ended with `code`, and its latency.
    pub fn grpc_request(&self, method: &'static str, code: tonic::Code, latency: Duration) {
        if let Ok(mut requests) = self.grpc_requests.lock() {
            *requests.entry((method, code as i32)).or_insert(0) += 1;
        }
        self.grpc_latency.observe(latency.as_secs_f64());
    }

    /// Counts one gRPC call refused by the bounds.
    pub fn grpc_shed(&self, why: Shed) {
        self.grpc_shed[why as usize].fetch_add(1, Relaxed);
    }

    /// Counts one refusal or closed connection.
    pub fn shed(&self, why: Shed) {
        self.shed[why as usize].fetch_add(1, Relaxed);
    }

    /// Counts one pass of `rows` rows through the network.
    pub fn batch(&self, rows: usize) {
        self.batch_rows.observe(rows as f64);
        self.rows_predicted.fetch_add(rows as u64, Relaxed);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP glassbox_http_requests_total Answers by route and HTTP status.\n\
             # TYPE glassbox_http_requests_total counter\n",
        );
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "glassbox_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        self.latency.write(
            &mut out,
            "glassbox_http_request_duration_seconds",
            "Time from a request's head to its answer.",
        );
        out.push_str(
            "# HELP glassbox_http_requests_shed_total Requests answered 503 (busy) or 408 \
             (body too slow), and connections closed for a slow head or idleness.\n\
             # TYPE glassbox_http_requests_shed_total counter\n",
        );
        for why in [
            Shed::Busy,
            Shed::BodyTimeout,
            Shed::HeaderTimeout,
            Shed::Idle,
        ] {
            let _ = writeln!(
                out,
                "glassbox_http_requests_shed_total{{reason=\"{}\"}} {}",
                why.label(),
                self.shed[why as usize].load(Relaxed)
            );
        }
        out.push_str(
            "# HELP glassbox_grpc_requests_total gRPC calls by method and status code.\n\
             # TYPE glassbox_grpc_requests_total counter\n",
        );
        if let Ok(requests) = self.grpc_requests.lock() {
            for ((method, code), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "glassbox_grpc_requests_total{{method=\"{method}\",code=\"{}\"}} {n}",
                    code_name(*code)
                );
            }
        }
        self.grpc_latency.write(
            &mut out,
            "glassbox_grpc_request_duration_seconds",
            "Time from a gRPC call's head to its answer.",
        );
        out.push_str(
            "# HELP glassbox_grpc_requests_shed_total gRPC calls refused UNAVAILABLE (busy) \
             or DEADLINE_EXCEEDED (message too slow).\n\
             # TYPE glassbox_grpc_requests_shed_total counter\n",
        );
        for why in [Shed::Busy, Shed::BodyTimeout] {
            let _ = writeln!(
                out,
                "glassbox_grpc_requests_shed_total{{reason=\"{}\"}} {}",
                why.label(),
                self.grpc_shed[why as usize].load(Relaxed)
            );
        }
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "glassbox_http_inflight_requests",
            "Requests admitted and not yet answered.",
            self.inflight_requests.load(Relaxed),
        );
        gauge(
            &mut out,
            "glassbox_http_inflight_bytes",
            "Body bytes of the requests admitted (declared or received).",
            self.inflight_bytes.load(Relaxed),
        );
        gauge(
            &mut out,
            "glassbox_http_open_connections",
            "Open client connections.",
            self.open_connections.load(Relaxed),
        );
        self.batch_rows.write(
            &mut out,
            "glassbox_engine_batch_rows",
            "Rows per pass through the network.",
        );
        gauge(
            &mut out,
            "glassbox_engine_queue_depth",
            "Requests waiting for the engine thread.",
            self.queue_depth.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP glassbox_engine_rows_predicted_total Rows run through the network.\n\
             # TYPE glassbox_engine_rows_predicted_total counter\n\
             glassbox_engine_rows_predicted_total {}",
            self.rows_predicted.load(Relaxed)
        );
        if let Some(rss) = resident_bytes() {
            gauge(
                &mut out,
                "process_resident_memory_bytes",
                "Resident memory of this process.",
                rss as i64,
            );
        }
        out
    }
}

/// A gRPC status code's name as the gRPC specification writes it (`INVALID_ARGUMENT`).
fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|k| NAMES.get(k))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// The process's resident memory, from `/proc/self/statm` (Linux; None elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

#[cfg(unix)]
fn page_size() -> u64 {
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
}

#[cfg(not(unix))]
fn page_size() -> u64 {
    4096
}
