//! The Lessons view: the article's ideas, one live widget each, every number computed
//! here by the library's own code (`Activation`, `Network`, `Trainer`, the synthetic
//! data and the embedded digits).
//!
//! ```text
//! POST /api/lessons/neuron         {x1, x2, w1, w2, b, activation} → z, a, the graph of f
//! POST /api/lessons/activation     {activation} → f and f′ sampled; whether training accepts it
//! POST /api/lessons/depth          {dataset, neurons, epochs, …} → one hidden layer against two
//! POST /api/lessons/learning-rate  {rates: [η…], epochs, …} → one loss curve per η
//! POST /api/lessons/overfit        {points, neurons, dropout, early_stopping, …} → train/test curves
//! POST /api/lessons/digits         {hidden, epochs, seed, pixels?} → weight images, one image's path
//! ```
//!
//! Every endpoint is stateless: a request carries all its settings and the answer is
//! computed from them alone (seeded, so the same request gives the same answer), which
//! lets a whole class use the lessons with no session; they are computed one per core at
//! a time, the others waiting their turn. Each one is bounded: epochs,
//! points and neurons have caps ([`MAX_EPOCHS`], [`MAX_POINTS`], [`MAX_NEURONS`], …), and
//! a request beyond them is refused with a 400 that names the cap. The digits lesson
//! keeps the last few networks it trained ([`DIGITS_CACHE`]) keyed by their settings: a
//! cache, not a session — a miss trains the same network again.

use crate::image::{self, ImageModel, Prediction, TrainRequest};
use crate::{ApiError, App};
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use glassbox::data::synthetic::Synthetic;
use glassbox::data::Dataset;
use glassbox::optim::{Adam, Sgd};
use glassbox::tensor::Tensor;
use glassbox::train::{Control, EpochReport, Observer, StopReason};
use glassbox::{Activation, Init, Loss, Network, Optimizer, TrainConfig, Trainer, Workspace};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, OnceLock};

/// Samples of f and f′ in a graph.
pub const CURVE_POINTS: usize = 121;
/// The graphs of f span at least z ∈ [−`CURVE_EXTENT`, `CURVE_EXTENT`].
pub const CURVE_EXTENT: f32 = 5.0;
/// Largest input, weight or bias the neuron lesson takes (in absolute value).
pub const MAX_NEURON_VALUE: f32 = 1_000.0;
/// Most epochs a 2-D lesson trains.
pub const MAX_EPOCHS: usize = 300;
/// Most points a 2-D lesson generates (training set).
pub const MAX_POINTS: usize = 1_000;
/// Most neurons in a 2-D lesson's hidden layer.
pub const MAX_NEURONS: usize = 64;
/// Most learning rates compared at once.
pub const MAX_RATES: usize = 4;
/// Heat maps of the decision regions are this many points per side.
pub const GRID: usize = 40;
/// Points in the held-out test set of the 2-D lessons.
pub const TEST_POINTS: usize = 400;
/// Points in the over-fitting lesson's validation set (early stopping watches it).
pub const VALIDATION_POINTS: usize = 200;
/// Most neurons in the digits lesson's hidden layer.
pub const MAX_DIGITS_NEURONS: usize = 64;
/// Most epochs the digits lesson trains.
pub const MAX_DIGITS_EPOCHS: usize = 30;
/// Trained digit networks kept, keyed by their settings.
pub const DIGITS_CACHE: usize = 4;
/// The six activations a neuron may use in the lessons, by the library's names.
pub const NEURON_ACTIVATIONS: [&str; 6] =
    ["step", "identity", "sigmoid", "tanh", "relu", "leaky-relu"];

/// A 400 message.
type Refusal = String;

/// Parses one of [`NEURON_ACTIVATIONS`] with the library's parser.
fn neuron_activation(name: &str) -> Result<Activation, Refusal> {
    let activation: Activation = name.parse()?;
    if activation == Activation::Softmax {
        return Err(
            "softmax works on a whole layer (its outputs sum to 1), not on one neuron: \
             choose step, identity, sigmoid, tanh, relu or leaky-relu"
                .into(),
        );
    }
    Ok(activation)
}

fn at_most(what: &str, value: usize, low: usize, cap: usize) -> Result<(), Refusal> {
    if value < low || value > cap {
        return Err(format!("{what} = {value}: the lessons take {low} to {cap}"));
    }
    Ok(())
}

fn finite(what: &str, value: f32, cap: f32) -> Result<(), Refusal> {
    if !value.is_finite() || value.abs() > cap {
        return Err(format!(
            "{what} = {value}: type a number between −{cap} and {cap}"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// 1. One neuron, and 2. activation functions with their derivatives.

/// The neuron lesson's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuronRequest {
    /// x₁.
    pub x1: f32,
    /// x₂.
    pub x2: f32,
    /// w₁.
    pub w1: f32,
    /// w₂.
    pub w2: f32,
    /// b.
    pub b: f32,
    /// One of [`NEURON_ACTIVATIONS`].
    pub activation: String,
}

/// f and f′ sampled over z.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// The sampled z.
    pub z: Vec<f32>,
    /// f(z), by [`Activation::forward`].
    pub f: Vec<f32>,
    /// f′(z), by [`Activation::derivative`].
    pub df: Vec<f32>,
}

/// f and f′ of `activation` over [−extent, extent], computed by the library.
pub fn curve(activation: Activation, extent: f32) -> Curve {
    let z: Vec<f32> = (0..CURVE_POINTS)
        .map(|i| -extent + 2.0 * extent * i as f32 / (CURVE_POINTS - 1) as f32)
        .collect();
    let mut f = vec![0.0; z.len()];
    activation.forward(&z, &mut f, 1);
    let df = z
        .iter()
        .zip(&f)
        .map(|(&z, &a)| activation.derivative(z, a))
        .collect();
    Curve { z, f, df }
}

/// One neuron's answer.
#[derive(Debug, Clone, Serialize)]
pub struct NeuronAnswer {
    /// z = w₁x₁ + w₂x₂ + b, by the library's dense layer.
    pub z: f32,
    /// a = f(z), by the library's activation.
    pub a: f32,
    /// f′(z).
    pub slope: f32,
    /// The activation's library name.
    pub activation: &'static str,
    /// The graph of f around z.
    pub curve: Curve,
}

/// Runs one neuron: a network of one dense layer (2 inputs → 1 neuron) with the given
/// weights and bias, forward over (x₁, x₂) — the same code every network runs.
///
/// # Errors
/// An unknown activation, or a value that is not a number or too large.
pub fn neuron(request: &NeuronRequest) -> Result<NeuronAnswer, Refusal> {
    let activation = neuron_activation(&request.activation)?;
    for (name, v) in [
        ("x₁", request.x1),
        ("x₂", request.x2),
        ("w₁", request.w1),
        ("w₂", request.w2),
        ("b", request.b),
    ] {
        finite(name, v, MAX_NEURON_VALUE)?;
    }
    let mut network = Network::builder(2)
        .dense(1, activation)
        .build(Init::Auto, 0)
        .map_err(|e| e.to_string())?;
    let (weights, biases) = network
        .parameters_mut(0)
        .ok_or("internal error: the neuron has no layer")?;
    weights.copy_from_slice(&[request.w1, request.w2]);
    biases[0] = request.b;
    let x = Tensor::from_vec(1, 2, vec![request.x1, request.x2]).map_err(|e| e.to_string())?;
    let mut ws = Workspace::forward_only(&network, 1);
    network.forward(&x, &mut ws);
    let z = ws.weighted_sums(0).as_slice()[0];
    let a = ws.activations(0).as_slice()[0];
    let extent = CURVE_EXTENT.max(z.abs() * 1.25);
    Ok(NeuronAnswer {
        z,
        a,
        slope: activation.derivative(z, a),
        activation: activation.name(),
        curve: curve(activation, extent),
    })
}

/// The activation lesson's request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// One of [`NEURON_ACTIVATIONS`].
    pub activation: String,
}

/// f, f′ and what the trainer says of a network that uses f.
#[derive(Debug, Clone, Serialize)]
pub struct ActivationAnswer {
    /// The library name.
    pub activation: &'static str,
    /// f and f′ over [−`CURVE_EXTENT`, `CURVE_EXTENT`].
    pub curve: Curve,
    /// Whether [`Trainer::fit`] trained a small network of this activation.
    pub trainable: bool,
    /// The trainer's refusal, word for word, when it refused.
    pub message: Option<String>,
    /// The test accuracy of that network on xor after a short training, when trained.
    pub xor_accuracy: Option<f64>,
}

/// f and f′ of one activation, and the trainer's answer when asked to train a network
/// (2 → 4 of f → 2 softmax) with it on xor.
///
/// # Errors
/// An unknown activation.
pub fn activation(request: &ActivationRequest) -> Result<ActivationAnswer, Refusal> {
    let f = neuron_activation(&request.activation)?;
    let data = Synthetic::Xor
        .generate(200, 0.05, 1)
        .map_err(|e| e.to_string())?;
    let (train, test) = data.split(0.5, 1).map_err(|e| e.to_string())?;
    let mut network = Network::builder(2)
        .dense(4, f)
        .dense(2, Activation::Softmax)
        .build(Init::Auto, 1)
        .map_err(|e| e.to_string())?;
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Adam {
            learning_rate: 0.05,
            ..Adam::default()
        }
        .into(),
        epochs: 60,
        batch_size: 10,
        seed: 1,
        ..TrainConfig::default()
    };
    let (trainable, message, xor_accuracy) =
        match Trainer::new(config).test(&test).fit(&mut network, &train) {
            Ok(history) => (
                true,
                None,
                history.epochs.last().and_then(|e| e.test_accuracy),
            ),
            Err(e) => (false, Some(e.to_string()), None),
        };
    Ok(ActivationAnswer {
        activation: f.name(),
        curve: curve(f, CURVE_EXTENT),
        trainable,
        message,
        xor_accuracy,
    })
}

// ---------------------------------------------------------------------------------
// The 2-D lessons' common parts: data, a network, a recorded training run.

/// A 2-D problem: training and test points of one synthetic set.
struct Plane {
    train: Dataset,
    test: Dataset,
}

fn plane(dataset: &str, points: usize, noise: f32, seed: u64) -> Result<Plane, Refusal> {
    let kind: Synthetic = dataset
        .parse()
        .map_err(|e: glassbox::Error| e.to_string())?;
    at_most("points", points, 8, MAX_POINTS)?;
    if !(0.0..=1.0).contains(&noise) {
        return Err(format!("noise = {noise}: the lessons take 0 to 1"));
    }
    let generate = |n, seed| kind.generate(n, noise, seed).map_err(|e| e.to_string());
    Ok(Plane {
        train: generate(points, seed)?,
        // Another seed: new points from the same distribution.
        test: generate(TEST_POINTS, seed ^ 0x7E57)?,
    })
}

/// A classifier of the plane: `hidden` layers of `activation`, softmax outputs.
fn classifier(
    classes: usize,
    hidden: &[usize],
    activation: Activation,
    seed: u64,
) -> Result<Network, Refusal> {
    let mut builder = Network::builder(2);
    for &n in hidden {
        at_most("neurons", n, 1, MAX_NEURONS)?;
        builder = builder.dense(n, activation);
    }
    builder
        .dense(classes, Activation::Softmax)
        .build(Init::Auto, seed)
        .map_err(|e| e.to_string())
}

/// Keeps every epoch's report, even of a run that diverges.
#[derive(Default)]
struct Record(Vec<EpochReport>);

impl Observer for Record {
    fn on_epoch(&mut self, report: &EpochReport) -> Control {
        self.0.push(report.clone());
        Control::Continue
    }
}

/// One training run's curves, epoch by epoch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Curves {
    /// Training loss per epoch.
    pub train_loss: Vec<f64>,
    /// Test loss per epoch.
    pub test_loss: Vec<f64>,
    /// Validation loss per epoch (when there is a validation set).
    pub validation_loss: Vec<f64>,
    /// Training accuracy after the last epoch.
    pub train_accuracy: Option<f64>,
    /// Test accuracy of the network training left (the best epoch's, when stopped early).
    pub test_accuracy: Option<f64>,
    /// The epoch whose weights were kept, when early stopping ended the run.
    pub best_epoch: Option<usize>,
    /// The trainer's message when the run diverged (the loss became NaN or infinite).
    pub diverged: Option<String>,
}

/// Trains `network` with `config`, recording every epoch; a divergence is part of the
/// answer, not an error.
fn run(
    network: &mut Network,
    config: TrainConfig,
    data: &Plane,
    validation: Option<&Dataset>,
) -> Result<Curves, Refusal> {
    let mut record = Record::default();
    let result = Trainer::new(config)
        .test(&data.test)
        .validation(validation)
        .observer(&mut record)
        .fit(network, &data.train);
    let mut curves = Curves {
        train_loss: record.0.iter().map(|e| e.train_loss).collect(),
        test_loss: record.0.iter().filter_map(|e| e.test_loss).collect(),
        validation_loss: record.0.iter().filter_map(|e| e.validation_loss).collect(),
        train_accuracy: record.0.last().and_then(|e| e.train_accuracy),
        ..Curves::default()
    };
    match result {
        Ok(history) => {
            if let StopReason::EarlyStopped { best_epoch } = history.stop {
                curves.best_epoch = Some(best_epoch);
            }
        }
        Err(e @ glassbox::Error::Diverged { .. }) => curves.diverged = Some(e.to_string()),
        Err(e) => return Err(e.to_string()),
    }
    curves.test_accuracy = Some(accuracy(network, &data.test)?);
    Ok(curves)
}

/// The fraction of `data` that `network` classifies right.
fn accuracy(network: &Network, data: &Dataset) -> Result<f64, Refusal> {
    let predicted = network
        .classify(&data.features())
        .map_err(|e| e.to_string())?;
    let labels = data.labels().unwrap_or(&[]);
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(right as f64 / labels.len().max(1) as f64)
}

/// The points of a 2-D data set: `[x₁, x₂, class]`.
fn points(data: &Dataset) -> Vec<(f32, f32, usize)> {
    let labels = data.labels().unwrap_or(&[]);
    (0..data.len())
        .map(|i| {
            let r = data.row(i);
            (r[0], r[1], labels.get(i).copied().unwrap_or(0))
        })
        .collect()
}

/// The class `network` gives each point of a [`GRID`]² grid over [−extent, extent]²
/// (rows from the top, y down), base64, one byte per point.
fn regions(network: &Network, extent: f32) -> Result<String, Refusal> {
    let mut grid = Vec::with_capacity(GRID * GRID * 2);
    for row in 0..GRID {
        for col in 0..GRID {
            let at = |i: usize| -extent + 2.0 * extent * (i as f32 + 0.5) / GRID as f32;
            grid.extend_from_slice(&[at(col), -at(row)]);
        }
    }
    let classes = network.classify(&grid).map_err(|e| e.to_string())?;
    let bytes: Vec<u8> = classes.iter().map(|&c| c.min(255) as u8).collect();
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn extent(data: &Plane) -> f32 {
    data.train
        .features()
        .iter()
        .chain(data.test.features().iter())
        .fold(1.0f32, |m, v| m.max(v.abs()))
        * 1.1
}

fn adam(learning_rate: f32) -> Optimizer {
    Adam {
        learning_rate,
        ..Adam::default()
    }
    .into()
}

// ---------------------------------------------------------------------------------
// 3. Shallow against deep.

/// The depth lesson's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepthRequest {
    /// xor, circles, spirals or gaussians.
    pub dataset: String,
    /// Training points.
    pub points: usize,
    /// Noise of the points.
    pub noise: f32,
    /// Neurons in each hidden layer (the same in both networks' layers).
    pub neurons: usize,
    /// Epochs.
    pub epochs: usize,
    /// Seed of the data and the first weights.
    pub seed: u64,
}

impl Default for DepthRequest {
    fn default() -> Self {
        DepthRequest {
            dataset: "spirals".into(),
            points: 400,
            noise: 0.0,
            neurons: 6,
            epochs: 200,
            seed: 1,
        }
    }
}

/// One network of the depth lesson.
#[derive(Debug, Clone, Serialize)]
pub struct DepthNetwork {
    /// Widths from the input: `[2, hidden…, classes]`.
    pub sizes: Vec<usize>,
    /// Weights and biases.
    pub parameters: usize,
    /// Its curves and accuracies.
    pub curves: Curves,
    /// Its class at each point of the grid (see [`GRID`]), base64 bytes.
    pub regions: String,
}

/// Trains one hidden layer and two, of the same width, on the same data.
///
/// # Errors
/// A setting beyond the caps, or an unknown data set.
pub fn depth(request: &DepthRequest) -> Result<serde_json::Value, Refusal> {
    at_most("epochs", request.epochs, 1, MAX_EPOCHS)?;
    at_most("neurons", request.neurons, 1, MAX_NEURONS)?;
    let data = plane(
        &request.dataset,
        request.points,
        request.noise,
        request.seed,
    )?;
    let extent = extent(&data);
    let mut networks = Vec::new();
    for hidden in [vec![request.neurons], vec![request.neurons; 2]] {
        let mut network = classifier(
            data.train.classes(),
            &hidden,
            Activation::Tanh,
            request.seed,
        )?;
        let config = TrainConfig {
            loss: Loss::CrossEntropy,
            optimizer: adam(0.03),
            epochs: request.epochs,
            batch_size: 10,
            seed: request.seed,
            ..TrainConfig::default()
        };
        let curves = run(&mut network, config, &data, None)?;
        networks.push(DepthNetwork {
            sizes: network.sizes(),
            parameters: network.parameter_count(),
            regions: regions(&network, extent)?,
            curves,
        });
    }
    Ok(serde_json::json!({
        "train": points(&data.train),
        "test": points(&data.test),
        "classes": data.train.class_names(),
        "extent": extent,
        "grid": GRID,
        "networks": networks,
    }))
}

// ---------------------------------------------------------------------------------
// 4. The learning rate.

/// The learning-rate lesson's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateRequest {
    /// The learning rates η to compare.
    pub rates: Vec<f32>,
    /// Epochs.
    pub epochs: usize,
    /// Seed of the data and the first weights (the same for every η).
    pub seed: u64,
}

impl Default for RateRequest {
    fn default() -> Self {
        RateRequest {
            rates: vec![0.001, 0.1, 8.0],
            epochs: 40,
            seed: 1,
        }
    }
}

/// Trains the same network from the same first weights with each η: the article's
/// online gradient descent (one update per example) on three Gaussian blobs.
///
/// # Errors
/// A setting beyond the caps.
pub fn learning_rate(request: &RateRequest) -> Result<serde_json::Value, Refusal> {
    at_most("epochs", request.epochs, 1, MAX_EPOCHS)?;
    at_most("learning rates", request.rates.len(), 1, MAX_RATES)?;
    for &rate in &request.rates {
        if !(rate > 0.0 && rate <= 100.0) {
            return Err(format!(
                "learning rate η = {rate}: the lessons take η > 0 up to 100"
            ));
        }
    }
    let data = plane("gaussians", 200, 0.0, request.seed)?;
    let mut runs = Vec::new();
    for &rate in &request.rates {
        let mut network = classifier(data.train.classes(), &[8], Activation::Relu, request.seed)?;
        let config = TrainConfig {
            loss: Loss::CrossEntropy,
            optimizer: Sgd {
                learning_rate: rate,
            }
            .into(),
            epochs: request.epochs,
            batch_size: 1,
            seed: request.seed,
            ..TrainConfig::default()
        };
        let curves = run(&mut network, config, &data, None)?;
        runs.push(serde_json::json!({ "rate": rate, "curves": curves }));
    }
    Ok(serde_json::json!({ "dataset": "gaussians", "runs": runs }))
}

// ---------------------------------------------------------------------------------
// 5. Over-fitting.

/// The over-fitting lesson's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverfitRequest {
    /// Training points (few, to over-fit; more to see what more data does).
    pub points: usize,
    /// Noise of the points.
    pub noise: f32,
    /// Neurons in each of the two hidden layers.
    pub neurons: usize,
    /// Epochs.
    pub epochs: usize,
    /// Dropout rate on the hidden layers (0 = none).
    pub dropout: f32,
    /// Stop when the validation loss has not improved for this many epochs.
    pub early_stopping: Option<usize>,
    /// Seed.
    pub seed: u64,
}

impl Default for OverfitRequest {
    fn default() -> Self {
        OverfitRequest {
            points: 30,
            noise: 0.25,
            neurons: 64,
            epochs: 300,
            dropout: 0.0,
            early_stopping: None,
            seed: 1,
        }
    }
}

/// Trains a big network (two hidden layers) on few noisy points of two circles, with
/// the test and validation sets drawn afresh from the same distribution.
///
/// # Errors
/// A setting beyond the caps.
pub fn overfit(request: &OverfitRequest) -> Result<serde_json::Value, Refusal> {
    at_most("epochs", request.epochs, 1, MAX_EPOCHS)?;
    if !(0.0..=0.9).contains(&request.dropout) {
        return Err(format!(
            "dropout = {}: the lessons take 0 to 0.9",
            request.dropout
        ));
    }
    if let Some(patience) = request.early_stopping {
        at_most("early-stopping patience", patience, 1, MAX_EPOCHS)?;
    }
    let data = plane("circles", request.points, request.noise, request.seed)?;
    let validation = Synthetic::Circles
        .generate(VALIDATION_POINTS, request.noise, request.seed ^ 0x5A11D)
        .map_err(|e| e.to_string())?;
    let mut network = classifier(
        data.train.classes(),
        &[request.neurons; 2],
        Activation::Relu,
        request.seed,
    )?;
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: adam(0.01),
        epochs: request.epochs,
        batch_size: 10,
        seed: request.seed,
        dropout: request.dropout,
        early_stopping: request.early_stopping,
        ..TrainConfig::default()
    };
    let watched = request.early_stopping.map(|_| &validation);
    let curves = run(&mut network, config, &data, watched)?;
    let extent = extent(&data);
    Ok(serde_json::json!({
        "train": points(&data.train),
        "test": points(&data.test),
        "extent": extent,
        "grid": GRID,
        "regions": regions(&network, extent)?,
        "sizes": network.sizes(),
        "curves": curves,
    }))
}

// ---------------------------------------------------------------------------------
// 6. An image classifier.

/// The digits lesson's request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsRequest {
    /// Neurons in the one hidden layer.
    pub hidden: usize,
    /// Epochs.
    pub epochs: usize,
    /// Seed of the first weights and the shuffling.
    #[serde(default = "one")]
    pub seed: u64,
    /// An 8×8 image (64 values in 0–1, row-major) to run through the network.
    #[serde(default)]
    pub pixels: Option<Vec<f32>>,
    /// Or a test image, by index, to run through it (its pixels come back too).
    #[serde(default)]
    pub test_index: Option<usize>,
}

fn one() -> u64 {
    1
}

type DigitsKey = (usize, usize, u64);

static TRAINED: Mutex<Vec<(DigitsKey, Arc<ImageModel>)>> = Mutex::new(Vec::new());

fn cache() -> std::sync::MutexGuard<'static, Vec<(DigitsKey, Arc<ImageModel>)>> {
    // A panic while the lock was held left nothing half-written: entries are pushed whole.
    TRAINED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The network these settings train, from the cache or trained now (the image view's
/// training: the library's trainer on the embedded digits).
fn digits_model(key: DigitsKey) -> Result<Arc<ImageModel>, Refusal> {
    if let Some((_, model)) = cache().iter().find(|(k, _)| *k == key) {
        return Ok(model.clone());
    }
    let (hidden, epochs, seed) = key;
    let model = Arc::new(image::train(&TrainRequest {
        dataset: "digits".into(),
        hidden: vec![hidden],
        epochs,
        seed,
    })?);
    let mut kept = cache();
    if kept.len() >= DIGITS_CACHE {
        kept.remove(0);
    }
    kept.push((key, model.clone()));
    Ok(model)
}

/// Trains (or finds) a small classifier of the embedded digits; answers with its
/// first-layer weights as images, its test accuracy and, when the request has pixels
/// (or a test image's index), that image's path through every layer.
///
/// # Errors
/// A setting beyond the caps, or pixels that are not 64 numbers.
pub fn digits(request: &DigitsRequest) -> Result<serde_json::Value, Refusal> {
    at_most("hidden neurons", request.hidden, 1, MAX_DIGITS_NEURONS)?;
    at_most("epochs", request.epochs, 1, MAX_DIGITS_EPOCHS)?;
    let model = digits_model((request.hidden, request.epochs, request.seed))?;
    let test_image = match request.test_index {
        Some(index) => Some(model.test_image(index)?),
        None => None,
    };
    let test_pixels: Option<Vec<f32>> = test_image
        .as_ref()
        .and_then(|t| serde_json::from_value(t["pixels"].clone()).ok());
    let prediction: Option<Prediction> = match test_pixels.as_ref().or(request.pixels.as_ref()) {
        Some(pixels) => {
            if let Some(p) = pixels.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                return Err(format!(
                    "pixel value {p}: pixels take 0 (black) to 1 (white)"
                ));
            }
            Some(model.predict(pixels)?)
        }
        None => None,
    };
    let summary = model.summary();
    Ok(serde_json::json!({
        "sizes": summary["sizes"],
        "classes": summary["classes"],
        "shape": summary["shape"],
        "weight_images": summary["weight_images"],
        "test_accuracy": model.confusion().map(|c| c.accuracy),
        "prediction": prediction,
        "test_image": test_image,
    }))
}

// ---------------------------------------------------------------------------------
// The routes.

/// The lessons' routes, to merge into the server's router.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/lessons.js", get(crate::assets::lessons_script))
        .route("/lessons.css", get(crate::assets::lessons_style))
        .route("/api/lessons/neuron", post(|b| answer(b, neuron)))
        .route("/api/lessons/activation", post(|b| answer(b, activation)))
        .route("/api/lessons/depth", post(|b| answer(b, depth)))
        .route(
            "/api/lessons/learning-rate",
            post(|b| answer(b, learning_rate)),
        )
        .route("/api/lessons/overfit", post(|b| answer(b, overfit)))
        .route("/api/lessons/digits", post(|b| answer(b, digits)))
}

/// Lessons computed at once: one per core (each trains on one thread). A class of
/// thirty asking together queues here instead of thirty threads taking turns on the
/// cores, so each answer comes as fast as the machine allows, in order of arrival.
fn running() -> &'static tokio::sync::Semaphore {
    static RUNNING: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    RUNNING.get_or_init(|| tokio::sync::Semaphore::new(glassbox::threads::available().max(1)))
}

/// Parses the request, runs `lesson` on a blocking thread (when one of [`running`]'s
/// places is free), answers with its JSON or a 400 with its message.
async fn answer<R, T>(
    body: Result<Json<R>, JsonRejection>,
    lesson: fn(&R) -> Result<T, Refusal>,
) -> Result<Json<T>, ApiError>
where
    R: Send + 'static,
    T: Serialize + Send + 'static,
{
    let Json(request) = body?;
    let _place = running().acquire().await.map_err(|e| ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        message: format!("the lessons are closed: {e}"),
    })?;
    Ok(Json(crate::blocking(move || lesson(&request)).await?))
}
