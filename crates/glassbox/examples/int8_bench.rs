//! int8 against float on the Fashion-MNIST test set: accuracy, the 10 000-image batch
//! (median of 20 runs), one image per call (median of 1 000 calls) and the file sizes.
//! Prints a Markdown table; the README's int8 rows come from it.
//!
//! Run: `cargo run --release --example int8_bench -- --model M [--data DIR] [--threads N]`
//! (the int8 model is made from M in memory and written beside it as M.int8.safetensors).

use glassbox::data::idx;
use glassbox::quant::{self, QuantizedNetwork};
use glassbox::tensor::Tensor;
use glassbox::{io, Workspace};
use std::time::Instant;

const BATCH_RUNS: usize = 20;
const SINGLE_CALLS: usize = 1000;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn timed(runs: usize, warm: usize, mut f: impl FnMut(usize)) -> Vec<f64> {
    (0..runs + warm)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64()
        })
        .skip(warm)
        .collect()
}

fn accuracy(outputs: &Tensor, labels: &[usize]) -> f64 {
    let right = (0..outputs.rows())
        .filter(|&i| glassbox::network::argmax(outputs.row(i)) == labels[i])
        .count();
    100.0 * right as f64 / labels.len() as f64
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
    let (float, info) = io::load(&model)?;
    let par = if threads > 1 {
        glassbox::tensor::Parallelism::Threads(threads)
    } else {
        glassbox::tensor::Parallelism::Sequential
    };
    let int8 = QuantizedNetwork::from_network(&float)?;
    let int8_path = format!("{model}.int8.safetensors");
    quant::save(&int8_path, &int8, &info)?;
    let (_, test) = idx::load_dir(&dir)?;
    let labels = test.labels().ok_or("the test set has no labels")?.to_vec();
    // Converted to f32 once, outside the timings (the test set keeps its pixels as bytes).
    let features = test.features();
    let inputs: &[f32] = &features;
    let width = test.width();
    let row = |i: usize| &inputs[(i % test.len()) * width..(i % test.len() + 1) * width];

    let (float_out, int8_out) = (
        float.predict_with(inputs, par)?,
        int8.predict_with(inputs, par)?,
    );
    let float_batch = median(timed(BATCH_RUNS, 2, |_| {
        std::hint::black_box(float.predict_with(inputs, par).unwrap());
    }));
    let int8_batch = median(timed(BATCH_RUNS, 2, |_| {
        std::hint::black_box(int8.predict_with(inputs, par).unwrap());
    }));
    let mut ws = Workspace::new(&float, 1);
    let mut one = Tensor::zeros(1, test.width());
    let float_single = median(timed(SINGLE_CALLS, 100, |i| {
        one.as_mut_slice().copy_from_slice(row(i));
        float.forward_with(&one, &mut ws, par);
    }));
    let int8_single = median(timed(SINGLE_CALLS, 100, |i| {
        std::hint::black_box(int8.predict_with(row(i), par).unwrap());
    }));
    let size = |p: &str| std::fs::metadata(p).map_or(0, |m| m.len());
    println!(
        "784-512-256-10 on {threads} thread(s); int8 kernel: {}",
        int8.kernel().name()
    );
    println!();
    println!("| model | test accuracy | 10 000 images (ms) | one image (µs) | file (bytes) |");
    println!("|---|---|---|---|---|");
    println!(
        "| float32 | {:.2}% | {:.1} | {:.1} | {} |",
        accuracy(&float_out, &labels),
        float_batch * 1e3,
        float_single * 1e6,
        size(&model)
    );
    println!(
        "| int8 | {:.2}% | {:.1} | {:.1} | {} |",
        accuracy(&int8_out, &labels),
        int8_batch * 1e3,
        int8_single * 1e6,
        size(&int8_path)
    );
    println!(
        "| int8 ÷ float | {:+.2} points | {:.2}× | {:.2}× | {:.2}× |",
        accuracy(&int8_out, &labels) - accuracy(&float_out, &labels),
        int8_batch / float_batch,
        int8_single / float_single,
        size(&int8_path) as f64 / size(&model) as f64
    );
    Ok(())
}
