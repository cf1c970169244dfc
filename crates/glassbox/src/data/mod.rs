//! Data sets: f32 features with class labels or real-valued targets, and their loaders.
//!
//! A [`Dataset`] is a table: [`Dataset::len`] rows (examples) of [`Dataset::width`] f32
//! features, stored row-major, batch-major like every activation in glassbox. Each row has
//! a target: a class index into [`Dataset::class_names`] or, for regression,
//! [`Dataset::target_width`] real values. 8-bit images are kept as their bytes and read
//! as x = p / 255 ([`Dataset::classification_pixels`]), or left in their file and read as
//! they are used ([`Dataset::classification_streamed`], [`stream`]); the trainer and the
//! evaluation fill their batches with [`Dataset::write_row`] either way.
//!
//! ```text
//! features   len × width    row i = features[i·width .. (i+1)·width]
//! targets    len            class indices (classification), or
//!            len × k        real values (regression, k = target_width)
//! y          target_width   one-hot for a class c: yⱼ = 1 if j = c else 0
//! ```
//!
//! Loaders (each rejects bad input with an [`Error`] naming the file, the record and what
//! was expected):
//! - [`idx`]: the MNIST format, plain or `.gz`, and directories of the four files;
//! - [`csv`]: a header, a label column, numeric features;
//! - [`image_folder`]: one sub-folder per class of PNG / JPEG images;
//! - [`synthetic`]: xor, circles, two spirals, gaussians — seeded, with noise;
//! - [`digits`]: the embedded 8×8 handwritten digits.
//!
//! [`Scaler`] rescales features column by column, fitted on the training part only:
//!
//! ```text
//! x′ = (x − offset) · scale
//! min-max:   offset = min,  scale = 1 / (max − min)   → x′ ∈ [0, 1] on the training part
//! standard:  offset = mean, scale = 1 / std           → mean 0, variance 1
//! ```
//!
//! # Examples
//!
//! ```
//! use glassbox::data::{Dataset, Scaler, Scaling};
//! # fn main() -> glassbox::Result<()> {
//! // Four examples of two features, two classes.
//! let data = Dataset::classification(
//!     vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
//!     2,
//!     vec![0, 1, 1, 0],
//!     vec!["same".into(), "different".into()],
//! )?;
//! let (mut train, mut test) = data.split(0.5, 7)?;
//! assert_eq!(train.len() + test.len(), 4);
//!
//! let scaler = Scaler::fit(Scaling::Standard, &train);
//! scaler.apply(&mut train)?;
//! scaler.apply(&mut test)?;
//!
//! let mut y = vec![0.0; data.target_width()];
//! data.write_target_row(1, &mut y);
//! assert_eq!(y, [0.0, 1.0]);
//! # Ok(())
//! # }
//! ```

pub mod csv;
pub mod digits;
pub mod idx;
pub mod image_folder;
pub mod stream;
pub mod synthetic;

use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

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

impl ImageShape {
    /// An image shape of `height` rows, `width` columns and `channels` values per pixel.
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        ImageShape {
            height,
            width,
            channels,
        }
    }

    /// The number of f32 features one image becomes: height · width · channels.
    ///
    /// # Panics
    /// If that product overflows a `usize`; a shape read from a file is checked with
    /// [`ImageShape::checked_feature_count`] first.
    pub fn feature_count(&self) -> usize {
        self.checked_feature_count()
            .unwrap_or_else(|| panic!("an image of {self} has more values than a usize counts"))
    }

    /// height · width · channels, or `None` when that overflows a `usize` (a wrapped
    /// product could pass for a network's input count).
    pub fn checked_feature_count(&self) -> Option<usize> {
        self.height
            .checked_mul(self.width)?
            .checked_mul(self.channels)
    }

    /// Whether one image of this shape is `features` values: an error's words otherwise,
    /// "an image of h×w×c has N values" (or "more values than a usize counts").
    pub(crate) fn mismatch(&self, features: usize) -> Option<String> {
        match self.checked_feature_count() {
            Some(n) if n == features => None,
            Some(n) => Some(format!("an image of {self} has {n} values")),
            None => Some(format!(
                "an image of {self} has more values than a usize counts"
            )),
        }
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}×{}", self.height, self.width, self.channels)
    }
}

/// A table of examples: f32 features and a target per row.
///
/// The features are kept as f32 or, for 8-bit images such as MNIST's, as the bytes
/// themselves (a quarter of the memory; [`Dataset::classification_pixels`]), each byte p
/// read as x = p / 255 when a row is used ([`Dataset::write_row`], [`Dataset::row`]).
/// Both give the same f32 values to the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Features,
    width: usize,
    targets: Targets,
    class_names: Vec<String>,
    image_shape: Option<ImageShape>,
}

/// f32 features that a [`Dataset`] borrows from their owner instead of copying them:
/// anything that can be read as one row-major slice, shared between threads. The
/// Python package lends a NumPy array this way (`Dataset::classification_shared`).
pub type SharedFloats = Arc<dyn AsRef<[f32]> + Send + Sync>;

/// The f32 values of a [`Features::Floats`] table: owned, or lent by their owner.
#[derive(Clone)]
enum FloatStore {
    /// The data set's own vector.
    Owned(Vec<f32>),
    /// A buffer the data set shares with its owner, never written.
    Shared(SharedFloats),
}

impl std::ops::Deref for FloatStore {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match self {
            FloatStore::Owned(v) => v,
            FloatStore::Shared(s) => (**s).as_ref(),
        }
    }
}

impl fmt::Debug for FloatStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            FloatStore::Owned(_) => "Owned",
            FloatStore::Shared(_) => "Shared",
        };
        write!(f, "{kind}({} values)", self.len())
    }
}

/// How a [`Dataset`] holds its features. Two tables are equal when they hold the same
/// values, however they are stored.
#[derive(Debug, Clone)]
enum Features {
    /// One f32 per value, owned or shared.
    Floats(FloatStore),
    /// One byte p per value, standing for x = p / 255 ([`pixel_value`]).
    Pixels(Vec<u8>),
    /// Bytes as `Pixels`, `values` of them, left in their file and read as rows are
    /// used ([`stream`]).
    File {
        /// The file.
        file: stream::PixelFile,
        /// How many values it holds (rows · width).
        values: usize,
    },
}

impl PartialEq for Features {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Features::Floats(a), Features::Floats(b)) => a[..] == b[..],
            (Features::Pixels(a), Features::Pixels(b)) => a == b,
            (Features::Pixels(p), Features::Floats(x))
            | (Features::Floats(x), Features::Pixels(p)) => {
                p.len() == x.len() && p.iter().zip(x.iter()).all(|(&p, &x)| pixel_value(p) == x)
            }
            // Streamed rows are not read to be compared: the same file and place.
            (Features::File { file: a, values: m }, Features::File { file: b, values: n }) => {
                a == b && m == n
            }
            (Features::File { .. }, _) | (_, Features::File { .. }) => false,
        }
    }
}

impl Features {
    /// The number of values.
    fn len(&self) -> usize {
        match self {
            Features::Floats(v) => v.len(),
            Features::Pixels(p) => p.len(),
            Features::File { values, .. } => *values,
        }
    }
}

/// A hint to load the cache line holding `address` (no effect on the program's meaning).
#[inline]
fn prefetch(address: *const u8) {
    // SAFETY: SSE is part of x86-64, and a prefetch never faults, whatever the address.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// The rows at `indices` of a row-major table of rows `width` wide.
fn pick_rows<T: Copy>(table: &[T], width: usize, indices: &[usize]) -> Vec<T> {
    let mut picked = Vec::with_capacity(indices.len() * width);
    for &i in indices {
        picked.extend_from_slice(&table[i * width..(i + 1) * width]);
    }
    picked
}

/// x = p / 255: the feature an 8-bit pixel p stands for. (Written as a division, not a
/// table lookup, so that converting a row compiles to vector instructions: with a
/// 256-entry table the conversion took a third of online training's time.)
#[inline]
pub fn pixel_value(p: u8) -> f32 {
    f32::from(p) / 255.0
}

/// Checks the shape of a feature table of `len` values: rows > 0, width > 0,
/// `len = rows · width`. Returns the number of rows.
fn check_shape(len: usize, width: usize) -> Result<usize> {
    if width == 0 {
        return Err(Error::Shape(
            "a data set needs at least one feature per row (width is 0)".into(),
        ));
    }
    if len == 0 {
        return Err(Error::EmptyData {
            what: "data set".into(),
            message: "no rows".into(),
        });
    }
    if !len.is_multiple_of(width) {
        return Err(Error::Shape(format!(
            "{len} feature values do not divide into rows of {width}"
        )));
    }
    Ok(len / width)
}

/// Checks an f32 feature table: its shape ([`check_shape`]) and every value finite.
/// Returns the number of rows.
fn check_features(features: &[f32], width: usize) -> Result<usize> {
    let rows = check_shape(features.len(), width)?;
    if let Some(position) = features.iter().position(|x| !x.is_finite()) {
        return Err(Error::Config(format!(
            "features must be finite numbers: row {}, feature {} is {}",
            position / width,
            position % width,
            features[position]
        )));
    }
    Ok(rows)
}

/// Checks one label per row, each an index into `class_names`, and at least one class.
fn check_labels(rows: usize, labels: &[usize], class_names: &[String]) -> Result<()> {
    if labels.len() != rows {
        return Err(Error::Shape(format!(
            "{rows} rows of features but {} labels",
            labels.len()
        )));
    }
    if class_names.is_empty() {
        return Err(Error::Config(
            "a classification data set needs at least one class name".into(),
        ));
    }
    if let Some(row) = labels.iter().position(|&l| l >= class_names.len()) {
        return Err(Error::Config(format!(
            "row {row} has label {} but there are only {} classes",
            labels[row],
            class_names.len()
        )));
    }
    Ok(())
}

impl Dataset {
    /// A classification data set: `features` holds `rows × width` values row-major, and
    /// `labels[i]` is row i's class, an index into `class_names`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `width` is 0, `features.len()` is not a multiple of `width`,
    /// or there is not one label per row; [`Error::EmptyData`] when there are no rows;
    /// [`Error::Config`] when a feature is NaN or infinite, a label is not below the
    /// number of class names, or there are no class names.
    pub fn classification(
        features: Vec<f32>,
        width: usize,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        Self::classification_of(FloatStore::Owned(features), width, labels, class_names)
    }

    /// A classification data set whose features stay where they are: `features` is
    /// shared with its owner (a NumPy array, say) and never copied or written; the data
    /// set only reads it. Otherwise as [`Dataset::classification`], with the same
    /// checks.
    ///
    /// # Errors
    /// As [`Dataset::classification`].
    pub fn classification_shared(
        features: SharedFloats,
        width: usize,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        Self::classification_of(FloatStore::Shared(features), width, labels, class_names)
    }

    fn classification_of(
        features: FloatStore,
        width: usize,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let rows = check_features(&features, width)?;
        check_labels(rows, &labels, &class_names)?;
        Ok(Dataset {
            features: Features::Floats(features),
            width,
            targets: Targets::Classes(labels),
            class_names,
            image_shape: None,
        })
    }

    /// A classification data set of 8-bit pixels: `pixels` holds `rows × width` bytes
    /// row-major, each byte p standing for the feature x = p / 255. They stay bytes (a
    /// quarter of the memory of f32) and are converted a row at a time when used.
    ///
    /// # Errors
    /// As [`Dataset::classification`] (a byte is always finite).
    pub fn classification_pixels(
        pixels: Vec<u8>,
        width: usize,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let rows = check_shape(pixels.len(), width)?;
        check_labels(rows, &labels, &class_names)?;
        Ok(Dataset {
            features: Features::Pixels(pixels),
            width,
            targets: Targets::Classes(labels),
            class_names,
            image_shape: None,
        })
    }

    /// A classification data set of 8-bit pixels left in their file and read as they
    /// are used ([`stream`]): row i is the `width` bytes at `offset + i · width` of the
    /// uncompressed file `path`, one row per label. Only the labels are held in memory,
    /// whatever the size of the file. Otherwise as [`Dataset::classification_pixels`].
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be opened or is shorter than its rows; as
    /// [`Dataset::classification`] for the labels.
    pub fn classification_streamed(
        path: impl AsRef<Path>,
        offset: u64,
        width: usize,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let values = labels.len().checked_mul(width).ok_or_else(|| {
            Error::Shape(format!(
                "{} rows of {width} values are too many",
                labels.len()
            ))
        })?;
        let rows = check_shape(values, width)?;
        check_labels(rows, &labels, &class_names)?;
        let file =
            stream::PixelFile::open(path, offset, values as u64).map_err(|e| Error::io(path, e))?;
        Ok(Dataset {
            features: Features::File { file, values },
            width,
            targets: Targets::Classes(labels),
            class_names,
            image_shape: None,
        })
    }

    /// Whether the rows are read from their file as they are used
    /// ([`Dataset::classification_streamed`]).
    pub fn is_streamed(&self) -> bool {
        matches!(self.features, Features::File { .. })
    }

    /// For a streamed data set, the first error reading its file (the rows it failed to
    /// read were used as zeros): the trainer checks this after each epoch.
    pub fn stream_error(&self) -> Option<Error> {
        match &self.features {
            Features::File { file, .. } => file.error().map(|e| Error::io(file.path(), e)),
            _ => None,
        }
    }

    /// For a streamed data set, reads the rows of `order` ahead of the trainer, a window
    /// at a time, until `stop` (see [`stream`]); `used` counts the rows the trainer has
    /// taken. Returns at once for data in memory.
    pub(crate) fn read_ahead(&self, order: &[usize], used: &AtomicUsize, stop: &AtomicBool) {
        if let Features::File { file, .. } = &self.features {
            stream::read_ahead(file, (self.len(), self.width), order, used, stop);
        }
    }

    /// A regression data set: `features` holds `rows × width` values and `values` holds
    /// `rows × target_width` targets, both row-major.
    ///
    /// # Errors
    /// [`Error::Shape`] when a width is 0 or the lengths do not agree on the number of
    /// rows; [`Error::EmptyData`] when there are no rows; [`Error::Config`] when a feature
    /// or a target is NaN or infinite.
    pub fn regression(
        features: Vec<f32>,
        width: usize,
        values: Vec<f32>,
        target_width: usize,
    ) -> Result<Self> {
        Self::regression_of(FloatStore::Owned(features), width, values, target_width)
    }

    /// A regression data set whose features are shared with their owner and never
    /// copied, as [`Dataset::classification_shared`]; otherwise as
    /// [`Dataset::regression`].
    ///
    /// # Errors
    /// As [`Dataset::regression`].
    pub fn regression_shared(
        features: SharedFloats,
        width: usize,
        values: Vec<f32>,
        target_width: usize,
    ) -> Result<Self> {
        Self::regression_of(FloatStore::Shared(features), width, values, target_width)
    }

    fn regression_of(
        features: FloatStore,
        width: usize,
        values: Vec<f32>,
        target_width: usize,
    ) -> Result<Self> {
        let rows = check_features(&features, width)?;
        if target_width == 0 {
            return Err(Error::Shape(
                "a regression data set needs at least one target per row (target width is 0)"
                    .into(),
            ));
        }
        if rows.checked_mul(target_width) != Some(values.len()) {
            return Err(Error::Shape(format!(
                "{rows} rows of features need {rows} × {target_width} target values \
                 ({target_width} per row), found {}",
                values.len()
            )));
        }
        if let Some(position) = values.iter().position(|x| !x.is_finite()) {
            return Err(Error::Config(format!(
                "targets must be finite numbers: row {}, target {} is {}",
                position / target_width,
                position % target_width,
                values[position]
            )));
        }
        Ok(Dataset {
            features: Features::Floats(features),
            width,
            targets: Targets::Values {
                width: target_width,
                values,
            },
            class_names: Vec::new(),
            image_shape: None,
        })
    }

    /// The same rows with new classes: `labels[i]` is row i's class, an index into
    /// `class_names` (to renumber classes to a model's order, say). The features, kept
    /// as they are, and the image shape stay.
    ///
    /// # Errors
    /// As [`Dataset::classification`]'s checks of labels and class names.
    pub fn with_classes(mut self, labels: Vec<usize>, class_names: Vec<String>) -> Result<Self> {
        check_labels(self.len(), &labels, &class_names)?;
        self.targets = Targets::Classes(labels);
        self.class_names = class_names;
        Ok(self)
    }

    /// Marks the rows as images of `shape` (row-major pixels, channels last).
    ///
    /// # Errors
    /// [`Error::Shape`] when height · width · channels is not the row width.
    pub fn with_image_shape(mut self, shape: ImageShape) -> Result<Self> {
        if let Some(words) = shape.mismatch(self.width) {
            return Err(Error::Shape(format!(
                "{words} but rows have {} features",
                self.width
            )));
        }
        self.image_shape = Some(shape);
        Ok(self)
    }

    /// The number of rows (examples).
    pub fn len(&self) -> usize {
        self.features.len() / self.width
    }

    /// Whether there are no rows (only a [`Dataset::subset`] of no indices is empty).
    pub fn is_empty(&self) -> bool {
        self.features.len() == 0
    }

    /// The number of features per row: the network's input width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// All features, row-major: `len × width` (converted to f32, a copy, when the data
    /// set keeps pixels as bytes: use [`Dataset::write_row`] a row at a time instead).
    /// A streamed data set reads its whole file.
    pub fn features(&self) -> Cow<'_, [f32]> {
        match &self.features {
            Features::Floats(v) => Cow::Borrowed(&v[..]),
            Features::Pixels(p) => Cow::Owned(p.iter().map(|&p| pixel_value(p)).collect()),
            Features::File { file, values } => {
                let mut all = vec![0.0; *values];
                file.read_values(0, &mut all);
                Cow::Owned(all)
            }
        }
    }

    /// All features, row-major and writable (for scaling in place). A data set that kept
    /// its pixels as bytes converts them to f32 first (four times the memory).
    /// A streamed data set is read into memory, and features shared with their owner
    /// are copied (the owner's buffer is never written).
    pub fn features_mut(&mut self) -> &mut [f32] {
        if !matches!(self.features, Features::Floats(FloatStore::Owned(_))) {
            self.features = Features::Floats(FloatStore::Owned(self.features().into_owned()));
        }
        match &mut self.features {
            Features::Floats(FloatStore::Owned(v)) => v,
            _ => unreachable!("converted above"),
        }
    }

    /// The 8-bit pixels, when the data set keeps its features as bytes
    /// ([`Dataset::classification_pixels`]).
    pub fn pixels(&self) -> Option<&[u8]> {
        match &self.features {
            Features::Pixels(p) => Some(p),
            _ => None,
        }
    }

    /// The features of row `i` (borrowed, or converted from bytes).
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing.
    pub fn row(&self, i: usize) -> Cow<'_, [f32]> {
        let range = i * self.width..(i + 1) * self.width;
        match &self.features {
            Features::Floats(v) => Cow::Borrowed(&v[range]),
            _ => {
                let mut row = vec![0.0; self.width];
                self.write_row(i, &mut row);
                Cow::Owned(row)
            }
        }
    }

    /// Writes row `i`'s features into `out` (`width` values): the trainer and the
    /// evaluation fill their batches this way, converting bytes as they go.
    ///
    /// # Panics
    /// When `i >= len()` or `out.len() != width()` (programmer errors).
    pub fn write_row(&self, i: usize, out: &mut [f32]) {
        let range = i * self.width..(i + 1) * self.width;
        match &self.features {
            Features::Floats(v) => out.copy_from_slice(&v[range]),
            Features::Pixels(p) => {
                assert_eq!(out.len(), self.width, "write_row: out has the wrong length");
                for (x, &p) in out.iter_mut().zip(&p[range]) {
                    *x = pixel_value(p);
                }
            }
            Features::File { file, values } => {
                assert!(range.end <= *values, "write_row: row {i} out of range");
                assert_eq!(out.len(), self.width, "write_row: out has the wrong length");
                file.read_values(range.start, out);
            }
        }
    }

    /// Asks the processor to start bringing row i's features and target into its cache:
    /// a hint the trainer gives for the next batch's rows while it computes this one's,
    /// so that a shuffled order does not wait on memory. Does nothing for a streamed
    /// data set or on processors without a prefetch instruction.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn prefetch_row(&self, i: usize) {
        let range = i * self.width..(i + 1) * self.width;
        let (start, bytes) = match &self.features {
            Features::Floats(v) => (v[range].as_ptr().cast::<u8>(), self.width * 4),
            Features::Pixels(p) => (p[range].as_ptr(), self.width),
            Features::File { .. } => return,
        };
        for offset in (0..bytes).step_by(64) {
            prefetch(start.wrapping_add(offset));
        }
        // And its target: a class read at random from 60 000 is a cache miss too.
        match &self.targets {
            Targets::Classes(labels) => prefetch(labels[i..].as_ptr().cast()),
            Targets::Values { width, values } => prefetch(values[i * width..].as_ptr().cast()),
        }
    }

    /// The targets: classes or real values.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The class of every row, or `None` for regression.
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.targets {
            Targets::Classes(labels) => Some(labels),
            Targets::Values { .. } => None,
        }
    }

    /// The name of every class, indexed by label; empty for regression.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The number of classes; 0 for regression.
    pub fn classes(&self) -> usize {
        match &self.targets {
            Targets::Classes(_) => self.class_names.len(),
            Targets::Values { .. } => 0,
        }
    }

    /// The width of one target row: the number of classes (one output neuron per class)
    /// or the number of regression values. This is the network's output width.
    pub fn target_width(&self) -> usize {
        match &self.targets {
            Targets::Classes(_) => self.class_names.len(),
            Targets::Values { width, .. } => *width,
        }
    }

    /// Writes row `i`'s target into `out` (`target_width` values): one-hot for a class
    /// c (`out[j] = 1` if j = c, else 0), or the regression values.
    ///
    /// # Panics
    /// When `i >= len()` or `out.len() != target_width()` (programmer errors: the trainer
    /// sizes `out` from [`Dataset::target_width`]).
    pub fn write_target_row(&self, i: usize, out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.target_width(),
            "write_target_row: out has the wrong length"
        );
        match &self.targets {
            Targets::Classes(labels) => {
                out.fill(0.0);
                out[labels[i]] = 1.0;
            }
            Targets::Values { width, values } => {
                out.copy_from_slice(&values[i * width..(i + 1) * width]);
            }
        }
    }

    /// The image shape of the rows, when they are images.
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.image_shape
    }

    /// A new data set of the rows at `indices`, in that order (an index may repeat).
    /// Class names and image shape are kept; the rows of a streamed data set are read
    /// into memory (as bytes).
    ///
    /// # Panics
    /// When an index is `>= len()` (a programmer error: indices come from this data set).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let features = match &self.features {
            Features::Floats(v) => {
                Features::Floats(FloatStore::Owned(pick_rows(v, self.width, indices)))
            }
            Features::Pixels(p) => Features::Pixels(pick_rows(p, self.width, indices)),
            Features::File { file, .. } => {
                let mut picked = vec![0u8; indices.len() * self.width];
                for (row, &i) in picked.chunks_exact_mut(self.width).zip(indices) {
                    assert!(i < self.len(), "subset: row {i} out of range");
                    file.read(i * self.width, row);
                }
                Features::Pixels(picked)
            }
        };
        let targets = match &self.targets {
            Targets::Classes(labels) => {
                Targets::Classes(indices.iter().map(|&i| labels[i]).collect())
            }
            Targets::Values { width, values } => {
                let mut picked = Vec::with_capacity(indices.len() * width);
                for &i in indices {
                    picked.extend_from_slice(&values[i * width..(i + 1) * width]);
                }
                Targets::Values {
                    width: *width,
                    values: picked,
                }
            }
        };
        Dataset {
            features,
            width: self.width,
            targets,
            class_names: self.class_names.clone(),
            image_shape: self.image_shape,
        }
    }

    /// Splits the rows into `(kept, held_out)`, with about `test_fraction` of them held
    /// out (for testing or validation). Both parts keep the original row order.
    ///
    /// For classification the split is stratified: each class is shuffled (seeded by
    /// `seed`) and round(n_c · test_fraction) of its n_c rows are held out, but at least
    /// one and at most n_c − 1, so every class with two or more examples appears in both
    /// parts (a class of one example stays in `kept`). For regression the rows are
    /// shuffled together and split the same way. The same seed gives the same split.
    ///
    /// # Errors
    /// [`Error::Config`] when `test_fraction` is not strictly between 0 and 1;
    /// [`Error::EmptyData`] when one of the parts would be empty (too few rows).
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(Error::Config(format!(
                "the held-out fraction must be between 0 and 1 (exclusive), found {test_fraction}"
            )));
        }
        let groups: Vec<Vec<usize>> = match &self.targets {
            Targets::Classes(labels) => {
                let mut groups = vec![Vec::new(); self.class_names.len()];
                for (i, &label) in labels.iter().enumerate() {
                    groups[label].push(i);
                }
                groups
            }
            Targets::Values { .. } => vec![(0..self.len()).collect()],
        };
        let mut rng = Rng::new(seed);
        let mut kept = Vec::with_capacity(self.len());
        let mut held_out = Vec::new();
        for mut group in groups {
            let n = group.len();
            if n == 0 {
                continue;
            }
            rng.shuffle(&mut group);
            let take = if n >= 2 {
                ((n as f64 * test_fraction).round() as usize).clamp(1, n - 1)
            } else {
                0
            };
            held_out.extend_from_slice(&group[..take]);
            kept.extend_from_slice(&group[take..]);
        }
        if kept.is_empty() || held_out.is_empty() {
            return Err(Error::EmptyData {
                what: "split".into(),
                message: format!(
                    "{} rows cannot be split into two non-empty parts (each class needs at least 2 examples)",
                    self.len()
                ),
            });
        }
        kept.sort_unstable();
        held_out.sort_unstable();
        Ok((self.subset(&kept), self.subset(&held_out)))
    }

    /// The number of rows of each class, indexed by label; empty for regression.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes()];
        if let Some(labels) = self.labels() {
            for &label in labels {
                counts[label] += 1;
            }
        }
        counts
    }
}

/// Feature scaling, fitted on the training part only.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// Features are used as they are.
    #[default]
    None,
    /// Each column to [0, 1] on the training part: x′ = (x − min) / (max − min).
    MinMax,
    /// Each column to mean 0 and variance 1: x′ = (x − mean) / std.
    Standard,
}

impl Scaling {
    /// Every scaling, in the order `none`, `minmax`, `standard`.
    pub const ALL: [Scaling; 3] = [Scaling::None, Scaling::MinMax, Scaling::Standard];
}

impl FromStr for Scaling {
    type Err = Error;

    /// Parses `none`, `minmax` (or `min-max`) or `standard`, ignoring case.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Scaling::None),
            "minmax" | "min-max" => Ok(Scaling::MinMax),
            "standard" => Ok(Scaling::Standard),
            _ => Err(Error::Config(format!(
                "unknown scaling {text:?}: expected none, minmax or standard"
            ))),
        }
    }
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scaling::None => "none",
            Scaling::MinMax => "minmax",
            Scaling::Standard => "standard",
        })
    }
}

/// A fitted per-column feature scaling: x′ = (x − offset) · scale.
///
/// A constant column (max = min on the training part) gets scale 1, so nothing is
/// divided by zero; it becomes 0 everywhere it equals the training constant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Scaler {
    /// Which scaling was fitted.
    pub scaling: Scaling,
    /// Subtracted from each column: the minimum, the mean, or 0.
    pub offset: Vec<f32>,
    /// Multiplies each column after the offset: 1 / (max − min), 1 / std, or 1.
    pub scale: Vec<f32>,
}

impl Scaler {
    /// Fits `scaling` to the columns of `data` (the training part only, so that nothing
    /// about the test part leaks into training). An empty data set gives the identity.
    pub fn fit(scaling: Scaling, data: &Dataset) -> Scaler {
        let width = data.width();
        let mut offset = vec![0.0f32; width];
        let mut scale = vec![1.0f32; width];
        let rows = data.len();
        if scaling == Scaling::None || rows == 0 {
            return Scaler {
                scaling,
                offset,
                scale,
            };
        }
        let mut min = vec![f32::INFINITY; width];
        let mut max = vec![f32::NEG_INFINITY; width];
        let mut sum = vec![0.0f64; width];
        for row in data.features().chunks_exact(width) {
            for (j, &x) in row.iter().enumerate() {
                min[j] = min[j].min(x);
                max[j] = max[j].max(x);
                sum[j] += f64::from(x);
            }
        }
        match scaling {
            Scaling::None => {}
            Scaling::MinMax => {
                for j in 0..width {
                    offset[j] = min[j];
                    if max[j] > min[j] {
                        scale[j] = (1.0 / (f64::from(max[j]) - f64::from(min[j]))) as f32;
                    }
                }
            }
            Scaling::Standard => {
                let mean: Vec<f64> = sum.iter().map(|s| s / rows as f64).collect();
                // Two passes: the variance from deviations, not from Σx² − n·mean²,
                // which cancels badly in f32-sized data.
                let mut squares = vec![0.0f64; width];
                for row in data.features().chunks_exact(width) {
                    for (j, &x) in row.iter().enumerate() {
                        let d = f64::from(x) - mean[j];
                        squares[j] += d * d;
                    }
                }
                for j in 0..width {
                    offset[j] = mean[j] as f32;
                    let std = (squares[j] / rows as f64).sqrt();
                    if max[j] > min[j] && std > 0.0 {
                        scale[j] = (1.0 / std) as f32;
                    }
                }
            }
        }
        Scaler {
            scaling,
            offset,
            scale,
        }
    }

    /// Scales every row of `data` in place.
    ///
    /// # Errors
    /// [`Error::Shape`] when the data's width is not the width the scaler was fitted on.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        if data.width() != self.scale.len() {
            return Err(Error::Shape(format!(
                "the scaler was fitted on {} features but the data has {}",
                self.scale.len(),
                data.width()
            )));
        }
        if self.scaling == Scaling::None {
            return Ok(());
        }
        let width = data.width();
        for row in data.features_mut().chunks_exact_mut(width) {
            self.apply_row(row);
        }
        Ok(())
    }

    /// Scales one row in place: x′ = (x − offset) · scale. The row should have the
    /// fitted width (check it with the data's width first); values past the fitted
    /// width are left as they are.
    pub fn apply_row(&self, row: &mut [f32]) {
        debug_assert_eq!(row.len(), self.scale.len());
        for ((x, offset), scale) in row.iter_mut().zip(&self.offset).zip(&self.scale) {
            *x = (*x - offset) * scale;
        }
    }
}

// === File helpers shared by the loaders ===

/// The most a deflate stream can expand: 258-byte matches coded in 2 bits each give
/// 1 032:1 (zlib's technical notes).
const MAX_DEFLATE_RATIO: usize = 1032;

/// The two bytes every gzip stream starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `path`'s name ends in `.gz` (case-insensitive).
fn has_gz_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"))
}

/// The longest line a text loader (CSV) accepts: 64 MiB.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Reads a whole text file, decompressing it when it starts with the gzip magic
/// (detected by content, not by name; a file named `.gz` that is not gzip is an error).
/// Stops with an error naming the line as soon as one line passes [`MAX_LINE_BYTES`], so a file that is one 4 GB line takes
/// 64 MiB of memory before it is refused, not 4 GB.
pub(crate) fn read_text(path: &Path) -> Result<Vec<u8>> {
    let mut reader = open_maybe_gzip(path)?;
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let (mut line, mut line_start) = (1usize, 0usize);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::format(
                    path,
                    "gzip stream",
                    format!("cannot be read: {e}"),
                ))
            }
        };
        for (i, &b) in chunk[..n].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = text.len() + i + 1;
            }
        }
        if text.len() + n - line_start > MAX_LINE_BYTES {
            return Err(Error::format(
                path,
                format!("line {line}"),
                format!(
                    "is longer than {} MiB; glassbox reads lines up to that length",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        text.try_reserve(n).map_err(|_| {
            Error::format(
                path,
                format!("line {line}"),
                "the file does not fit in memory",
            )
        })?;
        text.extend_from_slice(&chunk[..n]);
    }
    Ok(text)
}

/// A reader over a file's content, decompressed while it is read when it starts with the
/// gzip magic — for loaders that convert as they go instead of holding the whole file.
pub(crate) fn open_maybe_gzip(path: &Path) -> Result<Box<dyn Read>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffered = std::io::BufReader::with_capacity(1 << 16, file);
    let start = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
    if start.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        check_not_gz_named(path, start)?;
        Ok(Box::new(buffered))
    }
}

/// A file whose name ends in `.gz` but whose content (starting with `start`) is not gzip
/// is an error.
fn check_not_gz_named(path: &Path, start: &[u8]) -> Result<()> {
    if has_gz_name(path) {
        return Err(Error::format(
            path,
            "gzip header",
            format!(
                "the name ends in .gz but the file is not gzip data (it starts with {}, not 1f 8b)",
                hex_prefix(start)
            ),
        ));
    }
    Ok(())
}

/// Decompresses a whole gzip stream (several members are concatenated, as `gzip` does).
pub(crate) fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    // The trailer's last 4 bytes hold the uncompressed size mod 2³²: a good capacity hint.
    let hint = bytes
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]))
        .unwrap_or(0) as usize;
    // A hint from a damaged or hostile trailer is capped by what the stream can hold:
    // deflate expands at most 1 032-fold.
    let most = bytes.len().saturating_mul(MAX_DEFLATE_RATIO);
    let mut out = Vec::new();
    out.try_reserve(hint.min(most).min(1 << 30)).map_err(|_| {
        Error::format(
            path,
            "gzip trailer",
            format!("{hint} bytes do not fit in memory"),
        )
    })?;
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::format(
                path,
                "gzip stream",
                format!("corrupt or truncated gzip data: {e}"),
            )
        })?;
    Ok(out)
}

/// The first bytes of a file in hex, for error messages ("empty" for none).
fn hex_prefix(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (the file is empty)".into();
    }
    bytes
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `bytes` to `path` atomically ([`crate::file::write_atomically`]), gzip-compressed
/// when `gzip` is true.
pub(crate) fn write_file(path: &Path, bytes: &[u8], gzip: bool) -> Result<()> {
    if !gzip {
        return crate::file::write_atomically(path, bytes);
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    let compressed = encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| Error::io(path, e))?;
    crate::file::write_atomically(path, &compressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(rows: usize, classes: usize) -> Dataset {
        let features = (0..rows * 3).map(|v| v as f32).collect();
        let labels = (0..rows).map(|i| i % classes).collect();
        let names = (0..classes).map(|c| format!("c{c}")).collect();
        Dataset::classification(features, 3, labels, names).unwrap()
    }

    #[test]
    fn constructors_validate_shapes_labels_and_values() {
        assert!(matches!(
            Dataset::classification(vec![1.0; 5], 2, vec![0, 0], vec!["a".into()]),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            Dataset::classification(vec![], 2, vec![], vec!["a".into()]),
            Err(Error::EmptyData { .. })
        ));
        assert!(matches!(
            Dataset::classification(vec![1.0; 4], 0, vec![], vec!["a".into()]),
            Err(Error::Shape(_))
        ));
        let bad_label =
            Dataset::classification(vec![1.0; 4], 2, vec![0, 2], vec!["a".into(), "b".into()]);
        assert!(bad_label
            .unwrap_err()
            .to_string()
            .contains("row 1 has label 2"));
        let nan = Dataset::classification(vec![1.0, f32::NAN], 2, vec![0], vec!["a".into()]);
        assert!(nan
            .unwrap_err()
            .to_string()
            .contains("row 0, feature 1 is NaN"));
        assert!(Dataset::regression(vec![1.0; 4], 2, vec![1.0; 3], 1).is_err());
        // 2 rows × 2⁶³ targets wraps to 0 values.
        let e = Dataset::regression(vec![1.0; 4], 2, vec![], 1 << 63).unwrap_err();
        assert!(
            e.to_string()
                .contains("2 × 9223372036854775808 target values"),
            "{e}"
        );
        assert!(Dataset::regression(vec![1.0; 4], 2, vec![1.0, f32::INFINITY], 1).is_err());
        let ok = Dataset::regression(vec![1.0; 4], 2, vec![1.0, 2.0, 3.0, 4.0], 2).unwrap();
        assert_eq!(
            (ok.len(), ok.width(), ok.classes(), ok.target_width()),
            (2, 2, 0, 2)
        );
        assert!(ok.labels().is_none());
        let mut y = [0.0; 2];
        ok.write_target_row(1, &mut y);
        assert_eq!(y, [3.0, 4.0]);
    }

    #[test]
    fn image_shape_must_match_width_and_one_hot_targets() {
        let data = toy(4, 2);
        assert!(data
            .clone()
            .with_image_shape(ImageShape::new(2, 2, 1))
            .is_err());
        // 3 · (1/3 mod 2⁶⁴) · 3 wraps to 3, the rows' width.
        let e = data
            .clone()
            .with_image_shape(ImageShape::new(3, 0xAAAA_AAAA_AAAA_AAAB, 3))
            .unwrap_err();
        assert!(
            e.to_string().contains("more values than a usize counts"),
            "{e}"
        );
        let data = data.with_image_shape(ImageShape::new(1, 3, 1)).unwrap();
        assert_eq!(data.image_shape(), Some(ImageShape::new(1, 3, 1)));
        assert_eq!(*data.row(2), [6.0, 7.0, 8.0]);
        let mut y = [9.0; 2];
        data.write_target_row(1, &mut y);
        assert_eq!(y, [0.0, 1.0]);
        assert_eq!(data.class_counts(), vec![2, 2]);
    }

    #[test]
    fn split_is_stratified_deterministic_and_partitions_the_rows() {
        let data = toy(103, 3);
        let (kept, held) = data.split(0.2, 42).unwrap();
        let (kept2, held2) = data.split(0.2, 42).unwrap();
        assert_eq!((&kept, &held), (&kept2, &held2));
        let (kept3, _) = data.split(0.2, 43).unwrap();
        assert_ne!(kept, kept3);
        // Partition: every row exactly once (the first feature is 3·row).
        let mut rows: Vec<usize> = kept
            .features()
            .chunks(3)
            .chain(held.features().chunks(3))
            .map(|r| r[0] as usize / 3)
            .collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..103).collect::<Vec<_>>());
        // Stratified: round(n_c · 0.2) per class; counts 35, 34, 34 → 7, 7, 7.
        assert_eq!(held.class_counts(), vec![7, 7, 7]);
        assert_eq!(kept.class_counts(), vec![28, 27, 27]);
        assert!(matches!(data.split(0.0, 1), Err(Error::Config(_))));
        assert!(matches!(data.split(1.0, 1), Err(Error::Config(_))));
        assert!(matches!(data.split(f64::NAN, 1), Err(Error::Config(_))));
    }

    #[test]
    fn split_keeps_every_class_of_two_or_more_in_both_parts() {
        // Class 0 has 50 rows, class 1 has 2, class 2 has 1.
        let mut labels = vec![0; 50];
        labels.extend([1, 1, 2]);
        let data = Dataset::classification(
            vec![0.5; 53],
            1,
            labels,
            vec!["a".into(), "b".into(), "c".into()],
        )
        .unwrap();
        let (kept, held) = data.split(0.1, 3).unwrap();
        assert_eq!(kept.class_counts(), vec![45, 1, 1]);
        assert_eq!(held.class_counts(), vec![5, 1, 0]);
        let single = Dataset::classification(vec![1.0], 1, vec![0], vec!["a".into()]).unwrap();
        assert!(matches!(single.split(0.5, 1), Err(Error::EmptyData { .. })));
    }

    #[test]
    fn subset_picks_rows_in_order() {
        let data = Dataset::regression(vec![1.0, 2.0, 3.0], 1, vec![10.0, 20.0, 30.0], 1).unwrap();
        let picked = data.subset(&[2, 0]);
        assert_eq!(*picked.features(), [3.0, 1.0]);
        assert_eq!(
            picked.targets(),
            &Targets::Values {
                width: 1,
                values: vec![30.0, 10.0]
            }
        );
        assert!(data.subset(&[]).is_empty());
    }

    #[test]
    fn scalers_map_training_columns_and_leave_constant_columns_finite() {
        // Columns: 0..=4, constant 7, {−1, 1} alternating.
        let features: Vec<f32> = (0..5)
            .flat_map(|i| [i as f32, 7.0, if i % 2 == 0 { -1.0 } else { 1.0 }])
            .collect();
        let data = Dataset::regression(features, 3, vec![0.0; 5], 1).unwrap();

        let minmax = Scaler::fit(Scaling::MinMax, &data);
        assert_eq!(minmax.offset, vec![0.0, 7.0, -1.0]);
        assert_eq!(minmax.scale, vec![0.25, 1.0, 0.5]);
        let mut scaled = data.clone();
        minmax.apply(&mut scaled).unwrap();
        assert_eq!(*scaled.row(4), [1.0, 0.0, 0.0]);
        assert_eq!(*scaled.row(1), [0.25, 0.0, 1.0]);

        let standard = Scaler::fit(Scaling::Standard, &data);
        let mut scaled = data.clone();
        standard.apply(&mut scaled).unwrap();
        for j in 0..3 {
            let column: Vec<f32> = (0..5).map(|i| scaled.row(i)[j]).collect();
            let mean = column.iter().sum::<f32>() / 5.0;
            assert!(mean.abs() < 1e-6, "column {j} mean {mean}");
            assert!(column.iter().all(|x| x.is_finite()));
        }
        let variance = (0..5).map(|i| scaled.row(i)[0].powi(2)).sum::<f32>() / 5.0;
        assert!((variance - 1.0).abs() < 1e-5);

        let none = Scaler::fit(Scaling::None, &data);
        let mut same = data.clone();
        none.apply(&mut same).unwrap();
        assert_eq!(same, data);

        let narrow = Dataset::regression(vec![1.0, 2.0], 2, vec![0.0], 1).unwrap();
        let mut narrow = narrow;
        assert!(matches!(minmax.apply(&mut narrow), Err(Error::Shape(_))));
    }

    #[test]
    fn scaling_parses_displays_and_serializes() {
        for scaling in Scaling::ALL {
            assert_eq!(scaling.to_string().parse::<Scaling>().unwrap(), scaling);
        }
        assert_eq!("MinMax".parse::<Scaling>().unwrap(), Scaling::MinMax);
        assert!("z-score".parse::<Scaling>().is_err());
        assert_eq!(
            serde_json::to_string(&Scaling::MinMax).unwrap(),
            "\"min-max\""
        );
        let scaler = Scaler {
            scaling: Scaling::Standard,
            offset: vec![1.0],
            scale: vec![0.5],
        };
        let json = serde_json::to_string(&scaler).unwrap();
        assert_eq!(serde_json::from_str::<Scaler>(&json).unwrap(), scaler);
    }

    #[test]
    fn pixels_stay_bytes_through_subsets_and_splits_and_read_as_p_over_255() {
        let pixels: Vec<u8> = (0..=255u8).cycle().take(64 * 4).collect();
        let labels = (0..64).map(|i| i % 2).collect();
        let data = Dataset::classification_pixels(pixels, 4, labels, vec!["a".into(), "b".into()])
            .unwrap();
        assert_eq!(
            *data.row(1),
            [4.0 / 255.0, 5.0 / 255.0, 6.0 / 255.0, 7.0 / 255.0]
        );
        let mut out = [0.0; 4];
        data.write_row(63, &mut out);
        assert_eq!(out, [252.0 / 255.0, 253.0 / 255.0, 254.0 / 255.0, 1.0]);
        let (kept, held) = data.split(0.25, 3).unwrap();
        assert!(kept.pixels().is_some() && held.pixels().is_some());
        assert_eq!(kept.len() + held.len(), 64);
        // Scaling in place needs f32: the table is converted, values unchanged.
        let mut scaled = data.clone();
        scaled.features_mut();
        assert!(scaled.pixels().is_none());
        assert_eq!(scaled, data);
        assert!(
            Dataset::classification_pixels(vec![1, 2, 3], 2, vec![0], vec!["a".into()]).is_err()
        );
    }
}
