//! ONNX export: a network as a standard ONNX model, runnable by ONNX Runtime, Triton,
//! and anything else that reads ONNX.
//!
//! The file is one `ModelProto` (IR version [`IR_VERSION`], default-domain operator set
//! [`OPSET`]) whose graph computes exactly what [`Network::predict`] computes, after the
//! model's input scaling:
//!
//! ```text
//! input   [batch, in]   raw features, float32; "batch" is a symbolic dimension
//!   Sub(input, input.offset) → Mul(·, input.scale)          x′ = (x − offset) · scale
//!                                                            (only when the model has a scaler)
//! per dense layer l:
//!   Gemm(aˡ⁻¹, layers.l.weight, layers.l.bias, transB=1)    zˡ = aˡ⁻¹·Wᵀ + b, W stays [out, in]
//!   the activation:
//!     step        GreaterOrEqual(z, 0) → Cast(to=FLOAT)     1 where z ≥ 0 (so f(0) = 1), else 0
//!     identity    Identity
//!     sigmoid     Sigmoid
//!     tanh        Tanh
//!     relu        Relu
//!     leaky-relu  LeakyRelu(alpha=α)                        z if z > 0 else α·z
//!     softmax     Softmax(axis=1)                           over each row's outputs
//! output  [batch, out]
//! ```
//!
//! The scaler is applied as glassbox applies it ([`Scaler::apply_row`](crate::data::Scaler::apply_row)):
//! the same subtraction and multiplication in f32, so the ONNX model takes the same raw
//! features as `glassbox predict`. The model's `metadata_props` hold the glassbox version,
//! the class names (a JSON list, one per output), the input scaling and the image shape.
//!
//! The protobuf is written by the crate's own minimal encoder (`interop/protobuf.rs`);
//! the field numbers below are those of `onnx/onnx.proto`.
//!
//! # Examples
//!
//! ```
//! use glassbox::interop::onnx;
//! use glassbox::{Activation, Init, ModelInfo, Network};
//! # fn main() -> glassbox::Result<()> {
//! let net = Network::builder(4)
//!     .dense(8, Activation::Relu)
//!     .dense(3, Activation::Softmax)
//!     .build(Init::He, 1)?;
//! let bytes = onnx::to_bytes(&net, &ModelInfo::default());
//! assert_eq!(bytes[0], 0x08); // field 1 (ir_version), a varint
//! # Ok(()) }
//! ```

use super::protobuf::Message;
use crate::activation::Activation;
use crate::data::{Scaler, Scaling};
use crate::io::ModelInfo;
use crate::network::Network;
use crate::Result;
use std::path::Path;

/// The ONNX IR version written: 8 (ONNX 1.10).
pub const IR_VERSION: i64 = 8;

/// The default-domain operator set imported: 17 (ONNX 1.12; ONNX Runtime 1.12 and
/// later). Every operator used has had its present meaning since opset 13 or 16
/// (`LeakyRelu`), and `Softmax` since 13 works on one axis (before 13 it flattened the
/// trailing axes).
pub const OPSET: i64 = 17;

/// The graph's input: raw features, `[batch, inputs]`, float32.
pub const INPUT_NAME: &str = "input";

/// The graph's output: the last layer's activations, `[batch, outputs]`, float32.
pub const OUTPUT_NAME: &str = "output";

/// The name of the symbolic batch dimension of the input and the output.
pub const BATCH_DIMENSION: &str = "batch";

/// `metadata_props` key: the version of glassbox that wrote the file.
pub const VERSION_KEY: &str = "glassbox_version";

/// `metadata_props` key: the class names as a JSON list of strings (absent without names).
pub const CLASS_NAMES_KEY: &str = "class_names";

/// `metadata_props` key: the input scaling folded into the graph (`none`, `minmax`, `standard`).
pub const SCALING_KEY: &str = "input_scaling";

/// `metadata_props` key: the image shape of the inputs, `HxWxC` (absent when not images).
pub const IMAGE_SHAPE_KEY: &str = "image_shape";

// Field numbers of onnx.proto.
/// ModelProto.
mod model {
    pub const IR_VERSION: u32 = 1;
    pub const PRODUCER_NAME: u32 = 2;
    pub const PRODUCER_VERSION: u32 = 3;
    pub const DOC_STRING: u32 = 6;
    pub const GRAPH: u32 = 7;
    pub const OPSET_IMPORT: u32 = 8;
    pub const METADATA_PROPS: u32 = 14;
}
/// OperatorSetIdProto (`domain` = 1 is left empty: the default domain).
mod opset_id {
    pub const VERSION: u32 = 2;
}
/// StringStringEntryProto.
mod entry {
    pub const KEY: u32 = 1;
    pub const VALUE: u32 = 2;
}
/// GraphProto.
mod graph {
    pub const NODE: u32 = 1;
    pub const NAME: u32 = 2;
    pub const INITIALIZER: u32 = 5;
    pub const INPUT: u32 = 11;
    pub const OUTPUT: u32 = 12;
}
/// NodeProto.
mod node {
    pub const INPUT: u32 = 1;
    pub const OUTPUT: u32 = 2;
    pub const NAME: u32 = 3;
    pub const OP_TYPE: u32 = 4;
    pub const ATTRIBUTE: u32 = 5;
}
/// AttributeProto, and its `type` values.
mod attribute {
    pub const NAME: u32 = 1;
    pub const F: u32 = 2;
    pub const I: u32 = 3;
    pub const TYPE: u32 = 20;
    pub const FLOAT: i64 = 1;
    pub const INT: i64 = 2;
}
/// TensorProto, and the `data_type` of float32.
mod tensor {
    pub const DIMS: u32 = 1;
    pub const DATA_TYPE: u32 = 2;
    pub const NAME: u32 = 8;
    pub const RAW_DATA: u32 = 9;
    pub const FLOAT: i64 = 1;
}
/// ValueInfoProto → TypeProto → TypeProto.Tensor → TensorShapeProto → Dimension.
mod value_info {
    pub const NAME: u32 = 1;
    pub const TYPE: u32 = 2;
    pub const TENSOR_TYPE: u32 = 1;
    pub const ELEM_TYPE: u32 = 1;
    pub const SHAPE: u32 = 2;
    pub const DIM: u32 = 1;
    pub const DIM_VALUE: u32 = 1;
    pub const DIM_PARAM: u32 = 2;
}

/// Encodes `network`, with the scaling and names in `info`, as the bytes of an ONNX file
/// (see the module docs for the graph).
pub fn to_bytes(network: &Network, info: &ModelInfo) -> Vec<u8> {
    let mut graph = Graph::default();
    let mut x = INPUT_NAME.to_string();
    if let Some(scaler) = info.scaler.as_ref().filter(|s| !is_identity(s)) {
        let width = scaler.offset.len() as i64;
        graph.initializer("input.offset", &[width], &scaler.offset);
        graph.initializer("input.scale", &[width], &scaler.scale);
        graph.node("Sub", &[&x, "input.offset"], "input.centered", &[]);
        graph.node(
            "Mul",
            &["input.centered", "input.scale"],
            "input.scaled",
            &[],
        );
        x = "input.scaled".into();
    }
    let last = network.layers().len() - 1;
    for (l, layer) in network.layers().iter().enumerate() {
        let (weights, biases) = (format!("layers.{l}.weight"), format!("layers.{l}.bias"));
        let shape = [layer.outputs() as i64, layer.inputs() as i64];
        graph.initializer(&weights, &shape, layer.weights().as_slice());
        graph.initializer(&biases, &shape[..1], layer.biases());
        let z = format!("layers.{l}.z");
        graph.node(
            "Gemm",
            &[&x, &weights, &biases],
            &z,
            &[("transB", Attribute::Int(1))],
        );
        let a = if l == last {
            OUTPUT_NAME.to_string()
        } else {
            format!("layers.{l}.a")
        };
        graph.activation(layer.activation(), &z, &a, l);
        x = a;
    }

    let mut graph_proto = graph.into_message();
    graph_proto
        .string(graph::NAME, "glassbox")
        .message(graph::INPUT, &value_info(INPUT_NAME, network.inputs()))
        .message(graph::OUTPUT, &value_info(OUTPUT_NAME, network.outputs()));

    let mut opset = Message::new();
    opset.int(opset_id::VERSION, OPSET);
    let mut model = Message::new();
    model
        .int(model::IR_VERSION, IR_VERSION)
        .string(model::PRODUCER_NAME, "glassbox")
        .string(model::PRODUCER_VERSION, env!("CARGO_PKG_VERSION"))
        .string(
            model::DOC_STRING,
            &format!(
                "A multilayer perceptron exported by glassbox: {}",
                describe(network)
            ),
        )
        .message(model::GRAPH, &graph_proto)
        .message(model::OPSET_IMPORT, &opset);
    for (key, value) in metadata(info) {
        let mut e = Message::new();
        e.string(entry::KEY, key).string(entry::VALUE, &value);
        model.message(model::METADATA_PROPS, &e);
    }
    model.into_bytes()
}

/// Writes [`to_bytes`] to `path` atomically (as [`crate::io::save`] writes model files).
///
/// # Errors
/// [`crate::Error::Io`] naming `path` when it cannot be written; an existing file is
/// then left as it was.
pub fn save(path: impl AsRef<Path>, network: &Network, info: &ModelInfo) -> Result<()> {
    crate::file::write_atomically(path.as_ref(), &to_bytes(network, info))
}

/// Whether a scaler changes nothing (no scaling, or every offset 0 and scale 1).
fn is_identity(scaler: &Scaler) -> bool {
    scaler.scaling == Scaling::None
        || (scaler.offset.iter().all(|&o| o == 0.0) && scaler.scale.iter().all(|&s| s == 1.0))
}

/// `64 → 32 (relu) → 10 (softmax)`.
fn describe(network: &Network) -> String {
    let mut text = network.inputs().to_string();
    for layer in network.layers() {
        text += &format!(" → {} ({})", layer.outputs(), layer.activation());
    }
    text
}

/// The `metadata_props` entries.
fn metadata(info: &ModelInfo) -> Vec<(&'static str, String)> {
    let mut entries = vec![(VERSION_KEY, env!("CARGO_PKG_VERSION").to_string())];
    if !info.class_names.is_empty() {
        // A list of strings always encodes.
        let names = serde_json::to_string(&info.class_names).unwrap_or_default();
        entries.push((CLASS_NAMES_KEY, names));
    }
    let scaling = info.scaler.as_ref().map_or(Scaling::None, |s| s.scaling);
    entries.push((SCALING_KEY, scaling.to_string()));
    if let Some(shape) = info.image_shape {
        entries.push((
            IMAGE_SHAPE_KEY,
            format!("{}x{}x{}", shape.height, shape.width, shape.channels),
        ));
    }
    entries
}

/// A `ValueInfoProto` of a float32 tensor `[batch, width]`.
fn value_info(name: &str, width: usize) -> Message {
    let mut batch = Message::new();
    batch.string(value_info::DIM_PARAM, BATCH_DIMENSION);
    let mut features = Message::new();
    features.int(value_info::DIM_VALUE, width as i64);
    let mut shape = Message::new();
    shape
        .message(value_info::DIM, &batch)
        .message(value_info::DIM, &features);
    let mut tensor_type = Message::new();
    tensor_type
        .int(value_info::ELEM_TYPE, tensor::FLOAT)
        .message(value_info::SHAPE, &shape);
    let mut type_proto = Message::new();
    type_proto.message(value_info::TENSOR_TYPE, &tensor_type);
    let mut info = Message::new();
    info.string(value_info::NAME, name)
        .message(value_info::TYPE, &type_proto);
    info
}

/// A node attribute's value.
enum Attribute {
    Int(i64),
    Float(f32),
}

/// The graph's nodes and initializers, in order.
#[derive(Default)]
struct Graph {
    nodes: Vec<Message>,
    initializers: Vec<Message>,
}

impl Graph {
    /// A float32 initializer (a constant tensor) of the given shape.
    fn initializer(&mut self, name: &str, dims: &[i64], values: &[f32]) {
        let mut t = Message::new();
        for &d in dims {
            t.int(tensor::DIMS, d);
        }
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.int(tensor::DATA_TYPE, tensor::FLOAT)
            .string(tensor::NAME, name)
            .bytes(tensor::RAW_DATA, &raw);
        self.initializers.push(t);
    }

    /// A node named after its output.
    fn node(&mut self, op: &str, inputs: &[&str], output: &str, attributes: &[(&str, Attribute)]) {
        let mut n = Message::new();
        for input in inputs {
            n.string(node::INPUT, input);
        }
        n.string(node::OUTPUT, output)
            .string(node::NAME, &format!("{op}:{output}"))
            .string(node::OP_TYPE, op);
        for (name, value) in attributes {
            let mut a = Message::new();
            a.string(attribute::NAME, name);
            match *value {
                Attribute::Int(i) => a.int(attribute::I, i).int(attribute::TYPE, attribute::INT),
                Attribute::Float(f) => a
                    .float(attribute::F, f)
                    .int(attribute::TYPE, attribute::FLOAT),
            };
            n.message(node::ATTRIBUTE, &a);
        }
        self.nodes.push(n);
    }

    /// The node(s) computing a = f(z) for layer `l`.
    fn activation(&mut self, f: Activation, z: &str, a: &str, l: usize) {
        match f {
            Activation::Step => {
                // glassbox's step is 1 at z = 0 exactly: z ≥ 0, not z > 0.
                let zero = format!("layers.{l}.step_threshold");
                self.initializer(&zero, &[], &[0.0]);
                let fired = format!("layers.{l}.fired");
                self.node("GreaterOrEqual", &[z, &zero], &fired, &[]);
                self.node(
                    "Cast",
                    &[&fired],
                    a,
                    &[("to", Attribute::Int(tensor::FLOAT))],
                );
            }
            Activation::Identity => self.node("Identity", &[z], a, &[]),
            Activation::Sigmoid => self.node("Sigmoid", &[z], a, &[]),
            Activation::Tanh => self.node("Tanh", &[z], a, &[]),
            Activation::Relu => self.node("Relu", &[z], a, &[]),
            Activation::LeakyRelu { alpha } => {
                self.node("LeakyRelu", &[z], a, &[("alpha", Attribute::Float(alpha))])
            }
            Activation::Softmax => self.node("Softmax", &[z], a, &[("axis", Attribute::Int(1))]),
        }
    }

    /// A `GraphProto` with the nodes and initializers (name, input and output added by
    /// the caller).
    fn into_message(self) -> Message {
        let mut g = Message::new();
        for n in &self.nodes {
            g.message(graph::NODE, n);
        }
        for t in &self.initializers {
            g.message(graph::INITIALIZER, t);
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::super::protobuf::decode::{all, one};
    use super::*;
    use crate::data::ImageShape;
    use crate::Init;

    /// How far the f64 reference evaluator may land from the f32 engine.
    const GRAPH_TOLERANCE: f64 = 1e-5;

    fn network() -> Network {
        Network::builder(3)
            .dense(4, Activation::LeakyRelu { alpha: 0.2 })
            .dense(4, Activation::Step)
            .dense(2, Activation::Softmax)
            .build(Init::Xavier, 5)
            .unwrap()
    }

    fn info() -> ModelInfo {
        ModelInfo {
            class_names: vec!["no".into(), "yes".into()],
            scaler: Some(Scaler {
                scaling: Scaling::Standard,
                offset: vec![0.5, -1.0, 2.0],
                scale: vec![1.0, 0.25, 3.0],
            }),
            image_shape: Some(ImageShape::new(1, 3, 1)),
            loss: None,
        }
    }

    /// (op_type, inputs, output) of every node.
    fn nodes(graph: &[u8]) -> Vec<(String, Vec<String>, String)> {
        all(graph, graph::NODE)
            .into_iter()
            .map(|n| {
                let n = n.bytes();
                (
                    one(n, node::OP_TYPE).str().to_string(),
                    all(n, node::INPUT)
                        .iter()
                        .map(|i| i.str().to_string())
                        .collect(),
                    one(n, node::OUTPUT).str().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_model_header_names_ir_opset_and_producer() {
        let bytes = to_bytes(&network(), &info());
        assert_eq!(one(&bytes, model::IR_VERSION).int(), IR_VERSION);
        assert_eq!(one(&bytes, model::PRODUCER_NAME).str(), "glassbox");
        let opset = one(&bytes, model::OPSET_IMPORT).bytes();
        assert_eq!(one(opset, opset_id::VERSION).int(), OPSET);
        assert!(all(opset, 1).is_empty(), "the default domain is left empty");
        let metadata: Vec<(String, String)> = all(&bytes, model::METADATA_PROPS)
            .iter()
            .map(|e| {
                let e = e.bytes();
                (
                    one(e, entry::KEY).str().to_string(),
                    one(e, entry::VALUE).str().to_string(),
                )
            })
            .collect();
        let get = |k: &str| metadata.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(get(VERSION_KEY), env!("CARGO_PKG_VERSION"));
        assert_eq!(get(CLASS_NAMES_KEY), r#"["no","yes"]"#);
        assert_eq!(get(SCALING_KEY), "standard");
        assert_eq!(get(IMAGE_SHAPE_KEY), "1x3x1");
    }

    #[test]
    fn the_graph_scales_then_runs_each_layer() {
        let net = network();
        let bytes = to_bytes(&net, &info());
        let graph = one(&bytes, model::GRAPH).bytes();
        let ops: Vec<(String, Vec<String>, String)> = nodes(graph);
        let expected: Vec<(&str, Vec<&str>, &str)> = vec![
            ("Sub", vec!["input", "input.offset"], "input.centered"),
            ("Mul", vec!["input.centered", "input.scale"], "input.scaled"),
            (
                "Gemm",
                vec!["input.scaled", "layers.0.weight", "layers.0.bias"],
                "layers.0.z",
            ),
            ("LeakyRelu", vec!["layers.0.z"], "layers.0.a"),
            (
                "Gemm",
                vec!["layers.0.a", "layers.1.weight", "layers.1.bias"],
                "layers.1.z",
            ),
            (
                "GreaterOrEqual",
                vec!["layers.1.z", "layers.1.step_threshold"],
                "layers.1.fired",
            ),
            ("Cast", vec!["layers.1.fired"], "layers.1.a"),
            (
                "Gemm",
                vec!["layers.1.a", "layers.2.weight", "layers.2.bias"],
                "layers.2.z",
            ),
            ("Softmax", vec!["layers.2.z"], "output"),
        ];
        let expected: Vec<(String, Vec<String>, String)> = expected
            .into_iter()
            .map(|(o, i, out)| {
                (
                    o.to_string(),
                    i.into_iter().map(String::from).collect(),
                    out.to_string(),
                )
            })
            .collect();
        assert_eq!(ops, expected);

        // Attributes: Gemm's transB = 1, LeakyRelu's alpha, Softmax's axis, Cast's `to`.
        let attribute = |op: &str, name: &str| {
            let node = all(graph, graph::NODE)
                .into_iter()
                .map(|n| n.bytes())
                .find(|n| one(n, node::OP_TYPE).str() == op)
                .unwrap();
            all(node, node::ATTRIBUTE)
                .into_iter()
                .map(|a| a.bytes())
                .find(|a| one(a, attribute::NAME).str() == name)
                .unwrap()
        };
        let trans_b = attribute("Gemm", "transB");
        assert_eq!(one(trans_b, attribute::I).int(), 1);
        assert_eq!(one(trans_b, attribute::TYPE).int(), attribute::INT);
        let alpha = attribute("LeakyRelu", "alpha");
        assert_eq!(one(alpha, attribute::F).float(), 0.2);
        assert_eq!(one(alpha, attribute::TYPE).int(), attribute::FLOAT);
        assert_eq!(one(attribute("Softmax", "axis"), attribute::I).int(), 1);
        assert_eq!(
            one(attribute("Cast", "to"), attribute::I).int(),
            tensor::FLOAT
        );

        // Initializers: the weights stay [out, in], bit for bit.
        let initializer = |name: &str| {
            all(graph, graph::INITIALIZER)
                .into_iter()
                .map(|t| t.bytes())
                .find(|t| one(t, tensor::NAME).str() == name)
                .unwrap()
        };
        let w = initializer("layers.0.weight");
        let dims: Vec<i64> = all(w, tensor::DIMS).iter().map(|d| d.int()).collect();
        assert_eq!(dims, [4, 3]);
        assert_eq!(one(w, tensor::DATA_TYPE).int(), tensor::FLOAT);
        let raw: Vec<f32> = one(w, tensor::RAW_DATA)
            .bytes()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(raw, net.layers()[0].weights().as_slice());
        let threshold = initializer("layers.1.step_threshold");
        assert!(all(threshold, tensor::DIMS).is_empty(), "a scalar");
        assert_eq!(one(threshold, tensor::RAW_DATA).bytes(), [0, 0, 0, 0]);
        let scale = initializer("input.scale");
        assert_eq!(
            one(scale, tensor::RAW_DATA).bytes(),
            [1.0f32, 0.25, 3.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
        );
    }

    #[test]
    fn input_and_output_have_a_symbolic_batch_dimension() {
        let bytes = to_bytes(&network(), &ModelInfo::default());
        let graph = one(&bytes, model::GRAPH).bytes();
        for (field, name, width) in [
            (graph::INPUT, INPUT_NAME, 3),
            (graph::OUTPUT, OUTPUT_NAME, 2),
        ] {
            let info = one(graph, field).bytes();
            assert_eq!(one(info, value_info::NAME).str(), name);
            let tensor_type =
                one(one(info, value_info::TYPE).bytes(), value_info::TENSOR_TYPE).bytes();
            assert_eq!(one(tensor_type, value_info::ELEM_TYPE).int(), tensor::FLOAT);
            let dims = all(one(tensor_type, value_info::SHAPE).bytes(), value_info::DIM);
            assert_eq!(dims.len(), 2);
            assert_eq!(
                one(dims[0].bytes(), value_info::DIM_PARAM).str(),
                BATCH_DIMENSION
            );
            assert_eq!(one(dims[1].bytes(), value_info::DIM_VALUE).int(), width);
        }
    }

    #[test]
    fn without_scaling_the_first_gemm_reads_the_input() {
        let mut no_op = info();
        no_op.scaler.as_mut().unwrap().scaling = Scaling::None;
        for info in [ModelInfo::default(), no_op] {
            let bytes = to_bytes(&network(), &info);
            let graph = one(&bytes, model::GRAPH).bytes();
            let first = &nodes(graph)[0];
            assert_eq!((first.0.as_str(), first.1[0].as_str()), ("Gemm", "input"));
        }
    }

    /// A reference evaluator of the exported graph, in f64, written from the ONNX
    /// operator specifications and sharing no code with the engine: rows of values
    /// per tensor name, run node by node.
    fn run_graph(bytes: &[u8], input: &[Vec<f64>]) -> Vec<Vec<f64>> {
        use std::collections::HashMap;
        let graph = one(bytes, model::GRAPH).bytes();
        // Initializers: (dims, values).
        let mut constants: HashMap<String, (Vec<usize>, Vec<f64>)> = HashMap::new();
        for t in all(graph, graph::INITIALIZER) {
            let t = t.bytes();
            let dims = all(t, tensor::DIMS)
                .iter()
                .map(|d| d.int() as usize)
                .collect();
            let values = one(t, tensor::RAW_DATA)
                .bytes()
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
                .collect();
            constants.insert(one(t, tensor::NAME).str().to_string(), (dims, values));
        }
        let mut values: HashMap<String, Vec<Vec<f64>>> = HashMap::new();
        values.insert(INPUT_NAME.to_string(), input.to_vec());
        for n in all(graph, graph::NODE) {
            let n = n.bytes();
            let op = one(n, node::OP_TYPE).str();
            let inputs: Vec<&str> = all(n, node::INPUT).iter().map(|i| i.str()).collect();
            let attribute = |name: &str| {
                all(n, node::ATTRIBUTE)
                    .into_iter()
                    .map(|a| a.bytes())
                    .find(|a| one(a, attribute::NAME).str() == name)
            };
            let x = &values[inputs[0]];
            let map = |f: &dyn Fn(f64) -> f64| -> Vec<Vec<f64>> {
                x.iter()
                    .map(|r| r.iter().map(|&v| f(v)).collect())
                    .collect()
            };
            // Broadcasts a constant over the rows: a vector of the row's width, or a scalar.
            let with = |name: &str, f: &dyn Fn(f64, f64) -> f64| -> Vec<Vec<f64>> {
                let (_, c) = &constants[name];
                x.iter()
                    .map(|r| {
                        r.iter()
                            .enumerate()
                            .map(|(j, &v)| f(v, if c.len() == 1 { c[0] } else { c[j] }))
                            .collect()
                    })
                    .collect()
            };
            let out = match op {
                "Sub" => with(inputs[1], &|a, b| a - b),
                "Mul" => with(inputs[1], &|a, b| a * b),
                "Gemm" => {
                    assert_eq!(one(attribute("transB").unwrap(), attribute::I).int(), 1);
                    let (dims, w) = &constants[inputs[1]];
                    let (_, b) = &constants[inputs[2]];
                    let (out, inp) = (dims[0], dims[1]);
                    x.iter()
                        .map(|r| {
                            (0..out)
                                .map(|j| {
                                    b[j] + (0..inp).map(|k| r[k] * w[j * inp + k]).sum::<f64>()
                                })
                                .collect()
                        })
                        .collect()
                }
                "Identity" => x.clone(),
                "Sigmoid" => map(&|z| 1.0 / (1.0 + (-z).exp())),
                "Tanh" => map(&f64::tanh),
                "Relu" => map(&|z| z.max(0.0)),
                "LeakyRelu" => {
                    let alpha = f64::from(one(attribute("alpha").unwrap(), attribute::F).float());
                    map(&|z| if z < 0.0 { alpha * z } else { z })
                }
                "Softmax" => {
                    assert_eq!(one(attribute("axis").unwrap(), attribute::I).int(), 1);
                    x.iter()
                        .map(|r| {
                            let e: Vec<f64> = r.iter().map(|z| z.exp()).collect();
                            let sum: f64 = e.iter().sum();
                            e.iter().map(|v| v / sum).collect()
                        })
                        .collect()
                }
                "GreaterOrEqual" => with(inputs[1], &|a, b| if a >= b { 1.0 } else { 0.0 }),
                "Cast" => x.clone(), // bool → float: 0/1 already
                other => panic!("the evaluator does not know {other}"),
            };
            values.insert(one(n, node::OUTPUT).str().to_string(), out);
        }
        values.remove(OUTPUT_NAME).unwrap()
    }

    #[test]
    fn the_graph_computes_what_the_network_predicts() {
        let mut rng = crate::rng::Rng::new(11);
        let rows = 7;
        let mut x: Vec<f32> = (0..rows * 3)
            .map(|_| (rng.next_u64() % 2001) as f32 / 100.0 - 10.0)
            .collect();
        // A row equal to the scaler's offsets: every scaled input is exactly 0.
        x[..3].copy_from_slice(&[0.5, -1.0, 2.0]);
        for output in [
            Activation::Softmax,
            Activation::Sigmoid,
            Activation::Identity,
        ] {
            for hidden in [
                Activation::Step,
                Activation::Identity,
                Activation::Sigmoid,
                Activation::Tanh,
                Activation::Relu,
                Activation::LeakyRelu { alpha: 0.2 },
            ] {
                let mut net = Network::builder(3)
                    .dense(5, hidden)
                    .dense(2, output)
                    .build(Init::Xavier, 9)
                    .unwrap();
                // Neuron 0 of the hidden layer has zero bias: z = 0 exactly on the row
                // of zeros, where the step must give 1.
                net.parameters_mut(0).unwrap().1[0] = 0.0;
                for info in [ModelInfo::default(), info()] {
                    let bytes = to_bytes(&net, &info);
                    let mut scaled = x.clone();
                    if let Some(s) = &info.scaler {
                        scaled.chunks_exact_mut(3).for_each(|r| s.apply_row(r));
                    }
                    let want = net.predict(&scaled).unwrap();
                    let input: Vec<Vec<f64>> = x
                        .chunks_exact(3)
                        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                        .collect();
                    let got = run_graph(&bytes, &input);
                    for (i, row) in got.iter().enumerate() {
                        for (j, &v) in row.iter().enumerate() {
                            let w = f64::from(want.row(i)[j]);
                            assert!(
                                (v - w).abs() < GRAPH_TOLERANCE,
                                "{hidden} → {output}, scaled {}: row {i} output {j}: graph {v}, network {w}",
                                info.scaler.is_some()
                            );
                        }
                    }
                }
            }
        }
    }
}
