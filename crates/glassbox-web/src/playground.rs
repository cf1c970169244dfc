//! The 2-D playground: points in the plane, a network that learns to separate them, and
//! every neuron's output drawn over the plane as it learns.
//!
//! Every tab has a session of its own ([`Sessions`], [`Tab`]): its [`Playground`] (run,
//! play/pause, stream) and its image model. Playing sessions compute in turns
//! ([`Turns`]): one epoch and its frame per turn, first come first served, so that many
//! tabs share the cores fairly; idle sessions are freed ([`Sessions::reap`]).
//!
//! ```text
//! page ── POST /api/playground {config} ──▶ Problem (data, split, features) + Network
//!                                            │ one training thread per run, in turns
//! page ── POST /api/control {play|step} ──▶  │ Trainer::fit (the CLI's code), epoch after epoch
//!                                            │   Observer::on_epoch_with_network:
//!                                            │     heat maps = Network::forward over a grid
//! page ◀── GET /api/stream (SSE frames) ─────┘     publish the frame, wait for play/step
//! ```
//!
//! Training is [`Trainer::fit`] with a very large epoch count: the observer the trainer
//! calls after each epoch draws the frame and, when the page has paused, blocks until it
//! plays or steps again, so the optimiser's state (Adam's moments, momentum) carries on
//! across pauses exactly as in one long CLI run. A new configuration or a reset ends the
//! run (the observer answers [`Control::Stop`]) and starts a new one. The same seed gives
//! the same data, the same first weights and the same epochs.

use crate::layers;
use base64::Engine as _;
use glassbox::data::synthetic::Synthetic;
use glassbox::data::Dataset;
use glassbox::optim::{Adam, Momentum, Sgd};
use glassbox::train::{Control, EpochReport, Observer};
use glassbox::{Activation, Init, Loss, Network, Optimizer, TrainConfig, Trainer, Workspace};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most hidden layers a page may ask for.
pub const MAX_HIDDEN_LAYERS: usize = 10;
/// Most neurons in one hidden layer.
pub const MAX_NEURONS: usize = 64;
/// Most points in a data set (generated or uploaded).
pub const MAX_POINTS: usize = 5_000;
/// Largest uploaded CSV, in bytes.
pub const MAX_CSV_BYTES: usize = 1 << 20;
/// Most classes in an uploaded CSV.
pub const MAX_CLASSES: usize = 10;
/// Heat maps are computed on a grid of this many points per side.
pub const GRID: usize = 32;
/// Epochs one run may last (the run is stopped long before by the page).
pub const EPOCH_LIMIT: usize = 1_000_000;
/// While playing, frames are at least this far apart (at most 60 per second), so that
/// a seeded run advances at a speed a person can watch.
pub const FRAME_INTERVAL: Duration = Duration::from_micros(16_667);
/// Most points kept in the loss chart sent with each frame (older ones are thinned).
pub const HISTORY_POINTS: usize = 400;

/// An input feature computed from a point (x₁, x₂).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// x₁
    X1,
    /// x₂
    X2,
    /// x₁²
    X1Squared,
    /// x₂²
    X2Squared,
    /// x₁·x₂
    X1X2,
    /// sin x₁
    SinX1,
    /// sin x₂
    SinX2,
}

impl Feature {
    /// The feature's value at (x₁, x₂).
    pub fn value(self, x1: f32, x2: f32) -> f32 {
        match self {
            Feature::X1 => x1,
            Feature::X2 => x2,
            Feature::X1Squared => x1 * x1,
            Feature::X2Squared => x2 * x2,
            Feature::X1X2 => x1 * x2,
            Feature::SinX1 => x1.sin(),
            Feature::SinX2 => x2.sin(),
        }
    }

    /// How the page labels the feature.
    pub fn label(self) -> &'static str {
        match self {
            Feature::X1 => "x₁",
            Feature::X2 => "x₂",
            Feature::X1Squared => "x₁²",
            Feature::X2Squared => "x₂²",
            Feature::X1X2 => "x₁x₂",
            Feature::SinX1 => "sin x₁",
            Feature::SinX2 => "sin x₂",
        }
    }
}

/// One hidden layer as the page describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Neurons in the layer.
    pub neurons: usize,
    /// The CLI's activation name: relu, tanh, sigmoid, identity, leaky-relu, step.
    pub activation: String,
}

/// Everything the page sets: data, features, network and training. The page keeps the
/// same fields in its URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaygroundConfig {
    /// xor, circles, spirals, gaussians, or csv (then `csv` holds the file's text).
    pub dataset: String,
    /// The uploaded file: rows of `x1,x2,label`, an optional header.
    pub csv: Option<String>,
    /// Points to generate.
    pub points: usize,
    /// Standard deviation of the noise added to each coordinate.
    pub noise: f32,
    /// Fraction of the points held out as the test set.
    pub test_ratio: f64,
    /// The network's inputs.
    pub features: Vec<Feature>,
    /// Hidden layers, from the input side.
    pub layers: Vec<LayerSpec>,
    /// mse or cross-entropy (the output layer is sigmoid or softmax to match).
    pub loss: String,
    /// sgd, momentum or adam.
    pub optimizer: String,
    /// η.
    pub learning_rate: f32,
    /// Examples per update.
    pub batch_size: usize,
    /// L2 weight decay λ.
    pub l2: f32,
    /// Dropout rate on hidden layers.
    pub dropout: f32,
    /// Seed of the data, the split, the first weights, shuffling and dropout.
    pub seed: u64,
    /// Epochs between frames while playing.
    pub epochs_per_frame: usize,
}

impl Default for PlaygroundConfig {
    fn default() -> Self {
        PlaygroundConfig {
            dataset: "xor".into(),
            csv: None,
            points: 400,
            noise: 0.05,
            test_ratio: 0.5,
            features: vec![Feature::X1, Feature::X2],
            layers: vec![
                LayerSpec {
                    neurons: 8,
                    activation: "tanh".into(),
                },
                LayerSpec {
                    neurons: 8,
                    activation: "tanh".into(),
                },
            ],
            loss: "cross-entropy".into(),
            optimizer: "adam".into(),
            learning_rate: 0.03,
            batch_size: 10,
            l2: 0.0,
            dropout: 0.0,
            seed: 1,
            epochs_per_frame: 1,
        }
    }
}

/// A configuration turned into data, a network and training settings.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The settings it came from.
    pub config: PlaygroundConfig,
    /// Training points in the plane, with their class.
    pub train_points: Vec<(f32, f32, usize)>,
    /// Test points in the plane, with their class.
    pub test_points: Vec<(f32, f32, usize)>,
    /// The training set as the network sees it (the chosen features).
    pub train: Dataset,
    /// The test set as the network sees it.
    pub test: Dataset,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// The plane drawn is [−extent, extent]².
    pub extent: f32,
    /// The network before its first epoch.
    pub network: Network,
    /// The training settings (all but the epoch count come from the page).
    pub train_config: TrainConfig,
}

impl Problem {
    /// Checks `config` and builds everything it describes.
    ///
    /// # Errors
    /// One sentence naming the bad setting (or the CSV line), for the page.
    pub fn new(config: PlaygroundConfig) -> Result<Problem, String> {
        let data = dataset(&config)?;
        if config.features.is_empty() {
            return Err("choose at least one input feature".into());
        }
        if config.layers.len() > MAX_HIDDEN_LAYERS {
            return Err(format!(
                "{} hidden layers is too big a network for the page: at most {MAX_HIDDEN_LAYERS}",
                config.layers.len()
            ));
        }
        let loss: Loss = config.loss.parse()?;
        let output = match loss {
            Loss::CrossEntropy => Activation::Softmax,
            Loss::Mse => Activation::Sigmoid,
            Loss::BinaryCrossEntropy => {
                return Err("the playground offers mse or cross-entropy".into())
            }
        };
        let lr = config.learning_rate;
        let optimizer: Optimizer = match config.optimizer.as_str() {
            "sgd" => Sgd { learning_rate: lr }.into(),
            "momentum" => Momentum {
                learning_rate: lr,
                ..Momentum::default()
            }
            .into(),
            "adam" => Adam {
                learning_rate: lr,
                ..Adam::default()
            }
            .into(),
            other => {
                return Err(format!(
                    "unknown optimiser {other:?}: expected sgd, momentum or adam"
                ))
            }
        };
        let train_config = TrainConfig {
            loss,
            optimizer,
            epochs: EPOCH_LIMIT,
            batch_size: config.batch_size,
            seed: config.seed,
            l2: config.l2,
            dropout: config.dropout,
            threads: 1,
            ..TrainConfig::default()
        };
        train_config.validate().map_err(|e| e.to_string())?;

        let mut builder = Network::builder(config.features.len());
        for (l, spec) in config.layers.iter().enumerate() {
            if spec.neurons == 0 || spec.neurons > MAX_NEURONS {
                return Err(format!(
                    "hidden layer {} has {} neurons: the page draws 1 to {MAX_NEURONS} per layer",
                    l + 1,
                    spec.neurons
                ));
            }
            let activation: Activation = spec
                .activation
                .parse()
                .map_err(|e: String| format!("hidden layer {}: {e}", l + 1))?;
            if activation == Activation::Softmax {
                return Err(format!(
                    "hidden layer {}: softmax is for the output layer",
                    l + 1
                ));
            }
            builder = builder.dense(spec.neurons, activation);
        }
        let network = builder
            .dense(data.classes(), output)
            .build(Init::Auto, config.seed)
            .map_err(|e| e.to_string())?;

        let (train_raw, test_raw) = data
            .split(config.test_ratio, config.seed ^ 0x7E57)
            .map_err(|e| e.to_string())?;
        let extent = data.features().iter().fold(1.0f32, |m, v| m.max(v.abs())) * 1.1;
        let class_names = data.class_names().to_vec();
        Ok(Problem {
            train_points: points(&train_raw),
            test_points: points(&test_raw),
            train: with_features(&train_raw, &config.features)?,
            test: with_features(&test_raw, &config.features)?,
            class_names,
            extent,
            network,
            train_config,
            config,
        })
    }

    /// What the page draws once per session: points, classes, features, the plane.
    pub fn summary(&self) -> serde_json::Value {
        let pts = |p: &[(f32, f32, usize)]| -> Vec<(f32, f32, usize)> { p.to_vec() };
        serde_json::json!({
            "train": pts(&self.train_points),
            "test": pts(&self.test_points),
            "classes": self.class_names,
            "features": self.config.features.iter().map(|f| f.label()).collect::<Vec<_>>(),
            "extent": self.extent,
            "grid": GRID,
            "sizes": self.network.sizes(),
            "config": self.config,
        })
    }
}

/// The raw 2-D data set a configuration names.
fn dataset(config: &PlaygroundConfig) -> Result<Dataset, String> {
    if config.dataset == "csv" {
        let text = config
            .csv
            .as_deref()
            .ok_or("data set csv: upload a file first")?;
        return parse_csv(text);
    }
    let kind: Synthetic = config
        .dataset
        .parse()
        .map_err(|e: glassbox::Error| e.to_string())?;
    if config.points < 4 || config.points > MAX_POINTS {
        return Err(format!(
            "{} points: choose 4 to {MAX_POINTS}",
            config.points
        ));
    }
    kind.generate(config.points, config.noise, config.seed)
        .map_err(|e| e.to_string())
}

/// Reads an uploaded 2-D data set: one point per line, `x1,x2,label`, where the label is
/// any name; a first line whose coordinates are not numbers is a header. Classes are
/// numbered in order of their names.
///
/// # Errors
/// The line and what was wrong with it, or which limit the file passed.
pub fn parse_csv(text: &str) -> Result<Dataset, String> {
    if text.len() > MAX_CSV_BYTES {
        return Err(format!(
            "the CSV file has {} bytes: the limit is {MAX_CSV_BYTES}",
            text.len()
        ));
    }
    let mut rows: Vec<(f32, f32, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 3 {
            return Err(format!(
                "CSV line {}: expected 3 fields x1,x2,label, found {}",
                n + 1,
                fields.len()
            ));
        }
        let (x, y) = (fields[0].parse::<f32>(), fields[1].parse::<f32>());
        match (x, y) {
            (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => {
                rows.push((x, y, fields[2].to_string()))
            }
            _ if rows.is_empty() && n == 0 => continue, // a header
            _ => {
                return Err(format!(
                    "CSV line {}: x1 and x2 must be finite numbers, found {:?} and {:?}",
                    n + 1,
                    fields[0],
                    fields[1]
                ))
            }
        }
        if rows.len() > MAX_POINTS {
            return Err(format!("the CSV file has more than {MAX_POINTS} points"));
        }
    }
    let mut names: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    names.sort();
    names.dedup();
    if rows.len() < 4 || names.len() < 2 {
        return Err(format!(
            "the CSV file has {} points in {} classes: the playground needs at least 4 points and 2 classes",
            rows.len(),
            names.len()
        ));
    }
    if names.len() > MAX_CLASSES {
        return Err(format!(
            "the CSV file has {} classes: the playground draws at most {MAX_CLASSES}",
            names.len()
        ));
    }
    let mut features = Vec::with_capacity(rows.len() * 2);
    let mut labels = Vec::with_capacity(rows.len());
    for (x, y, name) in &rows {
        features.extend_from_slice(&[*x, *y]);
        labels.push(names.binary_search(name).unwrap_or(0));
    }
    Dataset::classification(features, 2, labels, names).map_err(|e| e.to_string())
}

fn points(data: &Dataset) -> Vec<(f32, f32, usize)> {
    let labels = data.labels().unwrap_or(&[]);
    (0..data.len())
        .map(|i| {
            let r = data.row(i);
            (r[0], r[1], labels.get(i).copied().unwrap_or(0))
        })
        .collect()
}

/// `data` (2 features) with its rows replaced by the chosen features.
fn with_features(data: &Dataset, features: &[Feature]) -> Result<Dataset, String> {
    let mut values = Vec::with_capacity(data.len() * features.len());
    for i in 0..data.len() {
        let r = data.row(i);
        values.extend(features.iter().map(|f| f.value(r[0], r[1])));
    }
    let labels = data.labels().unwrap_or(&[]).to_vec();
    Dataset::classification(values, features.len(), labels, data.class_names().to_vec())
        .map_err(|e| e.to_string())
}

/// One neuron's output over the grid: the range, and the values scaled into 0–255
/// (0 = `min`, 255 = `max`), row by row from the top (x₂ = extent) down, base64.
#[derive(Debug, Clone, Serialize)]
pub struct HeatMap {
    /// The smallest value on the grid.
    pub min: f32,
    /// The largest value on the grid.
    pub max: f32,
    /// `GRID × GRID` bytes, base64.
    pub data: String,
}

/// One layer's parameters, for the links and their hover values.
#[derive(Debug, Clone, Serialize)]
pub struct FrameLayer {
    /// The activation's name.
    pub activation: &'static str,
    /// W, `out × in` row-major.
    pub weights: Vec<f32>,
    /// b.
    pub biases: Vec<f32>,
}

/// What the page draws after an epoch.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    /// The run (configuration or reset, within its session) the frame belongs to.
    pub run: u64,
    /// Epochs finished.
    pub epoch: usize,
    /// Mean training loss of the last epoch (none before the first).
    pub train_loss: Option<f64>,
    /// Test loss after the last epoch.
    pub test_loss: Option<f64>,
    /// Training accuracy over the last epoch.
    pub train_accuracy: Option<f64>,
    /// Test accuracy after the last epoch.
    pub test_accuracy: Option<f64>,
    /// (epoch, train loss, test loss), thinned to at most [`HISTORY_POINTS`].
    pub history: Vec<(usize, f64, f64)>,
    /// Every layer's W and b.
    pub layers: Vec<FrameLayer>,
    /// Heat maps: the input features first, then every layer's neurons.
    pub maps: Vec<Vec<HeatMap>>,
    /// The predicted class at each grid point, base64 bytes.
    pub region: String,
    /// The predicted class's output at each grid point (0–255), base64 bytes.
    pub confidence: String,
    /// Milliseconds the server took to compute this frame.
    pub compute_ms: f64,
}

/// Computes every neuron's output over the grid with the library's forward pass.
pub fn frame(
    network: &Network,
    problem: &Problem,
    run: u64,
    report: Option<&EpochReport>,
    history: &[(usize, f64, f64)],
) -> Frame {
    let started = Instant::now();
    let features = &problem.config.features;
    let e = problem.extent;
    let n = GRID * GRID;
    let mut grid = Vec::with_capacity(n * features.len());
    let mut raw = Vec::with_capacity(n * 2);
    for row in 0..GRID {
        // Row 0 is the top of the picture: x₂ = +extent.
        let x2 = e - 2.0 * e * (row as f32 + 0.5) / GRID as f32;
        for col in 0..GRID {
            let x1 = -e + 2.0 * e * (col as f32 + 0.5) / GRID as f32;
            raw.extend_from_slice(&[x1, x2]);
            grid.extend(features.iter().map(|f| f.value(x1, x2)));
        }
    }
    let mut maps = Vec::with_capacity(network.layers().len() + 1);
    maps.push(heat_maps(&grid, features.len()));
    let input = glassbox::tensor::Tensor::from_vec(n, features.len(), grid)
        .expect("the grid has GRID² rows of the features"); // GRID·GRID·width values
    let mut ws = Workspace::forward_only(network, n);
    network.forward(&input, &mut ws);
    for l in 0..network.layers().len() {
        let a = ws.activations(l);
        maps.push(heat_maps(a.as_slice(), a.cols()));
    }
    let output = ws.output();
    let (mut region, mut confidence) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let row = output.row(i);
        let best = glassbox::network::argmax(row);
        region.push(best as u8);
        confidence.push((row[best].clamp(0.0, 1.0) * 255.0).round() as u8);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    Frame {
        run,
        epoch: report.map_or(0, |r| r.epoch),
        train_loss: report.map(|r| r.train_loss),
        test_loss: report.and_then(|r| r.test_loss),
        train_accuracy: report.and_then(|r| r.train_accuracy),
        test_accuracy: report.and_then(|r| r.test_accuracy),
        history: thin(history),
        layers: layers::views(network)
            .into_iter()
            .map(|l| FrameLayer {
                activation: l.activation.name(),
                weights: l.weights.to_vec(),
                biases: l.biases.to_vec(),
            })
            .collect(),
        maps,
        region: b64.encode(region),
        confidence: b64.encode(confidence),
        compute_ms: started.elapsed().as_secs_f64() * 1e3,
    }
}

/// One heat map per column of `values` (`rows × width`).
fn heat_maps(values: &[f32], width: usize) -> Vec<HeatMap> {
    let b64 = base64::engine::general_purpose::STANDARD;
    (0..width)
        .map(|j| {
            let column = values.iter().skip(j).step_by(width);
            let (min, max) = column
                .clone()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let span = if max > min { max - min } else { 1.0 };
            let bytes: Vec<u8> = column
                .map(|&v| (((v - min) / span) * 255.0).round().clamp(0.0, 255.0) as u8)
                .collect();
            HeatMap {
                min,
                max,
                data: b64.encode(bytes),
            }
        })
        .collect()
}

/// At most [`HISTORY_POINTS`] of `history`, evenly spaced, always with the last one.
fn thin(history: &[(usize, f64, f64)]) -> Vec<(usize, f64, f64)> {
    if history.len() <= HISTORY_POINTS {
        return history.to_vec();
    }
    let step = history.len().div_ceil(HISTORY_POINTS);
    let mut out: Vec<_> = history.iter().step_by(step).copied().collect();
    if let Some(&last) = history.last() {
        if out.last() != Some(&last) {
            out.push(last);
        }
    }
    out
}

/// A message on the live stream: a frame, or an error for the page's error box.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// Nothing yet.
    Idle,
    /// A frame, already JSON.
    Frame(Arc<String>),
    /// Why training stopped (JSON `{ "run", "error" }`).
    Error(Arc<String>),
    /// The session was freed (JSON `{ "error" }`): the tab must start a new one.
    Expired(Arc<String>),
}

/// Play, pause, step or reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Train continuously.
    Play,
    /// Stop after the current epoch.
    Pause,
    /// Train one more epoch, then pause.
    Step,
    /// Start again from the first weights.
    Reset,
}

#[derive(Debug, Default)]
struct ControlState {
    run: u64,
    playing: bool,
    steps: usize,
}

/// One tab's 2-D playground, shared by the server's handlers and its training thread:
/// its run, its play/pause state and its live stream.
pub struct Playground {
    control: Mutex<ControlState>,
    wake: Condvar,
    events: watch::Sender<StreamEvent>,
    current: Mutex<Option<Arc<Session>>>,
    turns: Arc<Turns>,
}

/// A running configuration: its problem and the network of its latest frame.
pub struct Session {
    /// Increases with every new configuration or reset.
    pub id: u64,
    /// The data and settings.
    pub problem: Problem,
    /// The network as the latest frame drew it.
    pub latest: Mutex<Network>,
}

impl Default for Playground {
    /// A playground with turns of its own, one per core.
    fn default() -> Self {
        Playground::with_turns(Arc::new(Turns::new(default_workers())))
    }
}

impl Playground {
    /// A playground whose training takes its turns from `turns` (shared by every
    /// session of a server, so that playing tabs share the cores fairly).
    pub fn with_turns(turns: Arc<Turns>) -> Self {
        Playground {
            control: Mutex::new(ControlState::default()),
            wake: Condvar::new(),
            events: watch::channel(StreamEvent::Idle).0,
            current: Mutex::new(None),
            turns,
        }
    }

    /// Whether the page has pressed Play (and nothing has paused it since).
    pub fn playing(&self) -> bool {
        lock(&self.control).playing
    }

    /// A receiver of the live stream (the latest event, then every new one; a slow
    /// reader skips frames instead of queueing them).
    pub fn subscribe(&self) -> watch::Receiver<StreamEvent> {
        self.events.subscribe()
    }

    /// The running session, if any.
    pub fn current(&self) -> Option<Arc<Session>> {
        lock(&self.current).clone()
    }

    /// Ends the running session (if any) and starts `problem`, paused at epoch 0.
    /// Returns the new session's id.
    pub fn start(self: &Arc<Self>, problem: Problem) -> u64 {
        let id = {
            let mut control = lock(&self.control);
            control.run += 1;
            control.playing = false;
            control.steps = 0;
            control.run
        };
        self.wake.notify_all();
        let session = Arc::new(Session {
            id,
            latest: Mutex::new(problem.network.clone()),
            problem,
        });
        *lock(&self.current) = Some(session.clone());
        let me = self.clone();
        std::thread::Builder::new()
            .name(format!("playground-{id}"))
            .spawn(move || me.run(session))
            .map(|_| ())
            .unwrap_or_else(|e| {
                self.publish_error(id, &format!("cannot start the training thread: {e}"))
            });
        id
    }

    /// Applies a control action.
    ///
    /// # Errors
    /// Why the action cannot run: no session yet, or a network that cannot learn.
    pub fn act(self: &Arc<Self>, action: Action) -> Result<u64, String> {
        let session = self
            .current()
            .ok_or("no network yet: the page sends its settings first")?;
        if matches!(action, Action::Play | Action::Step) {
            session
                .problem
                .network
                .check_trainable()
                .map_err(|e| e.to_string())?;
        }
        if action == Action::Reset {
            return Ok(self.start(session.problem.clone()));
        }
        {
            let mut control = lock(&self.control);
            match action {
                Action::Play => control.playing = true,
                Action::Pause => control.playing = false,
                Action::Step => {
                    control.playing = false;
                    control.steps += 1;
                }
                Action::Reset => {}
            }
        }
        self.wake.notify_all();
        Ok(session.id)
    }

    /// Ends the running session's training thread (when the server stops).
    pub fn stop(&self) {
        let mut control = lock(&self.control);
        control.run += 1;
        control.playing = false;
        drop(control);
        self.wake.notify_all();
    }

    /// Ends the training thread and tells the stream's page why, in `message`.
    pub fn expire(&self, message: &str) {
        self.stop();
        let json = serde_json::json!({ "error": message }).to_string();
        self.events
            .send_replace(StreamEvent::Expired(Arc::new(json)));
    }

    fn run(self: Arc<Self>, session: Arc<Session>) {
        let mut network = session.problem.network.clone();
        let mut observer = FrameObserver {
            playground: self.clone(),
            session: session.clone(),
            history: Vec::new(),
            since_frame: 0,
            last_frame: Instant::now(),
            turn: None,
        };
        observer.turn = Some(self.turns.take());
        observer.publish(&network, None);
        if observer.pause() == Control::Stop {
            return;
        }
        let problem = &session.problem;
        let result = Trainer::new(problem.train_config.clone())
            .test(&problem.test)
            .observer(&mut observer)
            .fit(&mut network, &problem.train);
        if let Err(e) = result {
            self.publish_error(session.id, &e.to_string());
        }
    }

    fn publish_error(&self, run: u64, message: &str) {
        if lock(&self.control).run != run {
            return; // a newer run replaced this one: its error is stale
        }
        let json = serde_json::json!({ "run": run, "error": message }).to_string();
        self.events.send_replace(StreamEvent::Error(Arc::new(json)));
    }
}

/// Locks a mutex, taking the data even if a thread panicked while holding it (the
/// playground's state stays usable: each field is replaced whole).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The trainer's observer: draws frames and waits while the page is paused.
struct FrameObserver {
    playground: Arc<Playground>,
    session: Arc<Session>,
    history: Vec<(usize, f64, f64)>,
    since_frame: usize,
    last_frame: Instant,
    /// This session's turn at the cores, held while it computes.
    turn: Option<Turn>,
}

impl FrameObserver {
    fn publish(&mut self, network: &Network, report: Option<&EpochReport>) {
        let frame = frame(
            network,
            &self.session.problem,
            self.session.id,
            report,
            &self.history,
        );
        *lock(&self.session.latest) = network.clone();
        match serde_json::to_string(&frame) {
            Ok(json) => {
                if lock(&self.playground.control).run == self.session.id {
                    self.playground
                        .events
                        .send_replace(StreamEvent::Frame(Arc::new(json)));
                }
            }
            Err(e) => self
                .playground
                .publish_error(self.session.id, &format!("cannot encode a frame: {e}")),
        }
        self.since_frame = 0;
        self.last_frame = Instant::now();
    }

    /// Gives the turn back, blocks until the page plays or steps (Continue) or the run
    /// ends (Stop), and then waits for a new turn: a playing session goes to the back
    /// of the queue after every epoch, so the playing sessions take the cores in turn.
    fn pause(&mut self) -> Control {
        self.turn = None;
        let control = self.wait();
        if control == Control::Continue {
            self.turn = Some(self.playground.turns.take());
        }
        control
    }

    /// Blocks until the page plays or steps (Continue) or the run ends (Stop).
    fn wait(&self) -> Control {
        let p = &self.playground;
        let mut control = lock(&p.control);
        loop {
            if control.run != self.session.id {
                return Control::Stop;
            }
            if control.playing {
                return Control::Continue;
            }
            if control.steps > 0 {
                control.steps -= 1;
                return Control::Continue;
            }
            control = p
                .wake
                .wait(control)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl Observer for FrameObserver {
    fn on_epoch_with_network(&mut self, report: &EpochReport, network: &Network) -> Control {
        self.history.push((
            report.epoch,
            report.train_loss,
            report.test_loss.unwrap_or(f64::NAN),
        ));
        self.since_frame += 1;
        let playing = lock(&self.playground.control).playing;
        let per_frame = self.session.problem.config.epochs_per_frame.max(1);
        if !playing || self.since_frame >= per_frame {
            if playing {
                // Pace the run: at most one frame per FRAME_INTERVAL.
                let due = self.last_frame + FRAME_INTERVAL;
                let now = Instant::now();
                if due > now {
                    // Sleeping is not computing: the turn goes to the next session.
                    self.turn = None;
                    std::thread::sleep(due - now);
                    self.turn = Some(self.playground.turns.take());
                }
            }
            self.publish(network, Some(report));
        }
        self.pause()
    }
}

/// The cores, handed out in turns: at most `workers` sessions compute at once, and the
/// others wait in a first-come, first-served queue. A playing session takes one turn per
/// epoch (and its frame) and then queues again behind the others, so every playing tab
/// advances at the same pace and none starves, however many there are.
pub struct Turns {
    state: Mutex<TurnState>,
    ready: Condvar,
}

struct TurnState {
    /// Turns not taken.
    free: usize,
    /// The ticket that is served next, and the next one handed out.
    serving: u64,
    next: u64,
}

/// A turn at the cores; dropping it gives it back.
pub struct Turn {
    turns: Arc<Turns>,
}

impl Turns {
    /// `workers` turns (at least one).
    pub fn new(workers: usize) -> Self {
        Turns {
            state: Mutex::new(TurnState {
                free: workers.max(1),
                serving: 0,
                next: 0,
            }),
            ready: Condvar::new(),
        }
    }

    /// Waits for a turn, behind everyone who asked before.
    pub fn take(self: &Arc<Self>) -> Turn {
        let mut state = lock(&self.state);
        let ticket = state.next;
        state.next += 1;
        while state.serving != ticket || state.free == 0 {
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.serving += 1;
        state.free -= 1;
        drop(state);
        // The next ticket may be served too, if a turn is free.
        self.ready.notify_all();
        Turn {
            turns: self.clone(),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        lock(&self.turns.state).free += 1;
        self.turns.ready.notify_all();
    }
}

/// Cores available to this process (the default number of turns).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many tabs a server takes, and for how long an idle one is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Most sessions open at once; a tab beyond them is refused with the reason.
    pub max_sessions: usize,
    /// A session with no request for this long (and not playing to an open page) is freed.
    pub idle: Duration,
    /// Sessions computing at once (turns at the cores).
    pub workers: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_sessions: 40,
            idle: Duration::from_secs(900),
            workers: default_workers(),
        }
    }
}

/// One tab: its 2-D playground, its image view's model, and when it was last used.
pub struct Tab {
    /// The 2-D playground of this tab.
    pub playground: Arc<Playground>,
    /// The image view's model.
    pub image: Mutex<Option<Arc<crate::image::ImageModel>>>,
    last_seen: Mutex<Instant>,
    streams: std::sync::atomic::AtomicUsize,
}

impl Tab {
    /// Notes a request from the tab (it is not idle).
    pub fn touch(&self) {
        *lock(&self.last_seen) = Instant::now();
    }

    /// Counts an open event stream until the guard is dropped.
    pub fn stream_guard(self: &Arc<Self>) -> StreamGuard {
        self.streams
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        StreamGuard { tab: self.clone() }
    }

    /// Whether the tab counts as idle at `now`: no request for `idle`, unless it is
    /// playing to a page that is still connected.
    fn idle(&self, now: Instant, idle: Duration) -> bool {
        let watched = self.streams.load(std::sync::atomic::Ordering::SeqCst) > 0;
        if watched && self.playground.playing() {
            return false;
        }
        now.duration_since(*lock(&self.last_seen)) >= idle
    }
}

/// An open event stream of a tab (see [`Tab::stream_guard`]).
pub struct StreamGuard {
    tab: Arc<Tab>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.tab
            .streams
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.tab.touch(); // the idle clock starts when the page goes away
    }
}

/// Why a request's session cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// Every place is taken (the message says how many and which flag).
    Full(String),
    /// The id is not (or no longer) one of this server's sessions.
    Unknown(String),
}

/// Every tab's session. Ids are made here, unguessable (128 random bits), so that one
/// tab cannot reach another's network.
pub struct Sessions {
    limits: SessionLimits,
    tabs: Mutex<std::collections::HashMap<String, Arc<Tab>>>,
    turns: Arc<Turns>,
    /// This server process's id: a page that sees it change knows the server restarted.
    server: String,
    keys: std::collections::hash_map::RandomState,
    counter: std::sync::atomic::AtomicU64,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(SessionLimits::default())
    }
}

impl Sessions {
    /// No sessions yet, under `limits`.
    pub fn new(limits: SessionLimits) -> Self {
        let mut sessions = Sessions {
            limits,
            tabs: Mutex::new(std::collections::HashMap::new()),
            turns: Arc::new(Turns::new(limits.workers)),
            server: String::new(),
            keys: std::collections::hash_map::RandomState::new(),
            counter: std::sync::atomic::AtomicU64::new(0),
        };
        sessions.server = sessions.random_id();
        sessions
    }

    /// The turns at the cores that every session's computing takes.
    pub fn turns(&self) -> &Arc<Turns> {
        &self.turns
    }

    /// The limits this server runs under.
    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// This server process's id.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// 128 bits from the process's random SipHash keys, the time and a counter.
    fn random_id(&self) -> String {
        use std::hash::BuildHasher;
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let a = self.keys.hash_one((n, now, 0u8));
        let b = self.keys.hash_one((now, n, 1u8));
        format!("{a:016x}{b:016x}")
    }

    /// Opens a new session, or says why not (every place taken).
    ///
    /// # Errors
    /// [`SessionError::Full`] when `max_sessions` are open.
    pub fn open(&self) -> Result<(String, Arc<Tab>), SessionError> {
        self.reap();
        let mut tabs = lock(&self.tabs);
        if tabs.len() >= self.limits.max_sessions {
            return Err(SessionError::Full(format!(
                "the playground is full: {} sessions are open, its limit (--max-sessions {}); \
                 try again when another tab has closed, or ask whoever runs it to raise the limit",
                tabs.len(),
                self.limits.max_sessions
            )));
        }
        let id = self.random_id();
        let tab = Arc::new(Tab {
            playground: Arc::new(Playground::with_turns(self.turns.clone())),
            image: Mutex::new(None),
            last_seen: Mutex::new(Instant::now()),
            streams: std::sync::atomic::AtomicUsize::new(0),
        });
        tabs.insert(id.clone(), tab.clone());
        Ok((id, tab))
    }

    /// The session `id`, marked as used now.
    ///
    /// # Errors
    /// [`SessionError::Unknown`]: expired, or from an earlier server.
    pub fn get(&self, id: &str) -> Result<Arc<Tab>, SessionError> {
        let tab = lock(&self.tabs).get(id).cloned().ok_or_else(|| {
            SessionError::Unknown(format!(
                "this session is gone: it was idle for more than {} s and was freed, or the \
                 playground server restarted; start again for a new one",
                self.limits.idle.as_secs()
            ))
        })?;
        tab.touch();
        Ok(tab)
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        lock(&self.tabs).len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees the idle sessions, telling their pages why; returns how many.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let idle = self.limits.idle;
        let gone: Vec<Arc<Tab>> = {
            let mut tabs = lock(&self.tabs);
            let ids: Vec<String> = tabs
                .iter()
                .filter(|(_, tab)| tab.idle(now, idle))
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| tabs.remove(id)).collect()
        };
        for tab in &gone {
            tab.playground.expire(&format!(
                "this session was idle for more than {} s and was freed (its network is gone); \
                 start again for a new one",
                idle.as_secs()
            ));
        }
        gone.len()
    }

    /// Ends every session's training thread (when the server stops).
    pub fn stop(&self) {
        for tab in lock(&self.tabs).values() {
            tab.playground.stop();
        }
    }
}
