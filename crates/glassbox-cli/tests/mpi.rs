//! `mpirun -np N glassbox train …` (the `mpi` feature): N ranks train the model that one
//! process trains with the same batch size; rank 0 alone prints; a killed rank ends the
//! job with an error and leaves the old model whole; a checkpointed run resumes under
//! mpirun with another N.
//!
//! Needs Open MPI (`apt-get install -y openmpi-bin libopenmpi-dev libclang-dev`) and
//! runs with `cargo test --release -p glassbox-cli --features mpi --test mpi`. Every
//! job runs on the loopback interface only and is killed after a minute at most.
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_glassbox");

/// `mpirun -np N` on the loopback interface, as root too, more ranks than cores allowed.
fn mpirun(np: usize) -> Command {
    let mut c = Command::new("timeout");
    c.args([
        "-s",
        "KILL",
        "90",
        "mpirun",
        "--allow-run-as-root",
        "--oversubscribe",
    ])
    .args([
        "--mca",
        "btl",
        "self,tcp",
        "--mca",
        "btl_tcp_if_include",
        "lo",
    ])
    .args(["--mca", "oob_tcp_if_include", "lo"])
    .args(["-np", &np.to_string(), BIN]);
    c
}

/// One process, or `np` ranks, running `glassbox train args` in `dir`.
fn train(dir: &Path, np: usize, args: &[&str]) -> Output {
    let mut c = match np {
        1 => Command::new(BIN),
        n => mpirun(n),
    };
    let out = c
        .arg("train")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary starts");
    assert!(
        out.status.success(),
        "{np} × glassbox train {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn weights(path: &Path) -> Vec<f32> {
    let (net, _) = glassbox::io::load(path).unwrap();
    net.layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()).copied())
        .collect()
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    let (at, worst) = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0, 0.0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m });
    assert!(
        worst <= 1e-4,
        "{what}: weights differ by up to {worst} (parameter {at}: {} against {})",
        a[at],
        b[at]
    );
}

/// 800 training examples in batches of 24: shares of 12 + 12 and 8 + 8 + 8, and the
/// last batch of 8 goes 4 + 4 and 3 + 3 + 2 (uneven).
const DATA: [&str; 6] = [
    "--data",
    "spirals",
    "--layers",
    "24,20",
    "--batch-size",
    "24",
];

#[test]
fn two_and_three_ranks_train_one_process_model() {
    let dir = tempfile::tempdir().unwrap();
    for (optimizer, lr) in [("sgd", "0.1"), ("momentum", "0.05"), ("adam", "0.01")] {
        for dropout in ["0", "0.3"] {
            let mut args = DATA.to_vec();
            args.extend([
                "--optimizer",
                optimizer,
                "--lr",
                lr,
                "--dropout",
                dropout,
                "--epochs",
                "1",
                "--quiet",
            ]);
            train(
                dir.path(),
                1,
                &[&args[..], &["--out", "1.safetensors"]].concat(),
            );
            let one = weights(&dir.path().join("1.safetensors"));
            for (np, out) in [(2, "2.safetensors"), (3, "3.safetensors")] {
                train(dir.path(), np, &[&args[..], &["--out", out]].concat());
                let what = format!("{optimizer}, dropout {dropout}, {np} ranks");
                assert_close(&one, &weights(&dir.path().join(out)), &what);
            }
        }
    }
}

#[test]
fn rank_zero_alone_prints_the_progress() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = DATA.to_vec();
    args.extend(["--epochs", "2", "--out", "m.safetensors"]);
    let out = train(dir.path(), 3, &args);
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let count = |what: &str| text.lines().filter(|l| l.starts_with(what)).count();
    assert_eq!(count("epoch   2"), 1, "{text}");
    assert_eq!(count("model "), 1, "{text}");
    assert!(text.contains("shared by 3 MPI ranks"), "{text}");
}

#[test]
fn online_learning_is_refused_under_several_ranks_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = mpirun(2)
        .args(["train", "--data", "xor", "--batch-size", "1", "--quiet"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("online learning (batch size 1)"), "{err}");
    assert!(!dir.path().join("model.safetensors").exists());
}

/// The parent of process `pid` when its name starts with `name` ("(mpirun)").
fn parent(pid: u32, name: &str) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid …: comm may hold spaces, so split after its ')'.
    let (head, rest) = stat.rsplit_once(')')?;
    head.contains(name.trim_end_matches(')')).then_some(())?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The glassbox processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&p| parent(p, "(glassbox") == Some(pid))
        .collect()
}

/// Waits at most `limit` for `child`; kills it and fails when it is still running.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("the job was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error_and_the_old_model_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    train(
        dir.path(),
        1,
        &[&DATA[..], &["--out", "m.safetensors", "--quiet"]].concat(),
    );
    let before = std::fs::read(&model).unwrap();
    let mut job = mpirun(2)
        .args(["train", "--data", "spirals:20000", "--layers", "128,128"])
        .args([
            "--batch-size",
            "32",
            "--epochs",
            "1000",
            "--out",
            "m.safetensors",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // mpirun's direct child here is `mpirun` itself (under `timeout`); the ranks are its
    // children.
    let started = Instant::now();
    let ranks = loop {
        let mpiruns: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|&p: &u32| parent(p, "(mpirun)") == Some(job.id()))
            .collect();
        let ranks: Vec<u32> = mpiruns.iter().flat_map(|&m| children(m)).collect();
        if ranks.len() == 2 {
            break ranks;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the ranks never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-9", &ranks[1].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_at_most(&mut job, Duration::from_secs(60));
    let mut err = String::new();
    std::io::Read::read_to_string(job.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("signal 9") || err.contains("Killed"), "{err}");
    assert_eq!(
        std::fs::read(&model).unwrap(),
        before,
        "the old model changed"
    );
}

/// A run checkpointed after epoch 1 by one process resumes under 3 ranks, and one
/// checkpointed by 2 ranks under 2 ranks: both end with the weights of 2 epochs run
/// straight by one process.
#[test]
fn a_checkpointed_run_resumes_under_mpirun_with_the_same_or_another_number_of_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = DATA.to_vec();
    args.extend(["--optimizer", "adam", "--lr", "0.01", "--dropout", "0.2"]);
    args.push("--quiet");
    let path = |name: &str| dir.path().join(name);
    let once = ["--epochs", "2", "--out", "straight"];
    train(dir.path(), 1, &[&args[..], &once].concat());
    let straight = weights(&path("straight"));
    for (first, then, name) in [(1, 3, "a"), (2, 2, "b")] {
        let run = format!("{name}-run");
        let once = ["--epochs", "1", "--out", name, "--checkpoint", &run];
        train(dir.path(), first, &[&args[..], &once].concat());
        let out = format!("{name}-2");
        let twice = ["--epochs", "2", "--out", &out, "--resume", &run];
        train(dir.path(), then, &[&args[..], &twice].concat());
        let what = format!("1 epoch on {first} + 1 on {then} against 2 straight");
        assert_close(&straight, &weights(&path(&out)), &what);
    }
}
