//! One engine: the trainer's step (`train/step.rs`) is the library's step. A run of
//! `Trainer::fit` ends with the weights of a loop a reader can write from the public
//! API — `Network::forward`, `Network::output_error`, `Network::backward`,
//! `OptimizerState::step` — for random shapes, activations, losses and optimisers,
//! mini-batch and online. Online SGD (batch 1) takes the fast path
//! (`Dense::sgd_step_then_weighted_sums`, on the first layer stored transposed), so this
//! also shows the fast path equal to the general one.

mod common;
use common::largest_difference;
use glassbox::data::Dataset;
use glassbox::optim::OptimizerState;
use glassbox::rng::Rng;
use glassbox::tensor::Tensor;
use glassbox::train::Shuffle;
use glassbox::{
    Activation, Adam, Init, Loss, Momentum, Network, Optimizer, Sgd, TrainConfig, Trainer,
    Workspace,
};

/// The article's loop, from the public API: every batch forward, δᴸ, backward, update.
fn by_hand(net: &mut Network, data: &Dataset, config: &TrainConfig) {
    let mut state = OptimizerState::new(&config.optimizer, net.layers());
    let lr = config.optimizer.learning_rate();
    let order: Vec<usize> = (0..data.len()).collect();
    for _ in 0..config.epochs {
        for rows in order.chunks(config.batch_size) {
            let mut x = Tensor::zeros(rows.len(), data.width());
            let mut y = Tensor::zeros(rows.len(), data.target_width());
            for (i, &r) in rows.iter().enumerate() {
                data.write_row(r, x.row_mut(i));
                data.write_target_row(r, y.row_mut(i));
            }
            let mut ws = Workspace::new(net, rows.len());
            net.forward(&x, &mut ws);
            net.output_error(config.loss, &y, &mut ws, 1.0 / rows.len() as f32);
            net.backward(&x, &mut ws);
            state.step(net, ws.all_gradients(), lr, config.l2);
        }
    }
}

fn random_case(seed: u64) -> (Network, Dataset, TrainConfig) {
    let mut rng = Rng::new(seed);
    let inputs = 1 + rng.below(40);
    let classes = 2 + rng.below(4);
    let hidden = [Activation::Sigmoid, Activation::Tanh, Activation::Relu];
    let mut builder = Network::builder(inputs);
    for _ in 0..1 + rng.below(3) {
        builder = builder.dense(1 + rng.below(50), hidden[rng.below(hidden.len())]);
    }
    let (output, loss) = match rng.below(3) {
        0 => (Activation::Softmax, Loss::CrossEntropy),
        1 => (Activation::Sigmoid, Loss::Mse),
        _ => (Activation::Identity, Loss::Mse),
    };
    let net = builder
        .dense(classes, output)
        .build(Init::Xavier, seed)
        .unwrap();
    let rows = 20 + rng.below(60);
    // A third of the inputs exactly zero, as an image's blank pixels are: the steps
    // that skip zeros (online learning's sweep, the kernels' lists) are taken.
    let x = (0..rows * inputs)
        .map(|_| match rng.below(3) {
            0 => 0.0,
            _ => rng.uniform(-1.0, 1.0),
        })
        .collect();
    let labels = (0..rows).map(|_| rng.below(classes)).collect();
    let names = (0..classes).map(|c| c.to_string()).collect();
    let data = Dataset::classification(x, inputs, labels, names).unwrap();
    let optimizer: Optimizer = match rng.below(3) {
        0 => Sgd {
            learning_rate: 0.05,
        }
        .into(),
        1 => Momentum {
            learning_rate: 0.02,
            momentum: 0.9,
        }
        .into(),
        _ => Adam {
            learning_rate: 3e-3,
            ..Adam::default()
        }
        .into(),
    };
    let config = TrainConfig {
        loss,
        optimizer,
        epochs: 2,
        // Batch 1 with SGD is online learning: the fast path.
        batch_size: [1, 1, 7, 16][rng.below(4)],
        shuffle: Shuffle::Never,
        l2: [0.0, 1e-3][rng.below(2)],
        seed,
        ..TrainConfig::default()
    };
    (net, data, config)
}

#[test]
fn the_trainers_step_is_the_loop_written_from_the_public_api() {
    let mut online = 0;
    for seed in 0..40 {
        let (start, data, config) = random_case(seed);
        online += usize::from(config.batch_size == 1 && config.optimizer.name() == "sgd");
        let mut trained = start.clone();
        Trainer::new(config.clone())
            .fit(&mut trained, &data)
            .unwrap();
        let mut by_loop = start.clone();
        by_hand(&mut by_loop, &data, &config);
        assert!(
            largest_difference(&trained, &start) > 1e-4,
            "case {seed}: nothing was learnt"
        );
        let worst = largest_difference(&trained, &by_loop);
        assert!(
            worst < 1e-5,
            "case {seed} ({} batch {}, {}): the trainer and the loop differ by {worst}",
            config.optimizer.name(),
            config.batch_size,
            config.loss
        );
    }
    assert!(online >= 3, "only {online} online cases");
}

/// A network with no hidden layer trains online (batch 1, SGD) like the loop: its one
/// layer is the output layer, which is not stored transposed, so the fused first-layer
/// step of online learning does not apply to it (before issue 27 the step deferred its
/// update to that path anyway: nothing was learnt, then the epoch's end panicked).
#[test]
fn a_network_without_hidden_layers_trains_online_like_the_loop() {
    let mut rng = Rng::new(3);
    let (rows, inputs, classes) = (40, 12, 3);
    let x = (0..rows * inputs).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let labels = (0..rows).map(|_| rng.below(classes)).collect();
    let names = (0..classes).map(|c| c.to_string()).collect();
    let data = Dataset::classification(x, inputs, labels, names).unwrap();
    let start = Network::builder(inputs)
        .dense(classes, Activation::Sigmoid)
        .build(Init::Xavier, 3)
        .unwrap();
    let config = TrainConfig {
        loss: Loss::Mse,
        optimizer: Sgd { learning_rate: 0.1 }.into(),
        epochs: 2,
        batch_size: 1,
        shuffle: Shuffle::Never,
        ..TrainConfig::default()
    };
    let mut trained = start.clone();
    Trainer::new(config.clone())
        .fit(&mut trained, &data)
        .unwrap();
    let mut by_loop = start.clone();
    by_hand(&mut by_loop, &data, &config);
    assert!(
        largest_difference(&trained, &start) > 1e-4,
        "nothing was learnt"
    );
    let worst = largest_difference(&trained, &by_loop);
    assert!(worst < 1e-5, "the trainer and the loop differ by {worst}");
}

/// Images kept as bytes (`Dataset::classification_pixels`, as the IDX loaders keep
/// them) train to the same bits as the same images as f32: the step converts each row
/// with the table x = p / 255 that the f32 loader used.
#[test]
fn pixels_kept_as_bytes_train_to_the_same_bits_as_f32_pixels() {
    let mut rng = Rng::new(11);
    let (rows, width, classes) = (96, 49, 3);
    let bytes: Vec<u8> = (0..rows * width).map(|_| rng.below(256) as u8).collect();
    let labels: Vec<usize> = (0..rows).map(|_| rng.below(classes)).collect();
    let names: Vec<String> = (0..classes).map(|c| c.to_string()).collect();
    let floats = bytes.iter().map(|&p| f32::from(p) / 255.0).collect();
    let as_f32 = Dataset::classification(floats, width, labels.clone(), names.clone()).unwrap();
    let as_bytes = Dataset::classification_pixels(bytes, width, labels, names).unwrap();
    assert!(as_bytes.pixels().is_some() && as_f32.pixels().is_none());
    assert_eq!(as_bytes, as_f32);
    for batch_size in [1, 16] {
        let start = Network::builder(width)
            .dense(20, Activation::Relu)
            .dense(classes, Activation::Softmax)
            .build(Init::He, 3)
            .unwrap();
        let config = TrainConfig {
            epochs: 2,
            batch_size,
            dropout: 0.2,
            ..TrainConfig::default()
        };
        let (mut a, mut b) = (start.clone(), start.clone());
        Trainer::new(config.clone()).fit(&mut a, &as_f32).unwrap();
        Trainer::new(config).fit(&mut b, &as_bytes).unwrap();
        assert!(largest_difference(&a, &start) > 1e-4);
        assert_eq!(
            a, b,
            "batch {batch_size}: bytes and f32 trained differently"
        );
    }
}

/// A network big enough for the AVX-512 kernels, on inputs with blank runs as images
/// have: the trainer (which stores the first layer's weights and optimiser state
/// transposed while an epoch runs, and whose products skip zeros) ends where the loop
/// from the public API ends, on one thread and on two, with SGD and with Adam (whose
/// moments are transposed back and forth between the epochs).
#[test]
fn a_first_layer_trained_transposed_ends_where_the_loop_ends() {
    let (inputs, rows, classes) = (196, 256, 10);
    let mut rng = Rng::new(5);
    let x = (0..rows * inputs)
        .map(|i| {
            let (r, j) = (i / inputs, i % inputs);
            let blank = j < 24 || (j + 5 * r) % 11 < 4;
            if blank {
                0.0
            } else {
                rng.uniform(0.0, 1.0)
            }
        })
        .collect();
    let labels = (0..rows).map(|_| rng.below(classes)).collect();
    let names = (0..classes).map(|c| c.to_string()).collect();
    let data = Dataset::classification(x, inputs, labels, names).unwrap();
    let start = Network::builder(inputs)
        .dense(128, Activation::Relu)
        .dense(64, Activation::Relu)
        .dense(classes, Activation::Softmax)
        .build(Init::Xavier, 9)
        .unwrap();
    let sgd: Optimizer = Sgd {
        learning_rate: 0.05,
    }
    .into();
    let adam: Optimizer = Adam {
        learning_rate: 1e-3,
        ..Adam::default()
    }
    .into();
    for (optimizer, tolerance) in [(sgd, 1e-6), (adam, 1e-5)] {
        for threads in [1, 2] {
            let config = TrainConfig {
                loss: Loss::CrossEntropy,
                optimizer,
                epochs: 3,
                batch_size: 128,
                shuffle: Shuffle::Never,
                threads,
                ..TrainConfig::default()
            };
            let mut trained = start.clone();
            Trainer::new(config.clone())
                .fit(&mut trained, &data)
                .unwrap();
            let mut by_loop = start.clone();
            by_hand(&mut by_loop, &data, &config);
            assert!(
                largest_difference(&trained, &start) > 1e-3,
                "nothing was learnt"
            );
            let worst = largest_difference(&trained, &by_loop);
            assert!(
                worst < tolerance,
                "{} on {threads} threads: the trainer and the loop differ by {worst}",
                optimizer.name()
            );
        }
    }
}
