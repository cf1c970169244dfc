//! `glassbox inspect`: what is inside a model file.

use crate::args::InspectArgs;
use crate::commands::train::architecture;
use crate::model::Model;
use crate::outln;
use crate::plot::{self, Figure};
use anyhow::Result;
use serde::Serialize;
use serde_json::json;

/// Summary statistics of a list of parameters.
///
/// The library has no statistics helper for weights, so this display-only summary is
/// computed here (in f64, from the stored f32 values).
#[derive(Debug, Clone, Copy, Serialize)]
struct Stats {
    min: f64,
    max: f64,
    mean: f64,
    std: f64,
}

impl Stats {
    fn of(values: &[f32]) -> Stats {
        if values.is_empty() {
            return Stats {
                min: 0.0,
                max: 0.0,
                mean: 0.0,
                std: 0.0,
            };
        }
        let n = values.len() as f64;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for &v in values {
            let v = f64::from(v);
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        let mean = sum / n;
        let variance = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        Stats {
            min,
            max,
            mean,
            std: variance.sqrt(),
        }
    }
}

/// Runs `inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    let model = Model::load_any(&args.model)?;
    let network = &model.network;
    let info = &model.info;
    if let Some(path) = &args.weights_image {
        let first = &network.layers()[0];
        plot::save(
            path,
            &Figure::Weights {
                weights: first.weights().as_slice(),
                inputs: first.inputs(),
                shape: info.image_shape,
            },
        )?;
    }
    let layers: Vec<_> = network
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            (
                i + 1,
                layer,
                Stats::of(layer.weights().as_slice()),
                Stats::of(layer.biases()),
            )
        })
        .collect();
    if args.json {
        let object = json!({
            "model": args.model.display().to_string(),
            "sizes": network.sizes(),
            "int8": model.int8.is_some(),
            "parameters": network.parameter_count(),
            "loss": info.loss.map(|l| l.name()),
            "class_names": info.class_names,
            "image_shape": info.image_shape,
            "scaling": info.scaler.as_ref().map(|s| s.scaling.to_string()),
            "layers": layers.iter().map(|(i, layer, w, b)| json!({
                "layer": i,
                "inputs": layer.inputs(),
                "neurons": layer.outputs(),
                "activation": layer.activation().to_string(),
                "parameters": layer.parameter_count(),
                "weights": w,
                "biases": b,
            })).collect::<Vec<_>>(),
        });
        outln!("{object}");
        return Ok(());
    }
    let bytes = std::fs::metadata(&args.model).map_or(0, |m| m.len());
    outln!("model        {} ({bytes} bytes)", args.model.display());
    outln!("network      {}", architecture(network));
    outln!("parameters   {}", network.parameter_count());
    if let Some(int8) = &model.int8 {
        outln!(
            "weights      int8, one f32 scale per neuron (statistics below are of s·q); kernel here: {}",
            int8.kernel().name()
        );
    }
    if let Some(loss) = info.loss {
        outln!("loss         {loss}");
    }
    if let Some(shape) = info.image_shape {
        outln!("inputs       images of {shape} (height × width × channels)");
    }
    if let Some(scaler) = &info.scaler {
        outln!(
            "scaling      {} (fitted on the training data)",
            scaler.scaling
        );
    }
    if !info.class_names.is_empty() {
        let names: Vec<String> = info.class_names.iter().map(|n| format!("{n:?}")).collect();
        outln!("classes      {} : {}", names.len(), names.join(", "));
    }
    outln!();
    outln!(
        "{:>5}  {:>6} → {:<6}  {:<12} {:>9}  {:>29}  {:>29}",
        "layer",
        "in",
        "out",
        "activation",
        "params",
        "weights min / max / mean / std",
        "biases min / max / mean / std"
    );
    for (i, layer, w, b) in &layers {
        outln!(
            "{:>5}  {:>6} → {:<6}  {:<12} {:>9}  {:>7.3} {:>7.3} {:>7.3} {:>6.3}  {:>7.3} {:>7.3} {:>7.3} {:>6.3}",
            i,
            layer.inputs(),
            layer.outputs(),
            layer.activation().to_string(),
            layer.parameter_count(),
            w.min,
            w.max,
            w.mean,
            w.std,
            b.min,
            b.max,
            b.mean,
            b.std
        );
    }
    if let Some(path) = &args.weights_image {
        outln!();
        outln!(
            "first-layer weights drawn to {} (blue: positive, orange: negative, as in the playground; one tile per neuron)",
            path.display()
        );
    }
    Ok(())
}
