//! XOR, the problem a single neuron cannot solve: a 2-4-1 network learns it.
//!
//! Run: `cargo run --release --example xor`

use glassbox::data::synthetic;
use glassbox::train::Shuffle;
use glassbox::{Activation, Init, Loss, Network, Sgd, TrainConfig, Trainer};

fn main() -> glassbox::Result<()> {
    // The four corners of the unit square, lightly jittered; class 1 where x ≠ y.
    let data = synthetic::xor(200, 0.05, 1)?;
    let mut net = Network::builder(2)
        .dense(4, Activation::Tanh)
        .dense(2, Activation::Sigmoid) // one output neuron per class
        .build(Init::Xavier, 1)?;
    let config = TrainConfig {
        loss: Loss::Mse,
        optimizer: Sgd { learning_rate: 0.5 }.into(),
        epochs: 100,
        batch_size: 1, // one update per example, as in the article
        shuffle: Shuffle::EveryEpoch,
        seed: 1,
        ..TrainConfig::default()
    };
    let history = Trainer::new(config).fit(&mut net, &data)?;
    let last = history.epochs.last().expect("100 epochs ran");
    println!(
        "after {} epochs: loss {:.4}, accuracy {:.1}%",
        last.epoch,
        last.train_loss,
        100.0 * last.train_accuracy.unwrap_or(0.0)
    );
    for (x, y) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)] {
        let out = net.predict(&[x, y])?;
        println!(
            "{x} xor {y} → class {}  (outputs {:?})",
            glassbox::network::argmax(out.row(0)),
            out.row(0)
        );
    }
    Ok(())
}
