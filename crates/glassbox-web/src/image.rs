//! The image classifier: train on the embedded digits (or Fashion-MNIST when it is
//! installed), or open a model file `glassbox train` saved; then run a drawn or a test
//! image through it and see every layer.
//!
//! ```text
//! POST /api/image/train    {"dataset": "digits", "hidden": [64], "epochs": 20, "seed": 1}
//! POST /api/image/open     {"path": "model.safetensors"}   reads that one file
//! POST /api/image/predict  {"pixels": [h·w·c values in 0–1]} → every layer's activations
//! POST /api/image/test     {"index": i}                     → test image i's pixels
//! ```
//!
//! Both `train` and `open` answer with the model's summary: shape, classes, every
//! first-layer neuron's weights (to draw as images) and, when a test set of the same
//! images and classes is at hand, the test confusion matrix with the misclassified
//! images of each cell.

use crate::layers;
use base64::Engine as _;
use glassbox::data::{digits, idx, Dataset, ImageShape};
use glassbox::network::argmax;
use glassbox::optim::Adam;
use glassbox::tensor::Tensor;
use glassbox::{Activation, Init, Loss, ModelInfo, Network, TrainConfig, Trainer, Workspace};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where Debian's `dataset-fashion-mnist` puts Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Most hidden layers the page may ask to train.
pub const MAX_IMAGE_LAYERS: usize = 4;
/// Most neurons per hidden layer the page may ask to train.
pub const MAX_IMAGE_NEURONS: usize = 1024;
/// Most epochs the page may ask for.
pub const MAX_IMAGE_EPOCHS: usize = 100;
/// Misclassified test images kept per confusion-matrix cell.
pub const MISTAKES_PER_CELL: usize = 24;

/// A request to train a classifier from the page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// `digits` (embedded 8×8) or `fashion-mnist` (installed 28×28).
    pub dataset: String,
    /// Hidden layer widths (ReLU), from the input side.
    pub hidden: Vec<usize>,
    /// Passes over the training set.
    pub epochs: usize,
    /// Seed of the first weights and the shuffling.
    #[serde(default = "one")]
    pub seed: u64,
}

fn one() -> u64 {
    1
}

/// A classifier the page is looking at.
#[derive(Debug, Clone)]
pub struct ImageModel {
    /// Where it came from, in words.
    pub source: String,
    /// The network.
    pub network: Network,
    /// Its classes, shape and scaler.
    pub info: ModelInfo,
    /// The image shape of its inputs.
    pub shape: ImageShape,
    /// A test set of the same images and classes (raw pixels, before any scaler).
    pub test: Option<Dataset>,
}

/// Trains a classifier on the request's data set with the library's trainer.
///
/// # Errors
/// A sentence for the page: a bad setting, or a data set that is not installed.
pub fn train(request: &TrainRequest) -> Result<ImageModel, String> {
    if request.hidden.len() > MAX_IMAGE_LAYERS
        || request
            .hidden
            .iter()
            .any(|&n| n == 0 || n > MAX_IMAGE_NEURONS)
    {
        return Err(format!(
            "hidden layers {:?}: the page trains up to {MAX_IMAGE_LAYERS} layers of 1 to {MAX_IMAGE_NEURONS} neurons",
            request.hidden
        ));
    }
    if request.epochs == 0 || request.epochs > MAX_IMAGE_EPOCHS {
        return Err(format!(
            "{} epochs: choose 1 to {MAX_IMAGE_EPOCHS}",
            request.epochs
        ));
    }
    let (train, test, source) = match request.dataset.as_str() {
        "digits" => {
            let (train, test) = digits::train_test().map_err(|e| e.to_string())?;
            (train, test, "the embedded 8×8 digits")
        }
        "fashion-mnist" => {
            let (train, test) = idx::fashion_mnist(FASHION_MNIST_DIR).map_err(|e| {
                format!(
                    "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): {e}"
                )
            })?;
            (train, test, "Fashion-MNIST")
        }
        other => {
            return Err(format!(
                "unknown image data set {other:?}: expected digits or fashion-mnist"
            ))
        }
    };
    let shape = train
        .image_shape()
        .ok_or("the data set has no image shape")?;
    let mut builder = Network::builder(train.width());
    for &n in &request.hidden {
        builder = builder.dense(n, Activation::Relu);
    }
    let mut network = builder
        .dense(train.classes(), Activation::Softmax)
        .build(Init::He, request.seed)
        .map_err(|e| e.to_string())?;
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Adam {
            learning_rate: 0.001,
            ..Adam::default()
        }
        .into(),
        epochs: request.epochs,
        batch_size: 32,
        seed: request.seed,
        threads: glassbox::threads::available(),
        ..TrainConfig::default()
    };
    Trainer::new(config)
        .fit(&mut network, &train)
        .map_err(|e| e.to_string())?;
    let info = ModelInfo {
        class_names: train.class_names().to_vec(),
        image_shape: Some(shape),
        loss: Some(Loss::CrossEntropy),
        scaler: None,
    };
    Ok(ImageModel {
        source: format!(
            "trained here on {source}: {} epochs, seed {}",
            request.epochs, request.seed
        ),
        network,
        info,
        shape,
        test: Some(test),
    })
}

/// Opens a model file that `glassbox train` saved. Only that file is read.
///
/// # Errors
/// The library's message for a missing or malformed file, or why the model is not an
/// image classifier.
pub fn open(path: &Path) -> Result<ImageModel, String> {
    let (network, info) = glassbox::io::load(path).map_err(|e| e.to_string())?;
    let inputs = network.inputs();
    let shape = match info.image_shape {
        Some(shape) => shape,
        None => {
            let side = (inputs as f64).sqrt().round() as usize;
            if side * side != inputs {
                return Err(format!(
                    "{}: the model takes {inputs} inputs and says nothing of an image shape; the image view needs images",
                    path.display()
                ));
            }
            ImageShape::new(side, side, 1)
        }
    };
    if network.output_activation() == Activation::Identity {
        return Err(format!(
            "{}: a regression model (identity outputs); the image view shows classifiers",
            path.display()
        ));
    }
    let test = matching_test_set(&network, &info, shape);
    Ok(ImageModel {
        source: format!("opened {}", path.display()),
        network,
        info,
        shape,
        test,
    })
}

/// The embedded digits' or Fashion-MNIST's test set when its images and classes are the
/// model's.
fn matching_test_set(network: &Network, info: &ModelInfo, shape: ImageShape) -> Option<Dataset> {
    let candidates: [Box<dyn Fn() -> Option<Dataset>>; 2] = [
        Box::new(|| digits::train_test().ok().map(|(_, test)| test)),
        Box::new(|| {
            idx::fashion_mnist(FASHION_MNIST_DIR)
                .ok()
                .map(|(_, test)| test)
        }),
    ];
    candidates.iter().find_map(|load| {
        let test = load()?;
        let same_classes = if info.class_names.is_empty() {
            test.classes() == network.outputs()
        } else {
            test.class_names() == info.class_names.as_slice()
        };
        (test.image_shape() == Some(shape) && same_classes).then_some(test)
    })
}

/// Each first-layer neuron's weights as an image: the range and the weights scaled into
/// 0–255, base64.
#[derive(Debug, Clone, Serialize)]
pub struct WeightImage {
    /// The most negative weight.
    pub min: f32,
    /// The most positive weight.
    pub max: f32,
    /// One byte per input (0 = min, 255 = max), base64.
    pub data: String,
    /// b.
    pub bias: f32,
}

/// The test confusion matrix and the misclassified images of each cell.
#[derive(Debug, Clone, Serialize)]
pub struct Confusion {
    /// Test examples.
    pub examples: usize,
    /// Fraction classified right.
    pub accuracy: f64,
    /// `counts[truth][predicted]`.
    pub counts: Vec<Vec<usize>>,
    /// `mistakes[truth][predicted]`: up to [`MISTAKES_PER_CELL`] test indices.
    pub mistakes: Vec<Vec<Vec<usize>>>,
}

impl ImageModel {
    /// What the page draws once: the network, the classes, the weight images and the
    /// test confusion matrix.
    pub fn summary(&self) -> serde_json::Value {
        let b64 = base64::engine::general_purpose::STANDARD;
        let first = layers::view(&self.network.layers()[0]);
        let weight_images: Vec<WeightImage> = (0..first.outputs)
            .map(|j| {
                let row = &first.weights[j * first.inputs..(j + 1) * first.inputs];
                let (min, max) = row
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &w| {
                        (lo.min(w), hi.max(w))
                    });
                let span = if max > min { max - min } else { 1.0 };
                let bytes: Vec<u8> = row
                    .iter()
                    .map(|&w| ((w - min) / span * 255.0).round() as u8)
                    .collect();
                WeightImage {
                    min,
                    max,
                    data: b64.encode(bytes),
                    bias: first.biases[j],
                }
            })
            .collect();
        serde_json::json!({
            "source": self.source,
            "sizes": self.network.sizes(),
            "activations": layers::views(&self.network).iter().map(|l| l.activation.name()).collect::<Vec<_>>(),
            "classes": self.class_names(),
            "shape": { "height": self.shape.height, "width": self.shape.width, "channels": self.shape.channels },
            "weight_images": weight_images,
            "confusion": self.confusion(),
            "test_images": self.test.as_ref().map_or(0, Dataset::len),
        })
    }

    /// The class names (numbers when the model has none).
    pub fn class_names(&self) -> Vec<String> {
        (0..self.network.outputs())
            .map(|k| {
                self.info
                    .class_names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| k.to_string())
            })
            .collect()
    }

    /// The test set's confusion matrix, when there is a test set.
    pub fn confusion(&self) -> Option<Confusion> {
        let test = self.test.as_ref()?;
        let labels = test.labels()?;
        let mut inputs = test.features().into_owned();
        if let Some(scaler) = &self.info.scaler {
            for row in inputs.chunks_mut(test.width()) {
                scaler.apply_row(row);
            }
        }
        let predicted = self.network.classify(&inputs).ok()?;
        let k = self.network.outputs();
        let mut counts = vec![vec![0; k]; k];
        let mut mistakes = vec![vec![Vec::new(); k]; k];
        for (i, (&truth, &guess)) in labels.iter().zip(&predicted).enumerate() {
            counts[truth][guess] += 1;
            if truth != guess && mistakes[truth][guess].len() < MISTAKES_PER_CELL {
                mistakes[truth][guess].push(i);
            }
        }
        let right: usize = (0..k).map(|c| counts[c][c]).sum();
        Some(Confusion {
            examples: labels.len(),
            accuracy: right as f64 / labels.len().max(1) as f64,
            counts,
            mistakes,
        })
    }

    /// Runs one image (pixels in 0–1, as the data sets store them) through the network.
    ///
    /// # Errors
    /// When the image does not have the model's number of pixels, or a value is not a
    /// finite number.
    pub fn predict(&self, pixels: &[f32]) -> Result<Prediction, String> {
        let started = Instant::now();
        let inputs = self.network.inputs();
        if pixels.len() != inputs {
            return Err(format!(
                "the image has {} values but the model takes {inputs} ({}×{}×{})",
                pixels.len(),
                self.shape.height,
                self.shape.width,
                self.shape.channels
            ));
        }
        if let Some(i) = pixels.iter().position(|p| !p.is_finite()) {
            return Err(format!(
                "pixel {i} is {}: pixels must be numbers",
                pixels[i]
            ));
        }
        let mut x = pixels.to_vec();
        if let Some(scaler) = &self.info.scaler {
            scaler.apply_row(&mut x);
        }
        let x = Tensor::from_vec(1, inputs, x).map_err(|e| e.to_string())?; // [1, in]
        let mut ws = Workspace::forward_only(&self.network, 1);
        self.network.forward(&x, &mut ws);
        let output = ws.output().as_slice().to_vec();
        let best = argmax(&output);
        Ok(Prediction {
            prediction: self.class_names()[best].clone(),
            class: best,
            probabilities: output,
            weighted_sums: ws.weighted_sums(0).as_slice().to_vec(),
            activations: (0..self.network.layers().len())
                .map(|l| ws.activations(l).as_slice().to_vec())
                .collect(),
            server_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Test image `index`: its pixels and class.
    ///
    /// # Errors
    /// When there is no test set or no such image.
    pub fn test_image(&self, index: usize) -> Result<serde_json::Value, String> {
        let test = self
            .test
            .as_ref()
            .ok_or("this model has no test set at hand (its images or classes are not the digits' or Fashion-MNIST's)")?;
        if index >= test.len() {
            return Err(format!(
                "test image {index} does not exist: there are {}",
                test.len()
            ));
        }
        let label = test.labels().map(|l| l[index]).unwrap_or(0);
        Ok(serde_json::json!({
            "index": index,
            "pixels": test.row(index),
            "class": test.class_names().get(label),
        }))
    }
}

/// One image's trip through the network.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The predicted class's name.
    pub prediction: String,
    /// Its index.
    pub class: usize,
    /// The output layer (class probabilities after softmax).
    pub probabilities: Vec<f32>,
    /// z of every first-layer neuron: Σ wᵢxᵢ + b for this image.
    pub weighted_sums: Vec<f32>,
    /// a of every layer, from the first hidden one to the output.
    pub activations: Vec<Vec<f32>>,
    /// Milliseconds the forward pass took in the server.
    pub server_ms: f64,
}

/// A request to open a model file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The file, as the user typed it.
    pub path: PathBuf,
}

/// A request to classify one image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// The pixels, row-major, channels last, in 0–1.
    pub pixels: Vec<f32>,
}

/// A request for one test image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// Its index in the test set.
    pub index: usize,
}
