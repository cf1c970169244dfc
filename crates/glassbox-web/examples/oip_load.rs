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
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Json,
    Binary,
    Grpc,
}

fn usage() -> ! {
    eprintln!(
        "usage: oip_load http|http-binary|grpc ADDR MODEL WIDTH CONNECTIONS SECONDS [ROWS]"
    );
    std::process::exit(2)
}

/// The request body and its headers for `rows` rows of `width` values in [0, 1).
fn request(kind: Kind, model: &str, rows: usize, width: usize) -> (String, Vec<(String, String)>, Bytes) {
    let values: Vec<f32> = (0..rows * width).map(|k| (k * 37 % 101) as f32 / 101.0).collect();
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
                vec![("inference-header-content-length".into(), head.len().to_string())],
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

async fn client(
    kind: Kind,
    addr: String,
    (path, headers, body): (String, Vec<(String, String)>, Bytes),
    measuring: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    totals: Arc<Totals>,
) {
    let Ok(stream) = tokio::net::TcpStream::connect(&addr).await else {
        totals.errors.fetch_add(1, Relaxed);
        return;
    };
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(stream);
    let mut latencies = Vec::new();
    let build = || {
        let mut request = hyper::Request::post(format!("http://{addr}{path}"));
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        request.body(Full::new(body.clone())).expect("a request")
    };
    macro_rules! run {
        ($sender:expr) => {
            while !done.load(Relaxed) {
                let started = Instant::now();
                let ok = match $sender.send_request(build()).await {
                    Ok(response) => {
                        let status = response.status();
                        match response.into_body().collect().await {
                            Ok(collected) => {
                                let trailers = collected.trailers().cloned();
                                let grpc_ok = trailers
                                    .as_ref()
                                    .and_then(|t| t.get("grpc-status"))
                                    .is_some_and(|v| v == "0");
                                status == 200 && (kind != Kind::Grpc || grpc_ok)
                            }
                            Err(_) => false,
                        }
                    }
                    Err(_) => {
                        totals.errors.fetch_add(1, Relaxed);
                        break;
                    }
                };
                if measuring.load(Relaxed) && !done.load(Relaxed) {
                    if ok {
                        totals.ok.fetch_add(1, Relaxed);
                        latencies.push(started.elapsed().as_micros() as u32);
                    } else {
                        totals.errors.fetch_add(1, Relaxed);
                    }
                }
            }
        };
    }
    if kind == Kind::Grpc {
        let Ok((mut sender, conn)) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await else {
            totals.errors.fetch_add(1, Relaxed);
            return;
        };
        tokio::spawn(conn);
        run!(sender);
    } else {
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
            totals.errors.fetch_add(1, Relaxed);
            return;
        };
        tokio::spawn(conn);
        run!(sender);
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
    let (measuring, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
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
    let mut latencies = totals.latencies.lock().map(|l| l.clone()).unwrap_or_default();
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
