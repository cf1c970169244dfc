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
//! Every step runs the code of `train/step.rs`. With [`TrainConfig::threads`] above 1, a
//! mini-batch step with enough work (see [`SPLIT_MIN_WORK`]) is shared out by bands of
//! neurons: each thread calls the same layer functions on its own neurons, for the whole
//! batch, and the threads wait for each other between layers (the diagram is in
//! `train/step.rs`). Smaller steps, online learning and full-batch Rprop run on one
//! thread, their large matrix products split between threads.

use crate::data::{stream, Dataset, Targets};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::metrics::evaluate_with;
use crate::network::{argmax, Network};
use crate::optim::{Optimizer, OptimizerState, Schedule};
use crate::rng::Rng;
use crate::tensor::Parallelism;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

mod checkpoint;
mod step;
pub use checkpoint::Checkpoint;
pub use step::SPLIT_MIN_WORK;

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
    /// Seed for shuffling and dropout.
    pub seed: u64,
    /// L2 weight decay λ (0 = none): every weight's gradient gains λ·w.
    pub l2: f32,
    /// Dropout rate on hidden layers' outputs during training (0 = none).
    pub dropout: f32,
    /// How the learning rate changes over training.
    pub schedule: Schedule,
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
    /// How many threads ran their bands of this epoch's steps to the end (train/step.rs):
    /// [`TrainConfig::threads`] when the steps were shared out by bands of neurons, 1 when
    /// one thread ran them (one thread asked for, or a step too small to share: see
    /// [`SPLIT_MIN_WORK`]). Counted once per thread per epoch, after its last step, so
    /// tests can see that a split really ran.
    #[serde(default = "one")]
    pub threads: usize,
}

/// The thread count of a report written before [`EpochReport::threads`] existed.
fn one() -> usize {
    1
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

/// The one hook of data-parallel training: several processes (workers, e.g. the ranks
/// of `mpirun -np N glassbox train`) each hold the whole network and, at every step,
/// take their share of the global batch, compute its gradients, and sum them with the
/// others' through [`AllReduce::sum`] before the same update is made everywhere.
///
/// The library has no transport of its own: the `glassbox` binary implements this trait
/// with MPI (its `mpi` feature); a test can implement it with threads. Given to
/// [`Trainer::workers`].
///
/// ```text
/// global batch b of B examples (the single-process order):  e₀ … e_{B−1}
/// worker w of N takes the examples row_band(B, N, w):        ⌈B/N⌉ or fewer
/// each worker:   forward, δᴸ = ∇C/B (the global B), backward → its ∂W, ∂b
/// sum:           one buffer [∂W¹ ∂b¹ … ∂Wᴸ ∂bᴸ | loss, correct, stop] summed across workers
/// each worker:   the optimiser's update from the summed gradients: the same everywhere
/// ```
///
/// The summed gradient is that of one process with the same batch, up to the order of
/// the float additions; dropout masks are drawn by each example's place in the global
/// batch, so they are one process's too.
pub trait AllReduce: Send + Sync {
    /// This worker's index, from 0.
    fn rank(&self) -> usize;
    /// How many workers take part.
    fn size(&self) -> usize;
    /// Replaces `buffer` by the element-wise sum of every worker's `buffer` (all of the
    /// same length), on every worker. An error (a peer lost) ends training.
    ///
    /// # Errors
    /// What went wrong, in words.
    fn sum(&self, buffer: &mut [f32]) -> std::result::Result<(), String>;
}

/// Worker `rank`'s examples of a batch of `n`, when `size` workers share it: a
/// contiguous run of the batch, ⌈n/size⌉ or fewer.
pub fn share_of_batch(n: usize, size: usize, rank: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(size.max(1));
    let start = (rank * per).min(n);
    start..(start + per).min(n)
}

/// Runs training with a [`TrainConfig`]: `Trainer::new(config)`, optionally
/// `.validation(…)`, `.test(…)` and `.observer(…)`, then `.fit(&mut network, &train)`.
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
/// let history = Trainer::new(config).fit(&mut net, &data).unwrap();
/// assert!(history.epochs.last().unwrap().train_accuracy.unwrap() > 0.9);
/// ```
pub struct Trainer<'a> {
    config: TrainConfig,
    validation: Option<&'a Dataset>,
    test: Option<&'a Dataset>,
    observer: Option<&'a mut (dyn Observer + Send)>,
    /// Where to write checkpoints, and every how many epochs.
    checkpoint: Option<(PathBuf, usize)>,
    /// Where to continue from.
    resume: Option<Checkpoint>,
    /// An optimiser state to start from and to leave the final state in.
    carried: Option<&'a mut OptimizerState>,
    /// The other workers of a data-parallel run.
    workers: Option<&'a dyn AllReduce>,
}

impl std::fmt::Debug for Trainer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("validation", &self.validation.map(Dataset::len))
            .field("test", &self.test.map(Dataset::len))
            .field("observer", &self.observer.is_some())
            .field("checkpoint", &self.checkpoint)
            .field("resume", &self.resume.as_ref().map(Checkpoint::epoch))
            .field("carried", &self.carried.as_ref().map(|s| s.steps()))
            .field("workers", &self.workers.map(|w| (w.rank(), w.size())))
            .finish()
    }
}

impl<'a> Trainer<'a> {
    /// A trainer for `config`, with no validation or test set and no observer.
    pub fn new(config: TrainConfig) -> Self {
        Trainer {
            config,
            validation: None,
            test: None,
            observer: None,
            checkpoint: None,
            resume: None,
            carried: None,
            workers: None,
        }
    }

    /// Trains as one worker of a data-parallel run ([`AllReduce`]): this process takes
    /// its share of every global batch of [`TrainConfig::batch_size`] examples, and the
    /// gradients are summed with the other workers' at every step. Every worker must run
    /// the same `fit`, with the same settings and training set; each then ends with the
    /// same weights, equal to one process's up to the order of float additions. With
    /// one worker this changes nothing.
    ///
    /// Online learning (batch 1), batches smaller than the number of workers and
    /// full-batch Rprop are refused ([`Error::Config`]).
    pub fn workers(mut self, workers: &'a dyn AllReduce) -> Self {
        self.workers = (workers.size() > 1).then_some(workers);
        self
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// A validation set, measured after every epoch; early stopping watches its loss.
    /// This is the one way to give one: to hold out part of the training set, split it
    /// first ([`Dataset::split`], stratified by class and seeded) and pass the part here.
    pub fn validation(mut self, data: impl Into<Option<&'a Dataset>>) -> Self {
        self.validation = data.into();
        self
    }

    /// A test set, measured after every epoch for the history only: it never
    /// influences training.
    pub fn test(mut self, data: impl Into<Option<&'a Dataset>>) -> Self {
        self.test = data.into();
        self
    }

    /// Writes a [`Checkpoint`] to `path` after every `every` epochs (and after the last,
    /// and when training stops early or is stopped), atomically: a crash leaves the
    /// previous checkpoint whole. `every` 0 counts as 1.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>, every: usize) -> Self {
        self.checkpoint = Some((path.into(), every.max(1)));
        self
    }

    /// Continues the run `from` was written by: the network given to [`Trainer::fit`]
    /// (which must have the checkpoint's architecture) gets its weights, and training
    /// goes on from the epoch after it, with its optimiser state, random numbers,
    /// example order, history and early-stopping state. With the same settings (only
    /// `epochs` and `threads` may differ) and thread count, the weights at the end are
    /// the same, bit for bit, as those of a run that was never interrupted; with another
    /// thread count or number of workers ([`Trainer::workers`]), the same up to the
    /// order of float additions. A checkpoint of a run that completed its epochs goes
    /// on to `epochs` when that is more; one that stopped early stays stopped.
    pub fn resume(mut self, from: Checkpoint) -> Self {
        self.resume = Some(from);
        self
    }

    /// Starts from the optimiser state in `state` (momentum's velocity, Adam's moments
    /// and step count) instead of a fresh one, and leaves the run's final state in it,
    /// so that calls to [`Trainer::fit`] one after another continue one optimisation:
    /// the Python package's `partial_fit`. An empty state (`OptimizerState::default()`)
    /// or one of another optimiser or architecture is replaced by a fresh one first.
    pub fn carry_optimizer(mut self, state: &'a mut OptimizerState) -> Self {
        self.carried = Some(state);
        self
    }

    /// Who hears about progress and may stop training (default: nobody, [`Silent`]).
    pub fn observer(mut self, observer: &'a mut (dyn Observer + Send)) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Trains `network` on `train`:
    ///
    /// ```text
    /// for each epoch:
    ///     the steps (step.rs: forward, loss, backward, update per batch)
    ///     measure the validation and test sets
    ///     report; keep the weights; stop early when validation stops improving
    /// ```
    ///
    /// The network left behind is always one whose every epoch finished: an
    /// interrupted or diverged epoch is rolled back, and early stopping restores the best
    /// epoch's weights.
    ///
    /// # Errors
    /// - [`Error::Config`] for impossible settings, a loss that does not fit the output
    ///   layer, or early stopping without a validation set;
    /// - [`Error::StepNotTrainable`] for a network with a step activation;
    /// - [`Error::InputWidth`] / [`Error::Shape`] when the data does not fit the network;
    /// - [`Error::Diverged`] when the loss becomes NaN or infinite — the network then has
    ///   the weights of the last finished epoch.
    pub fn fit(self, network: &mut Network, train: &Dataset) -> Result<History> {
        // Matrix products share their blocks between the threads of one pool, which
        // the whole loop runs in (see `tensor::with_threads`).
        let threads = self.config.threads;
        crate::tensor::with_threads(threads, move || self.fit_here(network, train))?
    }

    fn fit_here(self, network: &mut Network, train: &Dataset) -> Result<History> {
        let Trainer {
            config,
            validation,
            test,
            observer,
            checkpoint,
            resume,
            carried,
            workers,
        } = self;
        let mut silent = Silent;
        let observer: &mut (dyn Observer + Send) = match observer {
            Some(o) => o,
            None => &mut silent,
        };
        check(&config, network, train, validation, test)?;
        if let Some(w) = workers {
            check_workers(&config, w.size())?;
        }

        let mut run = Run::new(&config, network, train, workers);
        if let Some(state) = &carried {
            if state.same_layout(&run.state) {
                run.state = (*state).clone();
            }
        }
        let history = Self::epochs(
            &config, network, train, validation, test, observer, checkpoint, resume, &mut run,
        );
        if let Some(state) = carried {
            *state = std::mem::take(&mut run.state);
        }
        history
    }

    /// The epochs of [`Trainer::fit`], after its checks, on `run`.
    #[allow(clippy::too_many_arguments)]
    fn epochs(
        config: &TrainConfig,
        network: &mut Network,
        train: &Dataset,
        validation: Option<&Dataset>,
        test: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
        checkpoint: Option<(PathBuf, usize)>,
        resume: Option<Checkpoint>,
        run: &mut Run<'_>,
    ) -> Result<History> {
        let mut early = config.early_stopping.map(EarlyStopping::new);
        let mut history = History {
            epochs: Vec::new(),
            stop: StopReason::Completed,
        };
        let mut first = 0;
        if let Some(from) = resume {
            first = from.state.epoch;
            let stop = from.state.stop;
            run.resume(config, network, from, &mut history, &mut early)?;
            // A run that ran all its epochs goes on when more are asked for; one that
            // stopped early stays stopped.
            let more = stop == Some(StopReason::Completed) && config.epochs > first;
            if let Some(stop) = stop.filter(|_| !more) {
                history.stop = stop;
                return Ok(history);
            }
        }
        let mut last_good = network.layers().to_vec();
        for epoch in first..config.epochs {
            let end = run.epoch(network, epoch, observer);
            let rollback =
                |network: &mut Network| network.layers_mut().clone_from_slice(&last_good);
            let steps = match end {
                EpochEnd::Finished(steps) => steps,
                EpochEnd::Interrupted => {
                    rollback(network);
                    history.stop = StopReason::Interrupted;
                    break;
                }
                EpochEnd::Diverged(loss) => {
                    rollback(network);
                    return Err(Error::Diverged {
                        epoch: epoch + 1,
                        loss,
                    });
                }
                EpochEnd::Failed(message) => {
                    rollback(network);
                    return Err(Error::Workers {
                        epoch: epoch + 1,
                        message,
                    });
                }
            };
            // A streamed file that failed to read gave zeros: this epoch does not count.
            if let Some(error) = run.data.stream_error() {
                rollback(network);
                return Err(error);
            }
            let measure = |data: Option<&Dataset>| {
                data.map(|d| evaluate_with(network, d, config.loss, run.eval_par))
                    .transpose()
            };
            let (val, tst) = (measure(validation)?, measure(test)?);
            if let Some(v) = val.as_ref().filter(|v| !v.loss.is_finite()) {
                let loss = v.loss;
                rollback(network);
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    loss,
                });
            }
            let report = EpochReport {
                epoch: epoch + 1,
                train_loss: steps.loss_sum / steps.examples as f64,
                train_accuracy: matches!(train.targets(), Targets::Classes(_))
                    .then(|| steps.correct as f64 / steps.examples as f64),
                validation_loss: val.as_ref().map(|e| e.loss),
                validation_accuracy: val.as_ref().and_then(|e| e.accuracy),
                test_loss: tst.as_ref().map(|e| e.loss),
                test_accuracy: tst.as_ref().and_then(|e| e.accuracy),
                learning_rate: steps.learning_rate,
                seconds: steps.seconds,
                threads: steps.threads,
            };
            last_good.clone_from_slice(network.layers());
            let control = observer.on_epoch_with_network(&report, network);
            history.epochs.push(report);
            let mut stop = None;
            if let (Some(early), Some(v)) = (&mut early, &val) {
                if let Some(best_epoch) = early.after_epoch(epoch + 1, v.loss, network) {
                    stop = Some(StopReason::EarlyStopped { best_epoch });
                }
            }
            if let Some((path, every)) = &checkpoint {
                let last = epoch + 1 == config.epochs;
                if (epoch + 1) % every == 0 || last || stop.is_some() || control == Control::Stop {
                    let done = if last {
                        Some(StopReason::Completed)
                    } else {
                        stop
                    };
                    run.checkpoint(epoch + 1, done, network, &history, &early)
                        .save(path)?;
                }
            }
            if let Some(stop) = stop {
                history.stop = stop;
                break;
            }
            if control == Control::Stop {
                history.stop = StopReason::Interrupted;
                break;
            }
        }
        Ok(history)
    }
}

/// Checks the settings, the network and the data before anything runs.
fn check(
    config: &TrainConfig,
    network: &Network,
    train: &Dataset,
    validation: Option<&Dataset>,
    test: Option<&Dataset>,
) -> Result<()> {
    config.validate()?;
    network.check_trainable()?;
    config.loss.check_output(network.output_activation())?;
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
             (Trainer::validation; Dataset::split holds one out of the training set)"
                .into(),
        ));
    }
    Ok(())
}

/// Checks that a run can be shared by `size` workers.
fn check_workers(config: &TrainConfig, size: usize) -> Result<()> {
    if config.optimizer.is_full_batch() {
        return Err(Error::Config(format!(
            "{size} workers: full-batch optimisers (Rprop) are not split between workers; \
             use SGD, momentum or Adam"
        )));
    }
    if config.batch_size == 1 {
        return Err(Error::Config(format!(
            "{size} workers: online learning (batch size 1) makes one update per example, \
             which cannot be split between workers; use a batch size of at least {size}"
        )));
    }
    if config.batch_size < size {
        return Err(Error::Config(format!(
            "{size} workers need a batch size of at least {size}, one example each \
             (got {})",
            config.batch_size
        )));
    }
    Ok(())
}

/// The state of a run between epochs: the order of the examples, the random numbers,
/// the optimiser's memory, the step's buffers, and how the steps are run.
struct Run<'a> {
    config: &'a TrainConfig,
    data: &'a Dataset,
    rng: Rng,
    order: Vec<usize>,
    state: OptimizerState,
    buffers: step::Buffers,
    batch: usize,
    /// Threads sharing each step by bands of neurons.
    threads: usize,
    /// What the step's matrix products may use.
    par: Parallelism,
    /// What evaluation between epochs may use.
    eval_par: Parallelism,
    /// The other workers of a data-parallel run.
    workers: Option<&'a dyn AllReduce>,
}

/// How an epoch's steps ended.
enum EpochEnd {
    Finished(StepTotals),
    /// The observer asked to stop during the epoch.
    Interrupted,
    /// A batch's loss was NaN or infinite.
    Diverged(f64),
    /// The workers could not sum their gradients.
    Failed(String),
}

/// An epoch's steps, summed up.
struct StepTotals {
    loss_sum: f64,
    correct: usize,
    examples: usize,
    learning_rate: f32,
    seconds: f64,
    /// Threads that ran their bands of every step to the end.
    threads: usize,
}

impl<'a> Run<'a> {
    fn new(
        config: &'a TrainConfig,
        network: &Network,
        data: &'a Dataset,
        workers: Option<&'a dyn AllReduce>,
    ) -> Self {
        let full_batch = config.optimizer.is_full_batch();
        let batch = if full_batch {
            FULL_BATCH_CHUNK_ROWS
        } else {
            config.batch_size
        }
        .min(data.len());
        // This worker's rows of a batch (all of them with one worker).
        let local = workers.map_or(batch, |w| share_of_batch(batch, w.size(), 0).len());
        // A step is shared out by bands of neurons when each thread gets enough work;
        // otherwise one thread runs it, and its big matrix products may use the others.
        let threads = config.threads.min(rayon::current_num_threads()).max(1);
        let banded = threads > 1
            && !full_batch
            && local >= 2
            && local * network.parameter_count() / threads >= step::SPLIT_MIN_WORK
            && step::can_split(network);
        let many = if config.threads > 1 {
            Parallelism::Threads(config.threads)
        } else {
            Parallelism::Sequential
        };
        Run {
            config,
            data,
            rng: Rng::new(config.seed),
            order: (0..data.len()).collect(),
            state: OptimizerState::new(&config.optimizer, network.layers()),
            buffers: step::Buffers::new(network, data, local, config.dropout),
            batch,
            threads: if banded { threads } else { 1 },
            par: if banded {
                Parallelism::Sequential
            } else {
                many
            },
            eval_par: many,
            workers,
        }
    }

    /// The run's state after `epoch` epochs, with `network`'s weights.
    fn checkpoint(
        &self,
        epoch: usize,
        stop: Option<StopReason>,
        network: &Network,
        history: &History,
        early: &Option<EarlyStopping>,
    ) -> Checkpoint {
        let best = early.as_ref().and_then(|e| e.best.as_ref());
        Checkpoint {
            state: checkpoint::State {
                config: self.config.clone(),
                epoch,
                stop,
                rng: self.rng.state().map(|w| w.to_string()),
                steps: self.state.steps(),
                history: history.epochs.clone(),
                best: best.map(|(loss, at, _)| (*loss, *at)),
                activations: network.layers().iter().map(Dense::activation).collect(),
            },
            network: network.clone(),
            optimizer: self.state.clone(),
            order: self.order.clone(),
            best_weights: best.map(|(_, _, w)| w.clone()),
        }
    }

    /// Puts the run, `network`, the history and early stopping where `from` left them.
    fn resume(
        &mut self,
        config: &TrainConfig,
        network: &mut Network,
        from: Checkpoint,
        history: &mut History,
        early: &mut Option<EarlyStopping>,
    ) -> Result<()> {
        let mismatch = |what: &str| {
            Error::Config(format!(
                "cannot resume: the checkpoint's {what} differs from this run's"
            ))
        };
        // Threads change only the order of float additions (a run may go on under
        // `mpirun` with another number of ranks, each with its own cores).
        let same_but_epochs = TrainConfig {
            epochs: config.epochs,
            threads: config.threads,
            ..from.state.config.clone()
        };
        if &same_but_epochs != config {
            return Err(mismatch("training settings"));
        }
        let shape = |n: &Network| {
            n.layers()
                .iter()
                .map(|l| (l.inputs(), l.outputs(), l.activation()))
                .collect::<Vec<_>>()
        };
        if shape(network) != shape(&from.network) {
            return Err(mismatch("network architecture"));
        }
        let n = self.order.len();
        let mut seen = vec![false; n];
        for &i in &from.order {
            if i >= n || std::mem::replace(&mut seen[i], true) {
                return Err(mismatch("example order (is it the same data?)"));
            }
        }
        if from.order.len() != n {
            return Err(mismatch("number of training examples"));
        }
        let mut rng = [0u64; 4];
        for (word, text) in rng.iter_mut().zip(&from.state.rng) {
            *word = text
                .parse()
                .map_err(|_| mismatch("random generator state (it is not a number)"))?;
        }
        network.layers_mut().clone_from_slice(from.network.layers());
        self.rng = Rng::from_state(rng);
        self.order = from.order;
        self.state = from.optimizer;
        history.epochs = from.state.history;
        if let (Some(early), Some((loss, at)), Some(weights)) =
            (early.as_mut(), from.state.best, from.best_weights)
        {
            early.best = Some((loss, at, weights));
        }
        Ok(())
    }

    /// One epoch: shuffle, then every step, reporting each batch to `observer`.
    fn epoch(
        &mut self,
        network: &mut Network,
        epoch: usize,
        observer: &mut (dyn Observer + Send),
    ) -> EpochEnd {
        let started = Instant::now();
        let config = self.config;
        if config.shuffle == Shuffle::EveryEpoch {
            if self.data.is_streamed() {
                stream::shuffle_in_blocks(&mut self.order, &mut self.rng);
            } else {
                self.rng.shuffle(&mut self.order);
            }
        }
        let dropout_key = if config.dropout > 0.0 {
            self.rng.next_u64()
        } else {
            0
        };
        let full_batch = config.optimizer.is_full_batch();
        let batches = self.order.len().div_ceil(self.batch);
        let total_steps = (batches * config.epochs).max(1) as f64;
        let base_lr = config.optimizer.learning_rate();
        // The scheduled learning rate of batch b of this epoch.
        let schedule = |b: usize| {
            let step = (epoch * batches + b) as f64;
            base_lr * config.schedule.factor(epoch, step / total_steps)
        };
        let mut totals = StepTotals {
            loss_sum: 0.0,
            correct: 0,
            examples: 0,
            learning_rate: base_lr,
            seconds: 0.0,
            threads: 0,
        };
        let mut end = None;
        let data = self.data;
        let e = step::Epoch {
            config,
            data,
            order: &self.order,
            batch: self.batch,
            threads: self.threads,
            par: self.par,
            online: self.batch == 1
                && self.workers.is_none()
                && config.dropout == 0.0
                && matches!(config.optimizer, Optimizer::Sgd(_)),
            full_batch,
            scale: full_batch.then(|| 1.0 / data.len() as f32),
            learning_rate: &schedule,
            dropout_key,
            workers: self.workers,
        };
        // A worker reads only its share of each batch.
        let mine: Vec<usize> = match self.workers {
            Some(w) if data.is_streamed() => self
                .order
                .chunks(self.batch)
                .flat_map(|b| &b[share_of_batch(b.len(), w.size(), w.rank())])
                .copied()
                .collect(),
            _ => Vec::new(),
        };
        let ahead = if self.workers.is_some() {
            &mine
        } else {
            &self.order
        };
        // A streamed data set is read a window ahead by a helper thread (data::stream).
        let (used, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        let mut failed = None;
        std::thread::scope(|scope| {
            if data.is_streamed() {
                scope.spawn(|| data.read_ahead(ahead, &used, &stop));
            }
            (totals.threads, failed) = step::run_epoch(
                &mut self.buffers,
                network,
                &mut self.state,
                &e,
                &mut |step| {
                    used.fetch_add(step.rows.len(), Ordering::Release);
                    // (With workers, every one sees the same sums, and so ends the epoch
                    // at the same step.)
                    if step.stop_agreed {
                        end.get_or_insert(EpochEnd::Interrupted);
                        return false;
                    }
                    if !step.loss.is_finite() {
                        end = Some(EpochEnd::Diverged(step.loss));
                        return false;
                    }
                    totals.loss_sum += step.loss;
                    totals.correct += match step.correct {
                        Some(correct) => correct,
                        None => count_correct(data, step.rows, step.outputs),
                    };
                    totals.examples += step.examples;
                    totals.learning_rate = schedule(step.batch);
                    let progress = BatchProgress {
                        epoch: epoch + 1,
                        epochs: config.epochs,
                        examples_done: totals.examples,
                        examples_total: data.len(),
                        loss: totals.loss_sum / totals.examples as f64,
                    };
                    if observer.on_batch(&progress) == Control::Stop {
                        // With workers, a request that all of them learn at the next sum.
                        if self.workers.is_none() {
                            end = Some(EpochEnd::Interrupted);
                        }
                        return false;
                    }
                    true
                },
            );
            stop.store(true, Ordering::Release);
        });
        if full_batch {
            totals.learning_rate = 0.0;
        }
        totals.seconds = started.elapsed().as_secs_f64();
        if let Some(message) = failed {
            return EpochEnd::Failed(message);
        }
        end.unwrap_or(EpochEnd::Finished(totals))
    }
}

/// Early stopping: remembers the epoch with the lowest validation loss and its weights,
/// and after `patience` epochs without a lower one, puts those weights back.
struct EarlyStopping {
    patience: usize,
    best: Option<(f64, usize, Vec<Dense>)>,
}

impl EarlyStopping {
    fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            best: None,
        }
    }

    /// After epoch `epoch` (from 1) with validation loss `loss`: `Some(best epoch)` when
    /// training should stop, with the best epoch's weights restored into `network`.
    fn after_epoch(&mut self, epoch: usize, loss: f64, network: &mut Network) -> Option<usize> {
        match &mut self.best {
            Some((best, _, _)) if loss >= *best => {}
            Some((best, at, weights)) => {
                (*best, *at) = (loss, epoch);
                weights.clone_from_slice(network.layers());
            }
            None => self.best = Some((loss, epoch, network.layers().to_vec())),
        }
        let (_, at, weights) = self.best.as_ref()?;
        if epoch - at >= self.patience {
            network.layers_mut().clone_from_slice(weights);
            return Some(*at);
        }
        None
    }
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
