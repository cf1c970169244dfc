//! The live dashboard of a command-line training run (`glassbox train … --dashboard`).
//!
//! ```text
//! glassbox train ── Trainer::fit ── Watch (an Observer wrapping the CLI's progress bar)
//!                                      │ on_batch: the running loss, ≤ 100 points an epoch
//!                                      │ on_epoch_with_network: figures + weight histograms
//!                                      ▼
//!                                  Dashboard ── GET /api/dashboard/stream (SSE) ──▶ page
//! ```
//!
//! The dashboard only records what the trainer reports; the run is the CLI's own.

use crate::layers;
use crate::playground::lock;
use glassbox::train::{BatchProgress, Control, EpochReport, Observer};
use glassbox::Network;
use serde::Serialize;
use std::sync::Mutex;
use tokio::sync::watch;

/// Bins of each weight histogram.
pub const HISTOGRAM_BINS: usize = 30;
/// Running-loss points kept per epoch.
pub const BATCH_POINTS_PER_EPOCH: usize = 100;

/// One finished epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRow {
    /// The trainer's report.
    #[serde(flatten)]
    pub report: EpochReport,
    /// Training examples per second of training work in this epoch.
    pub examples_per_second: f64,
}

/// The weights of one layer after one epoch, binned.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// The epoch (1-based).
    pub epoch: usize,
    /// The smallest weight.
    pub min: f32,
    /// The largest weight.
    pub max: f32,
    /// How many weights fall in each of [`HISTOGRAM_BINS`] equal bins from min to max.
    pub counts: Vec<u32>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DashboardState {
    /// What is trained on what.
    pub title: String,
    /// "training", or how the run ended.
    pub status: String,
    /// Epochs planned.
    pub epochs_planned: usize,
    /// Finished epochs.
    pub epochs: Vec<EpochRow>,
    /// (epochs done as a fraction, the epoch's running mean loss so far).
    pub batches: Vec<(f64, f64)>,
    /// Per layer, the weight histogram after each epoch.
    pub histograms: Vec<Vec<Histogram>>,
    /// When early stopping ended the run: the best epoch, whose weights were kept (the
    /// charts mark it).
    pub best_epoch: Option<usize>,
}

/// A training run's live record, shared by the trainer's thread and the server.
pub struct Dashboard {
    state: Mutex<DashboardState>,
    changes: watch::Sender<u64>,
    examples: usize,
}

impl Dashboard {
    /// A dashboard for a run described by `title`, of `epochs` epochs over `examples`
    /// training examples.
    pub fn new(title: impl Into<String>, epochs: usize, examples: usize) -> Self {
        Dashboard {
            state: Mutex::new(DashboardState {
                title: title.into(),
                status: "training".into(),
                epochs_planned: epochs,
                ..DashboardState::default()
            }),
            changes: watch::channel(0).0,
            examples,
        }
    }

    /// A copy of what the page shows.
    pub fn snapshot(&self) -> DashboardState {
        lock(&self.state).clone()
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Records the running loss (at most [`BATCH_POINTS_PER_EPOCH`] points an epoch).
    pub fn batch(&self, progress: &BatchProgress) {
        let total = progress.examples_total.max(1);
        let at = (progress.epoch - 1) as f64 + progress.examples_done as f64 / total as f64;
        {
            let mut state = lock(&self.state);
            let spacing = 1.0 / BATCH_POINTS_PER_EPOCH as f64;
            if state
                .batches
                .last()
                .is_some_and(|&(last, _)| at - last < spacing)
                && progress.examples_done < total
            {
                return;
            }
            state.batches.push((at, progress.loss));
        }
        self.changed();
    }

    /// Records a finished epoch and the weights it left.
    pub fn epoch(&self, report: &EpochReport, network: &Network) {
        let histograms: Vec<Histogram> = layers::views(network)
            .iter()
            .map(|layer| histogram(report.epoch, layer.weights))
            .collect();
        {
            let mut state = lock(&self.state);
            state.epochs.push(EpochRow {
                report: report.clone(),
                examples_per_second: self.examples as f64 / report.seconds.max(1e-9),
            });
            if state.histograms.len() < histograms.len() {
                state.histograms.resize(histograms.len(), Vec::new());
            }
            for (layer, h) in state.histograms.iter_mut().zip(histograms) {
                layer.push(h);
            }
        }
        self.changed();
    }

    /// Marks the run as ended, with `status` saying how.
    pub fn finish(&self, status: impl Into<String>) {
        lock(&self.state).status = status.into();
        self.changed();
    }

    /// Marks the run as stopped early, keeping `best_epoch`'s weights.
    pub fn stopped_early(&self, best_epoch: usize, status: impl Into<String>) {
        lock(&self.state).best_epoch = Some(best_epoch);
        self.finish(status);
    }
}

fn histogram(epoch: usize, weights: &[f32]) -> Histogram {
    let (min, max) = weights
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &w| {
            (lo.min(w), hi.max(w))
        });
    let span = if max > min { max - min } else { 1.0 };
    let mut counts = vec![0u32; HISTOGRAM_BINS];
    for &w in weights {
        let bin = (((w - min) / span) * HISTOGRAM_BINS as f32) as usize;
        counts[bin.min(HISTOGRAM_BINS - 1)] += 1;
    }
    Histogram {
        epoch,
        min,
        max,
        counts,
    }
}

/// An observer that records into a [`Dashboard`] and passes everything on to `inner`
/// (the command line's progress bar), whose answers it returns.
pub struct Watch<'a, O: Observer + Send> {
    inner: &'a mut O,
    dashboard: &'a Dashboard,
}

impl<'a, O: Observer + Send> Watch<'a, O> {
    /// Wraps `inner`.
    pub fn new(inner: &'a mut O, dashboard: &'a Dashboard) -> Self {
        Watch { inner, dashboard }
    }
}

impl<O: Observer + Send> Observer for Watch<'_, O> {
    fn on_batch(&mut self, progress: &BatchProgress) -> Control {
        self.dashboard.batch(progress);
        self.inner.on_batch(progress)
    }

    fn on_epoch_with_network(&mut self, report: &EpochReport, network: &Network) -> Control {
        self.dashboard.epoch(report, network);
        self.inner.on_epoch_with_network(report, network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_every_weight_once() {
        let h = histogram(3, &[-1.0, -1.0, 0.0, 0.5, 1.0]);
        assert_eq!(h.counts.iter().sum::<u32>(), 5);
        assert_eq!(h.counts[0], 2);
        assert_eq!(
            h.counts[HISTOGRAM_BINS - 1],
            1,
            "the maximum is in the last bin"
        );
        assert_eq!((h.min, h.max, h.epoch), (-1.0, 1.0, 3));
    }
}
