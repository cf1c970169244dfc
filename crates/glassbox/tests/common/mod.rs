//! Helpers shared by the integration tests.

use glassbox::Network;

/// The largest of `differences`, where a NaN counts as the largest of all (infinity):
/// `f32::max` drops a NaN (`NaN.max(x)` is x), so a NaN weight would read as "no
/// difference" and a test comparing weights would pass on it.
pub fn largest(differences: impl IntoIterator<Item = f32>) -> f32 {
    differences.into_iter().fold(0.0f32, |worst, d| {
        if d.is_nan() {
            f32::INFINITY
        } else {
            worst.max(d)
        }
    })
}

/// The largest difference |a − b| between two same-shaped slices (see [`largest`] for NaN).
pub fn largest_in(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "different lengths");
    largest(a.iter().zip(b).map(|(x, y)| (x - y).abs()))
}

/// The largest difference between two networks' weights and biases; a NaN in either
/// counts as the largest (infinity), as does a difference in shape.
pub fn largest_difference(a: &Network, b: &Network) -> f32 {
    if a.sizes() != b.sizes() {
        return f32::INFINITY;
    }
    largest(a.layers().iter().zip(b.layers()).map(|(x, y)| {
        let weights = largest_in(x.weights().as_slice(), y.weights().as_slice());
        largest([weights, largest_in(x.biases(), y.biases())])
    }))
}
