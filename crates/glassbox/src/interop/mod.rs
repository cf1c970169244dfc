//! Interop: a glassbox model in other runtimes, and other runtimes' models in glassbox.
//!
//! | direction | format | module |
//! |---|---|---|
//! | glassbox → ONNX Runtime, Triton, … | ONNX (opset 17, IR 8) | [`onnx`] |
//! | glassbox → PyTorch | safetensors state dict of an `nn.Sequential`, and a script | [`torch`] |
//! | PyTorch → glassbox | safetensors state dict of an `nn.Sequential` / `nn.ModuleList` | [`torch::import`] |
//!
//! Both directions keep weights as `[out, in]`, the layout glassbox and PyTorch share,
//! so nothing is transposed. The model file glassbox writes ([`crate::io`]) already loads
//! into `nn.Linear` by name; these formats add what it lacks: a graph that runs without
//! glassbox (ONNX, with the input scaling folded in), the exact names `nn.Sequential`
//! expects, and the activations a bare state dict does not record.

pub mod onnx;
mod protobuf;
pub mod torch;
