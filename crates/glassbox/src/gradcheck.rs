//! Gradient checking: back-propagation's gradients against finite differences.
//!
//! Back-propagation computes ∂C/∂θ for every weight and bias θ at once. The same
//! derivative can be estimated, one parameter at a time, by nudging θ both ways and
//! watching the loss — the central difference:
//!
//! ```text
//! ∂C/∂θ ≈ (C(θ + ε) − C(θ − ε)) / 2ε          error O(ε²)
//!
//! absolute error  = |g − n|
//! relative error  = |g − n| / max(|g| + |n|, RELATIVE_ERROR_FLOOR)
//! ```
//!
//! with g the back-propagated gradient and n the numeric one. C is the mean loss over the
//! rows given (so back-propagation's δᴸ carries 1/B, as in training), summed in f64.
//! The weights are f32, so θ ± ε is rounded; the difference is divided by the step the
//! weight really took, (θ + ε) − (θ − ε) as stored, rather than by 2ε.
//!
//! The relative error is 0 when both agree, near 1 when they differ in sign or
//! magnitude. Its floor keeps gradients that are zero or tiny (a neuron whose ReLU never
//! fires, a saturated sigmoid) from dividing rounding noise by nearly nothing: below the
//! floor, the relative error is the absolute error divided by the floor.
//!
//! Choosing ε: the forward pass runs in f32, so each C carries a rounding error of about
//! 1e-7·|C|, and the difference quotient an error of about 1e-7·|C|/ε, while the
//! central difference itself is off by O(ε²). ε = 1e-2 balances the two for losses near
//! 1: on the 4-5-3-3 networks of `tests/gradients.rs`, agreeing gradients give relative
//! errors of 1e-5 to 1e-3 (absolute errors near 1e-6), and a wrong derivative gives
//! 1e-1 or more. With ε = 1e-3 the rounding noise is ten times larger.
//!
//! Piecewise functions (ReLU, leaky ReLU) have a kink at z = 0; a nudge that carries some
//! z across it makes the difference quotient meaningless there. Pick inputs whose
//! weighted sums stay further than the nudge from 0.
//!
//! # Examples
//!
//! ```
//! use glassbox::{gradcheck, Activation, Init, Loss, Network};
//! # fn main() -> glassbox::Result<()> {
//! let net = Network::builder(3)
//!     .dense(4, Activation::Tanh)
//!     .dense(2, Activation::Sigmoid)
//!     .build(Init::Xavier, 1)?;
//! let inputs = [0.5, -1.0, 0.25, 1.5, 0.0, -0.75]; // two rows of three features
//! let targets = [1.0, 0.0, 0.0, 1.0];
//! let report = gradcheck::check(&net, &inputs, &targets, Loss::Mse, 1e-2)?;
//! assert_eq!(report.checked, net.parameter_count());
//! assert!(report.max_relative_error < 1e-2, "{report}");
//! # Ok(())
//! # }
//! ```

use crate::loss::Loss;
use crate::network::{Network, Workspace};
use crate::tensor::Tensor;
use crate::{Error, Result};
use serde::Serialize;
use std::fmt;

/// The denominator's floor in the relative error (see the module docs): gradients whose
/// magnitudes sum to less than this are compared by absolute error, scaled by 1/floor.
pub const RELATIVE_ERROR_FLOOR: f64 = 1e-3;

/// Whether a parameter is a weight or a bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParameterKind {
    /// A weight Wⱼᵢ, from input i to neuron j.
    Weight,
    /// A bias bⱼ of neuron j.
    Bias,
}

/// The parameter whose two gradients disagree the most (by relative error).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WorstParameter {
    /// The layer, from the input side, from 0.
    pub layer: usize,
    /// Weight or bias.
    pub kind: ParameterKind,
    /// The neuron j (the weight's row).
    pub neuron: usize,
    /// The input i (the weight's column); `None` for a bias.
    pub input: Option<usize>,
    /// ∂C/∂θ from back-propagation.
    pub backprop: f64,
    /// ∂C/∂θ from central differences.
    pub numeric: f64,
    /// |backprop − numeric| / max(|backprop| + |numeric|, [`RELATIVE_ERROR_FLOOR`]).
    pub relative_error: f64,
}

/// How well back-propagation agrees with finite differences over every parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradientReport {
    /// The largest |backprop − numeric| over all parameters.
    pub max_abs_error: f64,
    /// The largest relative error over all parameters (see the module docs).
    pub max_relative_error: f64,
    /// The parameter with the largest relative error (`None` when nothing was checked).
    pub worst: Option<WorstParameter>,
    /// Parameters checked: every weight and bias.
    pub checked: usize,
}

impl fmt::Display for WorstParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.input) {
            (ParameterKind::Weight, Some(i)) => {
                write!(f, "layer {} weight [{}][{i}]", self.layer, self.neuron)?
            }
            _ => write!(f, "layer {} bias [{}]", self.layer, self.neuron)?,
        }
        write!(
            f,
            ": back-propagation {:.6e}, finite differences {:.6e} (relative error {:.2e})",
            self.backprop, self.numeric, self.relative_error
        )
    }
}

impl fmt::Display for GradientReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} parameters checked: max relative error {:.2e}, max absolute error {:.2e}",
            self.checked, self.max_relative_error, self.max_abs_error
        )?;
        if let Some(worst) = &self.worst {
            write!(f, "; worst: {worst}")?;
        }
        Ok(())
    }
}

/// The relative error of two estimates of one derivative (see the module docs).
pub fn relative_error(backprop: f64, numeric: f64) -> f64 {
    (backprop - numeric).abs() / (backprop.abs() + numeric.abs()).max(RELATIVE_ERROR_FLOOR)
}

/// Compares back-propagation's gradient of the mean loss over `inputs` (row-major,
/// `rows × network.inputs()`) with targets `targets` (`rows × network.outputs()`) to
/// central differences with step `epsilon`, for every weight and bias. The network is not
/// changed (the nudges happen on a copy).
///
/// Costs two forward passes per parameter: meant for small networks and a few rows.
///
/// # Errors
/// - [`Error::StepNotTrainable`] for a network with a step activation (it has no gradient
///   to check);
/// - [`Error::Config`] when `loss` cannot be paired with the output activation, `epsilon`
///   is not a positive number, or the loss is not finite;
/// - [`Error::InputWidth`] when `inputs` is empty or not a whole number of rows;
/// - [`Error::Shape`] when `targets` does not have `network.outputs()` values per row.
pub fn check(
    network: &Network,
    inputs: &[f32],
    targets: &[f32],
    loss: Loss,
    epsilon: f32,
) -> Result<GradientReport> {
    network.check_trainable()?;
    loss.check_output(network.output_activation())?;
    if !(epsilon > 0.0 && epsilon.is_finite()) {
        return Err(Error::Config(format!(
            "the finite-difference step ε must be a positive number (got {epsilon})"
        )));
    }
    let width = network.inputs();
    if inputs.is_empty() || !inputs.len().is_multiple_of(width) {
        return Err(Error::InputWidth {
            expected: width,
            found: inputs.len(),
        });
    }
    let rows = inputs.len() / width;
    let outputs = network.outputs();
    if targets.len() != rows * outputs {
        return Err(Error::Shape(format!(
            "{rows} rows need {} target values ({outputs} per row), got {}",
            rows * outputs,
            targets.len()
        )));
    }

    let x = Tensor::from_vec(rows, width, inputs.to_vec())?; // [rows, in]
    let mut ws = Workspace::new(network, rows);

    // Back-propagation: δᴸ with the 1/B of the mean loss, then every layer's gradients.
    network.forward(&x, &mut ws);
    mean_loss(network, &x, targets, loss, &mut ws)?; // refuses a non-finite loss up front
    let y = Tensor::from_vec(rows, outputs, targets.to_vec())?;
    network.output_error(loss, &y, &mut ws, 1.0 / rows as f32);
    network.backward(&x, &mut ws);
    let backprop = ws.grads.clone();

    // Central differences, one parameter at a time, on a copy.
    let mut probe = network.clone();
    let mut report = GradientReport {
        max_abs_error: 0.0,
        max_relative_error: 0.0,
        worst: None,
        checked: 0,
    };
    for (l, grads) in backprop.iter().enumerate() {
        let inputs_of_layer = network.layers()[l].inputs();
        let groups = [
            (ParameterKind::Weight, grads.weights.as_slice()),
            (ParameterKind::Bias, &grads.biases[..]),
        ];
        for (kind, analytic) in groups {
            for (index, &g) in analytic.iter().enumerate() {
                let numeric = central_difference(
                    &mut probe, l, kind, index, epsilon, &x, targets, loss, &mut ws,
                )?;
                let g = g as f64;
                let absolute = (g - numeric).abs();
                let relative = relative_error(g, numeric);
                report.checked += 1;
                report.max_abs_error = report.max_abs_error.max(absolute);
                if report.worst.is_none() || relative > report.max_relative_error {
                    report.max_relative_error = relative;
                    let (neuron, input) = match kind {
                        ParameterKind::Weight => {
                            (index / inputs_of_layer, Some(index % inputs_of_layer))
                        }
                        ParameterKind::Bias => (index, None),
                    };
                    report.worst = Some(WorstParameter {
                        layer: l,
                        kind,
                        neuron,
                        input,
                        backprop: g,
                        numeric,
                        relative_error: relative,
                    });
                }
            }
        }
    }
    Ok(report)
}

/// (C(θ + ε) − C(θ − ε)) / ((θ + ε) − (θ − ε)) for one parameter of `probe`, which is
/// restored afterwards.
#[allow(clippy::too_many_arguments)]
fn central_difference(
    probe: &mut Network,
    layer: usize,
    kind: ParameterKind,
    index: usize,
    epsilon: f32,
    x: &Tensor,
    targets: &[f32],
    loss: Loss,
    ws: &mut Workspace,
) -> Result<f64> {
    let set = |net: &mut Network, value: f32| {
        let (weights, biases) = net
            .parameters_mut(layer)
            .expect("the layer index was checked");
        match kind {
            ParameterKind::Weight => weights[index] = value,
            ParameterKind::Bias => biases[index] = value,
        }
    };
    let original = match kind {
        ParameterKind::Weight => probe.layers()[layer].weights().as_slice()[index],
        ParameterKind::Bias => probe.layers()[layer].biases()[index],
    };
    let (plus, minus) = (original + epsilon, original - epsilon);
    set(probe, plus);
    let up = forward_loss(probe, x, targets, loss, ws);
    set(probe, minus);
    let down = forward_loss(probe, x, targets, loss, ws);
    set(probe, original);
    Ok((up? - down?) / (plus as f64 - minus as f64))
}

/// C, the mean loss over the rows, after a fresh forward pass.
fn forward_loss(
    network: &Network,
    x: &Tensor,
    targets: &[f32],
    loss: Loss,
    ws: &mut Workspace,
) -> Result<f64> {
    network.forward(x, ws);
    mean_loss(network, x, targets, loss, ws)
}

/// C, the mean loss over the rows, from the forward pass already in `ws`.
fn mean_loss(
    network: &Network,
    x: &Tensor,
    targets: &[f32],
    loss: Loss,
    ws: &mut Workspace,
) -> Result<f64> {
    let last = network.layers().len() - 1;
    let cost = loss.sum(
        ws.weighted_sums[last].as_slice(),
        ws.activations[last].as_slice(),
        targets,
        network.outputs(),
    ) / x.rows() as f64;
    if !cost.is_finite() {
        return Err(Error::Config(format!(
            "the loss is {cost}; gradients can only be checked where the loss is finite"
        )));
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Init};

    fn batch() -> (Vec<f32>, Vec<f32>) {
        (
            vec![0.5, -1.0, 0.25, 1.5, 0.0, -0.75, -0.3, 0.8, 1.1],
            vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        )
    }

    #[test]
    fn a_correct_network_passes() {
        let net = Network::builder(3)
            .dense(4, Activation::Tanh)
            .dense(2, Activation::Softmax)
            .build(Init::Xavier, 4)
            .unwrap();
        let (x, y) = batch();
        let report = check(&net, &x, &y, Loss::CrossEntropy, 1e-2).unwrap();
        assert_eq!(report.checked, 4 * 3 + 4 + 2 * 4 + 2);
        assert!(report.max_relative_error < 1e-2, "{report}");
    }

    #[test]
    fn relative_error_is_scale_free_above_the_floor_and_absolute_below_it() {
        assert!((relative_error(0.1, 0.2) - 1.0 / 3.0).abs() < 1e-12);
        assert!((relative_error(100.0, 200.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(relative_error(0.0, 0.0), 0.0);
        assert!((relative_error(0.0, 1e-6) - 1e-6 / RELATIVE_ERROR_FLOOR).abs() < 1e-12);
        assert!((relative_error(1.0, -1.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_report_names_the_worst_parameter() {
        let net = Network::builder(3)
            .dense(2, Activation::Sigmoid)
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 4)
            .unwrap();
        let (x, y) = batch();
        let report = check(&net, &x, &y, Loss::Mse, 1e-2).unwrap();
        let text = report.to_string();
        assert!(text.contains("worst: layer"), "{text}");
        assert!(text.contains("finite differences"), "{text}");
    }

    #[test]
    fn step_networks_and_mismatched_losses_are_refused() {
        let (x, y) = batch();
        let step = Network::builder(3)
            .dense(2, Activation::Step)
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 4)
            .unwrap();
        assert!(matches!(
            check(&step, &x, &y, Loss::Mse, 1e-2),
            Err(Error::StepNotTrainable { layer: 0 })
        ));
        let sig = Network::builder(3)
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 4)
            .unwrap();
        assert!(matches!(
            check(&sig, &x, &y, Loss::CrossEntropy, 1e-2),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            check(&sig, &x[..4], &y, Loss::Mse, 1e-2),
            Err(Error::InputWidth { .. })
        ));
        assert!(matches!(
            check(&sig, &x, &y[..4], Loss::Mse, 1e-2),
            Err(Error::Shape(_))
        ));
        assert!(check(&sig, &x, &y, Loss::Mse, 0.0).is_err());
    }
}
