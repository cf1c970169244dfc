//! `glassbox export`: a saved model in a format another runtime reads.
//!
//! - `--format onnx`: an ONNX file ([`glassbox::interop::onnx`]) with the model's input
//!   scaling folded in, so ONNX Runtime takes the same raw features as `predict`.
//! - `--format torch`: a safetensors state dict of an `nn.Sequential`
//!   ([`glassbox::interop::torch`]) and a few lines of PyTorch that rebuild the module,
//!   printed, or written to `--script`.
//!
//! Every output is checked before anything is written, and written atomically: a failed
//! export leaves no file behind and an existing one as it was.

use crate::args::{ExportArgs, ExportFormat};
use crate::commands::train::{architecture, check_output_path};
use crate::error::usage;
use crate::model::Model;
use crate::outln;
use anyhow::{Context, Result};
use glassbox::interop::{onnx, torch};

/// Runs `export`.
pub fn run(args: &ExportArgs) -> Result<()> {
    if args.script.is_some() && args.format != ExportFormat::Torch {
        return Err(usage(
            "--script is the PyTorch script of --format torch; ONNX needs none",
        ));
    }
    check_output_path(&args.out, "--out")?;
    if let Some(script) = &args.script {
        check_output_path(script, "--script")?;
    }
    let model = Model::load(&args.model)?;
    let (network, info) = (&model.network, &model.info);
    match args.format {
        ExportFormat::Onnx => {
            onnx::save(&args.out, network, info)
                .with_context(|| format!("writing the ONNX model {}", args.out.display()))?;
            let scaling = match &info.scaler {
                Some(s) if s.scaling != glassbox::data::Scaling::None => {
                    format!(", {} input scaling folded in", s.scaling)
                }
                _ => String::new(),
            };
            outln!(
                "{}: ONNX (opset {}, IR {}), {}{scaling}; input {:?} [batch, {}], output {:?} [batch, {}]",
                args.out.display(),
                onnx::OPSET,
                onnx::IR_VERSION,
                architecture(network),
                onnx::INPUT_NAME,
                network.inputs(),
                onnx::OUTPUT_NAME,
                network.outputs()
            );
        }
        ExportFormat::Torch => {
            let bytes = torch::to_bytes(network, info)?;
            let existed = args.out.exists();
            let script = torch::script(network, info, &args.out.display().to_string());
            glassbox::file::write_atomically(&args.out, &bytes).with_context(|| {
                format!("writing the PyTorch state dict {}", args.out.display())
            })?;
            match &args.script {
                Some(path) => {
                    if let Err(e) = glassbox::file::write_atomically(path, script.as_bytes()) {
                        // Both files or neither: the state dict alone is half an export
                        // (a file that was there before is replaced, not removed).
                        if !existed {
                            let _ = std::fs::remove_file(&args.out);
                        }
                        return Err(anyhow::Error::new(e)
                            .context(format!("writing the PyTorch script {}", path.display())));
                    }
                    outln!(
                        "{}: nn.Sequential state dict of {}; {}: the PyTorch script that loads it",
                        args.out.display(),
                        architecture(network),
                        path.display()
                    );
                }
                None => outln!("{script}"),
            }
        }
    }
    Ok(())
}
