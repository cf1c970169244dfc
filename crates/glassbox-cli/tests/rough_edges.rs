//! Issue 28's rough edges of the command line, each held by a test: `--resume DIR` with
//! more epochs, output paths checked before training, Ctrl-C saying how to go on, one
//! clear message for a missing file, and the warning for unscaled pixels in a CSV file.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary in `dir`, checking that it did not panic.
fn glassbox(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "glassbox {args:?}:\n{stderr}");
    output
}

/// Runs the binary, expects success and gives stdout and stderr.
fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = glassbox(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "glassbox {args:?}:\n{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Runs the binary, expects failure and gives its one error line.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = glassbox(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "glassbox {args:?} should fail");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one message: {stderr}");
    errors[0].to_string()
}

/// The JSON report on stdout's last line.
fn report(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim_end().lines().last().unwrap()).unwrap()
}

/// A model file's weights and biases as bits.
fn bits(path: &Path) -> Vec<u32> {
    let (net, _) = glassbox::io::load(path).unwrap();
    net.layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()))
        .map(|v| v.to_bits())
        .collect()
}

const XOR: [&str; 8] = [
    "train", "--data", "xor:300", "--layers", "8", "--seed", "4", "--quiet",
];

/// `glassbox train --resume DIR --epochs 6` replays DIR's recorded command (not the
/// default digits run) with 6 epochs; a finished 3-epoch run trains epochs 4–6 and saves
/// the same model, bit for bit, as a 6-epoch run never stopped.
#[test]
fn a_finished_run_resumed_with_more_epochs_trains_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = |extra: &[&'static str]| -> Vec<&'static str> {
        XOR.iter().chain(extra).copied().collect()
    };
    ok(d, &args(&["--epochs", "6", "--out", "whole.safetensors"]));
    ok(
        d,
        &args(&[
            "--epochs",
            "3",
            "--checkpoint",
            "run",
            "--out",
            "r.safetensors",
        ]),
    );
    let (stdout, _) = ok(d, &["train", "--resume", "run", "--epochs", "6", "--json"]);
    let json = report(&stdout);
    assert_eq!(json["epochs"], 6, "{json}");
    assert!(json["data"].as_str().unwrap().starts_with("xor"), "{json}");
    let trained: Vec<u64> = json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(trained, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        bits(&d.join("r.safetensors")),
        bits(&d.join("whole.safetensors"))
    );
    // Resumed again with as many epochs, it has nothing left to train.
    let (stdout, _) = ok(d, &["train", "--resume=run", "--epochs=6", "--json"]);
    assert_eq!(report(&stdout)["epochs"], 6);
    assert_eq!(
        bits(&d.join("r.safetensors")),
        bits(&d.join("whole.safetensors"))
    );
    // A flag that changes the run is refused with the reason.
    let err = fails(d, &["train", "--resume", "run", "--seed", "5"]);
    assert!(
        err.contains("cannot resume") && err.contains("settings"),
        "{err}"
    );
}

/// Ctrl-C in the middle of a checkpointed run prints the command that goes on, and that
/// command (here with fewer epochs) ends with the same model as a run never stopped.
#[test]
fn an_interrupted_run_says_how_to_resume_it_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = [
        "train",
        "--data",
        "spirals:3000",
        "--layers",
        "32,32",
        "--batch-size",
        "8",
        "--quiet",
    ];
    let args = |extra: &[&'static str]| -> Vec<&'static str> {
        run.iter().chain(extra).copied().collect()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args(&["--epochs", "400", "--checkpoint", "my run"]))
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // The handler is installed before the first epoch, whose checkpoint is awaited.
    while !d.join("my run/checkpoint.safetensors").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("to go on from there: glassbox train --resume 'my run' --epochs 400"),
        "{stderr}"
    );

    ok(d, &args(&["--epochs", "3", "--out", "whole.safetensors"]));
    let saved = glassbox::train::Checkpoint::load(d.join("my run/checkpoint.safetensors"))
        .unwrap()
        .epoch();
    if saved >= 3 {
        return; // a slow signal: nothing left to resume at 3 epochs (checked above)
    }
    let (stdout, _) = ok(
        d,
        &["train", "--resume", "my run", "--epochs", "3", "--json"],
    );
    assert_eq!(report(&stdout)["epochs"], 3);
    assert_eq!(
        bits(&d.join("model.safetensors")),
        bits(&d.join("whole.safetensors"))
    );
}

/// Every file `train` writes is checked before the first epoch: a wrong --plot
/// extension, a missing or unwritable directory, a --checkpoint that is a file.
#[test]
fn output_paths_are_checked_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a-file"), b"x").unwrap();
    // 100 000 epochs would take minutes: each refusal comes before the first.
    let long = ["train", "--data", "xor", "--epochs", "100000", "--quiet"];
    let cases: [(&[&str], &str); 5] = [
        (
            &["--plot", "curves.gif"],
            "--plot: curves.gif: the file name must end in .png or .svg",
        ),
        (
            &["--plot", "no/such/dir/c.png"],
            "--plot no/such/dir/c.png: the directory no/such/dir does not exist",
        ),
        (
            &["--history", "/sys/h.csv"],
            "--history /sys/h.csv: cannot write in the directory /sys",
        ),
        (
            &["--checkpoint", "a-file"],
            "--checkpoint a-file: is a file; give a directory",
        ),
        (
            &["--out", "/proc/m.safetensors"],
            "--out /proc/m.safetensors: cannot write in the directory /proc",
        ),
    ];
    for (extra, expected) in cases {
        let args: Vec<&str> = long.iter().chain(extra).copied().collect();
        let started = Instant::now();
        let err = fails(d, &args);
        assert!(err.contains(expected), "{extra:?}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{extra:?} was refused only after training"
        );
    }
    assert!(!d.join("model.safetensors").exists(), "nothing trained");
}

/// A missing file is named once, with the system's words once.
#[test]
fn a_missing_file_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &["train", "--data", "xor:50", "--epochs", "1", "--quiet"],
    );
    let err = fails(
        d,
        &["predict", "--model", "model.safetensors", "missing.csv"],
    );
    assert!(err.contains("missing.csv"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// Raw 0–255 pixels in a CSV file get a warning before training that names
/// `--scale minmax`; scaled, they get none.
#[test]
fn unscaled_pixels_in_a_csv_file_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::from("p1,p2,p3,p4,label\n");
    for i in 0..40u32 {
        let v = (i * 37) % 256;
        text += &format!("{v},{},{},0,{}\n", 255 - v, (v * 3) % 256, i % 2);
    }
    std::fs::write(d.join("pixels.csv"), text).unwrap();
    let train = ["train", "--data", "pixels.csv", "--epochs", "1", "--quiet"];
    let (_, stderr) = ok(d, &train);
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning: pixels.csv"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(
        warning.contains("255") && warning.contains("--scale minmax"),
        "{warning}"
    );
    let scaled: Vec<&str> = train
        .iter()
        .chain(&["--scale", "minmax"])
        .copied()
        .collect();
    let (_, stderr) = ok(d, &scaled);
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// `explain` on a trained model says where its η comes from, writes the first layer's
/// inputs as x, two-part subscripts with a comma, and negative numbers with a true minus.
#[test]
fn explain_names_its_numbers_as_the_article_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "train", "--epochs", "1", "--layers", "16", "--quiet", "--seed", "3",
        ],
    );
    let (text, _) = ok(
        d,
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "digits",
            "--optimizer",
            "sgd",
        ],
    );
    assert!(
        text.contains(
            "learning rate η = 0.5 (explain's default, not the rate the model was trained with"
        ),
        "{text}"
    );
    // Layer 1's gradients multiply δ by the inputs x; 64 inputs give w₁,₆₄-style names.
    assert!(text.contains("= δ₁·x"), "{text}");
    assert!(!text.contains("δ₁·a₁"), "{text}");
    assert!(text.contains("∂C/∂w₁,"), "{text}");
    assert!(text.contains("weights w₁,ᵢ"), "{text}");
    for line in text.lines() {
        assert!(!line.contains("+ -") && !line.contains("·-"), "{line}");
        assert!(!line.contains("= -"), "{line}");
    }
    assert!(
        text.contains("(−"),
        "negative terms in brackets with −: {text}"
    );
}
