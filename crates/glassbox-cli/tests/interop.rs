//! End-to-end tests of `glassbox export` and `glassbox import --torch` (issue 12): the
//! built binary on real files in temporary directories. The numerical checks against
//! ONNX Runtime and NumPy are in `tests/interop/check.py`, which `.ci/run` runs.

use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in `dir`; stderr never holds a panic.
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

/// Runs the binary and expects success; gives stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = glassbox(dir, args);
    assert!(
        output.status.success(),
        "glassbox {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// Runs the binary, expects exit code `code` and one `error: ` line; gives that line.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let output = glassbox(dir, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "glassbox {args:?}: stderr:\n{stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one message: {stderr}");
    errors[0].to_string()
}

/// The names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes a safetensors file by hand (8-byte header length, JSON header, data): float32
/// tensors of the given shapes, every value 0.25.
fn state_dict(path: &Path, tensors: &[(&str, &[usize])]) {
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (name, shape) in tensors {
        let start = data.len();
        for _ in 0..shape.iter().product::<usize>() {
            data.extend_from_slice(&0.25f32.to_le_bytes());
        }
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&data);
    fs::write(path, bytes).unwrap();
}

/// A small trained digits model, `m.safetensors` in `dir`.
fn trained(dir: &Path) {
    ok(
        dir,
        &[
            "train",
            "--layers",
            "16",
            "--activation",
            "tanh",
            "--epochs",
            "2",
            "--quiet",
            "--out",
            "m.safetensors",
        ],
    );
}

/// `predict --json` on the digits' first test rows, written as CSV.
fn predictions(dir: &Path, model: &str) -> Vec<Value> {
    let rows: Vec<String> = (0..5)
        .map(|r| {
            (0..64)
                .map(|i| ((i * 7 + r * 3) % 17).to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    fs::write(dir.join("rows.csv"), rows.join("\n")).unwrap();
    ok(dir, &["predict", "--model", model, "--json", "rows.csv"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn export_onnx_writes_an_onnx_file_and_says_what_is_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained(d);
    let out = ok(
        d,
        &[
            "export",
            "--model",
            "m.safetensors",
            "--format",
            "onnx",
            "--out",
            "m.onnx",
        ],
    );
    assert!(
        out.contains("ONNX (opset 17, IR 8), 64 → 16 (tanh) → 10 (softmax)"),
        "{out}"
    );
    let bytes = fs::read(d.join("m.onnx")).unwrap();
    // ModelProto field 1 (ir_version = 8), then field 2 (producer_name).
    assert_eq!(&bytes[..4], &[0x08, 0x08, 0x12, 0x08]);
    assert_eq!(&bytes[4..12], b"glassbox");
}

#[test]
fn export_torch_then_import_gives_the_same_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained(d);
    let script = ok(
        d,
        &[
            "export",
            "--model",
            "m.safetensors",
            "--format",
            "torch",
            "--out",
            "t.safetensors",
        ],
    );
    assert!(script.contains("nn.Linear(64, 16), nn.Tanh(),"), "{script}");
    assert!(
        script.contains("nn.Linear(16, 10), nn.Softmax(dim=1),"),
        "{script}"
    );
    assert!(script.contains("load_file(\"t.safetensors\")"), "{script}");
    ok(
        d,
        &[
            "export",
            "--model",
            "m.safetensors",
            "--format",
            "torch",
            "--out",
            "t2.safetensors",
            "--script",
            "load.py",
        ],
    );
    assert!(fs::read_to_string(d.join("load.py"))
        .unwrap()
        .contains("model.load_state_dict(state)"));

    let out = ok(
        d,
        &[
            "import",
            "--torch",
            "t.safetensors",
            "--activations",
            "tanh,softmax",
            "--inputs-shape",
            "8x8",
            "--out",
            "back.safetensors",
        ],
    );
    assert!(out.contains("64 → 16 (tanh) → 10 (softmax)"), "{out}");
    assert_eq!(
        predictions(d, "m.safetensors"),
        predictions(d, "back.safetensors")
    );
    // The imported model is a model like any other.
    for args in [
        vec!["evaluate", "--model", "back.safetensors", "--json"],
        vec!["inspect", "--model", "back.safetensors"],
        vec!["explain", "--model", "back.safetensors", "--data", "digits"],
    ] {
        ok(d, &args);
    }
}

#[test]
fn a_pytorch_sequential_with_ten_or_more_modules_imports_in_numeric_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // nn.Sequential(Linear(4, 5), ReLU, Linear(5, 6), ReLU, …) with 6 linear layers:
    // modules 0, 2, 4, 6, 8, 10 — as strings, "10" sorts before "2".
    let shapes: Vec<(String, Vec<usize>)> = (0..6)
        .flat_map(|l| {
            let (out, inp) = (if l == 5 { 3 } else { 5 + l }, 4 + l);
            [
                (format!("{}.weight", 2 * l), vec![out, inp]),
                (format!("{}.bias", 2 * l), vec![out]),
            ]
        })
        .collect();
    let refs: Vec<(&str, &[usize])> = shapes.iter().map(|(n, s)| (n.as_str(), &s[..])).collect();
    state_dict(&d.join("deep.safetensors"), &refs);
    let out = ok(
        d,
        &[
            "import",
            "--torch",
            "deep.safetensors",
            "--activations",
            "relu,relu,relu,relu,leaky-relu:0.1,softmax",
            "--classes",
            "a,b,c",
            "--out",
            "deep.glassbox.safetensors",
        ],
    );
    assert!(
        out.contains(
            "4 → 5 (relu) → 6 (relu) → 7 (relu) → 8 (relu) → 9 (leaky-relu:0.1) → 3 (softmax)"
        ),
        "{out}"
    );
    assert!(out.contains("classes a,b,c"), "{out}");
}

#[test]
fn every_bad_import_is_one_clear_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    state_dict(
        &d.join("good.safetensors"),
        &[
            ("0.weight", &[3, 4]),
            ("0.bias", &[3]),
            ("2.weight", &[2, 3]),
            ("2.bias", &[2]),
        ],
    );
    state_dict(
        &d.join("mismatch.safetensors"),
        &[
            ("0.weight", &[3, 4]),
            ("0.bias", &[3]),
            ("2.weight", &[2, 5]),
            ("2.bias", &[2]),
        ],
    );
    state_dict(
        &d.join("gap.safetensors"),
        &[
            ("0.weight", &[3, 4]),
            ("0.bias", &[3]),
            ("2.weight", &[2, 3]),
        ],
    );
    fs::write(
        d.join("model.pt"),
        b"PK\x03\x04 torch.save writes a zip archive",
    )
    .unwrap();
    let before = files(d);

    let import = |file: &str, activations: &str| -> Vec<String> {
        [
            "import",
            "--torch",
            file,
            "--activations",
            activations,
            "--out",
            "out.safetensors",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cases: Vec<(Vec<String>, i32, Vec<&str>)> = vec![
        (
            import("mismatch.safetensors", "relu,softmax"),
            1,
            vec![
                "mismatch.safetensors: 2.weight: has shape [2, 5]",
                "gives 3 outputs: expected [2, 3]",
            ],
        ),
        (
            import("gap.safetensors", "relu,softmax"),
            1,
            vec!["gap.safetensors: 2.weight: has no 2.bias"],
        ),
        (
            import("good.safetensors", "relu"),
            2,
            vec!["good.safetensors has 2 linear layers (0.weight, 2.weight) but 1 activations"],
        ),
        (
            import("good.safetensors", "relu,softplus"),
            2,
            vec!["--activations", "unknown activation `softplus`"],
        ),
        (
            import("model.pt", "relu,softmax"),
            1,
            vec!["model.pt", "not a safetensors"],
        ),
        (
            import("missing.safetensors", "relu,softmax"),
            1,
            vec!["missing.safetensors"],
        ),
        (
            [
                "import",
                "--torch",
                "good.safetensors",
                "--activations",
                "relu,softmax",
                "--out",
                "no/such/dir/out.safetensors",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            1,
            vec!["--out no/such/dir/out.safetensors", "does not exist"],
        ),
        (
            [
                "import",
                "--torch",
                "good.safetensors",
                "--activations",
                "relu,softmax",
                "--classes",
                "a,b,c",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            2,
            vec!["3 class names were given but the last layer of good.safetensors has 2 outputs"],
        ),
        (
            [
                "import",
                "--torch",
                "good.safetensors",
                "--activations",
                "relu,softmax",
                "--inputs-shape",
                "3x3",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            2,
            vec!["an image of 3×3×1 has 9 values but the first layer of good.safetensors takes 4"],
        ),
        (
            [
                "import",
                "--torch",
                "good.safetensors",
                "--activations",
                "relu,softmax",
                "--inputs-shape",
                "2by2",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            2,
            vec!["--inputs-shape \"2by2\": expected HxW or HxWxC"],
        ),
    ];
    for (args, code, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let message = fails(d, &args, code);
        for part in expected {
            assert!(message.contains(part), "{args:?}: {message}");
        }
        assert_eq!(files(d), before, "{args:?} wrote something");
    }
}

#[test]
fn bad_exports_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained(d);
    fs::create_dir(d.join("a-directory")).unwrap();
    let before = files(d);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "export",
                "--model",
                "m.safetensors",
                "--format",
                "onnx",
                "--out",
                "no/dir/m.onnx",
            ],
            1,
            "--out no/dir/m.onnx: the directory no/dir does not exist",
        ),
        (
            vec![
                "export",
                "--model",
                "m.safetensors",
                "--format",
                "onnx",
                "--out",
                "a-directory",
            ],
            2,
            "--out a-directory: is a directory",
        ),
        (
            vec![
                "export",
                "--model",
                "m.safetensors",
                "--format",
                "torch",
                "--out",
                "t.safetensors",
                "--script",
                "no/dir/load.py",
            ],
            1,
            "--script no/dir/load.py: the directory no/dir does not exist",
        ),
        (
            vec![
                "export",
                "--model",
                "m.safetensors",
                "--format",
                "onnx",
                "--out",
                "m.onnx",
                "--script",
                "load.py",
            ],
            2,
            "--script is the PyTorch script of --format torch",
        ),
        (
            vec![
                "export",
                "--model",
                "nope.safetensors",
                "--format",
                "onnx",
                "--out",
                "m.onnx",
            ],
            1,
            "nope.safetensors: no such model file",
        ),
        (
            vec![
                "export",
                "--model",
                "m.safetensors",
                "--format",
                "tflite",
                "--out",
                "m.tflite",
            ],
            2,
            "invalid value 'tflite' for '--format <FORMAT>'",
        ),
    ];
    for (args, code, expected) in cases {
        let message = fails(d, &args, code);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert_eq!(files(d), before, "{args:?} wrote something");
    }
}
