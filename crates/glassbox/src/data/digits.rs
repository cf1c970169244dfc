//! The 8×8 handwritten digits, embedded in the library: a real image set that needs no
//! download.
//!
//! 1 797 images of 8 × 8 pixels, classes "0" to "9" (174 to 183 images each). Each pixel
//! is an integer 0–16 (the count of set pixels in a 4 × 4 block of a 32 × 32 bitmap),
//! scaled here to x = p / 16 ∈ [0, 1]:
//!
//! ```text
//! features   1 797 × 64     row-major 8 × 8 pixels, ImageShape 8×8×1
//! labels     1 797          0 … 9
//! train_test 1 438 + 359    stratified, seed DIGITS_SPLIT_SEED, 20 % held out
//! ```
//!
//! Source: the UCI Machine Learning Repository's "Optical Recognition of Handwritten
//! Digits" (E. Alpaydin and C. Kaynak, 1998; licence CC BY 4.0), the test part as
//! scikit-learn ships it in `sklearn/datasets/data/digits.csv.gz`: no header, 64 pixel
//! columns and the label as the 65th. The file is `crates/glassbox/data/digits.csv.gz`.
//!
//! # Examples
//!
//! ```
//! use glassbox::data::digits;
//! # fn main() -> glassbox::Result<()> {
//! let (train, test) = digits::train_test()?;
//! assert_eq!((train.len(), test.len(), train.width()), (1_438, 359, 64));
//! assert_eq!(train.class_names()[7], "7");
//! # Ok(())
//! # }
//! ```

use super::{gunzip, Dataset, ImageShape};
use crate::{Error, Result};
use std::path::Path;

/// The embedded file, gzip-compressed CSV (57 KB).
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The name errors give the embedded file.
const SOURCE: &str = "<embedded digits.csv.gz>";

/// The number of images.
pub const DIGITS_LEN: usize = 1_797;

/// The seed of [`train_test`]'s split, fixed so that every run sees the same test set.
pub const DIGITS_SPLIT_SEED: u64 = 1_998;

/// The fraction of each class that [`train_test`] holds out for testing.
pub const DIGITS_TEST_FRACTION: f64 = 0.2;

/// The largest pixel value: pixels are divided by it.
const PIXEL_MAX: f32 = 16.0;

/// All 1 797 digits: 64 features in [0, 1], image shape 8×8×1, classes "0" to "9".
///
/// # Errors
/// None in practice: the embedded file is checked by the tests. Corruption would give
/// [`Error::Format`] naming the line.
pub fn load() -> Result<Dataset> {
    let path = Path::new(SOURCE);
    let bytes = gunzip(path, DIGITS_CSV_GZ)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Error::format(path, "text", "not valid UTF-8"))?;
    let mut features = Vec::with_capacity(DIGITS_LEN * 64);
    let mut labels = Vec::with_capacity(DIGITS_LEN);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = || format!("line {}", i + 1);
        let mut fields = 0;
        for (column, field) in line.split(',').enumerate() {
            fields += 1;
            let value: u8 = field.trim().parse().map_err(|_| {
                Error::format(
                    path,
                    record(),
                    format!("column {column}: expected an integer, found {field:?}"),
                )
            })?;
            match column {
                0..=63 if f32::from(value) <= PIXEL_MAX => {
                    features.push(f32::from(value) / PIXEL_MAX)
                }
                64 if value <= 9 => labels.push(usize::from(value)),
                _ => {
                    return Err(Error::format(
                        path,
                        record(),
                        format!(
                            "column {column}: {value} is out of range (pixels 0–16, labels 0–9)"
                        ),
                    ))
                }
            }
        }
        if fields != 65 {
            return Err(Error::format(
                path,
                record(),
                format!("expected 65 fields (64 pixels and the label), found {fields}"),
            ));
        }
    }
    let class_names = (0..10).map(|d| d.to_string()).collect();
    Dataset::classification(features, 64, labels, class_names)?
        .with_image_shape(ImageShape::new(8, 8, 1))
}

/// The digits as `(train, test)`: a stratified split holding out
/// [`DIGITS_TEST_FRACTION`] of each class, seeded by [`DIGITS_SPLIT_SEED`] — 1 438
/// training and 359 test images, every class in both.
///
/// # Errors
/// As [`load`].
pub fn train_test() -> Result<(Dataset, Dataset)> {
    load()?.split(DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_digits_load_as_8_by_8_images_in_ten_classes() {
        let data = load().unwrap();
        assert_eq!(
            (data.len(), data.width(), data.classes()),
            (DIGITS_LEN, 64, 10)
        );
        assert_eq!(data.image_shape(), Some(ImageShape::new(8, 8, 1)));
        assert_eq!(
            data.class_counts(),
            vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        assert!(data.features().iter().all(|x| (0.0..=1.0).contains(x)));
        assert!(data.features().contains(&1.0));
        // The first image of the file is a 0; its top-left pixels are 0, 0, 5, 13.
        assert_eq!(data.labels().unwrap()[0], 0);
        assert_eq!(&data.row(0)[..4], &[0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
    }

    #[test]
    fn the_fixed_split_keeps_every_class_in_both_parts() {
        let (train, test) = train_test().unwrap();
        assert_eq!((train.len(), test.len()), (1_438, 359));
        assert!(train.class_counts().iter().all(|&c| c > 100));
        assert!(test.class_counts().iter().all(|&c| c > 30));
        assert_eq!(train_test().unwrap(), (train, test));
    }
}
