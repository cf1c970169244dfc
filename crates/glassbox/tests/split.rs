//! Training steps shared between threads by bands of neurons: the awkward cases (a
//! short last batch, widths that are not multiples of the bands, other optimisers and
//! losses, a stop or a divergence in the middle of an epoch) behave as on one thread.

mod common;
use common::largest_difference;
use glassbox::data::Dataset;
use glassbox::rng::Rng;
use glassbox::train::{BatchProgress, Control, Observer, StopReason, SPLIT_MIN_WORK};
use glassbox::{
    Activation, Error, Init, Loss, Momentum, Network, Optimizer, Sgd, TrainConfig, Trainer,
};

const INPUTS: usize = 50;
const CLASSES: usize = 3;

/// 300 examples: with batch 128 the last batch has 44.
fn data() -> Dataset {
    let mut rng = Rng::new(99);
    let rows = 300;
    let x = (0..rows * INPUTS).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let labels = (0..rows).map(|_| rng.below(CLASSES)).collect();
    let names = (0..CLASSES).map(|c| c.to_string()).collect();
    Dataset::classification(x, INPUTS, labels, names).unwrap()
}

/// Hidden widths 300 and 70 are not multiples of 16 (the bands' unit); leaky ReLU
/// (whose derivative is read from z) and sigmoid outputs with squared error, the
/// article's pairing.
fn network() -> Network {
    network_with(Activation::LeakyRelu { alpha: 0.01 }, Activation::Sigmoid)
}

fn network_with(hidden: Activation, output: Activation) -> Network {
    Network::builder(INPUTS)
        .dense(300, hidden)
        .dense(70, hidden)
        .dense(CLASSES, output)
        .build(Init::Xavier, 3)
        .unwrap()
}

fn config(threads: usize, optimizer: Optimizer) -> TrainConfig {
    TrainConfig {
        loss: Loss::Mse,
        optimizer,
        epochs: 3,
        batch_size: 128,
        seed: 4,
        threads,
        ..TrainConfig::default()
    }
}

#[test]
fn the_network_is_big_enough_to_be_split() {
    assert!(128 * network().parameter_count() / 2 >= SPLIT_MIN_WORK);
}

#[test]
fn momentum_with_a_short_last_batch_agrees_with_one_thread() {
    let data = data();
    let momentum: Optimizer = Momentum {
        learning_rate: 0.05,
        momentum: 0.9,
    }
    .into();
    let mut one = network();
    let mut two = network();
    let h1 = Trainer::new(config(1, momentum))
        .fit(&mut one, &data)
        .unwrap();
    let h2 = Trainer::new(config(2, momentum))
        .fit(&mut two, &data)
        .unwrap();
    let worst = largest_difference(&one, &two);
    assert!(worst < 1e-4, "weights differ by up to {worst}");
    assert!(h2.epochs.iter().all(|e| e.threads == 2), "the split ran");
    assert!(
        largest_difference(&one, &network()) > 1e-2,
        "nothing was learnt"
    );
    for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
        assert!((a.train_loss - b.train_loss).abs() < 1e-5);
        assert_eq!(a.train_accuracy, b.train_accuracy);
    }
}

/// Stops after `after` batches.
struct StopAfter {
    after: usize,
    seen: usize,
}

impl Observer for StopAfter {
    fn on_batch(&mut self, _: &BatchProgress) -> Control {
        self.seen += 1;
        if self.seen >= self.after {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn a_stop_in_the_middle_of_an_epoch_keeps_the_last_finished_epoch() {
    let data = data();
    let sgd: Optimizer = Sgd { learning_rate: 0.1 }.into();
    // Three batches an epoch: stop in the second batch of the second epoch.
    let mut stopped = network();
    let mut stop = StopAfter { after: 5, seen: 0 };
    let history = Trainer::new(config(2, sgd))
        .observer(&mut stop)
        .fit(&mut stopped, &data)
        .unwrap();
    assert_eq!(history.stop, StopReason::Interrupted);
    assert_eq!(history.epochs.len(), 1);
    let mut one_epoch = network();
    Trainer::new(TrainConfig {
        epochs: 1,
        ..config(2, sgd)
    })
    .fit(&mut one_epoch, &data)
    .unwrap();
    assert_eq!(stopped.layers(), one_epoch.layers());
}

#[test]
fn a_diverging_run_reports_it_and_keeps_finite_weights() {
    let data = data();
    let mut net = network();
    let reckless: Optimizer = Sgd {
        learning_rate: 1e30,
    }
    .into();
    let err = Trainer::new(config(2, reckless))
        .fit(&mut net, &data)
        .unwrap_err();
    assert!(matches!(err, Error::Diverged { epoch: 1, .. }), "{err}");
    assert_eq!(
        net.layers(),
        network().layers(),
        "the weights before the diverged epoch are restored"
    );
}

/// A network with one hidden layer takes the other arrangement of waits (the next batch
/// is gathered before the output layer's backward wait, which stays): on 2, 3 and 8
/// threads it ends where one thread ends, and a stop in the middle of an epoch ends that
/// epoch on every thread.
#[test]
fn one_hidden_layer_agrees_with_one_thread_and_stops_mid_epoch() {
    let data = data();
    let shallow = || {
        Network::builder(INPUTS)
            .dense(2600, Activation::Tanh)
            .dense(CLASSES, Activation::Sigmoid)
            .build(Init::Xavier, 8)
            .unwrap()
    };
    assert!(128 * shallow().parameter_count() / 8 >= SPLIT_MIN_WORK);
    let sgd: Optimizer = Sgd { learning_rate: 0.1 }.into();
    let mut one = shallow();
    Trainer::new(config(1, sgd)).fit(&mut one, &data).unwrap();
    assert!(
        largest_difference(&one, &shallow()) > 1e-2,
        "nothing was learnt"
    );
    for threads in [2, 3, 8] {
        let mut many = shallow();
        let history = Trainer::new(config(threads, sgd))
            .fit(&mut many, &data)
            .unwrap();
        assert!(
            history.epochs.iter().all(|e| e.threads == threads),
            "{threads} threads: the split ran"
        );
        let worst = largest_difference(&one, &many);
        assert!(
            worst < 1e-4,
            "{threads} threads: weights differ by up to {worst}"
        );

        let mut stopped = shallow();
        let mut stop = StopAfter { after: 4, seen: 0 };
        let history = Trainer::new(config(threads, sgd))
            .observer(&mut stop)
            .fit(&mut stopped, &data)
            .unwrap();
        assert_eq!(history.stop, StopReason::Interrupted);
        assert_eq!(history.epochs.len(), 1);
    }
}
