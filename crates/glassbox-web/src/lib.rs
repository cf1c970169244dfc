//! # glassbox-web — the playground
//!
//! A local web server whose page trains a network with the glassbox engine and shows
//! every neuron while it learns. The page's HTML, JavaScript and CSS are compiled into
//! the binary ([`assets`]); nothing is fetched at run time and no route reads files from
//! disk. The page draws; all arithmetic — data, forward passes, training, explanations —
//! runs here, in the library's code, the same code the command line runs.
//!
//! ```text
//! GET  /                       the page (and /app.js, /style.css)
//! POST /api/playground         2-D settings → data points, classes; without a session
//!                              header it opens a session (503 with the reason when full)
//! POST /api/control            {"action": "play" | "pause" | "step" | "reset"}
//! GET  /api/stream?session=ID  Server-Sent Events: `frame` (every neuron's heat map,
//!                              weights, losses), `train-error` and `expired`
//! POST /api/explain            {"point": i} → every number of one step on training point i
//! POST /api/image/train        train a classifier on the digits (or Fashion-MNIST)
//! POST /api/image/open         {"path": "…"} → open a model file `glassbox train` saved
//! POST /api/image/predict      {"pixels": […]} → every layer's activations, the class
//! POST /api/image/test         {"index": i} → test image i
//! GET  /api/dashboard          the attached training run (`glassbox train --dashboard`)
//! GET  /api/dashboard/stream   Server-Sent Events: `dashboard`, the run after each change
//! POST /api/lessons/…          the Lessons view's widgets, stateless ([`lessons`])
//! ```
//!
//! Every error is a 4xx (or 5xx) response with a JSON body `{"error": "…"}`, one sentence
//! the page shows as is. The server binds to loopback unless told otherwise.
//!
//! **Sessions.** Every tab is a session of its own ([`playground::Sessions`]): its own
//! data, network, optimiser state, play/pause and image model. The server makes the id
//! (128 random bits) and the tab keeps it in memory and sends it with every request, in
//! the `x-glassbox-session` header (the stream: `?session=ID`). An unknown id (expired,
//! or from before a restart) is a 410 Gone; a full server a 503.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("playground: http://{}/", listener.local_addr()?);
//! glassbox_web::serve(listener, glassbox_web::App::default()).await
//! # }
//! ```

pub mod assets;
pub mod dashboard;
pub mod image;
pub mod layers;
pub mod lessons;
pub mod playground;
pub mod serve;

use axum::extract::rejection::JsonRejection;
use axum::extract::Query;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use playground::{
    Action, PlaygroundConfig, Problem, SessionError, SessionLimits, Sessions, StreamEvent, Tab,
};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;

/// Largest request body, in bytes: an uploaded CSV ([`playground::MAX_CSV_BYTES`]) inside
/// its JSON, with room for escaping.
pub const MAX_BODY_BYTES: usize = 3 << 20;

/// The header that carries a tab's session id.
pub const SESSION_HEADER: &str = "x-glassbox-session";

/// The server's state: every tab's session and, for `glassbox train --dashboard`, the
/// training run.
#[derive(Clone, Default)]
pub struct App {
    sessions: Arc<Sessions>,
    dashboard: Option<Arc<dashboard::Dashboard>>,
    /// Whether `/api/image/open` may read a file by path (only when the server is not
    /// reachable from other machines).
    no_paths: bool,
}

impl App {
    /// Refuses `/api/image/open` (reading a model file by path): for a server that
    /// listens beyond loopback (`--host`), where the page may be another machine's.
    pub fn without_paths(mut self) -> Self {
        self.no_paths = true;
        self
    }

    /// A server whose dashboard shows `run`.
    pub fn with_dashboard(run: Arc<dashboard::Dashboard>) -> Self {
        App {
            dashboard: Some(run),
            ..App::default()
        }
    }

    /// A server that takes tabs under `limits` (how many, how long idle, how many at once).
    pub fn with_limits(mut self, limits: SessionLimits) -> Self {
        self.sessions = Arc::new(Sessions::new(limits));
        self
    }

    /// Every tab's session.
    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    /// The session named by the request's `x-glassbox-session` header.
    fn tab(&self, headers: &HeaderMap) -> Result<Arc<Tab>, ApiError> {
        let id = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "no session: send the id that POST /api/playground gave in the {SESSION_HEADER} header"
                ))
            })?;
        self.sessions.get(id).map_err(ApiError::from)
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Full(message) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message,
            },
            SessionError::Unknown(message) => ApiError {
                status: StatusCode::GONE,
                message,
            },
        }
    }
}

/// An error answer: a status and one sentence, sent as `{"error": "…"}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status (4xx for the request's fault).
    pub status: StatusCode,
    /// What went wrong, for the page's error box.
    pub message: String,
}

impl ApiError {
    /// A 400 Bad Request with `message`.
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError {
            status: rejection.status(),
            message: format!("bad request: {}", rejection.body_text()),
        }
    }
}

/// The routes, over `app`.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/style.css", get(assets::style))
        .route("/api/playground", post(start_playground))
        .route("/api/control", post(control))
        .route("/api/stream", get(stream))
        .route("/api/session", get(session_status))
        .route("/api/explain", post(explain))
        .route("/api/image/train", post(image_train))
        .route("/api/image/open", post(image_open))
        .route("/api/image/predict", post(image_predict))
        .route("/api/image/test", post(image_test))
        .route("/api/dashboard", get(dashboard_now))
        .route("/api/dashboard/stream", get(dashboard_stream))
        .merge(lessons::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// Serves `app` on `listener` until the process ends or Ctrl-C.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve(listener: tokio::net::TcpListener, app: App) -> std::io::Result<()> {
    serve_until(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serves `app` on `listener` until `shutdown` completes (or the process ends); open
/// connections are then dropped.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sessions = app.sessions.clone();
    // Idle sessions are freed a few times per idle period (at least every 5 s).
    let reaper = {
        let sessions = sessions.clone();
        let every = (sessions.limits().idle / 4).clamp(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(5),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                sessions.reap();
            }
        })
    };
    // Not axum's graceful shutdown: it waits for every connection to end, and a page's
    // event streams never do. Stopping drops the server and its connections at once.
    let result = tokio::select! {
        served = axum::serve(listener, router(app)) => served,
        () = shutdown => Ok(()),
    };
    reaper.abort();
    sessions.stop();
    result
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such page: the playground serves /, /app.js, /style.css and /api/…".into(),
    }
}

async fn start_playground(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<PlaygroundConfig>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(config) = body?;
    // The tab's session, or a new one for a tab that has none yet.
    let (id, tab) = match headers.get(SESSION_HEADER) {
        Some(_) => {
            let tab = app.tab(&headers)?;
            let id = headers[SESSION_HEADER]
                .to_str()
                .unwrap_or_default()
                .to_string();
            (id, tab)
        }
        None => app.sessions.open()?,
    };
    // Building the data and the network is quick (≤ 5 000 points), but it is arithmetic:
    // off the async threads.
    let problem = tokio::task::spawn_blocking(move || Problem::new(config))
        .await
        .map_err(|e| ApiError::bad(format!("internal error: {e}")))?
        .map_err(ApiError::bad)?;
    let mut summary = problem.summary();
    let run = tab.playground.start(problem);
    summary["run"] = run.into();
    summary["session"] = id.into();
    summary["server"] = app.sessions.server().into();
    summary["idle_seconds"] = app.sessions.limits().idle.as_secs().into();
    Ok(Json(summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlRequest {
    action: Action,
}

async fn control(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<ControlRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = body?;
    let tab = app.tab(&headers)?;
    let run = tab.playground.act(request.action).map_err(ApiError::bad)?;
    Ok(Json(serde_json::json!({ "run": run })))
}

#[derive(Deserialize)]
struct StreamQuery {
    session: Option<String>,
}

async fn stream(
    State(app): State<App>,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = query
        .session
        .ok_or_else(|| ApiError::bad("no session: open /api/stream?session=ID"))?;
    let tab = app.sessions.get(&id)?;
    let rx = tab.playground.subscribe();
    let guard = tab.stream_guard();
    drop(tab);
    let events =
        futures_util::stream::unfold((rx, guard, true), |(mut rx, guard, first)| async move {
            // The first event is whatever is current; then one per change. A slow page
            // gets the newest frame, never a queue of old ones.
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let event = match &*rx.borrow_and_update() {
                StreamEvent::Idle => Event::default().event("idle").data("{}"),
                StreamEvent::Frame(json) => Event::default().event("frame").data(json.as_str()),
                StreamEvent::Error(json) => {
                    Event::default().event("train-error").data(json.as_str())
                }
                StreamEvent::Expired(json) => Event::default().event("expired").data(json.as_str()),
            };
            Some((Ok(event), (rx, guard, false)))
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// `GET /api/session`: whether the tab's session is alive, and this server's id (a page
/// that lost its stream asks this to tell a restart from a lost connection).
async fn session_status(State(app): State<App>, headers: HeaderMap) -> Json<serde_json::Value> {
    let alive = app.tab(&headers).is_ok();
    Json(serde_json::json!({
        "alive": alive,
        "server": app.sessions.server(),
        "sessions": app.sessions.len(),
        "max_sessions": app.sessions.limits().max_sessions,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainRequest {
    /// Index of the training point.
    point: usize,
}

async fn explain(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<ExplainRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = body?;
    let session = app
        .tab(&headers)?
        .playground
        .current()
        .ok_or_else(|| ApiError::bad("no network yet: the page sends its settings first"))?;
    let problem = &session.problem;
    let train = &problem.train;
    if request.point >= train.len() {
        return Err(ApiError::bad(format!(
            "training point {} does not exist: there are {} (0 to {})",
            request.point,
            train.len(),
            train.len() - 1
        )));
    }
    let network = playground::lock(&session.latest).clone();
    let mut target = vec![0.0; train.target_width()];
    train.write_target_row(request.point, &mut target);
    let config = &problem.train_config;
    let trace = glassbox::explain(
        &network,
        &train.row(request.point),
        &target,
        config.loss,
        &config.optimizer,
    )
    .map_err(|e| ApiError::bad(e.to_string()))?;
    let (x1, x2, label) = problem.train_points[request.point];
    Ok(Json(serde_json::json!({
        "point": request.point,
        "xy": [x1, x2],
        "class": problem.class_names[label],
        "optimizer": config.optimizer.name(),
        "trace": trace,
    })))
}

async fn dashboard_now(State(app): State<App>) -> Json<serde_json::Value> {
    Json(match &app.dashboard {
        Some(run) => serde_json::json!({ "active": true, "run": run.snapshot() }),
        None => serde_json::json!({ "active": false }),
    })
}

async fn dashboard_stream(
    State(app): State<App>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let run = app.dashboard.clone().ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no training run is attached: start one with `glassbox train … --dashboard PORT`"
            .into(),
    })?;
    let rx = run.subscribe();
    let events = futures_util::stream::unfold((rx, run, true), |(mut rx, run, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        rx.borrow_and_update();
        let json = serde_json::to_string(&run.snapshot()).unwrap_or_else(|e| {
            serde_json::json!({ "error": format!("cannot encode the run: {e}") }).to_string()
        });
        Some((
            Ok(Event::default().event("dashboard").data(json)),
            (rx, run, false),
        ))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Runs `work` on a blocking thread (arithmetic and file reads stay off the async ones).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("internal error: {e}"),
        })?
        .map_err(ApiError::bad)
}

/// Makes `model` the tab's image model and answers with its summary.
async fn show_model(
    tab: &Tab,
    model: image::ImageModel,
) -> Result<Json<serde_json::Value>, ApiError> {
    let model = Arc::new(model);
    let shown = model.clone();
    let summary = blocking(move || Ok(shown.summary())).await?;
    *playground::lock(&tab.image) = Some(model);
    Ok(Json(summary))
}

fn image_model(app: &App, headers: &HeaderMap) -> Result<Arc<image::ImageModel>, ApiError> {
    playground::lock(&app.tab(headers)?.image)
        .clone()
        .ok_or_else(|| ApiError::bad("no model yet: train one or open a model file first"))
}

async fn image_train(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<image::TrainRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = body?;
    let tab = app.tab(&headers)?;
    // Training takes its turn at the cores like every playing session.
    let turns = app.sessions.turns().clone();
    let model = blocking(move || {
        let _turn = turns.take();
        image::train(&request)
    })
    .await?;
    show_model(&tab, model).await
}

async fn image_open(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<image::OpenRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = body?;
    let tab = app.tab(&headers)?;
    if app.no_paths {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: "opening model files by path is off: this playground listens beyond \
                      loopback (--host); run it without --host to open files"
                .into(),
        });
    }
    let model = blocking(move || image::open(&request.path)).await?;
    show_model(&tab, model).await
}

async fn image_predict(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<image::PredictRequest>, JsonRejection>,
) -> Result<Json<image::Prediction>, ApiError> {
    let Json(request) = body?;
    let model = image_model(&app, &headers)?;
    Ok(Json(
        blocking(move || model.predict(&request.pixels)).await?,
    ))
}

async fn image_test(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<image::TestRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = body?;
    let model = image_model(&app, &headers)?;
    Ok(Json(
        blocking(move || model.test_image(request.index)).await?,
    ))
}

/// A `Content-Type` header for the assets.
pub(crate) fn content_type(value: &'static str) -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CONTENT_TYPE, value),
        // The page loads only what this server sends: no CDN, nothing from elsewhere.
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        ),
    ]
}
