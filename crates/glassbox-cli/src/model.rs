//! Model files as the commands see them: loading with the file named in every error,
//! and making a data set fit a model (its scaler, its class order, its input width).

use crate::args::DataArgs;
use anyhow::{bail, Result};
use glassbox::data::Dataset;
use glassbox::io::{Loaded, ModelInfo};
use glassbox::metrics::Evaluation;
use glassbox::quant::QuantizedNetwork;
use glassbox::tensor::Tensor;
use glassbox::{Activation, Loss, Network};
use std::path::{Path, PathBuf};

/// A loaded model.
pub struct Model {
    /// The network.
    pub network: Network,
    /// What was saved with it.
    pub info: ModelInfo,
    /// The file it came from.
    pub path: PathBuf,
    /// The int8 network, when the file is an int8 model; `network` then holds its
    /// dequantized weights (W = s·q), for shapes and statistics.
    pub int8: Option<QuantizedNetwork>,
}

impl Model {
    /// Loads the model file `path`; a file of weights alone is refused with a message
    /// that says what can be done with it.
    pub fn load(path: &Path) -> Result<Model> {
        if std::fs::read(path).is_ok_and(|b| glassbox::quant::is_quantized_file(&b)) {
            bail!(
                "{}: an int8 model; this command needs the float model it was quantized from \
                 (int8 models run in evaluate, predict, inspect and serve)",
                path.display()
            );
        }
        match open(path)? {
            Loaded::Model { network, info } => Ok(Model {
                network,
                info,
                path: path.to_path_buf(),
                int8: None,
            }),
            Loaded::Weights(_) => bail!(
                "{}: weights without a glassbox architecture (a PyTorch state dict?): make a \
                 model of them with `glassbox import --torch {} --activations …`, or train \
                 from them with `glassbox train --init-from {} --layers …`",
                path.display(),
                path.display(),
                path.display()
            ),
        }
    }

    /// Loads `path`, a float or an int8 model (for the commands that only run it).
    pub fn load_any(path: &Path) -> Result<Model> {
        let bytes = std::fs::read(path).unwrap_or_default();
        if !glassbox::quant::is_quantized_file(&bytes) {
            return Model::load(path);
        }
        let (int8, info) = glassbox::quant::load(path)?;
        Ok(Model {
            network: int8.dequantize()?,
            info,
            path: path.to_path_buf(),
            int8: Some(int8),
        })
    }

    /// The outputs for rows of features: the int8 network's when there is one.
    pub fn predict(&self, features: &[f32]) -> Result<Tensor> {
        Ok(match &self.int8 {
            Some(int8) => int8.predict(features)?,
            None => self.network.predict(features)?,
        })
    }

    /// The model measured on `data` with `loss`.
    pub fn evaluate(&self, data: &Dataset, loss: Loss) -> Result<Evaluation> {
        Ok(match &self.int8 {
            Some(int8) => glassbox::quant::evaluate(int8, data, loss)?,
            None => glassbox::metrics::evaluate(&self.network, data, loss)?,
        })
    }

    /// The loss to measure the model with: the one it was trained with, else the usual
    /// partner of its output layer.
    pub fn loss(&self) -> Loss {
        self.info
            .loss
            .unwrap_or_else(|| default_loss(self.network.output_activation()))
    }

    /// Whether the model predicts real values rather than classes: it has no class
    /// names and no softmax output. Its CSV data is then read as regression.
    pub fn is_regression(&self) -> bool {
        self.info.class_names.is_empty() && self.network.output_activation() != Activation::Softmax
    }

    /// The data options for this model: regression when the model is.
    pub fn data_args(&self, given: &DataArgs) -> DataArgs {
        DataArgs {
            label_column: given.label_column.clone(),
            regression: given.regression || self.is_regression(),
            stream: given.stream,
        }
    }

    /// The name of class `index` (its number when the model has no names).
    pub fn class_name(&self, index: usize) -> String {
        class_name(&self.info.class_names, index)
    }

    /// Makes `data` fit this model: checks its width, applies the model's scaler, and
    /// renumbers its classes into the model's order (matched by name). `what` names the
    /// data in errors.
    pub fn prepare(&self, data: Dataset, what: &str) -> Result<Dataset> {
        let inputs = self.network.inputs();
        if data.width() != inputs {
            bail!(
                "{what} has {} features per example but the model {} takes {inputs}{}",
                data.width(),
                self.path.display(),
                shape_hint(&self.info)
            );
        }
        let mut data = relabel(data, &self.info.class_names, what)?;
        if data.target_width() != self.network.outputs() {
            bail!(
                "{what} has {} classes/targets but the model {} has {} outputs",
                data.target_width(),
                self.path.display(),
                self.network.outputs()
            );
        }
        if let Some(scaler) = &self.info.scaler {
            scaler.apply(&mut data)?;
        }
        Ok(data)
    }
}

/// Reads `path`: a model file, or weights alone. The library's errors name the file, the
/// record and what was expected.
pub fn open(path: &Path) -> Result<Loaded> {
    if !path.exists() {
        bail!(
            "{}: no such model file (train one with `glassbox train --out {}`)",
            path.display(),
            path.display()
        );
    }
    Ok(glassbox::io::load_any(path)?)
}

/// " (images of H×W×C)" when the model knows its inputs are images.
fn shape_hint(info: &ModelInfo) -> String {
    info.image_shape
        .map(|s| format!(" (images of {s})"))
        .unwrap_or_default()
}

/// The usual loss for an output activation: cross-entropy after softmax, else MSE.
pub fn default_loss(output: Activation) -> Loss {
    match output {
        Activation::Softmax => Loss::CrossEntropy,
        _ => Loss::Mse,
    }
}

/// The name of class `index` in `names`, or the number.
pub fn class_name(names: &[String], index: usize) -> String {
    names
        .get(index)
        .cloned()
        .unwrap_or_else(|| index.to_string())
}

/// Renumbers the classes of `data` to the order of `names` (matching by name), so
/// that class k means the same in both. Leaves regression data and data already in
/// that order alone.
pub fn relabel(data: Dataset, names: &[String], what: &str) -> Result<Dataset> {
    let Some(labels) = data.labels() else {
        return Ok(data);
    };
    if names.is_empty() || data.class_names() == names {
        return Ok(data);
    }
    let mut map = Vec::with_capacity(data.classes());
    for name in data.class_names() {
        match names.iter().position(|n| n == name) {
            Some(k) => map.push(k),
            None => bail!(
                "{what} has a class {name:?} that the model does not know (its classes are {})",
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    let labels = labels.iter().map(|&l| map[l]).collect();
    Ok(data.with_classes(labels, names.to_vec())?)
}
