//! Inference speed of a saved model on the Fashion-MNIST test set: all 10 000 images in
//! one batch, and one image at a time. Prints one JSON line; `bench/run.sh` calls it.
//!
//! Run: `cargo run --release --example inference_bench -- --model M [--data DIR] [--threads N]`

use glassbox::data::idx;
use glassbox::tensor::{Parallelism, Tensor};
use glassbox::{io, Workspace};
use std::time::Instant;

/// Repetitions of the 10 000-image batch.
const BATCH_RUNS: usize = 20;
/// Single-image calls timed one by one.
const SINGLE_CALLS: usize = 1000;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut model = None;
    let mut dir = idx::FASHION_MNIST_DIR.to_string();
    let mut threads = glassbox::threads::available();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model" => model = Some(value),
            "--data" => dir = value,
            "--threads" => threads = value.parse()?,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    let model = model.ok_or("--model M is required")?;
    let (network, _) = io::load(&model)?;
    let (_, test) = idx::load_dir(&dir)?;
    let all = Tensor::from_vec(test.len(), test.width(), test.features().to_vec())?;

    // All the timed work runs in a pool of `threads` threads (see tensor::with_threads).
    let (batch_ms, single_us) =
        glassbox::tensor::with_threads(threads, || measure(&network, &test, &all, threads))?;
    println!(
        "{{\"batch_ms\": {batch_ms:.3}, \"single_us\": {single_us:.2}, \"threads\": {threads}, \"images\": {}}}",
        test.len()
    );
    Ok(())
}

/// (median ms for the whole batch, median µs for one image)
fn measure(
    network: &glassbox::Network,
    test: &glassbox::data::Dataset,
    all: &Tensor,
    threads: usize,
) -> (f64, f64) {
    let par = if threads > 1 {
        Parallelism::Threads(threads)
    } else {
        Parallelism::Sequential
    };
    // The whole test set in one call, as a user would make it: `predict` allocates the
    // output and its buffers, and runs chunks of rows on the threads.
    let inputs = all.as_slice();
    network
        .predict_with(inputs, par)
        .expect("the test set fits the model");
    let mut batch_ms: Vec<f64> = (0..BATCH_RUNS)
        .map(|_| {
            let t = Instant::now();
            let out = network
                .predict_with(inputs, par)
                .expect("the test set fits the model");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            std::hint::black_box(out);
            ms
        })
        .collect();

    // One image per call, as a service answering requests would.
    let mut ws1 = Workspace::new(network, 1);
    let mut one = Tensor::zeros(1, test.width());
    let mut single_us: Vec<f64> = (0..SINGLE_CALLS + 100)
        .map(|i| {
            test.write_row(i % test.len(), one.as_mut_slice());
            let t = Instant::now();
            network.forward_with(&one, &mut ws1, par);
            t.elapsed().as_secs_f64() * 1e6
        })
        .skip(100) // warm-up
        .collect();
    (median(&mut batch_ms), median(&mut single_us))
}
