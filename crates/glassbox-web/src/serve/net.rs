//! Serving on a network: the accept loop behind [`serve_with`](super::serve_with), with
//! a bearer token, timeouts, a cap on connections and bounds on the work in flight.
//!
//! Each part answers one way a client on a network can hurt the others:
//!
//! - **Who may ask.** With an [`ApiKey`], every route but `/v2/health/*` needs
//!   `Authorization: Bearer <token>`; the token is compared in constant time, and a
//!   missing or wrong one gets 401 with `WWW-Authenticate: Bearer`.
//! - **Clients that stop half-way.** A connection whose request head has not arrived
//!   [`Limits::header_timeout`] after its first byte, or that sends nothing for
//!   [`Limits::idle_timeout`] between requests, is closed. A body must keep up with
//!   [`Limits::min_body_rate`] bytes per second after a grace of [`Limits::body_grace`]
//!   (so big honest uploads pass and a stalled one does not): one that falls behind is
//!   answered 408 and its connection closed.
//! - **Too many connections.** At most [`Limits::max_connections`] are open at once
//!   (the default leaves headroom under the process's open-file limit); past it the
//!   server stops accepting until one closes, and the kernel's backlog holds the rest.
//! - **Too much work.** At most [`Limits::max_inflight_requests`] requests, carrying at
//!   most [`Limits::max_inflight_bytes`] bytes of body between them, are admitted at
//!   once; past either limit the answer is 503 with `Retry-After: 1` at once, never a
//!   queue. The health routes are outside these limits and the token; `/metrics` is
//!   outside the limits.
//! - **Stopping.** When the shutdown future completes the server stops accepting, lets
//!   each connection finish the request it is on, and returns once all are closed or
//!   after [`Limits::drain_timeout`].

use super::grpc::{self, GrpcServer};
use super::metrics::{Metrics, Shed};
use crate::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::Service;

/// The server's limits. [`Limits::default`] gives the values `glassbox serve` uses when
/// no flag changes them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most (default: see [`default_max_connections`]).
    pub max_connections: usize,
    /// Requests admitted at once (default 1 024); past it, 503.
    pub max_inflight_requests: usize,
    /// Body bytes of the admitted requests together (default 64 MiB, one request of the
    /// largest size); past it, 503. A request whose body alone is larger gets 413.
    pub max_inflight_bytes: usize,
    /// From a request head's first byte to its end (default 10 s).
    pub header_timeout: Duration,
    /// Between requests on a kept-alive connection, or before the first (default 30 s).
    pub idle_timeout: Duration,
    /// How long a body may take before [`Limits::min_body_rate`] applies (default 10 s).
    pub body_grace: Duration,
    /// Bytes per second a body must average after the grace (default 8 192): a body of
    /// n bytes may take `body_grace + n / min_body_rate`.
    pub min_body_rate: u64,
    /// After the shutdown signal, how long the requests in flight may take (default 30 s).
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            max_inflight_requests: 1024,
            max_inflight_bytes: super::MAX_BODY_BYTES,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            body_grace: Duration::from_secs(10),
            min_body_rate: 8192,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The default cap on open connections: the process's soft limit on open files
/// (`RLIMIT_NOFILE`) less an eighth of it (at least 64) for the listener, the model file,
/// the runtime and the standard streams; 4 096 where the limit cannot be read.
pub fn default_max_connections() -> usize {
    let soft = open_file_limit().unwrap_or(4096 + 64);
    soft.saturating_sub((soft / 8).max(64)).max(1)
}

/// The soft limit on open files, capped at 1 << 20.
#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    Some(
        usize::try_from(limit.rlim_cur)
            .unwrap_or(usize::MAX)
            .min(1 << 20),
    )
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

/// The bearer token that requests must carry.
pub struct ApiKey(Vec<u8>);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

impl ApiKey {
    /// A key whose token is `token`: one word of visible ASCII characters.
    ///
    /// # Errors
    /// What is wrong with the token.
    pub fn new(token: &str) -> Result<ApiKey, String> {
        if token.is_empty() {
            return Err("the token is empty".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token must be one word of visible ASCII characters (no spaces)".into(),
            );
        }
        Ok(ApiKey(token.as_bytes().to_vec()))
    }

    /// Reads the token from `path`, which must not be readable or writable by the
    /// group or other users (Unix mode `& 0o077 == 0`) and must hold one token (leading
    /// and trailing white space, such as the final newline, are dropped).
    ///
    /// # Errors
    /// One sentence naming the file and what to do: it cannot be read, other users may
    /// read it (`chmod 600`), or it holds no token.
    pub fn from_file(path: &std::path::Path) -> Result<ApiKey, String> {
        let shown = path.display();
        let metadata = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
        if !metadata.is_file() {
            return Err(format!("{shown}: not a file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{shown}: the key file is open to other users (mode {mode:03o}); \
                     make it private with `chmod 600 {shown}`"
                ));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        ApiKey::new(text.trim()).map_err(|e| {
            format!("{shown}: {e}; put one token in it, e.g. `openssl rand -hex 32 > {shown}`")
        })
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`. The scheme's name
    /// is case-insensitive (RFC 6750); the token is compared in time that depends only
    /// on its length.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let Some((scheme, token)) = value.split_at_checked(7) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer ") & constant_time_eq(token, &self.0)
    }
}

/// Whether `a == b`, in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let differ = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(differ) == 0
}

/// How the server runs: its limits, when set the token requests need, and the listener
/// of its gRPC service.
#[derive(Debug, Default)]
pub struct ServeOptions {
    /// The limits.
    pub limits: Limits,
    /// The token; None: no token is asked for.
    pub api_key: Option<ApiKey>,
    /// Where the gRPC service ([`grpc`](super::grpc::service)) listens; None: no gRPC.
    pub grpc: Option<TcpListener>,
}

/// What every connection shares.
struct Shared {
    router: Router,
    grpc: Option<GrpcServer>,
    metrics: Arc<Metrics>,
    options: ServeOptions,
    requests: Semaphore,
    bytes: Semaphore,
    /// The largest body one request may have: the smaller of the two limits.
    max_body: usize,
}

/// Serves `router` on `listener` with `options` until `shutdown` completes, then drains
/// (see the [module docs](self)).
///
/// # Errors
/// None today: failed accepts (such as running out of file descriptors) are waited out.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    grpc: Option<GrpcServer>,
    metrics: Arc<Metrics>,
    mut options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let grpc_listener = options.grpc.take();
    let limits = &options.limits;
    let max_connections = limits.max_connections.clamp(1, u32::MAX as usize);
    let shared = Arc::new(Shared {
        router,
        grpc,
        metrics,
        requests: Semaphore::new(limits.max_inflight_requests.min(Semaphore::MAX_PERMITS)),
        bytes: Semaphore::new(limits.max_inflight_bytes.min(Semaphore::MAX_PERMITS)),
        max_body: limits.max_inflight_bytes.min(super::MAX_BODY_BYTES),
        options,
    });
    let connections = Arc::new(Semaphore::new(max_connections));
    let (stop, stopping) = watch::channel(());
    if let Some(listener) = grpc_listener {
        tokio::spawn(grpc_accept(
            shared.clone(),
            listener,
            connections.clone(),
            stopping.clone(),
        ));
    }
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, or a connection reset before it was taken:
                // wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(shared.clone(), stream, permit, stopping.clone()));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    let drain = shared.options.limits.drain_timeout;
    let all_closed = connections.acquire_many(max_connections as u32);
    let _ = tokio::time::timeout(drain, all_closed).await;
    Ok(())
}

/// Milliseconds since the first call, plus one (0 means "not set").
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// One connection's clock, kept by its reads and writes and by its requests.
#[derive(Default)]
struct ConnClock {
    /// Requests being handled (the handler has not answered).
    active: AtomicU32,
    /// When the first byte of a request head arrived while no request was active (0:
    /// none since the last answer).
    head_started: AtomicU64,
    /// The last write or answer, or when the connection opened.
    idle_since: AtomicU64,
}

/// A socket that tells its [`ConnClock`] when bytes come and go.
struct Watched {
    stream: TcpStream,
    clock: Arc<ConnClock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.clock.active.load(Relaxed) == 0
            && self.clock.head_started.load(Relaxed) == 0
        {
            self.clock.head_started.store(now_ms(), Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.stream).poll_write(cx, buf));
        self.clock.idle_since.store(now_ms(), Relaxed);
        Poll::Ready(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, bufs));
        self.clock.idle_since.store(now_ms(), Relaxed);
        Poll::Ready(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Completes when the connection has broken the head or idle timeout, saying which.
async fn watchdog(clock: &ConnClock, limits: &Limits) -> Shed {
    let header = limits.header_timeout.as_millis() as u64;
    let idle = limits.idle_timeout.as_millis() as u64;
    loop {
        let now = now_ms();
        let wait = if clock.active.load(Relaxed) > 0 {
            // The body's own timer watches a request being read; look again later.
            header.min(idle)
        } else {
            let head = clock.head_started.load(Relaxed);
            let (deadline, why) = if head != 0 {
                (head + header, Shed::HeaderTimeout)
            } else {
                (clock.idle_since.load(Relaxed) + idle, Shed::Idle)
            };
            if now >= deadline {
                return why;
            }
            deadline - now
        };
        tokio::time::sleep(Duration::from_millis(wait.max(1))).await;
    }
}

/// Decrements a gauge when dropped.
struct Gauge<'a>(&'a std::sync::atomic::AtomicI64, i64);

impl<'a> Gauge<'a> {
    fn add(gauge: &'a std::sync::atomic::AtomicI64, n: i64) -> Self {
        gauge.fetch_add(n, Relaxed);
        Gauge(gauge, n)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Relaxed);
    }
}

/// The most a connection buffers of what it reads (hyper's default is ~400 KB): a request
/// head must fit, and a body streams through it. Every open connection may hold this
/// much before its head is parsed, so it bounds what slow heads can take together
/// (64 KiB × [`Limits::max_connections`]) until the header timeout closes them.
pub const READ_BUFFER_BYTES: usize = 64 << 10;

/// Drives a connection (HTTP/1.1 or HTTP/2) until it ends, or its watchdog fires (the
/// connection is shed and closed), or the server drains: then `graceful` asks it to finish
/// the requests it has and close.
async fn drive<C: std::future::Future>(
    mut conn: std::pin::Pin<&mut C>,
    graceful: impl Fn(std::pin::Pin<&mut C>),
    shared: &Shared,
    clock: &ConnClock,
    stopping: &mut watch::Receiver<()>,
) {
    let watch = watchdog(clock, &shared.options.limits);
    tokio::pin!(watch);
    let mut draining = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            why = &mut watch => {
                shared.metrics.shed(why);
                break;
            }
            _ = stopping.changed(), if !draining => {
                draining = true;
                graceful(conn.as_mut());
            }
        }
    }
}

/// Serves one connection until it closes, breaks a timeout, or the server drains.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
    mut stopping: watch::Receiver<()>,
) {
    let _open = Gauge::add(&shared.metrics.open_connections, 1);
    let clock = Arc::new(ConnClock::default());
    clock.idle_since.store(now_ms(), Relaxed);
    let io = TokioIo::new(Watched {
        stream,
        clock: clock.clone(),
    });
    let service = {
        let (shared, clock) = (shared.clone(), clock.clone());
        hyper::service::service_fn(move |request| handle(shared.clone(), clock.clone(), request))
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // The watchdog times the head; hyper's own timer would also end idle waits.
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES)
        .serve_connection(io, service);
    tokio::pin!(conn);
    drive(
        conn,
        |c| c.graceful_shutdown(),
        &shared,
        &clock,
        &mut stopping,
    )
    .await;
}

/// The route a path belongs to, as the metrics name it.
fn route_of(path: &str) -> &'static str {
    match path {
        "/v2" => "/v2",
        "/v2/health/live" => "/v2/health/live",
        "/v2/health/ready" => "/v2/health/ready",
        "/predict" => "/predict",
        "/metrics" => "/metrics",
        _ => match path.strip_prefix("/v2/models/") {
            Some(rest) if rest.ends_with("/infer") => "/v2/models/{name}/infer",
            Some(rest) if rest.ends_with("/ready") => "/v2/models/{name}/ready",
            Some(rest) if !rest.contains('/') => "/v2/models/{name}",
            _ => "other",
        },
    }
}

/// Why a request's body failed, as [`LimitedBody`] records it.
const BODY_OK: u8 = 0;
const BODY_TOO_SLOW: u8 = 1;
const BODY_BUSY: u8 = 2;

/// What one request holds of the byte budget, and why its body failed.
struct Hold {
    /// Permits of [`Shared::bytes`] taken (and forgotten) for this request.
    bytes: AtomicUsize,
    failed: AtomicU8,
}

/// Answers one request: health at once; otherwise the token, admission, the routes.
async fn handle(
    shared: Arc<Shared>,
    clock: Arc<ConnClock>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    clock.active.fetch_add(1, Relaxed);
    clock.head_started.store(0, Relaxed);
    let route = route_of(request.uri().path());
    let response = admit(&shared, route, request, started).await;
    shared
        .metrics
        .request(route, response.status().as_u16(), started.elapsed());
    clock.active.fetch_sub(1, Relaxed);
    clock.idle_since.store(now_ms(), Relaxed);
    Ok(response)
}

fn refusal(status: StatusCode, message: String) -> Response<Body> {
    ApiError { status, message }.into_response()
}

async fn admit(
    shared: &Arc<Shared>,
    route: &'static str,
    request: Request<Incoming>,
    started: Instant,
) -> Response<Body> {
    let mut router = shared.router.clone();
    if route.starts_with("/v2/health/") {
        return call(&mut router, request.map(Body::new)).await;
    }
    if let Some(key) = &shared.options.api_key {
        if !key.admits(request.headers()) {
            let mut response = refusal(
                StatusCode::UNAUTHORIZED,
                "this server needs a token: send `Authorization: Bearer <token>` \
                 (the token is in the file given to --api-key-file)"
                    .into(),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            close_if_body_unread(&request, &mut response);
            return response;
        }
    }
    if route == "/metrics" {
        // Cheap, and most wanted when the server is at its limits.
        return call(&mut router, request.map(Body::new)).await;
    }
    let limits = &shared.options.limits;
    let Ok(_request_permit) = shared.requests.try_acquire() else {
        return busy(
            shared,
            &request,
            format!(
                "the server is busy: {} requests in flight (--max-inflight-requests); retry later",
                limits.max_inflight_requests
            ),
        );
    };
    let _inflight = Gauge::add(&shared.metrics.inflight_requests, 1);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if declared > super::MAX_BODY_BYTES as u64 {
        // The routes answer 413 from the header.
        return call(&mut router, request.map(Body::new)).await;
    }
    if declared > shared.max_body as u64 {
        let mut response = refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is {declared} bytes; this server takes at most {} at once \
                 (--max-inflight-bytes)",
                shared.max_body
            ),
        );
        close_if_body_unread(&request, &mut response);
        return response;
    }
    let declared = declared as usize;
    let hold = Arc::new(Hold {
        bytes: AtomicUsize::new(0),
        failed: AtomicU8::new(BODY_OK),
    });
    let _release = Release {
        shared,
        hold: &hold,
    };
    if declared > 0 {
        match shared.bytes.try_acquire_many(declared as u32) {
            Ok(permit) => {
                permit.forget();
                hold.bytes.store(declared, Relaxed);
                shared
                    .metrics
                    .inflight_bytes
                    .fetch_add(declared as i64, Relaxed);
            }
            Err(_) => {
                return busy(
                    shared,
                    &request,
                    format!(
                        "the server is busy: {} bytes of requests in flight \
                         (--max-inflight-bytes); retry later",
                        limits.max_inflight_bytes
                    ),
                )
            }
        }
    }
    let request = request.map(|incoming| {
        if incoming.is_end_stream() {
            Body::new(incoming)
        } else {
            Body::new(LimitedBody::new(incoming, shared, &hold, started))
        }
    });
    let response = call(&mut router, request).await;
    match hold.failed.load(Relaxed) {
        BODY_TOO_SLOW => {
            shared.metrics.shed(Shed::BodyTimeout);
            let mut response = refusal(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body came slower than {} bytes/s after {:?}; the connection is closed",
                    limits.min_body_rate, limits.body_grace
                ),
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        BODY_BUSY => {
            shared.metrics.shed(Shed::Busy);
            let mut response = refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server is busy: {} bytes of requests in flight \
                     (--max-inflight-bytes); retry later",
                    limits.max_inflight_bytes
                ),
            );
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        _ => response,
    }
}

/// Gives a request's bytes back to the budget when it is answered.
struct Release<'a> {
    shared: &'a Shared,
    hold: &'a Hold,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let bytes = self.hold.bytes.swap(0, Relaxed);
        if bytes > 0 {
            self.shared.bytes.add_permits(bytes);
            self.shared
                .metrics
                .inflight_bytes
                .fetch_sub(bytes as i64, Relaxed);
        }
    }
}

async fn call(router: &mut Router, request: Request<Body>) -> Response<Body> {
    match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A 503 with `Retry-After: 1`, counted.
fn busy(shared: &Shared, request: &Request<Incoming>, message: String) -> Response<Body> {
    shared.metrics.shed(Shed::Busy);
    let mut response = refusal(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    close_if_body_unread(request, &mut response);
    response
}

/// Asks for the connection to close after a refusal that leaves a large body (over
/// 64 KiB, or of unknown length) unread, so it is not read only to be thrown away.
fn close_if_body_unread(request: &Request<Incoming>, response: &mut Response<Body>) {
    let body = request.body();
    let large = body.size_hint().exact().is_none_or(|n| n > 64 << 10);
    if !body.is_end_stream() && large {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// A request body that must keep up with the minimum rate, and whose bytes past the
/// declared length (a chunked body) are taken from the byte budget as they come.
struct LimitedBody {
    incoming: Incoming,
    shared: Arc<Shared>,
    hold: Arc<Hold>,
    started: Instant,
    received: u64,
    /// When the body falls behind the rate, set at the first wait.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl LimitedBody {
    /// A body read from `incoming` since `started`, held to the server's limits.
    fn new(incoming: Incoming, shared: &Arc<Shared>, hold: &Arc<Hold>, started: Instant) -> Self {
        LimitedBody {
            incoming,
            shared: shared.clone(),
            hold: hold.clone(),
            started,
            received: 0,
            timer: None,
        }
    }

    /// The moment the bytes received so far stop covering the rate.
    fn deadline(&self) -> tokio::time::Instant {
        let limits = &self.shared.options.limits;
        let allowed = self.received as f64 / limits.min_body_rate.max(1) as f64;
        let allowed = Duration::try_from_secs_f64(allowed).unwrap_or(Duration::MAX / 4);
        tokio::time::Instant::from_std(self.started) + limits.body_grace + allowed
    }

    fn fail(&self, why: u8, message: &str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.hold.failed.store(why, Relaxed);
        Poll::Ready(Some(Err(message.into())))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpBody for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let this = &mut *self;
                    this.received += data.len() as u64;
                    let held = this.hold.bytes.load(Relaxed) as u64;
                    if this.received > held {
                        let more = (this.received - held) as usize;
                        let Ok(permit) = u32::try_from(more)
                            .map_err(|_| ())
                            .and_then(|n| this.shared.bytes.try_acquire_many(n).map_err(|_| ()))
                        else {
                            return this.fail(BODY_BUSY, "the server is busy");
                        };
                        permit.forget();
                        this.hold.bytes.fetch_add(more, Relaxed);
                        this.shared
                            .metrics
                            .inflight_bytes
                            .fetch_add(more as i64, Relaxed);
                    }
                    if this.timer.is_some() {
                        let deadline = this.deadline();
                        if let Some(timer) = this.timer.as_mut() {
                            timer.as_mut().reset(deadline);
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if self.timer.is_none() {
                    let deadline = self.deadline();
                    self.timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
                }
                let timer = self.timer.as_mut().map(|t| t.as_mut().poll(cx));
                if let Some(Poll::Ready(())) = timer {
                    return self.fail(BODY_TOO_SLOW, "the body came too slowly");
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// The most streams (calls) one HTTP/2 connection may have open at once.
const GRPC_STREAMS_PER_CONNECTION: u32 = 256;

/// Accepts gRPC connections on `listener`, under the same cap on connections as HTTP,
/// until the server stops.
async fn grpc_accept(
    shared: Arc<Shared>,
    listener: TcpListener,
    connections: Arc<Semaphore>,
    mut stopping: watch::Receiver<()>,
) {
    loop {
        let permit = tokio::select! {
            biased;
            _ = stopping.changed() => break,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = stopping.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        tokio::spawn(grpc_connection(
            shared.clone(),
            stream,
            permit,
            stopping.clone(),
        ));
    }
}

/// Serves one HTTP/2 connection of gRPC calls until it closes, has been idle (no call
/// open) for [`Limits::idle_timeout`], or the server drains.
async fn grpc_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
    mut stopping: watch::Receiver<()>,
) {
    let _open = Gauge::add(&shared.metrics.open_connections, 1);
    let clock = Arc::new(ConnClock::default());
    clock.idle_since.store(now_ms(), Relaxed);
    let service = {
        let (shared, clock) = (shared.clone(), clock.clone());
        hyper::service::service_fn(move |request| {
            handle_grpc(shared.clone(), clock.clone(), request)
        })
    };
    let _ = stream.set_nodelay(true);
    let conn = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(GRPC_STREAMS_PER_CONNECTION)
        // A peer that stops answering pings is gone: close its connection.
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // Reads are not watched here (HTTP/2 frames have no request head to time): the
    // watchdog sees only the idle time between calls.
    drive(
        conn,
        |c| c.graceful_shutdown(),
        &shared,
        &clock,
        &mut stopping,
    )
    .await;
}

/// The gRPC status code in a response's headers (a call that failed before its
/// message), or OK (a unary call's status then comes in its trailers, and this server
/// fails a call before answering it).
fn grpc_code(response: &Response<tonic::body::Body>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

/// Answers one gRPC call: the liveness and readiness probes at once; otherwise the
/// token, admission (the same request and byte bounds as HTTP, UNAVAILABLE past them),
/// then the service.
async fn handle_grpc(
    shared: Arc<Shared>,
    clock: Arc<ConnClock>,
    request: Request<Incoming>,
) -> Result<Response<tonic::body::Body>, Infallible> {
    let started = Instant::now();
    clock.active.fetch_add(1, Relaxed);
    let method = grpc::method_of(request.uri().path());
    let response = admit_grpc(&shared, method, request, started).await;
    shared
        .metrics
        .grpc_request(method, grpc_code(&response), started.elapsed());
    clock.active.fetch_sub(1, Relaxed);
    clock.idle_since.store(now_ms(), Relaxed);
    Ok(response)
}

async fn admit_grpc(
    shared: &Arc<Shared>,
    method: &'static str,
    request: Request<Incoming>,
    started: Instant,
) -> Response<tonic::body::Body> {
    let Some(service) = &shared.grpc else {
        return tonic::Status::unimplemented("no gRPC service").into_http();
    };
    let mut service = service.clone();
    let call = |service: &mut GrpcServer, request: Request<LimitedOrNot>| {
        let future = service.call(request);
        async move {
            match future.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    };
    if method == "ServerLive" || method == "ServerReady" {
        return call(&mut service, request.map(LimitedOrNot::Not)).await;
    }
    if let Some(key) = &shared.options.api_key {
        if !key.admits(request.headers()) {
            return tonic::Status::unauthenticated(
                "this server needs a token: send the metadata `authorization: Bearer <token>` \
                 (the token is in the file given to --api-key-file)",
            )
            .into_http();
        }
    }
    let limits = &shared.options.limits;
    let Ok(_request_permit) = shared.requests.try_acquire() else {
        shared.metrics.grpc_shed(Shed::Busy);
        return tonic::Status::unavailable(format!(
            "the server is busy: {} requests in flight (--max-inflight-requests); retry later",
            limits.max_inflight_requests
        ))
        .into_http();
    };
    let _inflight = Gauge::add(&shared.metrics.inflight_requests, 1);
    let hold = Arc::new(Hold {
        bytes: AtomicUsize::new(0),
        failed: AtomicU8::new(BODY_OK),
    });
    let _release = Release {
        shared,
        hold: &hold,
    };
    // A gRPC body has no declared length: its bytes are taken from the budget as
    // they arrive, and must keep up with the minimum rate.
    let request = request
        .map(|incoming| LimitedOrNot::Limited(LimitedBody::new(incoming, shared, &hold, started)));
    let response = call(&mut service, request).await;
    match hold.failed.load(Relaxed) {
        BODY_TOO_SLOW => {
            shared.metrics.grpc_shed(Shed::BodyTimeout);
            tonic::Status::deadline_exceeded(format!(
                "the message came slower than {} bytes/s after {:?}",
                limits.min_body_rate, limits.body_grace
            ))
            .into_http()
        }
        BODY_BUSY => {
            shared.metrics.grpc_shed(Shed::Busy);
            tonic::Status::unavailable(format!(
                "the server is busy: {} bytes of requests in flight (--max-inflight-bytes); \
                 retry later",
                limits.max_inflight_bytes
            ))
            .into_http()
        }
        _ => response,
    }
}

/// A gRPC request's body: counted against the bounds, or (a probe) as it came.
enum LimitedOrNot {
    Limited(LimitedBody),
    Not(Incoming),
}

impl HttpBody for LimitedOrNot {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            LimitedOrNot::Limited(body) => Pin::new(body).poll_frame(cx),
            LimitedOrNot::Not(body) => Pin::new(body)
                .poll_frame(cx)
                .map_err(|e| Box::new(e) as BoxError),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            LimitedOrNot::Limited(body) => body.is_end_stream(),
            LimitedOrNot::Not(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            LimitedOrNot::Limited(body) => body.size_hint(),
            LimitedOrNot::Not(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_checked_with_its_scheme() {
        let key = ApiKey::new("s3cret-token").unwrap();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            key.admits(&headers)
        };
        assert!(with("Bearer s3cret-token"));
        assert!(with("bearer s3cret-token"));
        assert!(!with("Bearer s3cret-tokem"));
        assert!(!with("Bearer s3cret-token "));
        assert!(!with("Basic s3cret-token"));
        assert!(!with("Bearer"));
        assert!(!key.admits(&HeaderMap::new()));
        assert!(ApiKey::new("").is_err());
        assert!(ApiKey::new("two words").is_err());
    }

    #[test]
    fn routes_are_named_by_their_pattern() {
        assert_eq!(
            route_of("/v2/models/fashion/infer"),
            "/v2/models/{name}/infer"
        );
        assert_eq!(route_of("/v2/models/fashion"), "/v2/models/{name}");
        assert_eq!(
            route_of("/v2/models/fashion/ready"),
            "/v2/models/{name}/ready"
        );
        assert_eq!(route_of("/v2/health/live"), "/v2/health/live");
        assert_eq!(route_of("/nowhere"), "other");
    }

    #[test]
    fn the_default_connection_cap_leaves_headroom() {
        let cap = default_max_connections();
        if let Some(soft) = open_file_limit() {
            assert!(cap + 64 <= soft || cap == 1, "{cap} of {soft}");
        }
    }
}
