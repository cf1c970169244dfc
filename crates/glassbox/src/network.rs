//! A network: dense layers stacked from the input side, and back-propagation through them.
//!
//! The forward pass feeds each layer's activations to the next:
//!
//! ```text
//! a⁰ = x,   zˡ = aˡ⁻¹·Wˡᵀ + bˡ,   aˡ = fˡ(zˡ)    for l = 1 … L
//! ```
//!
//! Back-propagation runs the other way. The loss gives the output layer's error δᴸ
//! (see [`crate::loss`]); each layer turns its δ into its gradients and the error of the
//! layer below (Nielsen's equations BP1–BP4, written for rows):
//!
//! ```text
//! ∂C/∂Wˡ = δˡᵀ·aˡ⁻¹,   ∂C/∂bˡ = Σ_rows δˡ,   δˡ⁻¹ = (δˡ·Wˡ) ⊙ fˡ⁻¹′(zˡ⁻¹)
//! ```
//!
//! ```
//! use glassbox::{Activation, Init, Network};
//! let net = Network::builder(2)
//!     .dense(3, Activation::Tanh)
//!     .dense(1, Activation::Sigmoid)
//!     .build(Init::Xavier, 7)
//!     .unwrap();
//! let out = net.predict(&[0.0, 1.0, 1.0, 0.0]).unwrap(); // two examples
//! assert_eq!((out.rows(), out.cols()), (2, 1));
//! ```

use crate::activation::Activation;
use crate::init::Init;
use crate::layer::{self, Dense, DenseGrads};
use crate::loss::Loss;
use crate::rng::{self, Rng};
use crate::tensor::{Parallelism, Tensor};
use crate::{Error, Result};

/// Rows per chunk when [`Network::predict`] and evaluation run a large input: big
/// enough for fast matrix products, small enough that the buffers stay small (figures
/// in bench/RESULTS.md).
pub const PREDICT_CHUNK_ROWS: usize = 256;

/// The chunked prediction loop of the float and the int8 networks
/// ([`Network::predict_with`], [`crate::quant::QuantizedNetwork::predict_with`]): the rows
/// of `inputs` (`width` values each) go through `run` in chunks of
/// [`PREDICT_CHUNK_ROWS`], each chunk's outputs (`out_width` per row) into its rows of
/// `out`. With several chunks and `par` allowing threads, each thread takes whole chunks
/// through the whole network (so a chunk's activations stay in its core's cache from
/// layer to layer and no product is handed between threads) and `run` is given
/// [`Parallelism::Sequential`]; otherwise the chunks go in order on this thread and `run`
/// gets `par` for its products. Each thread makes its buffers with `buffers` once per call
/// (fresh pages cost page faults).
pub(crate) fn predict_in_chunks<B>(
    inputs: &[f32],
    width: usize,
    out: &mut [f32],
    out_width: usize,
    par: Parallelism,
    buffers: impl Fn() -> B + Sync,
    run: impl Fn(&mut B, &[f32], &mut [f32], Parallelism) + Sync,
) {
    let pairs = inputs
        .chunks(PREDICT_CHUNK_ROWS * width)
        .zip(out.chunks_mut(PREDICT_CHUNK_ROWS * out_width));
    let chunks = (inputs.len() / width.max(1)).div_ceil(PREDICT_CHUNK_ROWS);
    match par {
        Parallelism::Threads(threads) if chunks > 1 && threads > 1 => {
            let work = std::sync::Mutex::new(pairs);
            let worker = || {
                let mut bufs = buffers();
                loop {
                    // A poisoned lock means another thread panicked; the scope re-raises it.
                    let next = work.lock().ok().and_then(|mut w| w.next());
                    let Some((chunk, out)) = next else { break };
                    run(&mut bufs, chunk, out, Parallelism::Sequential);
                }
            };
            rayon::scope(|scope| {
                for _ in 1..threads.min(chunks) {
                    scope.spawn(|_| worker());
                }
                worker();
            });
        }
        _ => {
            let mut bufs = buffers();
            for (chunk, out) in pairs {
                run(&mut bufs, chunk, out, par);
            }
        }
    }
}

/// A multilayer perceptron: an input width and dense layers from the input side.
#[derive(Debug, Clone, PartialEq)]
///
/// The layers are private so that their shapes always chain (each layer takes as many
/// inputs as the one below has neurons) and every shape is derived from them, never
/// cached: the threaded code relies on it. Weights change in place through
/// [`Network::parameters_mut`]. A network is only its layers: how many threads run it
/// is an argument of the calls that run it ([`Network::predict_with`]), never a setting
/// stored in it.
pub struct Network {
    /// At least one layer.
    layers: Vec<Dense>,
}

/// Builds a [`Network`] layer by layer: `Network::builder(inputs).dense(…)….build(…)`.
#[derive(Debug, Clone)]
pub struct NetworkBuilder {
    inputs: usize,
    layers: Vec<(usize, Activation)>,
}

impl NetworkBuilder {
    /// Adds a dense layer of `neurons` neurons with the given activation.
    pub fn dense(mut self, neurons: usize, activation: Activation) -> Self {
        self.layers.push((neurons, activation));
        self
    }

    /// Creates the layers with initial weights from `init`, seeded by `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] when there are no layers, or a width is 0, or softmax is used
    /// anywhere but the output layer.
    pub fn build(self, init: Init, seed: u64) -> Result<Network> {
        if self.inputs == 0 {
            return Err(Error::Config("the network needs at least one input".into()));
        }
        if self.layers.is_empty() {
            return Err(Error::Config("the network needs at least one layer".into()));
        }
        let mut rng = Rng::new(seed);
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut inputs = self.inputs;
        for (index, &(neurons, activation)) in self.layers.iter().enumerate() {
            if neurons == 0 {
                return Err(Error::Config(format!(
                    "layer {} has 0 neurons; every layer needs at least one",
                    index + 1
                )));
            }
            if activation == Activation::Softmax && index + 1 != self.layers.len() {
                return Err(Error::Config(format!(
                    "softmax can only be the output layer's activation (layer {} of {})",
                    index + 1,
                    self.layers.len()
                )));
            }
            let mut layer = Dense::new(inputs, neurons, activation);
            let (weights, biases) = layer.parameters_mut();
            init.fill(weights, biases, inputs, neurons, activation, &mut rng);
            layers.push(layer);
            inputs = neurons;
        }
        Ok(Network { layers })
    }
}

impl Network {
    /// Starts a network that takes `inputs` features per example.
    pub fn builder(inputs: usize) -> NetworkBuilder {
        NetworkBuilder {
            inputs,
            layers: Vec::new(),
        }
    }

    /// A network from given layers (e.g. loaded from a file).
    ///
    /// # Errors
    /// [`Error::Shape`] when a layer's inputs differ from the outputs of the one below.
    pub fn from_layers(layers: Vec<Dense>) -> Result<Network> {
        let first = layers
            .first()
            .ok_or_else(|| Error::Config("the network needs at least one layer".into()))?;
        let mut width = first.inputs();
        for (index, layer) in layers.iter().enumerate() {
            if layer.inputs() != width {
                return Err(Error::Shape(format!(
                    "layer {} takes {} inputs but the layer below gives {width}",
                    index + 1,
                    layer.inputs()
                )));
            }
            if layer.activation() == Activation::Softmax && index + 1 != layers.len() {
                return Err(Error::Config(
                    "softmax can only be the output layer's activation".into(),
                ));
            }
            width = layer.outputs();
        }
        Ok(Network { layers })
    }

    /// Features per example.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Output neurons (one per class for a classifier).
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, Dense::outputs)
    }

    /// The layers, from the input side.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// Layer `layer`'s weights (row-major `out × in`) and biases, to change in place;
    /// `None` when there is no such layer.
    pub fn parameters_mut(&mut self, layer: usize) -> Option<(&mut [f32], &mut [f32])> {
        self.layers.get_mut(layer).map(Dense::parameters_mut)
    }

    /// The layers, for the trainer: it may change their parameters or put back a copy
    /// of the same network's layers, never change a shape.
    pub(crate) fn layers_mut(&mut self) -> &mut [Dense] {
        &mut self.layers
    }

    /// Every layer's width from the input: `[inputs, hidden…, outputs]`.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.inputs())
            .chain(self.layers.iter().map(Dense::outputs))
            .collect()
    }

    /// All weights and biases.
    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(Dense::parameter_count).sum()
    }

    /// The output layer's activation.
    pub fn output_activation(&self) -> Activation {
        self.layers
            .last()
            .map_or(Activation::Identity, |l| l.activation())
    }

    /// Checks that training can reach every weight.
    ///
    /// # Errors
    /// [`Error::StepNotTrainable`] for the first layer that uses the step activation.
    pub fn check_trainable(&self) -> Result<()> {
        match self
            .layers
            .iter()
            .position(|l| l.activation() == Activation::Step)
        {
            Some(layer) => Err(Error::StepNotTrainable { layer }),
            None => Ok(()),
        }
    }

    /// The outputs for `inputs`, a row-major `rows × self.inputs()` slice of features,
    /// computed on this thread ([`Network::predict_with`] to use more).
    ///
    /// # Errors
    /// [`Error::InputWidth`] when the length is not a multiple of the input width.
    pub fn predict(&self, inputs: &[f32]) -> Result<Tensor> {
        self.predict_with(inputs, Parallelism::Sequential)
    }

    /// [`Network::predict`] with up to `par` threads. Rows go through in chunks of
    /// [`PREDICT_CHUNK_ROWS`]: with several chunks, the threads share them; with one,
    /// the threads share the chunk's matrix products. The result does not depend on the
    /// thread count.
    ///
    /// # Errors
    /// [`Error::InputWidth`] when the length is not a multiple of the input width.
    pub fn predict_with(&self, inputs: &[f32], par: Parallelism) -> Result<Tensor> {
        let rows = self.check_rows(inputs)?;
        let mut out = Tensor::zeros(rows, self.outputs());
        predict_in_chunks(
            inputs,
            self.inputs(),
            out.as_mut_slice(),
            self.outputs(),
            par,
            || {
                (
                    Workspace::forward_only(self, rows.clamp(1, PREDICT_CHUNK_ROWS)),
                    Tensor::default(),
                )
            },
            // One chunk of rows through every layer with `par` in the products.
            |(ws, batch), chunk, out, par| {
                batch.resize(chunk.len() / self.inputs(), self.inputs());
                batch.as_mut_slice().copy_from_slice(chunk);
                self.run_forward(batch, ws, None, par);
                out.copy_from_slice(ws.output().as_slice());
            },
        );
        Ok(out)
    }

    /// [`Network::predict_with`], where every row's outputs are the same bits whatever
    /// rows it is predicted with. Matrix products choose their kernel by size, and
    /// kernels add in different orders, so a row predicted alone can differ from the
    /// same row in a batch by a rounding. Here every chunk has exactly
    /// [`PREDICT_CHUNK_ROWS`] rows: the whole chunks are predicted as they are, and the
    /// rows left over are padded with zero rows to a whole chunk (up to a chunk of
    /// extra work). The Python package predicts this way: scikit-learn requires that
    /// predicting a subset of rows gives the same numbers as predicting them all.
    ///
    /// # Errors
    /// As [`Network::predict`].
    pub fn predict_batch_invariant(&self, inputs: &[f32], par: Parallelism) -> Result<Tensor> {
        let rows = self.check_rows(inputs)?;
        let whole = rows / PREDICT_CHUNK_ROWS * PREDICT_CHUNK_ROWS;
        let left = rows - whole;
        if left == 0 {
            return self.predict_with(inputs, par);
        }
        let width = self.inputs();
        let mut padded = vec![0.0; PREDICT_CHUNK_ROWS * width];
        padded[..left * width].copy_from_slice(&inputs[whole * width..]);
        let tail = self.predict_with(&padded, par)?;
        let mut out = match whole {
            0 => Vec::new(),
            _ => self.predict_with(&inputs[..whole * width], par)?.into_vec(),
        };
        out.extend_from_slice(&tail.as_slice()[..left * self.outputs()]);
        Tensor::from_vec(rows, self.outputs(), out)
    }

    /// The predicted class (the output neuron with the largest activation) per row.
    ///
    /// # Errors
    /// As [`Network::predict`].
    pub fn classify(&self, inputs: &[f32]) -> Result<Vec<usize>> {
        let out = self.predict(inputs)?;
        Ok((0..out.rows()).map(|i| argmax(out.row(i))).collect())
    }

    fn check_rows(&self, inputs: &[f32]) -> Result<usize> {
        if self.inputs() == 0 || !inputs.len().is_multiple_of(self.inputs()) {
            return Err(Error::InputWidth {
                expected: self.inputs(),
                found: inputs.len(),
            });
        }
        Ok(inputs.len() / self.inputs())
    }

    /// Runs `input` (`batch × inputs`) forward on this thread, keeping every layer's z
    /// and a in `ws`:
    ///
    /// ```text
    /// a⁰ = x,   zˡ = aˡ⁻¹·Wˡᵀ + bˡ,   aˡ = fˡ(zˡ)    (layer::forward, layer by layer)
    /// ```
    ///
    /// # Panics
    /// If `input` is not `batch × self.inputs()` (check user input with
    /// [`Network::predict`] or the trainer, which do).
    pub fn forward(&self, input: &Tensor, ws: &mut Workspace) {
        self.run_forward(input, ws, None, Parallelism::Sequential);
    }

    /// [`Network::forward`] with the matrix products on up to `par` threads.
    ///
    /// # Panics
    /// As [`Network::forward`].
    pub fn forward_with(&self, input: &Tensor, ws: &mut Workspace, par: Parallelism) {
        self.run_forward(input, ws, None, par);
    }

    /// [`Network::forward`] with inverted dropout (see [`crate::layer`]) on every hidden
    /// layer's output, the masks drawn with a key from `rng`. The masks stay in `ws` for
    /// [`Network::backward`].
    pub fn forward_dropout(&self, input: &Tensor, ws: &mut Workspace, rate: f32, rng: &mut Rng) {
        let key = rng.next_u64();
        self.run_forward(input, ws, Some((rate, key)), Parallelism::Sequential);
    }

    fn run_forward(
        &self,
        input: &Tensor,
        ws: &mut Workspace,
        dropout: Option<(f32, u64)>,
        par: Parallelism,
    ) {
        ws.set_batch(self, input.rows());
        assert_eq!(input.cols(), self.inputs(), "input width");
        let last = self.layers.len() - 1;
        let (rate, key) = match dropout {
            Some((rate, key)) if rate > 0.0 && last > 0 => (rate, key),
            _ => (0.0, 0),
        };
        ws.set_dropout(self, rate);
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, here) = ws.activations.split_at_mut(l);
            let x = match l {
                0 => input.view(),
                _ if rate > 0.0 => ws.dropped[l - 1].view(),
                _ => below[l - 1].view(),
            };
            layer::forward(
                x,
                layer.weights().view(),
                layer.biases(),
                layer.activation(),
                ws.weighted_sums[l].view_mut(),
                here[0].view_mut(),
                par,
            );
            if rate > 0.0 && l < last {
                layer::dropout(
                    ws.activations[l].view(),
                    ws.masks[l].view_mut(),
                    ws.dropped[l].view_mut(),
                    rate,
                    rng::key(key, 0, l as u64),
                    (0, 0, layer.outputs()),
                );
            }
        }
    }

    /// The loss of the batch that [`Network::forward`] left in `ws`, summed over its rows
    /// against the targets `y` (`batch × outputs`), and the output layer's error δᴸ =
    /// ∂C/∂zᴸ (with the reduction `scale`, 1/B for the mean over B examples) written
    /// into `ws` for [`Network::backward`].
    ///
    /// # Panics
    /// If `y` is not shaped like the output, or `ws` is forward-only.
    pub fn output_error(&self, loss: Loss, y: &Tensor, ws: &mut Workspace, scale: f32) -> f64 {
        let last = self.layers.len() - 1;
        assert_eq!(
            y.as_slice().len(),
            ws.activations[last].as_slice().len(),
            "targets"
        );
        loss.sum_and_delta(
            self.output_activation(),
            ws.weighted_sums[last].as_slice(),
            ws.activations[last].as_slice(),
            y.as_slice(),
            ws.deltas[last].as_mut_slice(),
            self.outputs(),
            scale,
        )
    }

    /// Back-propagates from the output error already in `ws` ([`Network::output_error`])
    /// down to the first layer, writing every layer's gradients into `ws`. `input` is the
    /// batch [`Network::forward`] saw. For each layer from the top (Nielsen's BP1–BP4):
    ///
    /// ```text
    /// ∂C/∂Wˡ = δˡᵀ·aˡ⁻¹,   ∂C/∂bˡ = Σ_rows δˡ               (layer::gradients)
    /// δˡ⁻¹ = (δˡ·Wˡ) ⊙ maskˡ⁻¹ ⊙ fˡ⁻¹′(zˡ⁻¹)                (error_below, delta_from_error)
    /// ```
    ///
    /// # Panics
    /// If `ws` is forward-only or was not filled by a forward pass of `input`.
    pub fn backward(&self, input: &Tensor, ws: &mut Workspace) {
        assert!(
            !ws.forward_only,
            "back-propagation needs a workspace from Workspace::new, not forward_only"
        );
        let par = Parallelism::Sequential;
        for l in (0..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let x = match l {
                0 => input.view(),
                _ if ws.dropout > 0.0 => ws.dropped[l - 1].view(),
                _ => ws.activations[l - 1].view(),
            };
            let DenseGrads { weights, biases } = &mut ws.grads[l];
            layer::gradients(
                ws.deltas[l].view(),
                x,
                layer::WeightGrads::Rows(weights.view_mut()),
                biases,
                false,
                par,
            );
            if l > 0 {
                let (below, here) = ws.deltas.split_at_mut(l);
                let g = below[l - 1].view_mut();
                layer::error_below(here[0].view(), layer.weights().view(), g, par);
                let mask = (ws.dropout > 0.0).then(|| ws.masks[l - 1].view());
                layer::delta_from_error(
                    self.layers[l - 1].activation(),
                    ws.weighted_sums[l - 1].view(),
                    ws.activations[l - 1].view(),
                    mask,
                    ws.deltas[l - 1].view_mut(),
                );
            }
        }
    }
}

/// The index of the largest value (the first on ties); 0 for an empty slice.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Buffers for one batch size: every layer's z, a, δ and gradients, allocated once and
/// reused for every batch of that size (the training loop allocates nothing per step).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    batch: usize,
    /// zˡ per layer, `batch × outputs`.
    pub(crate) weighted_sums: Vec<Tensor>,
    /// aˡ per layer, `batch × outputs`.
    pub(crate) activations: Vec<Tensor>,
    /// δˡ = ∂C/∂zˡ per layer, `batch × outputs`.
    pub(crate) deltas: Vec<Tensor>,
    /// ∂C/∂Wˡ and ∂C/∂bˡ per layer.
    pub(crate) grads: Vec<DenseGrads>,
    /// Only z and a are kept ([`Workspace::forward_only`]): no δ or gradients.
    forward_only: bool,
    /// The dropout rate of the last forward pass (0 = none).
    pub(crate) dropout: f32,
    /// Dropout masks per hidden layer: 0 (dropped) or 1/(1 − rate) (kept).
    pub(crate) masks: Vec<Tensor>,
    /// aˡ ⊙ maskˡ per hidden layer: what the next layer saw.
    pub(crate) dropped: Vec<Tensor>,
}

impl Workspace {
    /// Buffers for `network` and batches of `batch` rows.
    pub fn new(network: &Network, batch: usize) -> Self {
        let mut ws = Workspace::default();
        ws.set_batch(network, batch);
        ws
    }

    /// Buffers for running batches of `batch` rows forward only — z and a of every
    /// layer, no δ and no gradients — for prediction and evaluation. (The gradients
    /// alone are as big as the network.) [`Network::backward`] must not be given such a
    /// workspace.
    pub fn forward_only(network: &Network, batch: usize) -> Self {
        let mut ws = Workspace {
            forward_only: true,
            ..Workspace::default()
        };
        ws.set_batch(network, batch);
        ws
    }

    /// Rows per batch the buffers are shaped for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// zˡ of layer `l` (from 0) after a forward pass, `batch × outputs`.
    ///
    /// # Panics
    /// If there is no layer `l`.
    pub fn weighted_sums(&self, l: usize) -> &Tensor {
        &self.weighted_sums[l]
    }

    /// aˡ of layer `l` after a forward pass, `batch × outputs`.
    ///
    /// # Panics
    /// If there is no layer `l`.
    pub fn activations(&self, l: usize) -> &Tensor {
        &self.activations[l]
    }

    /// δˡ = ∂C/∂zˡ of layer `l` after [`Network::backward`], `batch × outputs`.
    ///
    /// # Panics
    /// If there is no layer `l` or the workspace is forward-only.
    pub fn deltas(&self, l: usize) -> &Tensor {
        &self.deltas[l]
    }

    /// ∂C/∂Wˡ and ∂C/∂bˡ of layer `l` after [`Network::backward`].
    ///
    /// # Panics
    /// If there is no layer `l` or the workspace is forward-only.
    pub fn gradients(&self, l: usize) -> &DenseGrads {
        &self.grads[l]
    }

    /// Every layer's gradients after [`Network::backward`], from the input side.
    pub fn all_gradients(&self) -> &[DenseGrads] {
        &self.grads
    }

    /// Reshapes the buffers for `batch` rows (the last, smaller batch of an epoch);
    /// allocates only when they grow.
    pub fn set_batch(&mut self, network: &Network, batch: usize) {
        let n = network.layers.len();
        let other_network =
            if self.forward_only {
                self.weighted_sums.len() != n
                    || self
                        .weighted_sums
                        .iter()
                        .zip(&network.layers)
                        .any(|(z, l)| z.cols() != l.outputs())
            } else {
                self.grads.len() != n
                    || self.grads.iter().zip(&network.layers).any(|(g, l)| {
                        g.biases.len() != l.outputs() || g.weights.cols() != l.inputs()
                    })
            };
        if other_network {
            if !self.forward_only {
                self.grads = network.layers.iter().map(DenseGrads::zeros_like).collect();
                self.deltas = vec![Tensor::default(); n];
            }
            self.weighted_sums = vec![Tensor::default(); n];
            self.activations = vec![Tensor::default(); n];
            self.masks.clear();
            self.dropped.clear();
            self.batch = usize::MAX;
        }
        if self.batch != batch {
            for (l, layer) in network.layers.iter().enumerate() {
                self.weighted_sums[l].resize(batch, layer.outputs());
                self.activations[l].resize(batch, layer.outputs());
                if let Some(d) = self.deltas.get_mut(l) {
                    d.resize(batch, layer.outputs());
                }
                if let (Some(m), Some(d)) = (self.masks.get_mut(l), self.dropped.get_mut(l)) {
                    m.resize(batch, layer.outputs());
                    d.resize(batch, layer.outputs());
                }
            }
            self.batch = batch;
        }
    }

    /// Sets the dropout rate of the next pass, and makes the masks when there are none.
    pub(crate) fn set_dropout(&mut self, network: &Network, rate: f32) {
        self.dropout = rate;
        let hidden = network.layers.len() - 1;
        if rate > 0.0 && self.masks.len() != hidden {
            self.masks = self.activations[..hidden].to_vec();
            self.dropped = self.activations[..hidden].to_vec();
        }
    }

    /// The output layer's activations after [`Network::forward`].
    pub fn output(&self) -> &Tensor {
        self.activations.last().expect("a network has layers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_rejects_impossible_architectures() {
        assert!(Network::builder(2).build(Init::Xavier, 1).is_err());
        assert!(Network::builder(2)
            .dense(0, Activation::Relu)
            .build(Init::Xavier, 1)
            .is_err());
        assert!(Network::builder(2)
            .dense(3, Activation::Softmax)
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 1)
            .is_err());
    }

    #[test]
    fn predict_checks_the_input_width() {
        let net = Network::builder(3)
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 1)
            .unwrap();
        assert!(matches!(
            net.predict(&[1.0, 2.0]),
            Err(Error::InputWidth { expected: 3, .. })
        ));
    }

    #[test]
    fn predict_in_chunks_equals_one_row_at_a_time() {
        let net = Network::builder(5)
            .dense(4, Activation::Relu)
            .dense(3, Activation::Softmax)
            .build(Init::He, 3)
            .unwrap();
        let mut rng = Rng::new(9);
        let rows = PREDICT_CHUNK_ROWS + 17;
        let x: Vec<f32> = (0..rows * 5).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let all = net.predict(&x).unwrap();
        for i in [0, 1, PREDICT_CHUNK_ROWS, rows - 1] {
            let one = net.predict(&x[i * 5..(i + 1) * 5]).unwrap();
            for (a, b) in one.row(0).iter().zip(all.row(i)) {
                assert!((a - b).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn predict_on_threads_equals_predict_on_one() {
        let net = Network::builder(40)
            .dense(64, Activation::Relu)
            .dense(7, Activation::Softmax)
            .build(Init::He, 4)
            .unwrap();
        let mut rng = Rng::new(2);
        // Several chunks and a short last one, so the threads share them unevenly.
        let rows = 3 * PREDICT_CHUNK_ROWS + 5;
        let x: Vec<f32> = (0..rows * 40).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let alone = net.predict(&x).unwrap();
        let shared =
            crate::tensor::with_threads(2, || net.predict_with(&x, Parallelism::Threads(2)))
                .unwrap()
                .unwrap();
        // Each chunk runs the same single-threaded products either way.
        assert_eq!(alone, shared);
    }
}
