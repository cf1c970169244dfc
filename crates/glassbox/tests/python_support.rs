//! What the Python package asks of the library: data lent without a copy, models as
//! bytes, an optimiser state carried from one `fit` to the next, and predictions that do
//! not depend on which rows are predicted together.

use glassbox::data::{synthetic, Dataset, SharedFloats};
use glassbox::io::ModelInfo;
use glassbox::optim::OptimizerState;
use glassbox::tensor::Parallelism;
use glassbox::{Activation, Adam, Init, Loss, Network, TrainConfig, Trainer};
use std::sync::Arc;

fn network(inputs: usize, seed: u64) -> Network {
    Network::builder(inputs)
        .dense(24, Activation::Tanh)
        .dense(2, Activation::Softmax)
        .build(Init::Xavier, seed)
        .unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Adam {
            learning_rate: 0.01,
            ..Adam::default()
        }
        .into(),
        epochs,
        batch_size: 16,
        seed: 3,
        ..TrainConfig::default()
    }
}

/// A buffer that remembers where its values live, to check they are read in place.
struct Lent(Vec<f32>);

impl AsRef<[f32]> for Lent {
    fn as_ref(&self) -> &[f32] {
        &self.0
    }
}

#[test]
fn shared_features_train_exactly_as_owned_ones_and_are_not_copied() {
    let data = synthetic::xor(300, 0.05, 1).unwrap();
    let values = data.features().into_owned();
    let labels = data.labels().unwrap().to_vec();
    let names = data.class_names().to_vec();
    let lent = Arc::new(Lent(values.clone()));
    let address = lent.0.as_ptr();
    let shared: SharedFloats = lent.clone();
    let shared = Dataset::classification_shared(shared, 2, labels.clone(), names.clone()).unwrap();
    // Read in place: the data set's rows are the lender's memory.
    assert_eq!(shared.features().as_ptr(), address);
    assert_eq!(shared.row(7).as_ptr(), address.wrapping_add(14));
    let owned = Dataset::classification(values, 2, labels, names).unwrap();
    assert_eq!(shared, owned);
    let (mut a, mut b) = (network(2, 1), network(2, 1));
    Trainer::new(config(5)).fit(&mut a, &shared).unwrap();
    Trainer::new(config(5)).fit(&mut b, &owned).unwrap();
    assert_eq!(a.layers(), b.layers());
    // Writing goes to a copy, never to the lender's buffer.
    let mut copy = shared.clone();
    copy.features_mut()[0] = 42.0;
    assert_eq!(lent.0[0], shared.features()[0]);
    assert_ne!(copy.features()[0], shared.features()[0]);
    // And the shared constructor makes the owned one's checks.
    let bad: SharedFloats = Arc::new(Lent(vec![0.0, f32::NAN]));
    assert!(Dataset::classification_shared(bad, 2, vec![0], vec!["a".into()]).is_err());
    let values: SharedFloats = Arc::new(Lent(vec![1.0, 2.0, 3.0]));
    let regression = Dataset::regression_shared(values, 1, vec![2.0, 4.0, 6.0], 1).unwrap();
    assert_eq!(regression.len(), 3);
}

#[test]
fn a_model_as_bytes_reads_back_whole_and_bad_bytes_are_an_error() {
    let net = network(3, 2);
    let info = ModelInfo {
        class_names: vec!["no".into(), "yes".into()],
        ..ModelInfo::default()
    };
    let bytes = glassbox::io::to_bytes(&net, &info).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    glassbox::io::save(&path, &net, &info).unwrap();
    // The file and the bytes hold the same model (the metadata's key order may differ).
    for (back, back_info) in [
        glassbox::io::from_bytes(bytes.clone()).unwrap(),
        glassbox::io::from_bytes(std::fs::read(&path).unwrap()).unwrap(),
        glassbox::io::load(&path).unwrap(),
    ] {
        assert_eq!(back.layers(), net.layers());
        assert_eq!(back_info, info);
    }
    let error = glassbox::io::from_bytes(bytes[..bytes.len() / 2].to_vec()).unwrap_err();
    assert!(error.to_string().contains("model in memory"), "{error}");
}

#[test]
fn a_carried_optimiser_state_continues_one_run() {
    let data = synthetic::xor(256, 0.05, 2).unwrap();
    let config = TrainConfig {
        shuffle: glassbox::train::Shuffle::Never,
        ..config(1)
    };
    // Four epochs in one run...
    let mut whole = network(2, 4);
    Trainer::new(TrainConfig {
        epochs: 4,
        ..config.clone()
    })
    .fit(&mut whole, &data)
    .unwrap();
    // ...equal four runs of one epoch that carry Adam's moments and step count.
    let mut parts = network(2, 4);
    let mut state = OptimizerState::default();
    for _ in 0..4 {
        Trainer::new(config.clone())
            .carry_optimizer(&mut state)
            .fit(&mut parts, &data)
            .unwrap();
    }
    assert_eq!(state.steps(), 4 * 16);
    assert_eq!(parts.layers(), whole.layers());
    // Without the carried state, Adam starts over each time: another path.
    let mut fresh = network(2, 4);
    for _ in 0..4 {
        Trainer::new(config.clone()).fit(&mut fresh, &data).unwrap();
    }
    assert_ne!(fresh.layers(), whole.layers());
}

#[test]
fn batch_invariant_predictions_do_not_depend_on_the_other_rows() {
    let net = Network::builder(40)
        .dense(96, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build(Init::He, 5)
        .unwrap();
    let rows = 2 * glassbox::network::PREDICT_CHUNK_ROWS + 37;
    let inputs: Vec<f32> = (0..rows * 40)
        .map(|i| ((i * 7919) % 997) as f32 / 997.0)
        .collect();
    for par in [Parallelism::Sequential, Parallelism::Threads(3)] {
        let all = net.predict_batch_invariant(&inputs, par).unwrap();
        assert_eq!(all.rows(), rows);
        for (start, len) in [(0, 1), (5, 3), (rows - 37, 37), (300, 200), (rows - 1, 1)] {
            let part = net
                .predict_batch_invariant(&inputs[start * 40..(start + len) * 40], par)
                .unwrap();
            assert_eq!(
                part.as_slice(),
                &all.as_slice()[start * 10..(start + len) * 10],
                "rows {start}..{} with {par:?}",
                start + len
            );
        }
        // The same numbers as predict, up to rounding.
        let plain = net.predict(&inputs).unwrap();
        for (a, b) in all.as_slice().iter().zip(plain.as_slice()) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
