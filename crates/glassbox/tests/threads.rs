//! Results do not depend on the thread count: training split between 2, 3, 4 or 8
//! threads ends where one thread ends (to float rounding), for SGD, momentum and Adam,
//! with and without dropout,
//! and predictions on any number of threads equal one thread's. These run with more
//! threads than this machine has cores on purpose. `GLASSBOX_THREADS=8` (or a
//! `sched_getaffinity` shim reporting 8 CPUs) also gives the process-wide spinning pool
//! 7 helpers; see `.ci/run`.

mod common;
use common::{largest_difference, largest_in};
use glassbox::data::Dataset;
use glassbox::rng::Rng;
use glassbox::tensor::Parallelism;
use glassbox::train::SPLIT_MIN_WORK;
use glassbox::{
    Activation, Adam, Init, Loss, Momentum, Network, Optimizer, Sgd, TrainConfig, Trainer,
};
use std::time::{Duration, Instant};

const INPUTS: usize = 50;
const CLASSES: usize = 3;
const BATCH: usize = 128;
const THREADS: [usize; 4] = [2, 3, 4, 8];

/// 300 examples: with batch 128 the last batch has 44 (6 rows per thread of 8).
fn data() -> Dataset {
    let mut rng = Rng::new(7);
    let rows = 300;
    let x = (0..rows * INPUTS).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let labels = (0..rows).map(|_| rng.below(CLASSES)).collect();
    let names = (0..CLASSES).map(|c| c.to_string()).collect();
    Dataset::classification(x, INPUTS, labels, names).unwrap()
}

/// Big enough that 8 threads split each step (see the first test); 410 is a multiple of
/// 16 for no thread count and 300 leaves the 8th thread no neurons at all.
fn network(output: Activation) -> Network {
    Network::builder(INPUTS)
        .dense(410, Activation::Tanh)
        .dense(300, Activation::Relu)
        .dense(CLASSES, output)
        .build(Init::Xavier, 5)
        .unwrap()
}

fn train(threads: usize, optimizer: Optimizer, loss: Loss, output: Activation) -> Network {
    train_with_dropout(threads, optimizer, loss, output, 0.0)
}

fn train_with_dropout(
    threads: usize,
    optimizer: Optimizer,
    loss: Loss,
    output: Activation,
    dropout: f32,
) -> Network {
    let mut net = network(output);
    let config = TrainConfig {
        loss,
        optimizer,
        epochs: 2,
        batch_size: BATCH,
        seed: 11,
        threads,
        dropout,
        ..TrainConfig::default()
    };
    let history = Trainer::new(config).fit(&mut net, &data()).unwrap();
    // The split ran: every epoch's steps were shared by all `threads` threads, each to
    // the end (a silent fall-back to one thread reports 1).
    for report in &history.epochs {
        assert_eq!(
            report.threads, threads,
            "epoch {}: {} of {threads} threads ran the steps",
            report.epoch, report.threads
        );
    }
    net
}

/// A NaN weight is the largest difference there is, not "no difference" (`f32::max`
/// drops NaN): a test comparing weights fails on it.
#[test]
fn a_nan_weight_counts_as_the_largest_difference() {
    let net = network(Activation::Softmax);
    assert_eq!(largest_difference(&net, &net), 0.0);
    let mut broken = net.clone();
    broken.parameters_mut(1).unwrap().1[7] = f32::NAN;
    assert_eq!(largest_difference(&net, &broken), f32::INFINITY);
    assert_eq!(largest_difference(&broken, &net), f32::INFINITY);
    assert_eq!(largest_difference(&broken, &broken), f32::INFINITY);
    assert_eq!(
        largest_in(&[0.0, f32::NAN, 1.0], &[0.0, 0.0, 0.0]),
        f32::INFINITY
    );
}

#[test]
fn the_network_is_big_enough_to_be_split_on_8_threads() {
    let params = network(Activation::Softmax).parameter_count();
    assert!(BATCH * params / 8 >= SPLIT_MIN_WORK, "{params} parameters");
}

fn agrees_with_one_thread(optimizer: Optimizer, loss: Loss, output: Activation) {
    let one = train(1, optimizer, loss, output);
    assert!(
        largest_difference(&one, &network(output)) > 1e-3,
        "nothing was learnt"
    );
    for threads in THREADS {
        let many = train(threads, optimizer, loss, output);
        let worst = largest_difference(&one, &many);
        assert!(
            worst < 1e-4,
            "{threads} threads: weights differ from one thread's by up to {worst}"
        );
    }
}

#[test]
fn sgd_on_2_3_4_and_8_threads_agrees_with_one_thread() {
    let sgd: Optimizer = Sgd { learning_rate: 0.1 }.into();
    agrees_with_one_thread(sgd, Loss::Mse, Activation::Sigmoid);
}

#[test]
fn momentum_on_2_3_4_and_8_threads_agrees_with_one_thread() {
    let momentum: Optimizer = Momentum {
        learning_rate: 0.05,
        momentum: 0.9,
    }
    .into();
    agrees_with_one_thread(momentum, Loss::CrossEntropy, Activation::Softmax);
}

#[test]
fn adam_on_2_3_4_and_8_threads_agrees_with_one_thread() {
    let adam: Optimizer = Adam {
        learning_rate: 1e-3,
        ..Adam::default()
    }
    .into();
    agrees_with_one_thread(adam, Loss::CrossEntropy, Activation::Softmax);
}

/// Dropout masks depend on the seed, the step and the neuron, not on which thread draws
/// them: with dropout too, any thread count ends where one thread ends.
#[test]
fn dropout_on_2_3_and_8_threads_agrees_with_one_thread() {
    let adam: Optimizer = Adam {
        learning_rate: 1e-3,
        ..Adam::default()
    }
    .into();
    let (loss, out) = (Loss::CrossEntropy, Activation::Softmax);
    let one = train_with_dropout(1, adam, loss, out, 0.3);
    let without = train(1, adam, loss, out);
    assert!(
        largest_difference(&one, &without) > 1e-3,
        "dropout changed nothing"
    );
    for threads in [2, 3, 8] {
        let many = train_with_dropout(threads, adam, loss, out, 0.3);
        let worst = largest_difference(&one, &many);
        assert!(
            worst < 1e-4,
            "{threads} threads with dropout: weights differ from one thread's by up to {worst}"
        );
    }
}

/// 784-512-256-10 with random weights and inputs, as in the reproduction.
fn image_network() -> (Network, Vec<f32>) {
    let net = Network::builder(784)
        .dense(512, Activation::Relu)
        .dense(256, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build(Init::He, 2)
        .unwrap();
    let mut rng = Rng::new(3);
    let images = (0..600 * 784).map(|_| rng.next_f32()).collect();
    (net, images)
}

#[test]
fn predictions_on_1_to_8_threads_agree() {
    let (net, images) = image_network();
    let one = net.predict(&images).unwrap();
    let first = net.predict(&images[..784]).unwrap();
    for threads in [2, 3, 4, 8] {
        let par = Parallelism::Threads(threads);
        // 600 rows: three chunks shared between threads; one row: a product split
        // between the spinning helpers (as many as the process has).
        let many = net.predict_with(&images, par).unwrap();
        let single = net.predict_with(&images[..784], par).unwrap();
        for (got, want) in [(&many, &one), (&single, &first)] {
            let worst = largest_in(got.as_slice(), want.as_slice());
            assert!(worst < 1e-6, "{threads} threads: outputs differ by {worst}");
        }
    }
}

/// The hang of issue 9: one image at a time with pauses long enough for the helpers to
/// park, as a server or the playground predicts. Every prediction must come back.
#[test]
fn one_image_predictions_with_pauses_never_hang() {
    let (net, images) = image_network();
    let par = Parallelism::Threads(glassbox::threads::available().max(2));
    let want = net.predict_with(&images[..784], par).unwrap();
    let started = Instant::now();
    for i in 0..60 {
        std::thread::sleep(Duration::from_millis(if i % 2 == 0 { 3 } else { 0 }));
        let got = net.predict_with(&images[..784], par).unwrap();
        assert_eq!(got, want);
    }
    // A hang shows as a test that never ends; this says how long it took otherwise.
    assert!(started.elapsed() < Duration::from_secs(60));
}
