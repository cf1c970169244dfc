//! A trained model survives a save and a load: the same predictions, bit for bit, and
//! the same information about its inputs and outputs.

use glassbox::data::{digits, Scaler, Scaling};
use glassbox::io::{self, ModelInfo};
use glassbox::{Activation, Adam, Error, Init, Loss, Network, TrainConfig, Trainer};

const SEED: u64 = 11;

/// A small digits model, trained for a few epochs on standardised features.
fn trained() -> (Network, ModelInfo, glassbox::data::Dataset) {
    let (mut train, mut test) = digits::train_test().unwrap();
    let scaler = Scaler::fit(Scaling::Standard, &train);
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut test).unwrap();
    let mut net = Network::builder(train.width())
        .dense(32, Activation::Relu)
        .dense(16, Activation::LeakyRelu { alpha: 0.05 })
        .dense(train.classes(), Activation::Softmax)
        .build(Init::He, SEED)
        .unwrap();
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Adam::default().into(),
        epochs: 3,
        batch_size: 32,
        seed: SEED,
        ..TrainConfig::default()
    };
    Trainer::new(config).fit(&mut net, &train).unwrap();
    let info = ModelInfo {
        class_names: train.class_names().to_vec(),
        scaler: Some(scaler),
        image_shape: train.image_shape(),
        loss: Some(Loss::CrossEntropy),
    };
    (net, info, test)
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_trained_model_loads_with_identical_predictions_and_info() {
    let (net, info, test) = trained();
    assert!(info.image_shape.is_some());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digits.safetensors");
    io::save(&path, &net, &info).unwrap();

    let (loaded, loaded_info) = io::load(&path).unwrap();
    assert_eq!(loaded_info, info);
    assert_eq!(loaded.sizes(), net.sizes());
    assert_eq!(loaded.layers(), net.layers());
    let before = net.predict(&test.features()).unwrap();
    let after = loaded.predict(&test.features()).unwrap();
    assert_eq!(bits(before.as_slice()), bits(after.as_slice()));

    // The weights alone load into a network of the same architecture.
    let mut fresh = Network::builder(64)
        .dense(32, Activation::Relu)
        .dense(16, Activation::LeakyRelu { alpha: 0.05 })
        .dense(10, Activation::Softmax)
        .build(Init::He, SEED + 1)
        .unwrap();
    assert_eq!(io::load_weights_into(&path, &mut fresh).unwrap(), info);
    assert_eq!(fresh.layers(), net.layers());
}

#[test]
fn saving_over_a_model_replaces_it_whole() {
    let (net, info, _) = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let small = Network::builder(64)
        .dense(10, Activation::Softmax)
        .build(Init::Xavier, 1)
        .unwrap();
    io::save(&path, &small, &ModelInfo::default()).unwrap();
    io::save(&path, &net, &info).unwrap();
    let (loaded, loaded_info) = io::load(&path).unwrap();
    assert_eq!(loaded.layers(), net.layers());
    assert_eq!(loaded_info, info);
    // Only the model is in the directory: no temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_model_of_another_architecture_is_refused_by_load_weights_into() {
    let (net, info, _) = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    io::save(&path, &net, &info).unwrap();
    let mut other = Network::builder(64)
        .dense(32, Activation::Tanh)
        .dense(16, Activation::LeakyRelu { alpha: 0.05 })
        .dense(10, Activation::Softmax)
        .build(Init::He, 1)
        .unwrap();
    let copy = other.clone();
    let e = io::load_weights_into(&path, &mut other).unwrap_err();
    assert!(
        matches!(&e, Error::Format { path: p, .. } if *p == path),
        "{e}"
    );
    assert!(e.to_string().contains("64-32-16-10"), "{e}");
    assert_eq!(other, copy);
}
