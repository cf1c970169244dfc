//! The Lessons view's endpoints through the router (no socket): their numbers are the
//! library's, they hold what each lesson teaches, and bad input is a 400 with a message.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use glassbox::Activation;
use glassbox_web::lessons::{self, MAX_DIGITS_EPOCHS, MAX_EPOCHS, MAX_NEURONS, MAX_POINTS};
use glassbox_web::{router, App};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn post_raw(path: &str, body: String) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = router(App::default()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn post(path: &str, body: Value) -> (StatusCode, Value) {
    post_raw(path, body.to_string()).await
}

/// Asserts a 4xx whose message contains `needle`.
async fn refused(path: &str, body: Value, needle: &str) {
    let (status, value) = post(path, body.clone()).await;
    assert!(status.is_client_error(), "{path} {body} → {status} {value}");
    let message = value["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{path} {body}: {message:?} should mention {needle:?}"
    );
}

fn f32s(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn the_neuron_is_w_dot_x_plus_b_through_the_library_activation() {
    let inputs = [(0.5, -1.25, 2.0, 0.75, -0.3), (-2.0, 3.0, 0.4, -1.5, 1.1)];
    for name in lessons::NEURON_ACTIVATIONS {
        let f: Activation = name.parse().unwrap();
        for (x1, x2, w1, w2, b) in inputs {
            let (status, answer) = post(
                "/api/lessons/neuron",
                json!({"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "activation": name}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let z: f32 = w1 * x1 + w2 * x2 + b;
            let got_z = answer["z"].as_f64().unwrap() as f32;
            assert!(
                (got_z - z).abs() < 1e-5,
                "{name}: z = {got_z}, expected {z}"
            );
            let a = answer["a"].as_f64().unwrap() as f32;
            assert_eq!(a, f.value(got_z), "{name}: a = f(z)");
            assert_eq!(answer["activation"], name);
            // The graph is f over a range that contains z, sampled by the library.
            let zs = f32s(&answer["curve"]["z"]);
            let fs = f32s(&answer["curve"]["f"]);
            assert!(zs[0] <= z && z <= *zs.last().unwrap());
            for (z, a) in zs.iter().zip(&fs) {
                assert_eq!(*a, f.value(*z), "{name} at {z}");
            }
        }
    }
}

#[tokio::test]
async fn the_step_is_refused_by_the_trainer_and_the_others_learn_xor() {
    for name in lessons::NEURON_ACTIVATIONS {
        let (status, answer) = post("/api/lessons/activation", json!({ "activation": name })).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let f: Activation = name.parse().unwrap();
        let zs = f32s(&answer["curve"]["z"]);
        let fs = f32s(&answer["curve"]["f"]);
        let dfs = f32s(&answer["curve"]["df"]);
        for i in 0..zs.len() {
            assert_eq!(fs[i], f.value(zs[i]));
            assert_eq!(dfs[i], f.derivative(zs[i], fs[i]), "{name}′ at {}", zs[i]);
        }
        if name == "step" {
            assert_eq!(answer["trainable"], false);
            assert!(
                dfs.iter().all(|&d| d == 0.0),
                "the step's slope is 0 everywhere"
            );
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains("step activation"), "{message}");
            assert!(message.contains("derivative is 0"), "{message}");
        } else {
            assert_eq!(answer["trainable"], true, "{name}: {answer}");
            assert!(answer["message"].is_null());
        }
    }
    // Non-linear activations separate xor; the identity cannot (a linear network).
    let accuracy = |v: &Value| v["xor_accuracy"].as_f64().unwrap();
    let (_, tanh) = post("/api/lessons/activation", json!({"activation": "tanh"})).await;
    let (_, identity) = post("/api/lessons/activation", json!({"activation": "identity"})).await;
    assert!(accuracy(&tanh) > 0.9, "{tanh}");
    assert!(accuracy(&identity) < 0.75, "{identity}");
}

#[tokio::test]
async fn two_hidden_layers_draw_what_one_cannot() {
    let (status, answer) = post("/api/lessons/depth", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let networks = answer["networks"].as_array().unwrap();
    assert_eq!(networks.len(), 2);
    assert_eq!(networks[0]["sizes"], json!([2, 6, 2]));
    assert_eq!(networks[1]["sizes"], json!([2, 6, 6, 2]));
    let accuracy = |n: &Value| n["curves"]["test_accuracy"].as_f64().unwrap();
    let (shallow, deep) = (accuracy(&networks[0]), accuracy(&networks[1]));
    eprintln!("depth: shallow {shallow}, deep {deep}");
    assert!(deep > shallow + 0.1, "shallow {shallow}, deep {deep}");
    let grid = answer["grid"].as_u64().unwrap() as usize;
    for n in networks {
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            n["regions"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(bytes.len(), grid * grid);
    }
}

#[tokio::test]
async fn too_small_a_rate_crawls_and_too_large_a_rate_does_not_settle() {
    let (status, answer) = post("/api/lessons/learning-rate", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let last = |r: &Value| *f32s(&r["curves"]["train_loss"]).last().unwrap_or(&f32::NAN);
    let accuracy = |r: &Value| r["curves"]["test_accuracy"].as_f64().unwrap();
    for r in runs {
        eprintln!(
            "η = {}: last loss {}, accuracy {}, diverged {}",
            r["rate"],
            last(r),
            accuracy(r),
            r["curves"]["diverged"]
        );
    }
    let (small, right, large) = (&runs[0], &runs[1], &runs[2]);
    assert!(accuracy(right) > 0.95, "{right}");
    assert!(
        last(small) > 2.0 * last(right),
        "the small η is still far behind"
    );
    assert!(
        !large["curves"]["diverged"].is_null() || last(large) > 2.0 * last(right),
        "the large η diverges or ends far worse: {large}"
    );
}

#[tokio::test]
async fn few_points_overfit_and_early_stopping_keeps_the_best_epoch() {
    let (status, plain) = post("/api/lessons/overfit", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let train = f32s(&plain["curves"]["train_loss"]);
    let test = f32s(&plain["curves"]["test_loss"]);
    let best_test = test.iter().cloned().fold(f32::INFINITY, f32::min);
    eprintln!(
        "overfit: train {} test {} (best {best_test}), accuracy {}",
        train.last().unwrap(),
        test.last().unwrap(),
        plain["curves"]["test_accuracy"]
    );
    assert!(
        train.last().unwrap() < &0.2,
        "the big network learns its few points"
    );
    assert!(
        *test.last().unwrap() > 1.5 * best_test,
        "the test loss rises again: the curves part"
    );

    let (_, stopped) = post("/api/lessons/overfit", json!({"early_stopping": 10})).await;
    let best = stopped["curves"]["best_epoch"]
        .as_u64()
        .expect("stopped early") as usize;
    let epochs = f32s(&stopped["curves"]["train_loss"]).len();
    assert!(best < epochs && epochs < MAX_EPOCHS, "{stopped}");
    assert_eq!(f32s(&stopped["curves"]["validation_loss"]).len(), epochs);

    let (_, more) = post("/api/lessons/overfit", json!({"points": 600})).await;
    let accuracy = |v: &Value| v["curves"]["test_accuracy"].as_f64().unwrap();
    eprintln!(
        "more data: {} against {}",
        accuracy(&more),
        accuracy(&plain)
    );
    assert!(
        accuracy(&more) > accuracy(&plain),
        "more data generalises better"
    );

    let (status, dropped) = post("/api/lessons/overfit", json!({"dropout": 0.5})).await;
    assert_eq!(status, StatusCode::OK, "{dropped}");
}

#[tokio::test]
async fn the_digits_lesson_trains_a_small_classifier_and_follows_one_image() {
    let mut pixels = vec![0.0f32; 64];
    for row in 1..7 {
        pixels[row * 8 + 4] = 1.0; // a "1"
    }
    let (status, answer) = post(
        "/api/lessons/digits",
        json!({"hidden": 16, "epochs": 10, "pixels": pixels}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["sizes"], json!([64, 16, 10]));
    assert_eq!(answer["weight_images"].as_array().unwrap().len(), 16);
    eprintln!(
        "digits 64-16-10, 10 epochs: test accuracy {}",
        answer["test_accuracy"]
    );
    assert!(
        answer["test_accuracy"].as_f64().unwrap() > 0.85,
        "{}",
        answer["test_accuracy"]
    );
    let prediction = &answer["prediction"];
    let layers = prediction["activations"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].as_array().unwrap().len(), 16);
    let probabilities = f32s(&prediction["probabilities"]);
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    let class = prediction["class"].as_u64().unwrap() as usize;
    assert_eq!(prediction["prediction"], answer["classes"][class]);
}

#[tokio::test]
async fn bad_lesson_requests_are_refused_with_what_was_expected() {
    let neuron = |activation: &str| json!({"x1": 1, "x2": 1, "w1": 1, "w2": 1, "b": 0, "activation": activation});
    refused("/api/lessons/neuron", neuron("softmax"), "whole layer").await;
    refused("/api/lessons/neuron", neuron("swish"), "unknown activation").await;
    refused(
        "/api/lessons/neuron",
        json!({"x1": 1e9, "x2": 1, "w1": 1, "w2": 1, "b": 0, "activation": "relu"}),
        "x₁",
    )
    .await;
    refused("/api/lessons/neuron", json!({"x1": 1}), "missing field").await;
    refused(
        "/api/lessons/depth",
        json!({"epochs": MAX_EPOCHS + 1}),
        &format!("1 to {MAX_EPOCHS}"),
    )
    .await;
    refused(
        "/api/lessons/depth",
        json!({"neurons": MAX_NEURONS + 1}),
        "neurons",
    )
    .await;
    refused("/api/lessons/depth", json!({"dataset": "moons"}), "moons").await;
    refused(
        "/api/lessons/overfit",
        json!({"points": MAX_POINTS + 1}),
        "points",
    )
    .await;
    refused("/api/lessons/overfit", json!({"dropout": 1.0}), "dropout").await;
    refused("/api/lessons/learning-rate", json!({"rates": [-1.0]}), "η").await;
    refused(
        "/api/lessons/learning-rate",
        json!({"rates": [0.1, 0.2, 0.3, 0.4, 0.5]}),
        "learning rates",
    )
    .await;
    refused(
        "/api/lessons/digits",
        json!({"hidden": 8, "epochs": MAX_DIGITS_EPOCHS + 1}),
        "epochs",
    )
    .await;
    refused(
        "/api/lessons/digits",
        json!({"hidden": 8, "epochs": 1, "pixels": [0.5]}),
        "64",
    )
    .await;
    refused(
        "/api/lessons/digits",
        json!({"hidden": 8, "epochs": 1, "pixels": vec![2.0; 64]}),
        "0 (black) to 1",
    )
    .await;
    let (status, value) = post_raw("/api/lessons/neuron", "{not json".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
}
