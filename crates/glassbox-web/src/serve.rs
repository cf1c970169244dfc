//! `glassbox serve`: one model behind HTTP, speaking the Open Inference Protocol
//! (KServe v2, also Triton's), plus a convenience `/predict`.
//!
//! ```text
//! GET  /v2                         server metadata
//! GET  /v2/health/live             {"live": true}
//! GET  /v2/health/ready            {"ready": true}
//! GET  /v2/models/{name}           inputs, outputs, class names
//! GET  /v2/models/{name}/ready     {"name": …, "ready": true}
//! POST /v2/models/{name}/infer     {"inputs": [{"name", "shape": [B, n], "datatype": "FP32",
//!                                  "data": [...]}]} → outputs "probabilities" [B, k] FP32,
//!                                  "class" [B] BYTES, "class_index" [B] INT64
//! POST /predict                    a PNG or JPEG body, or a JSON row [x₁, …, xₙ] or rows
//!                                  [[…], …] → {"class", "index", "confidence",
//!                                  "probabilities": {name: p}} (a list for many rows)
//! GET  /metrics                    the counters, Prometheus text ([`metrics`])
//! ```
//!
//! Inputs are the raw features, as `glassbox predict` reads them (pixels in [0, 1]); the
//! model's scaler is applied here. Images must have the model's size.
//!
//! **Batching.** Handlers never run the network: they send their rows to one engine
//! thread and await its answer. The engine takes the first waiting request, then collects
//! whatever else arrives within [`BATCH_WAIT`] (at most [`MAX_BATCH_ROWS`] rows), runs
//! them as one batch, and answers each. So requests arriving together share one pass
//! through the weights, and the async runtime's threads never do arithmetic.
//!
//! **On a network** ([`net`]): a bearer token, timeouts for slow or stalled clients, a
//! cap on connections, bounds on the requests and bytes in flight (503 with
//! `Retry-After` past them), and a drain on SIGTERM. `GET /metrics` ([`metrics`]) gives
//! the counters in Prometheus text format.
//!
//! **gRPC** ([`grpc`]): with [`ServeOptions::grpc`] set, the same model answers the
//! protocol's `inference.GRPCInferenceService` on a second port, through the same engine
//! thread (its requests batch with the HTTP ones), token, bounds and metrics.
//!
//! **Binary tensors** (Triton's `binary_tensor_data` extension, which tritonclient uses
//! by default): with `Inference-Header-Content-Length: N`, an infer body is N bytes of
//! JSON and then each input's raw little-endian FP32 bytes (the input says how many in
//! `"parameters": {"binary_data_size": …}`); an output asked for with `"binary_data":
//! true` (or every output, with the request's `"binary_data_output": true`) comes back
//! the same way, after the answer's JSON header, whose length the answer's
//! `Inference-Header-Content-Length` gives. The body's content type is not looked at.
//!
//! **Bad input** — malformed JSON, a wrong shape or datatype, NaN or infinite values, a
//! body over [`MAX_BODY_BYTES`], an image that cannot be decoded or has the wrong size —
//! is a 4xx answer with `{"error": "…"}`; the server keeps serving.

pub mod grpc;
pub mod metrics;
pub mod net;

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use glassbox::data::{image_folder, ImageShape};
use glassbox::io::ModelInfo;
use glassbox::network::argmax;
use glassbox::quant::QuantizedNetwork;
use glassbox::tensor::{Parallelism, Tensor};
use glassbox::Network;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Largest request body: 10 000 rows of 784 features as JSON text fit.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// How long the engine waits, after a request arrives, for others to batch with it.
pub const BATCH_WAIT: Duration = Duration::from_micros(200);

/// The most rows the engine runs in one batch (a larger request runs alone).
pub const MAX_BATCH_ROWS: usize = 1024;

/// The engine's threads unless `glassbox serve --threads` says otherwise: one. Requests
/// that arrive together already share one batch, and the cores are shared with the HTTP
/// runtime (and, in a load test, with the clients). Split over two threads, a request
/// waits for the helper thread whenever another thread holds the helper's core: in the
/// load test (bench/RESULTS.md) that made the median at one connection a scheduler time
/// slice in some runs, and 8 connections were served fewer requests per second.
pub const DEFAULT_THREADS: usize = 1;

/// The network that answers: float or int8.
pub enum Engine {
    /// A float network and the threads its products may use.
    Float(Network, Parallelism),
    /// An int8 network and the threads its products may use.
    Int8(QuantizedNetwork, Parallelism),
}

impl Engine {
    fn predict(&self, rows: &[f32]) -> glassbox::Result<Tensor> {
        match self {
            Engine::Float(n, par) => n.predict_with(rows, *par),
            Engine::Int8(n, par) => n.predict_with(rows, *par),
        }
    }

    fn inputs(&self) -> usize {
        match self {
            Engine::Float(n, _) => n.inputs(),
            Engine::Int8(n, _) => n.inputs(),
        }
    }

    fn outputs(&self) -> usize {
        match self {
            Engine::Float(n, _) => n.outputs(),
            Engine::Int8(n, _) => n.outputs(),
        }
    }
}

/// A model ready to serve.
pub struct ServedModel {
    /// The name in the routes.
    pub name: String,
    /// The network.
    pub engine: Engine,
    /// Its class names, scaler and image shape.
    pub info: ModelInfo,
}

impl ServedModel {
    /// Loads a float or int8 model file; its name is `name` or the file's stem. The
    /// engine's arithmetic runs on `threads` threads (see [`DEFAULT_THREADS`]).
    ///
    /// # Errors
    /// The library's message, naming the file, when it cannot be loaded.
    pub fn load(
        path: &std::path::Path,
        name: Option<String>,
        threads: usize,
    ) -> Result<ServedModel, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let par = if threads > 1 {
            Parallelism::Threads(threads)
        } else {
            Parallelism::Sequential
        };
        let (engine, info) = if glassbox::quant::is_quantized_file(&bytes) {
            let (n, info) = glassbox::quant::load(path).map_err(|e| e.to_string())?;
            (Engine::Int8(n, par), info)
        } else {
            let (n, info) = glassbox::io::load(path).map_err(|e| e.to_string())?;
            (Engine::Float(n, par), info)
        };
        let name = name.unwrap_or_else(|| {
            path.file_stem()
                .map_or("model".into(), |s| s.to_string_lossy().into_owned())
        });
        if name.is_empty() || name.contains('/') {
            return Err(format!(
                "--name {name:?}: a model name is not empty and has no `/`"
            ));
        }
        Ok(ServedModel { name, engine, info })
    }

    fn class_name(&self, k: usize) -> String {
        self.info
            .class_names
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string())
    }
}

pub use net::{ApiKey, Limits, ServeOptions};

/// One request's rows and where its answer goes.
struct Job {
    rows: Vec<f32>,
    reply: oneshot::Sender<Result<Vec<f32>, String>>,
}

/// The server's state.
#[derive(Clone)]
pub struct Server {
    model: Arc<ServedModel>,
    jobs: mpsc::Sender<Job>,
    metrics: Arc<metrics::Metrics>,
}

impl Server {
    /// Starts the engine thread for `model`. The thread ends when the last [`Server`]
    /// clone (and so the router) is dropped.
    pub fn new(model: ServedModel) -> Server {
        let model = Arc::new(model);
        let metrics = Arc::new(metrics::Metrics::default());
        let (jobs, queue) = mpsc::channel::<Job>();
        let (engine, counters) = (model.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("glassbox-engine".into())
            .spawn(move || run_engine(&engine, &queue, &counters))
            .map(|_| ())
            .unwrap_or_else(|e| panic!("cannot start the engine thread: {e}"));
        Server {
            model,
            jobs,
            metrics,
        }
    }

    /// The counters `GET /metrics` shows.
    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.metrics
    }

    /// Runs `rows` (already scaled) through the engine, batched with other requests.
    async fn infer(&self, rows: Vec<f32>) -> Result<Vec<f32>, ApiError> {
        let (reply, answer) = oneshot::channel();
        let failed = || ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the engine has stopped".into(),
        };
        // The queue is bounded by the requests admitted (net::Limits).
        self.metrics.queue_depth.fetch_add(1, Relaxed);
        if self.jobs.send(Job { rows, reply }).is_err() {
            self.metrics.queue_depth.fetch_sub(1, Relaxed);
            return Err(failed());
        }
        answer
            .await
            .map_err(|_| failed())?
            .map_err(|message| ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message,
            })
    }
}

/// The engine thread: takes a request, gathers what arrives within [`BATCH_WAIT`], runs
/// the rows as one batch and answers each request with its own rows.
fn run_engine(model: &ServedModel, queue: &mpsc::Receiver<Job>, metrics: &metrics::Metrics) {
    let width = model.engine.inputs();
    let outputs = model.engine.outputs();
    let mut rows = Vec::new();
    while let Ok(first) = queue.recv() {
        metrics.queue_depth.fetch_sub(1, Relaxed);
        let deadline = Instant::now() + BATCH_WAIT;
        let mut batch = vec![first];
        let mut count = batch[0].rows.len() / width;
        while count < MAX_BATCH_ROWS {
            let left = deadline.saturating_duration_since(Instant::now());
            match queue.recv_timeout(left) {
                Ok(job) => {
                    metrics.queue_depth.fetch_sub(1, Relaxed);
                    count += job.rows.len() / width;
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        rows.clear();
        for job in &batch {
            rows.extend_from_slice(&job.rows);
        }
        metrics.batch(count);
        match model.engine.predict(&rows) {
            Ok(out) => {
                let mut at = 0;
                for job in batch {
                    let n = job.rows.len() / width * outputs;
                    let _ = job.reply.send(Ok(out.as_slice()[at..at + n].to_vec()));
                    at += n;
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// The routes.
pub fn router(server: Server) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(|| async { Json(json!({"live": true})) }))
        .route("/v2/health/ready", get(|| async { Json(json!({"ready": true})) }))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/predict", post(predict))
        .route("/metrics", get(metrics_text))
        .fallback(|| async {
            ApiError {
                status: StatusCode::NOT_FOUND,
                message: "no such route: see GET /v2/models/{name} and POST /v2/models/{name}/infer or /predict".into(),
            }
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(refuse_oversize))
        .with_state(server)
}

/// Answers 413 at once when the declared Content-Length is over [`MAX_BODY_BYTES`],
/// without waiting for the body (a body without a length is cut off by the limit while
/// it is read).
async fn refuse_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(bytes) = declared.filter(|&n| n > MAX_BODY_BYTES as u64) {
        return ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the body is {bytes} bytes; the limit is {MAX_BODY_BYTES}"),
        }
        .into_response();
    }
    next.run(request).await
}

/// `GET /metrics`: the counters in Prometheus text format.
async fn metrics_text(State(server): State<Server>) -> impl axum::response::IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        server.metrics.render(),
    )
}

/// Serves on `listener` with the default [`Limits`] and no token until Ctrl-C or
/// SIGTERM, then finishes the requests in flight.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve(listener: tokio::net::TcpListener, server: Server) -> std::io::Result<()> {
    serve_with(listener, server, ServeOptions::default(), shutdown_signal()).await
}

/// Serves on `listener` with `options` (limits, token; see [`net`]) until `shutdown`
/// completes, then stops accepting, lets each connection finish its request, and
/// returns once all are closed or [`Limits::drain_timeout`] has passed.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    server: Server,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let metrics = server.metrics.clone();
    let grpc = options
        .grpc
        .is_some()
        .then(|| grpc::service(server.clone()));
    net::serve_router(listener, router(server), grpc, metrics, options, shutdown).await
}

/// Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn check_name(server: &Server, name: &str) -> Result<(), ApiError> {
    if name == server.model.name {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "no model {name:?}; this server serves {:?}",
                server.model.name
            ),
        })
    }
}

/// The protocol extensions this server speaks, as server metadata lists them: Triton's
/// binary-tensor extension on HTTP.
pub const EXTENSIONS: [&str; 1] = ["binary_tensor_data"];

async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "glassbox",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    }))
}

/// What values the model's input takes, in words and, for images, as a range: the
/// raw features as `glassbox predict` reads them, before the model's own scaling.
pub fn input_description(info: &ModelInfo) -> (String, Option<[f32; 2]>) {
    let scaled = match &info.scaler {
        Some(_) => "; the server applies the model's feature scaling",
        None => "",
    };
    match info.image_shape {
        Some(shape) => (
            format!(
                "image pixels in [0, 1] (byte value / 255), {}×{} pixels, {} channel{}, \
                 row-major with channels last{scaled}",
                shape.width,
                shape.height,
                shape.channels,
                if shape.channels == 1 { "" } else { "s" }
            ),
            Some([0.0, 1.0]),
        ),
        None => (
            format!("the raw features, in the units of the training data{scaled}"),
            None,
        ),
    }
}

async fn model_metadata(
    State(server): State<Server>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&server, &name)?;
    let model = &server.model;
    let (inputs, outputs) = (model.engine.inputs(), model.engine.outputs());
    let classes: Vec<String> = (0..outputs).map(|k| model.class_name(k)).collect();
    let (description, range) = input_description(&model.info);
    Ok(Json(json!({
        "name": model.name,
        "versions": ["1"],
        "platform": "glassbox",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, inputs]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, outputs]},
            {"name": "class", "datatype": "BYTES", "shape": [-1]},
            {"name": "class_index", "datatype": "INT64", "shape": [-1]},
        ],
        "parameters": {
            "classes": classes,
            "quantization": match model.engine { Engine::Float(..) => "none", Engine::Int8(..) => "int8" },
            "image_shape": model.info.image_shape,
            "input_range": range,
            "input_description": description,
        },
    })))
}

async fn model_ready(
    State(server): State<Server>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&server, &name)?;
    Ok(Json(json!({"name": name, "ready": true})))
}

/// The request and response header of Triton's binary-tensor extension: how many bytes
/// at the start of the body are the JSON header; the tensors' raw bytes follow it.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// The parameters of an input or a requested output that this server reads (the
/// binary-tensor extension's); others are ignored.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TensorParameters {
    /// An input's bytes in the binary part of the body, or an output's in the answer's.
    binary_data_size: Option<u64>,
    /// A requested output comes back as raw bytes after the JSON header.
    binary_data: Option<bool>,
}

/// The request-wide parameters this server reads.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestParameters {
    /// Outputs that do not say otherwise come back as raw bytes.
    binary_data_output: Option<bool>,
}

/// One input tensor of an inference request: its values in `data`, or (binary-tensor
/// extension) `binary_data_size` bytes of the body's binary part.
#[derive(Deserialize)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    data: Option<Flat>,
    #[serde(default)]
    parameters: TensorParameters,
}

/// An output the request asks for.
#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: TensorParameters,
}

/// An inference request of the Open Inference Protocol, as its JSON body (or the JSON
/// header of a binary-tensor body) is read.
#[derive(Deserialize)]
pub struct InferRequest {
    /// The caller's request id, echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    inputs: Vec<InputTensor>,
    /// None: every output.
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
    #[serde(default)]
    parameters: RequestParameters,
}

/// The outputs of an inference, as the protocol names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `probabilities`, FP32 `[B, k]`: the network's outputs.
    Probabilities,
    /// `class`, BYTES `[B]`: the most likely class's name.
    Class,
    /// `class_index`, INT64 `[B]`: its index.
    ClassIndex,
}

impl Output {
    /// Every output, in the order the answers list them.
    pub const ALL: [Output; 3] = [Output::Probabilities, Output::Class, Output::ClassIndex];

    /// Its name in requests and answers.
    pub fn name(self) -> &'static str {
        match self {
            Output::Probabilities => "probabilities",
            Output::Class => "class",
            Output::ClassIndex => "class_index",
        }
    }

    /// Its datatype.
    pub fn datatype(self) -> &'static str {
        match self {
            Output::Probabilities => "FP32",
            Output::Class => "BYTES",
            Output::ClassIndex => "INT64",
        }
    }

    /// The output called `name`.
    ///
    /// # Errors
    /// A 400 naming the outputs there are.
    pub fn named(name: &str) -> Result<Output, ApiError> {
        Output::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "no output {name:?}; this model has \"probabilities\", \"class\" and \"class_index\""
                ))
            })
    }
}

/// An inference request, parsed and checked: its rows and the outputs it asks for.
#[derive(Debug)]
pub struct ParsedInfer {
    /// The caller's request id.
    pub id: Option<String>,
    /// Rows in the batch.
    pub rows: usize,
    /// `rows · width` values, row-major.
    pub values: Vec<f32>,
    /// The outputs to answer with, each with whether it goes back as raw bytes.
    pub outputs: Vec<(Output, bool)>,
}

/// Parses an inference request's body for a model of `width` inputs. With the
/// binary-tensor extension's `Inference-Header-Content-Length: N` (`header_length`),
/// the first N bytes are the JSON header and the rest the inputs' raw bytes, each
/// input with `"parameters": {"binary_data_size": S}` taking the next S bytes as
/// little-endian FP32; without it, the whole body is JSON. The body's content type is
/// not looked at.
///
/// # Errors
/// A 400 [`ApiError`] saying what is malformed: the header length (not a number, or
/// beyond the body), the JSON, the input (see [`InferRequest::rows`]), a binary size that
/// disagrees with the shape or with the bytes sent, an output this model does not have.
pub fn parse_infer(
    body: &[u8],
    header_length: Option<&[u8]>,
    width: usize,
) -> Result<ParsedInfer, ApiError> {
    let split = match header_length {
        None => body.len(),
        Some(text) => {
            let n = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad(format!(
                        "Inference-Header-Content-Length {:?} is not a number of bytes",
                        String::from_utf8_lossy(text)
                    ))
                })?;
            if n > body.len() as u64 {
                return Err(ApiError::bad(format!(
                    "Inference-Header-Content-Length is {n}, but the body is {} bytes",
                    body.len()
                )));
            }
            n as usize
        }
    };
    let (header, binary) = body.split_at(split);
    let request: InferRequest = serde_json::from_slice(header).map_err(|e| {
        let what = if header_length.is_some() {
            "the JSON header (the first Inference-Header-Content-Length bytes)"
        } else {
            "the body"
        };
        ApiError::bad(format!("{what} is not an inference request: {e}"))
    })?;
    let (rows, values) = request.rows_with(width, binary)?;
    let binary_default = request.parameters.binary_data_output.unwrap_or(false);
    let outputs = match &request.outputs {
        None => Output::ALL.map(|o| (o, binary_default)).to_vec(),
        Some(asked) => asked
            .iter()
            .map(|o| {
                let binary = o.parameters.binary_data.unwrap_or(binary_default);
                Ok((Output::named(&o.name)?, binary))
            })
            .collect::<Result<_, ApiError>>()?,
    };
    Ok(ParsedInfer {
        id: request.id,
        rows,
        values,
        outputs,
    })
}

/// Reads little-endian FP32 values, each a finite number.
///
/// # Errors
/// A 400 naming `what` and the first value that is not finite, or a length that is not
/// a multiple of 4.
pub fn fp32_from_le(bytes: &[u8], what: &str) -> Result<Vec<f32>, ApiError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(ApiError::bad(format!(
            "{what}: {} bytes is not a whole number of FP32 values (4 bytes each)",
            bytes.len()
        )));
    }
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    match values.iter().position(|x| !x.is_finite()) {
        Some(k) => Err(ApiError::bad(format!(
            "{what}: value {} at index {k} is not a finite number (NaN and infinity are refused)",
            values[k]
        ))),
        None => Ok(values),
    }
}

/// The rows that `shape` claims for a model of `width` inputs, and their value count:
/// `[B, width]` (B ≥ 1) or `[width]`.
///
/// # Errors
/// A 400 naming the input and the shape the model takes.
pub fn shape_rows(name: &str, shape: &[i64], width: usize) -> Result<(usize, usize), ApiError> {
    let rows = match shape[..] {
        [b, n] if b > 0 && usize::try_from(n) == Ok(width) => usize::try_from(b).ok(),
        [n] if usize::try_from(n) == Ok(width) => Some(1),
        _ => None,
    };
    // The shape is the caller's claim: the values are counted, never reserved for.
    rows.and_then(|r| Some((r, r.checked_mul(width)?)))
        .ok_or_else(|| {
            ApiError::bad(format!(
                "input {name:?} has shape {shape:?}; this model takes [batch, {width}]"
            ))
        })
}

impl InferRequest {
    /// The request's rows for a model of `width` inputs, from a JSON body: (rows, their
    /// `rows · width` values, row-major). There must be one FP32 input tensor of shape
    /// `[B, width]` (B ≥ 1) or `[width]`, whose data (flat or nested) are exactly that
    /// many finite numbers.
    ///
    /// # Errors
    /// A 400 [`ApiError`] saying which of those does not hold.
    pub fn rows(&self, width: usize) -> Result<(usize, Vec<f32>), ApiError> {
        self.rows_with(width, &[])
    }

    /// As [`InferRequest::rows`], the input's values being in `data` or, with
    /// `binary_data_size`, in `binary` (the body after the JSON header), which it must
    /// use up exactly.
    fn rows_with(&self, width: usize, binary: &[u8]) -> Result<(usize, Vec<f32>), ApiError> {
        let [input] = &self.inputs[..] else {
            return Err(ApiError::bad(format!(
                "expected one input tensor, found {}",
                self.inputs.len()
            )));
        };
        if input.datatype != "FP32" {
            return Err(ApiError::bad(format!(
                "input {:?} has datatype {:?}; this model takes FP32",
                input.name, input.datatype
            )));
        }
        let (rows, needed) = shape_rows(&input.name, &input.shape, width)?;
        let values = match (&input.data, input.parameters.binary_data_size) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad(format!(
                    "input {:?} has both \"data\" and a binary_data_size: send one",
                    input.name
                )))
            }
            (None, None) => {
                return Err(ApiError::bad(format!(
                    "input {:?} has no \"data\" and no binary_data_size parameter",
                    input.name
                )))
            }
            (Some(data), None) => {
                if !binary.is_empty() {
                    return Err(ApiError::bad(format!(
                        "{} bytes follow the JSON header, but no input has a binary_data_size",
                        binary.len()
                    )));
                }
                let values = data.values()?;
                if values.len() != needed {
                    return Err(ApiError::bad(format!(
                        "input {:?} has {} values; shape {:?} needs {needed}",
                        input.name,
                        values.len(),
                        input.shape,
                    )));
                }
                values.to_vec()
            }
            (None, Some(size)) => {
                // A shape of 2⁶⁰ rows overflows the byte count: no size can match it.
                let expected = (needed as u64).checked_mul(4);
                if Some(size) != expected {
                    let expected = expected.map_or("more than 2⁶⁴".into(), |n| n.to_string());
                    return Err(ApiError::bad(format!(
                        "input {:?} has binary_data_size {size}; shape {:?} of FP32 needs {expected} bytes",
                        input.name, input.shape
                    )));
                }
                if binary.len() as u64 != size {
                    return Err(ApiError::bad(format!(
                        "input {:?} has binary_data_size {size}, but {} bytes follow the JSON \
                         header (is Inference-Header-Content-Length right?)",
                        input.name,
                        binary.len()
                    )));
                }
                fp32_from_le(binary, &format!("input {:?}", input.name))?
            }
        };
        Ok((rows, values))
    }
}

/// An inference's answer: the probabilities of each row and its most likely class.
pub(crate) struct Answer {
    rows: usize,
    probabilities: Vec<f32>,
    best: Vec<usize>,
    classes: Vec<String>,
}

impl Answer {
    fn new(model: &ServedModel, rows: usize, probabilities: Vec<f32>) -> Answer {
        let outputs = model.engine.outputs();
        let best: Vec<usize> = probabilities.chunks_exact(outputs).map(argmax).collect();
        let classes = best.iter().map(|&k| model.class_name(k)).collect();
        Answer {
            rows,
            probabilities,
            best,
            classes,
        }
    }

    /// An output's shape.
    fn shape(&self, output: Output) -> Vec<i64> {
        match output {
            Output::Probabilities => vec![
                self.rows as i64,
                (self.probabilities.len() / self.rows.max(1)) as i64,
            ],
            Output::Class | Output::ClassIndex => vec![self.rows as i64],
        }
    }

    /// An output's values as JSON.
    fn json(&self, output: Output) -> Value {
        match output {
            Output::Probabilities => json!(self.probabilities),
            Output::Class => json!(self.classes),
            Output::ClassIndex => json!(self.best),
        }
    }

    /// An output's raw bytes, as the protocol lays them out: FP32 and INT64 little-endian;
    /// BYTES each element as its length (4 bytes, little-endian) and then its bytes.
    fn raw(&self, output: Output) -> Vec<u8> {
        match output {
            Output::Probabilities => self
                .probabilities
                .iter()
                .flat_map(|p| p.to_le_bytes())
                .collect(),
            Output::Class => {
                let mut out = Vec::new();
                for name in &self.classes {
                    out.extend((name.len() as u32).to_le_bytes());
                    out.extend(name.as_bytes());
                }
                out
            }
            Output::ClassIndex => self
                .best
                .iter()
                .flat_map(|&k| (k as i64).to_le_bytes())
                .collect(),
        }
    }
}

async fn infer(
    State(server): State<Server>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    check_name(&server, &name)?;
    let body = body.map_err(|r| ApiError {
        status: r.status(),
        message: format!("bad request: {}", r.body_text()),
    })?;
    let header_length = headers.get(HEADER_LENGTH).map(|v| v.as_bytes());
    let request = parse_infer(&body, header_length, server.model.engine.inputs())?;
    drop(body);
    let probabilities = run(&server, request.values).await?;
    let answer = Answer::new(&server.model, request.rows, probabilities);
    let mut binary = Vec::new();
    let outputs: Vec<Value> = request
        .outputs
        .iter()
        .map(|&(output, raw)| {
            let mut tensor = json!({
                "name": output.name(),
                "datatype": output.datatype(),
                "shape": answer.shape(output),
            });
            if raw {
                let bytes = answer.raw(output);
                tensor["parameters"] = json!({"binary_data_size": bytes.len()});
                binary.extend(bytes);
            } else {
                tensor["data"] = answer.json(output);
            }
            tensor
        })
        .collect();
    let header = json!({
        "model_name": server.model.name,
        "model_version": "1",
        "id": request.id,
        "outputs": outputs,
    });
    if request.outputs.iter().all(|&(_, raw)| !raw) {
        return Ok(Json(header).into_response());
    }
    let mut bytes = serde_json::to_vec(&header).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.to_string(),
    })?;
    let length = bytes.len();
    bytes.extend(binary);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static(HEADER_LENGTH),
                length.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A (possibly nested) JSON array of numbers, flattened as it is read: 4 bytes per
/// number, where a `serde_json::Value` tree takes ten times that. The first value that
/// is not a finite 32-bit number is kept as an error; the rest is still read, as JSON.
#[derive(Default)]
struct Flat {
    values: Vec<f32>,
    error: Option<String>,
    /// The top level is an array.
    array: bool,
    /// The top-level array's first item is an array (None: it has none).
    first_nested: Option<bool>,
}

impl Flat {
    /// The numbers, or a 400 saying which value is not a finite number.
    fn values(&self) -> Result<&[f32], ApiError> {
        match &self.error {
            Some(e) => Err(ApiError::bad(e.clone())),
            None => Ok(&self.values),
        }
    }

    fn number(&mut self, x: f64) {
        let y = x as f32;
        if self.error.is_some() {
        } else if y.is_finite() {
            self.values.push(y);
        } else {
            self.error = Some(format!(
                "value {x:?} at index {} is not a finite 32-bit number",
                self.values.len()
            ));
        }
    }

    fn not_a_number(&mut self, what: &str) {
        if self.error.is_none() {
            self.error = Some(format!(
                "value at index {} is {what}, not a number (NaN and infinity are refused)",
                self.values.len()
            ));
        }
    }
}

impl<'de> Deserialize<'de> for Flat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Flat, D::Error> {
        let mut flat = Flat::default();
        serde::de::DeserializeSeed::deserialize(
            Flatten {
                flat: &mut flat,
                depth: 0,
            },
            deserializer,
        )?;
        Ok(flat)
    }
}

/// Reads one JSON value into a [`Flat`], at a depth of nesting.
struct Flatten<'a> {
    flat: &'a mut Flat,
    depth: usize,
}

impl Flatten<'_> {
    /// Notes what the top-level array's first item is.
    fn item(&mut self, nested: bool) {
        if self.depth == 1 && self.flat.first_nested.is_none() {
            self.flat.first_nested = Some(nested);
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Flatten<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("numbers, or arrays of them")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.item(true);
        if self.depth == 0 {
            self.flat.array = true;
        }
        let depth = self.depth + 1;
        while seq
            .next_element_seed(Flatten {
                flat: &mut *self.flat,
                depth,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(mut self, x: f64) -> Result<(), E> {
        self.item(false);
        self.flat.number(x);
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, x: i64) -> Result<(), E> {
        self.visit_f64(x as f64)
    }

    fn visit_u64<E: serde::de::Error>(self, x: u64) -> Result<(), E> {
        self.visit_f64(x as f64)
    }

    fn visit_str<E: serde::de::Error>(mut self, x: &str) -> Result<(), E> {
        self.item(false);
        self.flat.not_a_number(&Value::from(x).to_string());
        Ok(())
    }

    fn visit_bool<E: serde::de::Error>(mut self, x: bool) -> Result<(), E> {
        self.item(false);
        self.flat.not_a_number(&x.to_string());
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.item(false);
        self.flat.not_a_number("null");
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.item(false);
        self.flat.not_a_number("an object");
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(())
    }
}

/// Scales `values` (rows of raw features) with the model's scaler and runs them.
async fn run(server: &Server, mut values: Vec<f32>) -> Result<Vec<f32>, ApiError> {
    let width = server.model.engine.inputs();
    if let Some(scaler) = &server.model.info.scaler {
        for row in values.chunks_exact_mut(width) {
            scaler.apply_row(row);
        }
    }
    server.infer(values).await
}

async fn predict(
    State(server): State<Server>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|r| ApiError {
        status: r.status(),
        message: format!("bad request: {}", r.body_text()),
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (values, one) = predict_rows(
        &body,
        content_type,
        server.model.engine.inputs(),
        server.model.info.image_shape,
    )?;
    let probabilities = run(&server, values).await?;
    let answers: Vec<Value> = probabilities
        .chunks_exact(server.model.engine.outputs())
        .map(|p| {
            let best = argmax(p);
            let named: serde_json::Map<String, Value> = p
                .iter()
                .enumerate()
                .map(|(k, &v)| (server.model.class_name(k), json!(v)))
                .collect();
            json!({
                "class": server.model.class_name(best),
                "index": best,
                "confidence": p[best],
                "probabilities": named,
            })
        })
        .collect();
    Ok(Json(if one {
        answers.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(answers)
    }))
}

/// The rows of a `/predict` body for a model of `width` inputs that takes images of
/// `image_shape` (None: not trained on images): (values, whether the body was one row).
///
/// A body starting with PNG's or JPEG's signature, or sent as `image/…`, is an image of
/// exactly the model's size, its pixels scaled to [0, 1]; anything else must be JSON: a
/// row `[x₁, …, xₙ]` or a list of rows, every value a finite number.
///
/// # Errors
/// A 400 [`ApiError`] saying what the body is and what was expected.
pub fn predict_rows(
    body: &[u8],
    content_type: &str,
    width: usize,
    image_shape: Option<ImageShape>,
) -> Result<(Vec<f32>, bool), ApiError> {
    let is_image = body.starts_with(b"\x89PNG") || body.starts_with(&[0xff, 0xd8, 0xff]);
    if is_image || content_type.starts_with("image/") {
        return Ok((image_row(image_shape, width, body)?, true));
    }
    let flat: Flat = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("the body is not a PNG, a JPEG or JSON: {e}")))?;
    let one = flat.array && flat.first_nested != Some(true);
    let values = flat.values()?;
    if values.is_empty() || values.len() % width.max(1) != 0 || (one && values.len() != width) {
        return Err(ApiError::bad(format!(
            "expected a JSON row of {width} numbers, or a list of such rows; found {} numbers",
            values.len()
        )));
    }
    Ok((flat.values, one))
}

/// The pixels of a PNG or JPEG body in [0, 1], converted to the model's channels; the
/// image must have the model's size. It is decoded under the library's image limits, so
/// a small body that claims a huge image is refused before its pixels are allocated.
fn image_row(
    image_shape: Option<ImageShape>,
    width: usize,
    bytes: &[u8],
) -> Result<Vec<f32>, ApiError> {
    let Some(shape) = image_shape else {
        return Err(ApiError::bad(format!(
            "this model was not trained on images; send a JSON row of {width} numbers"
        )));
    };
    let (w, h, raw) = image_folder::decode_pixels(bytes, shape.channels).map_err(ApiError::bad)?;
    if w as usize != shape.width || h as usize != shape.height {
        return Err(ApiError::bad(format!(
            "the image is {w}×{h} pixels; the model takes {}×{} (width × height)",
            shape.width, shape.height
        )));
    }
    Ok(raw.iter().map(|&p| f32::from(p) / 255.0).collect())
}
