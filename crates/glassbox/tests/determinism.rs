//! The same seed and thread count give bit-identical weights; another seed does not.

mod common;
use glassbox::data::Dataset;
use glassbox::rng::Rng;
use glassbox::tensor::PARALLEL_MIN_FLOPS;
use glassbox::train::{Shuffle, SPLIT_MIN_WORK};
use glassbox::{Activation, Adam, Init, Loss, Network, Optimizer, Sgd, TrainConfig, Trainer};

const INPUTS: usize = 64;
const HIDDEN: [usize; 2] = [256, 128];
const CLASSES: usize = 10;
const ROWS: usize = 512;
const BATCH: usize = 128;
const EPOCHS: usize = 2;

/// Random features and labels (the data's seed is fixed: only the run's seed varies).
fn data() -> Dataset {
    let mut rng = Rng::new(2024);
    let x = (0..ROWS * INPUTS).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let labels = (0..ROWS).map(|_| rng.below(CLASSES)).collect();
    let names = (0..CLASSES).map(|c| c.to_string()).collect();
    Dataset::classification(x, INPUTS, labels, names).unwrap()
}

/// Builds and trains a network, seeding both the initial weights and the shuffling.
fn train(data: &Dataset, seed: u64, threads: usize) -> Network {
    train_with_dropout(data, seed, threads, 0.1)
}

fn train_with_dropout(data: &Dataset, seed: u64, threads: usize, dropout: f32) -> Network {
    train_with(data, seed, threads, dropout, Adam::default().into())
}

fn train_with(
    data: &Dataset,
    seed: u64,
    threads: usize,
    dropout: f32,
    optimizer: Optimizer,
) -> Network {
    let mut net = Network::builder(INPUTS)
        .dense(HIDDEN[0], Activation::Relu)
        .dense(HIDDEN[1], Activation::Relu)
        .dense(CLASSES, Activation::Softmax)
        .build(Init::He, seed)
        .unwrap();
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer,
        epochs: EPOCHS,
        batch_size: BATCH,
        shuffle: Shuffle::EveryEpoch,
        dropout,
        seed,
        threads,
        ..TrainConfig::default()
    };
    Trainer::new(config).fit(&mut net, data).unwrap();
    net
}

fn bits(net: &Network) -> Vec<u32> {
    net.layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()))
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn the_layers_are_big_enough_for_threads_to_be_used() {
    // The batch's largest products must pass the threshold, or threads 2 would test
    // nothing that threads 1 does not.
    assert!(BATCH * HIDDEN[0] * INPUTS >= PARALLEL_MIN_FLOPS);
    assert!(BATCH * HIDDEN[0] * HIDDEN[1] >= PARALLEL_MIN_FLOPS);
}

#[test]
fn same_seed_and_threads_give_bit_identical_weights() {
    let data = data();
    for threads in [1, 2] {
        let a = train(&data, 7, threads);
        let b = train(&data, 7, threads);
        assert!(bits(&a) == bits(&b), "threads {threads}: two runs differ");
    }
}

#[test]
fn different_seeds_give_different_weights() {
    let data = data();
    let a = train(&data, 7, 1);
    let b = train(&data, 8, 1);
    let differing = bits(&a)
        .iter()
        .zip(bits(&b))
        .filter(|(x, y)| *x != y)
        .count();
    assert!(
        differing > bits(&a).len() / 2,
        "only {differing} weights differ"
    );
}

#[test]
fn two_threads_split_the_neurons_and_agree_with_one() {
    // With 2 threads every step is shared out by bands of neurons: the same arithmetic,
    // with the products' additions in another order, so the weights agree to rounding.
    // (Plain SGD: Adam divides by √v, which magnifies rounding in gradients that are
    // nearly 0.)
    let sgd: Optimizer = Sgd { learning_rate: 0.1 }.into();
    let one = train_with(&data(), 5, 1, 0.0, sgd);
    assert!(BATCH * one.parameter_count() / 2 >= SPLIT_MIN_WORK);
    let two = train_with(&data(), 5, 2, 0.0, sgd);
    let worst = common::largest_difference(&one, &two);
    assert!(worst < 1e-4, "weights differ by up to {worst}");
}
