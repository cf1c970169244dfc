//! Optimisers: how a gradient becomes a change of the weights.
//!
//! Gradient descent moves every weight a small step against its gradient; the step's
//! size is the learning rate η:
//!
//! ```text
//! Sgd        w ← w − η·g
//! Momentum   v ← μ·v + g,           w ← w − η·v              (PyTorch's form)
//! Nesterov   v ← μ·v + g,           w ← w − η·(g + μ·v)
//! Adam       m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
//!            w ← w − η·m̂ / (√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
//! Rprop      iRPROP⁻: each weight has its own step Δ, grown ×η⁺ while its gradient keeps
//!            its sign and shrunk ×η⁻ when the sign flips (then that gradient is skipped);
//!            w ← w − sign(g)·Δ. Full-batch, no learning rate.
//! ```
//!
//! With L2 weight decay λ, every weight's gradient gains λ·w (biases are not decayed).
//! g is the gradient of the mean loss over the batch (see [`crate::loss`]).
//!
//! See: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2015); Igel &
//! Hüsken, "Improving the Rprop Learning Algorithm" (2000), the iRPROP⁻ variant that
//! FANN trains with by default.

use crate::layer::{Dense, DenseGrads};
use crate::network::Network;
use serde::{Deserialize, Serialize};

/// Plain stochastic gradient descent: w ← w − η·g.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// η, the step size (0.1 by default, the article's).
    pub learning_rate: f32,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd { learning_rate: 0.1 }
    }
}

/// Gradient descent with momentum: a running sum of past gradients smooths the path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Momentum {
    /// η, the step size (0.01 by default).
    pub learning_rate: f32,
    /// μ, how much of the previous velocity is kept each step (0.9 by default).
    pub momentum: f32,
}

impl Default for Momentum {
    fn default() -> Self {
        Momentum {
            learning_rate: 0.01,
            momentum: 0.9,
        }
    }
}

/// Adam: per-weight steps scaled by running estimates of the gradient's mean and
/// uncentred variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// η, the step size (0.001 by default).
    pub learning_rate: f32,
    /// β₁, decay of the running mean of gradients (0.9).
    pub beta1: f32,
    /// β₂, decay of the running mean of squared gradients (0.999).
    pub beta2: f32,
    /// ε, added to √v̂ so that the step stays finite (1e-8).
    pub epsilon: f32,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// iRPROP⁻ (FANN's default): full-batch, sign-based, with a step size per weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rprop {
    /// η⁺, the factor a step grows by while the gradient keeps its sign (1.2).
    pub increase: f32,
    /// η⁻, the factor a step shrinks by when the gradient changes sign (0.5).
    pub decrease: f32,
    /// Δ₀, every weight's first step (0.1, as FANN).
    pub initial_step: f32,
    /// The smallest step (1e-6).
    pub min_step: f32,
    /// The largest step (50, as FANN).
    pub max_step: f32,
}

impl Default for Rprop {
    fn default() -> Self {
        Rprop {
            increase: 1.2,
            decrease: 0.5,
            initial_step: 0.1,
            min_step: 1e-6,
            max_step: 50.0,
        }
    }
}

/// An optimiser and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum Optimizer {
    /// Plain gradient descent.
    Sgd(Sgd),
    /// Gradient descent with (heavy-ball) momentum.
    Momentum(Momentum),
    /// Gradient descent with Nesterov momentum (looks ahead along the velocity).
    Nesterov(Momentum),
    /// Adam.
    Adam(Adam),
    /// iRPROP⁻, full-batch.
    Rprop(Rprop),
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Sgd(Sgd::default())
    }
}

impl From<Sgd> for Optimizer {
    fn from(o: Sgd) -> Self {
        Optimizer::Sgd(o)
    }
}
impl From<Adam> for Optimizer {
    fn from(o: Adam) -> Self {
        Optimizer::Adam(o)
    }
}
impl From<Momentum> for Optimizer {
    fn from(o: Momentum) -> Self {
        Optimizer::Momentum(o)
    }
}
impl From<Rprop> for Optimizer {
    fn from(o: Rprop) -> Self {
        Optimizer::Rprop(o)
    }
}

impl Optimizer {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::Momentum(_) => "momentum",
            Optimizer::Nesterov(_) => "nesterov",
            Optimizer::Adam(_) => "adam",
            Optimizer::Rprop(_) => "rprop",
        }
    }

    /// The base learning rate (Rprop has none and reports 0).
    pub fn learning_rate(&self) -> f32 {
        match self {
            Optimizer::Sgd(o) => o.learning_rate,
            Optimizer::Momentum(o) | Optimizer::Nesterov(o) => o.learning_rate,
            Optimizer::Adam(o) => o.learning_rate,
            Optimizer::Rprop(_) => 0.0,
        }
    }

    /// The same optimiser with another base learning rate (ignored by Rprop).
    pub fn with_learning_rate(mut self, learning_rate: f32) -> Self {
        match &mut self {
            Optimizer::Sgd(o) => o.learning_rate = learning_rate,
            Optimizer::Momentum(o) | Optimizer::Nesterov(o) => o.learning_rate = learning_rate,
            Optimizer::Adam(o) => o.learning_rate = learning_rate,
            Optimizer::Rprop(_) => {}
        }
        self
    }

    /// Whether this optimiser steps once per epoch on the gradient of the whole
    /// training set (Rprop) rather than once per batch.
    pub fn is_full_batch(&self) -> bool {
        matches!(self, Optimizer::Rprop(_))
    }
}

/// An optimiser with what it remembers between steps, per parameter. The state is made
/// for one optimiser and steps only with it (its velocity, Adam's moments or Rprop's
/// steps mean nothing to another), so [`OptimizerState::step`] takes no optimiser.
#[derive(Debug, Clone, Default)]
pub struct OptimizerState {
    optimizer: Optimizer,
    step: u32,
    /// Per layer: [weights slot, biases slot] × (first, second) state vectors.
    slots: Vec<[Slot; 2]>,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    first: Vec<f32>,
    second: Vec<f32>,
}

impl OptimizerState {
    /// Empty state for `layers` under `optimizer` (velocity, Adam moments or Rprop steps).
    pub fn new(optimizer: &Optimizer, layers: &[Dense]) -> Self {
        let (first, second, init) = match optimizer {
            Optimizer::Sgd(_) => (false, false, 0.0),
            Optimizer::Momentum(_) | Optimizer::Nesterov(_) => (true, false, 0.0),
            Optimizer::Adam(_) => (true, true, 0.0),
            Optimizer::Rprop(r) => (true, true, r.initial_step),
        };
        let slot = |n: usize| Slot {
            // Rprop: `first` = previous gradient, `second` = step sizes.
            first: if first { vec![0.0; n] } else { Vec::new() },
            second: if second { vec![init; n] } else { Vec::new() },
        };
        OptimizerState {
            optimizer: *optimizer,
            step: 0,
            slots: layers
                .iter()
                .map(|l| [slot(l.weights().as_slice().len()), slot(l.biases().len())])
                .collect(),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.step
    }

    /// Whether `self` has the vectors `other` has, layer by layer: the same optimiser's
    /// state for the same architecture (so one can carry on where the other is expected).
    pub(crate) fn same_layout(&self, other: &OptimizerState) -> bool {
        let lengths = |s: &OptimizerState| -> Vec<[usize; 4]> {
            s.slots
                .iter()
                .map(|[w, b]| [w.first.len(), w.second.len(), b.first.len(), b.second.len()])
                .collect()
        };
        self.optimizer == other.optimizer && lengths(self) == lengths(other)
    }

    /// The optimiser this state was made for, the one [`OptimizerState::step`] runs.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Applies one update of this state's optimiser to every layer from `grads`, with
    /// learning rate `learning_rate` (the scheduled one; Rprop ignores it) and L2 decay
    /// `l2` on weights.
    pub fn step(
        &mut self,
        network: &mut Network,
        grads: &[DenseGrads],
        learning_rate: f32,
        l2: f32,
    ) {
        self.step += 1;
        let t = self.step;
        let optimizer = self.optimizer;
        for ((layer, grad), slots) in network
            .layers_mut()
            .iter_mut()
            .zip(grads)
            .zip(&mut self.slots)
        {
            let [ws, bs] = slots;
            let (weights, biases) = layer.parameters_mut();
            let groups = [
                (weights, grad.weights.as_slice(), ws, l2),
                (biases, &grad.biases[..], bs, 0.0),
            ];
            for (params, grads, slot, decay) in groups {
                update_part(
                    &optimizer,
                    params,
                    grads,
                    &mut slot.first,
                    &mut slot.second,
                    learning_rate,
                    decay,
                    t,
                );
            }
        }
    }
}

impl OptimizerState {
    /// Every state vector with a name (`{layer}.weight.first`, …), for checkpoints;
    /// empty ones (state the optimiser does not keep) are left out.
    pub(crate) fn named_buffers(&self) -> Vec<(String, &[f32])> {
        let mut out = Vec::new();
        for (l, slots) in self.slots.iter().enumerate() {
            for (part, slot) in ["weight", "bias"].iter().zip(slots) {
                for (which, v) in [("first", &slot.first), ("second", &slot.second)] {
                    if !v.is_empty() {
                        out.push((format!("{l}.{part}.{which}"), &v[..]));
                    }
                }
            }
        }
        out
    }

    /// [`OptimizerState::named_buffers`], to restore.
    pub(crate) fn named_buffers_mut(&mut self) -> Vec<(String, &mut [f32])> {
        let mut out = Vec::new();
        for (l, slots) in self.slots.iter_mut().enumerate() {
            for (part, slot) in ["weight", "bias"].iter().zip(slots.iter_mut()) {
                let Slot { first, second } = slot;
                for (which, v) in [("first", first), ("second", second)] {
                    if !v.is_empty() {
                        out.push((format!("{l}.{part}.{which}"), &mut v[..]));
                    }
                }
            }
        }
        out
    }

    /// Sets the step count (a resumed run continues Adam's bias corrections).
    pub(crate) fn set_steps(&mut self, steps: u32) {
        self.step = steps;
    }
}

impl OptimizerState {
    /// Counts `steps` steps taken outside [`OptimizerState::step`] (by the neuron-split
    /// trainer, which updates parts of layers with [`update_part`]) and returns the
    /// number of the first of them, counting from 1.
    pub(crate) fn take_steps(&mut self, steps: u32) -> u32 {
        let first = self.step + 1;
        self.step += steps;
        first
    }

    /// The state of every layer as (weights' first, weights' second, biases' first,
    /// biases' second) buffers — empty where the optimiser keeps none.
    pub(crate) fn buffers_mut(&mut self) -> Vec<[&mut [f32]; 4]> {
        self.slots
            .iter_mut()
            .map(|[w, b]| {
                [
                    &mut w.first[..],
                    &mut w.second[..],
                    &mut b.first[..],
                    &mut b.second[..],
                ]
            })
            .collect()
    }
}

/// One update of a run of parameters from their gradient, as step number `t` (from 1):
/// `first` and `second` are the optimiser's state for the same run (empty when it keeps
/// none). Every parameter's update depends only on its own gradient and state, so any
/// split of a layer into runs (one thread's band of neurons) gives the same result as
/// updating it whole: the formulas of the module docs, written once.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_part(
    optimizer: &Optimizer,
    params: &mut [f32],
    grads: &[f32],
    first: &mut [f32],
    second: &mut [f32],
    lr: f32,
    l2: f32,
    t: u32,
) {
    let grads = &grads[..params.len()];
    update_with(
        optimizer,
        params,
        |i| grads[i],
        first,
        second,
        lr,
        l2,
        t as i32,
    );
}

/// The update rules, reading the gradient of parameter i as `grad(i)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_with(
    optimizer: &Optimizer,
    params: &mut [f32],
    grad: impl Fn(usize) -> f32,
    first: &mut [f32],
    second: &mut [f32],
    lr: f32,
    l2: f32,
    t: i32,
) {
    match *optimizer {
        Optimizer::Sgd(_) => {
            for (i, w) in params.iter_mut().enumerate() {
                *w -= lr * (grad(i) + l2 * *w);
            }
        }
        Optimizer::Momentum(Momentum { momentum: mu, .. }) => {
            for ((i, w), v) in params.iter_mut().enumerate().zip(first.iter_mut()) {
                let g = grad(i) + l2 * *w;
                *v = flush_tiny(mu * *v + g);
                *w -= lr * *v;
            }
        }
        Optimizer::Nesterov(Momentum { momentum: mu, .. }) => {
            for ((i, w), v) in params.iter_mut().enumerate().zip(first.iter_mut()) {
                let g = grad(i) + l2 * *w;
                *v = flush_tiny(mu * *v + g);
                *w -= lr * (g + mu * *v);
            }
        }
        Optimizer::Adam(Adam {
            beta1,
            beta2,
            epsilon,
            ..
        }) => {
            // Bias corrections folded into the step: η·m̂/(√v̂+ε) with m̂ = m/c₁, v̂ = v/c₂.
            let c1 = 1.0 - beta1.powi(t);
            let c2 = 1.0 - beta2.powi(t);
            let step = lr / c1;
            let inv_sqrt_c2 = 1.0 / c2.sqrt();
            for (((i, w), m), v) in params
                .iter_mut()
                .enumerate()
                .zip(first.iter_mut())
                .zip(second.iter_mut())
            {
                let g = grad(i) + l2 * *w;
                *m = flush_tiny(beta1 * *m + (1.0 - beta1) * g);
                *v = flush_tiny(beta2 * *v + (1.0 - beta2) * g * g);
                *w -= step * *m / (v.sqrt() * inv_sqrt_c2 + epsilon);
            }
        }
        Optimizer::Rprop(r) => {
            for (((i, w), prev), delta) in params
                .iter_mut()
                .enumerate()
                .zip(first.iter_mut())
                .zip(second.iter_mut())
            {
                let mut g = grad(i) + l2 * *w;
                let sign = g * *prev;
                if sign > 0.0 {
                    *delta = (*delta * r.increase).min(r.max_step);
                } else if sign < 0.0 {
                    *delta = (*delta * r.decrease).max(r.min_step);
                    g = 0.0; // iRPROP⁻: skip this weight's step after a sign change
                }
                if g > 0.0 {
                    *w -= *delta;
                } else if g < 0.0 {
                    *w += *delta;
                }
                *prev = g;
            }
        }
    }
}

/// Optimiser state below this magnitude is set to 0.
///
/// A weight whose gradient stays 0 (a dead ReLU's, say) has its running averages decay
/// geometrically — β₂ = 0.999 takes tens of thousands of steps to cross the subnormal
/// floats (below 1.2e-38), and arithmetic on subnormals is much slower on x86 (long
/// Adam runs slowed down twofold: bench/RESULTS.md). 1e-30 is far below anything that moves a weight
/// (the step divides by √v + ε with ε = 1e-8).
pub const FLUSH_BELOW: f32 = 1e-30;

#[inline]
fn flush_tiny(x: f32) -> f32 {
    if x.abs() < FLUSH_BELOW {
        0.0
    } else {
        x
    }
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum Schedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Multiplied by `factor` every `every` epochs (step decay).
    Step {
        /// Epochs between decays.
        every: usize,
        /// The factor applied at each decay (e.g. 0.5).
        factor: f32,
    },
    /// Cosine annealing, per batch, from the base rate down to 0 at the last step:
    /// η(t) = η₀ · ½(1 + cos(π·t)), t = fraction of training done.
    Cosine,
}

impl Schedule {
    /// The factor on the base learning rate at `epoch` (0-based), when `progress`
    /// (0 to 1) of all training steps are done.
    pub fn factor(&self, epoch: usize, progress: f64) -> f32 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::Step { every, factor } => factor.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine => {
                (0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos())) as f32
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Constant => f.write_str("constant"),
            Schedule::Step { every, factor } => write!(f, "step:{every}:{factor}"),
            Schedule::Cosine => f.write_str("cosine"),
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;

    /// Parses `constant`, `cosine`, `step` (every 10 epochs ×0.5) or `step:EVERY:FACTOR`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split(':').collect();
        match parts.as_slice() {
            ["constant"] | ["none"] => Ok(Schedule::Constant),
            ["cosine"] => Ok(Schedule::Cosine),
            ["step"] => Ok(Schedule::Step {
                every: 10,
                factor: 0.5,
            }),
            ["step", every, factor] => {
                let every: usize = every.parse().ok().filter(|&e| e > 0).ok_or_else(|| {
                    format!("step schedule: `{every}` epochs must be a positive integer")
                })?;
                let factor: f32 = factor
                    .parse()
                    .ok()
                    .filter(|f: &f32| *f > 0.0 && f.is_finite())
                    .ok_or_else(|| {
                        format!("step schedule: factor `{factor}` must be a positive number")
                    })?;
                Ok(Schedule::Step { every, factor })
            }
            _ => Err(format!(
                "unknown schedule `{s}` (expected constant, cosine, step or step:EVERY:FACTOR)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::tensor::Tensor;

    fn one_weight(w: f32) -> (Network, Vec<DenseGrads>) {
        let layer = Dense::from_parts(
            Tensor::from_vec(1, 1, vec![w]).unwrap(),
            vec![0.0],
            Activation::Identity,
        )
        .unwrap();
        let grads = vec![DenseGrads::zeros_like(&layer)];
        (Network::from_layers(vec![layer]).unwrap(), grads)
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_the_learning_rate() {
        // m̂ = g and v̂ = g² after one step, so the step is η·g/|g| = η.
        let opt = Optimizer::Adam(Adam::default());
        let (mut layers, mut grads) = one_weight(1.0);
        grads[0].weights.as_mut_slice()[0] = 0.3;
        let mut state = OptimizerState::new(&opt, layers.layers());
        state.step(&mut layers, &grads, 1e-3, 0.0);
        assert!((layers.layers()[0].weights().as_slice()[0] - (1.0 - 1e-3)).abs() < 1e-6);
    }

    #[test]
    fn momentum_accumulates_velocity() {
        let opt = Optimizer::Momentum(Momentum {
            learning_rate: 0.1,
            momentum: 0.5,
        });
        let (mut layers, mut grads) = one_weight(0.0);
        grads[0].weights.as_mut_slice()[0] = 1.0;
        let mut state = OptimizerState::new(&opt, layers.layers());
        state.step(&mut layers, &grads, 0.1, 0.0); // v = 1,   w = −0.1
        state.step(&mut layers, &grads, 0.1, 0.0); // v = 1.5, w = −0.25
        assert!((layers.layers()[0].weights().as_slice()[0] + 0.25).abs() < 1e-6);
    }

    #[test]
    fn nesterov_follows_its_formula_over_a_few_steps() {
        // v ← μ·v + g,  w ← w − η·(g + μ·v), g with the L2 term λ·w, in f64.
        let (eta, mu, l2) = (0.1f32, 0.5f32, 0.01f32);
        let opt = Optimizer::Nesterov(Momentum {
            learning_rate: eta,
            momentum: mu,
        });
        let (mut layers, mut grads) = one_weight(1.0);
        let mut state = OptimizerState::new(&opt, layers.layers());
        let (mut w, mut v) = (1.0f64, 0.0f64);
        let (eta, mu, l2) = (f64::from(eta), f64::from(mu), f64::from(l2));
        for g in [1.0f32, -2.0, 0.5, 0.5] {
            grads[0].weights.as_mut_slice()[0] = g;
            state.step(&mut layers, &grads, 0.1, 0.01);
            let g = f64::from(g) + l2 * w;
            v = mu * v + g;
            w -= eta * (g + mu * v);
            let got = f64::from(layers.layers()[0].weights().as_slice()[0]);
            assert!((got - w).abs() < 1e-6, "engine {got}, formula {w}");
        }
        // Heavy-ball momentum takes other steps from the same gradients.
        let mut heavy = one_weight(1.0).0;
        let opt = Optimizer::Momentum(Momentum {
            learning_rate: 0.1,
            momentum: 0.5,
        });
        let mut state = OptimizerState::new(&opt, heavy.layers());
        grads[0].weights.as_mut_slice()[0] = 1.0;
        state.step(&mut heavy, &grads, 0.1, 0.01);
        let nesterov_first = 1.0 - 0.1 * (1.01 + 0.5 * 1.01);
        assert!(
            (f64::from(heavy.layers()[0].weights().as_slice()[0]) - nesterov_first).abs() > 1e-3
        );
    }

    #[test]
    fn rprop_grows_steps_while_the_sign_holds_and_skips_after_a_flip() {
        let opt = Optimizer::Rprop(Rprop::default());
        let (mut layers, mut grads) = one_weight(0.0);
        let mut state = OptimizerState::new(&opt, layers.layers());
        grads[0].weights.as_mut_slice()[0] = 2.0;
        state.step(&mut layers, &grads, 0.0, 0.0); // −0.1
        state.step(&mut layers, &grads, 0.0, 0.0); // −0.12
        assert!((layers.layers()[0].weights().as_slice()[0] + 0.22).abs() < 1e-6);
        grads[0].weights.as_mut_slice()[0] = -1.0;
        state.step(&mut layers, &grads, 0.0, 0.0); // sign flip: no move
        assert!((layers.layers()[0].weights().as_slice()[0] + 0.22).abs() < 1e-6);
    }

    #[test]
    fn schedules() {
        let s: Schedule = "step:2:0.5".parse().unwrap();
        assert_eq!(s.factor(3, 0.0), 0.5);
        assert_eq!(s.factor(4, 0.0), 0.25);
        assert!((Schedule::Cosine.factor(0, 0.5) - 0.5).abs() < 1e-6);
        assert!("step:0:1".parse::<Schedule>().is_err());
    }
}
