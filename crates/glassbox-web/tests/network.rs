//! `glassbox serve` on a network (issue 29): the real server on 127.0.0.1:0, spoken to
//! over raw TCP as a client — honest, slow, stalled or flooding — would speak to it.
//! The token, the timeouts, the limits on work in flight, `/metrics` and the drain.
//! Every wait is bounded; the timeouts under test are fractions of a second.

use glassbox::tensor::Parallelism;
use glassbox::{Activation, Init, Network};
use glassbox_web::serve::{ApiKey, Engine, Limits, ServeOptions, ServedModel, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Features per row of the test model.
const WIDTH: usize = 16;

/// A server running on its own runtime, stopped (and drained) by [`Running::stop`].
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

fn start(options: ServeOptions) -> Running {
    let network = Network::builder(WIDTH)
        .dense(8, Activation::Relu)
        .dense(3, Activation::Softmax)
        .build(Init::Xavier, 7)
        .unwrap();
    let model = ServedModel {
        name: "m".into(),
        engine: Engine::Float(network, Parallelism::Sequential),
        info: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            addr_tx.send(listener.local_addr()?).unwrap();
            let shutdown = async move {
                let _ = stopped.await;
            };
            glassbox_web::serve::serve_with(listener, Server::new(model), options, shutdown).await
        })
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    Running {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Running {
    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    /// One request on its own connection; the answer.
    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        let mut stream = self.connect();
        stream
            .write_all(&head(method, path, token, body.len()))
            .unwrap();
        stream.write_all(body).unwrap();
        read_reply(&mut stream)
    }

    /// Stops the server and waits (bounded) for it to drain.
    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let thread = self.thread.take().unwrap();
        let started = Instant::now();
        while !thread.is_finished() {
            assert!(started.elapsed() < Duration::from_secs(20), "no drain");
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().unwrap().unwrap();
    }
}

fn head(method: &str, path: &str, token: Option<&str>, length: usize) -> Vec<u8> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {auth}Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads an answer to the end of the connection.
fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    Reply {
        status,
        head: head.into(),
        body: body.into(),
    }
}

/// An infer request of `rows` rows, as JSON.
fn infer_body(rows: usize) -> Vec<u8> {
    let data: Vec<f32> = (0..rows * WIDTH).map(|i| (i % 7) as f32 * 0.25).collect();
    serde_json::json!({"inputs": [{"name": "input", "shape": [rows, WIDTH],
                                   "datatype": "FP32", "data": data}]})
    .to_string()
    .into_bytes()
}

const INFER: &str = "/v2/models/m/infer";

#[test]
fn a_token_is_needed_everywhere_but_health() {
    let server = start(ServeOptions {
        api_key: Some(ApiKey::new("3f6c1a-right-token").unwrap()),
        ..ServeOptions::default()
    });
    let body = infer_body(2);
    for token in [None, Some("3f6c1a-wrong-token"), Some("3f6c1a-right-tok")] {
        for (method, path, body) in [
            ("POST", INFER, &body[..]),
            ("GET", "/v2/models/m", &[][..]),
            ("GET", "/metrics", &[][..]),
            ("POST", "/predict", &b"[1]"[..]),
        ] {
            let reply = server.request(method, path, token, body);
            assert_eq!(
                reply.status, 401,
                "{method} {path} with {token:?}: {reply:?}"
            );
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            assert!(reply.body.contains("Bearer"), "{}", reply.body);
        }
    }
    let right = Some("3f6c1a-right-token");
    let reply = server.request("POST", INFER, right, &body);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("probabilities"));
    assert_eq!(
        server.request("GET", "/v2/models/m", right, b"").status,
        200
    );
    assert_eq!(server.request("GET", "/metrics", right, b"").status, 200);
    for path in ["/v2/health/live", "/v2/health/ready"] {
        assert_eq!(server.request("GET", path, None, b"").status, 200, "{path}");
    }
    server.stop();
}

#[cfg(unix)]
#[test]
fn a_key_file_open_to_other_users_or_empty_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, "0123456789abcdef\n").unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = ApiKey::from_file(&path).unwrap_err();
        assert!(
            err.contains("chmod 600") && err.contains("other users"),
            "{err}"
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key = ApiKey::from_file(&path).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("authorization", "Bearer 0123456789abcdef".parse().unwrap());
    assert!(
        key.admits(&headers),
        "the final newline is not part of the token"
    );
    std::fs::write(&path, "  \n").unwrap();
    assert!(ApiKey::from_file(&path).unwrap_err().contains("empty"));
    assert!(ApiKey::from_file(&dir.path().join("missing")).is_err());
}

fn small_timeouts() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(400),
        body_grace: Duration::from_millis(300),
        min_body_rate: 1000,
        ..Limits::default()
    }
}

/// Reads until the server closes the connection: how long it took and what came.
fn time_to_close(stream: &mut TcpStream, since: Instant) -> (Duration, String) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    (since.elapsed(), String::from_utf8_lossy(&raw).into_owned())
}

#[test]
fn stalled_clients_are_closed_in_time_and_slow_steady_ones_are_served() {
    let server = start(ServeOptions {
        limits: small_timeouts(),
        ..ServeOptions::default()
    });
    let bound = Duration::from_secs(4);

    // The head and one byte of a 5 000-byte body, then nothing: 408 and closed after
    // the grace (0.3 s) and 1 byte / 1 000 bytes/s.
    let mut stalled_body = server.connect();
    let since = Instant::now();
    stalled_body
        .write_all(&head("POST", INFER, None, 5000))
        .unwrap();
    stalled_body.write_all(b"{").unwrap();
    // Half a head, then nothing: closed after the header timeout (0.4 s).
    let mut stalled_head = server.connect();
    stalled_head
        .write_all(b"POST /v2/models/m/infer HTTP/1.1\r\nHost: loc")
        .unwrap();
    // Nothing at all: closed after the idle timeout (0.4 s).
    let mut silent = server.connect();
    // A kept-alive connection after one answer: closed after the idle timeout.
    let mut kept = server.connect();
    kept.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: l\r\n\r\n")
        .unwrap();

    // Meanwhile an honest upload at about 5 000 bytes/s (5× the minimum rate) for
    // 0.8 s, far past the grace, is answered.
    let body = infer_body(20);
    let mut body = body.clone();
    let padding = 4000usize.saturating_sub(body.len());
    body.extend(std::iter::repeat_n(b' ', padding));
    let mut steady = server.connect();
    steady
        .write_all(&head("POST", INFER, None, body.len()))
        .unwrap();
    let upload = Instant::now();
    for chunk in body.chunks(100) {
        steady.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let uploaded = upload.elapsed();
    let reply = read_reply(&mut steady);
    assert_eq!(reply.status, 200, "after {uploaded:?}: {reply:?}");
    assert!(uploaded > Duration::from_millis(500), "{uploaded:?}");

    let (took, text) = time_to_close(&mut stalled_body, since);
    assert!(took < bound, "{took:?}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    for (what, stream) in [
        ("a half-sent head", &mut stalled_head),
        ("a silent connection", &mut silent),
    ] {
        let (took, text) = time_to_close(stream, since);
        assert!(took < bound, "{what}: {took:?}");
        assert!(text.is_empty(), "{what}: {text:?}");
    }
    let (took, text) = time_to_close(&mut kept, since);
    assert!(took < bound, "kept alive: {took:?}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");

    let metrics = server.request("GET", "/metrics", None, b"").body;
    for reason in ["body_timeout", "header_timeout", "idle"] {
        let line = format!("glassbox_http_requests_shed_total{{reason=\"{reason}\"}} ");
        let count: u64 = value_of(&metrics, &line);
        assert!(count >= 1, "{reason}: {metrics}");
    }
    server.stop();
}

fn value_of(metrics: &str, prefix: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

#[test]
fn past_the_limits_a_flood_gets_503_with_retry_after_and_health_stays_up() {
    let server = start(ServeOptions {
        limits: Limits {
            max_inflight_requests: 2,
            max_inflight_bytes: 1 << 20,
            body_grace: Duration::from_secs(60),
            ..Limits::default()
        },
        ..ServeOptions::default()
    });
    // Two requests hold the two places: their heads and half their bodies are in.
    let big = infer_body(1024);
    assert!(big.len() > 50_000 && big.len() < 400_000, "{}", big.len());
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(&head("POST", INFER, None, big.len())).unwrap();
            s.write_all(&big[..big.len() / 2]).unwrap();
            s
        })
        .collect();
    // Let both be admitted (the server reads their heads).
    std::thread::sleep(Duration::from_millis(300));

    // A flood of twelve big requests at once: each 503 with Retry-After, at once.
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let (addr, big) = (server.addr, big.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                // The answer comes from the head alone: the body is not waited for.
                s.write_all(&head("POST", INFER, None, big.len())).unwrap();
                read_reply(&mut s)
            })
        })
        .collect();
    let health = Instant::now();
    assert_eq!(
        server.request("GET", "/v2/health/ready", None, b"").status,
        200
    );
    assert!(
        health.elapsed() < Duration::from_secs(2),
        "{:?}",
        health.elapsed()
    );
    for reply in flood {
        let reply = reply.join().unwrap();
        assert_eq!(reply.status, 503, "{reply:?}");
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert!(
            reply.body.contains("--max-inflight-requests"),
            "{}",
            reply.body
        );
    }
    let metrics = server.request("GET", "/metrics", None, b"").body;
    assert!(
        value_of(&metrics, "glassbox_http_inflight_requests ") >= 2,
        "{metrics}"
    );
    assert!(
        value_of(
            &metrics,
            "glassbox_http_requests_shed_total{reason=\"busy\"} "
        ) >= 12
    );

    // The held requests finish and are answered; then a new one is admitted.
    for s in &mut held {
        s.write_all(&big[big.len() / 2..]).unwrap();
    }
    for mut s in held {
        assert_eq!(read_reply(&mut s).status, 200);
    }
    assert_eq!(server.request("POST", INFER, None, &big).status, 200);

    // The byte budget (1 MiB): one request declaring 700 kB holds it, so a second of
    // 400 kB is turned away, and a body over the whole budget gets 413.
    let mut holder = server.connect();
    holder
        .write_all(&head("POST", INFER, None, 700_000))
        .unwrap();
    holder.write_all(b"{").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut second = server.connect();
    second
        .write_all(&head("POST", INFER, None, 400_000))
        .unwrap();
    let reply = read_reply(&mut second);
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.body.contains("--max-inflight-bytes"),
        "{}",
        reply.body
    );
    assert_eq!(reply.header("retry-after"), Some("1"));
    let mut over = server.connect();
    over.write_all(&head("POST", INFER, None, 2 << 20)).unwrap();
    let reply = read_reply(&mut over);
    assert_eq!(reply.status, 413, "{reply:?}");
    drop(holder);
    server.stop();
}

/// Checks `text` line by line against the Prometheus text format (0.0.4): comments
/// `# HELP name …` / `# TYPE name kind`, samples `name{label="value",…} number`, every
/// sample's family declared by a TYPE line before it, histograms' buckets cumulative
/// with `+Inf` equal to `_count`. Returns the samples.
fn parse_prometheus(text: &str) -> Vec<(String, String, f64)> {
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut types = std::collections::HashMap::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (kind, name, what) = (words.next(), words.next(), words.next());
            assert!(is_name(name.unwrap_or("")), "{line}");
            match kind {
                Some("HELP") => assert!(what.is_some_and(|w| !w.is_empty()), "{line}"),
                Some("TYPE") => {
                    let what = what.unwrap();
                    assert!(["counter", "gauge", "histogram"].contains(&what), "{line}");
                    assert!(types
                        .insert(name.unwrap().to_string(), what.to_string())
                        .is_none());
                }
                _ => panic!("{line}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                for pair in labels.split("\",").map(|p| p.trim_end_matches('"')) {
                    let (label, quoted) =
                        pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                    assert!(is_name(label) && !quoted.contains('"'), "{line}");
                }
                (name, labels)
            }
            None => (series, ""),
        };
        assert!(is_name(name), "{line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{line}: no TYPE before it");
        samples.push((name.to_string(), labels.to_string(), value));
    }
    for (family, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        let buckets: Vec<f64> = samples
            .iter()
            .filter(|(n, _, _)| *n == format!("{family}_bucket"))
            .map(|s| s.2)
            .collect();
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "{family}: {buckets:?}"
        );
        let count = samples
            .iter()
            .find(|s| s.0 == format!("{family}_count"))
            .unwrap()
            .2;
        let inf = samples
            .iter()
            .find(|s| s.0 == format!("{family}_bucket") && s.1 == "le=\"+Inf\"")
            .unwrap()
            .2;
        assert_eq!(inf, count, "{family}");
    }
    samples
}

fn sample(samples: &[(String, String, f64)], name: &str, labels: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.0 == name && s.1 == labels)
        .map_or(0.0, |s| s.2)
}

#[test]
fn metrics_are_prometheus_text_and_count_the_requests() {
    let server = start(ServeOptions::default());
    let scrape = || {
        let reply = server.request("GET", "/metrics", None, b"");
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        parse_prometheus(&reply.body)
    };
    let before = scrape();
    let infer_200 = "route=\"/v2/models/{name}/infer\",status=\"200\"";
    for rows in [1, 3, 5] {
        assert_eq!(
            server
                .request("POST", INFER, None, &infer_body(rows))
                .status,
            200
        );
    }
    assert_eq!(server.request("POST", INFER, None, b"{oops").status, 400);
    assert_eq!(server.request("GET", "/nowhere", None, b"").status, 404);
    let after = scrape();
    let delta =
        |name: &str, labels: &str| sample(&after, name, labels) - sample(&before, name, labels);
    assert_eq!(delta("glassbox_http_requests_total", infer_200), 3.0);
    assert_eq!(
        delta(
            "glassbox_http_requests_total",
            "route=\"/v2/models/{name}/infer\",status=\"400\""
        ),
        1.0
    );
    assert_eq!(
        delta(
            "glassbox_http_requests_total",
            "route=\"other\",status=\"404\""
        ),
        1.0
    );
    assert_eq!(delta("glassbox_engine_rows_predicted_total", ""), 9.0);
    // The two scrapes before are counted too: 3 + 1 + 1 + 1 answers at least.
    assert!(delta("glassbox_http_request_duration_seconds_count", "") >= 6.0);
    assert!(delta("glassbox_engine_batch_rows_count", "") >= 1.0);
    assert!(delta("glassbox_engine_batch_rows_sum", "") == 9.0);
    assert_eq!(sample(&after, "glassbox_engine_queue_depth", ""), 0.0);
    if cfg!(target_os = "linux") {
        let rss = sample(&after, "process_resident_memory_bytes", "");
        assert!(rss > 1e6 && rss < 1e10, "{rss}");
    }
    server.stop();
}

#[test]
fn the_drain_finishes_the_request_in_flight_and_refuses_new_connections() {
    let server = start(ServeOptions {
        limits: Limits {
            body_grace: Duration::from_secs(60),
            ..Limits::default()
        },
        ..ServeOptions::default()
    });
    let body = infer_body(4);
    let mut in_flight = server.connect();
    in_flight
        .write_all(&head("POST", INFER, None, body.len()))
        .unwrap();
    in_flight.write_all(&body[..10]).unwrap();
    let mut idle = server.connect();
    std::thread::sleep(Duration::from_millis(200));
    let addr = server.addr;
    let Running { stop, thread, .. } = server;
    let _ = stop.unwrap().send(());
    // The listener closes: new connections are refused.
    let started = Instant::now();
    loop {
        if TcpStream::connect(addr).is_err() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepting"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The idle connection is closed without an answer; the request in flight finishes.
    let (_, text) = time_to_close(&mut idle, Instant::now());
    assert!(text.is_empty(), "{text:?}");
    in_flight.write_all(&body[10..]).unwrap();
    let reply = read_reply(&mut in_flight);
    assert_eq!(reply.status, 200, "{reply:?}");
    let thread = thread.unwrap();
    while !thread.is_finished() {
        assert!(started.elapsed() < Duration::from_secs(20), "no drain");
        std::thread::sleep(Duration::from_millis(10));
    }
    thread.join().unwrap().unwrap();
}
