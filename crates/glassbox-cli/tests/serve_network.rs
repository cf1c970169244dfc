//! `glassbox serve` on a network (issue 29), through the real binary: a key file open to
//! other users is refused, a public `--host` without a key is warned about, SIGTERM lets
//! the request in flight finish and exits 0, and a flood of big requests is answered
//! 200 or 503 while the process stays under a stated peak RSS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn glassbox(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    output
}

/// A small digits model (64 features) in `d/m.safetensors`.
fn model(d: &Path) {
    let out = glassbox(
        d,
        &[
            "train",
            "--epochs",
            "1",
            "--layers",
            "16",
            "--quiet",
            "--out",
            "m.safetensors",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(unix)]
fn key_file(d: &Path, token: &str, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = d.join("key");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_string_lossy().into_owned()
}

#[cfg(unix)]
#[test]
fn a_key_file_open_to_others_or_empty_is_refused_and_a_public_host_without_one_warned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--model", "m.safetensors", "--port", "0"];
        args.extend_from_slice(extra);
        let out = glassbox(d, &args);
        assert!(!out.status.success(), "{extra:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let key = key_file(d, "0123456789abcdef", 0o644);
    let err = serve(&["--api-key-file", &key]);
    assert!(
        err.contains("chmod 600") && err.contains("mode 644"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let key = key_file(d, "", 0o600);
    assert!(serve(&["--api-key-file", &key]).contains("empty"));
    assert!(serve(&["--api-key-file", "nowhere"]).contains("nowhere"));
    assert!(serve(&["--max-inflight-requests", "0"]).contains("at least 1"));
    assert!(serve(&["--header-timeout", "0"]).contains("above 0"));
    // The warning comes before the port is bound (`--threads 0` then stops the start).
    let err = serve(&["--host", "0.0.0.0", "--threads", "0"]);
    assert!(
        err.contains("warning") && err.contains("--api-key-file"),
        "{err}"
    );
    let key = key_file(d, "0123456789abcdef", 0o600);
    let err = serve(&[
        "--host",
        "0.0.0.0",
        "--threads",
        "0",
        "--api-key-file",
        &key,
    ]);
    assert!(!err.contains("warning"), "{err}");
}

/// A started `glassbox serve`.
struct Served {
    child: Child,
    port: u16,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Served {
    fn start(d: &Path, extra: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
            .args(["serve", "--model", "m.safetensors", "--port", "0"])
            .args(extra)
            .current_dir(d)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("serving: http://127.0.0.1:")
            .and_then(|r| r.trim_end().strip_suffix('/'))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("first line: {line:?}"));
        Served {
            child,
            port,
            _stdout: stdout,
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit: its status and its stderr.
    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("the server did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        (status, stderr)
    }
}

fn head(path: &str, token: Option<&str>, length: usize) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {auth}Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

fn status_of(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    (status, text)
}

fn infer_body(rows: usize) -> Vec<u8> {
    let data: Vec<f32> = (0..rows * 64).map(|i| (i % 17) as f32).collect();
    serde_json::json!({"inputs": [{"name": "input", "shape": [rows, 64],
                                   "datatype": "FP32", "data": data}]})
    .to_string()
    .into_bytes()
}

#[cfg(unix)]
#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let key = key_file(d, "a-token-of-our-own", 0o600);
    let served = Served::start(d, &["--api-key-file", &key, "--drain-timeout", "20"]);
    let body = infer_body(3);
    // The head and part of the body are in when SIGTERM comes.
    let mut in_flight = served.connect();
    let head = head("/v2/models/m/infer", Some("a-token-of-our-own"), body.len());
    in_flight.write_all(head.as_bytes()).unwrap();
    in_flight.write_all(&body[..20]).unwrap();
    let mut unauthorised = served.connect();
    unauthorised
        .write_all(self::head("/v2/models/m/infer", None, 2).as_bytes())
        .unwrap();
    unauthorised.write_all(b"{}").unwrap();
    assert_eq!(status_of(&mut unauthorised).0, 401);
    std::thread::sleep(Duration::from_millis(300));
    served.terminate();
    // The server stops accepting ...
    let port = served.port;
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepting"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // ... and the request in flight is answered in full.
    in_flight.write_all(&body[20..]).unwrap();
    let (status, text) = status_of(&mut in_flight);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"class_index\""), "{text}");
    let (status, stderr) = served.wait();
    assert!(status.success(), "exit {status:?}: {stderr}");
}

/// Peak resident memory (VmHWM) of a process, in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The bound the README states for the default limits: the body bytes in flight (64 MiB)
/// and the rows parsed from them, with the model and the runtime.
const PEAK_RSS_BOUND: u64 = 256 << 20;

#[test]
fn a_flood_of_big_requests_gets_200_or_503_and_the_peak_rss_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let served = Served::start(d, &[]);
    // 60 requests of 8 192 rows (3 MB of JSON each, 190 MB together) at once.
    let body = std::sync::Arc::new(infer_body(8192));
    assert!(body.len() > 2_000_000, "{}", body.len());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(60));
    let port = served.port;
    let clients: Vec<_> = (0..60)
        .map(|_| {
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                barrier.wait();
                s.write_all(head("/v2/models/m/infer", None, body.len()).as_bytes())
                    .unwrap();
                // A 503 may come (and the connection close) before the body is sent.
                let sent = s.write_all(&body).is_ok();
                let mut raw = Vec::new();
                let _ = s.read_to_end(&mut raw);
                let text = String::from_utf8_lossy(&raw[..raw.len().min(4096)]).into_owned();
                (sent, text)
            })
        })
        .collect();
    let mut answered = [0; 2];
    for client in clients {
        let (sent, text) = client.join().unwrap();
        if text.starts_with("HTTP/1.1 200") {
            answered[0] += 1;
        } else if text.starts_with("HTTP/1.1 503") {
            assert!(
                text.to_ascii_lowercase().contains("retry-after: 1"),
                "{text}"
            );
            answered[1] += 1;
        } else {
            // A refusal that closed the connection while the body was being sent can
            // reach the client as a reset instead of the 503.
            assert!(!sent && text.is_empty(), "{text:?}");
        }
    }
    assert!(answered[0] >= 1, "{answered:?}");
    let peak = peak_rss(served.child.id());
    let mut health = served.connect();
    health
        .write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(status_of(&mut health).0, 200);
    served.terminate();
    let (status, stderr) = served.wait();
    assert!(status.success(), "{stderr}");
    if let Some(peak) = peak {
        assert!(peak < PEAK_RSS_BOUND, "peak RSS {} MiB", peak >> 20);
        eprintln!(
            "peak RSS {} MiB; answered 200: {}, 503: {}",
            peak >> 20,
            answered[0],
            answered[1]
        );
    }
}

#[cfg(unix)]
#[test]
fn sigterm_under_load_answers_in_full_every_request_it_took() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let served = Served::start(d, &[]);
    let port = served.port;
    let body = std::sync::Arc::new(infer_body(16));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four clients, one request per connection, until told to stop: each request is
    // answered in full (200 and the whole JSON) or never taken (refused, or closed
    // without a byte); none is cut short.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (body, stop) = (body.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut answered, mut not_taken) = (0, 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                        not_taken += 1;
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let head = head("/v2/models/m/infer", None, body.len());
                    // A connection still in the listener's backlog when it closes is
                    // reset: the write or the read fails, and no byte comes back.
                    let _ = s
                        .write_all(head.as_bytes())
                        .and_then(|()| s.write_all(&body));
                    let mut raw = Vec::new();
                    let _ = s.read_to_end(&mut raw);
                    if raw.is_empty() {
                        not_taken += 1;
                        continue;
                    }
                    let text = String::from_utf8_lossy(&raw);
                    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                    let json = text.split_once("\r\n\r\n").unwrap().1;
                    let value: serde_json::Value =
                        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
                    assert_eq!(value["outputs"][2]["data"].as_array().unwrap().len(), 16);
                    answered += 1;
                }
                (answered, not_taken)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    served.terminate();
    let (status, stderr) = served.wait();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for client in clients {
        answered += client.join().unwrap().0;
    }
    assert!(answered >= 4, "{answered}");
    assert!(status.success(), "exit {status:?}: {stderr}");
}

/// `--grpc-port 0` (issue 30): the second line names the gRPC address, an HTTP/2 server
/// (gRPC's transport) answers there, and a port already taken is one clear error.
#[test]
fn grpc_port_0_prints_its_address_second_and_speaks_http2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args([
            "serve",
            "--model",
            "m.safetensors",
            "--port",
            "0",
            "--grpc-port",
            "0",
        ])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    assert!(first.starts_with("serving: http://127.0.0.1:"), "{first}");
    let addr = second
        .strip_prefix("grpc: 127.0.0.1:")
        .map(|port| format!("127.0.0.1:{port}"));
    let addr = addr.unwrap_or_else(|| panic!("second line {second:?}"));
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The client preface and an empty SETTINGS frame; the server's first frame is its
    // own SETTINGS (type 4 at byte 3 of the frame header).
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    stream.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(header[3], 4, "not an HTTP/2 SETTINGS frame: {header:?}");
    // The same port again: taken.
    let taken = addr.rsplit(':').next().unwrap().to_string();
    let out = glassbox(
        d,
        &[
            "serve",
            "--model",
            "m.safetensors",
            "--port",
            "0",
            "--grpc-port",
            &taken,
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--grpc-port") && err.contains(&taken), "{err}");
    let _ = child.kill();
    let _ = child.wait();
}
