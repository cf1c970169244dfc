//! The playground's JSON API through the router (no socket): answers, bad requests, and
//! the training stream.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use glassbox_web::playground::Playground;
use glassbox_web::playground::{parse_csv, Action, PlaygroundConfig, Problem, StreamEvent, GRID};
use glassbox_web::{router, App};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// How long a test waits for the training thread before failing.
const WAIT: Duration = Duration::from_secs(60);

/// One tab: the server, and the session id its first `/api/playground` answer gave,
/// sent with every later request as the page does.
#[derive(Clone)]
struct Client {
    app: App,
    session: Arc<Mutex<Option<String>>>,
}

impl Client {
    fn new(app: App) -> Self {
        Client {
            app,
            session: Arc::default(),
        }
    }

    /// Another tab of the same server.
    fn tab(&self) -> Self {
        Client::new(self.app.clone())
    }

    fn without_paths(&self) -> Self {
        Client {
            app: self.app.clone().without_paths(),
            session: self.session.clone(),
        }
    }

    fn playground(&self) -> Arc<Playground> {
        let id = self
            .session
            .lock()
            .unwrap()
            .clone()
            .expect("no session yet");
        self.app.sessions().get(&id).unwrap().playground.clone()
    }
}

async fn call(app: &Client, method: &str, path: &str, body: Option<String>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(id) = app.session.lock().unwrap().clone() {
        request = request.header(glassbox_web::SESSION_HEADER, id);
    }
    let request = request
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let response = router(app.app.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if let Some(id) = value["session"].as_str() {
        *app.session.lock().unwrap() = Some(id.to_string());
    }
    (status, value)
}

async fn post(app: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    call(app, "POST", path, Some(body.to_string())).await
}

/// Waits for a frame of run `session` with `epoch` ≥ `at_least` and returns it.
async fn frame_at(app: &Client, session: u64, at_least: usize) -> Value {
    let mut rx = app.playground().subscribe();
    tokio::time::timeout(WAIT, async {
        loop {
            let event = rx.borrow_and_update().clone();
            if let StreamEvent::Frame(json) = event {
                let frame: Value = serde_json::from_str(&json).unwrap();
                if frame["run"] == session && frame["epoch"].as_u64().unwrap() >= at_least as u64 {
                    return frame;
                }
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("no frame in time")
}

fn error_of(value: &Value) -> &str {
    value["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {value}"))
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_binary() {
    let app = Client::new(App::default());
    let request = Request::get("/").body(Body::empty()).unwrap();
    let response = router(app.app.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = response.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(html.to_vec()).unwrap();
    for id in [
        "view-2d",
        "view-image",
        "view-dashboard",
        "play",
        "step",
        "reset",
        "dataset",
        "activation",
        "test-accuracy",
        "error",
    ] {
        assert!(
            html.contains(&format!("data-testid=\"{id}\"")),
            "missing {id}"
        );
    }
    for path in ["/app.js", "/style.css"] {
        let response = router(app.app.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // No route reads the disk.
    let (status, body) = call(&app, "GET", "/etc/passwd", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("no such page"));
    let (status, _) = call(&app, "GET", "/../Cargo.toml", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_configuration_gives_its_points_classes_and_network() {
    let app = Client::new(App::default());
    let (status, body) = post(
        &app,
        "/api/playground",
        json!({ "dataset": "gaussians", "points": 300, "test_ratio": 0.2 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["classes"].as_array().unwrap().len(), 3);
    assert_eq!(body["train"].as_array().unwrap().len(), 240);
    assert_eq!(body["test"].as_array().unwrap().len(), 60);
    assert_eq!(body["sizes"], json!([2, 8, 8, 3]));
    assert_eq!(body["run"], 1);
    // The first frame (epoch 0) arrives before any training.
    let frame = frame_at(&app, 1, 0).await;
    assert_eq!(frame["epoch"], 0);
}

#[tokio::test]
async fn bad_requests_get_a_4xx_and_one_clear_json_message() {
    let app = Client::new(App::default());
    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (Some("{not json".into()), "/api/playground", "bad request"),
        (
            Some(json!({ "colour": "red" }).to_string()),
            "/api/playground",
            "unknown field `colour`",
        ),
        (
            Some(json!({ "dataset": "moons" }).to_string()),
            "/api/playground",
            "unknown synthetic data set",
        ),
        (
            Some(json!({ "layers": [{ "neurons": 65, "activation": "relu" }] }).to_string()),
            "/api/playground",
            "1 to 64 per layer",
        ),
        (
            Some(
                json!({ "layers": vec![json!({ "neurons": 2, "activation": "relu" }); 11] })
                    .to_string(),
            ),
            "/api/playground",
            "too big a network",
        ),
        (
            Some(json!({ "layers": [{ "neurons": 4, "activation": "swish" }] }).to_string()),
            "/api/playground",
            "unknown activation",
        ),
        (
            Some(json!({ "features": [] }).to_string()),
            "/api/playground",
            "at least one input feature",
        ),
        (
            Some(json!({ "learning_rate": -1.0 }).to_string()),
            "/api/playground",
            "learning rate",
        ),
        (
            Some(json!({ "dataset": "csv" }).to_string()),
            "/api/playground",
            "upload a file first",
        ),
        (
            Some(json!({ "dataset": "csv", "csv": "1,2,a\n3,x,b\n" }).to_string()),
            "/api/playground",
            "CSV line 2",
        ),
        (
            Some(json!({ "action": "play" }).to_string()),
            "/api/control",
            "no session",
        ),
        (
            Some(json!({ "action": "fly" }).to_string()),
            "/api/control",
            "unknown variant",
        ),
        (
            Some(json!({ "point": 0 }).to_string()),
            "/api/explain",
            "no session",
        ),
    ];
    for (body, path, expected) in cases {
        let (status, value) = call(&app, "POST", path, body.clone()).await;
        assert!(status.is_client_error(), "{path} {body:?}: {status}");
        assert!(
            error_of(&value).contains(expected),
            "{path} {body:?}: {value}"
        );
    }
    // A body over the limit is refused before it is read.
    let huge = format!(
        "{{\"dataset\":\"csv\",\"csv\":\"{}\"}}",
        "1".repeat(glassbox_web::MAX_BODY_BYTES)
    );
    let (status, _) = call(&app, "POST", "/api/playground", Some(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // After all that, the server still answers.
    let (status, _) = post(&app, "/api/playground", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&app, "/api/explain", json!({ "point": 100_000 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("does not exist"), "{body}");
}

#[tokio::test]
async fn a_step_network_is_refused_with_the_reason() {
    let app = Client::new(App::default());
    let config = json!({ "layers": [{ "neurons": 4, "activation": "step" }] });
    let (status, _) = post(&app, "/api/playground", config).await;
    assert_eq!(status, StatusCode::OK, "a step network can be drawn");
    let (status, body) = post(&app, "/api/control", json!({ "action": "play" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("derivative is 0"), "{body}");
}

#[tokio::test]
async fn one_step_is_one_epoch_and_every_neuron_has_a_heat_map() {
    let app = Client::new(App::default());
    let (_, body) = post(
        &app,
        "/api/playground",
        json!({ "features": ["x1", "x2", "x1-x2", "sin-x1"] }),
    )
    .await;
    let session = body["run"].as_u64().unwrap();
    let (status, _) = post(&app, "/api/control", json!({ "action": "step" })).await;
    assert_eq!(status, StatusCode::OK);
    let frame = frame_at(&app, session, 1).await;
    assert_eq!(frame["epoch"], 1);
    let maps = frame["maps"].as_array().unwrap();
    let widths: Vec<usize> = maps.iter().map(|m| m.as_array().unwrap().len()).collect();
    assert_eq!(widths, [4, 8, 8, 2], "inputs, two hidden layers, outputs");
    let b64 = base64::engine::general_purpose::STANDARD;
    for map in maps.iter().flat_map(|m| m.as_array().unwrap()) {
        assert_eq!(
            b64.decode(map["data"].as_str().unwrap()).unwrap().len(),
            GRID * GRID
        );
        assert!(map["min"].as_f64().unwrap() <= map["max"].as_f64().unwrap());
    }
    assert_eq!(
        b64.decode(frame["region"].as_str().unwrap()).unwrap().len(),
        GRID * GRID
    );
    assert_eq!(
        frame["layers"][0]["weights"].as_array().unwrap().len(),
        8 * 4
    );
    assert!(frame["test_loss"].as_f64().unwrap().is_finite());
    // Paused after the step: no second epoch comes by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frame = frame_at(&app, session, 1).await;
    assert_eq!(frame["epoch"], 1);

    // Explaining a training point gives the engine's exact trace for that point.
    let (status, body) = post(&app, "/api/explain", json!({ "point": 5 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trace = &body["trace"];
    assert_eq!(trace["layers"].as_array().unwrap().len(), 3);
    assert_eq!(trace["input"].as_array().unwrap().len(), 4);
    let out = &trace["layers"][2];
    // Softmax + cross-entropy: δ = a − y.
    let target = trace["target"].as_array().unwrap();
    for j in 0..2 {
        let d = out["delta"][j].as_f64().unwrap();
        let a = out["activations"][j].as_f64().unwrap();
        assert!((d - (a - target[j].as_f64().unwrap())).abs() < 1e-6);
    }
}

#[tokio::test]
async fn xor_reaches_95_percent_test_accuracy_while_playing() {
    let app = Client::new(App::default());
    let (_, body) = post(
        &app,
        "/api/playground",
        json!({ "dataset": "xor", "seed": 2 }),
    )
    .await;
    let session = body["run"].as_u64().unwrap();
    post(&app, "/api/control", json!({ "action": "play" })).await;
    let mut rx = app.playground().subscribe();
    let best = tokio::time::timeout(WAIT, async {
        loop {
            if let StreamEvent::Frame(json) = rx.borrow_and_update().clone() {
                let frame: Value = serde_json::from_str(&json).unwrap();
                if frame["run"] == session && frame["test_accuracy"].as_f64().unwrap_or(0.0) >= 0.95
                {
                    return frame;
                }
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("xor did not reach 95% test accuracy");
    assert!(best["epoch"].as_u64().unwrap() >= 1);
    post(&app, "/api/control", json!({ "action": "pause" })).await;
    app.playground().stop();
}

#[test]
fn a_seeded_configuration_gives_the_same_data_and_first_weights() {
    let config = PlaygroundConfig {
        dataset: "spirals".into(),
        seed: 9,
        ..PlaygroundConfig::default()
    };
    let a = Problem::new(config.clone()).unwrap();
    let b = Problem::new(config.clone()).unwrap();
    assert_eq!(a.train_points, b.train_points);
    assert_eq!(a.network, b.network);
    let c = Problem::new(PlaygroundConfig { seed: 10, ..config }).unwrap();
    assert_ne!(a.network, c.network);
}

#[test]
fn seeded_runs_repeat_epoch_for_epoch() {
    let run = || {
        let playground = Arc::new(Playground::default());
        let mut rx = playground.subscribe();
        let config = PlaygroundConfig {
            optimizer: "momentum".into(),
            dropout: 0.1,
            ..PlaygroundConfig::default()
        };
        let session = playground.start(Problem::new(config).unwrap());
        for _ in 0..3 {
            playground.act(Action::Step).unwrap();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let frame = runtime.block_on(async {
            tokio::time::timeout(WAIT, async {
                loop {
                    if let StreamEvent::Frame(json) = rx.borrow_and_update().clone() {
                        let frame: Value = serde_json::from_str(&json).unwrap();
                        if frame["run"] == session && frame["epoch"] == 3 {
                            return frame;
                        }
                    }
                    rx.changed().await.unwrap();
                }
            })
            .await
            .unwrap()
        });
        playground.stop();
        (frame["layers"].clone(), frame["test_loss"].clone())
    };
    assert_eq!(run(), run());
}

#[test]
fn uploaded_csv_files_are_read_or_refused_with_the_line() {
    let data = parse_csv("x,y,kind\n0,0,cat\n1,1,dog\n0,1,cat\n1,0,dog\n").unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data.class_names(), ["cat", "dog"]);
    assert_eq!(data.labels().unwrap(), [0, 1, 0, 1]);
    let err = parse_csv("0,0,a\n1,1\n").unwrap_err();
    assert!(err.contains("CSV line 2: expected 3 fields"), "{err}");
    let err = parse_csv("0,0,a\n1,1,a\n2,2,a\n3,3,a\n").unwrap_err();
    assert!(err.contains("2 classes"), "{err}");
    let err = parse_csv("0,0,a\n0,inf,b\n").unwrap_err();
    assert!(err.contains("finite"), "{err}");
    let big = "0,0,a\n".repeat(glassbox_web::playground::MAX_CSV_BYTES / 6 + 1);
    assert!(parse_csv(&big).unwrap_err().contains("limit"));
}

#[tokio::test]
async fn the_image_view_trains_predicts_and_opens_models() {
    let app = Client::new(App::default());
    post(&app, "/api/playground", json!({})).await; // the tab's session
    let (status, body) = post(
        &app,
        "/api/image/predict",
        json!({ "pixels": vec![0.0; 64] }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("no model yet"), "{body}");

    let (status, body) = post(
        &app,
        "/api/image/train",
        json!({ "dataset": "digits", "hidden": [32], "epochs": 10 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sizes"], json!([64, 32, 10]));
    assert_eq!(body["weight_images"].as_array().unwrap().len(), 32);
    let confusion = &body["confusion"];
    assert!(confusion["accuracy"].as_f64().unwrap() > 0.9, "{confusion}");
    let counted: u64 = confusion["counts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counted, confusion["examples"].as_u64().unwrap());

    // A test image comes back with its class, and is predicted.
    let (status, image) = post(&app, "/api/image/test", json!({ "index": 4 })).await;
    assert_eq!(status, StatusCode::OK);
    let pixels = image["pixels"].clone();
    let (status, prediction) = post(&app, "/api/image/predict", json!({ "pixels": pixels })).await;
    assert_eq!(status, StatusCode::OK, "{prediction}");
    let probabilities: Vec<f64> = prediction["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    let activations = prediction["activations"].as_array().unwrap();
    assert_eq!(activations.len(), 2);
    assert_eq!(activations[0].as_array().unwrap().len(), 32);
    assert_eq!(prediction["weighted_sums"].as_array().unwrap().len(), 32);

    // Bad requests.
    for (path, request, expected) in [
        (
            "/api/image/predict",
            json!({ "pixels": vec![0.5; 10] }),
            "the model takes 64",
        ),
        (
            "/api/image/test",
            json!({ "index": 100_000 }),
            "does not exist",
        ),
        (
            "/api/image/train",
            json!({ "dataset": "cifar", "hidden": [8], "epochs": 1 }),
            "unknown image data set",
        ),
        (
            "/api/image/train",
            json!({ "dataset": "digits", "hidden": [0], "epochs": 1 }),
            "1 to 1024 neurons",
        ),
        (
            "/api/image/train",
            json!({ "dataset": "digits", "hidden": [8], "epochs": 0 }),
            "choose 1 to 100",
        ),
        (
            "/api/image/open",
            json!({ "path": "/no/such/model.safetensors" }),
            "/no/such/model.safetensors",
        ),
    ] {
        let (status, body) = post(&app, path, request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {request}");
        assert!(
            error_of(&body).contains(expected),
            "{path} {request}: {body}"
        );
    }

    // A model saved by the library opens, with the digits' test set beside it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let model = glassbox_web::image::train(&glassbox_web::image::TrainRequest {
        dataset: "digits".into(),
        hidden: vec![16],
        epochs: 3,
        seed: 2,
    })
    .unwrap();
    glassbox::io::save(&path, &model.network, &model.info).unwrap();
    let (status, body) = post(&app, "/api/image/open", json!({ "path": path })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sizes"], json!([64, 16, 10]));
    assert!(body["confusion"]["examples"].as_u64().unwrap() > 0);
    // A playground reachable from other machines does not read files by path.
    let (status, body) = post(
        &app.without_paths(),
        "/api/image/open",
        json!({ "path": path }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&body).contains("--host"), "{body}");
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a model").unwrap();
    let (status, body) = post(&app, "/api/image/open", json!({ "path": garbage })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("garbage.safetensors"), "{body}");
}

#[tokio::test]
async fn the_dashboard_records_a_real_training_run() {
    use glassbox::train::Silent;
    use glassbox::{Activation, Init, Network, TrainConfig, Trainer};
    use glassbox_web::dashboard::{Dashboard, Watch, HISTOGRAM_BINS};
    use std::sync::Arc;

    // No run attached: the page is told so, and the stream is a 404 with a message.
    let app = Client::new(App::default());
    let (status, body) = call(&app, "GET", "/api/dashboard", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], false);
    let (status, body) = call(&app, "GET", "/api/dashboard/stream", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("--dashboard"), "{body}");

    let data = glassbox::data::synthetic::xor(200, 0.05, 1).unwrap();
    let (train, test) = data.split(0.25, 1).unwrap();
    let run = Arc::new(Dashboard::new("xor", 3, train.len()));
    let app = Client::new(App::with_dashboard(run.clone()));
    let mut net = Network::builder(2)
        .dense(8, Activation::Tanh)
        .dense(2, Activation::Softmax)
        .build(Init::Xavier, 1)
        .unwrap();
    let config = TrainConfig {
        loss: glassbox::Loss::CrossEntropy,
        epochs: 3,
        batch_size: 4,
        ..TrainConfig::default()
    };
    let run_for_training = run.clone();
    let history = tokio::task::spawn_blocking(move || {
        let mut silent = Silent;
        let mut watch = Watch::new(&mut silent, &run_for_training);
        Trainer::new(config)
            .test(&test)
            .observer(&mut watch)
            .fit(&mut net, &train)
    })
    .await
    .unwrap()
    .unwrap();
    run.finish("finished");

    let (status, body) = call(&app, "GET", "/api/dashboard", None).await;
    assert_eq!(status, StatusCode::OK);
    let r = &body["run"];
    assert_eq!(r["status"], "finished");
    let epochs = r["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    for (row, report) in epochs.iter().zip(&history.epochs) {
        assert_eq!(row["train_loss"].as_f64().unwrap(), report.train_loss);
        assert_eq!(row["test_accuracy"].as_f64(), report.test_accuracy);
        assert!(row["examples_per_second"].as_f64().unwrap() > 0.0);
    }
    // One histogram per layer per epoch, counting every weight.
    let histograms = r["histograms"].as_array().unwrap();
    assert_eq!(histograms.len(), 2);
    let counted: u64 = histograms[0][2]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 2 * 8);
    assert_eq!(
        histograms[1][0]["counts"].as_array().unwrap().len(),
        HISTOGRAM_BINS
    );
    // The running loss: at most 100 points an epoch, ending at the end of epoch 3.
    let batches = r["batches"].as_array().unwrap();
    assert!(!batches.is_empty() && batches.len() <= 300);
    assert_eq!(batches.last().unwrap()[0].as_f64().unwrap(), 3.0);
}

/// Fashion-MNIST is trained from the page when Debian's `dataset-fashion-mnist` is
/// installed (`.ci/run` installs it); without it, the page is told how to install it.
#[tokio::test]
async fn fashion_mnist_trains_from_the_page_when_installed() {
    let app = Client::new(App::default());
    post(&app, "/api/playground", json!({})).await; // the tab's session
    let request = json!({ "dataset": "fashion-mnist", "hidden": [32], "epochs": 1 });
    let (status, body) = post(&app, "/api/image/train", request).await;
    if !std::path::Path::new(glassbox_web::image::FASHION_MNIST_DIR).is_dir() {
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            error_of(&body).contains("apt-get install dataset-fashion-mnist"),
            "{body}"
        );
        return;
    }
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sizes"], json!([784, 32, 10]));
    assert_eq!(
        body["shape"],
        json!({ "height": 28, "width": 28, "channels": 1 })
    );
    assert_eq!(body["confusion"]["examples"], 10_000);
    assert!(
        body["confusion"]["accuracy"].as_f64().unwrap() > 0.7,
        "{}",
        body["confusion"]["accuracy"]
    );
    assert_eq!(body["classes"][0], "T-shirt/top");
}

#[tokio::test]
async fn two_tabs_are_two_sessions_that_never_touch_each_other() {
    let a = Client::new(App::default());
    let b = a.tab();
    let (_, body_a) = post(&a, "/api/playground", json!({ "dataset": "xor" })).await;
    let (_, body_b) = post(
        &b,
        "/api/playground",
        json!({ "dataset": "gaussians", "points": 200 }),
    )
    .await;
    assert_ne!(body_a["session"], body_b["session"]);
    assert_eq!(body_a["classes"].as_array().unwrap().len(), 2);
    assert_eq!(body_b["classes"].as_array().unwrap().len(), 3);
    // A's steps move A only.
    for _ in 0..3 {
        post(&a, "/api/control", json!({ "action": "step" })).await;
    }
    let frame = frame_at(&a, 1, 3).await;
    assert_eq!(frame["epoch"], 3);
    let frame = frame_at(&b, 1, 0).await;
    assert_eq!(frame["epoch"], 0, "B did not move");
    assert_eq!(
        frame["maps"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // B's explain is about B's data (three classes), not A's.
    let (status, body) = post(&b, "/api/explain", json!({ "point": 0 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["trace"]["layers"][2]["activations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // An id that the server did not make is refused with a 410 and the reason.
    let stranger = a.tab();
    *stranger.session.lock().unwrap() = Some("0123456789abcdef0123456789abcdef".into());
    let (status, body) = post(&stranger, "/api/control", json!({ "action": "step" })).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(error_of(&body).contains("session is gone"), "{body}");
    a.app.sessions().stop();
}

#[tokio::test]
async fn a_full_server_refuses_a_tab_with_the_reason() {
    use glassbox_web::playground::SessionLimits;
    let limits = SessionLimits {
        max_sessions: 2,
        ..SessionLimits::default()
    };
    let a = Client::new(App::default().with_limits(limits));
    let (b, c) = (a.tab(), a.tab());
    assert_eq!(
        post(&a, "/api/playground", json!({})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        post(&b, "/api/playground", json!({})).await.0,
        StatusCode::OK
    );
    let (status, body) = post(&c, "/api/playground", json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_of(&body).contains("--max-sessions 2"), "{body}");
    a.app.sessions().stop();
}

#[tokio::test]
async fn an_idle_session_is_freed_and_its_stream_says_so() {
    use glassbox_web::playground::SessionLimits;
    let limits = SessionLimits {
        idle: Duration::from_millis(200),
        ..SessionLimits::default()
    };
    let a = Client::new(App::default().with_limits(limits));
    post(&a, "/api/playground", json!({})).await;
    let mut rx = a.playground().subscribe();
    assert_eq!(a.app.sessions().reap(), 0, "just used: not idle");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.app.sessions().reap(), 1);
    assert!(a.app.sessions().is_empty());
    let said = tokio::time::timeout(WAIT, async {
        loop {
            if let StreamEvent::Expired(json) = rx.borrow_and_update().clone() {
                return json;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("no expired event");
    assert!(said.contains("idle"), "{said}");
    let (status, body) = post(&a, "/api/control", json!({ "action": "play" })).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(error_of(&body).contains("start again"), "{body}");
}

#[test]
fn turns_are_served_first_come_first_served() {
    use glassbox_web::playground::Turns;
    let turns = Arc::new(Turns::new(1));
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = turns.take();
    let mut waiting = Vec::new();
    for k in 0..4 {
        let (turns, order) = (turns.clone(), order.clone());
        waiting.push(std::thread::spawn(move || {
            let _turn = turns.take();
            order.lock().unwrap().push(k);
        }));
        // Let thread k queue before thread k + 1.
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(first);
    for t in waiting {
        t.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
}
