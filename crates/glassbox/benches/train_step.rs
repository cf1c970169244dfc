//! One training step and one forward pass, in examples/s. Run: `cargo bench --bench train_step`.
//!
//! - the article's network (784-30-10, sigmoid, MSE, SGD) on one example — online learning;
//! - the 784-512-256-10 ReLU network with softmax + cross-entropy and Adam on a batch of 128;
//! - inference of that network on one image and on 1 000 images.
//!
//! Random inputs in [0, 1] stand in for images: the arithmetic does not depend on them.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glassbox::optim::OptimizerState;
use glassbox::rng::Rng;
use glassbox::tensor::{Parallelism, Tensor};
use glassbox::{Activation, Adam, Init, Loss, Network, Optimizer, Sgd, Workspace};
use std::hint::black_box;

fn batch(rows: usize, cols: usize, rng: &mut Rng) -> Tensor {
    let data = (0..rows * cols).map(|_| rng.next_f32()).collect();
    Tensor::from_vec(rows, cols, data).expect("sizes agree")
}

fn one_hot(rows: usize, classes: usize) -> Tensor {
    let mut y = Tensor::zeros(rows, classes);
    for i in 0..rows {
        y.row_mut(i)[i % classes] = 1.0;
    }
    y
}

/// forward, δᴸ, backward, update through the library's one-thread API (the trainer's
/// step, `train/step.rs`, calls the same layer functions; `bench/run.sh` times it).
fn step(
    net: &mut Network,
    ws: &mut Workspace,
    state: &mut OptimizerState,
    loss: Loss,
    x: &Tensor,
    y: &Tensor,
) {
    net.forward(x, ws);
    net.output_error(loss, y, ws, 1.0 / x.rows() as f32);
    net.backward(x, ws);
    let learning_rate = state.optimizer().learning_rate();
    state.step(net, ws.all_gradients(), learning_rate, 0.0);
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    let threads = glassbox::threads::available();

    let mut group = c.benchmark_group("train_step");
    {
        let mut net = Network::builder(784)
            .dense(30, Activation::Sigmoid)
            .dense(10, Activation::Sigmoid)
            .build(Init::Auto, 1)
            .expect("valid network");
        let (x, y) = (batch(1, 784, &mut rng), one_hot(1, 10));
        let optimizer: Optimizer = Sgd { learning_rate: 0.1 }.into();
        let mut state = OptimizerState::new(&optimizer, net.layers());
        let mut ws = Workspace::new(&net, 1);
        group.throughput(Throughput::Elements(1));
        group.bench_function("article 784-30-10 sgd batch 1", |b| {
            b.iter(|| step(&mut net, &mut ws, &mut state, Loss::Mse, black_box(&x), &y))
        });
    }
    {
        let mut net = Network::builder(784)
            .dense(512, Activation::Relu)
            .dense(256, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build(Init::He, 1)
            .expect("valid network");
        let (x, y) = (batch(128, 784, &mut rng), one_hot(128, 10));
        let optimizer: Optimizer = Adam::default().into();
        let mut state = OptimizerState::new(&optimizer, net.layers());
        let mut ws = Workspace::new(&net, 128);
        group.throughput(Throughput::Elements(128));
        group.bench_function("784-512-256-10 adam batch 128, 1t", |b| {
            b.iter(|| {
                step(
                    &mut net,
                    &mut ws,
                    &mut state,
                    Loss::CrossEntropy,
                    black_box(&x),
                    &y,
                )
            })
        });

        let one = batch(1, 784, &mut rng);
        let mut ws1 = Workspace::new(&net, 1);
        group.throughput(Throughput::Elements(1));
        group.bench_function("784-512-256-10 forward, 1 image", |b| {
            b.iter(|| net.forward(black_box(&one), &mut ws1))
        });
        let many = batch(1000, 784, &mut rng);
        let par = Parallelism::Threads(threads);
        let mut ws1000 = Workspace::new(&net, 1000);
        group.throughput(Throughput::Elements(1000));
        group.bench_function(
            format!("784-512-256-10 forward, 1000 images, {threads}t"),
            |b| b.iter(|| net.forward_with(black_box(&many), &mut ws1000, par)),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Figures only: criterion's plotting panics on machines without its fonts.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
