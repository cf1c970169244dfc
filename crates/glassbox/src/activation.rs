//! Activation functions: what a neuron does with its weighted sum.
//!
//! A neuron computes a weighted sum of its inputs plus a bias, z = Σ wᵢxᵢ + b, then
//! passes it through an activation function, a = f(z). Each function here stands beside
//! its derivative f′, which back-propagation multiplies into the error of the layer:
//!
//! ```text
//! δ = ∂C/∂a ⊙ f′(z)
//! ```
//!
//! Each derivative says which cached value it reads (the weighted sum z or the output a),
//! so nothing is computed twice.
//!
//! ```
//! use glassbox::Activation;
//! let mut a = [0.0f32; 3];
//! Activation::Relu.forward(&[-1.0, 0.5, 2.0], &mut a, 3);
//! assert_eq!(a, [0.0, 0.5, 2.0]);
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The leaky ReLU slope used when none is given.
pub const DEFAULT_LEAKY_SLOPE: f32 = 0.01;

/// An activation function f and its derivative f′.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum Activation {
    /// Heaviside step: 1 if z ≥ 0, else 0 — the first artificial neuron's rule.
    /// Its derivative is 0 wherever it exists, so a network of steps cannot learn by
    /// back-propagation: training refuses it ([`crate::Error::StepNotTrainable`]), while
    /// forward passes and explanations use it freely.
    Step,
    /// Identity (linear): f(z) = z, f′ = 1. For regression outputs.
    Identity,
    /// Logistic sigmoid, σ(z) = 1 / (1 + e⁻ᶻ), squashes to (0, 1).
    /// σ′(z) = σ(z)·(1 − σ(z)), read from the cached output a, so `exp` runs once.
    Sigmoid,
    /// Hyperbolic tangent, squashes to (−1, 1). tanh′(z) = 1 − a², read from a.
    Tanh,
    /// Rectified linear unit: f(z) = max(0, z); f′ = 1 if z > 0 else 0 (read from z).
    Relu,
    /// Leaky ReLU: z if z > 0 else α·z; f′ = 1 or α (read from z).
    LeakyRelu {
        /// α, the slope for negative z (0.01 by default).
        alpha: f32,
    },
    /// Softmax over the layer: aⱼ = e^zⱼ / Σₖ e^zₖ, outputs that sum to 1 (class
    /// probabilities). Its derivative is a matrix (∂aⱼ/∂zₖ = aⱼ(1[j=k] − aₖ)); with
    /// cross-entropy it is never formed, because the two together give δ = (a − y)/B.
    Softmax,
}

impl Activation {
    /// The name used on the command line and in model files.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Step => "step",
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky-relu",
            Activation::Softmax => "softmax",
        }
    }

    /// f for one value (softmax needs the whole row: use [`Activation::forward`]). The
    /// one place each element-wise f is written: [`Activation::forward`] runs it over a
    /// batch.
    #[inline(always)]
    pub fn value(&self, z: f32) -> f32 {
        match *self {
            Activation::Step => {
                if z >= 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Identity | Activation::Softmax => z,
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    z
                } else {
                    alpha * z
                }
            }
        }
    }

    /// f′ for one neuron, from its weighted sum `z` and its output `a` (each function
    /// reads the one that makes it cheapest). For softmax this is the diagonal term
    /// aⱼ(1 − aⱼ) only; [`Activation::backward`] applies the full Jacobian.
    ///
    /// This is [`Activation::times_derivative`] with g = 1.
    pub fn derivative(&self, z: f32, a: f32) -> f32 {
        self.times_derivative(1.0, z, a)
    }

    /// g · f′ for one neuron, from the gradient `g` = ∂C/∂a, its weighted sum `z` and its
    /// output `a`: the one place each f′ is written ([`Activation::derivative`] is this
    /// with g = 1; [`Activation::backward`] runs it over a batch). For softmax, the
    /// diagonal term only, as in [`Activation::derivative`].
    ///
    /// ```text
    /// step       g · 0
    /// identity   g
    /// sigmoid    g · a(1 − a)          (softmax's diagonal too)
    /// tanh       g · (1 − a²)
    /// relu       g if z > 0, else 0
    /// leaky      g if z > 0, else g·α
    /// ```
    #[inline(always)]
    pub fn times_derivative(&self, g: f32, z: f32, a: f32) -> f32 {
        match *self {
            Activation::Step => g * 0.0,
            Activation::Identity => g,
            Activation::Sigmoid | Activation::Softmax => g * (a * (1.0 - a)),
            Activation::Tanh => g * (1.0 - a * a),
            Activation::Relu => {
                if z > 0.0 {
                    g
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    g
                } else {
                    g * alpha
                }
            }
        }
    }

    /// a = f(z) over a batch: `z` and `a` are `rows × width`, row-major.
    pub fn forward(&self, z: &[f32], a: &mut [f32], width: usize) {
        debug_assert_eq!(z.len(), a.len());
        // Each arm passes its variant as a constant, so the match inside `value` folds
        // away and the loop is that one formula.
        match *self {
            Activation::Softmax => {
                for (zr, ar) in z.chunks_exact(width).zip(a.chunks_exact_mut(width)) {
                    softmax_row(zr, ar);
                }
            }
            Activation::Sigmoid => map_values(Activation::Sigmoid, z, a),
            Activation::Relu => map_values(Activation::Relu, z, a),
            f => map_values(f, z, a),
        }
    }

    /// δ = ∂C/∂z from g = ∂C/∂a, in place over a batch (`g` becomes δ):
    ///
    /// ```text
    /// δ = g ⊙ f′(z)                       for element-wise f (Activation::times_derivative)
    /// δⱼ = aⱼ · (gⱼ − Σₖ gₖ·aₖ)            for softmax (its Jacobian applied to g)
    /// ```
    pub fn backward(&self, z: &[f32], a: &[f32], g: &mut [f32], width: usize) {
        debug_assert_eq!(z.len(), g.len());
        match *self {
            Activation::Softmax => {
                for (ar, gr) in a.chunks_exact(width).zip(g.chunks_exact_mut(width)) {
                    let s: f32 = ar.iter().zip(gr.iter()).map(|(a, g)| a * g).sum();
                    for (g, &a) in gr.iter_mut().zip(ar) {
                        *g = a * (*g - s);
                    }
                }
            }
            Activation::Identity => {}
            // As in `forward`: a constant variant per arm, one formula per loop.
            Activation::Sigmoid => map_deltas(Activation::Sigmoid, z, a, g),
            Activation::Relu => map_deltas(Activation::Relu, z, a, g),
            f => map_deltas(f, z, a, g),
        }
    }
}

/// a = f(z) for each element (an element-wise f).
#[inline(always)]
fn map_values(f: Activation, z: &[f32], a: &mut [f32]) {
    for (a, &z) in a.iter_mut().zip(z) {
        *a = f.value(z);
    }
}

/// g ← g · f′ for each element (an element-wise f).
#[inline(always)]
fn map_deltas(f: Activation, z: &[f32], a: &[f32], g: &mut [f32]) {
    for ((g, &z), &a) in g.iter_mut().zip(z).zip(a) {
        *g = f.times_derivative(*g, z, a);
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu { alpha } if *alpha != DEFAULT_LEAKY_SLOPE => {
                write!(f, "leaky-relu:{alpha}")
            }
            a => f.write_str(a.name()),
        }
    }
}

impl FromStr for Activation {
    type Err = String;

    /// Parses `step`, `identity` (or `linear`), `sigmoid`, `tanh`, `relu`, `leaky-relu`
    /// (or `leaky-relu:0.2` for another slope) and `softmax`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, arg) = match lower.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (lower.as_str(), None),
        };
        let activation = match name {
            "step" => Activation::Step,
            "identity" | "linear" => Activation::Identity,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky-relu" | "leaky_relu" | "leakyrelu" => {
                let alpha = match arg {
                    Some(a) => a
                        .parse::<f32>()
                        .ok()
                        .filter(|a| a.is_finite())
                        .ok_or_else(|| format!("leaky-relu slope `{a}` is not a number"))?,
                    None => DEFAULT_LEAKY_SLOPE,
                };
                return Ok(Activation::LeakyRelu { alpha });
            }
            "softmax" => Activation::Softmax,
            _ => {
                return Err(format!(
                "unknown activation `{s}` (expected step, identity, sigmoid, tanh, relu, leaky-relu or softmax)"
            ))
            }
        };
        match arg {
            Some(_) => Err(format!("activation `{name}` takes no parameter")),
            None => Ok(activation),
        }
    }
}

/// σ(z) = 1 / (1 + e⁻ᶻ), written so that neither branch overflows.
#[inline]
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Softmax of one row, shifted by its maximum so that `exp` never overflows
/// (softmax(z) = softmax(z − c) for any c).
fn softmax_row(z: &[f32], a: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (a, &z) in a.iter_mut().zip(z) {
        *a = (z - max).exp();
        sum += *a;
    }
    let inv = 1.0 / sum;
    for a in a.iter_mut() {
        *a *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 7] = [
        Activation::Step,
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Softmax,
    ];

    #[test]
    fn derivatives_match_finite_differences() {
        for f in ALL {
            if f == Activation::Softmax || f == Activation::Step {
                continue;
            }
            for z in [-2.0f32, -0.3, 0.4, 1.7] {
                let h = 1e-3f64;
                let num = (f.value((z as f64 + h) as f32) as f64
                    - f.value((z as f64 - h) as f32) as f64)
                    / (2.0 * h);
                let ana = f.derivative(z, f.value(z)) as f64;
                assert!((num - ana).abs() < 1e-3, "{f}: z={z} {num} vs {ana}");
            }
        }
    }

    /// f and f′ of every variant, written out again in f64 from the maths, the
    /// reference both paths (one value, a batch) are checked against.
    fn reference(f: Activation, z: f64) -> (f64, f64) {
        match f {
            Activation::Step => (if z >= 0.0 { 1.0 } else { 0.0 }, 0.0),
            Activation::Identity => (z, 1.0),
            Activation::Sigmoid | Activation::Softmax => {
                let s = 1.0 / (1.0 + (-z).exp());
                (if f == Activation::Softmax { z } else { s }, s * (1.0 - s))
            }
            Activation::Tanh => (z.tanh(), 1.0 - z.tanh().powi(2)),
            Activation::Relu => (z.max(0.0), if z > 0.0 { 1.0 } else { 0.0 }),
            Activation::LeakyRelu { alpha } => {
                let alpha = f64::from(alpha);
                if z > 0.0 {
                    (z, 1.0)
                } else {
                    (alpha * z, alpha)
                }
            }
        }
    }

    #[test]
    fn one_value_and_batch_paths_agree_with_the_reference_for_every_variant() {
        let zs = [-3.0f32, -0.7, -0.0, 0.0, 0.25, 1.5, 4.0];
        let g0: Vec<f32> = (0..zs.len()).map(|i| 0.5 - 0.3 * i as f32).collect();
        for f in ALL {
            let close = |x: f32, y: f64, what: &str, z: f32| {
                assert!(
                    (f64::from(x) - y).abs() < 1e-6,
                    "{f} {what} at z={z}: {x} vs {y}"
                )
            };
            // The batch paths, with each value as a row of its own (width 1) for the
            // element-wise functions.
            let mut a = vec![0.0; zs.len()];
            f.forward(&zs, &mut a, 1);
            let mut g = g0.clone();
            if f != Activation::Softmax {
                f.backward(&zs, &a, &mut g, 1);
            }
            for (i, &z) in zs.iter().enumerate() {
                let (value, derivative) = reference(f, f64::from(z));
                if f == Activation::Softmax {
                    // f′'s diagonal term, from a = σ(z) as the reference wrote it.
                    let s = 1.0 / (1.0 + (-f64::from(z)).exp());
                    close(f.derivative(z, s as f32), derivative, "f′", z);
                    continue;
                }
                close(f.value(z), value, "value", z);
                close(a[i], value, "forward", z);
                let fa = f.value(z);
                close(f.derivative(z, fa), derivative, "derivative", z);
                close(
                    f.times_derivative(g0[i], z, fa),
                    f64::from(g0[i]) * derivative,
                    "g·f′",
                    z,
                );
                close(g[i], f64::from(g0[i]) * derivative, "backward", z);
            }
        }
        // Softmax's batch paths against its formulas, over a row of three.
        let z = [0.5f32, -1.0, 2.0];
        let mut a = [0.0f32; 3];
        Activation::Softmax.forward(&z, &mut a, 3);
        let e: Vec<f64> = z.iter().map(|&z| f64::from(z).exp()).collect();
        let total: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|e| e / total).collect();
        let g0 = [0.3f32, -0.2, 0.9];
        let mut g = g0;
        Activation::Softmax.backward(&z, &a, &mut g, 3);
        let s: f64 = (0..3).map(|k| f64::from(g0[k]) * p[k]).sum();
        for j in 0..3 {
            assert!((f64::from(a[j]) - p[j]).abs() < 1e-6);
            assert!((f64::from(g[j]) - p[j] * (f64::from(g0[j]) - s)).abs() < 1e-6);
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_even_for_large_inputs() {
        let z = [1000.0, 1001.0, 999.0, -5.0, 0.0, 5.0];
        let mut a = [0.0; 6];
        Activation::Softmax.forward(&z, &mut a, 3);
        for row in a.chunks(3) {
            let s: f32 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
        assert!(a.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn names_round_trip() {
        for f in ALL {
            assert_eq!(f.to_string().parse::<Activation>().unwrap(), f);
        }
        assert_eq!(
            "linear".parse::<Activation>().unwrap(),
            Activation::Identity
        );
        assert!("swish".parse::<Activation>().is_err());
    }
}
