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
//! **Bad input** — malformed JSON, a wrong shape or datatype, NaN or infinite values, a
//! body over [`MAX_BODY_BYTES`], an image that cannot be decoded or has the wrong size —
//! is a 4xx answer with `{"error": "…"}`; the server keeps serving.

pub mod metrics;
pub mod net;

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
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
    net::serve_router(listener, router(server), metrics, options, shutdown).await
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

async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "glassbox",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": [],
    }))
}

async fn model_metadata(
    State(server): State<Server>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&server, &name)?;
    let model = &server.model;
    let (inputs, outputs) = (model.engine.inputs(), model.engine.outputs());
    let classes: Vec<String> = (0..outputs).map(|k| model.class_name(k)).collect();
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

/// One input tensor of an inference request.
#[derive(Deserialize)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    data: Flat,
}

/// An inference request of the Open Inference Protocol, as its JSON body is read.
#[derive(Deserialize)]
pub struct InferRequest {
    /// The caller's request id, echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    inputs: Vec<InputTensor>,
}

impl InferRequest {
    /// The request's rows for a model of `width` inputs: (rows, their `rows · width`
    /// values, row-major). There must be one FP32 input tensor of shape `[B, width]`
    /// (B ≥ 1) or `[width]`, whose data (flat or nested) are exactly that many finite
    /// numbers.
    ///
    /// # Errors
    /// A 400 [`ApiError`] saying which of those does not hold.
    pub fn rows(&self, width: usize) -> Result<(usize, Vec<f32>), ApiError> {
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
        let rows = match input.shape[..] {
            [b, n] if b > 0 && usize::try_from(n) == Ok(width) => usize::try_from(b).ok(),
            [n] if usize::try_from(n) == Ok(width) => Some(1),
            _ => None,
        };
        // The shape is the caller's claim: the values are counted, never reserved for.
        let Some((rows, needed)) = rows.and_then(|r| Some((r, r.checked_mul(width)?))) else {
            return Err(ApiError::bad(format!(
                "input {:?} has shape {:?}; this model takes [batch, {width}]",
                input.name, input.shape
            )));
        };
        let values = input.data.values()?;
        if values.len() != needed {
            return Err(ApiError::bad(format!(
                "input {:?} has {} values; shape {:?} needs {needed}",
                input.name,
                values.len(),
                input.shape,
            )));
        }
        Ok((rows, values.to_vec()))
    }
}

async fn infer(
    State(server): State<Server>,
    Path(name): Path<String>,
    body: Result<Json<InferRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    check_name(&server, &name)?;
    let Json(request) = body?;
    let (rows, values) = request.rows(server.model.engine.inputs())?;
    let probabilities = run(&server, values).await?;
    let outputs = server.model.engine.outputs();
    let best: Vec<usize> = probabilities.chunks_exact(outputs).map(argmax).collect();
    Ok(Json(json!({
        "model_name": server.model.name,
        "model_version": "1",
        "id": request.id,
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [rows, outputs], "data": probabilities},
            {"name": "class", "datatype": "BYTES", "shape": [rows],
             "data": best.iter().map(|&k| server.model.class_name(k)).collect::<Vec<_>>()},
            {"name": "class_index", "datatype": "INT64", "shape": [rows], "data": best},
        ],
    })))
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
