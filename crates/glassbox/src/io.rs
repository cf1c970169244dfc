//! Model files: a network's weights in safetensors, its architecture in the file's
//! metadata.
//!
//! A model file is a [safetensors](https://huggingface.co/docs/safetensors) file: an
//! 8-byte header length, a JSON header, then the raw tensors. Each dense layer l
//! (counted from the input side, from 0) is two little-endian f32 tensors, stored as
//! PyTorch's `nn.Linear` stores them, so they load straight into PyTorch or NumPy:
//!
//! ```text
//! layers.{l}.weight   [out, in]   W, row j = the weights into neuron j
//! layers.{l}.bias     [out]       b
//! ```
//!
//! The header's `__metadata__` (a string → string map) says what the tensors are:
//!
//! ```text
//! format            "glassbox"
//! glassbox_version  the version of glassbox that wrote the file
//! model             JSON: {"inputs": 64,
//!                          "layers": [{"units": 32, "activation": {"name": "relu"}}, …],
//!                          "class_names": ["0", …], "scaler": {…} | null,
//!                          "image_shape": {…} | null, "loss": "cross-entropy" | null}
//! ```
//!
//! [`save`] writes atomically: the bytes go to a temporary file beside the target, are
//! flushed to disk, and the temporary file is renamed over the target, so an existing
//! model is either replaced whole or left as it was. [`load`] checks everything before it
//! builds a network: the file is safetensors, the architecture parses, every tensor is
//! there with dtype F32 and the shape the architecture says, and every weight is a
//! finite number. [`load_any`] also takes a file of weights alone (exported from
//! PyTorch, say) and says which it found: [`Loaded::Model`], or [`Loaded::Weights`] to
//! load into a network built to match ([`Weights::load_into`], [`load_weights_into`]).
//!
//! # Examples
//!
//! ```
//! use glassbox::io::{self, ModelInfo};
//! use glassbox::{Activation, Init, Network};
//! # fn main() -> glassbox::Result<()> {
//! let net = Network::builder(2)
//!     .dense(3, Activation::Tanh)
//!     .dense(2, Activation::Softmax)
//!     .build(Init::Xavier, 7)?;
//! let info = ModelInfo { class_names: vec!["no".into(), "yes".into()], ..ModelInfo::default() };
//!
//! let dir = std::env::temp_dir().join(format!("glassbox-io-doctest-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("xor.safetensors");
//! io::save(&path, &net, &info)?;
//! let (loaded, loaded_info) = io::load(&path)?;
//! assert_eq!(loaded.layers(), net.layers());
//! assert_eq!(loaded_info, info);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```

use crate::activation::Activation;
use crate::data::{ImageShape, Scaler};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::network::Network;
use crate::tensor::Tensor;
use crate::{Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The value of the `format` metadata key in every file glassbox writes.
pub const FORMAT: &str = "glassbox";

/// The metadata key that names the format.
pub const FORMAT_KEY: &str = "format";

/// The metadata key that holds the version of glassbox that wrote the file.
pub const VERSION_KEY: &str = "glassbox_version";

/// The metadata key that holds the architecture and [`ModelInfo`] as JSON.
pub const MODEL_KEY: &str = "model";

/// The metadata key that marks a quantized (int8) model file ([`crate::quant`]).
pub const QUANTIZATION_KEY: &str = "quantization";

/// The value of [`QUANTIZATION_KEY`] in the files [`crate::quant::save`] writes.
pub const QUANTIZATION: &str = "int8-per-channel-symmetric";

/// Whether a file's metadata marks a quantized model (it has [`QUANTIZATION_KEY`]).
pub(crate) fn is_quantized(metadata: &Option<HashMap<String, String>>) -> bool {
    metadata
        .as_ref()
        .is_some_and(|m| m.contains_key(QUANTIZATION_KEY))
}

/// What a model file keeps besides the weights: what the outputs mean and how inputs
/// must be prepared before they reach the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ModelInfo {
    /// The name of each output neuron's class (empty for regression or when unknown).
    pub class_names: Vec<String>,
    /// The feature scaling fitted on the training set; new inputs must go through it.
    pub scaler: Option<Scaler>,
    /// The image shape of the inputs, when they are images.
    pub image_shape: Option<ImageShape>,
    /// The loss the network was trained with.
    pub loss: Option<Loss>,
}

/// One dense layer as the architecture JSON lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayerSpec {
    pub(crate) units: usize,
    pub(crate) activation: Activation,
}

/// The `model` metadata: the architecture with the [`ModelInfo`] beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Architecture {
    pub(crate) inputs: usize,
    pub(crate) layers: Vec<LayerSpec>,
    #[serde(flatten)]
    pub(crate) info: ModelInfo,
}

impl Architecture {
    fn of(network: &Network, info: &ModelInfo) -> Self {
        Architecture {
            inputs: network.inputs(),
            layers: network
                .layers()
                .iter()
                .map(|l| LayerSpec {
                    units: l.outputs(),
                    activation: l.activation(),
                })
                .collect(),
            info: info.clone(),
        }
    }

    /// `[out, in]` of every layer's weights.
    pub(crate) fn weight_shapes(&self) -> Vec<[usize; 2]> {
        let mut inputs = self.inputs;
        self.layers
            .iter()
            .map(|l| {
                let shape = [l.units, inputs];
                inputs = l.units;
                shape
            })
            .collect()
    }
}

/// The name of layer `l`'s weight tensor.
pub(crate) fn weight_name(l: usize) -> String {
    format!("layers.{l}.weight")
}

/// The name of layer `l`'s bias tensor.
pub(crate) fn bias_name(l: usize) -> String {
    format!("layers.{l}.bias")
}

/// Writes `network` and `info` to `path` as a safetensors model file (see the module
/// docs for the layout), atomically: an existing file at `path` is replaced whole or, if
/// anything fails, left untouched.
///
/// # Errors
/// [`Error::Io`] naming `path` when the file cannot be written (its directory does not
/// exist, `path` is a directory, the disk is full, …); [`Error::Format`] when a weight
/// is NaN or infinite (such a model would be refused when loaded).
pub fn save(path: impl AsRef<Path>, network: &Network, info: &ModelInfo) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(path, network, info)?;
    crate::file::write_atomically(path, &bytes)
}

/// The bytes of the model file [`save`] would write: for keeping a model in memory or
/// sending it elsewhere (the Python package pickles its estimators this way).
/// [`from_bytes`] reads them back.
///
/// # Errors
/// [`Error::Format`] when a weight is NaN or infinite.
pub fn to_bytes(network: &Network, info: &ModelInfo) -> Result<Vec<u8>> {
    encode(Path::new("(model in memory)"), network, info)
}

/// Serializes the model to the bytes of a safetensors file; errors name `path`.
fn encode(path: &Path, network: &Network, info: &ModelInfo) -> Result<Vec<u8>> {
    let architecture = Architecture::of(network, info);
    let model = serde_json::to_string(&architecture)
        .map_err(|e| Error::format(path, "metadata", format!("cannot encode the model: {e}")))?;
    let metadata = HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        (
            VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (MODEL_KEY.to_string(), model),
    ]);

    // (name, shape, little-endian bytes) of every tensor; the views borrow the bytes.
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (l, layer) in network.layers().iter().enumerate() {
        let weights = layer.weights().as_slice();
        for (name, values, shape) in [
            (
                weight_name(l),
                weights,
                vec![layer.outputs(), layer.inputs()],
            ),
            (bias_name(l), layer.biases(), vec![layer.outputs()]),
        ] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::format(
                    path,
                    "tensors",
                    format!(
                        "{name} holds {} at index {i}; a model with NaN or infinite weights is not saved",
                        values[i]
                    ),
                ));
            }
            tensors.push((
                name,
                shape,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ));
        }
    }
    let mut views = Vec::with_capacity(tensors.len());
    for (name, shape, bytes) in &tensors {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| Error::format(path, name.as_str(), format!("{e:?}")))?;
        views.push((name.as_str(), view));
    }
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::format(path, "header", format!("cannot encode safetensors: {e:?}")))
}

/// What a safetensors file holds, as [`load_any`] finds it.
#[derive(Debug)]
pub enum Loaded {
    /// A glassbox model file, as [`save`] writes it.
    Model {
        /// The network: its architecture and weights.
        network: Network,
        /// What was saved with it: class names, scaler, image shape, loss.
        info: ModelInfo,
    },
    /// A file of tensors without a glassbox architecture (weights exported from PyTorch,
    /// say): they fill a network built to match, with [`Weights::load_into`].
    Weights(Weights),
}

/// The tensors of a safetensors file that has no glassbox architecture, kept to be
/// loaded into a network built to match ([`Weights::load_into`]).
#[derive(Debug, Clone)]
pub struct Weights {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Weights {
    /// The file the weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies the weights into `network`: layer l's tensors `layers.{l}.weight` and
    /// `layers.{l}.bias` must have the shapes of its weights and biases. The network is
    /// changed only when every check passes.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file when a tensor is missing, is not F32, has
    /// another shape than the network's layer, or holds a NaN or infinite value, or when
    /// the file has tensors of more layers than the network.
    pub fn load_into(&self, network: &mut Network) -> Result<()> {
        let (tensors, _) = parse(&self.path, &self.bytes)?;
        fill(&self.path, &tensors, network)
    }
}

/// Reads a safetensors file and says what it holds: a glassbox model (its network and
/// [`ModelInfo`]), or tensors alone ([`Loaded::Weights`]) for a network built to match.
///
/// # Errors
/// - [`Error::Io`] naming the file when it cannot be read;
/// - [`Error::Format`] naming the file when it is not safetensors, when it is an int8
///   model (those load with [`crate::quant::load`]), or when it has a glassbox
///   architecture and a tensor is missing, is not F32, has another shape than the
///   architecture says, or holds a NaN or infinite value.
pub fn load_any(path: impl AsRef<Path>) -> Result<Loaded> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(path, bytes)
}

/// Reads a model from the bytes of a model file ([`to_bytes`], or a file's contents):
/// the network and its [`ModelInfo`], with every check [`load`] makes.
///
/// # Errors
/// As [`load`], naming "(model in memory)" instead of a file.
pub fn from_bytes(bytes: Vec<u8>) -> Result<(Network, ModelInfo)> {
    let path = Path::new("(model in memory)");
    match decode(path, bytes)? {
        Loaded::Model { network, info } => Ok((network, info)),
        Loaded::Weights(_) => Err(no_architecture(path)),
    }
}

/// What the bytes of a safetensors file hold; errors name `path`.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<Loaded> {
    let (tensors, metadata) = parse(path, &bytes)?;
    if is_quantized(&metadata) {
        return Err(Error::format(
            path,
            "metadata",
            "an int8 (quantized) model: load it with glassbox::quant::load; \
             explaining and training need the float model it was made from",
        ));
    }
    let Some(architecture) = architecture(path, &metadata)? else {
        return Ok(Loaded::Weights(Weights {
            path: path.to_path_buf(),
            bytes,
        }));
    };
    check_architecture(path, &architecture)?;
    let shapes = architecture.weight_shapes();
    let parameters = read_parameters(path, &tensors, &shapes)?;
    let layers = parameters
        .into_iter()
        .zip(&architecture.layers)
        .map(|((weights, biases), spec)| Dense::from_parts(weights, biases, spec.activation))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| Error::format(path, "model", e.to_string()))?;
    let network =
        Network::from_layers(layers).map_err(|e| Error::format(path, "model", e.to_string()))?;
    Ok(Loaded::Model {
        network,
        info: architecture.info,
    })
}

/// Reads a model file that [`save`] wrote: the network and its [`ModelInfo`].
///
/// # Errors
/// As [`load_any`]; and [`Error::Format`] when the file has no glassbox architecture in
/// its metadata (use [`load_any`] or [`load_weights_into`] for weights alone).
pub fn load(path: impl AsRef<Path>) -> Result<(Network, ModelInfo)> {
    let path = path.as_ref();
    match load_any(path)? {
        Loaded::Model { network, info } => Ok((network, info)),
        Loaded::Weights(_) => Err(no_architecture(path)),
    }
}

/// The error for a safetensors file of weights alone where a model was expected.
fn no_architecture(path: &Path) -> Error {
    Error::format(
        path,
        "metadata",
        "no glassbox architecture (the `model` metadata is missing): a file of weights \
         alone loads into a network built to match, with io::load_weights_into",
    )
}

/// Reads the weights and biases of the file at `path` into `network`, whose
/// architecture must match: layer l's tensors `layers.{l}.weight` and `layers.{l}.bias`
/// must have the shapes of its weights and biases. For files without glassbox metadata,
/// such as weights exported from PyTorch (`nn.Linear` layers renamed `layers.{l}`).
///
/// Returns the file's [`ModelInfo`] when it has one, else the default (no class names,
/// no scaler). The network is changed only when every check passes.
///
/// # Errors
/// As [`load`]; and [`Error::Format`] when the file has glassbox metadata whose
/// activations differ from the network's.
pub fn load_weights_into(path: impl AsRef<Path>, network: &mut Network) -> Result<ModelInfo> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let (tensors, metadata) = parse(path, &bytes)?;
    let info = match architecture(path, &metadata)? {
        Some(architecture) => {
            let mine = Architecture::of(network, &architecture.info);
            if architecture.layers != mine.layers || architecture.inputs != mine.inputs {
                return Err(Error::format(
                    path,
                    "model",
                    format!(
                        "the file's architecture is {}, the network's is {}",
                        describe(&architecture),
                        describe(&mine)
                    ),
                ));
            }
            architecture.info
        }
        None => ModelInfo::default(),
    };
    fill(path, &tensors, network)?;
    Ok(info)
}

/// Copies the tensors `layers.{l}.weight` and `layers.{l}.bias` into `network`'s layers,
/// after checking every one of them.
fn fill(path: &Path, tensors: &SafeTensors<'_>, network: &mut Network) -> Result<()> {
    let shapes: Vec<[usize; 2]> = network
        .layers()
        .iter()
        .map(|l| [l.outputs(), l.inputs()])
        .collect();
    let parameters = read_parameters(path, tensors, &shapes)?;
    for (layer, (weights, biases)) in network.layers_mut().iter_mut().zip(parameters) {
        // `read_parameters` checked every shape against `shapes`, taken from the layers.
        let (w, b) = layer.parameters_mut();
        w.copy_from_slice(weights.as_slice());
        b.copy_from_slice(&biases);
    }
    Ok(())
}

/// `inputs-units-units… (activation, …)`, for messages.
fn describe(architecture: &Architecture) -> String {
    let sizes: Vec<String> = std::iter::once(architecture.inputs)
        .chain(architecture.layers.iter().map(|l| l.units))
        .map(|n| n.to_string())
        .collect();
    let activations: Vec<String> = architecture
        .layers
        .iter()
        .map(|l| l.activation.to_string())
        .collect();
    format!("{} ({})", sizes.join("-"), activations.join(", "))
}

/// Parses the safetensors container: its tensors and its `__metadata__`.
pub(crate) fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(SafeTensors<'a>, Option<HashMap<String, String>>)> {
    let not_safetensors = |e: safetensors::SafeTensorError| {
        Error::format(
            path,
            "header",
            format!("not a safetensors model file ({})", describe_error(&e)),
        )
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    Ok((tensors, metadata.metadata().clone()))
}

/// A short reason for a safetensors error.
fn describe_error(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall => "the file is shorter than the 8-byte header length".into(),
        E::HeaderTooLarge | E::InvalidHeaderLength => {
            "the header length does not fit the file: truncated or not safetensors".into()
        }
        E::InvalidHeader(_) => "the header is not UTF-8 text".into(),
        E::InvalidHeaderDeserialization(e) => format!("the header is not valid JSON: {e}"),
        E::MetadataIncompleteBuffer => {
            "the tensor data does not fill the file as the header says: truncated?".into()
        }
        other => format!("{other:?}"),
    }
}

/// The architecture in the metadata, or `None` when the file has no `model` entry.
pub(crate) fn architecture(
    path: &Path,
    metadata: &Option<HashMap<String, String>>,
) -> Result<Option<Architecture>> {
    let Some(metadata) = metadata else {
        return Ok(None);
    };
    let Some(model) = metadata.get(MODEL_KEY) else {
        return Ok(None);
    };
    if let Some(format) = metadata.get(FORMAT_KEY) {
        if format != FORMAT {
            return Err(Error::format(
                path,
                "metadata",
                format!("format is {format:?}, expected {FORMAT:?}"),
            ));
        }
    }
    serde_json::from_str(model).map(Some).map_err(|e| {
        Error::format(
            path,
            "metadata",
            format!("the model description is not valid: {e}"),
        )
    })
}

/// Checks that the architecture and the information beside it agree with each other.
pub(crate) fn check_architecture(path: &Path, architecture: &Architecture) -> Result<()> {
    let bad = |message: String| Err(Error::format(path, "model", message));
    if architecture.inputs == 0 {
        return bad("the network takes 0 inputs".into());
    }
    if architecture.layers.is_empty() {
        return bad("the network has no layers".into());
    }
    for (l, layer) in architecture.layers.iter().enumerate() {
        if layer.units == 0 {
            return bad(format!("layer {l} has 0 units"));
        }
        if let Activation::LeakyRelu { alpha } = layer.activation {
            if !alpha.is_finite() {
                return bad(format!("layer {l}'s leaky-relu slope is {alpha}"));
            }
        }
    }
    let inputs = architecture.inputs;
    let outputs = architecture.layers.last().map_or(0, |l| l.units);
    let info = &architecture.info;
    if !info.class_names.is_empty() && info.class_names.len() != outputs {
        return bad(format!(
            "{} class names for {outputs} output neurons",
            info.class_names.len()
        ));
    }
    if let Some(scaler) = &info.scaler {
        if scaler.offset.len() != inputs || scaler.scale.len() != inputs {
            return bad(format!(
                "the scaler has {} offsets and {} scales for {inputs} inputs",
                scaler.offset.len(),
                scaler.scale.len()
            ));
        }
        if scaler
            .offset
            .iter()
            .chain(&scaler.scale)
            .any(|v| !v.is_finite())
        {
            return bad("the scaler holds a NaN or infinite value".into());
        }
    }
    if let Some(shape) = info.image_shape {
        if let Some(words) = shape.mismatch(inputs) {
            return bad(format!("{words} but the network takes {inputs} inputs"));
        }
    }
    Ok(())
}

/// Reads every layer's weights and biases, checking names, dtypes, shapes and values.
/// `shapes` holds `[out, in]` per layer.
fn read_parameters(
    path: &Path,
    tensors: &SafeTensors<'_>,
    shapes: &[[usize; 2]],
) -> Result<Vec<(Tensor, Vec<f32>)>> {
    let expected: Vec<String> = (0..shapes.len())
        .flat_map(|l| [weight_name(l), bias_name(l)])
        .collect();
    let mut names = tensors.names();
    names.sort();
    if let Some(extra) = names
        .iter()
        .find(|n| n.starts_with("layers.") && !expected.iter().any(|e| e == *n))
    {
        return Err(Error::format(
            path,
            "tensors",
            format!(
                "the file has a tensor {extra}, but the network has {} layers (layers.0 … layers.{})",
                shapes.len(),
                shapes.len() - 1
            ),
        ));
    }
    let mut parameters = Vec::with_capacity(shapes.len());
    for (l, &[out, inputs]) in shapes.iter().enumerate() {
        let weights = read_tensor(path, tensors, &weight_name(l), &[out, inputs])?;
        let biases = read_tensor(path, tensors, &bias_name(l), &[out])?;
        let weights = Tensor::from_vec(out, inputs, weights)
            .map_err(|e| Error::format(path, "tensors", e.to_string()))?;
        parameters.push((weights, biases));
    }
    Ok(parameters)
}

/// One f32 tensor of the given shape, every value finite.
fn read_tensor(
    path: &Path,
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    if tensors.tensor(name).is_err() {
        return Err(Error::format(
            path,
            "tensors",
            format!("{name} is missing; the architecture needs it with shape {shape:?}"),
        ));
    }
    let (found, values) = read_f32(path, tensors, name)?;
    if found != shape {
        return Err(Error::format(
            path,
            "tensors",
            format!("{name} has shape {found:?}, the architecture says {shape:?}"),
        ));
    }
    Ok(values)
}

/// A float32 tensor's shape and values, every value finite (model files and PyTorch
/// state dicts alike).
pub(crate) fn read_f32(
    path: &Path,
    tensors: &SafeTensors<'_>,
    name: &str,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let view = tensors
        .tensor(name)
        .map_err(|e| Error::format(path, name, format!("cannot be read: {e:?}")))?;
    if view.dtype() != Dtype::F32 {
        return Err(Error::format(
            path,
            name,
            format!(
                "has dtype {:?}; glassbox reads float32 weights (from PyTorch: save \
                 model.float())",
                view.dtype()
            ),
        ));
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::format(
            path,
            name,
            format!(
                "holds {} at index {i}; weights must be finite numbers",
                values[i]
            ),
        ));
    }
    Ok((view.shape().to_vec(), values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scaling;
    use crate::Init;

    fn network() -> Network {
        Network::builder(3)
            .dense(4, Activation::LeakyRelu { alpha: 0.2 })
            .dense(2, Activation::Softmax)
            .build(Init::Xavier, 5)
            .unwrap()
    }

    fn info() -> ModelInfo {
        ModelInfo {
            class_names: vec!["a".into(), "b".into()],
            scaler: Some(Scaler {
                scaling: Scaling::Standard,
                offset: vec![0.5, -1.0, 2.0],
                scale: vec![1.0, 0.25, 3.0],
            }),
            image_shape: Some(ImageShape::new(1, 3, 1)),
            loss: Some(Loss::CrossEntropy),
        }
    }

    fn message(e: &Error) -> String {
        e.to_string()
    }

    #[test]
    fn save_then_load_gives_bit_identical_predictions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let net = network();
        save(&path, &net, &info()).unwrap();
        let (loaded, loaded_info) = load(&path).unwrap();
        assert_eq!(loaded_info, info());
        assert_eq!(loaded.layers(), net.layers());
        match load_any(&path).unwrap() {
            Loaded::Model { network, info: i } => {
                assert_eq!((network, i), (loaded.clone(), info()))
            }
            Loaded::Weights(_) => panic!("a model file is a model"),
        }
        let x = [0.1, -0.7, 2.5, 1.0, 0.0, -3.0];
        let (a, b) = (net.predict(&x).unwrap(), loaded.predict(&x).unwrap());
        let bits = |t: &Tensor| t.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn tensors_are_named_and_shaped_like_pytorch_linear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&path, &network(), &ModelInfo::default()).unwrap();
        let bytes = fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let mut names = file.names();
        names.sort();
        assert_eq!(
            names,
            [
                "layers.0.bias",
                "layers.0.weight",
                "layers.1.bias",
                "layers.1.weight"
            ]
        );
        assert_eq!(file.tensor("layers.0.weight").unwrap().shape(), [4, 3]);
        assert_eq!(file.tensor("layers.1.bias").unwrap().shape(), [2]);
        let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = metadata.metadata().clone().unwrap();
        assert_eq!(metadata[FORMAT_KEY], "glassbox");
        let model: serde_json::Value = serde_json::from_str(&metadata[MODEL_KEY]).unwrap();
        assert_eq!(model["inputs"], 3);
        assert_eq!(model["layers"][0]["units"], 4);
        assert_eq!(model["layers"][1]["activation"]["name"], "softmax");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.safetensors");
        let e = load(&path).unwrap_err();
        assert!(matches!(&e, Error::Io { path: p, .. } if *p == path), "{e}");
    }

    #[test]
    fn truncated_and_random_files_are_format_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.safetensors");
        save(&good, &network(), &info()).unwrap();
        let bytes = fs::read(&good).unwrap();

        let truncated = dir.path().join("truncated.safetensors");
        fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
        let random = dir.path().join("random.safetensors");
        let mut rng = crate::rng::Rng::new(3);
        fs::write(
            &random,
            (0..500).map(|_| rng.next_u64() as u8).collect::<Vec<_>>(),
        )
        .unwrap();
        let tiny = dir.path().join("tiny.safetensors");
        fs::write(&tiny, b"abc").unwrap();

        for path in [&truncated, &random, &tiny] {
            let e = load(path).unwrap_err();
            assert!(
                matches!(&e, Error::Format { path: p, .. } if p == path),
                "{e}"
            );
            assert!(message(&e).contains("safetensors"), "{e}");
        }
    }

    /// Writes a file with the glassbox metadata of `network` but the given tensors.
    fn write_with_tensors(path: &Path, network: &Network, tensors: &[(&str, Vec<usize>)]) {
        let model =
            serde_json::to_string(&Architecture::of(network, &ModelInfo::default())).unwrap();
        let metadata = HashMap::from([
            (FORMAT_KEY.to_string(), FORMAT.to_string()),
            (MODEL_KEY.to_string(), model),
        ]);
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(n, s)| {
                (
                    n.to_string(),
                    s.clone(),
                    vec![0u8; 4 * s.iter().product::<usize>()],
                )
            })
            .collect();
        let views: Vec<(&str, TensorView<'_>)> = data
            .iter()
            .map(|(n, s, b)| {
                (
                    n.as_str(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        fs::write(path, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
    }

    #[test]
    fn a_wrong_shape_or_missing_tensor_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let net = network();
        let wrong = dir.path().join("wrong.safetensors");
        write_with_tensors(
            &wrong,
            &net,
            &[
                ("layers.0.weight", vec![4, 3]),
                ("layers.0.bias", vec![4]),
                ("layers.1.weight", vec![2, 5]),
                ("layers.1.bias", vec![2]),
            ],
        );
        let e = load(&wrong).unwrap_err();
        assert!(
            matches!(&e, Error::Format { path, .. } if *path == wrong),
            "{e}"
        );
        assert!(
            message(&e).contains("layers.1.weight has shape [2, 5], the architecture says [2, 4]"),
            "{e}"
        );

        let missing = dir.path().join("missing.safetensors");
        write_with_tensors(
            &missing,
            &net,
            &[
                ("layers.0.weight", vec![4, 3]),
                ("layers.0.bias", vec![4]),
                ("layers.1.weight", vec![2, 4]),
            ],
        );
        let e = load(&missing).unwrap_err();
        assert!(
            matches!(&e, Error::Format { path, .. } if *path == missing),
            "{e}"
        );
        assert!(message(&e).contains("layers.1.bias is missing"), "{e}");
    }

    #[test]
    fn an_image_shape_whose_size_wraps_is_refused() {
        // 3 · (1/3 mod 2⁶⁴) · 3 wraps to 3, the network's input count.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wraps.safetensors");
        let info = ModelInfo {
            image_shape: Some(ImageShape::new(3, 0xAAAA_AAAA_AAAA_AAAB, 3)),
            ..ModelInfo::default()
        };
        save(&path, &network(), &info).unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Format { path: p, .. } if *p == path),
            "{e}"
        );
        assert!(
            message(&e).contains("more values than a usize counts"),
            "{e}"
        );
    }

    #[test]
    fn non_finite_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.safetensors");
        let mut net = network();
        save(&path, &net, &ModelInfo::default()).unwrap();
        let before = fs::read(&path).unwrap();
        net.parameters_mut(1).unwrap().1[0] = f32::NAN;
        let e = save(&path, &net, &ModelInfo::default()).unwrap_err();
        assert!(message(&e).contains("layers.1.bias"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), before);

        // A NaN written by another program is refused when loading.
        let mut bytes = before.clone();
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        fs::write(&path, &bytes).unwrap();
        let e = load(&path).unwrap_err();
        assert!(message(&e).contains("finite"), "{e}");
    }

    #[test]
    fn a_failed_save_leaves_the_existing_file_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&path, &network(), &info()).unwrap();
        let before = fs::read(&path).unwrap();
        let other = Network::builder(3)
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 9)
            .unwrap();

        // The target's directory does not exist.
        let nowhere = dir.path().join("no/such/dir/m.safetensors");
        let e = save(&nowhere, &other, &info()).unwrap_err();
        assert!(
            matches!(&e, Error::Io { path, .. } if *path == nowhere),
            "{e}"
        );
        // The target is a directory.
        let e = save(dir.path(), &other, &info()).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        // Renaming a file over a non-empty directory fails after the temporary file was
        // written: it must be cleaned up.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"x").unwrap();
        assert!(crate::file::write_atomically(&blocked, b"bytes").is_err());

        assert_eq!(fs::read(&path).unwrap(), before);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["blocked", "m.safetensors"]);
    }

    #[test]
    fn weights_alone_load_into_a_matching_network() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("torch.safetensors");
        let net = network();
        // As PyTorch's safetensors.torch.save_file writes it: tensors, no metadata.
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = net
            .layers()
            .iter()
            .enumerate()
            .flat_map(|(l, layer)| {
                let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
                [
                    (
                        weight_name(l),
                        vec![layer.outputs(), layer.inputs()],
                        le(layer.weights().as_slice()),
                    ),
                    (bias_name(l), vec![layer.outputs()], le(layer.biases())),
                ]
            })
            .collect();
        let views: Vec<(&str, TensorView<'_>)> = data
            .iter()
            .map(|(n, s, b)| {
                (
                    n.as_str(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();

        let e = load(&path).unwrap_err();
        assert!(message(&e).contains("load_weights_into"), "{e}");
        let Loaded::Weights(weights) = load_any(&path).unwrap() else {
            panic!("a file without an architecture is weights alone");
        };
        assert_eq!(weights.path(), path);
        let mut filled = Network::builder(3)
            .dense(4, Activation::LeakyRelu { alpha: 0.2 })
            .dense(2, Activation::Softmax)
            .build(Init::Xavier, 78)
            .unwrap();
        weights.load_into(&mut filled).unwrap();
        assert_eq!(filled.layers(), net.layers());

        let mut target = Network::builder(3)
            .dense(4, Activation::LeakyRelu { alpha: 0.2 })
            .dense(2, Activation::Softmax)
            .build(Init::Xavier, 77)
            .unwrap();
        assert_ne!(target.layers(), net.layers());
        let info = load_weights_into(&path, &mut target).unwrap();
        assert_eq!(info, ModelInfo::default());
        assert_eq!(target.layers(), net.layers());

        // A network of another shape is refused and left as it was.
        let mut small = Network::builder(3)
            .dense(5, Activation::Relu)
            .dense(2, Activation::Softmax)
            .build(Init::Xavier, 1)
            .unwrap();
        let copy = small.clone();
        let e = load_weights_into(&path, &mut small).unwrap_err();
        assert!(
            message(&e).contains("layers.0.weight has shape [4, 3], the architecture says [5, 3]"),
            "{e}"
        );
        assert_eq!(small, copy);
    }
}
