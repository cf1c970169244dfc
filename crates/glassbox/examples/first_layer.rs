//! The two products of a first layer on real images, in the two layouts of its
//! weights, on every core at once (each core its band of 512 neurons, as a training step
//! shares them):
//!
//! - forward, z = x·Wᵀ: W as it is (the dot-form kernel), against W stored transposed
//!   (the broadcast-form kernel, which skips the pixels that are blank in all 8 images of
//!   a tile);
//! - weight gradient: ∂W = δᵀ·x (skips the images that are blank in a run of 32 pixels)
//!   against ∂Wᵀ = xᵀ·δ (skips an image's runs of 8 blank pixels).
//!
//! Training stores the first layer transposed while an epoch runs (train/step.rs). The
//! figure printed per core is the dense FLOP count over the time, three rounds.
//!
//! Run: `cargo run --release --example first_layer [-- DIR]` with DIR holding
//! Fashion-MNIST's `train-images-idx3-ubyte.gz` (default: Debian's
//! `/usr/share/datasets/fashion-mnist`, package `dataset-fashion-mnist`).

use glassbox::data::idx;
use glassbox::rng::Rng;
use glassbox::tensor::{gemm, Accum, MatMut, MatRef, Parallelism};
use std::time::Instant;

/// The products compared.
#[derive(Clone, Copy, Debug)]
enum Product {
    Forward,
    ForwardTransposed,
    Gradient,
    GradientTransposed,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into());
    let path = std::path::Path::new(&dir).join("train-images-idx3-ubyte.gz");
    let (bytes, _, count) = idx::load_image_bytes(&path)?;
    let (batch, width, neurons) = (128, bytes.len() / count, 512);
    let cores = glassbox::threads::available().clamp(1, neurons / 16);
    let per = neurons / cores;
    let mut rng = Rng::new(1);
    let mut x = Vec::with_capacity(batch * width);
    for _ in 0..batch {
        let i = rng.below(count);
        let row = &bytes[i * width..(i + 1) * width];
        x.extend(row.iter().map(|&p| glassbox::data::pixel_value(p)));
    }
    let w: Vec<f32> = (0..neurons * width)
        .map(|_| rng.uniform(-0.1, 0.1))
        .collect();
    // Each core's band of W, transposed in a block of its own (as training stores it).
    let mut wt = vec![0.0; neurons * width];
    for (band, block) in w.chunks(per * width).zip(wt.chunks_mut(per * width)) {
        for i in 0..per {
            for p in 0..width {
                block[p * per + i] = band[i * width + p];
            }
        }
    }
    let delta: Vec<f32> = (0..batch * neurons)
        .map(|_| rng.uniform(-0.5, 0.5))
        .collect();
    let bias = vec![0.01; neurons];
    let reps = 1000;
    let flops = 2.0 * (per * width * batch * reps) as f64;
    println!("{cores} cores, {per} neurons each, batch {batch} of real images");
    for round in 1..=3 {
        for product in [
            Product::Forward,
            Product::ForwardTransposed,
            Product::Gradient,
            Product::GradientTransposed,
        ] {
            let rates: Vec<f64> = std::thread::scope(|s| {
                let cores: Vec<_> = (0..cores)
                    .map(|t| {
                        let (x, w, wt, delta, bias) = (&x, &w, &wt, &delta, &bias);
                        s.spawn(move || {
                            let band = t * per * width..(t + 1) * per * width;
                            let (w, wt) = (&w[band.clone()], &wt[band]);
                            let delta =
                                MatRef::new(delta, batch, neurons).col_band(t * per..(t + 1) * per);
                            let bias = &bias[t * per..(t + 1) * per];
                            let x = MatRef::new(x, batch, width);
                            let mut out = vec![0.0; per * width];
                            let started = Instant::now();
                            for _ in 0..reps {
                                match product {
                                    Product::Forward => gemm(
                                        MatMut::new(&mut out[..batch * per], batch, per),
                                        x,
                                        MatRef::new(w, per, width).t(),
                                        Accum::AddRow(bias),
                                        Parallelism::Sequential,
                                    ),
                                    Product::ForwardTransposed => gemm(
                                        MatMut::new(&mut out[..batch * per], batch, per),
                                        x,
                                        MatRef::new(wt, width, per),
                                        Accum::AddRow(bias),
                                        Parallelism::Sequential,
                                    ),
                                    Product::Gradient => gemm(
                                        MatMut::new(&mut out, per, width),
                                        delta.t(),
                                        x,
                                        Accum::Replace,
                                        Parallelism::Sequential,
                                    ),
                                    Product::GradientTransposed => gemm(
                                        MatMut::new(&mut out, width, per),
                                        x.t(),
                                        delta,
                                        Accum::Replace,
                                        Parallelism::Sequential,
                                    ),
                                }
                            }
                            flops / started.elapsed().as_secs_f64() / 1e9
                        })
                    })
                    .collect();
                cores.into_iter().map(|c| c.join().unwrap()).collect()
            });
            let rates: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
            println!(
                "round {round}, {product:?}: {} GFLOP/s per core",
                rates.join(", ")
            );
        }
    }
    Ok(())
}
