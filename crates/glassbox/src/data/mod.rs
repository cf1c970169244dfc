//! Data sets: f32 features with class labels or real-valued targets, and their loaders.
//!
//! A [`Dataset`] is a table: `len()` rows (examples) of `features()` f32 values, stored
//! row-major, batch-major like every activation in glassbox. Each row has a target:
//! a class index into [`Dataset::class_names`] or, for regression, `targets_width` real
//! values.
//!
//! Loaders (each rejects bad input with an [`Error`](crate::Error) naming the file,
//! the record and what was expected):
//! - [`idx`]: the MNIST format, plain or `.gz`, and directories of the four files;
//! - [`csv`]: a header, a label column, numeric features;
//! - [`image_folder`]: one sub-folder per class of PNG / JPEG images;
//! - [`synthetic`]: xor, circles, two spirals, gaussians — seeded, with noise;
//! - [`digits`]: the embedded 8×8 handwritten digits.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// What each row of a data set is asked to predict.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// A class per row: an index into [`Dataset::class_names`].
    Classes(Vec<usize>),
    /// Real values, `width` per row, row-major (regression).
    Values {
        /// Values per row.
        width: usize,
        /// `len × width` values.
        values: Vec<f32>,
    },
}

/// The height, width and channels of image inputs (row-major pixels, channels last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Rows of pixels.
    pub height: usize,
    /// Columns of pixels.
    pub width: usize,
    /// 1 for grayscale, 3 for RGB.
    pub channels: usize,
}

/// A table of examples: f32 features and a target per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f32>,
    width: usize,
    targets: Targets,
    class_names: Vec<String>,
    image_shape: Option<ImageShape>,
}
