//! Back-propagation agrees with finite differences for every activation × loss pair the
//! trainer accepts, and training refuses what it cannot train.

use glassbox::data::Dataset;
use glassbox::gradcheck;
use glassbox::rng::Rng;
use glassbox::tensor::Tensor;
use glassbox::{Activation, Error, Init, Loss, Network, TrainConfig, Trainer, Workspace};

/// The finite-difference step. Large enough that f32 rounding of the loss stays far
/// below the difference it measures, small enough that the O(ε²) error stays small.
const EPSILON: f32 = 1e-2;

/// The largest relative error accepted (see `gradcheck`'s definition). Agreeing
/// gradients measure 1e-5 to 2e-3 here; a wrong formula gives 1e-1 or more.
const MAX_RELATIVE_ERROR: f64 = 1e-2;

/// Every ReLU-family weighted sum must be further than this from the kink at 0, so that
/// no nudge of ±ε carries it across.
const KINK_MARGIN: f32 = 0.1;

/// Rows in each checked batch.
const ROWS: usize = 6;

const HIDDEN: [Activation; 5] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.1 },
];

/// Every (output activation, loss) pair the trainer accepts.
const OUTPUTS: [(Activation, Loss); 8] = [
    (Activation::Identity, Loss::Mse),
    (Activation::Sigmoid, Loss::Mse),
    (Activation::Tanh, Loss::Mse),
    (Activation::Softmax, Loss::Mse),
    (Activation::Relu, Loss::Mse),
    (Activation::LeakyRelu { alpha: 0.1 }, Loss::Mse),
    (Activation::Softmax, Loss::CrossEntropy),
    (Activation::Sigmoid, Loss::BinaryCrossEntropy),
];

/// A 4-5-3-3 network: two hidden layers of `hidden`, an output layer of `output`.
fn network(hidden: Activation, output: Activation, seed: u64) -> Network {
    Network::builder(4)
        .dense(5, hidden)
        .dense(3, hidden)
        .dense(3, output)
        .build(Init::Xavier, seed)
        .unwrap()
}

fn has_kink(f: Activation) -> bool {
    matches!(f, Activation::Relu | Activation::LeakyRelu { .. })
}

/// `ROWS` random rows whose ReLU-family weighted sums all keep [`KINK_MARGIN`] from 0,
/// with targets that suit `loss` and `output`.
fn batch(net: &Network, loss: Loss, output: Activation, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let mut ws = Workspace::new(net, 1);
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    let mut tries = 0;
    while inputs.len() < ROWS * net.inputs() {
        tries += 1;
        assert!(tries < 10_000, "no rows keep away from the kink");
        let row: Vec<f32> = (0..net.inputs()).map(|_| rng.uniform(-1.5, 1.5)).collect();
        net.forward(
            &Tensor::from_vec(1, row.len(), row.clone()).unwrap(),
            &mut ws,
        );
        let near_kink = net.layers().iter().enumerate().any(|(l, layer)| {
            has_kink(layer.activation())
                && ws
                    .weighted_sums(l)
                    .as_slice()
                    .iter()
                    .any(|z| z.abs() < KINK_MARGIN)
        });
        if near_kink {
            continue;
        }
        inputs.extend(row);
        let k = net.outputs();
        match (loss, output) {
            (Loss::CrossEntropy, _) => {
                let class = rng.below(k);
                targets.extend((0..k).map(|j| if j == class { 1.0 } else { 0.0 }));
            }
            (_, Activation::Identity | Activation::Tanh | Activation::LeakyRelu { .. }) => {
                targets.extend((0..k).map(|_| rng.uniform(-1.0, 1.0)))
            }
            _ => targets.extend((0..k).map(|_| rng.uniform(0.0, 1.0))),
        }
    }
    (inputs, targets)
}

#[test]
fn every_activation_and_loss_pair_passes_the_gradient_check() {
    let mut failures = Vec::new();
    for (h, &hidden) in HIDDEN.iter().enumerate() {
        for (o, &(output, loss)) in OUTPUTS.iter().enumerate() {
            let seed = (10 * h + o) as u64;
            let net = network(hidden, output, seed);
            let (x, y) = batch(&net, loss, output, seed + 1000);
            let report = gradcheck::check(&net, &x, &y, loss, EPSILON).unwrap();
            assert_eq!(report.checked, net.parameter_count());
            println!("{hidden} → {output}, {loss}: {report}");
            if report.max_relative_error >= MAX_RELATIVE_ERROR {
                failures.push(format!("{hidden} → {output}, {loss}: {report}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_check_fails_where_the_derivative_does_not_exist() {
    // A ReLU neuron whose weighted sum is exactly 0: back-propagation takes f′(0) = 0,
    // the central difference sees half the slope. The check must be able to fail.
    let net = Network::from_layers(vec![
        glassbox::Dense::from_parts(
            Tensor::from_vec(1, 1, vec![1.0]).unwrap(),
            vec![0.0],
            Activation::Relu,
        )
        .unwrap(),
        glassbox::Dense::from_parts(
            Tensor::from_vec(1, 1, vec![2.0]).unwrap(),
            vec![0.5],
            Activation::Identity,
        )
        .unwrap(),
    ])
    .unwrap();
    let report = gradcheck::check(&net, &[0.0], &[1.0], Loss::Mse, EPSILON).unwrap();
    assert!(report.max_relative_error > 0.5, "{report}");
    let worst = report.worst.unwrap();
    assert_eq!(
        (worst.layer, worst.kind),
        (0, gradcheck::ParameterKind::Bias)
    );
    assert_eq!(worst.backprop, 0.0);
}

#[test]
fn training_a_step_network_is_refused() {
    let mut net = Network::builder(2)
        .dense(3, Activation::Step)
        .dense(2, Activation::Softmax)
        .build(Init::Xavier, 1)
        .unwrap();
    let before = net.clone();
    let data = Dataset::classification(
        vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        2,
        vec![0, 1, 1, 0],
        vec!["0".into(), "1".into()],
    )
    .unwrap();
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        ..TrainConfig::default()
    };
    let e = Trainer::new(config).fit(&mut net, &data).unwrap_err();
    assert!(matches!(e, Error::StepNotTrainable { layer: 0 }), "{e}");
    // Counted from 1 in the message, as everywhere a person reads layers.
    assert!(e.to_string().starts_with("layer 1 uses the step"), "{e}");
    assert_eq!(net, before);
    assert!(matches!(
        gradcheck::check(&net, &[0.0, 1.0], &[0.0, 1.0], Loss::CrossEntropy, EPSILON),
        Err(Error::StepNotTrainable { layer: 0 })
    ));
}
