//! # glassbox — a neural network you can read
//!
//! glassbox is a multilayer perceptron written from first principles: neurons, layers,
//! back-propagation and gradient descent, each in a file you can read top to bottom,
//! with the formula beside the code that computes it. This page is a guided tour, from
//! one neuron to a trained, saved classifier.
//!
//! ## 1. A neuron
//!
//! A neuron takes inputs x₁ … xₙ, multiplies each by a weight, adds a bias and passes
//! the sum through an [activation function](activation):
//!
//! ```text
//! z = w₁x₁ + … + wₙxₙ + b        the weighted sum
//! a = f(z)                       the activation (step, identity, sigmoid, tanh, ReLU, …)
//! ```
//!
//! ```
//! use glassbox::Activation;
//! let z = 0.5 * 1.0 + 0.5 * 2.0 + 0.1; // weights 0.5, 0.5, bias 0.1, inputs 1, 2
//! assert!((Activation::Sigmoid.value(z) - 0.832).abs() < 1e-3);
//! ```
//!
//! ## 2. A layer, a network
//!
//! A [`Dense`] layer is many neurons side by side, all reading the same inputs; its
//! weights form a matrix W (one row per neuron: `out × in`). A [`Network`] stacks layers:
//! each layer's activations are the next one's inputs. A batch of examples goes through
//! as a matrix, one example per row (see [`layer`] and [`network`]):
//!
//! ```text
//! zˡ = aˡ⁻¹·Wˡᵀ + bˡ,   aˡ = f(zˡ)
//! ```
//!
//! A classifier has one output neuron per class; the predicted class is the output
//! neuron with the largest activation.
//!
//! ## 3. How wrong is it: the loss
//!
//! A [`Loss`] compares the output a with the target y (1 for the right class's neuron,
//! 0 for the others). The article's is the mean squared error, C = 1/B·Σ ½‖a − y‖²;
//! softmax outputs pair with cross-entropy. See [`loss`] for every formula and how each
//! relates to PyTorch's.
//!
//! ## 4. Learning: back-propagation and gradient descent
//!
//! Back-propagation finds, for every weight, how much the loss changes when the weight
//! changes (∂C/∂w), layer by layer from the output back; gradient descent then moves
//! each weight a small step against it, w ← w − η·∂C/∂w, where η is the learning rate
//! ([`optim`]). A [`Trainer`] repeats this over shuffled batches for a number of epochs,
//! measures a separate test set after each, and can stop early when a validation set
//! stops improving — the cure for over-fitting ([`train`]). Batch size 1 is the
//! article's "one update per example".
//!
//! [`explain()`] prints nothing but returns every number of one such step — z, a, δ,
//! ∂C/∂W and the updated weights — and [`gradcheck`] checks back-propagation against
//! finite differences.
//!
//! ## The code that runs is the code that explains
//!
//! Each formula is written once, beside its maths, and every path calls it — one thread
//! or many, a batch or one example, [`Network::backward`] or the trainer:
//!
//! | formula | where |
//! |---|---|
//! | zˡ = aˡ⁻¹·Wˡᵀ + bˡ, aˡ = f(zˡ) | [`layer::forward`], with f from [`Activation::forward`] |
//! | dropout mask, ã = a ⊙ mask | [`layer::dropout`] |
//! | C and δᴸ = ∂C/∂zᴸ | [`Loss::sum_and_delta`] |
//! | ∂C/∂W = δᵀ·a, ∂C/∂b = Σ δ | [`layer::gradients`] |
//! | δˡ⁻¹ = (δˡ·Wˡ) ⊙ f′(zˡ⁻¹) | [`layer::error_below`], then [`layer::delta_from_error`] with [`Activation::backward`] |
//! | w ← w − η·g, momentum, Adam, Rprop | [`optim`]'s `update_part` |
//! | every matrix product | [`tensor::gemm`] |
//!
//! The trainer's step (`train/step.rs`) only says who computes which part: with T
//! threads each owns a band of every layer's neurons and calls the same functions on
//! its band of rows. The one specialised path — online SGD's update of the first layer
//! fused with the next example's weighted sums (`Dense::sgd_step_then_weighted_sums`,
//! one sweep over the rows of W¹ᵀ that skips the pixels blank in both images) — is
//! documented as such and tested equal to the general one (`tests/engine.rs`).
//!
//! A tour of the step the benchmark runs (784-512-256-10, Adam, batch 128, 2 threads):
//! [`Trainer::fit`] (`train.rs`) → `Run::epoch` → `step::run_epoch` → `Context::work`,
//! which for the output layer calls [`Loss::sum_and_delta`] (δᴸ = (p − y)/B), then for
//! each layer below [`layer::error_below`] and [`layer::delta_from_error`]
//! (δˡ = (δˡ⁺¹·Wˡ⁺¹) ⊙ f′(zˡ)), [`layer::gradients`] and `optim::update_part`.
//!
//! ## 5. The whole story: train, evaluate, save
//!
//! ```
//! use glassbox::data::digits;
//! use glassbox::train::Silent;
//! use glassbox::{metrics, Activation, Adam, Init, Loss, ModelInfo, Network, TrainConfig, Trainer};
//!
//! # fn main() -> glassbox::Result<()> {
//! let (train, test) = digits::train_test()?;           // embedded 8×8 digits, 10 classes
//! let mut net = Network::builder(64)
//!     .dense(64, Activation::Relu)
//!     .dense(10, Activation::Softmax)                  // one output neuron per class
//!     .build(Init::He, 1)?;
//! let config = TrainConfig {
//!     loss: Loss::CrossEntropy,
//!     optimizer: Adam { learning_rate: 0.003, ..Adam::default() }.into(),
//!     epochs: 20,
//!     batch_size: 32,
//!     seed: 1,
//!     ..TrainConfig::default()
//! };
//! let history = Trainer::new(config).test(&test).fit(&mut net, &train)?;
//! let result = metrics::evaluate(&net, &test, Loss::CrossEntropy)?;
//! assert!(result.accuracy.unwrap() > 0.9);
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("digits.safetensors");
//! let info = ModelInfo { class_names: train.class_names().to_vec(), ..ModelInfo::default() };
//! glassbox::io::save(&path, &net, &info)?;             // safetensors: loads in PyTorch too
//! # Ok(()) }
//! ```
//!
//! ## Where things live
//!
//! | module | what |
//! |---|---|
//! | [`tensor`] | the matrix type and the one place that multiplies matrices |
//! | [`threads`] | how many threads: the physical cores, or `GLASSBOX_THREADS` |
//! | `spin`, `sync` | helper threads and a barrier that wait by spinning (model-checked with loom) |
//! | [`activation`] | f and f′ for step, identity, sigmoid, tanh, ReLU, leaky ReLU, softmax |
//! | [`layer`], [`network`] | the formulas of a layer; forward pass and back-propagation |
//! | [`loss`], [`init`], [`optim`] | losses, initial weights, optimisers and schedules |
//! | [`train`], [`metrics`] | the epoch loop and the step (`train/step.rs`), observers, history; accuracy, confusion, F1 |
//! | [`data`] | datasets and loaders: IDX, CSV, image folders, synthetic, embedded digits |
//! | [`io`] | model files (safetensors) |
//! | [`interop`] | ONNX export; PyTorch (`nn.Sequential`) export and import |
//! | [`quant`] | int8 models: quantization, int8 kernels, their files |
//! | [`explain()`], [`gradcheck`] | one step in numbers; finite-difference checks |
//!
//! The library never prints or exits, and reads one environment variable
//! (`GLASSBOX_THREADS`, see [`threads`]): it returns values
//! and typed [`Error`]s, and reports progress through [`train::Observer`].

pub mod activation;
pub mod data;
pub mod error;
pub mod explain;
pub mod file;
pub mod gradcheck;
pub mod init;
pub mod interop;
pub mod io;
pub mod layer;
pub mod loss;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod quant;
pub mod rng;
pub(crate) mod spin;
pub(crate) mod sync;
pub mod tensor;
pub mod threads;
pub mod train;

pub use activation::Activation;
pub use error::{Error, Result};
pub use explain::{explain, Explanation, LayerTrace};
pub use gradcheck::GradientReport;
pub use init::Init;
pub use io::ModelInfo;
pub use layer::{Dense, DenseGrads};
pub use loss::Loss;
pub use network::{Network, Workspace};
pub use optim::{Adam, Momentum, Optimizer, Rprop, Schedule, Sgd};
pub use train::{TrainConfig, Trainer};
