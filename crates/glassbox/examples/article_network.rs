//! The article's network on Fashion-MNIST: 784 inputs, 30 sigmoid neurons, 10 sigmoid
//! outputs (one per class), mean squared error, one update per example at η = 0.1.
//!
//! Needs `apt-get install dataset-fashion-mnist` (or pass the IDX directory).
//! Run: `cargo run --release --example article_network [-- DIR [EPOCHS]]`

use glassbox::data::idx;
use glassbox::train::{Control, EpochReport, Observer};
use glassbox::{Activation, Init, Loss, Network, Sgd, TrainConfig, Trainer};

struct PrintEpochs;

impl Observer for PrintEpochs {
    fn on_epoch(&mut self, r: &EpochReport) -> Control {
        println!(
            "epoch {}: {:.2} s, train loss {:.4}, test accuracy {:.2}%",
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
    let epochs = args.next().and_then(|e| e.parse().ok()).unwrap_or(1);
    let (train, test) = idx::fashion_mnist(&dir)?;
    let mut net = Network::builder(784)
        .dense(30, Activation::Sigmoid)
        .dense(10, Activation::Sigmoid)
        .build(Init::Auto, 1)?;
    let config = TrainConfig {
        loss: Loss::Mse,
        optimizer: Sgd { learning_rate: 0.1 }.into(),
        epochs,
        batch_size: 1,
        seed: 1,
        ..TrainConfig::default()
    };
    Trainer::new(config)
        .test(&test)
        .observer(&mut PrintEpochs)
        .fit(&mut net, &train)?;
    Ok(())
}
