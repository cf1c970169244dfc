//! A modern MLP on Fashion-MNIST: 784-512-256-10, ReLU, softmax + cross-entropy, Adam,
//! batches of 128.
//!
//! Needs `apt-get install dataset-fashion-mnist` (or pass the IDX directory).
//! Saves the trained network to `fashion-mnist.safetensors`.
//! Run: `cargo run --release --example fashion_mnist [-- DIR [EPOCHS]]`

use glassbox::data::idx;
use glassbox::train::{Control, EpochReport, Observer};
use glassbox::{Activation, Adam, Init, Loss, Network, TrainConfig, Trainer};

struct PrintEpochs;

impl Observer for PrintEpochs {
    fn on_epoch(&mut self, r: &EpochReport) -> Control {
        println!(
            "epoch {:2}: {:.2} s, train loss {:.4}, test accuracy {:.2}%",
            r.epoch,
            r.seconds,
            r.train_loss,
            100.0 * r.test_accuracy.unwrap_or(0.0)
        );
        Control::Continue
    }
}

fn main() -> glassbox::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| idx::FASHION_MNIST_DIR.to_string());
    let epochs = args.next().and_then(|e| e.parse().ok()).unwrap_or(10);
    let (train, test) = idx::fashion_mnist(&dir)?;
    let mut net = Network::builder(784)
        .dense(512, Activation::Relu)
        .dense(256, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build(Init::He, 1)?;
    let threads = glassbox::threads::available();
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Adam::default().into(),
        epochs,
        batch_size: 128,
        seed: 1,
        threads,
        ..TrainConfig::default()
    };
    Trainer::new(config)
        .test(&test)
        .observer(&mut PrintEpochs)
        .fit(&mut net, &train)?;
    let info = glassbox::ModelInfo {
        class_names: train.class_names().to_vec(),
        image_shape: train.image_shape(),
        loss: Some(Loss::CrossEntropy),
        ..Default::default()
    };
    glassbox::io::save("fashion-mnist.safetensors", &net, &info)?;
    println!("saved fashion-mnist.safetensors");
    Ok(())
}
