//! Initial weights: small random numbers, so that neurons start out different from each
//! other (identical weights would learn identical things) and their weighted sums start
//! in the range where activations have a useful slope.
//!
//! ```text
//! SmallUniform { range: r }   W, b ~ U(−r, r)                      the article's
//! Xavier (Glorot, 2010)       W ~ U(−√(6/(in+out)), +√(6/(in+out))), b = 0   sigmoid, tanh
//! He (He et al., 2015)        W ~ U(−√(6/in), +√(6/in)), b = 0            ReLU family
//! ```
//!
//! [`Init::Auto`] picks Xavier or He per layer from its activation.

use crate::activation::Activation;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The range of [`Init::SmallUniform`] when none is given.
pub const DEFAULT_SMALL_RANGE: f32 = 0.1;

/// How a layer's weights and biases start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// He for ReLU and leaky ReLU layers, Xavier for the rest.
    #[default]
    Auto,
    /// Weights and biases uniform in (−range, range): the article's "small random numbers".
    SmallUniform {
        /// Half-width of the interval (0.1 by default).
        range: f32,
    },
    /// Glorot & Bengio (2010): keeps the variance of signals equal across layers for
    /// activations that are linear near 0 (sigmoid, tanh).
    Xavier,
    /// He et al. (2015): doubles Xavier's forward variance to make up for ReLU zeroing
    /// half of its inputs.
    He,
}

impl Init {
    /// Fills `weights` (`outputs × inputs`, row-major) and `biases` (`outputs`) for a layer
    /// with the given activation.
    pub fn fill(
        &self,
        weights: &mut [f32],
        biases: &mut [f32],
        inputs: usize,
        outputs: usize,
        activation: Activation,
        rng: &mut Rng,
    ) {
        let resolved = match self {
            Init::Auto => match activation {
                Activation::Relu | Activation::LeakyRelu { .. } => Init::He,
                _ => Init::Xavier,
            },
            other => *other,
        };
        match resolved {
            Init::SmallUniform { range } => {
                for w in weights.iter_mut().chain(biases.iter_mut()) {
                    *w = rng.uniform(-range, range);
                }
            }
            Init::Xavier | Init::He => {
                let limit = if resolved == Init::Xavier {
                    (6.0 / (inputs + outputs) as f32).sqrt()
                } else {
                    (6.0 / inputs.max(1) as f32).sqrt()
                };
                for w in weights.iter_mut() {
                    *w = rng.uniform(-limit, limit);
                }
                biases.fill(0.0);
            }
            Init::Auto => unreachable!("resolved above"),
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Auto => f.write_str("auto"),
            Init::SmallUniform { range } => write!(f, "small:{range}"),
            Init::Xavier => f.write_str("xavier"),
            Init::He => f.write_str("he"),
        }
    }
}

impl FromStr for Init {
    type Err = String;

    /// Parses `auto`, `small` (or `small:0.05` for another range), `xavier` (`glorot`), `he`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.split_once(':') {
            Some(("small", r)) => match r.parse::<f32>() {
                Ok(range) if range > 0.0 && range.is_finite() => Ok(Init::SmallUniform { range }),
                _ => Err(format!("small-init range `{r}` must be a positive number")),
            },
            _ => match lower.as_str() {
                "auto" => Ok(Init::Auto),
                "small" => Ok(Init::SmallUniform {
                    range: DEFAULT_SMALL_RANGE,
                }),
                "xavier" | "glorot" => Ok(Init::Xavier),
                "he" | "kaiming" => Ok(Init::He),
                _ => Err(format!(
                    "unknown initialisation `{s}` (expected auto, small, xavier or he)"
                )),
            },
        }
    }
}
