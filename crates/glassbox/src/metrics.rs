//! How good a network is: loss, accuracy, the confusion matrix and per-class precision,
//! recall and F1 for classifiers; mean squared and absolute error for regression.
//!
//! ```text
//! accuracy   = correct / examples
//! precision  = TP / (TP + FP)   of the examples predicted as class c, how many are c
//! recall     = TP / (TP + FN)   of the examples of class c, how many were found
//! F1         = 2·precision·recall / (precision + recall)
//! ```

use crate::data::{Dataset, Targets};
use crate::loss::Loss;
use crate::network::{argmax, Network, Workspace, PREDICT_CHUNK_ROWS};
use crate::tensor::{Parallelism, Tensor};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Counts of (true class, predicted class) pairs: `counts[t][p]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            counts: vec![vec![0; classes]; classes],
        }
    }

    /// Counts one example.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// Examples counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Fraction on the diagonal (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.classes()).map(|c| self.counts[c][c]).sum();
        ratio(right, self.total())
    }

    /// Of the examples predicted as `class`, the fraction that are (0 when none were).
    pub fn precision(&self, class: usize) -> f64 {
        let predicted: usize = self.counts.iter().map(|row| row[class]).sum();
        ratio(self.counts[class][class], predicted)
    }

    /// Of the examples of `class`, the fraction predicted as it (0 when there are none).
    pub fn recall(&self, class: usize) -> f64 {
        ratio(self.counts[class][class], self.counts[class].iter().sum())
    }

    /// The harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self, class: usize) -> f64 {
        let (p, r) = (self.precision(class), self.recall(class));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A network's figures on a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Examples evaluated.
    pub examples: usize,
    /// The mean loss C (see [`crate::loss`]).
    pub loss: f64,
    /// Fraction classified right (classification only).
    pub accuracy: Option<f64>,
    /// The confusion matrix (classification only).
    pub confusion: Option<ConfusionMatrix>,
    /// Mean squared error per output value, 1/(B·K)·Σ(a − y)² (regression only).
    pub mse: Option<f64>,
    /// Mean absolute error per output value (regression only).
    pub mae: Option<f64>,
}

/// Runs `network` over `data` in chunks and measures it with `loss`.
///
/// # Errors
/// [`Error::InputWidth`] or [`Error::Shape`] when the data does not fit the network.
pub fn evaluate(network: &Network, data: &Dataset, loss: Loss) -> Result<Evaluation> {
    evaluate_with(network, data, loss, Parallelism::Sequential)
}

/// [`evaluate`] with the matrix products on up to `par` threads (the result does not
/// depend on the count).
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_with(
    network: &Network,
    data: &Dataset,
    loss: Loss,
    par: Parallelism,
) -> Result<Evaluation> {
    let chunk = PREDICT_CHUNK_ROWS.min(data.len()).max(1);
    let mut ws = Workspace::forward_only(network, chunk);
    let last = network.layers().len() - 1;
    measure(
        (network.inputs(), network.outputs()),
        data,
        loss,
        |x, z, a| {
            network.forward_with(x, &mut ws, par);
            z.clear();
            z.extend_from_slice(ws.weighted_sums[last].as_slice());
            a.clear();
            a.extend_from_slice(ws.activations[last].as_slice());
            Ok(())
        },
    )
}

/// The measuring every evaluation shares (float and int8 networks alike): checks that
/// `data` fits a network of `(inputs, outputs)`, runs it over the data in chunks of
/// [`PREDICT_CHUNK_ROWS`] rows — `forward(x, z, a)` leaves the output layer's weighted
/// sums and activations for the rows of `x` in `z` and `a` — and sums the loss, the
/// confusion matrix (classes) or the squared and absolute errors (values).
pub(crate) fn measure(
    (inputs, outputs): (usize, usize),
    data: &Dataset,
    loss: Loss,
    mut forward: impl FnMut(&Tensor, &mut Vec<f32>, &mut Vec<f32>) -> Result<()>,
) -> Result<Evaluation> {
    if data.width() != inputs {
        return Err(Error::InputWidth {
            expected: inputs,
            found: data.width(),
        });
    }
    if data.target_width() != outputs {
        return Err(Error::Shape(format!(
            "the data has {} targets per example but the network has {outputs} outputs",
            data.target_width()
        )));
    }
    let chunk = PREDICT_CHUNK_ROWS.min(data.len()).max(1);
    let mut x = Tensor::zeros(chunk, data.width());
    let mut y = Tensor::zeros(chunk, outputs);
    let (mut z, mut a) = (Vec::new(), Vec::new());
    let mut confusion = match data.targets() {
        Targets::Classes(_) => Some(ConfusionMatrix::new(outputs)),
        Targets::Values { .. } => None,
    };
    let (mut loss_sum, mut sq, mut abs) = (0.0f64, 0.0f64, 0.0f64);
    let rows: Vec<usize> = (0..data.len()).collect();
    for part in rows.chunks(chunk) {
        x.resize(part.len(), data.width());
        y.resize(part.len(), outputs);
        for (i, &r) in part.iter().enumerate() {
            data.write_row(r, x.row_mut(i));
            data.write_target_row(r, y.row_mut(i));
        }
        forward(&x, &mut z, &mut a)?;
        loss_sum += loss.sum(&z, &a, y.as_slice(), outputs);
        match (&mut confusion, data.targets()) {
            (Some(m), Targets::Classes(labels)) => {
                for (i, &r) in part.iter().enumerate() {
                    m.add(labels[r], argmax(&a[i * outputs..(i + 1) * outputs]));
                }
            }
            _ => {
                for (&a, &y) in a.iter().zip(y.as_slice()) {
                    let d = (a - y) as f64;
                    sq += d * d;
                    abs += d.abs();
                }
            }
        }
    }
    let n = data.len().max(1) as f64;
    let values = n * outputs as f64;
    Ok(Evaluation {
        examples: data.len(),
        loss: loss_sum / n,
        accuracy: confusion.as_ref().map(ConfusionMatrix::accuracy),
        mse: confusion.is_none().then(|| sq / values),
        mae: confusion.is_none().then(|| abs / values),
        confusion,
    })
}

/// The coefficient of determination of a regression, averaged over the targets:
/// R²ⱼ = 1 − Σᵢ(yᵢⱼ − pᵢⱼ)² / Σᵢ(yᵢⱼ − ȳⱼ)² for each target j, then their mean
/// (scikit-learn's `r2_score` with `multioutput="uniform_average"`; a constant target
/// scores 1 when predicted exactly, else 0). `predictions` holds the network's outputs
/// for `data`'s rows, row-major. The Python package's regressor scores its validation
/// set with it for early stopping.
///
/// # Errors
/// [`Error::Config`] when `data` has class targets; [`Error::Shape`] when
/// `predictions` does not have a value per row and target.
pub fn r_squared(predictions: &[f32], data: &Dataset) -> Result<f64> {
    let Targets::Values { width, values } = data.targets() else {
        return Err(Error::Config(
            "R² needs real-valued targets (a regression data set)".into(),
        ));
    };
    let (rows, width) = (data.len(), *width);
    if predictions.len() != values.len() {
        return Err(Error::Shape(format!(
            "R² of {rows} rows × {width} targets needs {} predictions, got {}",
            values.len(),
            predictions.len()
        )));
    }
    let mut total = 0.0;
    for j in 0..width {
        let y = |i: usize| f64::from(values[i * width + j]);
        let mean = (0..rows).map(y).sum::<f64>() / rows as f64;
        let (mut residual, mut spread) = (0.0, 0.0);
        for i in 0..rows {
            residual += (y(i) - f64::from(predictions[i * width + j])).powi(2);
            spread += (y(i) - mean).powi(2);
        }
        total += if spread > 0.0 {
            1.0 - residual / spread
        } else if residual == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    Ok(total / width as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn r_squared_is_scikit_learns_uniform_average() {
        // y = [[1, 10], [2, 20], [3, 30]]; p off by 1 in the first target, exact in the second.
        let data =
            Dataset::regression(vec![0.0; 3], 1, vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0], 2).unwrap();
        let p = [2.0, 10.0, 3.0, 20.0, 4.0, 30.0];
        // First target: 1 − 3/2 = −0.5; second: 1. Mean 0.25.
        assert!((super::r_squared(&p, &data).unwrap() - 0.25).abs() < 1e-12);
        let constant = Dataset::regression(vec![0.0; 2], 1, vec![5.0, 5.0], 1).unwrap();
        assert_eq!(super::r_squared(&[5.0, 5.0], &constant).unwrap(), 1.0);
        assert_eq!(super::r_squared(&[5.0, 6.0], &constant).unwrap(), 0.0);
        assert!(super::r_squared(&[1.0], &data).is_err());
    }

    use super::*;

    #[test]
    fn precision_recall_f1_of_a_hand_made_matrix() {
        let mut m = ConfusionMatrix::new(2);
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (1, 0), (1, 1), (1, 1)] {
            m.add(t, p);
        }
        assert!((m.accuracy() - 5.0 / 7.0).abs() < 1e-12);
        assert!((m.precision(0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall(0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.precision(1) - 3.0 / 4.0).abs() < 1e-12);
        assert!((m.recall(1) - 3.0 / 4.0).abs() < 1e-12);
        assert!((m.f1(1) - 0.75).abs() < 1e-12);
    }
}
