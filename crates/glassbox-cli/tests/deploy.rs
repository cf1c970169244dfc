//! Deployment end to end: `glassbox quantize`, the int8 model in evaluate / predict /
//! inspect (and refused by explain), and `glassbox serve` started as a real process on
//! `--port 0`, answering as `glassbox predict` does and refusing bad requests with a 4xx
//! while it keeps serving.

use glassbox::data::{digits, image_folder, Dataset, ImageShape};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn glassbox(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "glassbox {args:?} panicked:\n{stderr}"
    );
    output
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let output = glassbox(dir, args);
    assert!(
        output.status.success(),
        "glassbox {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn last_json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim_end().lines().last().unwrap()).unwrap()
}

/// A digits model (8×8 images, 10 classes), its int8 copy, some test images as PNG
/// files and as a CSV of raw features.
fn setup(d: &Path) -> Dataset {
    ok(
        d,
        &[
            "train",
            "--epochs",
            "15",
            "--layers",
            "64",
            "--out",
            "m.safetensors",
        ],
    );
    let out = ok(
        d,
        &[
            "quantize",
            "--model",
            "m.safetensors",
            "--out",
            "m8.safetensors",
        ],
    );
    assert!(out.contains("m8.safetensors"), "{out}");
    let (_, test) = digits::train_test().unwrap();
    let rows: Vec<usize> = (0..12).collect();
    let small = test.subset(&rows);
    image_folder::save(&small, d.join("images")).unwrap();
    let csv: String = rows
        .iter()
        .map(|&r| {
            let text: Vec<String> = test.row(r).iter().map(|v| v.to_string()).collect();
            text.join(",") + "\n"
        })
        .collect();
    std::fs::write(d.join("rows.csv"), csv).unwrap();
    small
}

/// Every PNG under `dir`, sorted.
fn pngs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for class in std::fs::read_dir(dir).unwrap() {
        for f in std::fs::read_dir(class.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn int8_models_evaluate_predict_inspect_and_explain_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let size = |f: &str| std::fs::metadata(d.join(f)).unwrap().len() as f64;
    let ratio = size("m8.safetensors") / size("m.safetensors");
    assert!(ratio < 0.4, "int8 file is {ratio} of the float one");

    let float = last_json(&ok(
        d,
        &[
            "evaluate",
            "--model",
            "m.safetensors",
            "--data",
            "digits",
            "--json",
        ],
    ));
    let int8 = last_json(&ok(
        d,
        &[
            "evaluate",
            "--model",
            "m8.safetensors",
            "--data",
            "digits",
            "--json",
        ],
    ));
    let (a, b) = (
        float["accuracy"].as_f64().unwrap(),
        int8["accuracy"].as_f64().unwrap(),
    );
    assert!(a > 0.9 && (a - b).abs() <= 0.01, "float {a}, int8 {b}");

    // Predictions of the int8 model agree with the float one's class on (nearly) all rows.
    let p8 = ok(
        d,
        &["predict", "--model", "m8.safetensors", "--json", "rows.csv"],
    );
    let pf = ok(
        d,
        &["predict", "--model", "m.safetensors", "--json", "rows.csv"],
    );
    let classes = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["class"].to_string())
            .collect()
    };
    let (c8, cf) = (classes(&p8), classes(&pf));
    assert_eq!(c8.len(), 12);
    assert!(c8.iter().zip(&cf).filter(|(a, b)| a == b).count() >= 11);

    let inspect = last_json(&ok(d, &["inspect", "--model", "m8.safetensors", "--json"]));
    assert_eq!(inspect["int8"], true);
    assert_eq!(inspect["sizes"], json!([64, 64, 10]));
    assert!(ok(d, &["inspect", "--model", "m8.safetensors"]).contains("int8"));

    let out = glassbox(
        d,
        &["explain", "--model", "m8.safetensors", "--data", "digits"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("int8 model") && err.contains("float model"),
        "{err}"
    );
    // Quantizing an int8 model, or a missing one, is one clear message.
    for model in ["m8.safetensors", "none.safetensors"] {
        let out = glassbox(d, &["quantize", "--model", model, "--out", "x.safetensors"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(model));
    }
    assert!(!d.join("x.safetensors").exists());
}

/// A started `glassbox serve`, stopped (SIGTERM) when dropped.
struct Served {
    child: Child,
    port: u16,
    /// Kept open: the server prints more lines, and a closed pipe would stop it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Served {
    fn start(d: &Path, model: &str, extra: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
            .args(["serve", "--model", model, "--port", "0"])
            .args(extra)
            .current_dir(d)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
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

    /// One HTTP/1.1 request; the status and the JSON body.
    fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
        (status, value)
    }

    /// A request whose Content-Length is over the limit: refused from its header.
    fn oversize(&self, path: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            (64 << 20) + 1
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.len() > 12, "no answer to an oversize body: {text:?}");
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (
            text[9..12].parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, "application/json", b"")
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    fn stop(mut self) {
        // SIGTERM: a graceful shutdown exits 0.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(status.success(), "exit {status:?}: {stderr}");
    }
}

fn close(a: &Value, b: &Value) {
    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}

#[test]
fn serve_answers_as_predict_does_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let small = setup(d);
    let images = pngs(&d.join("images"));
    for model in ["m.safetensors", "m8.safetensors"] {
        let served = Served::start(d, model, &[]);
        let name = model.trim_end_matches(".safetensors");
        assert_eq!(served.get("/v2/health/live"), (200, json!({"live": true})));
        assert_eq!(
            served.get("/v2/health/ready"),
            (200, json!({"ready": true}))
        );
        let (status, meta) = served.get(&format!("/v2/models/{name}"));
        assert_eq!(status, 200);
        assert_eq!(meta["inputs"][0]["shape"], json!([-1, 64]));
        assert_eq!(meta["parameters"]["classes"].as_array().unwrap().len(), 10);

        // The CSV rows through /v2/…/infer, as one batch of 12, against `predict`.
        let expected: Vec<Value> = ok(d, &["predict", "--model", model, "--json", "rows.csv"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let rows: Vec<f32> = (0..12).flat_map(|r| small.row(r).to_vec()).collect();
        let (status, answer) = served.post(
            &format!("/v2/models/{name}/infer"),
            &json!({"id": "a", "inputs": [{"name": "input", "shape": [12, 64], "datatype": "FP32", "data": rows}]}),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["id"], "a");
        let outputs = answer["outputs"].as_array().unwrap();
        let probabilities = outputs[0]["data"].as_array().unwrap();
        assert_eq!(outputs[0]["shape"], json!([12, 10]));
        for (r, want) in expected.iter().enumerate() {
            assert_eq!(outputs[1]["data"][r], want["class"]);
            let names = meta["parameters"]["classes"].as_array().unwrap();
            for (k, class) in names.iter().enumerate() {
                close(
                    &probabilities[r * 10 + k],
                    &want["probabilities"][class.as_str().unwrap()],
                );
            }
        }

        // Each PNG through /predict, against `predict` on the same file.
        for image in &images {
            let want = last_json(&ok(
                d,
                &[
                    "predict",
                    "--model",
                    model,
                    "--json",
                    image.to_str().unwrap(),
                ],
            ));
            let bytes = std::fs::read(image).unwrap();
            let (status, got) = served.request("POST", "/predict", "image/png", &bytes);
            assert_eq!(status, 200, "{got}");
            assert_eq!(got["class"], want["class"]);
            close(&got["confidence"], &want["confidence"]);
        }
        // A JSON row through /predict.
        let (status, got) = served.post("/predict", &json!(small.row(0)));
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["class"], expected[0]["class"]);

        // Bad requests: each a 4xx with a JSON error; the server keeps serving.
        let infer = format!("/v2/models/{name}/infer");
        let tensor = |shape: Value, datatype: &str, data: Value| json!({"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": data}]});
        let bad: Vec<(u16, Value)> = vec![
            served.request("POST", &infer, "application/json", b"{\"inputs\": [ oops"),
            served.post(
                &infer,
                &tensor(json!([1, 63]), "FP32", json!(vec![0.0; 63])),
            ),
            served.post(
                &infer,
                &tensor(json!([1, 64]), "FP32", json!(vec![0.0; 60])),
            ),
            served.post(&infer, &tensor(json!([1, 64]), "INT8", json!(vec![0; 64]))),
            served.post(
                &infer,
                &tensor(json!([1, 64]), "FP32", json!(vec!["NaN"; 64])),
            ),
            served.post(
                &infer,
                &tensor(json!([1, 64]), "FP32", json!(vec![1e300; 64])),
            ),
            served.post(&infer, &json!({"inputs": []})),
            served.post(
                "/v2/models/other/infer",
                &tensor(json!([1, 64]), "FP32", json!(vec![0.0; 64])),
            ),
            served.oversize(&infer),
            served.oversize("/predict"),
            served.request("POST", "/predict", "image/png", &bytes_of_png(9, 9)),
            served.request("POST", "/predict", "image/png", b"\x89PNG not really"),
            served.post("/predict", &json!([1.0, 2.0])),
            served.get("/nowhere"),
        ];
        for (i, (status, body)) in bad.iter().enumerate() {
            assert!(
                (400..500).contains(status),
                "bad request {i}: {status} {body}"
            );
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{i}: {body}"
            );
        }
        assert_eq!(served.get("/v2/health/ready").0, 200);
        served.stop();
    }
    // --name renames the model in the routes; --threads sets the engine's threads (more
    // than the cores is reduced, with a note on stderr), and the answer does not change.
    let row = json!({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": small.row(0)}]});
    let mut answers = Vec::new();
    for threads in ["1", "8"] {
        let served = Served::start(
            d,
            "m8.safetensors",
            &["--name", "digits", "--threads", threads],
        );
        assert_eq!(served.get("/v2/models/digits/ready").0, 200);
        assert_eq!(served.get("/v2/models/m8/ready").0, 404);
        answers.push(served.post("/v2/models/digits/infer", &row));
        served.stop();
    }
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    assert_eq!(answers[0], answers[1]);
    let refused = glassbox(d, &["serve", "--model", "m8.safetensors", "--threads", "0"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("--threads 0"),
        "{stderr}"
    );
}

/// A grey PNG of `width × height` pixels.
fn bytes_of_png(width: usize, height: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let data = Dataset::classification(
        vec![0.5; width * height],
        width * height,
        vec![0],
        vec!["x".into()],
    )
    .unwrap()
    .with_image_shape(ImageShape::new(height, width, 1))
    .unwrap();
    image_folder::save(&data, dir.path()).unwrap();
    std::fs::read(&pngs(dir.path())[0]).unwrap()
}
