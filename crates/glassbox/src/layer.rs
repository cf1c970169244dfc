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
use crate::tensor::{self, Accum, Parallelism, Tensor, Transpose};
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

    /// Runs a batch forward: `z` ← A·Wᵀ + b, `a` ← f(z).
    ///
    /// `input` is `batch × in`; `z` and `a` must be `batch × out`. The bias is written
    /// into z first and the product added to it, so no separate pass adds it.
    pub fn forward(&self, input: &Tensor, z: &mut Tensor, a: &mut Tensor, par: Parallelism) {
        self.weighted_sums(input, z, par);
        self.activation
            .forward(z.as_slice(), a.as_mut_slice(), self.outputs());
    }

    /// z ← A·Wᵀ + b only.
    pub fn weighted_sums(&self, input: &Tensor, z: &mut Tensor, par: Parallelism) {
        debug_assert_eq!(input.cols(), self.inputs());
        for row in z.as_mut_slice().chunks_exact_mut(self.outputs()) {
            row.copy_from_slice(&self.biases);
        }
        tensor::matmul(
            z,
            input,
            Transpose::No,
            &self.weights,
            Transpose::Yes,
            Accum::Add,
            par,
        ); // [batch, out]
    }

    /// Back-propagates one batch through this layer.
    ///
    /// With `delta` = δ = ∂C/∂z of this layer (batch × out) and `input` = A, the batch
    /// that [`Dense::forward`] saw (batch × in):
    ///
    /// ```text
    /// ∂C/∂W = δᵀ · A        (out × in)   summed over the batch
    /// ∂C/∂b = Σ_rows δ      (out)
    /// ∂C/∂A = δ · W         (batch × in) the layer below multiplies by f′(z) to get its δ
    /// ```
    ///
    /// δ already carries the 1/B of the mean loss (see [`crate::loss`]), so nothing is
    /// divided here. `grad_input` is skipped for the first layer (nothing is below it).
    pub fn backward(
        &self,
        input: &Tensor,
        delta: &Tensor,
        grads: &mut DenseGrads,
        grad_input: Option<&mut Tensor>,
        par: Parallelism,
    ) {
        tensor::matmul(
            &mut grads.weights,
            delta,
            Transpose::Yes,
            input,
            Transpose::No,
            Accum::Replace,
            par,
        ); // δᵀ · A: [out, in]
        delta.sum_rows_into(&mut grads.biases); // Σ_rows δ: [out]
        if let Some(grad_input) = grad_input {
            tensor::matmul(
                grad_input,
                delta,
                Transpose::No,
                &self.weights,
                Transpose::No,
                Accum::Replace,
                par,
            ); // δ · W: [batch, in]
        }
    }

    /// [`Dense::backward`] and a plain gradient-descent step in one pass over the
    /// weights, for [`crate::Sgd`]: the gradient is added straight into W instead of
    /// being stored and read back.
    ///
    /// ```text
    /// ∂C/∂A = δ · W                (with W as it was, before the step)
    /// W ← (1 − ηλ)·W − η·δᵀ·A       (λ = L2 decay, usually 0)
    /// b ← b − η·Σ_rows δ
    /// ```
    pub fn backward_sgd(
        &mut self,
        input: &Tensor,
        delta: &Tensor,
        grad_input: Option<&mut Tensor>,
        learning_rate: f32,
        l2: f32,
        par: Parallelism,
    ) {
        if let Some(grad_input) = grad_input {
            tensor::matmul(
                grad_input,
                delta,
                Transpose::No,
                &self.weights,
                Transpose::No,
                Accum::Replace,
                par,
            ); // δ · W: [batch, in]
        }
        if l2 > 0.0 {
            let keep = 1.0 - learning_rate * l2;
            self.weights
                .as_mut_slice()
                .iter_mut()
                .for_each(|w| *w *= keep);
        }
        tensor::matmul(
            &mut self.weights,
            delta,
            Transpose::Yes,
            input,
            Transpose::No,
            Accum::AddScaled(-learning_rate),
            par,
        ); // W − η·δᵀ·A: [out, in]
        let out = self.outputs();
        for row in delta.as_slice().chunks_exact(out) {
            tensor::axpy(&mut self.biases, -learning_rate, row);
        }
    }

    /// The online-learning pass over the weights: the previous example's SGD step and
    /// the next example's weighted sums, row by row in one sweep, so W crosses the
    /// memory bus once per example instead of twice.
    ///
    /// ```text
    /// Wⱼ ← (1 − ηλ)·Wⱼ − η·δⱼ·x_prev,   bⱼ ← bⱼ − η·δⱼ     (the deferred step)
    /// zⱼ = Wⱼ·x + bⱼ                                      (with the updated Wⱼ)
    /// ```
    ///
    /// The result is the same as [`Dense::backward_sgd`] followed by
    /// [`Dense::weighted_sums`]; `prev_delta` is δ of the previous example.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_step_then_weighted_sums(
        &mut self,
        prev_input: &[f32],
        prev_delta: &[f32],
        learning_rate: f32,
        l2: f32,
        input: &[f32],
        z: &mut [f32],
    ) {
        let inputs = self.inputs();
        debug_assert_eq!(prev_input.len(), inputs);
        debug_assert_eq!(input.len(), inputs);
        let keep = 1.0 - learning_rate * l2;
        for (j, row) in self
            .weights
            .as_mut_slice()
            .chunks_exact_mut(inputs)
            .enumerate()
        {
            let s = -learning_rate * prev_delta[j];
            self.biases[j] += s;
            z[j] = self.biases[j] + tensor::axpy_then_dot(row, keep, s, prev_input, input);
        }
    }
}
