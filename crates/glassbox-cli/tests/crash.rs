//! Crashes lose nothing: `kill -9` at random moments of a real `glassbox train` process
//! never leaves a damaged checkpoint or model (the last one on disk is whole and loads),
//! and a run killed in the middle and resumed with `glassbox train --resume DIR` saves
//! the same model, bit for bit, as a run never interrupted.

use glassbox::rng::Rng;
use glassbox::train::Checkpoint;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn run(dir: &Path, args: &[&str]) {
    let out = start(dir, args).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "glassbox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (at most a minute) until `path` exists.
fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

const RUN: [&str; 12] = [
    "train",
    "--data",
    "spirals:12000",
    "--layers",
    "96,96",
    "--batch-size",
    "16",
    "--epochs",
    "8",
    "--dropout",
    "0.1",
    "--quiet",
];

/// A model file's weights as bits, and its metadata.
fn bits(path: &Path) -> (Vec<u32>, String) {
    let (net, info) = glassbox::io::load(path).unwrap();
    let weights = net
        .layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()))
        .map(|v| v.to_bits())
        .collect();
    (weights, format!("{info:?}"))
}

#[test]
fn a_run_killed_in_the_middle_resumes_to_the_same_model_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut whole = RUN.to_vec();
    whole.extend(["--out", "whole.safetensors"]);
    run(d, &whole);
    let expected = bits(&d.join("whole.safetensors"));

    let mut rng = Rng::new(1);
    for trial in 0..3 {
        let ck = format!("ck{trial}");
        let out = format!("part{trial}.safetensors");
        let mut args = RUN.to_vec();
        args.extend(["--checkpoint", &ck, "--out", &out]);
        let mut child = start(d, &args);
        wait_for(&d.join(&ck).join("checkpoint.safetensors"));
        std::thread::sleep(Duration::from_millis(rng.below(600) as u64));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let saved = Checkpoint::load(d.join(&ck).join("checkpoint.safetensors"))
            .unwrap_or_else(|e| panic!("trial {trial}: the checkpoint is damaged: {e}"));
        assert!(saved.epoch() >= 1);
        run(d, &["train", "--resume", &ck]);
        let got = bits(&d.join(&out));
        assert!(
            got == expected,
            "trial {trial}: killed after epoch {}, resumed: the model differs",
            saved.epoch()
        );
    }
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_damaged_checkpoint_or_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Tiny epochs: a checkpoint is written every few milliseconds, so kills land in
    // the middle of writes as often as in the middle of steps.
    let args = [
        "train",
        "--data",
        "digits",
        "--layers",
        "32",
        "--epochs",
        "400",
        "--checkpoint",
        "ck",
        "--out",
        "model.safetensors",
        "--quiet",
    ];
    let mut rng = Rng::new(2);
    let mut loaded = 0;
    for _ in 0..40 {
        let mut child = start(d, &args);
        std::thread::sleep(Duration::from_millis(rng.below(400) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        let checkpoint = d.join("ck").join("checkpoint.safetensors");
        if checkpoint.exists() {
            Checkpoint::load(&checkpoint).expect("a whole checkpoint");
            loaded += 1;
        }
        let model = d.join("model.safetensors");
        if model.exists() {
            glassbox::io::load(&model).expect("a whole model");
        }
    }
    assert!(
        loaded > 10,
        "only {loaded} kills came after the first checkpoint"
    );
}

/// A full disk (here the file-size limit, which fails writes the same way: `ulimit -f`)
/// and a read-only target: one clear message naming the file, a non-zero exit, the old
/// model byte for byte as it was, and no temporary file left behind.
#[test]
fn a_full_disk_or_a_read_only_target_keeps_the_old_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = b"the previous model, kept whole".to_vec();
    std::fs::write(d.join("model.safetensors"), &old).unwrap();
    let bin = env!("CARGO_BIN_EXE_glassbox");
    // SIGXFSZ ignored, so the write fails with EFBIG instead of killing the process; a
    // limit of 64 KiB lets the data load and refuses the 150 KB model.
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec {bin} train --data digits --layers 512 --epochs 1 \
         --quiet --out model.safetensors"
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("model.safetensors") && stderr.contains("too large"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read(d.join("model.safetensors")).unwrap(), old);
    let files: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "left behind: {files:?}");

    // /sys does not take new files, even from root.
    let out = start(
        d,
        &[
            "train",
            "--data",
            "xor:100",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            "/sys/m.safetensors",
        ],
    )
    .wait_with_output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("/sys/m.safetensors") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
