//! A dense (fully connected) layer: every neuron sees every input.
//!
//! Neuron j of the layer computes a weighted sum of the inputs plus its bias, then its
//! activation: zⱼ = Σᵢ Wⱼᵢ·xᵢ + bⱼ, aⱼ = f(zⱼ). Over a batch (one example per row):
//!
//! ```text
//! Z = A·Wᵀ + b        A: batch × in,  W: out × in,  b: out,  Z: batch × out
//! Aᵒᵘᵗ = f(Z)
//! ```
//!
//! ```
//! use glassbox::{Activation, Dense, tensor::{Parallelism, Tensor}};
//! // One neuron with weights 0.5, 0.5 and bias 0.1, fed [1, 2]: z = 1.6.
//! let layer = Dense::from_parts(
//!     Tensor::from_vec(1, 2, vec![0.5, 0.5]).unwrap(), vec![0.1], Activation::Identity).unwrap();
//! let input = Tensor::from_vec(1, 2, vec![1.0, 2.0]).unwrap();
//! let (mut z, mut a) = (Tensor::zeros(1, 1), Tensor::zeros(1, 1));
//! layer.forward(&input, &mut z, &mut a, Parallelism::Sequential);
//! assert!((z.as_slice()[0] - 1.6).abs() < 1e-6);
//! ```

use crate::activation::Activation;
use crate::rng::uniform_at;
use crate::tensor::{self, Accum, MatMut, MatRef, Parallelism, Tensor};
use crate::{Error, Result};

/// A dense layer: weights (`out × in`), biases (`out`) and an activation.
#[derive(Debug, Clone, PartialEq)]
///
/// The fields are private so that the shapes always agree (`biases.len()` = the rows of
/// `weights`): the parameters can be changed in place through
/// [`Dense::parameters_mut`], never resized.
pub struct Dense {
    /// W, one row per neuron: `weights[j][i]` is the weight from input i to neuron j.
    weights: Tensor,
    /// b, one per neuron.
    biases: Vec<f32>,
    /// f, applied to each neuron's weighted sum.
    activation: Activation,
}

/// The gradients of the loss with respect to one layer's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseGrads {
    /// ∂C/∂W, `out × in`.
    pub weights: Tensor,
    /// ∂C/∂b, `out`.
    pub biases: Vec<f32>,
}

impl DenseGrads {
    /// Zero gradients shaped like `layer`.
    pub fn zeros_like(layer: &Dense) -> Self {
        DenseGrads {
            weights: Tensor::zeros(layer.outputs(), layer.inputs()),
            biases: vec![0.0; layer.outputs()],
        }
    }
}

impl Dense {
    /// A layer of `outputs` neurons over `inputs` inputs, with all weights and biases 0
    /// (use [`crate::Init`] to start from small random numbers).
    pub fn new(inputs: usize, outputs: usize, activation: Activation) -> Self {
        Dense {
            weights: Tensor::zeros(outputs, inputs),
            biases: vec![0.0; outputs],
            activation,
        }
    }

    /// A layer from given weights (`out × in`) and biases (`out`).
    ///
    /// # Errors
    /// [`Error::Shape`] when the bias count differs from the weight rows, or a layer has
    /// no neurons or no inputs.
    pub fn from_parts(weights: Tensor, biases: Vec<f32>, activation: Activation) -> Result<Self> {
        if weights.rows() != biases.len() {
            return Err(Error::Shape(format!(
                "{} weight rows but {} biases",
                weights.rows(),
                biases.len()
            )));
        }
        if weights.rows() == 0 || weights.cols() == 0 {
            return Err(Error::Shape(format!(
                "a layer needs at least one input and one neuron (got {} × {})",
                weights.rows(),
                weights.cols()
            )));
        }
        Ok(Dense {
            weights,
            biases,
            activation,
        })
    }

    /// W, `out × in`: row j holds neuron j's weights.
    pub fn weights(&self) -> &Tensor {
        &self.weights
    }

    /// b, one per neuron.
    pub fn biases(&self) -> &[f32] {
        &self.biases
    }

    /// f, applied to each neuron's weighted sum.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The weights (row-major `out × in`) and the biases, to change in place.
    pub fn parameters_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (self.weights.as_mut_slice(), &mut self.biases)
    }

    /// Inputs per neuron.
    pub fn inputs(&self) -> usize {
        self.weights.cols()
    }

    /// Neurons.
    pub fn outputs(&self) -> usize {
        self.weights.rows()
    }

    /// Weights plus biases.
    pub fn parameter_count(&self) -> usize {
        self.weights.as_slice().len() + self.biases.len()
    }

    /// Runs a batch forward: `z` ← A·Wᵀ + b, `a` ← f(z) ([`forward`] on the whole layer).
    ///
    /// `input` is `batch × in`; `z` and `a` must be `batch × out`.
    pub fn forward(&self, input: &Tensor, z: &mut Tensor, a: &mut Tensor, par: Parallelism) {
        forward(
            input.view(),
            self.weights.view(),
            &self.biases,
            self.activation,
            z.view_mut(),
            a.view_mut(),
            par,
        );
    }

    /// Back-propagates one batch through this layer ([`gradients`] and [`error_below`]
    /// on the whole layer): with `delta` = δ = ∂C/∂z of this layer and `input` = A, the
    /// batch that [`Dense::forward`] saw, the gradients ∂C/∂W = δᵀ·A and ∂C/∂b = Σ_rows δ,
    /// and, unless this is the first layer, ∂C/∂A = δ·W into `grad_input`.
    pub fn backward(
        &self,
        input: &Tensor,
        delta: &Tensor,
        grads: &mut DenseGrads,
        grad_input: Option<&mut Tensor>,
        par: Parallelism,
    ) {
        let DenseGrads { weights, biases } = grads;
        gradients(
            delta.view(),
            input.view(),
            WeightGrads::Rows(weights.view_mut()),
            biases,
            false,
            par,
        );
        if let Some(grad_input) = grad_input {
            error_below(
                delta.view(),
                self.weights.view(),
                grad_input.view_mut(),
                par,
            );
        }
    }

    /// **Fast path** of online learning (batches of one example, plain SGD): the
    /// previous example's update of this layer and the next example's weighted sums, in
    /// one sweep over W, stored transposed (`wt`: in × neurons, as a first layer's
    /// weights are while it trains: see train/step.rs), so each row of Wᵀ crosses the
    /// memory bus once per example instead of twice, and the rows of inputs that are
    /// zero in both examples (an image's blank pixels) not at all
    /// ([`tensor::sgd_step_then_row_times_rows`]). The general path is
    /// [`gradients`] (into [`WeightGrads::Transposed`]), then the optimiser's update, then [`forward`]; this
    /// one gives the same weights and sums up to rounding (tested in `tests/engine.rs`)
    /// and makes the article's 784-30-10 network's epoch faster (figures in
    /// bench/RESULTS.md). `next` is the next example and its z; without it (after the
    /// last example) only the step is made.
    ///
    /// ```text
    /// Wⱼ ← (1 − ηλ)·Wⱼ − η·δⱼ·x_prev,   bⱼ ← bⱼ − η·δⱼ     (the deferred step)
    /// zⱼ = Wⱼ·x + bⱼ                                      (with the updated Wⱼ)
    /// ```
    pub(crate) fn sgd_step_then_weighted_sums(
        mut wt: MatMut<'_>,
        biases: &mut [f32],
        prev_input: &[f32],
        prev_delta: &[f32],
        (learning_rate, l2): (f32, f32),
        next: Option<(&[f32], &mut [f32])>,
    ) {
        if l2 != 0.0 {
            // Weight decay shrinks every weight, not only the rows the sweep visits.
            let keep = 1.0 - learning_rate * l2;
            for p in 0..wt.rows() {
                wt.row_mut(p).iter_mut().for_each(|w| *w *= keep);
            }
        }
        for (b, &d) in biases.iter_mut().zip(prev_delta) {
            *b += -learning_rate * d;
        }
        let next = next.map(|(x, z)| {
            z.copy_from_slice(biases);
            (x, z)
        });
        tensor::sgd_step_then_row_times_rows(wt, prev_input, prev_delta, learning_rate, next);
    }
}

// The formulas of a layer, each written once. Each works on a band of the layer's
// neurons: all of them (`Dense::forward`, `Network::backward`, a step on one thread), or
// one thread's share (a step on T threads, `train/step.rs`), which is the same code on
// a band of rows of W.

/// The weighted sums and activations of the neurons whose weight rows `w` holds
/// (`neurons × in`), for a batch `x` (`batch × in`):
///
/// ```text
/// z = x·wᵀ + b        z: batch × neurons
/// a = f(z)
/// ```
///
/// The product adds the bias as it writes z (see [`Accum::AddRow`]).
pub fn forward(
    x: MatRef<'_>,
    w: MatRef<'_>,
    b: &[f32],
    f: Activation,
    mut z: MatMut<'_>,
    mut a: MatMut<'_>,
    par: Parallelism,
) {
    tensor::gemm(z.rb_mut(), x, w.t(), Accum::AddRow(b), par);
    for i in 0..z.rows() {
        f.forward(z.row(i), a.row_mut(i), b.len());
    }
}

/// Inverted dropout on the activations `a` of a band of a hidden layer: each is kept
/// with probability 1 − `rate` and then scaled by 1/(1 − `rate`), so the next layer
/// sees the same expected input as at inference, where nothing is dropped.
///
/// ```text
/// mask = 1/(1 − rate) with probability 1 − rate, else 0;   ã = a ⊙ mask
/// ```
///
/// Whether element (i, j) of the layer is kept depends only on `key` (seed, step,
/// layer) and (i, j) — `first` is the band's first (row, column) in the layer, `width`
/// the layer's — so every split of a step between threads draws the same masks.
pub fn dropout(
    a: MatRef<'_>,
    mut mask: MatMut<'_>,
    mut dropped: MatMut<'_>,
    rate: f32,
    key: u64,
    (first_row, first_col, width): (usize, usize, usize),
) {
    let keep = 1.0 - rate;
    for i in 0..a.rows() {
        let at = ((first_row + i) * width + first_col) as u64;
        let (m, d) = (mask.row_mut(i), dropped.row_mut(i));
        for (j, ((m, d), &a)) in m.iter_mut().zip(d).zip(a.row(i)).enumerate() {
            *m = if uniform_at(key, at + j as u64) < keep {
                1.0 / keep
            } else {
                0.0
            };
            *d = a * *m;
        }
    }
}

/// Where [`gradients`] writes ∂C/∂W of a band of neurons: in the layout of the weights
/// it belongs to.
#[derive(Debug)]
pub enum WeightGrads<'a> {
    /// `neurons × in`, as weights are stored (PyTorch's layout).
    Rows(MatMut<'a>),
    /// `in × neurons`, as a first layer's weights are while it trains online (see
    /// train/step.rs): the same sums, written transposed.
    Transposed(MatMut<'a>),
}

/// The gradients of the neurons whose errors δ = ∂C/∂z are the columns of `delta`
/// (`batch × neurons`), given the batch `x` (`batch × in`) the layer saw:
///
/// ```text
/// ∂C/∂W = δᵀ·x        (neurons × in)   summed over the batch   (WeightGrads::Rows)
/// ∂C/∂Wᵀ = xᵀ·δ       (in × neurons)   the same sums           (WeightGrads::Transposed)
/// ∂C/∂b = Σ_rows δ    (neurons)
/// ```
///
/// δ already carries the 1/B of the mean loss (see [`crate::loss`]), so nothing is
/// divided here. With `accumulate` the gradients are added to `gw` and `gb` (a gradient
/// summed over the chunks of a full batch).
pub fn gradients(
    delta: MatRef<'_>,
    x: MatRef<'_>,
    gw: WeightGrads<'_>,
    gb: &mut [f32],
    accumulate: bool,
    par: Parallelism,
) {
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    match gw {
        WeightGrads::Rows(gw) => tensor::gemm(gw, delta.t(), x, accum, par),
        WeightGrads::Transposed(gwt) => tensor::gemm(gwt, x.t(), delta, accum, par),
    }
    bias_gradients(delta, gb, accumulate);
}

/// ∂C/∂b = Σ_rows δ, into `gb` (added to it with `accumulate`).
fn bias_gradients(delta: MatRef<'_>, gb: &mut [f32], accumulate: bool) {
    if !accumulate {
        gb.fill(0.0);
    }
    for i in 0..delta.rows() {
        for (g, &d) in gb.iter_mut().zip(delta.row(i)) {
            *g += d;
        }
    }
}

/// The error sent to the layer below, for the inputs whose weight columns `w` holds
/// (`out × inputs`): ∂C/∂x = δ·w, written into `out` (`batch × inputs`).
pub fn error_below(delta: MatRef<'_>, w: MatRef<'_>, out: MatMut<'_>, par: Parallelism) {
    tensor::gemm(out, delta, w, Accum::Replace, par);
}

/// Turns ∂C/∂a of a band of a hidden layer's neurons (in `g`) into their δ, in place:
///
/// ```text
/// δ = ∂C/∂a ⊙ mask ⊙ f′(z)      (mask only with dropout: the layer above saw a ⊙ mask)
/// ```
pub fn delta_from_error(
    f: Activation,
    z: MatRef<'_>,
    a: MatRef<'_>,
    mask: Option<MatRef<'_>>,
    mut g: MatMut<'_>,
) {
    for i in 0..g.rows() {
        let width = g.cols();
        let g = g.row_mut(i);
        if let Some(mask) = mask {
            for (g, &m) in g.iter_mut().zip(mask.row(i)) {
                *g *= m;
            }
        }
        f.backward(z.row(i), a.row(i), g, width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_in_both_layouts_are_the_sums_of_the_formula() {
        let (batch, neurons, inputs) = (3, 4, 5);
        let delta: Vec<f32> = (0..batch * neurons).map(|i| 0.3 - 0.1 * i as f32).collect();
        let x: Vec<f32> = (0..batch * inputs)
            .map(|i| (i as f32 * 0.7).sin())
            .collect();
        let (delta, x) = (
            MatRef::new(&delta, batch, neurons),
            MatRef::new(&x, batch, inputs),
        );
        // ∂C/∂Wⱼₖ = Σᵢ δᵢⱼ·xᵢₖ and ∂C/∂bⱼ = Σᵢ δᵢⱼ, in f64.
        let dw = |j: usize, k: usize| -> f64 {
            (0..batch)
                .map(|i| f64::from(delta.at(i, j)) * f64::from(x.at(i, k)))
                .sum()
        };
        let db = |j: usize| -> f64 { (0..batch).map(|i| f64::from(delta.at(i, j))).sum() };
        for accumulate in [false, true] {
            let start = if accumulate { 1.0 } else { 0.0 };
            let mut gw = vec![if accumulate { 1.0 } else { 9.0 }; neurons * inputs];
            let mut gwt = gw.clone();
            let (mut gb, mut gbt) = (vec![gw[0]; neurons], vec![gw[0]; neurons]);
            let rows = WeightGrads::Rows(MatMut::new(&mut gw, neurons, inputs));
            gradients(delta, x, rows, &mut gb, accumulate, Parallelism::Sequential);
            let cols = WeightGrads::Transposed(MatMut::new(&mut gwt, inputs, neurons));
            gradients(
                delta,
                x,
                cols,
                &mut gbt,
                accumulate,
                Parallelism::Sequential,
            );
            for j in 0..neurons {
                for k in 0..inputs {
                    let want = start + dw(j, k);
                    assert!((f64::from(gw[j * inputs + k]) - want).abs() < 1e-5);
                    assert!((f64::from(gwt[k * neurons + j]) - want).abs() < 1e-5);
                }
                assert!((f64::from(gb[j]) - start - db(j)).abs() < 1e-5);
                assert_eq!(gb[j], gbt[j]);
            }
        }
    }
}
