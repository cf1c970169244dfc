//! The weight gradient of a first layer, ∂W = δᵀ·X, on one core: a batch of 128 real
//! images against the same batch with no zero pixel (every pixel + 0.01). The product's
//! kernel skips the rows of X that are zero in a block of 32 columns (tensor/avx512.rs),
//! so on images it does less arithmetic than the FLOP count says; the figure printed is
//! that count over the time, interleaved with the dense batch, three rounds.
//!
//! Run: `cargo run --release --example image_gradient [-- DIR]` with DIR holding
//! Fashion-MNIST's `train-images-idx3-ubyte.gz` (default: Debian's
//! `/usr/share/datasets/fashion-mnist`, package `dataset-fashion-mnist`).

use glassbox::data::idx;
use glassbox::rng::Rng;
use glassbox::tensor::{gemm, Accum, MatMut, MatRef, Parallelism};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into());
    let path = std::path::Path::new(&dir).join("train-images-idx3-ubyte.gz");
    let (bytes, _, count) = idx::load_image_bytes(&path)?;
    let (batch, width, neurons) = (128, bytes.len() / count, 256);
    let mut rng = Rng::new(1);
    let mut images = Vec::with_capacity(batch * width);
    for _ in 0..batch {
        let i = rng.below(count);
        let row = &bytes[i * width..(i + 1) * width];
        images.extend(row.iter().map(|&p| glassbox::data::pixel_value(p)));
    }
    let dense: Vec<f32> = images.iter().map(|x| x + 0.01).collect();
    let delta: Vec<f32> = (0..batch * neurons)
        .map(|_| rng.uniform(-0.5, 0.5))
        .collect();
    let mut grad = vec![0.0; neurons * width];
    let reps = 2000;
    let flops = 2.0 * (neurons * width * batch * reps) as f64;
    for round in 1..=3 {
        for (name, x) in [("images", &images), ("no zeros", &dense)] {
            let started = Instant::now();
            for _ in 0..reps {
                gemm(
                    MatMut::new(&mut grad, neurons, width),
                    MatRef::new(&delta, batch, neurons).t(),
                    MatRef::new(x, batch, width),
                    Accum::Replace,
                    Parallelism::Sequential,
                );
            }
            let gflops = flops / started.elapsed().as_secs_f64() / 1e9;
            println!(
                "round {round}, {neurons}×{width} gradient of 128 {name}: {gflops:.1} GFLOP/s"
            );
        }
    }
    Ok(())
}
