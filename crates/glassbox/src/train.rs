//! Training: epochs of shuffled batches, each one forward pass, back-propagation and an
//! update — and the bookkeeping around them (validation, early stopping, history).
//!
//! ```text
//! for epoch in 1..=epochs:
//!     shuffle the training examples (seeded)
//!     for each batch X, Y of batch_size examples:        batch_size 1 = the article's
//!         forward:   every layer's z and a                 one update per example
//!         loss:      δᴸ = ∂C/∂zᴸ (carries 1/B)
//!         backward:  ∂C/∂W, ∂C/∂b for every layer
//!         update:    the optimiser moves every weight against its gradient
//!     evaluate on the validation and test sets; report to the observer
//! ```
//!
//! The library never prints: progress goes to an [`Observer`], which can also stop
//! training (Ctrl-C in the command line). The network that [`Trainer::fit`] leaves is
//! always one whose every epoch finished: an interrupted epoch is rolled back, a diverged
//! one too, and early stopping restores the best epoch's weights.
//!
//! With [`TrainConfig::threads`] above 1, a mini-batch step with enough work (see
//! [`SPLIT_MIN_WORK`]) is shared out by bands of neurons: each thread computes, for the
//! whole batch, its own neurons' outputs, their weight gradients and their update, and
//! the threads wait for each other between layers (the diagram is in `train/split.rs`).
//! Smaller steps, online learning and full-batch Rprop run on one thread, their large
//! matrix products split between threads.

use crate::data::{Dataset, Targets};
use crate::layer::{Dense, DenseGrads};
use crate::loss::Loss;
use crate::metrics::evaluate;
use crate::network::{argmax, Network, Workspace};
use crate::optim::{Optimizer, OptimizerState, Schedule};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

mod split;
pub use split::SPLIT_MIN_WORK;

/// Rows per chunk when a full-batch optimiser (Rprop) sums the gradient over the
/// training set.
pub const FULL_BATCH_CHUNK_ROWS: usize = 512;

/// Whether the training examples are reordered before each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Shuffle {
    /// A new seeded permutation every epoch (the usual choice).
    #[default]
    EveryEpoch,
    /// The order of the data set, every epoch.
    Never,
}

/// Where the validation set comes from (it drives early stopping).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Validation {
    /// No validation set (unless one is passed to [`Trainer::fit`]).
    #[default]
    None,
    /// Hold out this fraction of the training set, stratified by class and seeded.
    Split(f64),
}

/// Every setting of a training run. `TrainConfig::default()` is online SGD, η = 0.1,
/// mean squared error, 10 epochs — the article's recipe — with nothing else added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The loss to minimise.
    pub loss: Loss,
    /// The optimiser and its learning rate.
    pub optimizer: Optimizer,
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per update (1 = one update per example).
    pub batch_size: usize,
    /// Reordering of the examples between epochs.
    pub shuffle: Shuffle,
    /// Seed for shuffling, validation splits and dropout.
    pub seed: u64,
    /// L2 weight decay λ (0 = none): every weight's gradient gains λ·w.
    pub l2: f32,
    /// Dropout rate on hidden layers' outputs during training (0 = none).
    pub dropout: f32,
    /// How the learning rate changes over training.
    pub schedule: Schedule,
    /// Where the validation set comes from.
    pub validation: Validation,
    /// Stop when the validation loss has not improved for this many epochs, and restore
    /// the best epoch's weights.
    pub early_stopping: Option<usize>,
    /// Threads for large matrix products and for sharing out big mini-batch steps by
    /// bands of neurons (1 = the calling thread only; at most
    /// [`crate::threads::MAX_THREADS`]). Any count gives the same weights to float
    /// rounding; more threads than cores ([`crate::threads::available`]) is slower, as
    /// they take turns on the cores, so the CLI reduces `--threads` to the cores.
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            loss: Loss::Mse,
            optimizer: Optimizer::default(),
            epochs: 10,
            batch_size: 1,
            shuffle: Shuffle::EveryEpoch,
            seed: 0,
            l2: 0.0,
            dropout: 0.0,
            schedule: Schedule::Constant,
            validation: Validation::None,
            early_stopping: None,
            threads: 1,
        }
    }
}

impl TrainConfig {
    /// Checks every hyper-parameter.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first impossible value.
    pub fn validate(&self) -> Result<()> {
        let lr = self.optimizer.learning_rate();
        let needs_rate = !self.optimizer.is_full_batch();
        if needs_rate && !(lr > 0.0 && lr.is_finite()) {
            return Err(Error::Config(format!(
                "the learning rate must be a positive number (got {lr})"
            )));
        }
        if let Optimizer::Momentum(m) | Optimizer::Nesterov(m) = self.optimizer {
            if !(0.0..1.0).contains(&m.momentum) {
                return Err(Error::Config(format!(
                    "momentum must be in [0, 1) (got {})",
                    m.momentum
                )));
            }
        }
        if self.batch_size == 0 {
            return Err(Error::Config("the batch size must be at least 1".into()));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(Error::Config(format!(
                "L2 weight decay must be ≥ 0 (got {})",
                self.l2
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "the dropout rate must be in [0, 1) (got {})",
                self.dropout
            )));
        }
        if let Validation::Split(f) = self.validation {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::Config(format!(
                    "the validation fraction must be between 0 and 1 (got {f})"
                )));
            }
        }
        if self.early_stopping == Some(0) {
            return Err(Error::Config(
                "early-stopping patience must be at least 1 epoch".into(),
            ));
        }
        if self.threads == 0 || self.threads > crate::threads::MAX_THREADS {
            return Err(Error::Config(format!(
                "threads must be from 1 to {} (got {})",
                crate::threads::MAX_THREADS,
                self.threads
            )));
        }
        Ok(())
    }
}

/// What an observer tells the trainer after each report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop now; the weights of the last finished epoch are kept.
    Stop,
}

/// Progress within an epoch, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Epochs in the run.
    pub epochs: usize,
    /// Examples of this epoch done so far.
    pub examples_done: usize,
    /// Examples per epoch.
    pub examples_total: usize,
    /// Mean training loss over this epoch's batches so far.
    pub loss: f64,
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (as they were seen, while learning).
    pub train_loss: f64,
    /// Fraction of training examples classified right as they were seen (classification).
    pub train_accuracy: Option<f64>,
    /// Loss on the validation set after the epoch.
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation set after the epoch.
    pub validation_accuracy: Option<f64>,
    /// Loss on the test set after the epoch.
    pub test_loss: Option<f64>,
    /// Accuracy on the test set after the epoch.
    pub test_accuracy: Option<f64>,
    /// The learning rate at the end of the epoch.
    pub learning_rate: f32,
    /// Seconds of training work: shuffling, batching, forward, backward, update — not
    /// evaluation.
    pub seconds: f64,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// Every epoch ran.
    Completed,
    /// The validation loss stopped improving; the best epoch's weights were restored.
    EarlyStopped {
        /// The epoch whose weights the network now has.
        best_epoch: usize,
    },
    /// The observer asked to stop; the last finished epoch's weights are kept.
    Interrupted,
}

/// The record of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One report per finished epoch.
    pub epochs: Vec<EpochReport>,
    /// Why training ended.
    pub stop: StopReason,
}

/// Receives progress from [`Trainer::fit`] and may stop it. Both methods default to
/// doing nothing, so an observer implements only what it needs.
pub trait Observer {
    /// Called after every batch. Keep it cheap: online learning calls it 60 000 times
    /// an epoch on Fashion-MNIST.
    fn on_batch(&mut self, progress: &BatchProgress) -> Control {
        let _ = progress;
        Control::Continue
    }

    /// Called after every epoch, with its figures.
    fn on_epoch(&mut self, report: &EpochReport) -> Control {
        let _ = report;
        Control::Continue
    }

    /// Called after every epoch with its figures and the network as that epoch left
    /// it, for observers that draw the network (the playground's heat maps, the
    /// dashboard's weight histograms). Defaults to [`Observer::on_epoch`]; the trainer
    /// calls only this one, so an observer that overrides it decides whether
    /// `on_epoch` runs.
    fn on_epoch_with_network(&mut self, report: &EpochReport, network: &Network) -> Control {
        let _ = network;
        self.on_epoch(report)
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

/// Runs training with a [`TrainConfig`].
///
/// ```
/// use glassbox::{data::synthetic, Activation, Adam, Init, Loss, Network, Trainer, TrainConfig};
/// let data = synthetic::xor(200, 0.05, 1).unwrap();
/// let mut net = Network::builder(2)
///     .dense(8, Activation::Tanh)
///     .dense(2, Activation::Softmax)
///     .build(Init::Xavier, 1)
///     .unwrap();
/// let config = TrainConfig {
///     loss: Loss::CrossEntropy,
///     optimizer: Adam { learning_rate: 0.01, ..Adam::default() }.into(),
///     epochs: 100,
///     batch_size: 16,
///     ..TrainConfig::default()
/// };
/// let history = Trainer::new(config).fit(&mut net, &data, None, None, &mut glassbox::train::Silent).unwrap();
/// assert!(history.epochs.last().unwrap().train_accuracy.unwrap() > 0.9);
/// ```
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
}

impl Trainer {
    /// A trainer for `config`.
    pub fn new(config: TrainConfig) -> Self {
        Trainer { config }
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains `network` on `train`.
    ///
    /// `validation` is a given validation set (else [`TrainConfig::validation`] may split
    /// one off `train`); `test` is evaluated after every epoch for the history only —
    /// it never influences training.
    ///
    /// # Errors
    /// - [`Error::Config`] for impossible settings, a loss that does not fit the output
    ///   layer, or early stopping without a validation set;
    /// - [`Error::StepNotTrainable`] for a network with a step activation;
    /// - [`Error::InputWidth`] / [`Error::Shape`] when the data does not fit the network;
    /// - [`Error::Diverged`] when the loss becomes NaN or infinite — the network then has
    ///   the weights of the last finished epoch.
    pub fn fit(
        &self,
        network: &mut Network,
        train: &Dataset,
        validation: Option<&Dataset>,
        test: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<History> {
        // Matrix products share their blocks between the threads of one pool, which
        // the whole loop runs in (see `tensor::with_threads`).
        crate::tensor::with_threads(self.config.threads, || {
            self.fit_here(network, train, validation, test, observer)
        })?
    }

    fn fit_here(
        &self,
        network: &mut Network,
        train: &Dataset,
        validation: Option<&Dataset>,
        test: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<History> {
        let config = &self.config;
        config.validate()?;
        network.check_trainable()?;
        config.loss.check_output(network.output_activation())?;
        let split;
        let (train, validation) = match (validation, config.validation) {
            (Some(v), _) => (train, Some(v)),
            (None, Validation::Split(fraction)) => {
                split = train.split(fraction, config.seed ^ 0x5EED)?;
                (&split.0, Some(&split.1))
            }
            (None, Validation::None) => (train, None),
        };
        for data in [Some(train), validation, test].into_iter().flatten() {
            check_fits(network, data)?;
        }
        if train.is_empty() {
            return Err(Error::EmptyData {
                what: "training set".into(),
                message: "no examples to train on".into(),
            });
        }
        if config.early_stopping.is_some() && validation.is_none() {
            return Err(Error::Config(
                "early stopping watches the validation loss: give a validation set \
                 (e.g. a validation split)"
                    .into(),
            ));
        }
        network.set_threads(config.threads);

        let mut rng = Rng::new(config.seed);
        let mut state = OptimizerState::new(&config.optimizer, network.layers());
        state.set_threads(config.threads);
        let mut order: Vec<usize> = (0..train.len()).collect();
        let batch_size = if config.optimizer.is_full_batch() {
            FULL_BATCH_CHUNK_ROWS.min(train.len())
        } else {
            config.batch_size.min(train.len())
        };
        // Big batches on several threads: every step is shared out by bands of neurons
        // (see the `split` module). Measured on 784-512-256-10, Adam, batch 128, 2
        // threads, interleaved: 0.93–1.18 s/epoch, against 1.03–1.43 when the batch was
        // cut into two halves that each went forward and back on one thread (and
        // 0.83–0.96 against JAX's 1.05–1.40 in `bench/run.sh`).
        let split = config.threads > 1
            && !config.optimizer.is_full_batch()
            && batch_size >= 2
            && batch_size * network.parameter_count() / config.threads >= split::SPLIT_MIN_WORK
            && split::can_split(network);
        let mut split_buffers = if split {
            split::Buffers::new(network, train, batch_size, config.dropout > 0.0)
        } else {
            split::Buffers::default()
        };
        // The one-thread loop's buffers, allocated only when it runs (peak memory is a
        // goal too): a split step has its own.
        let (mut ws, mut x, mut x_prev, mut y) = if split {
            Default::default()
        } else {
            (
                Workspace::new(network, batch_size),
                Tensor::zeros(batch_size, train.width()),
                Tensor::zeros(batch_size, train.width()),
                Tensor::zeros(batch_size, network.outputs()),
            )
        };
        // The gradient summed over the training set, for full-batch optimisers only.
        let mut sum_grads: Vec<DenseGrads> = if config.optimizer.is_full_batch() {
            network
                .layers()
                .iter()
                .map(DenseGrads::zeros_like)
                .collect()
        } else {
            Vec::new()
        };
        let mut last_good: Vec<Dense> = network.layers().to_vec();
        let mut best: Option<(f64, usize, Vec<Dense>)> = None;
        let batches_per_epoch = train.len().div_ceil(batch_size);
        let total_steps = (batches_per_epoch * config.epochs).max(1) as f64;
        let base_lr = config.optimizer.learning_rate();
        let mut history = History {
            epochs: Vec::new(),
            stop: StopReason::Completed,
        };

        'epochs: for epoch in 0..config.epochs {
            let started = Instant::now();
            if config.shuffle == Shuffle::EveryEpoch {
                rng.shuffle(&mut order);
            }
            let mut loss_sum = 0.0f64;
            let mut correct = 0usize;
            let mut done = 0usize;
            let mut learning_rate = base_lr;
            let full_batch = config.optimizer.is_full_batch();
            if full_batch {
                for g in &mut sum_grads {
                    g.weights.as_mut_slice().fill(0.0);
                    g.biases.fill(0.0);
                }
            }
            // Online SGD defers the first layer's step into the next forward pass.
            let online = batch_size == 1
                && config.dropout == 0.0
                && matches!(config.optimizer, Optimizer::Sgd(_));
            let mut pending: Option<f32> = None; // learning rate of the deferred step
                                                 // The scheduled learning rate of batch b of this epoch.
            let schedule = |b: usize| {
                let step = (epoch * batches_per_epoch + b) as f64;
                base_lr * config.schedule.factor(epoch, step / total_steps)
            };
            // What the observer hears after each batch.
            let progress = |done: usize, loss_sum: f64| BatchProgress {
                epoch: epoch + 1,
                epochs: config.epochs,
                examples_done: done,
                examples_total: train.len(),
                loss: loss_sum / done as f64,
            };
            if split {
                let mut diverged = None;
                let mut interrupted = false;
                split::run_epoch(
                    &mut split_buffers,
                    network,
                    &mut state,
                    config,
                    train,
                    &order,
                    batch_size,
                    &schedule,
                    &mut rng,
                    &mut |step| {
                        if !step.loss.is_finite() {
                            diverged = Some(step.loss);
                            return false;
                        }
                        loss_sum += step.loss;
                        correct += count_correct(train, step.rows, step.outputs);
                        done += step.rows.len();
                        learning_rate = schedule(step.batch);
                        interrupted = observer.on_batch(&progress(done, loss_sum)) == Control::Stop;
                        !interrupted
                    },
                );
                if let Some(loss) = diverged {
                    network.layers_mut().clone_from_slice(&last_good);
                    return Err(Error::Diverged {
                        epoch: epoch + 1,
                        loss,
                    });
                }
                if interrupted {
                    network.layers_mut().clone_from_slice(&last_good);
                    history.stop = StopReason::Interrupted;
                    break 'epochs;
                }
            } else {
                for (b, rows) in order.chunks(batch_size).enumerate() {
                    learning_rate = schedule(b);
                    if online {
                        std::mem::swap(&mut x, &mut x_prev);
                    }
                    gather(train, rows, &mut x, &mut y);
                    if let Some(lr) = pending.take() {
                        network.forward_after_pending_step(&x, &mut ws, &x_prev, lr, config.l2);
                    } else if config.dropout > 0.0 {
                        network.forward_dropout(&x, &mut ws, config.dropout, &mut rng);
                    } else {
                        network.forward(&x, &mut ws);
                    }
                    // δᴸ carries 1/B: B is the batch, or the whole set for a full-batch step.
                    let scale = if full_batch {
                        1.0 / train.len() as f32
                    } else {
                        1.0 / rows.len() as f32
                    };
                    let batch_loss =
                        loss_and_output_delta(network, config.loss, &y, &mut ws, scale);
                    if !batch_loss.is_finite() {
                        network.layers_mut().clone_from_slice(&last_good);
                        return Err(Error::Diverged {
                            epoch: epoch + 1,
                            loss: batch_loss,
                        });
                    }
                    loss_sum += batch_loss;
                    correct += count_correct(train, rows, ws.output().as_slice());
                    done += rows.len();
                    if online {
                        network.backward_sgd_deferring_first(&x, &mut ws, learning_rate, config.l2);
                        pending = Some(learning_rate);
                    } else if let (Optimizer::Sgd(_), false) = (config.optimizer, full_batch) {
                        // Plain SGD: the gradient goes straight into the weights.
                        network.backward_sgd(&x, &mut ws, learning_rate, config.l2);
                    } else {
                        network.backward(&x, &mut ws);
                    }
                    if full_batch {
                        for (sum, g) in sum_grads.iter_mut().zip(&ws.grads) {
                            add_into(sum.weights.as_mut_slice(), g.weights.as_slice());
                            add_into(&mut sum.biases, &g.biases);
                        }
                    } else if !matches!(config.optimizer, Optimizer::Sgd(_)) {
                        state.step(
                            &config.optimizer,
                            network,
                            &ws.grads,
                            learning_rate,
                            config.l2,
                        );
                    }
                    if observer.on_batch(&progress(done, loss_sum)) == Control::Stop {
                        network.layers_mut().clone_from_slice(&last_good);
                        history.stop = StopReason::Interrupted;
                        break 'epochs;
                    }
                }
            }
            if let Some(lr) = pending.take() {
                network.apply_pending_step(&x, &ws, lr, config.l2);
            }
            if full_batch {
                state.step(&config.optimizer, network, &sum_grads, 0.0, config.l2);
                learning_rate = 0.0;
            }
            let seconds = started.elapsed().as_secs_f64();
            network.set_threads(config.threads);

            let val = validation
                .map(|v| evaluate(network, v, config.loss))
                .transpose()?;
            let tst = test
                .map(|t| evaluate(network, t, config.loss))
                .transpose()?;
            if let Some(v) = &val {
                if !v.loss.is_finite() {
                    network.layers_mut().clone_from_slice(&last_good);
                    return Err(Error::Diverged {
                        epoch: epoch + 1,
                        loss: v.loss,
                    });
                }
            }
            let report = EpochReport {
                epoch: epoch + 1,
                train_loss: loss_sum / done as f64,
                train_accuracy: matches!(train.targets(), Targets::Classes(_))
                    .then(|| correct as f64 / done as f64),
                validation_loss: val.as_ref().map(|e| e.loss),
                validation_accuracy: val.as_ref().and_then(|e| e.accuracy),
                test_loss: tst.as_ref().map(|e| e.loss),
                test_accuracy: tst.as_ref().and_then(|e| e.accuracy),
                learning_rate,
                seconds,
            };
            last_good.clone_from_slice(network.layers());
            let control = observer.on_epoch_with_network(&report, network);
            history.epochs.push(report);

            if let (Some(patience), Some(v)) = (config.early_stopping, &val) {
                match &mut best {
                    Some((loss, _, _)) if v.loss >= *loss => {}
                    Some((loss, at, weights)) => {
                        *loss = v.loss;
                        *at = epoch + 1;
                        weights.clone_from_slice(network.layers());
                    }
                    None => best = Some((v.loss, epoch + 1, network.layers().to_vec())),
                }
                if let Some((_, at, weights)) = &best {
                    if epoch + 1 - at >= patience {
                        network.layers_mut().clone_from_slice(weights);
                        history.stop = StopReason::EarlyStopped { best_epoch: *at };
                        break;
                    }
                }
            }
            if control == Control::Stop {
                history.stop = StopReason::Interrupted;
                break;
            }
        }
        Ok(history)
    }
}

/// The loss of the batch that [`Network::forward`] left in `ws`, summed over its rows
/// against the targets `y`, and the output layer's error δᴸ (with the reduction `scale`,
/// 1/B) written into `ws.deltas` for back-propagation.
fn loss_and_output_delta(
    network: &Network,
    loss: Loss,
    y: &Tensor,
    ws: &mut Workspace,
    scale: f32,
) -> f64 {
    let out = network.layers().len() - 1;
    let width = network.outputs();
    let (z, a, d) = (
        &ws.weighted_sums[out],
        &ws.activations[out],
        &mut ws.deltas[out],
    );
    let value = loss.sum(z.as_slice(), a.as_slice(), y.as_slice(), width);
    loss.output_delta(
        network.output_activation(),
        z.as_slice(),
        a.as_slice(),
        y.as_slice(),
        d.as_mut_slice(),
        width,
        scale,
    );
    value
}

/// How many of the examples `rows` the outputs `output` (one row each) classify right
/// (0 for regression data).
fn count_correct(data: &Dataset, rows: &[usize], output: &[f32]) -> usize {
    match data.targets() {
        Targets::Classes(labels) => rows
            .iter()
            .zip(output.chunks_exact(data.target_width()))
            .filter(|&(&r, out)| argmax(out) == labels[r])
            .count(),
        Targets::Values { .. } => 0,
    }
}

/// Checks that `data` fits `network`: its width and its number of targets.
fn check_fits(network: &Network, data: &Dataset) -> Result<()> {
    if data.width() != network.inputs() {
        return Err(Error::InputWidth {
            expected: network.inputs(),
            found: data.width(),
        });
    }
    if data.target_width() != network.outputs() {
        let what = match data.targets() {
            Targets::Classes(_) => format!("{} classes", data.classes()),
            Targets::Values { width, .. } => format!("{width} target values per example"),
        };
        return Err(Error::Shape(format!(
            "the data has {what} but the network has {} output neurons (one per class)",
            network.outputs()
        )));
    }
    Ok(())
}

/// Copies the examples `rows` into the batch buffers: features into `x`, targets (one-hot
/// for classes) into `y`.
fn gather(data: &Dataset, rows: &[usize], x: &mut Tensor, y: &mut Tensor) {
    let width = data.width();
    let outputs = data.target_width();
    x.resize(rows.len(), width);
    y.resize(rows.len(), outputs);
    for (i, &r) in rows.iter().enumerate() {
        x.row_mut(i).copy_from_slice(data.row(r));
        data.write_target_row(r, y.row_mut(i));
    }
}

fn add_into(sum: &mut [f32], x: &[f32]) {
    for (s, &v) in sum.iter_mut().zip(x) {
        *s += v;
    }
}
