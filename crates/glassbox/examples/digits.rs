//! The embedded 8×8 handwritten digits: nothing to download, ≥ 97% test accuracy; the
//! training time is printed.
//!
//! Run: `cargo run --release --example digits`

use glassbox::data::digits;
use glassbox::metrics::evaluate;
use glassbox::{Activation, Adam, Init, Loss, Network, TrainConfig, Trainer};

fn main() -> glassbox::Result<()> {
    let (train, test) = digits::train_test()?; // 64 pixels in [0, 1], 10 classes
    let mut net = Network::builder(64)
        .dense(128, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build(Init::He, 1)?;
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Adam {
            learning_rate: 0.003,
            ..Adam::default()
        }
        .into(),
        epochs: 30,
        batch_size: 32,
        seed: 1,
        ..TrainConfig::default()
    };
    let history = Trainer::new(config).test(&test).fit(&mut net, &train)?;
    let seconds: f64 = history.epochs.iter().map(|e| e.seconds).sum();
    let result = evaluate(&net, &test, Loss::CrossEntropy)?;
    println!(
        "{} training / {} test images, {} epochs in {seconds:.2} s: test accuracy {:.2}%",
        train.len(),
        test.len(),
        history.epochs.len(),
        100.0 * result.accuracy.unwrap_or(0.0)
    );
    Ok(())
}
