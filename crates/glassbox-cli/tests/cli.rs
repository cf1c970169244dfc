//! End-to-end tests: the built `glassbox` binary on real files in temporary directories.
//!
//! Every run checks that stderr never holds a panic; failing runs check the exit code and
//! that the message names what was wrong.

use glassbox::data::{csv, digits, idx, image_folder};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Accuracy the default `train` must reach on the digits' test set.
const MAIN_JOB_ACCURACY: f64 = 0.95;
/// How far the same digits in another file format may land from the embedded ones.
const FORMAT_TOLERANCE: f64 = 0.025;
/// Tolerance of `explain`'s numbers against the f64 recomputation.
const EXPLAIN_TOLERANCE: f64 = 1e-5;

/// Runs the binary in `dir`.
fn glassbox(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "glassbox {args:?} panicked:\n{stderr}"
    );
    output
}

/// Runs the binary and expects success.
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = glassbox(dir, args);
    assert!(
        output.status.success(),
        "glassbox {args:?} failed ({:?}):\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs the binary, expects failure with `code`, and gives stderr.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let output = glassbox(dir, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "glassbox {args:?} should fail with {code}; stderr:\n{stderr}"
    );
    // Progress lines may come first; the message is the last line, and the only error.
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "one clear message: {stderr}");
    let messages = stderr.lines().filter(|l| l.starts_with("error")).count();
    assert_eq!(messages, 1, "one message: {stderr}");
    last.to_string()
}

/// The JSON object on the last line of stdout.
fn last_json(stdout: &str) -> Value {
    let line = stdout.trim_end().lines().last().expect("some output");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn train_with_no_arguments_is_the_main_job() {
    let dir = tempdir();
    let stdout = ok(dir.path(), &["train"]);
    assert!(stdout.contains("test"), "{stdout}");
    assert!(stdout.contains("model.safetensors"), "{stdout}");
    assert!(dir.path().join("model.safetensors").is_file());

    let report = last_json(&ok(
        dir.path(),
        &["train", "--json", "--out", "m.safetensors"],
    ));
    let accuracy = number(&report, "test_accuracy");
    assert!(
        accuracy >= MAIN_JOB_ACCURACY,
        "default training reached {accuracy}"
    );
    assert!(number(&report, "train_loss") < number(&report, "test_loss") + 1.0);
    let per_epoch = report["seconds_per_epoch"].as_array().expect("a list");
    assert_eq!(per_epoch.len() as f64, number(&report, "epochs"));
    assert!(number(&report, "seconds") > 0.0);
}

/// The embedded digits written as IDX, CSV and PNG folders train to the same accuracy,
/// and `predict` classifies the PNG files.
#[test]
fn the_same_digits_in_three_formats_train_alike() {
    let dir = tempdir();
    let d = dir.path();
    let (train, test) = digits::train_test().unwrap();
    idx::save_dir(&train, &test, d.join("idx"), true).unwrap();
    csv::save(&train, d.join("train.csv")).unwrap();
    csv::save(&test, d.join("test.csv")).unwrap();
    image_folder::save(&train, d.join("png-train")).unwrap();
    image_folder::save(&test, d.join("png-test")).unwrap();

    let common = ["--seed", "1", "--json"];
    let run = |extra: &[&str], out: &str| -> f64 {
        let mut args = vec!["train", "--out", out];
        args.extend_from_slice(extra);
        args.extend_from_slice(&common);
        number(&last_json(&ok(d, &args)), "test_accuracy")
    };
    let embedded = run(&[], "embedded.safetensors");
    let from_idx = run(&["--data", "idx"], "idx.safetensors");
    let from_csv = run(
        &[
            "--data",
            "train.csv",
            "--test",
            "test.csv",
            "--scale",
            "minmax",
        ],
        "csv.safetensors",
    );
    let from_png = run(
        &["--data", "png-train", "--test", "png-test"],
        "png.safetensors",
    );
    eprintln!("test accuracy: embedded {embedded}, idx {from_idx}, csv {from_csv}, png {from_png}");
    for (name, accuracy) in [("idx", from_idx), ("csv", from_csv), ("png", from_png)] {
        assert!(
            (accuracy - embedded).abs() <= FORMAT_TOLERANCE,
            "{name}: {accuracy} vs embedded {embedded}"
        );
        assert!(accuracy >= MAIN_JOB_ACCURACY, "{name}: {accuracy}");
    }

    // predict on PNG files of the test set: most are classified as their folder says.
    let mut files: Vec<PathBuf> = Vec::new();
    for class in ["0", "3", "7", "9"] {
        let mut in_class: Vec<PathBuf> = std::fs::read_dir(d.join("png-test").join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        in_class.sort();
        files.extend(in_class.into_iter().take(5));
    }
    let mut args = vec!["predict", "--model", "png.safetensors", "--json"];
    args.extend(files.iter().map(|p| s(p)));
    let stdout = ok(d, &args);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len());
    let mut right = 0;
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["input"].as_str(), Some(s(file)));
        let class = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        if line["class"].as_str() == Some(class) {
            right += 1;
        }
    }
    assert!(
        right * 10 >= files.len() * 8,
        "{right} of {} right",
        files.len()
    );

    // The human-readable form names the class too.
    let stdout = ok(d, &["predict", "--model", "png.safetensors", s(&files[0])]);
    assert!(stdout.starts_with(s(&files[0])), "{stdout}");

    // A CSV with a label column gets one prediction per row.
    let stdout = ok(
        d,
        &[
            "predict",
            "--model",
            "csv.safetensors",
            "--json",
            "test.csv",
        ],
    );
    assert_eq!(stdout.lines().count(), test.len());
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= EXPLAIN_TOLERANCE,
        "{what}: explain says {got}, f64 recomputation {want}"
    );
}

/// `explain --json` on the built-in network, recomputed here in f64 from its weights:
/// sigmoid layers, C = ½‖a − y‖², δᴸ = (a − y)·a(1 − a), δˡ = (Wˡ⁺¹ᵀδˡ⁺¹)·a(1 − a).
#[test]
fn explain_json_numbers_are_exact() {
    let dir = tempdir();
    let trace = last_json(&ok(dir.path(), &["explain", "--json", "--lr", "0.5"]));
    let layers = trace["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let x = floats(&trace["input"]);
    let y = floats(&trace["target"]);
    let w: Vec<Vec<Vec<f64>>> = layers.iter().map(|l| matrix(&l["weights"])).collect();
    let b: Vec<Vec<f64>> = layers.iter().map(|l| floats(&l["biases"])).collect();

    // Forward.
    let mut inputs = vec![x.clone()];
    let mut zs = Vec::new();
    for l in 0..2 {
        let z: Vec<f64> = w[l]
            .iter()
            .zip(&b[l])
            .map(|(row, bias)| row.iter().zip(&inputs[l]).map(|(w, a)| w * a).sum::<f64>() + bias)
            .collect();
        inputs.push(z.iter().map(|&z| sigmoid(z)).collect());
        zs.push(z);
    }
    let a_out = &inputs[2];
    let loss: f64 = a_out
        .iter()
        .zip(&y)
        .map(|(a, y)| 0.5 * (a - y).powi(2))
        .sum();
    close("loss", number(&trace, "loss"), loss);

    // Backward.
    let mut deltas = vec![Vec::new(); 2];
    deltas[1] = a_out
        .iter()
        .zip(&y)
        .map(|(a, y)| (a - y) * a * (1.0 - a))
        .collect();
    deltas[0] = (0..w[0].len())
        .map(|j| {
            let back: f64 = w[1].iter().zip(&deltas[1]).map(|(row, d)| row[j] * d).sum();
            let a = inputs[1][j];
            back * a * (1.0 - a)
        })
        .collect();

    for (l, layer) in layers.iter().enumerate() {
        for (j, (&got, want)) in floats(&layer["z"]).iter().zip(&zs[l]).enumerate() {
            close(&format!("z[{l}][{j}]"), got, *want);
        }
        for (j, (&got, want)) in floats(&layer["a"]).iter().zip(&inputs[l + 1]).enumerate() {
            close(&format!("a[{l}][{j}]"), got, *want);
        }
        for (j, (&got, want)) in floats(&layer["delta"]).iter().zip(&deltas[l]).enumerate() {
            close(&format!("delta[{l}][{j}]"), got, *want);
        }
        for (j, (&got, want)) in floats(&layer["grad_biases"])
            .iter()
            .zip(&deltas[l])
            .enumerate()
        {
            close(&format!("grad_biases[{l}][{j}]"), got, *want);
        }
        let grads = matrix(&layer["grad_weights"]);
        let new = matrix(&layer["new_weights"]);
        assert_eq!(grads.len(), w[l].len());
        for j in 0..grads.len() {
            assert_eq!(grads[j].len(), inputs[l].len(), "[out][in]");
            for i in 0..grads[j].len() {
                let g = deltas[l][j] * inputs[l][i];
                close(&format!("grad_weights[{l}][{j}][{i}]"), grads[j][i], g);
                close(
                    &format!("new_weights[{l}][{j}][{i}]"),
                    new[j][i],
                    w[l][j][i] - 0.5 * g,
                );
            }
        }
    }

    // The text form shows the same numbers, to 4 decimals at least.
    let text = ok(dir.path(), &["explain"]);
    // Negative numbers are written with a true minus sign, −.
    let minus = |text: String| text.replace('-', "−");
    assert!(text.contains(&minus(format!("{:.4}", zs[0][0]))), "{text}");
    assert!(
        text.contains(&minus(format!("{:.6}", deltas[1][0]))),
        "{text}"
    );
    assert!(text.contains("δ") && text.contains("∂C/∂w"), "{text}");
}

/// `explain --optimizer adam` shows Adam's first step, not plain gradient descent's:
/// with m̂ = g and v̂ = g² after one step, each weight with a gradient moves by
/// η·g/(|g| + ε) ≈ η against it.
#[test]
fn explain_shows_the_chosen_optimisers_step() {
    let dir = tempdir();
    let args = ["explain", "--json", "--optimizer", "adam", "--lr", "0.01"];
    let trace = last_json(&ok(dir.path(), &args));
    assert_eq!(trace["optimizer"], "adam");
    for layer in trace["layers"].as_array().unwrap() {
        let (w, g, new) = (
            matrix(&layer["weights"]),
            matrix(&layer["grad_weights"]),
            matrix(&layer["new_weights"]),
        );
        for j in 0..w.len() {
            for i in 0..w[j].len() {
                let step = if g[j][i] == 0.0 {
                    0.0
                } else {
                    0.01 * g[j][i] / (g[j][i].abs() + 1e-8)
                };
                close(&format!("new_weights[{j}][{i}]"), new[j][i], w[j][i] - step);
            }
        }
    }
    let text = ok(dir.path(), &["explain", "--optimizer", "adam"]);
    assert!(
        text.contains("optimizer adam") && text.contains("adam's step"),
        "{text}"
    );
    let err = fails(dir.path(), &["explain", "--optimizer", "lbfgs"], 2);
    assert!(err.contains("lbfgs"), "{err}");
}

/// One model trained on the digits, then evaluated, inspected and explained.
#[test]
fn evaluate_inspect_and_explain_a_trained_model() {
    let dir = tempdir();
    let d = dir.path();
    let report = last_json(&ok(d, &["train", "--epochs", "10", "--json"]));
    let evaluation = last_json(&ok(
        d,
        &[
            "evaluate",
            "--data",
            "digits",
            "--json",
            "--confusion",
            "c.png",
        ],
    ));
    close(
        "evaluate accuracy = train's test accuracy",
        number(&evaluation, "accuracy"),
        number(&report, "test_accuracy"),
    );
    let confusion = evaluation["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total as f64, number(&evaluation, "examples"));
    assert_eq!(evaluation["classes"].as_array().unwrap().len(), 10);
    assert!(std::fs::metadata(d.join("c.png")).unwrap().len() > 1000);

    let text = ok(d, &["evaluate", "--confusion", "c.svg"]);
    assert!(
        text.contains("precision") && text.contains("recall"),
        "{text}"
    );
    assert!(d.join("c.svg").is_file());

    let text = ok(d, &["inspect", "--weights-image", "w.png"]);
    assert!(text.contains("64 → 128 (relu) → 10 (softmax)"), "{text}");
    assert!(text.contains("parameters   9610"), "{text}");
    assert!(text.contains("8×8×1"), "{text}");
    assert!(std::fs::metadata(d.join("w.png")).unwrap().len() > 1000);
    let inspect = last_json(&ok(d, &["inspect", "--json"]));
    assert_eq!(inspect["layers"].as_array().unwrap().len(), 2);

    let trace = last_json(&ok(
        d,
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "digits",
            "--sample",
            "3",
            "--json",
        ],
    ));
    assert_eq!(trace["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        trace["layers"][0]["grad_weights"][0]
            .as_array()
            .unwrap()
            .len(),
        64
    );
    let text = ok(
        d,
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "digits",
            "--sample",
            "3",
        ],
    );
    assert!(
        text.contains("more weights, with smaller gradients (--all shows them)"),
        "{text}"
    );
    explain_lists_the_largest_terms_first(&text, &trace);
}

/// Issue 10: for a layer wider than the terms shown, `explain` lists the terms with the
/// largest |wᵢxᵢ| first (not the first 8 inputs, which for an image are its zero border)
/// and sums the rest, so that the line still adds up to z.
fn explain_lists_the_largest_terms_first(text: &str, trace: &Value) {
    let layer = &trace["layers"][0];
    let floats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let input = floats(&layer["input"]);
    let weights = floats(&layer["weights"][0]);
    let products: Vec<f64> = weights.iter().zip(&input).map(|(w, x)| w * x).collect();
    let mut by_size: Vec<usize> = (0..products.len()).collect();
    by_size.sort_by(|&a, &b| products[b].abs().total_cmp(&products[a].abs()));
    // The first weighted sum printed is layer 1's neuron 1.
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("weighted sum z₁ ="))
        .unwrap_or_else(|| panic!("no weighted sum in {text}"));
    let shown: Vec<usize> = line
        .split("[i=")
        .skip(1)
        .map(|rest| rest.split(']').next().unwrap().parse::<usize>().unwrap() - 1)
        .collect();
    assert_eq!(shown.len(), 8, "{line}");
    assert_eq!(shown, by_size[..8], "{line}");
    // Zero inputs (the border) contribute nothing, so they are not among those shown.
    assert!(shown.iter().all(|&i| input[i] != 0.0), "{line}");
    // The shown terms, the rest's sum and the bias add up to z.
    let rest: f64 = line
        .split("together ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .map(|r| {
            let r = r.trim_matches(|c| c == '(' || c == ')').replace('−', "-");
            r.parse().unwrap()
        })
        .unwrap_or_else(|| panic!("no sum of the rest in {line}"));
    let shown_sum: f64 = shown.iter().map(|&i| products[i]).sum();
    let z = layer["z"][0].as_f64().unwrap();
    let bias = layer["biases"][0].as_f64().unwrap();
    assert!(
        (shown_sum + rest + bias - z).abs() < 1e-3,
        "{line}: z = {z}"
    );
}

#[test]
fn plots_and_history_files_are_written() {
    let dir = tempdir();
    let d = dir.path();
    ok(
        d,
        &[
            "train",
            "--data",
            "xor:200",
            "--layers",
            "8",
            "--epochs",
            "5",
            "--quiet",
            "--plot",
            "h.png",
            "--history",
            "h.csv",
        ],
    );
    assert!(std::fs::metadata(d.join("h.png")).unwrap().len() > 1000);
    let history = std::fs::read_to_string(d.join("h.csv")).unwrap();
    assert_eq!(history.lines().count(), 6, "{history}");
    ok(
        d,
        &[
            "train",
            "--data",
            "circles:200",
            "--epochs",
            "3",
            "--quiet",
            "--plot",
            "h.svg",
        ],
    );
    assert!(std::fs::read_to_string(d.join("h.svg"))
        .unwrap()
        .contains("<svg"));
}

#[test]
fn epochs_zero_writes_the_initial_network() {
    let dir = tempdir();
    let d = dir.path();
    let report = last_json(&ok(
        d,
        &[
            "train",
            "--epochs",
            "0",
            "--json",
            "--out",
            "init.safetensors",
        ],
    ));
    assert_eq!(number(&report, "epochs"), 0.0);
    assert!(d.join("init.safetensors").is_file());
    // …and training can start from it.
    let report = last_json(&ok(
        d,
        &[
            "train",
            "--init-from",
            "init.safetensors",
            "--epochs",
            "5",
            "--json",
        ],
    ));
    assert!(number(&report, "test_accuracy") > 0.5);
}

#[test]
fn missing_paths_are_named() {
    let dir = tempdir();
    let err = fails(dir.path(), &["train", "--data", "nowhere/x.csv"], 1);
    assert!(err.contains("nowhere/x.csv"), "{err}");
    let err = fails(
        dir.path(),
        &["evaluate", "--model", "absent.safetensors"],
        1,
    );
    assert!(err.contains("absent.safetensors"), "{err}");
    let err = fails(dir.path(), &["train", "--out", "no/dir/m.safetensors"], 1);
    assert!(err.contains("no/dir"), "{err}");
}

/// `--stream` trains from the file as well as from memory, and says what it needs.
#[test]
fn streamed_idx_data_trains_alike_and_compressed_data_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    let (train, test) = digits::train_test().unwrap();
    idx::save_dir(&train, &test, d.join("plain"), false).unwrap();
    idx::save_dir(&train, &test, d.join("gz"), true).unwrap();
    let accuracy = |extra: &[&str]| {
        let mut args = vec!["train", "--data", "plain", "--seed", "1", "--json"];
        args.extend_from_slice(extra);
        number(&last_json(&ok(d, &args)), "test_accuracy")
    };
    let (loaded, streamed) = (accuracy(&[]), accuracy(&["--stream"]));
    assert!(streamed >= MAIN_JOB_ACCURACY, "streamed: {streamed}");
    assert!(
        (streamed - loaded).abs() <= FORMAT_TOLERANCE,
        "{streamed} vs {loaded}"
    );
    let err = fails(d, &["train", "--data", "gz", "--stream"], 1);
    assert!(
        err.contains("train-images-idx3-ubyte.gz") && err.contains("gunzip"),
        "{err}"
    );
    let err = fails(d, &["train", "--data", "digits", "--stream"], 1);
    assert!(err.contains("--stream reads an IDX directory"), "{err}");
    // What would read the whole file into memory is refused, not done.
    for extra in [["--scale", "standard"], ["--validation-split", "0.1"]] {
        let mut args = vec!["train", "--data", "plain", "--stream"];
        args.extend_from_slice(&extra);
        let err = fails(d, &args, 1);
        assert!(err.contains("need them in memory"), "{extra:?}: {err}");
    }
}

#[test]
fn a_truncated_idx_file_is_named() {
    let dir = tempdir();
    let d = dir.path();
    let (train, test) = digits::train_test().unwrap();
    idx::save_dir(&train, &test, d.join("idx"), false).unwrap();
    let images = d.join("idx").join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&images).unwrap();
    std::fs::write(&images, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(d, &["train", "--data", "idx"], 1);
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert!(
        !d.join("model.safetensors").exists(),
        "no model after a failure"
    );
}

#[test]
fn a_csv_with_a_word_among_the_numbers_names_the_line() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("bad.csv"), "a,b,label\n1,2,x\n3,four,y\n5,6,x\n").unwrap();
    let err = fails(d, &["train", "--data", "bad.csv"], 1);
    assert!(err.contains("bad.csv") && err.contains("line 3"), "{err}");
    assert!(err.contains("four"), "{err}");
}

#[test]
fn a_garbage_model_file_is_named() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("junk.safetensors"), b"this is not a model at all").unwrap();
    for command in [
        &["evaluate", "--model", "junk.safetensors"][..],
        &["inspect", "--model", "junk.safetensors"][..],
        &["predict", "--model", "junk.safetensors", "x.png"][..],
        &["train", "--init-from", "junk.safetensors"][..],
    ] {
        let err = fails(d, command, 1);
        assert!(err.contains("junk.safetensors"), "{command:?}: {err}");
    }
}

#[test]
fn a_model_for_other_data_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    ok(
        d,
        &[
            "train",
            "--data",
            "xor:100",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            "xor.safetensors",
        ],
    );
    let err = fails(
        d,
        &["evaluate", "--model", "xor.safetensors", "--data", "digits"],
        1,
    );
    assert!(
        err.contains("64 features") && err.contains("takes 2"),
        "{err}"
    );
    let err = fails(
        d,
        &[
            "train",
            "--init-from",
            "xor.safetensors",
            "--data",
            "digits",
        ],
        1,
    );
    assert!(err.contains("xor.safetensors"), "{err}");
    std::fs::write(d.join("rows.csv"), "1,2,3,4\n4,5,6,7\n").unwrap();
    let err = fails(d, &["predict", "--model", "xor.safetensors", "rows.csv"], 1);
    assert!(err.contains("rows.csv"), "{err}");
}

#[test]
fn impossible_hyper_parameters_are_usage_errors() {
    let dir = tempdir();
    let d = dir.path();
    for (args, needle) in [
        (&["--lr", "-1"][..], "--lr"),
        (&["--batch-size", "0"][..], "--batch-size"),
        (&["--layers", "0"][..], "--layers"),
        (&["--layers", "32,0"][..], "--layers"),
        (&["--dropout", "1.5"][..], "dropout"),
        (&["--test-split", "2"][..], "--test-split"),
        (&["--threads", "0"][..], "--threads"),
    ] {
        let mut full = vec!["train"];
        full.extend_from_slice(args);
        let err = fails(d, &full, 2);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!d.join("model.safetensors").exists());
}

#[test]
fn more_threads_than_cores_are_reduced_with_a_note() {
    let dir = tempdir();
    let d = dir.path();
    let cores = glassbox::threads::available();
    // Four times the cores, and an absurd count: both reduced to the cores.
    for asked in [(cores * 4).to_string(), "100000".to_string()] {
        let output = glassbox(
            d,
            &["train", "--epochs", "1", "--threads", &asked, "--quiet"],
        );
        assert!(output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("note: --threads {asked}"))
                && stderr.contains("GLASSBOX_THREADS"),
            "{stderr}"
        );
    }
}

#[test]
fn a_thread_count_in_the_environment_that_is_not_a_number_is_refused() {
    let dir = tempdir();
    for value in ["many", "0", "100000"] {
        let output = Command::new(env!("CARGO_BIN_EXE_glassbox"))
            .args(["train", "--epochs", "1"])
            .env("GLASSBOX_THREADS", value)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "GLASSBOX_THREADS={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: GLASSBOX_THREADS="), "{stderr}");
    }
}

/// Writes a safetensors file of weights alone, as PyTorch's `save_file` writes the
/// state dict of an `nn.ModuleList` named `layers`: no glassbox metadata. `shapes` holds
/// `[out, in]` per layer; the values are small and distinct.
fn write_weights_alone(path: &Path, shapes: &[[usize; 2]]) {
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (l, &[out, inputs]) in shapes.iter().enumerate() {
        for (name, shape) in [("weight", vec![out, inputs]), ("bias", vec![out])] {
            let start = data.len();
            for i in 0..shape.iter().product::<usize>() {
                data.extend_from_slice(&(0.1 * (i as f32 + 1.0) / (l as f32 + 1.0)).to_le_bytes());
            }
            header.insert(
                format!("layers.{l}.{name}"),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
            );
        }
    }
    let mut text = Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn weights_without_an_architecture_start_training_but_are_no_model() {
    let dir = tempdir();
    let d = dir.path();
    write_weights_alone(&d.join("w.safetensors"), &[[3, 2], [2, 3]]);
    let train = |layers: &'static str| {
        vec![
            "train",
            "--data",
            "xor:100",
            "--init-from",
            "w.safetensors",
            "--layers",
            layers,
            "--epochs",
            "1",
        ]
    };
    let mut args = train("3");
    args.push("--json");
    let report = last_json(&ok(d, &args));
    assert_eq!(report["architecture"], serde_json::json!([2, 3, 2]));
    let err = fails(d, &train("4"), 1);
    assert!(
        err.contains(
            "--init-from w.safetensors: the file holds weights but no architecture, and they do \
             not fit the network the flags describe (2 → 4 (relu) → 2 (softmax))"
        ) && err.contains("layers.0.weight has shape [3, 2], the architecture says [4, 2]"),
        "{err}"
    );
    let err = fails(
        d,
        &["evaluate", "--model", "w.safetensors", "--data", "xor"],
        1,
    );
    assert!(
        err.contains("w.safetensors: weights without a glassbox architecture")
            && err.contains("glassbox import --torch w.safetensors")
            && err.contains("glassbox train --init-from w.safetensors"),
        "{err}"
    );
}

#[test]
fn a_loss_that_does_not_fit_the_output_layer_names_the_flags() {
    let dir = tempdir();
    let err = fails(
        dir.path(),
        &["train", "--loss", "cross-entropy", "--output", "sigmoid"],
        2,
    );
    assert!(
        err.ends_with(
            "--loss cross-entropy: cross-entropy needs a softmax output layer (it has sigmoid); \
             use --output softmax, or --loss mse"
        ),
        "{err}"
    );
    // explain's built-in network has a sigmoid output; explain has no --output.
    let err = fails(dir.path(), &["explain", "--loss", "cross-entropy"], 2);
    assert!(
        err.ends_with("(it has sigmoid); use --loss mse, or leave --loss out"),
        "{err}"
    );
}

#[test]
fn training_a_step_activation_explains_why_not() {
    let dir = tempdir();
    let err = fails(dir.path(), &["train", "--activation", "step"], 2);
    assert!(err.contains("derivative"), "{err}");
    assert!(!dir.path().join("model.safetensors").exists());
}

#[test]
fn divergence_keeps_the_last_good_weights() {
    let dir = tempdir();
    let d = dir.path();
    let err = fails(
        d,
        &[
            "train",
            "--data",
            "xor:200",
            "--output",
            "identity",
            "--loss",
            "mse",
            "--optimizer",
            "sgd",
            "--lr",
            "1e20",
            "--epochs",
            "50",
        ],
        1,
    );
    assert!(err.contains("diverged"), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
    ok(d, &["inspect"]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_the_last_finished_epoch() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempdir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(["train", "--epochs", "100000", "--batch-size", "1"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    // Wait for the first finished epoch (stderr is a pipe: one line per epoch).
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{text}");
        text += &line;
        if line.starts_with("epoch") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    text += &rest;
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        text.contains("interrupted") && text.contains("saved"),
        "{text}"
    );
    assert!(dir.path().join("model.safetensors").is_file());
    ok(dir.path(), &["evaluate"]);
}
