//! Properties over random inputs (proptest): a saved model predicts what it predicted
//! before saving; a shuffle is a permutation; the gradient of a batch is the mean of its
//! examples' gradients.

use glassbox::rng::Rng;
use glassbox::tensor::Tensor;
use glassbox::{Activation, Init, Loss, ModelInfo, Network, Workspace};
use proptest::prelude::*;

fn network(inputs: usize, hidden: usize, outputs: usize, seed: u64) -> Network {
    Network::builder(inputs)
        .dense(hidden, Activation::Tanh)
        .dense(outputs, Activation::Softmax)
        .build(Init::Xavier, seed)
        .unwrap()
}

fn random(rows: usize, cols: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    Tensor::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.uniform(-2.0, 2.0)).collect(),
    )
    .unwrap()
}

/// One-hot targets for `rows` examples.
fn targets(rows: usize, classes: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let mut y = Tensor::zeros(rows, classes);
    for i in 0..rows {
        y.row_mut(i)[rng.below(classes)] = 1.0;
    }
    y
}

/// Every layer's ∂C/∂W and ∂C/∂b for the batch (x, y), C the mean loss.
fn gradients(net: &Network, x: &Tensor, y: &Tensor) -> Vec<f32> {
    let mut ws = Workspace::new(net, x.rows());
    net.forward(x, &mut ws);
    net.output_error(Loss::CrossEntropy, y, &mut ws, 1.0 / x.rows() as f32);
    net.backward(x, &mut ws);
    ws.all_gradients()
        .iter()
        .flat_map(|g| g.weights.as_slice().iter().chain(&g.biases).copied())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn save_then_load_predicts_the_same(
        inputs in 1usize..20, hidden in 1usize..20, outputs in 2usize..6, seed in 0u64..1000
    ) {
        let net = network(inputs, hidden, outputs, seed);
        let x = random(3, inputs, seed);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        glassbox::io::save(&path, &net, &ModelInfo::default()).unwrap();
        let (loaded, _) = glassbox::io::load(&path).unwrap();
        prop_assert_eq!(net.predict(x.as_slice()).unwrap(), loaded.predict(x.as_slice()).unwrap());
    }

    #[test]
    fn a_shuffle_is_a_permutation(n in 0usize..500, seed in any::<u64>()) {
        let mut items: Vec<usize> = (0..n).collect();
        Rng::new(seed).shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn the_batch_gradient_is_the_mean_of_the_examples_gradients(
        inputs in 1usize..12, hidden in 1usize..12, outputs in 2usize..5,
        rows in 1usize..9, seed in 0u64..1000
    ) {
        let net = network(inputs, hidden, outputs, seed);
        let (x, y) = (random(rows, inputs, seed + 1), targets(rows, outputs, seed + 2));
        let batch = gradients(&net, &x, &y);
        let mut mean = vec![0.0f32; batch.len()];
        for i in 0..rows {
            let xi = Tensor::from_vec(1, inputs, x.row(i).to_vec()).unwrap();
            let yi = Tensor::from_vec(1, outputs, y.row(i).to_vec()).unwrap();
            for (m, g) in mean.iter_mut().zip(gradients(&net, &xi, &yi)) {
                *m += g / rows as f32;
            }
        }
        for (b, m) in batch.iter().zip(&mean) {
            prop_assert!((b - m).abs() <= 1e-5 * (1.0 + m.abs()), "{} vs {}", b, m);
        }
    }
}
