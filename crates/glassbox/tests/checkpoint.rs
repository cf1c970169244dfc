//! Checkpoints: a run interrupted in the middle of an epoch and resumed from its last
//! checkpoint ends with the same weights, bit for bit, as a run never interrupted — for
//! SGD, momentum and Adam, with dropout, a schedule, early stopping, on 1 and 2 threads.

use glassbox::data::Dataset;
use glassbox::rng::Rng;
use glassbox::train::{BatchProgress, Checkpoint, Control, Observer, StopReason};
use glassbox::{
    Activation, Adam, Init, Loss, Momentum, Network, Optimizer, Schedule, Sgd, TrainConfig, Trainer,
};

fn data() -> Dataset {
    let mut rng = Rng::new(3);
    let (rows, width, classes) = (400, 20, 3);
    let x = (0..rows * width).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let labels = (0..rows).map(|_| rng.below(classes)).collect();
    let names = (0..classes).map(|c| c.to_string()).collect();
    Dataset::classification(x, width, labels, names).unwrap()
}

fn network(hidden: usize) -> Network {
    Network::builder(20)
        .dense(hidden, Activation::Relu)
        .dense(hidden / 2, Activation::Tanh)
        .dense(3, Activation::Softmax)
        .build(Init::He, 9)
        .unwrap()
}

/// Stops training in the middle of epoch `epoch` (from 1), as Ctrl-C or a crash would.
struct StopIn {
    epoch: usize,
}

impl Observer for StopIn {
    fn on_batch(&mut self, p: &BatchProgress) -> Control {
        if p.epoch == self.epoch && p.examples_done * 2 >= p.examples_total {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

fn bits(net: &Network) -> Vec<u32> {
    net.layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()))
        .map(|v| v.to_bits())
        .collect()
}

fn resumes_bit_for_bit(config: TrainConfig, hidden: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.checkpoint");
    // Early stopping watches a validation set: a fifth of the data, held out.
    let all = data();
    let (rest, held_out) = all.split(0.2, 5).unwrap();
    let (data, validation) = match config.early_stopping {
        Some(_) => (&rest, Some(&held_out)),
        None => (&all, None),
    };

    let mut whole = network(hidden);
    let full = Trainer::new(config.clone())
        .validation(validation)
        .fit(&mut whole, data)
        .unwrap();

    let mut stopped = network(hidden);
    let mut stop = StopIn { epoch: 4 };
    let partial = Trainer::new(config.clone())
        .validation(validation)
        .checkpoint(&path, 1)
        .observer(&mut stop)
        .fit(&mut stopped, data)
        .unwrap();
    assert_eq!(partial.stop, StopReason::Interrupted);
    let saved = Checkpoint::load(&path).unwrap();
    assert_eq!(saved.epoch(), 3, "the last finished epoch");
    assert_eq!(
        bits(saved.network()),
        bits(&stopped),
        "rolled back to epoch 3"
    );

    let mut resumed = network(hidden); // a fresh process builds the network anew
    let rest = Trainer::new(config.clone())
        .validation(validation)
        .resume(saved)
        .checkpoint(&path, 1)
        .fit(&mut resumed, data)
        .unwrap();
    assert_eq!(
        rest.epochs.len(),
        full.epochs.len(),
        "{:?}",
        config.optimizer
    );
    assert_eq!(rest.stop, full.stop);
    for (a, b) in rest.epochs.iter().zip(&full.epochs) {
        assert_eq!(
            a.train_loss.to_bits(),
            b.train_loss.to_bits(),
            "epoch {}",
            a.epoch
        );
    }
    assert_eq!(
        bits(&resumed),
        bits(&whole),
        "{} threads {}: resumed weights differ",
        config.threads,
        config.optimizer.name()
    );
    for (a, b) in rest.epochs.iter().zip(&full.epochs) {
        assert_eq!(
            a.train_loss.to_bits(),
            b.train_loss.to_bits(),
            "epoch {}",
            a.epoch
        );
    }
    // Resuming a finished run trains no more.
    let mut again = network(hidden);
    let done = Trainer::new(config)
        .validation(validation)
        .resume(Checkpoint::load(&path).unwrap())
        .fit(&mut again, data)
        .unwrap();
    assert_eq!(bits(&again), bits(&whole));
    assert_eq!(done.epochs.len(), full.epochs.len());
}

fn config(optimizer: Optimizer, threads: usize) -> TrainConfig {
    TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer,
        epochs: 7,
        batch_size: 32,
        seed: 5,
        dropout: 0.2,
        schedule: Schedule::Cosine,
        threads,
        ..TrainConfig::default()
    }
}

#[test]
fn sgd_with_dropout_and_a_step_schedule_resumes_bit_for_bit() {
    let sgd = Sgd { learning_rate: 0.1 }.into();
    let c = TrainConfig {
        schedule: Schedule::Step {
            every: 2,
            factor: 0.5,
        },
        ..config(sgd, 1)
    };
    resumes_bit_for_bit(c, 32);
}

#[test]
fn momentum_resumes_bit_for_bit_and_online_sgd_too() {
    let momentum = Momentum {
        learning_rate: 0.02,
        momentum: 0.9,
    };
    resumes_bit_for_bit(config(momentum.into(), 1), 32);
    let online = TrainConfig {
        batch_size: 1,
        dropout: 0.0,
        ..config(
            Sgd {
                learning_rate: 0.05,
            }
            .into(),
            1,
        )
    };
    resumes_bit_for_bit(online, 16);
}

#[test]
fn adam_with_early_stopping_resumes_bit_for_bit_on_1_and_2_threads() {
    let adam: Optimizer = Adam {
        learning_rate: 3e-3,
        ..Adam::default()
    }
    .into();
    let c = TrainConfig {
        early_stopping: Some(2),
        ..config(adam, 1)
    };
    resumes_bit_for_bit(c.clone(), 32);
    // A network big enough that 2 threads share each step by bands of neurons.
    resumes_bit_for_bit(
        TrainConfig {
            threads: 2,
            batch_size: 128,
            ..c
        },
        1024,
    );
}

#[test]
fn a_checkpoint_of_another_run_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    let c = config(Sgd { learning_rate: 0.1 }.into(), 1);
    Trainer::new(c.clone())
        .checkpoint(&path, 1)
        .fit(&mut network(32), &data())
        .unwrap();
    let other = TrainConfig {
        seed: 6,
        ..c.clone()
    };
    let err = Trainer::new(other)
        .resume(Checkpoint::load(&path).unwrap())
        .fit(&mut network(32), &data())
        .unwrap_err();
    assert!(err.to_string().contains("training settings"), "{err}");
    let err = Trainer::new(c)
        .resume(Checkpoint::load(&path).unwrap())
        .fit(&mut network(64), &data())
        .unwrap_err();
    assert!(err.to_string().contains("architecture"), "{err}");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    assert!(Checkpoint::load(&path).is_err());
}

/// Online learning's one-row kernel adds in an order chosen by where a row of weights
/// starts relative to a cache line; tensors start on a cache line, so a fresh network
/// (at another address) trains to the same bits. (Before they did, a second fit in the
/// same process differed from the first in the last bits.)
#[test]
fn online_training_gives_the_same_bits_in_every_fit() {
    let online = TrainConfig {
        batch_size: 1,
        dropout: 0.0,
        ..config(
            Sgd {
                learning_rate: 0.05,
            }
            .into(),
            1,
        )
    };
    let data = data();
    let mut a = network(16);
    let ha = Trainer::new(online.clone()).fit(&mut a, &data).unwrap();
    for _ in 0..5 {
        let mut b = network(16);
        let hb = Trainer::new(online.clone()).fit(&mut b, &data).unwrap();
        for (x, y) in ha.epochs.iter().zip(&hb.epochs) {
            assert_eq!(
                x.train_loss.to_bits(),
                y.train_loss.to_bits(),
                "epoch {}",
                x.epoch
            );
        }
        assert_eq!(bits(&a), bits(&b));
    }
}

/// A run that finished its epochs and is resumed with more of them trains the remaining
/// epochs, and ends as a run given that many epochs from the start (a schedule that does
/// not depend on the number of epochs: here none, and a step schedule).
#[test]
fn a_finished_run_resumed_with_more_epochs_trains_the_rest_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    let adam: Optimizer = Adam {
        learning_rate: 3e-3,
        ..Adam::default()
    }
    .into();
    let step = Schedule::Step {
        every: 2,
        factor: 0.5,
    };
    for (optimizer, schedule) in [
        (adam, Schedule::Constant),
        (Sgd { learning_rate: 0.1 }.into(), step),
    ] {
        let seven = TrainConfig {
            schedule,
            ..config(optimizer, 1)
        };
        let four = TrainConfig {
            epochs: 4,
            ..seven.clone()
        };
        let mut whole = network(32);
        let full = Trainer::new(seven.clone())
            .fit(&mut whole, &data())
            .unwrap();

        let mut first = network(32);
        let done = Trainer::new(four)
            .checkpoint(&path, 1)
            .fit(&mut first, &data())
            .unwrap();
        assert_eq!(done.stop, StopReason::Completed);
        assert_eq!(done.epochs.len(), 4);

        let mut resumed = network(32);
        let rest = Trainer::new(seven)
            .resume(Checkpoint::load(&path).unwrap())
            .checkpoint(&path, 1)
            .fit(&mut resumed, &data())
            .unwrap();
        assert_eq!(rest.stop, StopReason::Completed);
        let epochs: Vec<usize> = rest.epochs.iter().map(|r| r.epoch).collect();
        assert_eq!(epochs, (1..=7).collect::<Vec<_>>(), "epochs 5–7 trained");
        assert_eq!(Checkpoint::load(&path).unwrap().epoch(), 7);
        assert_eq!(bits(&resumed), bits(&whole), "{schedule:?}");
        for (a, b) in rest.epochs.iter().zip(&full.epochs) {
            assert_eq!(
                a.train_loss.to_bits(),
                b.train_loss.to_bits(),
                "epoch {}",
                a.epoch
            );
        }
    }
}
