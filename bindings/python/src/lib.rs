//! `glassbox._core`: the glassbox library as Python calls it.
//!
//! This module is the whole bridge between the Python package and the engine, and it
//! does no arithmetic of its own: a [`Model`] holds a [`Network`], and each method hands
//! its arrays to the library function that does the work — [`Trainer::fit`] for
//! `fit` and `partial_fit`, [`Network::predict_batch_invariant`] for `predict_proba`,
//! [`glassbox::explain`] for `explain`, [`glassbox::io`] and
//! [`glassbox::interop::onnx`] for files. The scikit-learn estimators in
//! `python/glassbox/_estimators.py` validate their parameters and data and call it.
//!
//! Two things happen here that Python cannot do for itself:
//! - **No copy of the training data.** A float32, C-contiguous NumPy array is lent to
//!   the library as it is ([`Dataset::classification_shared`]): the data set reads the
//!   array's memory while training runs, and keeps the array alive until it is done.
//! - **The interpreter stays free, and Ctrl-C works.** Training runs on a thread of its
//!   own with the GIL released. The calling thread waits on it, and every 20 ms takes
//!   the GIL back for a moment to let Python handle signals (a `KeyboardInterrupt`
//!   stops training at the next batch: [`Watch::on_batch`]) and to show progress.

use glassbox::data::{Dataset, SharedFloats};
use glassbox::io::ModelInfo;
use glassbox::optim::OptimizerState;
use glassbox::tensor::Parallelism;
use glassbox::train::{BatchProgress, Control, EpochReport, Observer, Shuffle, StopReason};
use glassbox::{
    Activation, Adam, Dense, Init, Loss, Momentum, Network, Optimizer, Rprop, Sgd, TrainConfig,
    Trainer,
};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use numpy::{PyUntypedArrayMethods, ToPyArray};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// A library error as a Python exception: files that cannot be read or written are
/// `OSError`s, everything else (shapes, settings, contents) a `ValueError`.
fn to_py(error: glassbox::Error) -> PyErr {
    match error {
        glassbox::Error::Io { .. } => PyOSError::new_err(error.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// A C-contiguous float32 NumPy array lent to the library without a copy: the data set
/// reads `len` floats at `ptr`, and `_owner` keeps the array alive while it does.
///
/// The array is read while the GIL is released. NumPy cannot stop another Python thread
/// from writing to it meanwhile; the package's docs say not to (as for any library that
/// releases the GIL over an array).
struct LentRows {
    _owner: Py<PyAny>,
    ptr: *const f32,
    len: usize,
}

// SAFETY: the pointer is only read, and the memory it points to is owned by the array
// that `_owner` keeps alive for as long as this value exists; `Py` is Send and Sync.
unsafe impl Send for LentRows {}
// SAFETY: as above: shared reads of memory that outlives the value.
unsafe impl Sync for LentRows {}

impl AsRef<[f32]> for LentRows {
    fn as_ref(&self) -> &[f32] {
        // SAFETY: `ptr` and `len` came from a C-contiguous float32 array (see `lend`),
        // which `_owner` keeps alive.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// The rows of `x` (float32, C-contiguous, as the Python side prepares them), shared
/// with the library without a copy, and their width.
fn lend(x: &Bound<'_, PyArray2<f32>>) -> PyResult<(SharedFloats, usize)> {
    if !x.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "glassbox needs C-contiguous float32 rows (np.ascontiguousarray(X, dtype=np.float32))",
        ));
    }
    let [rows, width] = [x.shape()[0], x.shape()[1]];
    let lent = LentRows {
        _owner: x.clone().into_any().unbind(),
        ptr: x.data().cast_const(),
        len: rows * width,
    };
    Ok((Arc::new(lent), width))
}

/// The data set of `x` with integer class labels (`0 … classes − 1`) or real targets.
fn dataset(
    x: &Bound<'_, PyArray2<f32>>,
    labels: Option<PyReadonlyArray1<'_, i64>>,
    values: Option<PyReadonlyArray2<'_, f32>>,
    classes: usize,
) -> PyResult<Dataset> {
    let (features, width) = lend(x)?;
    let data = match (labels, values) {
        (Some(labels), None) => {
            let labels = labels
                .as_array()
                .iter()
                .map(|&l| usize::try_from(l))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| PyValueError::new_err("class labels must be ≥ 0"))?;
            let names = (0..classes).map(|c| c.to_string()).collect();
            Dataset::classification_shared(features, width, labels, names)
        }
        (None, Some(values)) => {
            let target_width = values.shape()[1];
            let values = values.as_array().iter().copied().collect();
            Dataset::regression_shared(features, width, values, target_width)
        }
        _ => {
            return Err(PyValueError::new_err(
                "give either class labels or target values",
            ))
        }
    };
    data.map_err(to_py)
}

/// A network and what its file keeps beside it, with the optimiser's memory between
/// `partial_fit` calls.
#[pyclass(module = "glassbox._core")]
struct Model {
    network: Network,
    info: ModelInfo,
    /// Momentum's velocity or Adam's moments, carried from one `fit` call to the next
    /// when asked (`partial_fit`); empty until then.
    optimizer: OptimizerState,
}

/// Reads an activation's name as the library does (`relu`, `tanh`, `sigmoid`,
/// `identity`, `leaky-relu:0.01`, `softmax`, `step`).
fn activation(name: &str) -> PyResult<Activation> {
    name.parse().map_err(PyValueError::new_err)
}

/// The optimiser named `solver` with its hyper-parameters.
#[allow(clippy::too_many_arguments)]
fn optimizer(
    solver: &str,
    learning_rate: f32,
    momentum: f32,
    nesterov: bool,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
) -> PyResult<Optimizer> {
    Ok(match solver {
        "sgd" if momentum == 0.0 => Sgd { learning_rate }.into(),
        "sgd" => {
            let m = Momentum {
                learning_rate,
                momentum,
            };
            if nesterov {
                Optimizer::Nesterov(m)
            } else {
                Optimizer::Momentum(m)
            }
        }
        "adam" => Adam {
            learning_rate,
            beta1: beta_1,
            beta2: beta_2,
            epsilon,
        }
        .into(),
        "rprop" => Rprop::default().into(),
        other => {
            return Err(PyValueError::new_err(format!(
                "glassbox has no solver {other:?} (it has adam, sgd and rprop)"
            )))
        }
    })
}

/// How many threads `n` asks for: `None` means every core.
fn threads(n: Option<usize>) -> PyResult<usize> {
    let n = n.unwrap_or_else(glassbox::threads::available);
    if n == 0 || n > glassbox::threads::MAX_THREADS {
        return Err(PyValueError::new_err(format!(
            "n_threads must be from 1 to {} (got {n})",
            glassbox::threads::MAX_THREADS
        )));
    }
    Ok(n)
}

/// scikit-learn's rule for ending training, as an observer of the library's trainer,
/// with a stop flag for Ctrl-C and shared progress for the calling thread.
///
/// After each epoch (scikit-learn's `_update_no_improvement_count`): with early
/// stopping, the validation score must beat the best so far by `tol`; without, the
/// training loss must fall below the best by `tol`. After more than `n_iter_no_change`
/// epochs in a row that do not, training stops; with early stopping the best
/// validation epoch's weights are kept.
struct Watch<'a> {
    tol: f64,
    patience: Option<usize>,
    early_stopping: bool,
    /// The validation set, for a regressor's R² (a classifier's score is the accuracy
    /// the trainer measures).
    validation: Option<&'a Dataset>,
    best_loss: f64,
    best_score: f64,
    no_improvement: usize,
    best_layers: Option<Vec<Dense>>,
    loss_curve: Vec<f64>,
    validation_scores: Vec<f64>,
    converged: bool,
    shared: &'a Shared,
}

/// What the training thread and the calling thread share while `fit` runs.
#[derive(Default)]
struct Shared {
    /// Set by the calling thread on Ctrl-C; read after every batch.
    stop: AtomicBool,
    epoch: AtomicUsize,
    done: AtomicUsize,
    total: AtomicUsize,
    /// The epoch's mean loss so far, as f64 bits.
    loss: AtomicU64,
    /// The training loss of every finished epoch.
    finished: Mutex<Vec<f64>>,
}

impl Observer for Watch<'_> {
    fn on_batch(&mut self, progress: &BatchProgress) -> Control {
        let s = self.shared;
        s.epoch.store(progress.epoch, Ordering::Relaxed);
        s.done.store(progress.examples_done, Ordering::Relaxed);
        s.total.store(progress.examples_total, Ordering::Relaxed);
        s.loss.store(progress.loss.to_bits(), Ordering::Relaxed);
        if s.stop.load(Ordering::Relaxed) {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    fn on_epoch_with_network(&mut self, report: &EpochReport, network: &Network) -> Control {
        let loss = report.train_loss;
        self.loss_curve.push(loss);
        if let Ok(mut finished) = self.shared.finished.lock() {
            finished.push(loss);
        }
        if self.early_stopping {
            let score = match self.validation {
                // A regressor's score: R² (glassbox::metrics::r_squared).
                Some(v) if report.validation_accuracy.is_none() => network
                    .predict(&v.features())
                    .and_then(|p| glassbox::metrics::r_squared(p.as_slice(), v))
                    .unwrap_or(f64::NEG_INFINITY),
                _ => report.validation_accuracy.unwrap_or(f64::NEG_INFINITY),
            };
            self.validation_scores.push(score);
            if score < self.best_score + self.tol {
                self.no_improvement += 1;
            } else {
                self.no_improvement = 0;
            }
            if score > self.best_score {
                self.best_score = score;
                self.best_layers = Some(network.layers().to_vec());
            }
        } else {
            if loss > self.best_loss - self.tol {
                self.no_improvement += 1;
            } else {
                self.no_improvement = 0;
            }
            self.best_loss = self.best_loss.min(loss);
        }
        if self.patience.is_some_and(|p| self.no_improvement > p) {
            self.converged = true;
            return Control::Stop;
        }
        Control::Continue
    }
}

/// (epoch, examples done, examples per epoch, mean loss so far) of the running epoch,
/// for the progress bar the calling thread draws.
fn progress_of(shared: &Shared) -> (usize, usize, usize, f64) {
    (
        shared.epoch.load(Ordering::Relaxed),
        shared.done.load(Ordering::Relaxed),
        shared.total.load(Ordering::Relaxed),
        f64::from_bits(shared.loss.load(Ordering::Relaxed)),
    )
}

/// One layer's weights (`out × in`) and biases, as NumPy arrays.
type LayerArrays<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>);

#[pymethods]
impl Model {
    /// A new network of `inputs` inputs and `layers` as (neurons, activation name),
    /// its weights drawn by `init` (`auto`, `small`, `xavier`, `he`) from `seed`.
    #[new]
    #[pyo3(signature = (inputs, layers, init = "auto", seed = 0))]
    fn new(inputs: usize, layers: Vec<(usize, String)>, init: &str, seed: u64) -> PyResult<Self> {
        let init: Init = init.parse().map_err(PyValueError::new_err)?;
        let mut builder = Network::builder(inputs);
        for (neurons, name) in layers {
            builder = builder.dense(neurons, activation(&name)?);
        }
        Ok(Model {
            network: builder.build(init, seed).map_err(to_py)?,
            info: ModelInfo::default(),
            optimizer: OptimizerState::default(),
        })
    }

    /// Reads a model file (`glassbox train` writes them; so does `save`).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let (network, info) = glassbox::io::load(&path).map_err(to_py)?;
        Ok(Model {
            network,
            info,
            optimizer: OptimizerState::default(),
        })
    }

    /// A model from the bytes of a model file ([`Model::to_bytes`]).
    #[staticmethod]
    fn from_bytes(bytes: Vec<u8>) -> PyResult<Self> {
        let (network, info) = glassbox::io::from_bytes(bytes).map_err(to_py)?;
        Ok(Model {
            network,
            info,
            optimizer: OptimizerState::default(),
        })
    }

    /// The bytes of the model file `save` writes (safetensors).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = glassbox::io::to_bytes(&self.network, &self.info).map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Pickles as the model file's bytes (the optimiser's memory is not kept).
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = py.get_type::<Model>().getattr("from_bytes")?;
        Ok((from_bytes, (slf.borrow().to_bytes(py)?,)))
    }

    /// Writes the model file, atomically (the CLI's `--model` reads it).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        glassbox::io::save(path, &self.network, &self.info).map_err(to_py)
    }

    /// Writes the network as an ONNX file (the library's export).
    fn to_onnx(&self, path: PathBuf) -> PyResult<()> {
        glassbox::interop::onnx::save(path, &self.network, &self.info).map_err(to_py)
    }

    /// The network's input width.
    #[getter]
    fn inputs(&self) -> usize {
        self.network.inputs()
    }

    /// (neurons, activation name) of every layer.
    #[getter]
    fn layers(&self) -> Vec<(usize, String)> {
        self.network
            .layers()
            .iter()
            .map(|l| (l.outputs(), l.activation().to_string()))
            .collect()
    }

    /// The class names saved with the model (empty for regression).
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.info.class_names.clone()
    }

    #[setter]
    fn set_class_names(&mut self, names: Vec<String>) {
        self.info.class_names = names;
    }

    /// The loss the model was trained with (`mse`, `cross-entropy`, …), if known.
    #[getter]
    fn loss(&self) -> Option<String> {
        self.info.loss.map(|l| l.name().to_string())
    }

    /// Whether inputs go through a feature scaler saved with the model (a CLI model
    /// trained with `--scale`); `predict` applies it.
    #[getter]
    fn has_scaler(&self) -> bool {
        self.info.scaler.is_some()
    }

    /// Every layer's (weights `out × in`, biases `out`), copied.
    fn parameters<'py>(&self, py: Python<'py>) -> Vec<LayerArrays<'py>> {
        self.network
            .layers()
            .iter()
            .map(|l| {
                let w = l.weights().as_slice().to_pyarray(py);
                let w = w
                    .reshape([l.outputs(), l.inputs()])
                    .expect("out × in weights");
                (w, l.biases().to_pyarray(py))
            })
            .collect()
    }

    /// The network's outputs for the rows of `x` (float32, C-contiguous), on up to
    /// `n_threads` threads with the GIL released.
    #[pyo3(signature = (x, n_threads = None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyArray2<f32>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n = threads(n_threads)?;
        let (rows, width) = lend(x)?;
        let outputs = self.network.outputs();
        let (network, info) = (&self.network, &self.info);
        // In a pool of its own, like training: a process forked from this one (Python's
        // multiprocessing) then makes its own threads instead of waiting on the parent's.
        let result = py.detach(move || {
            glassbox::tensor::with_threads(n, || {
                let rows: &[f32] = (*rows).as_ref();
                let par = if n > 1 {
                    Parallelism::Threads(n)
                } else {
                    Parallelism::Sequential
                };
                match &info.scaler {
                    None => network.predict_batch_invariant(rows, par),
                    Some(scaler) => {
                        let mut scaled = rows.to_vec();
                        for row in scaled.chunks_mut(width.max(1)) {
                            scaler.apply_row(row);
                        }
                        network.predict_batch_invariant(&scaled, par)
                    }
                }
            })
        });
        let result = result.and_then(|r| r).map_err(to_py)?;
        let len = result.rows();
        Ok(result
            .as_slice()
            .to_pyarray(py)
            .reshape([len, outputs])
            .expect("rows × outputs"))
    }

    /// Trains the network on `x` with class `labels` (0 … classes − 1) or target
    /// `values`, for `epochs` epochs: [`Trainer::fit`] with these settings, on a thread
    /// of its own with the GIL released. Returns a dict with the loss curve, the
    /// validation scores, the epochs run and why training ended.
    #[pyo3(signature = (
        x, labels = None, values = None, *, classes = 0, loss = "cross-entropy",
        solver = "adam", learning_rate = 0.001, momentum = 0.9, nesterov = true,
        beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8, batch_size = 200, epochs = 200,
        shuffle = true, seed = 0, l2 = 0.0, dropout = 0.0, n_threads = None, tol = 1e-4,
        n_iter_no_change = Some(10), early_stopping = false, x_val = None,
        labels_val = None, values_val = None, carry_optimizer = false, progress = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn fit<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyArray2<f32>>,
        labels: Option<PyReadonlyArray1<'py, i64>>,
        values: Option<PyReadonlyArray2<'py, f32>>,
        classes: usize,
        loss: &str,
        solver: &str,
        learning_rate: f32,
        momentum: f32,
        nesterov: bool,
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        batch_size: usize,
        epochs: usize,
        shuffle: bool,
        seed: u64,
        l2: f32,
        dropout: f32,
        n_threads: Option<usize>,
        tol: f64,
        n_iter_no_change: Option<usize>,
        early_stopping: bool,
        x_val: Option<&Bound<'py, PyArray2<f32>>>,
        labels_val: Option<PyReadonlyArray1<'py, i64>>,
        values_val: Option<PyReadonlyArray2<'py, f32>>,
        carry_optimizer: bool,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let loss: Loss = loss.parse().map_err(PyValueError::new_err)?;
        let config = TrainConfig {
            loss,
            optimizer: optimizer(
                solver,
                learning_rate,
                momentum,
                nesterov,
                beta_1,
                beta_2,
                epsilon,
            )?,
            epochs,
            batch_size,
            shuffle: if shuffle {
                Shuffle::EveryEpoch
            } else {
                Shuffle::Never
            },
            seed,
            l2,
            dropout,
            threads: threads(n_threads)?,
            ..TrainConfig::default()
        };
        let train = dataset(x, labels, values, classes)?;
        let validation = match x_val {
            Some(x) => Some(dataset(x, labels_val, values_val, classes)?),
            None => None,
        };
        let shared = Shared::default();
        let mut watch = Watch {
            tol,
            patience: n_iter_no_change,
            early_stopping,
            validation: validation.as_ref(),
            best_loss: f64::INFINITY,
            best_score: f64::NEG_INFINITY,
            no_improvement: 0,
            best_layers: None,
            loss_curve: Vec::new(),
            validation_scores: Vec::new(),
            converged: false,
            shared: &shared,
        };
        if !carry_optimizer {
            self.optimizer = OptimizerState::default();
        }
        let (network, state) = (&mut self.network, &mut self.optimizer);
        let (done_tx, mut done_rx) = mpsc::channel::<()>();
        // A KeyboardInterrupt, or an error raised by the progress callback.
        let mut raised: Option<PyErr> = None;
        let result = std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let history = Trainer::new(config)
                    .validation(validation.as_ref())
                    .carry_optimizer(state)
                    .observer(&mut watch)
                    .fit(network, &train);
                drop(done_tx);
                history
            });
            loop {
                let (finished, rx) = py.detach(move || {
                    let wait = done_rx.recv_timeout(Duration::from_millis(20));
                    let finished = matches!(wait, Err(mpsc::RecvTimeoutError::Disconnected));
                    (finished, done_rx)
                });
                done_rx = rx;
                let checks = || -> PyResult<()> {
                    py.check_signals()?;
                    if let Some(callback) = &progress {
                        let (epoch, done, total, loss) = progress_of(&shared);
                        let finished = shared
                            .finished
                            .lock()
                            .map(|f| f.clone())
                            .unwrap_or_default();
                        if epoch > 0 {
                            callback.call1((epoch, epochs, done, total, loss, finished))?;
                        }
                    }
                    Ok(())
                };
                if let Err(e) = checks() {
                    shared.stop.store(true, Ordering::Relaxed);
                    raised.get_or_insert(e);
                }
                if finished {
                    break;
                }
            }
            worker.join().expect("the training thread panicked")
        });
        let interrupted = match raised {
            Some(e) if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) => true,
            Some(e) => return Err(e),
            None => false,
        };
        let history = result.map_err(to_py)?;
        if let (true, Some(best)) = (early_stopping, watch.best_layers.take()) {
            for (l, layer) in best.iter().enumerate() {
                let (w, b) = self.network.parameters_mut(l).expect("same architecture");
                w.copy_from_slice(layer.weights().as_slice());
                b.copy_from_slice(layer.biases());
            }
        }
        self.info.loss = Some(loss);
        let out = PyDict::new(py);
        out.set_item("loss_curve", PyList::new(py, &watch.loss_curve)?)?;
        out.set_item(
            "validation_scores",
            PyList::new(py, &watch.validation_scores)?,
        )?;
        out.set_item("n_iter", history.epochs.len())?;
        out.set_item("converged", watch.converged)?;
        out.set_item("interrupted", interrupted)?;
        out.set_item(
            "early_stopped",
            matches!(history.stop, StopReason::EarlyStopped { .. }),
        )?;
        out.set_item(
            "best_loss",
            watch
                .loss_curve
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min),
        )?;
        out.set_item("best_validation_score", watch.best_score)?;
        Ok(out)
    }

    /// Every number of one forward and backward pass of example `x` with target `y`,
    /// from [`glassbox::explain`]: the loss, and per layer z, a, δ, ∂C/∂W (`out × in`),
    /// ∂C/∂b, and the weights and biases after the first step of the optimiser `solver`
    /// (the trainer's own update).
    #[pyo3(signature = (
        x, y, loss, *, solver = "adam", learning_rate = 0.001, momentum = 0.9,
        nesterov = true, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8
    ))]
    #[allow(clippy::too_many_arguments)]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        x: Vec<f32>,
        y: Vec<f32>,
        loss: &str,
        solver: &str,
        learning_rate: f32,
        momentum: f32,
        nesterov: bool,
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
    ) -> PyResult<Bound<'py, PyDict>> {
        let loss: Loss = loss.parse().map_err(PyValueError::new_err)?;
        let optimizer = optimizer(
            solver,
            learning_rate,
            momentum,
            nesterov,
            beta_1,
            beta_2,
            epsilon,
        )?;
        let trace = glassbox::explain(&self.network, &x, &y, loss, &optimizer).map_err(to_py)?;
        let out = PyDict::new(py);
        out.set_item("loss", trace.loss)?;
        let layers = PyList::empty(py);
        for layer in &trace.layers {
            let d = PyDict::new(py);
            d.set_item("z", layer.weighted_sums.to_pyarray(py))?;
            d.set_item("a", layer.activations.to_pyarray(py))?;
            d.set_item("delta", layer.delta.to_pyarray(py))?;
            let grads = PyArray2::from_vec2(py, &layer.grad_weights)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            d.set_item("grad_weights", grads)?;
            d.set_item("grad_biases", layer.grad_biases.to_pyarray(py))?;
            let new = PyArray2::from_vec2(py, &layer.new_weights)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            d.set_item("new_weights", new)?;
            d.set_item("new_biases", layer.new_biases.to_pyarray(py))?;
            layers.append(d)?;
        }
        out.set_item("layers", layers)?;
        Ok(out)
    }
}

/// The number of cores glassbox uses when `n_threads` is `None`.
#[pyfunction]
fn available_threads() -> usize {
    glassbox::threads::available()
}

/// The compiled core of the `glassbox` package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(available_threads, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
