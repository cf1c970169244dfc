//! A long prediction loop, printing the resident memory as it goes: it must stay flat.
//! Run: `cargo run --release --example predict_soak -- [CALLS]` (default 200 000
//! one-image calls and 2 000 calls of 256 images, on the cores' threads).

use glassbox::rng::Rng;
use glassbox::tensor::Parallelism;
use glassbox::{Activation, Init, Network};

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args().nth(1).map_or(Ok(200_000), |a| a.parse())?;
    let net = Network::builder(784)
        .dense(512, Activation::Relu)
        .dense(256, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build(Init::He, 1)?;
    let mut rng = Rng::new(1);
    let images: Vec<f32> = (0..256 * 784).map(|_| rng.next_f32()).collect();
    let par = Parallelism::Threads(glassbox::threads::available());
    let mut readings = Vec::new();
    for i in 0..calls {
        let one = &images[(i % 256) * 784..(i % 256 + 1) * 784];
        std::hint::black_box(net.predict_with(one, par)?);
        if i % 100 == 0 {
            std::hint::black_box(net.predict_with(&images, par)?);
        }
        if i % (calls / 10).max(1) == 0 {
            readings.push(rss_kib());
            println!("after {i:>7} calls: RSS {} KiB", readings.last().unwrap());
        }
    }
    let (first, last) = (readings[1.min(readings.len() - 1)], rss_kib());
    println!("RSS after the first tenth {first} KiB, at the end {last} KiB");
    Ok(())
}
