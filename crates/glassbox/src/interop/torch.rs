//! PyTorch interop: a network as an `nn.Sequential` state dict, and a PyTorch state dict
//! as a network.
//!
//! # Export
//!
//! [`to_bytes`] writes a safetensors file whose tensor names are those of
//!
//! ```text
//! nn.Sequential(nn.Linear(in, h₁), act₁, nn.Linear(h₁, h₂), act₂, …)
//! ```
//!
//! Every dense layer is two modules, the `nn.Linear` and its activation, so layer l's
//! linear part is module 2l: `0.weight [h₁, in]`, `0.bias [h₁]`, `2.weight`, `2.bias`, ….
//! An identity layer keeps its `nn.Identity()` module so that the numbering never depends
//! on the activations. Weights are `[out, in]` in both libraries: nothing is transposed.
//! glassbox's step (1 where z ≥ 0) has no PyTorch module; [`script`] defines a three-line
//! `Step` module for it. A model with input scaling adds `input.offset` and `input.scale`
//! (`[in]`), which the script removes from the state dict before `load_state_dict` and
//! applies as x′ = (x − offset) · scale. The file's metadata holds `format = pt`, the
//! glassbox version, the activations, the class names and the scaling.
//!
//! # Import
//!
//! [`import`] reads a state dict saved with `safetensors.torch.save_file(model.state_dict(),
//! …)` from an `nn.Sequential` (`0.weight`, `2.weight`, …) or an `nn.ModuleList` inside a
//! module (`layers.0.weight`, …): every tensor is `{prefix}{index}.weight` or
//! `{prefix}{index}.bias` with one prefix for all. Indices are sorted as numbers (`10`
//! comes after `2`); each index must have a 2-D weight and a 1-D bias, float32; each
//! layer's input width must be the previous layer's output width. The state dict does
//! not say which activations sit between the linear layers (they have no parameters),
//! so they are given, one per linear layer.
//!
//! # Examples
//!
//! ```
//! use glassbox::interop::torch::{self, Import};
//! use glassbox::{Activation, Init, ModelInfo, Network};
//! # fn main() -> glassbox::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let net = Network::builder(4)
//!     .dense(8, Activation::Tanh)
//!     .dense(3, Activation::Softmax)
//!     .build(Init::Xavier, 1)?;
//! let path = dir.path().join("state.safetensors");
//! torch::save(&path, &net, &ModelInfo::default())?;
//! let options = Import { activations: vec![Activation::Tanh, Activation::Softmax], ..Import::default() };
//! let (back, _info) = torch::import(&path, &options)?;
//! assert_eq!(back.layers(), net.layers());
//! # Ok(()) }
//! ```

use crate::activation::Activation;
use crate::data::{ImageShape, Scaler, Scaling};
use crate::io::{self, ModelInfo};
use crate::layer::Dense;
use crate::network::Network;
use crate::tensor::Tensor;
use crate::{Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

/// The tensor holding the input scaler's offsets, `[in]`.
pub const OFFSET_NAME: &str = "input.offset";

/// The tensor holding the input scaler's scales, `[in]`.
pub const SCALE_NAME: &str = "input.scale";

/// Metadata key: the activations, comma-separated (`relu,leaky-relu:0.2,softmax`).
pub const ACTIVATIONS_KEY: &str = "glassbox_activations";

/// Metadata key: the class names, a JSON list.
pub const CLASS_NAMES_KEY: &str = "glassbox_class_names";

/// Metadata key: the input scaling (`minmax`, `standard`), when the file has a scaler.
pub const SCALING_KEY: &str = "glassbox_scaling";

/// The `nn.Sequential` index of layer `l`'s `nn.Linear`: every layer is a linear module
/// and an activation module.
pub fn module_index(l: usize) -> usize {
    2 * l
}

/// Encodes `network` (and the scaler in `info`) as a safetensors state dict of an
/// `nn.Sequential` (see the module docs for the names).
///
/// # Errors
/// [`Error::Shape`] if safetensors cannot encode a tensor (it always can for a
/// well-formed network).
pub fn to_bytes(network: &Network, info: &ModelInfo) -> Result<Vec<u8>> {
    let le = |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (l, layer) in network.layers().iter().enumerate() {
        let m = module_index(l);
        tensors.push((
            format!("{m}.weight"),
            vec![layer.outputs(), layer.inputs()],
            le(layer.weights().as_slice()),
        ));
        tensors.push((
            format!("{m}.bias"),
            vec![layer.outputs()],
            le(layer.biases()),
        ));
    }
    let mut metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (
            io::VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (ACTIVATIONS_KEY.to_string(), activation_list(network)),
    ]);
    if !info.class_names.is_empty() {
        let names = serde_json::to_string(&info.class_names).unwrap_or_default();
        metadata.insert(CLASS_NAMES_KEY.to_string(), names);
    }
    if let Some(scaler) = scaler_of(info) {
        let width = scaler.offset.len();
        tensors.push((OFFSET_NAME.into(), vec![width], le(&scaler.offset)));
        tensors.push((SCALE_NAME.into(), vec![width], le(&scaler.scale)));
        metadata.insert(SCALING_KEY.to_string(), scaler.scaling.to_string());
    }
    let mut views = Vec::with_capacity(tensors.len());
    for (name, shape, bytes) in &tensors {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| Error::Shape(format!("cannot encode {name}: {e:?}")))?;
        views.push((name.as_str(), view));
    }
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Shape(format!("cannot encode the state dict: {e:?}")))
}

/// Writes [`to_bytes`] to `path` atomically.
///
/// # Errors
/// [`Error::Io`] naming `path` when it cannot be written; an existing file is then left
/// as it was.
pub fn save(path: impl AsRef<Path>, network: &Network, info: &ModelInfo) -> Result<()> {
    crate::file::write_atomically(path.as_ref(), &to_bytes(network, info)?)
}

/// The scaler to export: none when the model has none or it changes nothing.
fn scaler_of(info: &ModelInfo) -> Option<&Scaler> {
    info.scaler.as_ref().filter(|s| s.scaling != Scaling::None)
}

/// `relu,leaky-relu:0.2,softmax`.
fn activation_list(network: &Network) -> String {
    let names: Vec<String> = network
        .layers()
        .iter()
        .map(|l| l.activation().to_string())
        .collect();
    names.join(",")
}

/// The PyTorch module for an activation.
fn module(activation: Activation) -> String {
    match activation {
        Activation::Step => "Step()".into(),
        Activation::Identity => "nn.Identity()".into(),
        Activation::Sigmoid => "nn.Sigmoid()".into(),
        Activation::Tanh => "nn.Tanh()".into(),
        Activation::Relu => "nn.ReLU()".into(),
        Activation::LeakyRelu { alpha } => format!("nn.LeakyReLU(negative_slope={alpha:?})"),
        Activation::Softmax => "nn.Softmax(dim=1)".into(),
    }
}

/// A few lines of Python that rebuild `network` in PyTorch from the file [`save`] wrote
/// at `state_path`, and say how to run it.
pub fn script(network: &Network, info: &ModelInfo, state_path: &str) -> String {
    // A JSON string is a valid Python string literal for any path.
    let quoted = serde_json::to_string(state_path).unwrap_or_else(|_| format!("{state_path:?}"));
    let mut s = String::new();
    s += &format!(
        "# The glassbox model as a PyTorch nn.Sequential (glassbox {}).\n",
        env!("CARGO_PKG_VERSION")
    );
    s += "import torch\nfrom torch import nn\nfrom safetensors.torch import load_file\n\n";
    if network
        .layers()
        .iter()
        .any(|l| l.activation() == Activation::Step)
    {
        s += "class Step(nn.Module):  # glassbox's step: 1 where z >= 0, else 0\n";
        s += "    def forward(self, z):\n        return (z >= 0).to(z.dtype)\n\n";
    }
    s += &format!("state = load_file({quoted})\n");
    let scaled = scaler_of(info).is_some();
    if scaled {
        s += &format!(
            "offset, scale = state.pop(\"{OFFSET_NAME}\"), state.pop(\"{SCALE_NAME}\")  # x' = (x - offset) * scale\n"
        );
    }
    s += "model = nn.Sequential(\n";
    for layer in network.layers() {
        s += &format!(
            "    nn.Linear({}, {}), {},\n",
            layer.inputs(),
            layer.outputs(),
            module(layer.activation())
        );
    }
    s += ")\nmodel.load_state_dict(state)\nmodel.eval()\n";
    let input = if scaled { "(x - offset) * scale" } else { "x" };
    s += &format!(
        "# outputs = model({input})   # x: float32 tensor [batch, {}]\n",
        network.inputs()
    );
    s
}

/// What a state dict does not say, given by the caller of [`import`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    /// One activation per linear layer, input side first.
    pub activations: Vec<Activation>,
    /// The name of each output neuron's class; empty: the file's (a glassbox export's
    /// metadata), else none.
    pub class_names: Vec<String>,
    /// The image shape of the inputs, when they are images; its values must number the
    /// first layer's inputs.
    pub image_shape: Option<ImageShape>,
}

/// `(prefix, index, is_weight)` of `{prefix}{index}.weight` / `{prefix}{index}.bias`.
fn parse_name(name: &str) -> Option<(&str, u64, bool)> {
    let (head, kind) = name.rsplit_once('.')?;
    let is_weight = match kind {
        "weight" => true,
        "bias" => false,
        _ => return None,
    };
    let digits = head.len() - head.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (prefix, index) = head.split_at(digits);
    if index.is_empty() || !(prefix.is_empty() || prefix.ends_with('.')) {
        return None;
    }
    Some((prefix, index.parse().ok()?, is_weight))
}

/// Reads a PyTorch state dict (safetensors) as a network with the given activations.
/// See the module docs for what is accepted; the returned [`ModelInfo`] has the class
/// names and image shape of `options`, and the scaler when the file has `input.offset`
/// and `input.scale` (as [`save`] writes them).
///
/// # Errors
/// - [`Error::Io`] when the file cannot be read;
/// - [`Error::Format`] naming the file and the tensor when the file is not safetensors,
///   a name is not `{prefix}{index}.weight|bias`, two prefixes are mixed, a weight has
///   no bias or a bias no weight, a tensor is not float32, has the wrong rank or shape
///   (each layer's input width must be the previous layer's output width), or holds a
///   NaN or infinite value;
/// - [`Error::Config`] when the number of activations is not the number of linear
///   layers, the class names do not number the outputs, or the image shape does not fit
///   the inputs.
pub fn import(path: impl AsRef<Path>, options: &Import) -> Result<(Network, ModelInfo)> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let (tensors, metadata) = io::parse(path, &bytes)?;
    let metadata = metadata.unwrap_or_default();
    let slots = find_layers(path, &tensors)?;
    let layers = read_layers(path, &tensors, &slots)?;

    let inputs = layers[0].0.cols();
    let outputs = layers.last().map_or(0, |(w, _)| w.rows());
    if options.activations.len() != layers.len() {
        let names: Vec<&str> = slots.values().map(|s| s.weight.as_str()).collect();
        return Err(Error::Config(format!(
            "{} has {} linear layers ({}) but {} activations were given: give one per layer, in order",
            path.display(),
            layers.len(),
            names.join(", "),
            options.activations.len()
        )));
    }
    let mut class_names = options.class_names.clone();
    if class_names.is_empty() {
        if let Some(json) = metadata.get(CLASS_NAMES_KEY) {
            class_names = serde_json::from_str(json).map_err(|e| {
                Error::format(
                    path,
                    CLASS_NAMES_KEY,
                    format!("not a JSON list of names: {e}"),
                )
            })?;
        }
    }
    if !class_names.is_empty() && class_names.len() != outputs {
        return Err(Error::Config(format!(
            "{} class names were given but the last layer of {} has {outputs} outputs",
            class_names.len(),
            path.display()
        )));
    }
    if let Some(shape) = options.image_shape {
        if let Some(words) = shape.mismatch(inputs) {
            return Err(Error::Config(format!(
                "{words} but the first layer of {} takes {inputs} inputs",
                path.display()
            )));
        }
    }
    let scaler = read_scaler(path, &tensors, &metadata, inputs)?;

    let dense = layers
        .into_iter()
        .zip(&options.activations)
        .map(|((w, b), &f)| Dense::from_parts(w, b, f))
        .collect::<Result<Vec<_>>>()?;
    let network = Network::from_layers(dense)?;
    let info = ModelInfo {
        class_names,
        scaler,
        image_shape: options.image_shape,
        loss: None,
    };
    Ok((network, info))
}

/// One linear layer of a state dict: the names of its two tensors.
struct Layer {
    weight: String,
    bias: String,
}

/// The linear layers' tensor names, by module index sorted as a number (2 before 10).
/// Every name must be `{prefix}{index}.weight|bias` with one prefix, and every index
/// must have both.
fn find_layers(path: &Path, tensors: &SafeTensors<'_>) -> Result<BTreeMap<u64, Layer>> {
    // (weight, bias) names per index, as they are found.
    let mut found: BTreeMap<u64, (Option<String>, Option<String>)> = BTreeMap::new();
    let mut prefix: Option<(String, String)> = None; // (prefix, the name it came from)
    let mut names = tensors.names();
    names.sort();
    for name in names {
        if name == OFFSET_NAME || name == SCALE_NAME {
            continue;
        }
        let Some((p, index, is_weight)) = parse_name(name) else {
            return Err(Error::format(
                path,
                name,
                "not a linear layer's weight or bias: expected names like 0.weight, 0.bias, \
                 2.weight (an nn.Sequential's state dict) or layers.0.weight (an nn.ModuleList's)",
            ));
        };
        match &prefix {
            Some((first, from)) if first != p => {
                return Err(Error::format(
                    path,
                    name,
                    format!(
                        "mixes module prefixes: {from} has {first:?}, this has {p:?}; \
                         save one nn.Sequential or nn.ModuleList's state dict"
                    ),
                ))
            }
            Some(_) => {}
            None => prefix = Some((p.to_string(), name.to_string())),
        }
        let entry = found.entry(index).or_default();
        if is_weight {
            entry.0 = Some(name.to_string());
        } else {
            entry.1 = Some(name.to_string());
        }
    }
    if found.is_empty() {
        return Err(Error::format(
            path,
            "tensors",
            "no linear layers (no tensors named like 0.weight and 0.bias)",
        ));
    }
    let p = prefix.map_or(String::new(), |(p, _)| p);
    let mut layers = BTreeMap::new();
    for (index, pair) in found {
        let layer = match pair {
            (Some(weight), Some(bias)) => Layer { weight, bias },
            (None, Some(bias)) => {
                return Err(Error::format(
                    path,
                    bias,
                    format!("has no {p}{index}.weight beside it: the layer is incomplete"),
                ))
            }
            (Some(weight), None) => {
                return Err(Error::format(
                    path,
                    weight,
                    format!(
                        "has no {p}{index}.bias beside it; glassbox layers always have a bias \
                         (nn.Linear(…, bias=True))"
                    ),
                ))
            }
            (None, None) => continue, // an entry is made only for a name found
        };
        layers.insert(index, layer);
    }
    Ok(layers)
}

/// Each layer's weights `[out, in]` and biases `[out]`, in order, every layer's input
/// width checked against the previous layer's output width.
fn read_layers(
    path: &Path,
    tensors: &SafeTensors<'_>,
    layers: &BTreeMap<u64, Layer>,
) -> Result<Vec<(Tensor, Vec<f32>)>> {
    let mut parameters: Vec<(Tensor, Vec<f32>)> = Vec::with_capacity(layers.len());
    let mut previous: Option<(&str, usize)> = None; // (weight name, outputs)
    for Layer { weight, bias } in layers.values() {
        let (shape, weights) = io::read_f32(path, tensors, weight)?;
        let [outputs, inputs] = shape[..] else {
            return Err(Error::format(
                path,
                weight.as_str(),
                format!("has shape {shape:?}; a linear layer's weight is 2-D, [out, in]"),
            ));
        };
        if let Some((previous_name, previous_outputs)) = previous {
            if inputs != previous_outputs {
                return Err(Error::format(
                    path,
                    weight.as_str(),
                    format!(
                        "has shape [{outputs}, {inputs}], but the layer before it ({previous_name}) \
                         gives {previous_outputs} outputs: expected [{outputs}, {previous_outputs}] \
                         (is a layer missing?)"
                    ),
                ));
            }
        }
        let (bias_shape, biases) = io::read_f32(path, tensors, bias)?;
        if bias_shape != [outputs] {
            return Err(Error::format(
                path,
                bias.as_str(),
                format!(
                    "has shape {bias_shape:?}; expected [{outputs}] ({weight} has {outputs} outputs)"
                ),
            ));
        }
        let weights = Tensor::from_vec(outputs, inputs, weights)
            .map_err(|e| Error::format(path, weight.as_str(), e.to_string()))?;
        parameters.push((weights, biases));
        previous = Some((weight, outputs));
    }
    Ok(parameters)
}

/// The scaler stored as `input.offset` and `input.scale`, if the file has one.
fn read_scaler(
    path: &Path,
    tensors: &SafeTensors<'_>,
    metadata: &HashMap<String, String>,
    inputs: usize,
) -> Result<Option<Scaler>> {
    let has = |n: &str| tensors.names().contains(&n);
    match (has(OFFSET_NAME), has(SCALE_NAME)) {
        (false, false) => return Ok(None),
        (true, false) | (false, true) => {
            return Err(Error::format(
                path,
                "input scaling",
                format!("{OFFSET_NAME} and {SCALE_NAME} come together; the file has only one"),
            ))
        }
        (true, true) => {}
    }
    let mut parts = Vec::with_capacity(2);
    for name in [OFFSET_NAME, SCALE_NAME] {
        let (shape, values) = io::read_f32(path, tensors, name)?;
        if shape != [inputs] {
            return Err(Error::format(
                path,
                name,
                format!("has shape {shape:?}; expected [{inputs}], one value per input"),
            ));
        }
        parts.push(values);
    }
    // The scaling's kind only names it (the numbers do the work); a file from another
    // program may not say.
    let scaling = metadata
        .get(SCALING_KEY)
        .and_then(|s| s.parse().ok())
        .unwrap_or(Scaling::Standard);
    let scale = parts.pop().unwrap_or_default();
    let offset = parts.pop().unwrap_or_default();
    Ok(Some(Scaler {
        scaling,
        offset,
        scale,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Init;

    /// Writes a state dict with the given (name, shape) tensors, values 0.5.
    fn state_dict(path: &Path, tensors: &[(&str, &[usize])]) {
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(n, s)| {
                let count: usize = s.iter().product();
                (
                    n.to_string(),
                    s.to_vec(),
                    (0..count).flat_map(|_| 0.5f32.to_le_bytes()).collect(),
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
        fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
    }

    fn relus(n: usize) -> Import {
        Import {
            activations: vec![Activation::Relu; n],
            ..Import::default()
        }
    }

    #[test]
    fn names_parse_with_and_without_a_prefix() {
        assert_eq!(parse_name("0.weight"), Some(("", 0, true)));
        assert_eq!(parse_name("12.bias"), Some(("", 12, false)));
        assert_eq!(parse_name("layers.3.weight"), Some(("layers.", 3, true)));
        assert_eq!(
            parse_name("model.net.10.bias"),
            Some(("model.net.", 10, false))
        );
        assert_eq!(parse_name("fc1.weight"), None);
        assert_eq!(parse_name("0.running_mean"), None);
        assert_eq!(parse_name("weight"), None);
    }

    #[test]
    fn export_names_load_into_sequential_and_import_back() {
        let dir = tempfile::tempdir().unwrap();
        let net = Network::builder(3)
            .dense(5, Activation::Identity)
            .dense(4, Activation::LeakyRelu { alpha: 0.3 })
            .dense(2, Activation::Sigmoid)
            .build(Init::Xavier, 3)
            .unwrap();
        let info = ModelInfo {
            class_names: vec!["a".into(), "b".into()],
            scaler: Some(Scaler {
                scaling: Scaling::MinMax,
                offset: vec![1.0, 2.0, 3.0],
                scale: vec![0.5, 0.25, 0.125],
            }),
            ..ModelInfo::default()
        };
        let path = dir.path().join("t.safetensors");
        save(&path, &net, &info).unwrap();
        let bytes = fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let mut names = file.names();
        names.sort();
        assert_eq!(
            names,
            [
                "0.bias",
                "0.weight",
                "2.bias",
                "2.weight",
                "4.bias",
                "4.weight",
                "input.offset",
                "input.scale"
            ]
        );
        assert_eq!(file.tensor("2.weight").unwrap().shape(), [4, 5]);
        let options = Import {
            activations: net.layers().iter().map(Dense::activation).collect(),
            ..Import::default()
        };
        let (back, back_info) = import(&path, &options).unwrap();
        assert_eq!(back.layers(), net.layers());
        assert_eq!(back_info.scaler, info.scaler);
        assert_eq!(back_info.class_names, info.class_names);

        let text = script(&net, &info, "t.safetensors");
        assert!(text.contains("nn.Linear(3, 5), nn.Identity(),"), "{text}");
        assert!(text.contains("nn.LeakyReLU(negative_slope=0.3)"), "{text}");
        assert!(text.contains("state.pop(\"input.offset\")"), "{text}");
        assert!(!text.contains("class Step"), "{text}");
    }

    #[test]
    fn indices_sort_as_numbers_not_strings() {
        // 12 layers 4 → 4 … → 4 → 2 as a Sequential would number them: 0, 2, 4, …, 22.
        // As strings "10.weight" < "2.weight"; the shapes chain only in numeric order.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep.safetensors");
        let mut tensors: Vec<(String, Vec<usize>)> = Vec::new();
        for l in 0..12 {
            let (out, inp) = (if l == 11 { 2 } else { 4 + l + 1 }, 4 + l);
            tensors.push((format!("{}.weight", 2 * l), vec![out, inp]));
            tensors.push((format!("{}.bias", 2 * l), vec![out]));
        }
        let refs: Vec<(&str, &[usize])> = tensors
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        state_dict(&path, &refs);
        let (net, _) = import(&path, &relus(12)).unwrap();
        assert_eq!(net.sizes(), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 2]);
    }

    #[test]
    fn a_module_list_prefix_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.safetensors");
        state_dict(
            &path,
            &[
                ("layers.0.weight", &[3, 2]),
                ("layers.0.bias", &[3]),
                ("layers.1.weight", &[1, 3]),
                ("layers.1.bias", &[1]),
            ],
        );
        let (net, _) = import(&path, &relus(2)).unwrap();
        assert_eq!(net.sizes(), [2, 3, 1]);
    }

    /// (name, shape) of the tensors of a state dict.
    type Tensors<'a> = Vec<(&'a str, &'a [usize])>;

    fn error_of(tensors: &[(&str, &[usize])], options: &Import) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        state_dict(&path, tensors);
        import(&path, options).unwrap_err().to_string()
    }

    #[test]
    fn every_bad_state_dict_is_named() {
        // (tensors, number of activations, the message expected)
        let cases: Vec<(Tensors, usize, &str)> = vec![
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[3]), ("2.weight", &[1, 4]), ("2.bias", &[1])],
                2,
                "2.weight: has shape [1, 4], but the layer before it (0.weight) gives 3 outputs: expected [1, 3]",
            ),
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[3]), ("2.weight", &[1, 3])],
                2,
                "2.weight: has no 2.bias beside it",
            ),
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[3]), ("2.bias", &[1])],
                2,
                "2.bias: has no 2.weight beside it",
            ),
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[4])],
                1,
                "0.bias: has shape [4]; expected [3]",
            ),
            (vec![("0.weight", &[3, 2, 1]), ("0.bias", &[3])], 1, "0.weight: has shape [3, 2, 1]"),
            (vec![("fc.weight", &[3, 2]), ("fc.bias", &[3])], 1, "fc.bias: not a linear layer's"),
            (
                vec![("a.0.weight", &[3, 2]), ("a.0.bias", &[3]), ("b.1.weight", &[1, 3]), ("b.1.bias", &[1])],
                2,
                "mixes module prefixes",
            ),
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[3])],
                2,
                "has 1 linear layers (0.weight) but 2 activations were given",
            ),
            (
                vec![("input.offset", &[2]), ("input.scale", &[2])],
                1,
                "no linear layers",
            ),
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[3]), ("input.offset", &[2])],
                1,
                "input.offset and input.scale come together",
            ),
            (
                vec![("0.weight", &[3, 2]), ("0.bias", &[3]), ("input.offset", &[3]), ("input.scale", &[3])],
                1,
                "input.offset: has shape [3]; expected [2]",
            ),
        ];
        for (tensors, n, expected) in cases {
            let message = error_of(&tensors, &relus(n));
            assert!(message.contains(expected), "{tensors:?}: {message}");
            assert!(message.contains("bad.safetensors"), "{message}");
        }
    }

    #[test]
    fn class_names_and_image_shape_must_fit() {
        let tensors: &[(&str, &[usize])] = &[("0.weight", &[3, 4]), ("0.bias", &[3])];
        let classes = Import {
            class_names: vec!["a".into(), "b".into()],
            ..relus(1)
        };
        assert!(error_of(tensors, &classes).contains("2 class names were given but the last layer"));
        let image = Import {
            image_shape: Some(ImageShape::new(3, 3, 1)),
            ..relus(1)
        };
        assert!(error_of(tensors, &image).contains("an image of 3×3×1 has 9 values"));
        // 4 · (1/3 mod 2⁶⁴) · 3 wraps to 4, the layer's input count.
        let wrapping = Import {
            image_shape: Some(ImageShape::new(4, 0xAAAA_AAAA_AAAA_AAAB, 3)),
            ..relus(1)
        };
        assert!(error_of(tensors, &wrapping).contains("has more values than a usize counts"));
        let fits = Import {
            image_shape: Some(ImageShape::new(2, 2, 1)),
            class_names: vec!["a".into(), "b".into(), "c".into()],
            ..relus(1)
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ok.safetensors");
        state_dict(&path, tensors);
        let (_, info) = import(&path, &fits).unwrap();
        assert_eq!(info.image_shape, fits.image_shape);
    }

    #[test]
    fn non_safetensors_and_non_float_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.pt");
        fs::write(&path, b"PK\x03\x04 a zip archive, as torch.save writes").unwrap();
        let e = import(&path, &relus(1)).unwrap_err();
        assert!(e.to_string().contains("not a safetensors"), "{e}");

        let half = dir.path().join("half.safetensors");
        let bytes = vec![0u8; 2 * 6];
        let views = vec![
            (
                "0.weight",
                TensorView::new(Dtype::F16, vec![3, 2], &bytes).unwrap(),
            ),
            (
                "0.bias",
                TensorView::new(Dtype::F16, vec![3], &bytes[..6]).unwrap(),
            ),
        ];
        fs::write(&half, safetensors::serialize(views, None).unwrap()).unwrap();
        let e = import(&half, &relus(1)).unwrap_err();
        assert!(e.to_string().contains("0.weight: has dtype F16"), "{e}");
    }
}
