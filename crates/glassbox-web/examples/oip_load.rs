//! A closed-loop load generator for `glassbox serve`'s Open Inference Protocol, over
//! HTTP/1.1 (JSON or binary tensors) or gRPC (raw contents), so the two transports are
//! measured by the same client (bench/RESULTS.md, issue 30). Loopback only.
//!
//! ```text
//! cargo run --release -p glassbox-web --example oip_load -- \
//!     http|http-binary|grpc ADDR MODEL WIDTH CONNECTIONS SECONDS [ROWS]
//! ```
//!
//! Each of CONNECTIONS connections sends one request of ROWS rows (default 1) of WIDTH
//! values at a time, for 1 s of warm-up and then SECONDS measured; prints requests/s,
//! p50, p99 and p99.9 of the measured ones, and the errors (any answer but 200 / OK).

use bytes::Bytes;
use glassbox_web::serve::grpc::proto::{model_infer_request::InferInputTensor, ModelInferRequest};
use prost::Message;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Json,
    Binary,
    Grpc,
}

fn usage() -> ! {
    eprintln!("usage: oip_load http|http-binary|grpc ADDR MODEL WIDTH CONNECTIONS SECONDS [ROWS]");
    std::process::exit(2)
}

/// The request body and its headers for `rows` rows of `width` values in [0, 1).
fn request(
    kind: Kind,
    model: &str,
    rows: usize,
    width: usize,
) -> (String, Vec<(String, String)>, Bytes) {
    let values: Vec<f32> = (0..rows * width)
        .map(|k| (k * 37 % 101) as f32 / 101.0)
        .collect();
    match kind {
        Kind::Json => {
            let body = serde_json::json!({"inputs": [{"name": "input", "shape": [rows, width],
                "datatype": "FP32", "data": values}]});
            (
                format!("/v2/models/{model}/infer"),
                vec![("content-type".into(), "application/json".into())],
                Bytes::from(body.to_string()),
            )
        }
        Kind::Binary => {
            let head = serde_json::json!({"inputs": [{"name": "input", "shape": [rows, width],
                "datatype": "FP32", "parameters": {"binary_data_size": values.len() * 4}}],
                "parameters": {"binary_data_output": true}})
            .to_string();
            let mut body = head.clone().into_bytes();
            body.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            (
                format!("/v2/models/{model}/infer"),
                vec![(
                    "inference-header-content-length".into(),
                    head.len().to_string(),
                )],
                Bytes::from(body),
            )
        }
        Kind::Grpc => {
            let message = ModelInferRequest {
                model_name: model.into(),
                inputs: vec![InferInputTensor {
                    name: "input".into(),
                    datatype: "FP32".into(),
                    shape: vec![rows as i64, width as i64],
                    ..Default::default()
                }],
                raw_input_contents: vec![values.iter().flat_map(|v| v.to_le_bytes()).collect()],
                ..Default::default()
            };
            let encoded = message.encode_to_vec();
            let mut body = vec![0u8];
            body.extend((encoded.len() as u32).to_be_bytes());
            body.extend(encoded);
            (
                "/inference.GRPCInferenceService/ModelInfer".into(),
                vec![
                    ("content-type".into(), "application/grpc".into()),
                    ("te".into(), "trailers".into()),
                ],
                Bytes::from(body),
            )
        }
    }
}

struct Totals {
    ok: AtomicU64,
    errors: AtomicU64,
    latencies: Mutex<Vec<u32>>,
}

/// Reads one HTTP/1.1 response (status line, headers with Content-Length, body) from
/// `stream`, keeping what follows in `buffer`; its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<u16> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).ok()?;
            let status: u16 = head.get(9..12)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buffer.len() < total {
                let mut chunk = [0u8; 65536];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            buffer.drain(..total);
            return Some(status);
        }
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// One gRPC call on an HTTP/2 connection: whether it ended with status 0 (OK).
async fn grpc_call(
    sender: &mut h2::client::SendRequest<Bytes>,
    addr: &str,
    path: &str,
    body: &Bytes,
) -> Option<bool> {
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .ok()?;
    let mut ready = sender.clone().ready().await.ok()?;
    let (response, mut stream) = ready.send_request(request, false).ok()?;
    stream.send_data(body.clone(), true).ok()?;
    let response = response.await.ok()?;
    let in_headers = response.headers().get("grpc-status").cloned();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.ok()?;
    let status = in_headers.or_else(|| trailers.and_then(|t| t.get("grpc-status").cloned()));
    Some(status.is_some_and(|s| s == "0"))
}

async fn client(
    kind: Kind,
    addr: String,
    (path, headers, body): (String, Vec<(String, String)>, Bytes),
    measuring: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    totals: Arc<Totals>,
) {
    let Ok(mut stream) = TcpStream::connect(&addr).await else {
        totals.errors.fetch_add(1, Relaxed);
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut latencies = Vec::new();
    let mut record = |ok: bool, started: Instant| {
        if measuring.load(Relaxed) && !done.load(Relaxed) {
            if ok {
                totals.ok.fetch_add(1, Relaxed);
                latencies.push(started.elapsed().as_micros() as u32);
            } else {
                totals.errors.fetch_add(1, Relaxed);
            }
        }
    };
    if kind == Kind::Grpc {
        let Ok((mut sender, connection)) = h2::client::handshake(stream).await else {
            totals.errors.fetch_add(1, Relaxed);
            return;
        };
        tokio::spawn(connection);
        while !done.load(Relaxed) {
            let started = Instant::now();
            match grpc_call(&mut sender, &addr, &path, &body).await {
                Some(ok) => record(ok, started),
                None => {
                    record(false, started);
                    break;
                }
            }
        }
    } else {
        let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut request = head.into_bytes();
        request.extend_from_slice(&body);
        let mut buffer = Vec::new();
        while !done.load(Relaxed) {
            let started = Instant::now();
            if stream.write_all(&request).await.is_err() {
                record(false, started);
                break;
            }
            match read_response(&mut stream, &mut buffer).await {
                Some(status) => record(status == 200, started),
                None => {
                    record(false, started);
                    break;
                }
            }
        }
    }
    if let Ok(mut all) = totals.latencies.lock() {
        all.extend(latencies);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 6 {
        usage();
    }
    let kind = match args[0].as_str() {
        "http" => Kind::Json,
        "http-binary" => Kind::Binary,
        "grpc" => Kind::Grpc,
        _ => usage(),
    };
    let number = |k: usize| -> usize { args[k].parse().unwrap_or_else(|_| usage()) };
    let (addr, model) = (args[1].clone(), args[2].clone());
    let (width, connections, seconds) = (number(3), number(4), number(5));
    let rows = if args.len() > 6 { number(6) } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let totals = Arc::new(Totals {
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
    });
    let (measuring, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let took = runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            tasks.push(tokio::spawn(client(
                kind,
                addr.clone(),
                request(kind, &model, rows, width),
                measuring.clone(),
                done.clone(),
                totals.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Relaxed);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds as u64)).await;
        done.store(true, Relaxed);
        let took = started.elapsed();
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        took
    });
    let mut latencies = totals
        .latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let at = |q: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |&us| us as f64 / 1000.0)
    };
    println!(
        "{} {connections} connections, {rows} rows: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, \
         p99.9 {:.2} ms, {} ok, {} errors",
        args[0],
        totals.ok.load(Relaxed) as f64 / took.as_secs_f64(),
        at(0.5),
        at(0.99),
        at(0.999),
        totals.ok.load(Relaxed),
        totals.errors.load(Relaxed),
    );
}
