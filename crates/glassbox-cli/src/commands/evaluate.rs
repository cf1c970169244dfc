//! `glassbox evaluate`: a saved model measured on a data set.

use crate::args::EvaluateArgs;
use crate::model::Model;
use crate::outln;
use crate::plot::{self, Figure};
use crate::progress::percent;
use crate::spec::Source;
use anyhow::{Context, Result};
use glassbox::metrics::ConfusionMatrix;
use serde_json::json;

/// Runs `evaluate`.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    let model = Model::load_any(&args.model)?;
    let source = Source::parse(&args.data).context("--data")?;
    let (data, own_test) = source.load(&model.data_args(&args.data_args), 0)?;
    let (data, part) = match own_test {
        Some(test) => (test, "test set of "),
        None => (data, ""),
    };
    let what = format!("{part}{source}");
    let data = model.prepare(data, &what)?;
    let loss = model.loss();
    let evaluation = model.evaluate(&data, loss)?;
    let names: Vec<String> = (0..model.network.outputs())
        .map(|k| model.class_name(k))
        .collect();
    if let (Some(path), Some(matrix)) = (&args.confusion, &evaluation.confusion) {
        plot::save(path, &Figure::Confusion(matrix, &names))?;
    }
    if args.json {
        let classes = evaluation.confusion.as_ref().map(|m| {
            (0..m.classes())
                .map(|k| {
                    json!({
                        "class": names[k],
                        "precision": m.precision(k),
                        "recall": m.recall(k),
                        "f1": m.f1(k),
                        "support": m.counts[k].iter().sum::<usize>(),
                    })
                })
                .collect::<Vec<_>>()
        });
        let object = json!({
            "model": args.model.display().to_string(),
            "data": what,
            "examples": evaluation.examples,
            "loss_function": loss.name(),
            "loss": evaluation.loss,
            "accuracy": evaluation.accuracy,
            "mse": evaluation.mse,
            "mae": evaluation.mae,
            "class_names": if evaluation.confusion.is_some() { names.clone() } else { Vec::new() },
            "confusion": evaluation.confusion.as_ref().map(|m| &m.counts),
            "classes": classes,
        });
        outln!("{object}");
        return Ok(());
    }
    outln!("model     {}", args.model.display());
    outln!("data      {what} ({} examples)", evaluation.examples);
    outln!("loss      {:.6} ({loss})", evaluation.loss);
    if let Some(accuracy) = evaluation.accuracy {
        outln!("accuracy  {}", percent(Some(accuracy)));
    }
    if let (Some(mse), Some(mae)) = (evaluation.mse, evaluation.mae) {
        outln!("mse       {mse:.6}");
        outln!("mae       {mae:.6}");
    }
    if let Some(matrix) = &evaluation.confusion {
        outln!();
        print_confusion(matrix, &names)?;
        outln!();
        print_per_class(matrix, &names)?;
    }
    if let Some(path) = &args.confusion {
        if evaluation.confusion.is_some() {
            outln!("\nconfusion heat map: {}", path.display());
        }
    }
    Ok(())
}

/// The confusion matrix as a table: rows are the true classes, columns the predicted.
fn print_confusion(matrix: &ConfusionMatrix, names: &[String]) -> Result<()> {
    let label_width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(1)
        .clamp(4, 16);
    let largest = matrix.counts.iter().flatten().max().copied().unwrap_or(0);
    let cell = largest.to_string().len().max(3) + 1;
    let short = |name: &str, width: usize| -> String { name.chars().take(width).collect() };
    outln!("confusion matrix (rows: true class, columns: predicted)");
    let mut header = format!("{:label_width$} ", "");
    for name in names.iter().take(matrix.classes()) {
        header += &format!("{:>cell$}", short(name, cell - 1));
    }
    outln!("{header}");
    for (t, row) in matrix.counts.iter().enumerate() {
        let mut line = format!("{:label_width$} ", short(&names[t], label_width));
        for count in row {
            line += &format!("{count:>cell$}");
        }
        outln!("{line}");
    }
    Ok(())
}

/// Precision, recall and F1 per class.
fn print_per_class(matrix: &ConfusionMatrix, names: &[String]) -> Result<()> {
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    outln!(
        "{:width$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "class",
        "precision",
        "recall",
        "F1",
        "support"
    );
    for (k, name) in names.iter().enumerate().take(matrix.classes()) {
        outln!(
            "{:width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
            name,
            matrix.precision(k),
            matrix.recall(k),
            matrix.f1(k),
            matrix.counts[k].iter().sum::<usize>()
        );
    }
    Ok(())
}
