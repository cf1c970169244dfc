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
use crate::layer::{Dense, DenseGrads};
use crate::rng::Rng;
use crate::tensor::{Parallelism, Tensor};
use crate::{Error, Result};

/// Rows per chunk when [`Network::predict`] and evaluation run a large input: big
/// enough for fast matrix products, small enough that the buffers stay small (with
/// 1 024 rows the 784-512-256-10 network's evaluation buffers took 13 MB of the 17 MB
/// that training added to the data's footprint; with 256 they take 3 MB).
pub const PREDICT_CHUNK_ROWS: usize = 256;

/// A multilayer perceptron: an input width and dense layers from the input side.
#[derive(Debug, Clone, PartialEq)]
///
/// The layers are private so that their shapes always chain (each layer takes as many
/// inputs as the one below has neurons) and every shape is derived from them, never
/// cached: the threaded code relies on it. Weights change in place through
/// [`Network::parameters_mut`].
pub struct Network {
    /// At least one layer.
    layers: Vec<Dense>,
    parallelism: Parallelism,
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
        Ok(Network {
            layers,
            parallelism: Parallelism::Sequential,
        })
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
        Ok(Network {
            layers,
            parallelism: Parallelism::Sequential,
        })
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

    /// Lets large matrix products use up to `threads` threads (1 = the calling thread
    /// only). Small products stay on one thread whatever this says.
    pub fn set_threads(&mut self, threads: usize) {
        self.parallelism = if threads > 1 {
            Parallelism::Threads(threads)
        } else {
            Parallelism::Sequential
        };
    }

    /// The parallelism handed to matrix products.
    pub fn parallelism(&self) -> Parallelism {
        self.parallelism
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

    /// The outputs for `inputs`, a row-major `rows × self.inputs()` slice of features.
    ///
    /// Rows go through in chunks of [`PREDICT_CHUNK_ROWS`]; with threads allowed
    /// ([`Network::set_threads`]), the threads share the chunks.
    ///
    /// # Errors
    /// [`Error::InputWidth`] when the length is not a multiple of the input width.
    pub fn predict(&self, inputs: &[f32]) -> Result<Tensor> {
        let rows = self.check_rows(inputs)?;
        let mut out = Tensor::zeros(rows, self.outputs());
        let (in_step, out_step) = (
            PREDICT_CHUNK_ROWS * self.inputs(),
            PREDICT_CHUNK_ROWS * self.outputs(),
        );
        // Runs one chunk of rows through every layer with `par` in the products.
        let run = |(ws, batch): &mut (Workspace, Tensor), chunk: &[f32], out: &mut [f32], par| {
            batch.resize(chunk.len() / self.inputs(), self.inputs());
            batch.as_mut_slice().copy_from_slice(chunk);
            self.forward_with(batch, ws, None, par);
            out.copy_from_slice(ws.output().as_slice());
        };
        let buffers = || {
            (
                Workspace::forward_only(self, rows.clamp(1, PREDICT_CHUNK_ROWS)),
                Tensor::default(),
            )
        };
        let chunks = rows.div_ceil(PREDICT_CHUNK_ROWS);
        if let (Parallelism::Threads(threads), true) = (self.parallelism, chunks > 1) {
            // Many chunks: each thread takes whole chunks through the whole network, so
            // a chunk's activations stay in its core's cache from layer to layer and no
            // product is handed between threads (45 vs 57 ms for 10 000 images through
            // 784-512-256-10 on 2 threads, against splitting every product). Each
            // thread allocates its buffers once per call (fresh pages cost page faults:
            // a set per rayon split made 10 000 images take 47–75 ms from run to run).
            let work = std::sync::Mutex::new(
                inputs
                    .chunks(in_step)
                    .zip(out.as_mut_slice().chunks_mut(out_step)),
            );
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
        } else {
            let mut bufs = buffers();
            for (chunk, out) in inputs
                .chunks(in_step)
                .zip(out.as_mut_slice().chunks_mut(out_step))
            {
                run(&mut bufs, chunk, out, self.parallelism);
            }
        }
        Ok(out)
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

    /// Runs `input` (`batch × inputs`) forward, keeping every layer's z and a in `ws`.
    ///
    /// # Panics
    /// If `input` is not `batch × self.inputs()` (check user input with
    /// [`Network::predict`] or the trainer, which do).
    pub fn forward(&self, input: &Tensor, ws: &mut Workspace) {
        self.forward_with(input, ws, None, self.parallelism);
    }

    /// [`Network::forward`] with inverted dropout on every hidden layer's output: each
    /// activation is kept with probability 1 − `rate` and then scaled by 1/(1 − `rate`), so
    /// the next layer sees the same expected input as at inference, where nothing is
    /// dropped. The masks stay in `ws` for [`Network::backward`].
    pub fn forward_dropout(&self, input: &Tensor, ws: &mut Workspace, rate: f32, rng: &mut Rng) {
        self.forward_with(input, ws, Some((rate, rng)), self.parallelism);
    }

    fn forward_with(
        &self,
        input: &Tensor,
        ws: &mut Workspace,
        dropout: Option<(f32, &mut Rng)>,
        parallelism: Parallelism,
    ) {
        ws.set_batch(self, input.rows());
        assert_eq!(input.cols(), self.inputs(), "input width");
        let last = self.layers.len() - 1;
        let (rate, mut rng) = match dropout {
            Some((rate, rng)) if rate > 0.0 && last > 0 => (rate, Some(rng)),
            _ => (0.0, None),
        };
        ws.dropout = rate;
        if rate > 0.0 && ws.masks.len() != last {
            ws.masks = ws.activations[..last].to_vec();
            ws.dropped = ws.activations[..last].to_vec();
        }
        let keep = 1.0 - rate;
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, here) = ws.activations.split_at_mut(l);
            let layer_input = match l {
                0 => input,
                _ if rate > 0.0 => &ws.dropped[l - 1],
                _ => &below[l - 1],
            };
            layer.forward(
                layer_input,
                &mut ws.weighted_sums[l],
                &mut here[0],
                parallelism,
            );
            if let (Some(rng), true) = (rng.as_deref_mut(), l < last) {
                let mask = &mut ws.masks[l];
                mask.resize(input.rows(), layer.outputs());
                ws.dropped[l].resize(input.rows(), layer.outputs());
                let a = ws.activations[l].as_slice();
                for ((m, d), &a) in mask
                    .as_mut_slice()
                    .iter_mut()
                    .zip(ws.dropped[l].as_mut_slice())
                    .zip(a)
                {
                    *m = if rng.next_f32() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    };
                    *d = a * *m;
                }
            }
        }
    }

    /// Back-propagates from the output error already in `ws.deltas` (last layer, set by
    /// the loss) down to the first layer, writing every layer's gradients into
    /// `ws.grads`. `input` is the batch [`Network::forward`] saw.
    pub fn backward(&self, input: &Tensor, ws: &mut Workspace) {
        for l in (0..self.layers.len()).rev() {
            let (layer_input, delta, grad_input, grads) = ws.backward_views(input, l);
            self.layers[l].backward(layer_input, delta, grads, grad_input, self.parallelism);
            if l > 0 {
                ws.finish_delta_below(&self.layers[l - 1], l - 1);
            }
        }
    }

    /// [`Network::backward`] fused with a plain gradient-descent step (w ← w − η·∂C/∂w,
    /// with L2 decay `l2`): each layer's gradient goes straight into its weights, after
    /// the layer has passed its error down. Used by the trainer for [`crate::Sgd`];
    /// `ws.grads` is left untouched.
    pub fn backward_sgd(
        &mut self,
        input: &Tensor,
        ws: &mut Workspace,
        learning_rate: f32,
        l2: f32,
    ) {
        // Every layer but the first, then the first: the same as the deferred online
        // path with its pending step applied at once.
        self.backward_sgd_deferring_first(input, ws, learning_rate, l2);
        self.apply_pending_step(input, ws, learning_rate, l2);
    }
}

/// Online learning (batches of one example, plain SGD) with the first layer's step
/// deferred: the step of example t is applied during the forward pass of example t+1,
/// in the same sweep over the first layer's weights (see
/// [`Dense::sgd_step_then_weighted_sums`]). The result is the same as stepping at once.
impl Network {
    /// Forward pass of one example (`input` is 1 × inputs), first applying the first
    /// layer's pending step from `prev_input` and the δ still in `ws.deltas[0]`.
    pub fn forward_after_pending_step(
        &mut self,
        input: &Tensor,
        ws: &mut Workspace,
        prev_input: &Tensor,
        learning_rate: f32,
        l2: f32,
    ) {
        ws.set_batch(self, 1);
        assert_eq!(
            (input.rows(), input.cols()),
            (1, self.inputs()),
            "one example"
        );
        let parallelism = self.parallelism;
        let (first, rest) = self.layers.split_first_mut().expect("a network has layers");
        first.sgd_step_then_weighted_sums(
            prev_input.as_slice(),
            ws.deltas[0].as_slice(),
            learning_rate,
            l2,
            input.as_slice(),
            ws.weighted_sums[0].as_mut_slice(),
        );
        first.activation().forward(
            ws.weighted_sums[0].as_slice(),
            ws.activations[0].as_mut_slice(),
            first.outputs(),
        );
        ws.dropout = 0.0;
        for (i, layer) in rest.iter().enumerate() {
            let l = i + 1;
            let (below, here) = ws.activations.split_at_mut(l);
            layer.forward(
                &below[l - 1],
                &mut ws.weighted_sums[l],
                &mut here[0],
                parallelism,
            );
        }
    }

    /// [`Network::backward_sgd`] for every layer but the first, whose δ is left in
    /// `ws.deltas[0]` for [`Network::forward_after_pending_step`] or
    /// [`Network::apply_pending_step`].
    pub fn backward_sgd_deferring_first(
        &mut self,
        input: &Tensor,
        ws: &mut Workspace,
        learning_rate: f32,
        l2: f32,
    ) {
        for l in (1..self.layers.len()).rev() {
            let (layer_input, delta, grad_input, _) = ws.backward_views(input, l);
            self.layers[l].backward_sgd(
                layer_input,
                delta,
                grad_input,
                learning_rate,
                l2,
                self.parallelism,
            );
            ws.finish_delta_below(&self.layers[l - 1], l - 1);
        }
    }

    /// Applies the first layer's pending step (from `prev_input` and `ws.deltas[0]`).
    pub fn apply_pending_step(
        &mut self,
        prev_input: &Tensor,
        ws: &Workspace,
        learning_rate: f32,
        l2: f32,
    ) {
        let parallelism = self.parallelism;
        self.layers[0].backward_sgd(
            prev_input,
            &ws.deltas[0],
            None,
            learning_rate,
            l2,
            parallelism,
        );
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
    pub weighted_sums: Vec<Tensor>,
    /// aˡ per layer, `batch × outputs`.
    pub activations: Vec<Tensor>,
    /// δˡ = ∂C/∂zˡ per layer, `batch × outputs`.
    pub deltas: Vec<Tensor>,
    /// ∂C/∂Wˡ and ∂C/∂bˡ per layer.
    pub grads: Vec<DenseGrads>,
    /// Only z and a are kept ([`Workspace::forward_only`]): no δ or gradients.
    forward_only: bool,
    /// The dropout rate of the last forward pass (0 = none).
    dropout: f32,
    /// Dropout masks per hidden layer: 0 (dropped) or 1/(1 − rate) (kept).
    masks: Vec<Tensor>,
    /// aˡ ⊙ maskˡ per hidden layer: what the next layer saw.
    dropped: Vec<Tensor>,
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
    /// alone are as big as the network: 2 MB for 784-512-256-10.)
    /// [`Network::backward`] must not be given such a workspace.
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
            }
            self.batch = batch;
        }
    }

    /// For layer `l`'s backward pass: the input it saw (after dropout), its δ, the
    /// buffer for ∂C/∂A of the layer below (none for the first layer) and its gradients.
    #[allow(clippy::type_complexity)]
    fn backward_views<'a>(
        &'a mut self,
        input: &'a Tensor,
        l: usize,
    ) -> (
        &'a Tensor,
        &'a Tensor,
        Option<&'a mut Tensor>,
        &'a mut DenseGrads,
    ) {
        assert!(
            !self.forward_only,
            "back-propagation needs a workspace from Workspace::new, not forward_only"
        );
        let layer_input = match l {
            0 => input,
            _ if self.dropout > 0.0 => &self.dropped[l - 1],
            _ => &self.activations[l - 1],
        };
        let (below, here) = self.deltas.split_at_mut(l);
        (layer_input, &here[0], below.last_mut(), &mut self.grads[l])
    }

    /// Turns ∂C/∂a of layer `l` (in `deltas[l]`) into its δ:
    ///
    /// ```text
    /// δˡ = (δˡ⁺¹·Wˡ⁺¹ ⊙ maskˡ) ⊙ f′(zˡ)     (maskˡ only with dropout)
    /// ```
    fn finish_delta_below(&mut self, layer: &Dense, l: usize) {
        if self.dropout > 0.0 {
            // ∂C/∂a = ∂C/∂ã ⊙ m, where ã = a ⊙ m is what the layer above saw.
            for (g, &m) in self.deltas[l]
                .as_mut_slice()
                .iter_mut()
                .zip(self.masks[l].as_slice())
            {
                *g *= m;
            }
        }
        layer.activation().backward(
            self.weighted_sums[l].as_slice(),
            self.activations[l].as_slice(),
            self.deltas[l].as_mut_slice(),
            layer.outputs(),
        );
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
        let mut net = Network::builder(40)
            .dense(64, Activation::Relu)
            .dense(7, Activation::Softmax)
            .build(Init::He, 4)
            .unwrap();
        let mut rng = Rng::new(2);
        // Several chunks and a short last one, so the threads share them unevenly.
        let rows = 3 * PREDICT_CHUNK_ROWS + 5;
        let x: Vec<f32> = (0..rows * 40).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let alone = net.predict(&x).unwrap();
        net.set_threads(2);
        let shared = crate::tensor::with_threads(2, || net.predict(&x))
            .unwrap()
            .unwrap();
        // Each chunk runs the same single-threaded products either way.
        assert_eq!(alone, shared);
    }
}
