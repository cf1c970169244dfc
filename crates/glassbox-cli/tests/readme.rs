//! Every shell command in the README is run here, or skipped for a reason written below.
//!
//! The commands are read from the README's ```sh blocks (a line ending in `\` goes on,
//! `# …` is a comment) and run in their order in one temporary directory, so that a
//! command finds the files the ones before it wrote (`model.safetensors`, `run1/`,
//! `model8.safetensors`, …), with the binary under test standing for `glassbox` and
//! `cargo run --release --`. Optional parts written `[--flag VALUE]` are left out. A
//! README command that [`plan`] does not know fails the test: a new command gets a run
//! or a reason.
//!
//! What differs from the README, and why (the suite has to stay fast in a debug build):
//! - `--data fashion-mnist` reads the first 2 000 training and 500 test images of
//!   Fashion-MNIST, written as an IDX directory (the same files, fewer of them), and
//!   `--epochs N` on it (and on `--resume` of such a run) is at most 3. Without `dataset-fashion-mnist` installed those
//!   commands are skipped, and the test says so.
//! - Files the README assumes the reader has are made first: `test.csv` (those test
//!   images as a CSV table), `shirt.png`, `boot.png` and `shoe.png` (test images),
//!   `state.safetensors` and `trained.safetensors` (a PyTorch-format export standing in
//!   for a state dict and for the DDP run's output), `big-idx-dir/` (the images
//!   uncompressed, for `--stream`) and `request.json` (one row for `infer`).
//! - `glassbox serve` runs on `--port 0` (a free port, not 8080, which may be taken) and
//!   the curl commands are sent to that port on 127.0.0.1.

use glassbox::data::{idx, Dataset};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The README, at the repository's root.
fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

/// The commands of the README's ```sh blocks, one string each, in order.
fn commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_block = !in_block && (trimmed == "```sh" || trimmed == "```bash");
            continue;
        }
        if !in_block {
            continue;
        }
        // A comment starts at " #" (or at the line's start); `#` inside a word stays.
        let code = match trimmed.find(" #") {
            Some(at) if !trimmed.starts_with('#') => &trimmed[..at],
            _ if trimmed.starts_with('#') => "",
            _ => trimmed,
        };
        let code = code.trim();
        // A synopsis goes on with `[optional …]` parts on the next line.
        if code.starts_with('[') && pending.is_empty() {
            if let Some(last) = commands.last_mut() {
                *last = format!("{last} {code}");
                continue;
            }
        }
        match code.strip_suffix('\\') {
            Some(part) => {
                pending += part.trim();
                pending += " ";
            }
            None => {
                pending += code;
                let command = pending.trim().to_string();
                if !command.is_empty() {
                    commands.push(command);
                }
                pending.clear();
            }
        }
    }
    commands
}

/// What the test does with a README command.
#[derive(Debug, PartialEq)]
enum Plan {
    /// Run it with the binary under test.
    Glassbox,
    /// Start `glassbox serve`, then send it the README's curl commands.
    Serve,
    /// Sent to the running server (see [`Plan::Serve`]).
    Curl,
    /// Not run, for this reason.
    Skip(&'static str),
}

/// The plan for each README command: every one is listed here.
fn plan(command: &str) -> Plan {
    let starts = |prefix: &str| command.starts_with(prefix);
    if starts("cargo run --release -- train") {
        Plan::Glassbox
    } else if starts("cargo test") || starts("GLASSBOX_THREADS=8 cargo test") {
        Plan::Skip("the test suite itself (`.ci/run` runs both)")
    } else if starts("glassbox playground") {
        Plan::Skip(
            "serves until stopped (and --open starts a browser); the browser tests and \
             crates/glassbox-web/tests start the playground on --port 0",
        )
    } else if starts("glassbox serve --model fashion8.safetensors --host 0.0.0.0") {
        Plan::Skip(
            "listens on every interface; tests send traffic only to 127.0.0.1 \
             (tests/serve_network.rs checks --api-key-file there)",
        )
    } else if starts("glassbox serve") {
        Plan::Serve
    } else if starts("curl -s -H \"Authorization") {
        Plan::Skip("needs a server on another machine (HOST)")
    } else if starts("curl") {
        Plan::Curl
    } else if starts("glassbox ") {
        Plan::Glassbox
    } else if starts("cargo run --release -p glassbox --example int8_bench") {
        Plan::Skip("a benchmark of minutes (figures in bench/RESULTS.md)")
    } else if starts("bench/.venv/bin/python") || starts("torchrun") {
        Plan::Skip("needs PyTorch (bench/.venv); bench/README.md")
    } else if starts("bash bench/load_test.sh") || starts("SOAK_ROUNDS=") {
        Plan::Skip("a load benchmark with wrk, minutes long")
    } else if starts("openssl rand") {
        Plan::Skip("makes the key of the 0.0.0.0 server, skipped above")
    } else if starts("python3 -m venv") || starts("pip install") {
        Plan::Skip("the Python package: `.ci/run` builds it and runs bindings/python/tests")
    } else if starts("grpcurl") {
        Plan::Skip(
            "grpcurl is not in Debian here; tests/triton (tritonclient) sends the same \
             ModelInfer over gRPC",
        )
    } else if starts("cargo build --release -p glassbox-cli --features mpi") || starts("mpirun") {
        Plan::Skip("Open MPI: `.ci/run` builds the mpi feature and runs tests/mpi.rs under mpirun")
    } else if starts("dask ") {
        Plan::Skip("a Dask cluster on several machines; the Python tests run a LocalCluster")
    } else {
        panic!("the README command `{command}` is neither run nor skipped by tests/readme.rs")
    }
}

/// The tokens of a glassbox command as run here: the binary's arguments, without
/// `[optional]` parts, with Fashion-MNIST's subset and its epochs capped.
fn arguments(command: &str, fashion: Option<&Path>) -> Option<Vec<String>> {
    let rest = command
        .strip_prefix("cargo run --release -- ")
        .or_else(|| command.strip_prefix("glassbox "))?;
    // An optional part `[--flag VALUE]` is kept when it can run as written: a flag,
    // and no placeholder (`FILE`, `N`, `a,b,…`); the port and host are the test's.
    let runnable = |part: &[&str]| {
        part[0].starts_with("--")
            && !["--port", "--host"].contains(&part[0])
            && part[1..]
                .iter()
                .all(|t| !t.contains('…') && !t.chars().all(|c| c.is_ascii_uppercase()))
    };
    let mut tokens = Vec::new();
    let mut part: Vec<&str> = Vec::new();
    for token in rest.split_whitespace() {
        if part.is_empty() && !token.starts_with('[') {
            tokens.push(token.to_string());
            continue;
        }
        part.push(token.trim_start_matches('[').trim_end_matches(']'));
        if token.ends_with(']') {
            if runnable(&part) {
                tokens.extend(part.iter().map(|t| t.to_string()));
            }
            part.clear();
        }
    }
    // The runs on Fashion-MNIST (and the resumption of one) are capped at 3 epochs.
    let on_fashion = tokens.iter().any(|t| t == "fashion-mnist");
    if on_fashion || tokens.iter().any(|t| t == "--resume") {
        let dir = fashion?;
        for i in 0..tokens.len() {
            if tokens[i] == "fashion-mnist" {
                tokens[i] = dir.display().to_string();
            }
            if i > 0 && tokens[i - 1] == "--epochs" {
                let epochs: usize = tokens[i].parse().unwrap();
                tokens[i] = epochs.min(MAX_EPOCHS).to_string();
            }
        }
    }
    Some(tokens)
}

/// The most epochs a README command trains on the Fashion-MNIST subset.
const MAX_EPOCHS: usize = 3;

/// The first `n` rows of `data`.
fn first(data: &Dataset, n: usize) -> Dataset {
    data.subset(&(0..n.min(data.len())).collect::<Vec<_>>())
}

/// Writes test image `i` of `data` (28 × 28) as a grayscale PNG.
fn png(data: &Dataset, i: usize, path: &Path) {
    let pixels: Vec<u8> = data
        .row(i)
        .iter()
        .map(|x| (x * 255.0).round() as u8)
        .collect();
    image::save_buffer(path, &pixels, 28, 28, image::ExtendedColorType::L8).unwrap();
}

/// The files the README's commands assume, made from Fashion-MNIST's test images.
fn make_files(d: &Path) -> Option<PathBuf> {
    let installed = Path::new(idx::FASHION_MNIST_DIR).join("t10k-images-idx3-ubyte.gz");
    if !installed.exists() {
        return None;
    }
    let (train, test) = idx::fashion_mnist(idx::FASHION_MNIST_DIR).unwrap();
    let (train, test) = (first(&train, 2000), first(&test, 500));
    let dir = d.join("fashion-small");
    idx::save_dir(&train, &test, &dir, true).unwrap();
    idx::save_dir(&train, &test, d.join("big-idx-dir"), false).unwrap();
    // test.csv: a label column and 784 pixel columns, x = p / 255 as the loader gives.
    let mut csv = String::from("label");
    for p in 1..=784 {
        csv += &format!(",pixel{p}");
    }
    csv.push('\n');
    let labels = test.labels().unwrap();
    for (i, &label) in labels.iter().enumerate() {
        csv += test.class_names()[label].as_str();
        for x in test.row(i).iter() {
            csv += &format!(",{x}");
        }
        csv.push('\n');
    }
    std::fs::write(d.join("test.csv"), csv).unwrap();
    let of_class = |c: usize| labels.iter().position(|&l| l == c).unwrap();
    png(&test, of_class(6), &d.join("shirt.png"));
    png(&test, of_class(9), &d.join("boot.png"));
    png(&test, of_class(7), &d.join("shoe.png"));
    let row: Vec<String> = test.row(0).iter().map(|x| x.to_string()).collect();
    let request = format!(
        r#"{{"inputs":[{{"name":"input","shape":[1,784],"datatype":"FP32","data":[{}]}}]}}"#,
        row.join(",")
    );
    std::fs::write(d.join("request.json"), request).unwrap();
    Some(dir)
}

/// Runs `glassbox ARGS` in `dir`, expecting success.
fn run(dir: &Path, args: &[String], command: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "README: `{command}` failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Before a command, the files it names that the README's reader is assumed to have.
fn before(d: &Path, args: &[String]) {
    let copy = |name: &str| std::fs::copy(d.join("torch.safetensors"), d.join(name)).unwrap();
    if args.iter().any(|a| a == "state.safetensors") {
        copy("state.safetensors");
    }
    if args.iter().any(|a| a == "trained.safetensors") {
        copy("trained.safetensors");
    }
}

#[test]
fn every_readme_command_runs_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fashion = make_files(d);
    let commands = commands(&readme());
    assert!(commands.len() > 30, "{commands:?}");
    let mut server: Option<(std::process::Child, String)> = None;
    let (mut ran, mut skipped) = (0, Vec::new());
    for command in &commands {
        match plan(command) {
            Plan::Glassbox => match arguments(command, fashion.as_deref()) {
                Some(args) => {
                    before(d, &args);
                    run(d, &args, command);
                    ran += 1;
                }
                None => skipped.push(format!("{command}: dataset-fashion-mnist is missing")),
            },
            Plan::Serve => {
                let mut args = arguments(command, None).unwrap();
                args.extend(["--port".into(), "0".into()]);
                // A gRPC port too is the test's: a free one.
                for i in 1..args.len() {
                    if args[i - 1] == "--grpc-port" {
                        args[i] = "0".into();
                    }
                }
                // One server at a time: the README's later `serve` replaces the earlier.
                if let Some((mut child, _)) = server.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
                    .args(&args)
                    .current_dir(d)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let mut line = String::new();
                BufReader::new(child.stdout.take().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                let address = line
                    .trim()
                    .strip_prefix("serving: http://")
                    .and_then(|a| a.strip_suffix('/'))
                    .unwrap_or_else(|| panic!("serve printed {line:?}"))
                    .to_string();
                assert!(address.starts_with("127.0.0.1:"), "{address}");
                server = Some((child, address));
                ran += 1;
            }
            Plan::Curl => {
                let Some((_, address)) = &server else {
                    panic!("`{command}` comes before `glassbox serve` in the README")
                };
                if fashion.is_none() {
                    skipped.push(format!("{command}: its files need dataset-fashion-mnist"));
                    continue;
                }
                let sent = command.replace("localhost:8080", address);
                let out = Command::new("bash")
                    .args(["-c", &format!("{sent} --fail-with-body --max-time 20")])
                    .current_dir(d)
                    .output()
                    .expect("curl runs (Debian's curl)");
                let body = String::from_utf8_lossy(&out.stdout);
                assert!(out.status.success(), "README: `{command}`: {body}");
                assert!(body.contains("class"), "README: `{command}`: {body}");
                ran += 1;
            }
            Plan::Skip(why) => skipped.push(format!("{command}: {why}")),
        }
    }
    if let Some((mut child, _)) = server {
        let _ = child.kill();
        let _ = child.wait();
    }
    println!("ran {ran} README commands; skipped {}:", skipped.len());
    for s in &skipped {
        println!("  {s}");
    }
    assert!(ran >= 20, "ran {ran}");
}

#[test]
fn commands_are_read_whole() {
    let text = "x\n```sh\nglassbox train --a 1 \\\n  --b 2   # note\n# only a comment\n\
                curl -H \"k: $(cat f)\" -d '{\"a\":1}'\n```\n```text\nglassbox no\n```\n";
    assert_eq!(
        commands(text),
        [
            "glassbox train --a 1 --b 2",
            "curl -H \"k: $(cat f)\" -d '{\"a\":1}'"
        ]
    );
    let args = arguments(
        "glassbox serve --model m [--port 8080] [--name NAME] [limits: see below] --x y",
        None,
    );
    assert_eq!(args.unwrap(), ["serve", "--model", "m", "--x", "y"]);
    let args = arguments(
        "glassbox import [--inputs-shape 28x28] [--classes a,b,…]",
        None,
    );
    assert_eq!(args.unwrap(), ["import", "--inputs-shape", "28x28"]);
    let text = "```sh\nglassbox serve --m x [--port 1]\n               [--k FILE]\n```\n";
    assert_eq!(
        commands(text),
        ["glassbox serve --m x [--port 1] [--k FILE]"]
    );
    let capped = arguments(
        "glassbox train --data fashion-mnist --epochs 40",
        Some(Path::new("small")),
    );
    assert_eq!(
        capped.unwrap(),
        ["train", "--data", "small", "--epochs", "3"]
    );
}
