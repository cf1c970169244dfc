//! The command line as typed (clap derive), and its one conversion into the library's
//! settings.
//!
//! Two layers, as in ripgrep: the `*Args` structs hold what the user typed, with defaults
//! that depend on other flags left as `None`; [`TrainPlan::try_from`] resolves those
//! defaults and checks every value once, so each validation message lives here (or in
//! the library's own checks, which the conversion calls).

use crate::error::{library_message, usage};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use glassbox::data::csv::LabelColumn;
use glassbox::data::Scaling;
use glassbox::optim::{Adam, Momentum, Rprop, Sgd};
use glassbox::train::Shuffle;
use glassbox::{Activation, Init, Loss, Optimizer, Schedule, TrainConfig};
use std::path::PathBuf;

/// Hidden layer widths when `--layers` is not given. With the other defaults (Adam,
/// η = 0.001, batch 32, 30 epochs) one layer of 128 reaches 97.5–98% on the embedded
/// digits' test set for seeds 1–3; 64 neurons gave 96.9%, 256 no more than 128
/// (measured with `glassbox train --layers N --seed S --json`).
pub const DEFAULT_HIDDEN: &[usize] = &[128];
/// Epochs when `--epochs` is not given.
pub const DEFAULT_EPOCHS: usize = 30;
/// Examples per update when `--batch-size` is not given.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// The seed when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 1;
/// Fraction held out for testing when a single file is given and no `--test`.
pub const DEFAULT_TEST_SPLIT: f64 = 0.2;
/// Where `train` writes the model when `--out` is not given.
pub const DEFAULT_MODEL: &str = "model.safetensors";

/// glassbox: a neural network you can read — train, evaluate, predict, explain, inspect.
#[derive(Debug, Parser)]
#[command(name = "glassbox", version, about, long_about = None)]
#[command(propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network (with no flags: the embedded 8×8 digits, in seconds).
    #[command(allow_negative_numbers = true)]
    Train(Box<TrainArgs>),
    /// Measure a saved model on a data set: loss, accuracy, confusion matrix.
    Evaluate(EvaluateArgs),
    /// Classify images or the rows of a CSV file with a saved model.
    Predict(PredictArgs),
    /// Open the black box: every number of one forward and backward step.
    #[command(allow_negative_numbers = true)]
    Explain(ExplainArgs),
    /// Show a saved model's architecture and weight statistics.
    Inspect(InspectArgs),
    /// Open the playground: a local web page that trains a network and shows every neuron.
    Playground(PlaygroundArgs),
    /// Write a saved model for another runtime: ONNX (ONNX Runtime, …) or PyTorch.
    Export(ExportArgs),
    /// Make a glassbox model from a PyTorch state dict (safetensors).
    Import(ImportArgs),
    /// Make an int8 model (¼ the size, faster on the CPU) from a float one.
    Quantize(QuantizeArgs),
    /// Serve a model over HTTP: the Open Inference Protocol (KServe v2) and /predict.
    Serve(ServeArgs),
}

/// How the data are read: shared by the commands that take `--data`.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Which CSV column is the label: a header name or a 0-based index (default: a
    /// column named label/class/target/y, else the last).
    #[arg(long, value_name = "NAME|INDEX")]
    pub label_column: Option<String>,
    /// Read the CSV label column as a real-valued target (regression).
    #[arg(long)]
    pub regression: bool,
    /// Leave the training images of an IDX directory in their file and read them as
    /// training uses them (memory holds the labels only, whatever the file's size); the
    /// file must be uncompressed. Examples are shuffled in blocks (see the README).
    #[arg(long)]
    pub stream: bool,
}

impl DataArgs {
    /// The library's label-column choice.
    pub fn label_column(&self) -> LabelColumn {
        match &self.label_column {
            None => LabelColumn::Auto,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(index) => LabelColumn::Index(index),
                Err(_) => LabelColumn::Name(text.clone()),
            },
        }
    }
}

/// `glassbox train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The training data: digits, fashion-mnist, xor, circles, spirals, gaussians
    /// (synthetic: NAME[:N[:NOISE]]), an IDX directory, a CSV file or an image folder.
    #[arg(long, value_name = "SPEC", default_value = "digits")]
    pub data: String,
    /// A separate test set (same kinds of SPEC as --data).
    #[arg(long, value_name = "SPEC")]
    pub test: Option<String>,
    /// Fraction of --data held out for testing when it has no test set of its own
    /// (default 0.2; 0 holds none out). Stratified by class and seeded.
    #[arg(long, value_name = "F")]
    pub test_split: Option<f64>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Feature scaling, fitted on the training part only and stored in the model.
    #[arg(long, value_name = "none|minmax|standard", default_value = "none")]
    pub scale: Scaling,
    /// Hidden layer widths, input side first, e.g. 128,64 (`none`: no hidden layer).
    #[arg(long, value_name = "N,N,…")]
    pub layers: Option<String>,
    /// Activation of the hidden layers: step, identity, sigmoid, tanh, relu, leaky-relu[:α].
    #[arg(long, value_name = "NAME", default_value = "relu")]
    pub activation: Activation,
    /// Activation of the output layer: softmax, sigmoid or identity (default: softmax
    /// with cross-entropy, sigmoid with mse or binary-cross-entropy, identity for
    /// regression).
    #[arg(long, value_name = "NAME")]
    pub output: Option<Activation>,
    /// The loss: mse, cross-entropy or binary-cross-entropy (default: cross-entropy, or
    /// mse for a sigmoid/identity output and for regression).
    #[arg(long, value_name = "NAME")]
    pub loss: Option<Loss>,
    /// The optimiser: sgd, momentum, nesterov, adam or rprop.
    #[arg(long, value_name = "NAME", default_value = "adam")]
    pub optimizer: String,
    /// Learning rate η (default: adam 0.001, sgd 0.1, momentum/nesterov 0.01; rprop has none).
    #[arg(long, value_name = "η")]
    pub lr: Option<f32>,
    /// Momentum μ for momentum and nesterov.
    #[arg(long, value_name = "μ", default_value_t = 0.9)]
    pub momentum: f32,
    /// Examples per update (1 = one update per example, the article's way).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Passes over the training set (0: save the initial network without training).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EPOCHS)]
    pub epochs: usize,
    /// Seed for the initial weights, shuffling and splits.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Keep the data's order every epoch.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Initial weights: auto (He for ReLU, Xavier otherwise), small[:r], xavier, he.
    #[arg(long, value_name = "NAME", default_value = "auto")]
    pub init: Init,
    /// Start from a saved model's weights (its architecture, or the flags' when the
    /// file holds none).
    #[arg(long, value_name = "MODEL")]
    pub init_from: Option<PathBuf>,
    /// Fraction of the training part held out for validation (drives early stopping).
    #[arg(long, value_name = "F")]
    pub validation_split: Option<f64>,
    /// Stop when the validation loss has not improved for this many epochs, keeping
    /// the best epoch's weights (needs --validation-split).
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// L2 weight decay λ.
    #[arg(long, value_name = "λ", default_value_t = 0.0)]
    pub l2: f32,
    /// Dropout rate on the hidden layers during training.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub dropout: f32,
    /// Learning-rate schedule: constant, cosine, step or step:EVERY:FACTOR.
    #[arg(long, value_name = "NAME", default_value = "constant")]
    pub schedule: Schedule,
    /// Threads for large matrix products and for sharing a training step's neurons
    /// between cores (default: one per physical core; a second hardware thread on a
    /// core adds no arithmetic). More than the cores is reduced to the cores, with a
    /// note; the environment variable GLASSBOX_THREADS sets the core count.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Where to save the trained model.
    #[arg(long, value_name = "MODEL", default_value = DEFAULT_MODEL)]
    pub out: PathBuf,
    /// Write a checkpoint to DIR (created when missing) after every epoch, or every
    /// --checkpoint-every epochs: the weights, the optimiser's state, the random state,
    /// the example order and the history, atomically. `--resume DIR` continues from it.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub checkpoint_every: usize,
    /// Continue the run checkpointed in DIR, ending with the same weights, bit for bit,
    /// as a run never interrupted. Alone (`glassbox train --resume DIR`) it repeats the
    /// command line that made the checkpoint; with other flags they must describe the
    /// same run (only --epochs may change).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Draw loss and accuracy per epoch (train vs test) to a .png or .svg file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write the per-epoch figures to a CSV file.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Print one JSON object with the results as the last line (no progress bar).
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve a live dashboard of this run on 127.0.0.1:PORT (0: any free port; the
    /// first line printed names the URL). It stays up after training until Ctrl-C.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "8322")]
    pub dashboard: Option<u16>,
}

/// `glassbox evaluate`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// The model file.
    #[arg(long, value_name = "MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// The data to evaluate on (SPEC as for train). Data that brings its own test set
    /// (digits, fashion-mnist, an IDX directory) is evaluated on that test set.
    #[arg(long, value_name = "SPEC", default_value = "digits")]
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Draw the confusion matrix as a heat map (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub confusion: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `glassbox predict`.
#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// The model file.
    #[arg(long, value_name = "MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Image files (PNG, JPEG) or CSV files (one prediction per row).
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Which CSV column is the label, when the CSV has one (it is ignored).
    #[arg(long, value_name = "NAME|INDEX")]
    pub label_column: Option<String>,
    /// Print one JSON object per input.
    #[arg(long)]
    pub json: bool,
    /// Show this many most likely classes per input (0: all).
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub top: usize,
}

/// `glassbox explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// A model file (default: a tiny built-in 2-2-1 network on XOR with fixed weights).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// The data the example comes from (SPEC as for train; needed with --model).
    #[arg(long, value_name = "SPEC")]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Which example of the data (0-based; the test part when the data has one).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub sample: usize,
    /// The optimiser whose first step is shown: sgd, momentum, nesterov, adam or rprop.
    #[arg(long, value_name = "NAME", default_value = "sgd")]
    pub optimizer: String,
    /// Learning rate η of the step shown (default: 0.5 for sgd; as for train otherwise:
    /// adam 0.001, momentum/nesterov 0.01; rprop has none).
    #[arg(long, value_name = "η")]
    pub lr: Option<f32>,
    /// Momentum μ for momentum and nesterov.
    #[arg(long, value_name = "μ", default_value_t = 0.9)]
    pub momentum: f32,
    /// The loss (default: the model's, or mse for the built-in network).
    #[arg(long, value_name = "NAME")]
    pub loss: Option<Loss>,
    /// Print every term of every sum and every weight, in order (default: 8 per neuron,
    /// the largest |wᵢxᵢ| and gradients first when there are more).
    #[arg(long)]
    pub all: bool,
    /// Print the same as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `glassbox inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The model file.
    #[arg(long, value_name = "MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Draw each first-layer neuron's weights as a small image (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub weights_image: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `glassbox playground`.
#[derive(Debug, Clone, Args)]
pub struct PlaygroundArgs {
    /// The port to listen on (0 = any free port; the first line printed names it).
    #[arg(long, value_name = "N", default_value_t = 8321)]
    pub port: u16,
    /// The address to listen on. The default is loopback: only this machine can connect.
    #[arg(long, value_name = "H", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Most tabs (sessions) served at once; a tab beyond them is told why it is refused.
    /// Each session holds at most 5 000 points, 10 × 64 neurons and one image model.
    #[arg(long, value_name = "N", default_value_t = 40,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_sessions: u64,
    /// Free a session after this many seconds with no request from its tab (a tab that
    /// is playing, with its page open, is never idle); the tab says so and offers to
    /// start again.
    #[arg(long, value_name = "SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle: u64,
    /// Sessions that compute at once (default: the cores); playing tabs take turns.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,
}

/// `glassbox quantize`.
#[derive(Debug, Clone, Args)]
pub struct QuantizeArgs {
    /// The float model file.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// Where to write the int8 model.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `glassbox serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The model file (float or int8).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// The port to listen on (0 = any free port; the first line printed names it).
    #[arg(long, value_name = "N", default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on. The default is loopback: only this machine can connect.
    #[arg(long, value_name = "H", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Also serve the protocol over gRPC (inference.GRPCInferenceService) on this port of
    /// --host (0 = any free port; the line `grpc: HOST:PORT` after `serving:` names it).
    #[arg(long, value_name = "N")]
    pub grpc_port: Option<u16>,
    /// The model's name in the routes (default: the file's stem).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Threads for the engine's arithmetic (default 1: requests arriving together already
    /// run as one batch, and the HTTP runtime needs the other cores; see the README's
    /// load test)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// A file holding the token that requests must carry as `Authorization: Bearer
    /// TOKEN` (all routes but /v2/health/*). It must be private to its owner (`chmod 600`).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Open connections at most; more wait to be accepted (default: the open-file limit
    /// less an eighth of it)
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Requests handled at once; more get 503 with Retry-After (default 1024)
    #[arg(long, value_name = "N")]
    pub max_inflight_requests: Option<usize>,
    /// Body bytes of the requests handled at once; more get 503 with Retry-After, and one
    /// larger body gets 413 (default 64 MiB)
    #[arg(long, value_name = "BYTES")]
    pub max_inflight_bytes: Option<usize>,
    /// Seconds from a request head's first byte to its end before the connection is
    /// closed (default 10)
    #[arg(long, value_name = "SECONDS")]
    pub header_timeout: Option<f64>,
    /// Seconds a connection may wait between requests before it is closed (default 30)
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<f64>,
    /// Seconds a body may take before --min-body-rate applies (default 10)
    #[arg(long, value_name = "SECONDS")]
    pub body_grace: Option<f64>,
    /// Bytes per second a body must average after the grace, or it gets 408 and its
    /// connection is closed (default 8192)
    #[arg(long, value_name = "BYTES")]
    pub min_body_rate: Option<u64>,
    /// Seconds the requests in flight may take after SIGTERM or Ctrl-C (default 30)
    #[arg(long, value_name = "SECONDS")]
    pub drain_timeout: Option<f64>,
}

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// ONNX (opset 17), input scaling folded in: runs in ONNX Runtime, Triton, ….
    Onnx,
    /// A safetensors state dict of an `nn.Sequential`, and a PyTorch script.
    Torch,
}

/// `glassbox export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The model file.
    #[arg(long, value_name = "MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// What to write.
    #[arg(long, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Where to write it.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// With --format torch: write the PyTorch script here instead of printing it.
    #[arg(long, value_name = "FILE.py")]
    pub script: Option<PathBuf>,
}

/// `glassbox import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// A PyTorch state dict saved as safetensors (nn.Sequential: 0.weight, 0.bias,
    /// 2.weight, …; or nn.ModuleList: layers.0.weight, …).
    #[arg(long, value_name = "STATE.safetensors")]
    pub torch: PathBuf,
    /// One activation per linear layer, input side first: step, identity, sigmoid, tanh,
    /// relu, leaky-relu[:α], softmax.
    #[arg(long, value_name = "A,A,…", value_delimiter = ',', required = true)]
    pub activations: Vec<Activation>,
    /// The inputs are images of this shape: HxW (grayscale) or HxWxC.
    #[arg(long, value_name = "HxW[xC]")]
    pub inputs_shape: Option<String>,
    /// The class names, one per output neuron.
    #[arg(long, value_name = "NAME,NAME,…", value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// Where to write the glassbox model.
    #[arg(long, value_name = "MODEL", default_value = DEFAULT_MODEL)]
    pub out: PathBuf,
}

/// `train`'s flags, resolved and checked: the network to build and the library's
/// training settings.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    /// Hidden layer widths, input side first.
    pub hidden: Vec<usize>,
    /// Whether `--layers` was given (it then overrides a model's architecture).
    pub layers_given: bool,
    /// Hidden activation.
    pub activation: Activation,
    /// Output activation.
    pub output: Activation,
    /// The library's training settings.
    pub config: TrainConfig,
    /// Fraction of the training set held out for validation (`None`: none).
    pub validation_split: Option<f64>,
    /// Held-out test fraction for single files (`None`: none held out).
    pub test_split: Option<f64>,
    /// Whether `--test-split` was typed.
    pub test_split_given: bool,
    /// Why `--threads` was reduced, when it was.
    pub threads_note: Option<String>,
}

/// Parses `--layers`: `128,64`, or `none`/empty for no hidden layer.
fn parse_layers(text: &str) -> Result<Vec<usize>> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let part = part.trim();
            match part.parse::<usize>() {
                Ok(0) => Err(usage(format!(
                    "--layers {text}: a layer of 0 neurons cannot pass anything on; \
                     every hidden layer needs at least 1 neuron"
                ))),
                Ok(n) => Ok(n),
                Err(_) => Err(usage(format!(
                    "--layers {text}: `{part}` is not a number of neurons \
                     (expected widths separated by commas, e.g. 128,64)"
                ))),
            }
        })
        .collect()
}

/// The optimiser named by `--optimizer`, with the learning rate (its default depends on
/// the optimiser).
pub(crate) fn optimizer(name: &str, lr: Option<f32>, momentum: f32) -> Result<Optimizer> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "sgd" => Sgd {
            learning_rate: lr.unwrap_or(0.1),
        }
        .into(),
        "momentum" => Momentum {
            learning_rate: lr.unwrap_or(0.01),
            momentum,
        }
        .into(),
        "nesterov" => Optimizer::Nesterov(Momentum {
            learning_rate: lr.unwrap_or(0.01),
            momentum,
        }),
        "adam" => Adam {
            learning_rate: lr.unwrap_or(0.001),
            ..Adam::default()
        }
        .into(),
        "rprop" => {
            if lr.is_some() {
                return Err(usage(
                    "--lr: rprop adapts a step size per weight and has no learning rate",
                ));
            }
            Rprop::default().into()
        }
        other => {
            return Err(usage(format!(
                "unknown optimizer `{other}` (expected sgd, momentum, nesterov, adam or rprop)"
            )))
        }
    })
}

/// The number of threads when `--threads` is not given: one per physical core, or
/// `GLASSBOX_THREADS` (see [`glassbox::threads`]).
pub fn default_threads() -> usize {
    glassbox::threads::available()
}

/// `--threads`, checked: 0 is refused; more than the cores glassbox counts is reduced to
/// that count, with a note to show: threads that wait for each other by spinning take
/// turns on shared cores, which slows every step (bench/RESULTS.md has the figure).
pub fn resolve_threads(requested: Option<usize>) -> Result<(usize, Option<String>)> {
    let cores = default_threads();
    match requested {
        None => Ok((cores, None)),
        Some(0) => Err(usage("--threads 0: at least one thread is needed")),
        Some(n) if n > cores => Ok((
            cores,
            Some(format!(
                "--threads {n}: this machine has {cores} core{} for glassbox, so {cores} \
                 thread{} will be used (more would wait for each other; set {}={n} to \
                 insist)",
                if cores == 1 { "" } else { "s" },
                if cores == 1 { "" } else { "s" },
                glassbox::threads::ENV_VAR,
            )),
        )),
        Some(n) => Ok((n, None)),
    }
}

/// Checks a fraction flag: in [0, 1).
fn fraction(flag: &str, value: f64) -> Result<f64> {
    if !(0.0..1.0).contains(&value) {
        return Err(usage(format!(
            "{flag} {value}: expected a fraction from 0 up to (not including) 1"
        )));
    }
    Ok(value)
}

impl TryFrom<&TrainArgs> for TrainPlan {
    type Error = anyhow::Error;

    fn try_from(args: &TrainArgs) -> Result<Self> {
        let hidden = match &args.layers {
            Some(text) => parse_layers(text)?,
            None => DEFAULT_HIDDEN.to_vec(),
        };
        if let Some(lr) = args.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(usage(format!(
                    "--lr {lr}: the learning rate must be a positive number \
                     (each step moves the weights by −η·∂C/∂w)"
                )));
            }
        }
        if args.batch_size == 0 {
            return Err(usage(
                "--batch-size 0: a batch needs at least one example (1 = one update per example)",
            ));
        }
        let (threads, threads_note) = resolve_threads(args.threads)?;
        if args.activation == Activation::Softmax {
            return Err(usage(
                "--activation softmax: softmax is only for the output layer (use --output softmax)",
            ));
        }
        let (loss, output) = match (args.loss, args.output) {
            (Some(loss), Some(output)) => (loss, output),
            (Some(Loss::CrossEntropy), None) => (Loss::CrossEntropy, Activation::Softmax),
            (Some(loss), None) if args.data_args.regression => (loss, Activation::Identity),
            (Some(loss), None) => (loss, Activation::Sigmoid),
            (None, Some(Activation::Softmax)) => (Loss::CrossEntropy, Activation::Softmax),
            (None, Some(output)) => (Loss::Mse, output),
            (None, None) if args.data_args.regression => (Loss::Mse, Activation::Identity),
            (None, None) => (Loss::CrossEntropy, Activation::Softmax),
        };
        let validation_split = match args.validation_split {
            None | Some(0.0) => None,
            Some(f) => Some(fraction("--validation-split", f)?),
        };
        let test_split = match args.test_split {
            None => Some(DEFAULT_TEST_SPLIT),
            Some(f) if fraction("--test-split", f)? == 0.0 => None,
            Some(f) => Some(f),
        };
        let config = TrainConfig {
            loss,
            optimizer: optimizer(&args.optimizer, args.lr, args.momentum)?,
            epochs: args.epochs,
            batch_size: args.batch_size,
            shuffle: if args.no_shuffle {
                Shuffle::Never
            } else {
                Shuffle::EveryEpoch
            },
            seed: args.seed,
            l2: args.l2,
            dropout: args.dropout,
            schedule: args.schedule,
            early_stopping: args.early_stopping,
            threads,
        };
        // The library's own checks (momentum range, dropout, patience …), reported as
        // usage errors with its message.
        config.validate().map_err(|e| usage(e.to_string()))?;
        if config.early_stopping.is_some() && validation_split.is_none() {
            return Err(usage(
                "--early-stopping watches the validation loss: add --validation-split F",
            ));
        }
        if let Err(e) = loss.check_output(output) {
            let needed = loss.required_output().unwrap_or(output);
            return Err(usage(format!(
                "--loss {loss}: {}; use --output {needed}, or --loss mse",
                library_message(e)
            )));
        }
        Ok(TrainPlan {
            hidden,
            layers_given: args.layers.is_some(),
            activation: args.activation,
            output,
            config,
            validation_split,
            test_split,
            test_split_given: args.test_split.is_some(),
            threads_note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(argv: &[&str]) -> Result<TrainPlan> {
        let mut full = vec!["glassbox", "train"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).map_err(|e| anyhow::anyhow!("{e}"))?;
        match cli.command {
            Command::Train(args) => TrainPlan::try_from(args.as_ref()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_the_main_job() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.hidden, DEFAULT_HIDDEN);
        assert_eq!(p.output, Activation::Softmax);
        assert_eq!(p.config.loss, Loss::CrossEntropy);
        assert_eq!(p.config.optimizer.name(), "adam");
        assert_eq!(p.config.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(p.test_split, Some(DEFAULT_TEST_SPLIT));
    }

    #[test]
    fn learning_rate_defaults_follow_the_optimizer() {
        let lr = |o: &str| {
            plan(&["--optimizer", o])
                .unwrap()
                .config
                .optimizer
                .learning_rate()
        };
        assert_eq!(lr("sgd"), 0.1);
        assert_eq!(lr("adam"), 0.001);
        assert_eq!(lr("momentum"), 0.01);
        assert_eq!(
            plan(&["--optimizer", "sgd", "--lr", "0.5"])
                .unwrap()
                .config
                .optimizer
                .learning_rate(),
            0.5
        );
    }

    #[test]
    fn output_and_loss_pair_up() {
        let p = plan(&["--loss", "mse"]).unwrap();
        assert_eq!(p.output, Activation::Sigmoid);
        let p = plan(&["--output", "softmax"]).unwrap();
        assert_eq!(p.config.loss, Loss::CrossEntropy);
        let p = plan(&["--regression"]).unwrap();
        assert_eq!((p.config.loss, p.output), (Loss::Mse, Activation::Identity));
        let err = plan(&["--loss", "cross-entropy", "--output", "sigmoid"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--loss cross-entropy: cross-entropy needs a softmax output layer (it has sigmoid); \
             use --output softmax, or --loss mse"
        );
        let err = plan(&["--loss", "binary-cross-entropy", "--regression"])
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("use --output sigmoid, or --loss mse"),
            "{err}"
        );
    }

    #[test]
    fn impossible_values_are_rejected_with_the_flag_named() {
        for (argv, needle) in [
            (&["--lr", "-1"][..], "--lr"),
            (&["--batch-size", "0"][..], "--batch-size"),
            (&["--layers", "0"][..], "--layers"),
            (&["--layers", "12,x"][..], "`x`"),
            (&["--test-split", "1.5"][..], "--test-split"),
            (&["--optimizer", "lbfgs"][..], "lbfgs"),
            (&["--early-stopping", "3"][..], "--validation-split"),
        ] {
            let err = plan(argv).unwrap_err().to_string();
            assert!(err.contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn layers_parse() {
        assert_eq!(
            plan(&["--layers", "128, 64"]).unwrap().hidden,
            vec![128, 64]
        );
        assert!(plan(&["--layers", "none"]).unwrap().hidden.is_empty());
    }
}
