//! Losses: how wrong the network's output a is for the target y, and the error δᴸ of the
//! output layer that starts back-propagation.
//!
//! Every loss is a mean over the B examples of a batch, so the gradient handed back
//! carries a factor 1/B (applied here, once; nothing downstream divides again):
//!
//! ```text
//! Mse                 C = 1/B · Σₓ ½‖a − y‖²                 δᴸ = (a − y) ⊙ f′(zᴸ) / B
//! CrossEntropy        C = −1/B · Σₓ Σⱼ yⱼ·log pⱼ   (p = softmax(zᴸ))   δᴸ = (p − y) / B
//! BinaryCrossEntropy  C = −1/B · Σₓ Σⱼ [yⱼ·log aⱼ + (1 − yⱼ)·log(1 − aⱼ)]   (a = σ(zᴸ))
//!                                                            δᴸ = (a − y) / B
//! ```
//!
//! **Mse** is the article's error: per example, half the squared distance between the
//! output and the one-hot target, whose gradient is simply (a − y). PyTorch's
//! `MSELoss(reduction="mean")` instead divides the plain squared error by every element
//! (B·K for K outputs) and has no ½, so its gradient is 2(a − y)/(B·K): a learning rate η
//! here matches η·K/2 there (η = 0.1 with 10 outputs ≈ PyTorch lr 0.5), and
//! `MSELoss(reduction="sum")·0.5` with batch 1 matches exactly.
//!
//! **CrossEntropy** is fused with a softmax output: together their gradient is p − y, so
//! softmax's Jacobian is never formed. It is PyTorch's `CrossEntropyLoss` (mean). Its
//! value is computed from z by log-sum-exp, so it stays finite when a probability
//! underflows. **BinaryCrossEntropy** pairs with sigmoid outputs (independent yes/no
//! outputs, multi-label), likewise fused, and matches `BCEWithLogitsLoss` (mean over
//! examples, summed over outputs).

use crate::activation::Activation;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A loss function (see the module docs for the formulas and reductions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// C = 1/B · Σₓ ½‖a − y‖², the article's mean squared error.
    Mse,
    /// C = −1/B · Σₓ Σⱼ yⱼ log pⱼ, with a softmax output.
    CrossEntropy,
    /// C = −1/B · Σₓ Σⱼ [yⱼ log aⱼ + (1 − yⱼ) log(1 − aⱼ)], with sigmoid outputs.
    BinaryCrossEntropy,
}

impl Loss {
    /// The name used on the command line and in model files.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "cross-entropy",
            Loss::BinaryCrossEntropy => "binary-cross-entropy",
        }
    }

    /// The output activation this loss must be paired with, if any: softmax for
    /// cross-entropy and sigmoid for binary cross-entropy (their fused gradients assume
    /// those outputs); `None` for MSE, which fits any output layer.
    pub fn required_output(&self) -> Option<Activation> {
        match self {
            Loss::Mse => None,
            Loss::CrossEntropy => Some(Activation::Softmax),
            Loss::BinaryCrossEntropy => Some(Activation::Sigmoid),
        }
    }

    /// Checks that this loss can be paired with an output layer of `output` activation
    /// (see [`Loss::required_output`]).
    ///
    /// # Errors
    /// [`Error::Config`] for cross-entropy without softmax and binary cross-entropy
    /// without sigmoid.
    pub fn check_output(&self, output: Activation) -> Result<()> {
        match self.required_output() {
            Some(needed) if needed != output => Err(Error::Config(format!(
                "{} needs a {needed} output layer (it has {output})",
                self.words()
            ))),
            _ => Ok(()),
        }
    }

    /// The loss's name in words: "binary cross-entropy".
    fn words(&self) -> &'static str {
        match self {
            Loss::Mse => "mean squared error",
            Loss::CrossEntropy => "cross-entropy",
            Loss::BinaryCrossEntropy => "binary cross-entropy",
        }
    }

    /// The loss summed (not averaged) over the rows of a batch, in f64.
    /// `z` and `a` are the output layer's weighted sums and activations, `y` the
    /// targets, all `rows × width`. Divide by the number of rows for the mean C.
    pub fn sum(&self, z: &[f32], a: &[f32], y: &[f32], width: usize) -> f64 {
        let mut total = 0.0f64;
        match self {
            Loss::Mse => {
                for (&a, &y) in a.iter().zip(y) {
                    let d = (a - y) as f64;
                    total += 0.5 * d * d;
                }
            }
            Loss::CrossEntropy => {
                for (zr, yr) in z.chunks_exact(width).zip(y.chunks_exact(width)) {
                    // log pⱼ = zⱼ − max − log Σₖ e^(zₖ − max)
                    let max = zr.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                    let lse = zr.iter().map(|&z| (z as f64 - max).exp()).sum::<f64>().ln();
                    for (&z, &y) in zr.iter().zip(yr) {
                        if y != 0.0 {
                            total -= y as f64 * (z as f64 - max - lse);
                        }
                    }
                }
            }
            Loss::BinaryCrossEntropy => {
                for (&z, &y) in z.iter().zip(y) {
                    // −[y log σ(z) + (1 − y) log(1 − σ(z))] = softplus(z) − y·z
                    let z = z as f64;
                    let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
                    total += softplus - y as f64 * z;
                }
            }
        }
        total
    }

    /// The output layer's error δᴸ = ∂C/∂zᴸ for a batch, written into `delta`
    /// (`rows × width`). `scale` is the reduction, 1/B for a batch of B examples.
    ///
    /// ```text
    /// Mse:                 δᴸ = scale · (a − y) ⊙ f′(zᴸ)   (f′ applied by the activation,
    ///                                                   the full Jacobian for softmax)
    /// CrossEntropy (p):    δᴸ = scale · (p − y)
    /// BinaryCrossEntropy:  δᴸ = scale · (a − y)
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn output_delta(
        &self,
        output: Activation,
        z: &[f32],
        a: &[f32],
        y: &[f32],
        delta: &mut [f32],
        width: usize,
        scale: f32,
    ) {
        for ((d, &a), &y) in delta.iter_mut().zip(a).zip(y) {
            *d = scale * (a - y);
        }
        if *self == Loss::Mse {
            output.backward(z, a, delta, width);
        }
    }

    /// The batch's loss summed over its rows ([`Loss::sum`]) and its output error δᴸ
    /// written into `delta` ([`Loss::output_delta`]): what a training step needs from
    /// the loss, in one call.
    #[allow(clippy::too_many_arguments)]
    pub fn sum_and_delta(
        &self,
        output: Activation,
        z: &[f32],
        a: &[f32],
        y: &[f32],
        delta: &mut [f32],
        width: usize,
        scale: f32,
    ) -> f64 {
        let sum = self.sum(z, a, y, width);
        self.output_delta(output, z, a, y, delta, width, scale);
        sum
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Loss {
    type Err = String;

    /// Parses `mse`, `cross-entropy` (or `ce`) and `binary-cross-entropy` (or `bce`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mse" => Ok(Loss::Mse),
            "cross-entropy" | "crossentropy" | "ce" => Ok(Loss::CrossEntropy),
            "binary-cross-entropy" | "bce" => Ok(Loss::BinaryCrossEntropy),
            _ => Err(format!(
                "unknown loss `{s}` (expected mse, cross-entropy or binary-cross-entropy)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_of_a_hand_computed_example() {
        // a = [0.8, 0.2], y = [1, 0]: ½(0.04 + 0.04) = 0.04.
        let v = Loss::Mse.sum(&[0.0, 0.0], &[0.8, 0.2], &[1.0, 0.0], 2);
        assert!((v - 0.04).abs() < 1e-7);
    }

    #[test]
    fn cross_entropy_is_non_negative_and_stable() {
        let z = [1000.0f32, 0.0, -1000.0];
        let mut p = [0.0f32; 3];
        Activation::Softmax.forward(&z, &mut p, 3);
        let v = Loss::CrossEntropy.sum(&z, &p, &[0.0, 0.0, 1.0], 3);
        assert!((v - 2000.0).abs() < 1e-3, "{v}");
        assert!(Loss::CrossEntropy.sum(&z, &p, &[1.0, 0.0, 0.0], 3) >= 0.0);
    }

    #[test]
    fn losses_refuse_mismatched_outputs() {
        let e = Loss::CrossEntropy
            .check_output(Activation::Sigmoid)
            .unwrap_err();
        // The library names no command-line flag; the command line adds its own.
        assert_eq!(
            e.to_string(),
            "invalid configuration: cross-entropy needs a softmax output layer (it has sigmoid)"
        );
        assert_eq!(
            Loss::BinaryCrossEntropy.required_output(),
            Some(Activation::Sigmoid)
        );
        assert_eq!(Loss::Mse.required_output(), None);
        assert!(Loss::BinaryCrossEntropy
            .check_output(Activation::Softmax)
            .is_err());
        assert!(Loss::Mse.check_output(Activation::Softmax).is_ok());
    }
}
