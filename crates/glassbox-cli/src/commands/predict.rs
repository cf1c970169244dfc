//! `glassbox predict`: a saved model run on image files or the rows of CSV files.
//!
//! Images are converted to the model's image shape (size and channels) by the library's
//! image loader. A CSV file either has exactly the model's number of columns (all
//! features; a header line is optional) or one more, a label column, which the
//! library's CSV loader reads and this command ignores. The model's scaler, when it has
//! one, is applied to every row.

use crate::args::{DataArgs, PredictArgs};
use crate::model::Model;
use crate::outln;
use anyhow::{bail, Context, Result};
use glassbox::data::csv;
use glassbox::data::image_folder;
use glassbox::network::argmax;
use serde_json::json;
use std::path::Path;

/// One row to predict, and where it came from.
struct Input {
    /// The path as given.
    path: String,
    /// The 1-based line of a CSV file.
    line: Option<usize>,
}

/// Runs `predict`.
pub fn run(args: &PredictArgs) -> Result<()> {
    let model = Model::load_any(&args.model)?;
    let width = model.network.inputs();
    let mut inputs = Vec::new();
    let mut features: Vec<f32> = Vec::new();
    for path in &args.inputs {
        if is_image(path) {
            let shape = model.info.image_shape.with_context(|| {
                format!(
                    "{}: the model {} was not trained on images (it takes {width} features); \
                     give a CSV file",
                    path.display(),
                    args.model.display()
                )
            })?;
            let mut row = image_folder::load_image(path, shape)?;
            if let Some(scaler) = &model.info.scaler {
                scaler.apply_row(&mut row);
            }
            features.extend_from_slice(&row);
            inputs.push(Input {
                path: path.display().to_string(),
                line: None,
            });
        } else {
            let before = features.len();
            let lines = read_csv_rows(path, width, args.label_column.as_deref(), &mut features)?;
            if let Some(scaler) = &model.info.scaler {
                for row in features[before..].chunks_exact_mut(width) {
                    scaler.apply_row(row);
                }
            }
            inputs.extend(lines.into_iter().map(|line| Input {
                path: path.display().to_string(),
                line: Some(line),
            }));
        }
    }
    let outputs = model.predict(&features)?;
    let classifier = !model.info.class_names.is_empty()
        || model.network.output_activation() == glassbox::Activation::Softmax;
    for (i, input) in inputs.iter().enumerate() {
        let values = outputs.row(i);
        let shown = match input.line {
            Some(line) => format!("{}:{line}", input.path),
            None => input.path.clone(),
        };
        if !classifier {
            if args.json {
                outln!(
                    "{}",
                    json!({ "input": input.path, "line": input.line, "class": null, "values": values })
                );
            } else {
                let text: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
                outln!("{shown}: {}", text.join(" "));
            }
            continue;
        }
        let best = argmax(values);
        let mut ranked: Vec<usize> = (0..values.len()).collect();
        ranked.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        if args.json {
            let probabilities: serde_json::Map<String, serde_json::Value> = (0..values.len())
                .map(|k| (model.class_name(k), json!(values[k])))
                .collect();
            outln!(
                "{}",
                json!({
                    "input": input.path,
                    "line": input.line,
                    "class": model.class_name(best),
                    "index": best,
                    "confidence": values[best],
                    "probabilities": probabilities,
                })
            );
        } else {
            let top = if args.top == 0 {
                values.len()
            } else {
                args.top.min(values.len())
            };
            let others: Vec<String> = ranked[1..top.max(1)]
                .iter()
                .map(|&k| format!("{} {:.1}%", model.class_name(k), 100.0 * values[k]))
                .collect();
            let mut text = format!(
                "{shown}: {} ({:.1}%)",
                model.class_name(best),
                100.0 * values[best]
            );
            if !others.is_empty() {
                text += &format!("   next: {}", others.join(", "));
            }
            outln!("{text}");
        }
    }
    Ok(())
}

/// Whether `path` names a PNG or JPEG file.
fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["png", "jpg", "jpeg"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Appends the rows of a CSV file to `out` and gives each row's line number.
fn read_csv_rows(
    path: &Path,
    width: usize,
    label_column: Option<&str>,
    out: &mut Vec<f32>,
) -> Result<Vec<usize>> {
    let label = label_column.map(|column| {
        DataArgs {
            label_column: Some(column.to_string()),
            regression: false,
            stream: false,
        }
        .label_column()
    });
    let inputs = csv::load_inputs(path, width, label.as_ref())?;
    if inputs.width != width {
        bail!(
            "{}: rows have {} features (plus a label column) but the model takes {width}",
            path.display(),
            inputs.width
        );
    }
    out.extend_from_slice(&inputs.features);
    Ok(inputs.lines)
}
