//! A trace of one example through the network: every neuron's numbers in one forward
//! pass, one back-propagation and the first step of an optimiser.
//!
//! For one example x with target y, layer by layer (l = 1 … L, a⁰ = x):
//!
//! ```text
//! forward    zˡ = Wˡ·aˡ⁻¹ + bˡ          aˡ = fˡ(zˡ)
//! loss       C = C(aᴸ, y)               (one example: the mean is the value itself)
//! backward   δᴸ = ∂C/∂zᴸ                from the loss (see crate::loss)
//!            δˡ⁻¹ = (Wˡᵀ·δˡ) ⊙ fˡ⁻¹′(zˡ⁻¹)
//! gradients  ∂C/∂Wˡⱼᵢ = δˡⱼ · aˡ⁻¹ᵢ      ∂C/∂bˡⱼ = δˡⱼ
//! update     Wˡ ← Wˡ − η·∂C/∂Wˡ         bˡ ← bˡ − η·∂C/∂bˡ      (SGD; see crate::optim)
//! ```
//!
//! The numbers come from the engine itself ([`Network::forward`], [`Loss::output_delta`],
//! [`Network::backward`] on a batch of one, then [`OptimizerState::step`] of the optimiser
//! asked for, as the first step of a run), so the trace shows exactly what training
//! computes: momentum's, Adam's or Rprop's step as well as plain gradient descent's. A network with a step activation can be explained — it only cannot learn:
//! the step's derivative is 0, so every δ below it is 0.
//!
//! Shapes, for a layer of `out` neurons over `in` inputs: `input` has `in` values;
//! `weighted_sums`, `activations`, `delta`, `biases`, `grad_biases` and `new_biases` have
//! `out`; `weights`, `grad_weights` and `new_weights` are `out` rows of `in`.
//!
//! # Examples
//!
//! ```
//! use glassbox::{explain::explain, Activation, Init, Loss, Network, Sgd};
//! # fn main() -> glassbox::Result<()> {
//! let net = Network::builder(2)
//!     .dense(2, Activation::Sigmoid)
//!     .dense(1, Activation::Sigmoid)
//!     .build(Init::SmallUniform { range: 0.5 }, 1)?;
//! let trace = explain(&net, &[1.0, 0.0], &[1.0], Loss::Mse, &Sgd { learning_rate: 0.5 }.into())?;
//! let out = &trace.layers[1];
//! // δᴸ = (a − y)·σ′(z) for the mean squared error, and ∂C/∂b = δ.
//! let a = out.activations[0];
//! assert!((out.delta[0] - (a - 1.0) * a * (1.0 - a)).abs() < 1e-6);
//! assert_eq!(out.grad_biases, out.delta);
//! assert!((out.new_biases[0] - (out.biases[0] - 0.5 * out.delta[0])).abs() < 1e-7);
//! # Ok(())
//! # }
//! ```

use crate::activation::Activation;
use crate::loss::Loss;
use crate::network::{Network, Workspace};
use crate::optim::{Optimizer, OptimizerState};
use crate::tensor::Tensor;
use crate::{Error, Result};
use serde::Serialize;

/// One example's trip through the network and back, with the update it causes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// x, the example's features.
    pub input: Vec<f32>,
    /// y, the target (one-hot for a class).
    pub target: Vec<f32>,
    /// C for this one example.
    pub loss: f64,
    /// The optimiser whose first step is shown in `new_weights` and `new_biases`.
    pub optimizer: Optimizer,
    /// η, its learning rate (0 for Rprop, which has none).
    pub learning_rate: f32,
    /// Every layer, from the input side.
    pub layers: Vec<LayerTrace>,
}

/// One layer's numbers for one example (see the module docs for the formulas).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerTrace {
    /// f, the layer's activation function.
    pub activation: Activation,
    /// aˡ⁻¹, what the layer received (x for the first layer).
    pub input: Vec<f32>,
    /// W, `[out][in]`: `weights[j][i]` is the weight from input i to neuron j.
    pub weights: Vec<Vec<f32>>,
    /// b, one per neuron.
    pub biases: Vec<f32>,
    /// z = W·aˡ⁻¹ + b, one per neuron.
    pub weighted_sums: Vec<f32>,
    /// a = f(z), one per neuron.
    pub activations: Vec<f32>,
    /// δ = ∂C/∂z, one per neuron.
    pub delta: Vec<f32>,
    /// ∂C/∂W = δ·aˡ⁻¹ᵀ, `[out][in]`.
    pub grad_weights: Vec<Vec<f32>>,
    /// ∂C/∂b = δ.
    pub grad_biases: Vec<f32>,
    /// The weights after the optimiser's first step, `[out][in]` (W − η·∂C/∂W for SGD).
    pub new_weights: Vec<Vec<f32>>,
    /// The biases after the same step (b − η·∂C/∂b for SGD).
    pub new_biases: Vec<f32>,
}

/// Traces `input` (one example of `network.inputs()` features) with target `target`
/// (`network.outputs()` values) through a forward pass, back-propagation under `loss`,
/// and the first step `optimizer` would take from this gradient (by the trainer's own
/// update, [`OptimizerState::step`], without weight decay). The network is not changed.
///
/// # Errors
/// - [`Error::InputWidth`] when `input` does not have `network.inputs()` values;
/// - [`Error::Shape`] when `target` does not have `network.outputs()` values;
/// - [`Error::Config`] when `loss` cannot be paired with the output activation, or the
///   learning rate, an input or a target value is NaN or infinite (or the learning rate
///   is negative).
pub fn explain(
    network: &Network,
    input: &[f32],
    target: &[f32],
    loss: Loss,
    optimizer: &Optimizer,
) -> Result<Explanation> {
    let learning_rate = optimizer.learning_rate();
    if input.len() != network.inputs() {
        return Err(Error::InputWidth {
            expected: network.inputs(),
            found: input.len(),
        });
    }
    let outputs = network.outputs();
    if target.len() != outputs {
        return Err(Error::Shape(format!(
            "the target has {} values but the network has {outputs} outputs",
            target.len()
        )));
    }
    loss.check_output(network.output_activation())?;
    if !(learning_rate >= 0.0 && learning_rate.is_finite()) {
        return Err(Error::Config(format!(
            "the learning rate must be a number ≥ 0 (got {learning_rate})"
        )));
    }
    for (what, values) in [("input", input), ("target", target)] {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Config(format!(
                "{what} value {i} is {}; explain needs finite numbers",
                values[i]
            )));
        }
    }

    let x = Tensor::from_vec(1, input.len(), input.to_vec())?; // [1, in]
    let mut ws = Workspace::new(network, 1);
    network.forward(&x, &mut ws);
    // One example: the mean loss is the example's loss and δᴸ carries no 1/B (scale 1).
    let y = Tensor::from_vec(1, outputs, target.to_vec())?;
    let cost = network.output_error(loss, &y, &mut ws, 1.0);
    network.backward(&x, &mut ws);

    // The step, by the optimiser's own update on a copy of the network.
    let mut stepped = network.clone();
    OptimizerState::new(optimizer, network.layers()).step(
        &mut stepped,
        ws.all_gradients(),
        learning_rate,
        0.0,
    );

    let rows = |t: &Tensor| -> Vec<Vec<f32>> { (0..t.rows()).map(|j| t.row(j).to_vec()).collect() };
    let layers = network
        .layers()
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let grads = &ws.grads[l];
            let layer_input = match l {
                0 => input.to_vec(),
                _ => ws.activations[l - 1].as_slice().to_vec(),
            };
            let after = &stepped.layers()[l];
            LayerTrace {
                activation: layer.activation(),
                input: layer_input,
                weights: rows(layer.weights()),
                biases: layer.biases().to_vec(),
                weighted_sums: ws.weighted_sums[l].as_slice().to_vec(),
                activations: ws.activations[l].as_slice().to_vec(),
                delta: ws.deltas[l].as_slice().to_vec(),
                grad_weights: rows(&grads.weights),
                grad_biases: grads.biases.clone(),
                new_weights: rows(after.weights()),
                new_biases: after.biases().to_vec(),
            }
        })
        .collect();
    Ok(Explanation {
        input: input.to_vec(),
        target: target.to_vec(),
        loss: cost,
        optimizer: *optimizer,
        learning_rate,
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Dense;

    const TOLERANCE: f64 = 1e-6;

    fn sgd(learning_rate: f32) -> Optimizer {
        crate::Sgd { learning_rate }.into()
    }

    /// The 2-2-1 sigmoid network, weights set by hand.
    const W1: [[f64; 2]; 2] = [[0.15, 0.20], [0.25, -0.30]];
    const B1: [f64; 2] = [0.35, -0.10];
    const W2: [[f64; 2]; 1] = [[0.40, -0.45]];
    const B2: [f64; 1] = [0.60];

    fn network(hidden: Activation) -> Network {
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        let w1: Vec<f32> = W1.iter().flat_map(|r| f32s(r)).collect();
        let w2: Vec<f32> = W2.iter().flat_map(|r| f32s(r)).collect();
        Network::from_layers(vec![
            Dense::from_parts(Tensor::from_vec(2, 2, w1).unwrap(), f32s(&B1), hidden).unwrap(),
            Dense::from_parts(
                Tensor::from_vec(1, 2, w2).unwrap(),
                f32s(&B2),
                Activation::Sigmoid,
            )
            .unwrap(),
        ])
        .unwrap()
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    fn close(got: f32, expected: f64, what: &str) {
        assert!(
            (got as f64 - expected).abs() < TOLERANCE,
            "{what}: got {got}, expected {expected}"
        );
    }

    #[test]
    fn a_sigmoid_network_matches_a_hand_computation() {
        let x = [1.0f64, 0.0];
        let y = 1.0f64;
        let eta = 0.5f64;
        let trace = explain(
            &network(Activation::Sigmoid),
            &[1.0, 0.0],
            &[1.0],
            Loss::Mse,
            &sgd(0.5),
        )
        .unwrap();

        // Forward, in f64.
        let z1: Vec<f64> = (0..2)
            .map(|j| W1[j][0] * x[0] + W1[j][1] * x[1] + B1[j])
            .collect();
        let a1: Vec<f64> = z1.iter().map(|&z| sigmoid(z)).collect();
        let z2 = W2[0][0] * a1[0] + W2[0][1] * a1[1] + B2[0];
        let a2 = sigmoid(z2);
        let cost = 0.5 * (a2 - y) * (a2 - y);
        // Backward: δ² = (a − y)σ′(z²), δ¹ⱼ = W²₀ⱼ δ² σ′(z¹ⱼ).
        let d2 = (a2 - y) * a2 * (1.0 - a2);
        let d1: Vec<f64> = (0..2)
            .map(|j| W2[0][j] * d2 * a1[j] * (1.0 - a1[j]))
            .collect();

        assert!(
            (trace.loss - cost).abs() < TOLERANCE,
            "{} vs {cost}",
            trace.loss
        );
        let (hidden, out) = (&trace.layers[0], &trace.layers[1]);
        assert_eq!(hidden.input, [1.0, 0.0]);
        for j in 0..2 {
            close(hidden.weighted_sums[j], z1[j], "z¹");
            close(hidden.activations[j], a1[j], "a¹");
            close(hidden.delta[j], d1[j], "δ¹");
            close(hidden.grad_biases[j], d1[j], "∂C/∂b¹");
            close(hidden.new_biases[j], B1[j] - eta * d1[j], "new b¹");
            close(out.input[j], a1[j], "input of layer 2");
            close(out.grad_weights[0][j], d2 * a1[j], "∂C/∂W²");
            close(out.new_weights[0][j], W2[0][j] - eta * d2 * a1[j], "new W²");
            for i in 0..2 {
                close(hidden.weights[j][i], W1[j][i], "W¹");
                close(hidden.grad_weights[j][i], d1[j] * x[i], "∂C/∂W¹");
                close(
                    hidden.new_weights[j][i],
                    W1[j][i] - eta * d1[j] * x[i],
                    "new W¹",
                );
            }
        }
        close(out.weighted_sums[0], z2, "z²");
        close(out.activations[0], a2, "a²");
        close(out.delta[0], d2, "δ²");
        close(out.new_biases[0], B2[0] - eta * d2, "new b²");
    }

    #[test]
    fn a_step_network_can_be_explained_and_its_deltas_below_the_step_are_zero() {
        let trace = explain(
            &network(Activation::Step),
            &[1.0, 0.0],
            &[0.0],
            Loss::Mse,
            &sgd(0.1),
        )
        .unwrap();
        let hidden = &trace.layers[0];
        // z¹ = [0.5, 0.15]: both ≥ 0, so both steps fire.
        assert_eq!(hidden.activations, [1.0, 1.0]);
        assert_eq!(hidden.delta, [0.0, 0.0]);
        assert_eq!(hidden.new_weights, hidden.weights);
        assert_ne!(trace.layers[1].delta, [0.0]);
    }

    #[test]
    fn cross_entropy_with_softmax_gives_p_minus_y() {
        let net = Network::builder(3)
            .dense(4, Activation::Tanh)
            .dense(3, Activation::Softmax)
            .build(crate::Init::Xavier, 2)
            .unwrap();
        let trace = explain(
            &net,
            &[0.5, -1.0, 2.0],
            &[0.0, 1.0, 0.0],
            Loss::CrossEntropy,
            &sgd(0.1),
        )
        .unwrap();
        let out = trace.layers.last().unwrap();
        let p = &out.activations;
        for (j, (&d, &p)) in out.delta.iter().zip(p).enumerate() {
            let y = if j == 1 { 1.0 } else { 0.0 };
            assert!((d - (p - y)).abs() < 1e-6);
        }
        assert!((trace.loss + (p[1] as f64).ln()).abs() < 1e-5);
    }

    #[test]
    fn wrong_widths_and_mismatched_losses_are_errors() {
        let net = network(Activation::Sigmoid);
        assert!(matches!(
            explain(&net, &[1.0], &[1.0], Loss::Mse, &sgd(0.1)),
            Err(Error::InputWidth {
                expected: 2,
                found: 1
            })
        ));
        assert!(matches!(
            explain(&net, &[1.0, 0.0], &[1.0, 0.0], Loss::Mse, &sgd(0.1)),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            explain(&net, &[1.0, 0.0], &[1.0], Loss::CrossEntropy, &sgd(0.1)),
            Err(Error::Config(_))
        ));
        assert!(explain(&net, &[f32::NAN, 0.0], &[1.0], Loss::Mse, &sgd(0.1)).is_err());
    }

    #[test]
    fn the_step_shown_is_the_trainers_first_step_for_every_optimiser() {
        use crate::data::Dataset;
        use crate::optim::{Adam, Momentum, Rprop};
        use crate::train::{Shuffle, TrainConfig, Trainer};
        let momentum = Momentum {
            learning_rate: 0.3,
            momentum: 0.9,
        };
        let optimizers: [Optimizer; 5] = [
            sgd(0.5),
            Optimizer::Momentum(momentum),
            Optimizer::Nesterov(momentum),
            Adam {
                learning_rate: 0.05,
                ..Adam::default()
            }
            .into(),
            Rprop::default().into(),
        ];
        let (x, y) = ([1.0f32, 0.25], [1.0f32]);
        for optimizer in optimizers {
            let net = network(Activation::Tanh);
            let trace = explain(&net, &x, &y, Loss::Mse, &optimizer).unwrap();
            assert_eq!(trace.optimizer, optimizer);
            // The trainer, one epoch over this one example.
            let data = Dataset::regression(x.to_vec(), 2, y.to_vec(), 1).unwrap();
            let config = TrainConfig {
                loss: Loss::Mse,
                optimizer,
                epochs: 1,
                batch_size: 1,
                shuffle: Shuffle::Never,
                ..TrainConfig::default()
            };
            let mut trained = net.clone();
            Trainer::new(config).fit(&mut trained, &data).unwrap();
            for (t, layer) in trace.layers.iter().zip(trained.layers()) {
                let shown = t.new_weights.iter().flatten().chain(&t.new_biases);
                let done = layer.weights().as_slice().iter().chain(layer.biases());
                for (&a, &b) in shown.zip(done) {
                    assert!(
                        (a - b).abs() < 1e-6,
                        "{}: shown {a}, trained {b}",
                        optimizer.name()
                    );
                }
            }
            assert_ne!(trace.layers[0].new_weights, trace.layers[0].weights);
        }
    }
}
