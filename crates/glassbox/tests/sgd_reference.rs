//! Training agrees with an independent float64 implementation of the same arithmetic.
//!
//! The reference below is written from the textbook formulas with plain `Vec<f64>`
//! loops, one example at a time (Nielsen's column-vector form), and shares no code with
//! the engine. The engine is driven the way users drive it: `Trainer::fit`, with the
//! data in its own order (`Shuffle::Never`) so that both see the same batches.

use glassbox::data::Dataset;
use glassbox::rng::Rng;
use glassbox::train::Shuffle;
use glassbox::{
    Activation, Adam, Init, Loss, Momentum, Network, Optimizer, Rprop, Sgd, TrainConfig, Trainer,
};

/// The largest difference accepted between a weight trained in f32 by the engine and
/// the same weight trained in f64 by the reference (measured: about 2e-7).
const TOLERANCE: f64 = 1e-4;

/// Examples in each data set: with batch 4 the batches are 4, 4 and a last one of 2.
const ROWS: usize = 10;

/// Features per example.
const FEATURES: usize = 3;

// ---------------------------------------------------------------------------------------
// The float64 reference
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Function {
    Sigmoid,
    Tanh,
    Relu,
    Softmax,
}

#[derive(Clone, Debug)]
struct Layer {
    /// w[j][i]: from input i to neuron j.
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
    f: Function,
}

#[derive(Clone, Debug)]
struct Reference {
    layers: Vec<Layer>,
}

/// Per layer: (∂C/∂w, ∂C/∂b).
type Gradients = Vec<(Vec<Vec<f64>>, Vec<f64>)>;

impl Reference {
    /// The engine network's initial weights, widened to f64.
    fn of(network: &Network) -> Self {
        let layers = network
            .layers()
            .iter()
            .map(|l| Layer {
                w: (0..l.outputs())
                    .map(|j| l.weights().row(j).iter().map(|&v| v as f64).collect())
                    .collect(),
                b: l.biases().iter().map(|&v| v as f64).collect(),
                f: match l.activation() {
                    Activation::Sigmoid => Function::Sigmoid,
                    Activation::Tanh => Function::Tanh,
                    Activation::Relu => Function::Relu,
                    Activation::Softmax => Function::Softmax,
                    other => panic!("the reference has no {other}"),
                },
            })
            .collect();
        Reference { layers }
    }

    /// Returns (z, a) of every layer for one example.
    fn forward(&self, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut zs = Vec::new();
        let mut activations: Vec<Vec<f64>> = vec![x.to_vec()];
        for layer in &self.layers {
            let input = activations.last().unwrap();
            let z: Vec<f64> = layer
                .w
                .iter()
                .zip(&layer.b)
                .map(|(row, b)| row.iter().zip(input).map(|(w, a)| w * a).sum::<f64>() + b)
                .collect();
            let a = match layer.f {
                Function::Sigmoid => z.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect(),
                Function::Tanh => z.iter().map(|z| z.tanh()).collect(),
                Function::Relu => z.iter().map(|z| z.max(0.0)).collect(),
                Function::Softmax => {
                    let e: Vec<f64> = z.iter().map(|z| z.exp()).collect();
                    let s: f64 = e.iter().sum();
                    e.iter().map(|e| e / s).collect()
                }
            };
            zs.push(z);
            activations.push(a);
        }
        activations.remove(0);
        (zs, activations)
    }

    /// f′(z) from z and a = f(z), for element-wise functions.
    fn derivative(f: Function, z: f64, a: f64) -> f64 {
        match f {
            Function::Sigmoid => a * (1.0 - a),
            Function::Tanh => 1.0 - a * a,
            Function::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Function::Softmax => unreachable!("softmax only as the output, with cross-entropy"),
        }
    }

    /// The gradients of one example's loss (not divided by the batch).
    fn backprop(&self, x: &[f64], y: &[f64], loss: Loss) -> Gradients {
        let (zs, activations) = self.forward(x);
        let last = self.layers.len() - 1;
        let output = &activations[last];
        // δᴸ: MSE ½‖a − y‖² gives (a − y)·f′(z); cross-entropy with softmax gives p − y.
        let mut delta: Vec<f64> = match loss {
            Loss::Mse => (0..output.len())
                .map(|j| {
                    (output[j] - y[j])
                        * Self::derivative(self.layers[last].f, zs[last][j], output[j])
                })
                .collect(),
            Loss::CrossEntropy => output.iter().zip(y).map(|(p, y)| p - y).collect(),
            other => panic!("the reference has no {other}"),
        };
        let mut grads: Gradients = vec![(Vec::new(), Vec::new()); self.layers.len()];
        for l in (0..self.layers.len()).rev() {
            let input: &[f64] = if l == 0 { x } else { &activations[l - 1] };
            // ∂C/∂wⱼᵢ = δⱼ·aᵢ,  ∂C/∂bⱼ = δⱼ
            grads[l] = (
                delta
                    .iter()
                    .map(|d| input.iter().map(|a| d * a).collect())
                    .collect(),
                delta.clone(),
            );
            if l > 0 {
                // δˡ⁻¹ᵢ = (Σⱼ wⱼᵢ·δⱼ)·f′(zˡ⁻¹ᵢ)
                let below = &self.layers[l - 1];
                delta = (0..input.len())
                    .map(|i| {
                        let back: f64 = (0..delta.len())
                            .map(|j| self.layers[l].w[j][i] * delta[j])
                            .sum();
                        back * Self::derivative(below.f, zs[l - 1][i], activations[l - 1][i])
                    })
                    .collect();
            }
        }
        grads
    }

    /// The mean of the examples' gradients over one batch.
    fn batch_gradients(&self, batch: &[(Vec<f64>, Vec<f64>)], loss: Loss) -> Gradients {
        let mut sum: Option<Gradients> = None;
        for (x, y) in batch {
            let g = self.backprop(x, y, loss);
            sum = Some(match sum {
                None => g,
                Some(mut s) => {
                    for ((sw, sb), (gw, gb)) in s.iter_mut().zip(&g) {
                        for (sr, gr) in sw.iter_mut().zip(gw) {
                            for (s, g) in sr.iter_mut().zip(gr) {
                                *s += g;
                            }
                        }
                        for (s, g) in sb.iter_mut().zip(gb) {
                            *s += g;
                        }
                    }
                    s
                }
            });
        }
        let mut mean = sum.unwrap();
        let n = batch.len() as f64;
        for (w, b) in &mut mean {
            w.iter_mut().flatten().for_each(|v| *v /= n);
            b.iter_mut().for_each(|v| *v /= n);
        }
        mean
    }

    /// Every parameter with its gradient, layer by layer: weights row by row, then biases.
    fn parameters_mut<'a>(
        &'a mut self,
        grads: &'a Gradients,
    ) -> impl Iterator<Item = (&'a mut f64, f64)> + 'a {
        self.layers
            .iter_mut()
            .zip(grads)
            .flat_map(|(layer, (gw, gb))| {
                let weights = layer
                    .w
                    .iter_mut()
                    .flatten()
                    .zip(gw.iter().flatten().copied());
                let biases = layer.b.iter_mut().zip(gb.iter().copied());
                weights.chain(biases)
            })
    }

    /// Plain gradient descent over `epochs` passes in order: w ← w − η·g per batch.
    fn train_sgd(
        &mut self,
        data: &[(Vec<f64>, Vec<f64>)],
        loss: Loss,
        eta: f64,
        batch: usize,
        epochs: usize,
    ) {
        for _ in 0..epochs {
            for chunk in data.chunks(batch) {
                let grads = self.batch_gradients(chunk, loss);
                for (w, g) in self.parameters_mut(&grads) {
                    *w -= eta * g;
                }
            }
        }
    }

    /// How many parameters (weights and biases) the network has.
    fn parameter_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.b.len() * (l.w[0].len() + 1))
            .sum()
    }

    /// Momentum over `epochs` passes in order, in PyTorch's form: v ← μ·v + g, then
    /// w ← w − η·v (heavy ball) or w ← w − η·(g + μ·v) (Nesterov).
    #[allow(clippy::too_many_arguments)]
    fn train_momentum(
        &mut self,
        data: &[(Vec<f64>, Vec<f64>)],
        loss: Loss,
        momentum: Momentum,
        nesterov: bool,
        batch: usize,
        epochs: usize,
    ) {
        let (eta, mu) = (momentum.learning_rate as f64, momentum.momentum as f64);
        let mut v = vec![0.0f64; self.parameter_count()];
        for _ in 0..epochs {
            for chunk in data.chunks(batch) {
                let grads = self.batch_gradients(chunk, loss);
                for (k, (w, g)) in self.parameters_mut(&grads).enumerate() {
                    v[k] = mu * v[k] + g;
                    *w -= eta * if nesterov { g + mu * v[k] } else { v[k] };
                }
            }
        }
    }

    /// iRPROP⁻ (Igel & Hüsken, 2000) on the mean gradient of the whole training set,
    /// one step per epoch: each parameter's step Δ grows ×η⁺ while its gradient keeps its
    /// sign and shrinks ×η⁻ when it flips (and that gradient is then taken as 0);
    /// w ← w − sign(g)·Δ.
    fn train_rprop(&mut self, data: &[(Vec<f64>, Vec<f64>)], loss: Loss, r: Rprop, epochs: usize) {
        let count = self.parameter_count();
        let (mut previous, mut step) = (vec![0.0f64; count], vec![r.initial_step as f64; count]);
        let (up, down) = (r.increase as f64, r.decrease as f64);
        let (smallest, largest) = (r.min_step as f64, r.max_step as f64);
        for _ in 0..epochs {
            let grads = self.batch_gradients(data, loss);
            for (k, (w, g)) in self.parameters_mut(&grads).enumerate() {
                let mut g = g;
                if g * previous[k] > 0.0 {
                    step[k] = (step[k] * up).min(largest);
                } else if g * previous[k] < 0.0 {
                    step[k] = (step[k] * down).max(smallest);
                    g = 0.0;
                }
                if g != 0.0 {
                    *w -= g.signum() * step[k];
                }
                previous[k] = g;
            }
        }
    }

    /// Adam (Kingma & Ba, 2015, Algorithm 1) over `epochs` passes in order.
    fn train_adam(
        &mut self,
        data: &[(Vec<f64>, Vec<f64>)],
        loss: Loss,
        adam: Adam,
        batch: usize,
        epochs: usize,
    ) {
        let (beta1, beta2) = (adam.beta1 as f64, adam.beta2 as f64);
        let (eta, eps) = (adam.learning_rate as f64, adam.epsilon as f64);
        let count: usize = self
            .layers
            .iter()
            .map(|l| l.b.len() * (l.w[0].len() + 1))
            .sum();
        let (mut m, mut v) = (vec![0.0f64; count], vec![0.0f64; count]);
        let mut t = 0;
        for _ in 0..epochs {
            for chunk in data.chunks(batch) {
                t += 1;
                let grads = self.batch_gradients(chunk, loss);
                for (k, (w, g)) in self.parameters_mut(&grads).enumerate() {
                    m[k] = beta1 * m[k] + (1.0 - beta1) * g;
                    v[k] = beta2 * v[k] + (1.0 - beta2) * g * g;
                    let m_hat = m[k] / (1.0 - beta1.powi(t));
                    let v_hat = v[k] / (1.0 - beta2.powi(t));
                    *w -= eta * m_hat / (v_hat.sqrt() + eps);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The comparisons
// ---------------------------------------------------------------------------------------

/// Regression data for MSE: targets in (0.1, 0.9), two per example.
fn regression(seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let x = (0..ROWS * FEATURES)
        .map(|_| rng.uniform(-1.0, 1.0))
        .collect();
    let y = (0..ROWS * 2).map(|_| rng.uniform(0.1, 0.9)).collect();
    Dataset::regression(x, FEATURES, y, 2).unwrap()
}

/// Three classes for cross-entropy.
fn classification(seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let x = (0..ROWS * FEATURES)
        .map(|_| rng.uniform(-1.0, 1.0))
        .collect();
    let labels = (0..ROWS).map(|i| i % 3).collect();
    Dataset::classification(
        x,
        FEATURES,
        labels,
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap()
}

/// The examples as f64 (features, target row).
fn examples(data: &Dataset) -> Vec<(Vec<f64>, Vec<f64>)> {
    (0..data.len())
        .map(|i| {
            let mut y = vec![0.0f32; data.target_width()];
            data.write_target_row(i, &mut y);
            (
                data.row(i).iter().map(|&v| v as f64).collect(),
                y.iter().map(|&v| v as f64).collect(),
            )
        })
        .collect()
}

/// Trains `net` with the engine and checks its weights against `reference`.
fn train_and_compare(
    mut net: Network,
    reference: &Reference,
    data: &Dataset,
    loss: Loss,
    optimizer: Optimizer,
    batch_size: usize,
    epochs: usize,
) {
    let config = TrainConfig {
        loss,
        optimizer,
        epochs,
        batch_size,
        shuffle: Shuffle::Never,
        ..TrainConfig::default()
    };
    Trainer::new(config).fit(&mut net, data).unwrap();
    let mut worst = (0.0f64, String::new());
    let trained = Reference::of(&net); // the engine's trained weights, widened
    for (l, (engine, expected)) in trained.layers.iter().zip(&reference.layers).enumerate() {
        let pairs = engine
            .w
            .iter()
            .flatten()
            .zip(expected.w.iter().flatten())
            .chain(engine.b.iter().zip(&expected.b));
        for (k, (got, want)) in pairs.enumerate() {
            let d = (got - want).abs();
            if d > worst.0 {
                worst = (
                    d,
                    format!("layer {l} parameter {k}: engine {got}, reference {want}"),
                );
            }
        }
    }
    assert!(
        worst.0 < TOLERANCE,
        "{loss}, batch {batch_size}: worst difference {:.3e} at {}",
        worst.0,
        worst.1
    );
}

fn sigmoid_network(seed: u64) -> Network {
    Network::builder(FEATURES)
        .dense(4, Activation::Sigmoid)
        .dense(2, Activation::Sigmoid)
        .build(Init::SmallUniform { range: 0.5 }, seed)
        .unwrap()
}

fn softmax_network(hidden: Activation, seed: u64) -> Network {
    Network::builder(FEATURES)
        .dense(5, hidden)
        .dense(4, hidden)
        .dense(3, Activation::Softmax)
        .build(Init::SmallUniform { range: 0.5 }, seed)
        .unwrap()
}

/// Checks that training moved the weights at all (else agreement proves nothing).
fn assert_trains(net: &Network, data: &Dataset, loss: Loss, optimizer: Optimizer, batch: usize) {
    let mut trained = net.clone();
    let config = TrainConfig {
        loss,
        optimizer,
        epochs: 1,
        batch_size: batch,
        shuffle: Shuffle::Never,
        ..TrainConfig::default()
    };
    Trainer::new(config).fit(&mut trained, data).unwrap();
    assert_ne!(trained.layers(), net.layers());
}

#[test]
fn sgd_sigmoid_mse_online_and_mini_batch_match_the_reference() {
    let data = regression(1);
    let loss = Loss::Mse;
    let eta = 0.5;
    let optimizer: Optimizer = Sgd { learning_rate: eta }.into();
    for (batch, epochs) in [(1, 1), (4, 2)] {
        let net = sigmoid_network(2);
        assert_trains(&net, &data, loss, optimizer, batch);
        let mut reference = Reference::of(&net);
        reference.train_sgd(&examples(&data), loss, eta as f64, batch, epochs);
        train_and_compare(net, &reference, &data, loss, optimizer, batch, epochs);
    }
}

#[test]
fn sgd_relu_and_tanh_softmax_cross_entropy_match_the_reference() {
    let data = classification(3);
    let loss = Loss::CrossEntropy;
    let eta = 0.2;
    let optimizer: Optimizer = Sgd { learning_rate: eta }.into();
    for hidden in [Activation::Relu, Activation::Tanh] {
        for (batch, epochs) in [(1, 1), (4, 2)] {
            let net = softmax_network(hidden, 4);
            let mut reference = Reference::of(&net);
            reference.train_sgd(&examples(&data), loss, eta as f64, batch, epochs);
            train_and_compare(net, &reference, &data, loss, optimizer, batch, epochs);
        }
    }
}

#[test]
fn adam_matches_the_reference() {
    let adam = Adam {
        learning_rate: 0.01,
        ..Adam::default()
    };
    // Sigmoid + MSE, mini-batches (3 steps an epoch).
    let data = regression(5);
    let net = sigmoid_network(6);
    let mut reference = Reference::of(&net);
    reference.train_adam(&examples(&data), Loss::Mse, adam, 4, 2);
    train_and_compare(net, &reference, &data, Loss::Mse, adam.into(), 4, 2);

    // Tanh + softmax + cross-entropy, online (10 steps).
    let data = classification(7);
    let net = softmax_network(Activation::Tanh, 8);
    let mut reference = Reference::of(&net);
    reference.train_adam(&examples(&data), Loss::CrossEntropy, adam, 1, 1);
    train_and_compare(
        net,
        &reference,
        &data,
        Loss::CrossEntropy,
        adam.into(),
        1,
        1,
    );
}

#[test]
fn nesterov_and_heavy_ball_momentum_match_the_reference() {
    let momentum = Momentum {
        learning_rate: 0.1,
        momentum: 0.9,
    };
    let data = regression(9);
    for (optimizer, nesterov) in [
        (Optimizer::Nesterov(momentum), true),
        (Optimizer::Momentum(momentum), false),
    ] {
        // Mini-batches of 4 (3 steps an epoch), two epochs: the velocity carries over.
        let net = sigmoid_network(10);
        assert_trains(&net, &data, Loss::Mse, optimizer, 4);
        let mut reference = Reference::of(&net);
        reference.train_momentum(&examples(&data), Loss::Mse, momentum, nesterov, 4, 2);
        train_and_compare(net, &reference, &data, Loss::Mse, optimizer, 4, 2);
    }
}

#[test]
fn rprop_full_batch_matches_the_reference() {
    let rprop = Rprop::default();
    // Five epochs, five steps on the whole set's gradient: steps grow, and some flip.
    let data = classification(11);
    let net = softmax_network(Activation::Tanh, 12);
    assert_trains(&net, &data, Loss::CrossEntropy, rprop.into(), 4);
    let mut reference = Reference::of(&net);
    reference.train_rprop(&examples(&data), Loss::CrossEntropy, rprop, 5);
    // The batch size only sizes the chunks the whole set's gradient is summed in.
    train_and_compare(
        net,
        &reference,
        &data,
        Loss::CrossEntropy,
        rprop.into(),
        4,
        5,
    );
}
