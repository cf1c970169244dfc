//! Helpers shared by the integration tests.

use glassbox::Network;

/// The largest difference between two networks' weights and biases.
pub fn largest_difference(a: &Network, b: &Network) -> f32 {
    a.layers()
        .iter()
        .zip(b.layers())
        .flat_map(|(x, y)| {
            let w = x.weights().as_slice().iter().zip(y.weights().as_slice());
            w.chain(x.biases().iter().zip(y.biases()))
        })
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}
