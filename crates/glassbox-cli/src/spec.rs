//! Data SPECs: what `--data` and `--test` accept, resolved to the library's loaders.
//!
//! ```text
//! digits                  the embedded 8×8 digits (its own fixed test set)
//! fashion-mnist           /usr/share/datasets/fashion-mnist (60 000 + 10 000, class names)
//! xor[:N[:NOISE]]         synthetic 2-D sets, N examples (1000), noise σ (0.05), seeded
//! circles | spirals | gaussians   likewise
//! DIR with train-images-idx3-ubyte[.gz] …   an IDX directory (its own test set)
//! DIR of class sub-folders                  an image folder
//! FILE                                      a CSV file (plain or gzip)
//! ```
//!
//! A name wins over a file of the same name; write `./digits` for the file.

use crate::args::DataArgs;
use anyhow::{bail, Context, Result};
use glassbox::data::csv::CsvOptions;
use glassbox::data::synthetic::Synthetic;
use glassbox::data::{csv, digits, idx, image_folder, Dataset};
use std::fmt;
use std::path::{Path, PathBuf};

/// Examples in a synthetic set when the SPEC gives no count.
pub const SYNTHETIC_EXAMPLES: usize = 1000;
/// Noise (standard deviation) of a synthetic set when the SPEC gives none.
pub const SYNTHETIC_NOISE: f32 = 0.05;

/// What a SPEC names.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The embedded digits.
    Digits,
    /// Fashion-MNIST from its Debian directory.
    FashionMnist(PathBuf),
    /// A generated 2-D set.
    Synthetic {
        /// Which one.
        kind: Synthetic,
        /// Examples.
        examples: usize,
        /// Noise σ.
        noise: f32,
    },
    /// A directory of the four IDX files.
    Idx(PathBuf),
    /// A CSV file.
    Csv(PathBuf),
    /// A folder of class sub-folders of images.
    Images(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Digits => f.write_str("digits (embedded 8×8 handwritten digits)"),
            Source::FashionMnist(dir) => write!(f, "fashion-mnist ({})", dir.display()),
            Source::Synthetic {
                kind,
                examples,
                noise,
            } => write!(f, "{kind} ({examples} examples, noise {noise})"),
            Source::Idx(dir) => write!(f, "IDX directory {}", dir.display()),
            Source::Csv(path) => write!(f, "CSV file {}", path.display()),
            Source::Images(dir) => write!(f, "image folder {}", dir.display()),
        }
    }
}

/// What a SPEC may be, for error messages.
const SPEC_HELP: &str = "a data SPEC is digits, fashion-mnist, xor, circles, spirals, \
                         gaussians, an IDX directory, a CSV file or an image folder";

/// Whether `dir` holds IDX files (`train-images-idx3-ubyte`, possibly `.gz`).
fn is_idx_dir(dir: &Path) -> bool {
    ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]
        .iter()
        .any(|name| dir.join(name).exists() || dir.join(format!("{name}.gz")).exists())
}

impl Source {
    /// Resolves a SPEC. Paths must exist.
    pub fn parse(spec: &str) -> Result<Source> {
        let lower = spec.trim().to_ascii_lowercase();
        if lower == "digits" {
            return Ok(Source::Digits);
        }
        if lower == "fashion-mnist" || lower == "fashion_mnist" {
            return Ok(Source::FashionMnist(PathBuf::from(idx::FASHION_MNIST_DIR)));
        }
        let mut parts = lower.split(':');
        let head = parts.next().unwrap_or_default();
        if let Ok(kind) = head.parse::<Synthetic>() {
            let examples = match parts.next() {
                None => SYNTHETIC_EXAMPLES,
                Some(n) => n
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .with_context(|| {
                        format!("{spec}: `{n}` is not a number of examples (e.g. {head}:500)")
                    })?,
            };
            let noise = match parts.next() {
                None => SYNTHETIC_NOISE,
                Some(s) => s
                    .parse::<f32>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .with_context(|| {
                        format!("{spec}: noise `{s}` must be a number ≥ 0 (e.g. {head}:500:0.1)")
                    })?,
            };
            if parts.next().is_some() {
                bail!("{spec}: expected {head}[:EXAMPLES[:NOISE]]");
            }
            return Ok(Source::Synthetic {
                kind,
                examples,
                noise,
            });
        }
        let path = PathBuf::from(spec);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{}: no such file or directory ({SPEC_HELP})",
                path.display()
            ),
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "{}: cannot open the data ({SPEC_HELP})",
                path.display()
            ))),
            Ok(meta) if meta.is_dir() && is_idx_dir(&path) => Ok(Source::Idx(path)),
            Ok(meta) if meta.is_dir() => Ok(Source::Images(path)),
            Ok(_) => Ok(Source::Csv(path)),
        }
    }

    /// Whether the source comes with its own test set.
    pub fn has_own_test_set(&self) -> bool {
        matches!(
            self,
            Source::Digits | Source::FashionMnist(_) | Source::Idx(_)
        )
    }

    /// Loads the data: `(data, its own test set if it has one)`. `seed` seeds synthetic
    /// sets.
    pub fn load(&self, options: &DataArgs, seed: u64) -> Result<(Dataset, Option<Dataset>)> {
        if options.stream && !matches!(self, Source::Idx(_)) {
            bail!(
                "--stream reads an IDX directory with an uncompressed train-images-idx3-ubyte; \
                 {self} is read into memory (for Fashion-MNIST, gunzip its four files into \
                 a directory and give that directory)"
            );
        }
        Ok(match self {
            Source::Digits => {
                let (train, test) = digits::train_test()?;
                (train, Some(test))
            }
            Source::FashionMnist(dir) => {
                if !dir.is_dir() {
                    bail!(
                        "fashion-mnist: {} does not exist; install the data set with \
                         `apt-get install dataset-fashion-mnist`, or give an IDX directory",
                        dir.display()
                    );
                }
                let (train, test) = idx::fashion_mnist(dir)?;
                (train, Some(test))
            }
            Source::Synthetic {
                kind,
                examples,
                noise,
            } => (kind.generate(*examples, *noise, seed)?, None),
            Source::Idx(dir) => {
                let (train, test) = if options.stream {
                    idx::load_dir_streamed(dir)?
                } else {
                    idx::load_dir(dir)?
                };
                (train, Some(test))
            }
            Source::Csv(path) => {
                let csv_options = CsvOptions {
                    label_column: options.label_column(),
                    regression: options.regression,
                };
                (csv::load(path, &csv_options)?, None)
            }
            Source::Images(dir) => (image_folder::load(dir)?, None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_synthetic_counts_parse() {
        assert_eq!(Source::parse("digits").unwrap(), Source::Digits);
        assert_eq!(
            Source::parse("spirals:300:0.1").unwrap(),
            Source::Synthetic {
                kind: Synthetic::Spirals,
                examples: 300,
                noise: 0.1
            }
        );
        assert!(Source::parse("xor:0").is_err());
        assert!(Source::parse("xor:10:-1").is_err());
    }

    #[test]
    fn a_missing_path_names_the_path() {
        let err = format!("{:#}", Source::parse("no/such/file.csv").unwrap_err());
        assert!(err.contains("no/such/file.csv"), "{err}");
    }
}
