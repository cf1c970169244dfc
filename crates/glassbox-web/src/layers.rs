//! The one place this crate reads a layer's parameters.
//!
//! Every view draws weights, biases and activations; they all come through [`view`],
//! so a change in how [`Dense`] exposes its fields is one edit here.

use glassbox::{Activation, Dense, Network};

/// A borrowed look at one dense layer: W (`out × in`, row-major), b and f.
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a> {
    /// W, `outputs × inputs`, row-major: `weights[j * inputs + i]` links input i to neuron j.
    pub weights: &'a [f32],
    /// b, one per neuron.
    pub biases: &'a [f32],
    /// f, the layer's activation.
    pub activation: Activation,
    /// Inputs per neuron.
    pub inputs: usize,
    /// Neurons.
    pub outputs: usize,
}

/// The parameters of `layer`.
pub fn view(layer: &Dense) -> LayerView<'_> {
    LayerView {
        weights: layer.weights().as_slice(),
        biases: layer.biases(),
        activation: layer.activation(),
        inputs: layer.inputs(),
        outputs: layer.outputs(),
    }
}

/// Every layer of `network`, from the input side.
pub fn views(network: &Network) -> Vec<LayerView<'_>> {
    network.layers().iter().map(view).collect()
}
