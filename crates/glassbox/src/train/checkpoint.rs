//! Checkpoints: everything a run needs to continue exactly where it stopped.
//!
//! After an epoch the trainer can write (see [`crate::Trainer::checkpoint`]) the
//! weights, the optimiser's memory (momentum velocities, Adam's moments and step count,
//! Rprop's step sizes), the random generator's state, the current order of the
//! examples, the history, and early stopping's best epoch and weights. A run resumed
//! from it ([`crate::Trainer::resume`]) with the same settings and thread count ends
//! with the same weights, bit for bit, as a run that was never interrupted: the state
//! is the whole state, and a step does not depend on anything else.
//!
//! The file is one safetensors file (the tensors, and the rest as JSON in its metadata)
//! written atomically: a crash while writing leaves the previous checkpoint whole.

use super::{EpochReport, StopReason, TrainConfig};
use crate::activation::Activation;
use crate::layer::Dense;
use crate::network::Network;
use crate::optim::OptimizerState;
use crate::tensor::Tensor;
use crate::{io, Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The metadata key of the checkpoint's JSON state.
const STATE_KEY: &str = "glassbox.checkpoint";

/// A run's state after a finished epoch.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub(super) state: State,
    /// The weights after `state.epoch` epochs.
    pub(super) network: Network,
    pub(super) optimizer: OptimizerState,
    /// The example order of the last epoch (the next shuffle starts from it).
    pub(super) order: Vec<usize>,
    /// Early stopping's best epoch's weights.
    pub(super) best_weights: Option<Vec<Dense>>,
}

/// The part of a checkpoint that is not tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct State {
    /// The settings of the run (a resumed run must use the same).
    pub config: TrainConfig,
    /// Epochs finished.
    pub epoch: usize,
    /// Why the run had ended, when it had (last epoch, or early stopping).
    pub stop: Option<StopReason>,
    /// The random generator's state, as decimal strings (JSON numbers lose u64 bits).
    pub rng: [String; 4],
    /// The optimiser's step count.
    pub steps: u32,
    /// The reports of the finished epochs.
    pub history: Vec<EpochReport>,
    /// Early stopping's best validation loss and its epoch.
    pub best: Option<(f64, usize)>,
    /// Each layer's activation, from the input side.
    pub activations: Vec<Activation>,
}

impl Checkpoint {
    /// Epochs finished when the checkpoint was written.
    pub fn epoch(&self) -> usize {
        self.state.epoch
    }

    /// The settings of the run.
    pub fn config(&self) -> &TrainConfig {
        &self.state.config
    }

    /// The network as the checkpoint holds it.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The reports of the finished epochs.
    pub fn history(&self) -> &[EpochReport] {
        &self.state.history
    }

    /// Writes the checkpoint to `path`, atomically (the old file stays whole until the
    /// new one is complete).
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when it cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_string(&self.state)
            .map_err(|e| Error::format(path, "metadata", format!("cannot encode: {e}")))?;
        let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let mut layers = |prefix: &str, layers: &[Dense]| {
            for (l, layer) in layers.iter().enumerate() {
                let (o, i) = (layer.outputs(), layer.inputs());
                let w = f32s(layer.weights().as_slice());
                tensors.push((format!("{prefix}.{l}.weight"), vec![o, i], Dtype::F32, w));
                let b = f32s(layer.biases());
                tensors.push((format!("{prefix}.{l}.bias"), vec![o], Dtype::F32, b));
            }
        };
        layers("network", self.network.layers());
        if let Some(best) = &self.best_weights {
            layers("best", best);
        }
        for (name, values) in self.optimizer.named_buffers() {
            let shape = vec![values.len()];
            tensors.push((format!("optimizer.{name}"), shape, Dtype::F32, f32s(values)));
        }
        let order: Vec<u8> = self
            .order
            .iter()
            .flat_map(|&i| (i as u64).to_le_bytes())
            .collect();
        tensors.push(("order".into(), vec![self.order.len()], Dtype::U64, order));
        let mut views = Vec::with_capacity(tensors.len());
        for (name, shape, dtype, bytes) in &tensors {
            let view = TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| Error::format(path, name.as_str(), format!("{e:?}")))?;
            views.push((name.as_str(), view));
        }
        let metadata = HashMap::from([(STATE_KEY.to_string(), json)]);
        let bytes = safetensors::serialize(views, Some(metadata))
            .map_err(|e| Error::format(path, "header", format!("cannot encode: {e:?}")))?;
        crate::file::write_atomically(path, &bytes)
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the part
    /// when it is not a whole glassbox checkpoint.
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (tensors, metadata) = io::parse(path, &bytes)?;
        let json = metadata
            .as_ref()
            .and_then(|m| m.get(STATE_KEY))
            .ok_or_else(|| {
                Error::format(
                    path,
                    "metadata",
                    "not a glassbox checkpoint (no training state)",
                )
            })?;
        let state: State = serde_json::from_str(json)
            .map_err(|e| Error::format(path, "metadata", format!("bad training state: {e}")))?;
        let read_layers = |prefix: &str| -> Result<Vec<Dense>> {
            let mut layers = Vec::with_capacity(state.activations.len());
            for (l, &activation) in state.activations.iter().enumerate() {
                let name = format!("{prefix}.{l}.weight");
                let (shape, w) = io::read_f32(path, &tensors, &name)?;
                let (_, b) = io::read_f32(path, &tensors, &format!("{prefix}.{l}.bias"))?;
                let bad = |e: Error| Error::format(path, name.as_str(), e.to_string());
                let [outputs, inputs] = shape[..] else {
                    return Err(Error::format(path, name.as_str(), "is not a matrix"));
                };
                let weights = Tensor::from_vec(outputs, inputs, w).map_err(bad)?;
                layers.push(Dense::from_parts(weights, b, activation).map_err(bad)?);
            }
            Ok(layers)
        };
        let network = Network::from_layers(read_layers("network")?)
            .map_err(|e| Error::format(path, "network", e.to_string()))?;
        let best_weights = match state.best {
            Some(_) => Some(read_layers("best")?),
            None => None,
        };
        let mut optimizer = OptimizerState::new(&state.config.optimizer, network.layers());
        for (name, values) in optimizer.named_buffers_mut() {
            let key = format!("optimizer.{name}");
            let (_, stored) = io::read_f32(path, &tensors, &key)?;
            if stored.len() != values.len() {
                return Err(Error::format(
                    path,
                    key,
                    format!(
                        "holds {} values, the network needs {}",
                        stored.len(),
                        values.len()
                    ),
                ));
            }
            values.copy_from_slice(&stored);
        }
        optimizer.set_steps(state.steps);
        let order = read_order(path, &tensors)?;
        Ok(Checkpoint {
            state,
            network,
            optimizer,
            order,
            best_weights,
        })
    }
}

/// The example order: u64 indices, each below the number of examples (checked by the
/// trainer against the data when it resumes).
fn read_order(path: &Path, tensors: &SafeTensors<'_>) -> Result<Vec<usize>> {
    let view = tensors
        .tensor("order")
        .map_err(|e| Error::format(path, "order", format!("cannot be read: {e:?}")))?;
    if view.dtype() != Dtype::U64 {
        return Err(Error::format(path, "order", "is not a u64 tensor"));
    }
    Ok(view
        .data()
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .collect())
}
