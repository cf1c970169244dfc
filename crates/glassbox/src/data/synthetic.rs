//! Seeded two-dimensional data sets for learning and testing: xor, circles, two spirals
//! and gaussian blobs.
//!
//! Each has 2 features (x, y), roughly in [−1, 1]², classes in equal shares (example i
//! belongs to class i mod k), and Gaussian noise of standard deviation `noise` added to
//! both coordinates:
//!
//! ```text
//! xor        2 classes   a point in a random quadrant; class 1 when sign(x) ≠ sign(y)
//! circles    2 classes   radius 1 (class "outer") or 0.5 (class "inner"), any angle
//! spirals    2 classes   r = 0.05 + 0.95·s, θ = 3π·s + π·class, s ∈ [0, 1): 1½ turns each
//! gaussians  3 classes   blobs of std 0.2 around three points at radius 0.7
//! ```
//!
//! The same `(n, noise, seed)` always gives the same points. Xor needs one hidden layer
//! (it is the classic problem a single neuron cannot solve); circles and gaussians are
//! easy; spirals need a few dozen hidden neurons and a few hundred epochs.
//!
//! # Examples
//!
//! ```
//! use glassbox::data::synthetic::{self, Synthetic};
//! # fn main() -> glassbox::Result<()> {
//! let data = synthetic::xor(200, 0.05, 7)?;
//! assert_eq!((data.len(), data.width(), data.classes()), (200, 2, 2));
//! let same = "xor".parse::<Synthetic>()?.generate(200, 0.05, 7)?;
//! assert_eq!(data, same);
//! # Ok(())
//! # }
//! ```

use super::Dataset;
use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f32::consts::PI;
use std::fmt;
use std::str::FromStr;

/// The standard deviation of each blob of [`gaussians`], before noise.
pub const BLOB_SPREAD: f32 = 0.2;

/// How many turns each arm of [`spirals`] makes.
pub const SPIRAL_TURNS: f32 = 1.5;

/// One of the synthetic data sets, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Synthetic {
    /// [`xor`]: two classes by the signs of x and y.
    Xor,
    /// [`circles`]: two concentric circles.
    Circles,
    /// [`spirals`]: two interleaved spirals.
    Spirals,
    /// [`gaussians`]: three Gaussian blobs.
    Gaussians,
}

impl Synthetic {
    /// Every synthetic data set, in the order xor, circles, spirals, gaussians.
    pub const ALL: [Synthetic; 4] = [
        Synthetic::Xor,
        Synthetic::Circles,
        Synthetic::Spirals,
        Synthetic::Gaussians,
    ];

    /// Generates `n` examples with coordinate noise of standard deviation `noise`.
    ///
    /// # Errors
    /// [`Error::Config`] when `n` is 0 or `noise` is negative or not finite.
    pub fn generate(self, n: usize, noise: f32, seed: u64) -> Result<Dataset> {
        match self {
            Synthetic::Xor => xor(n, noise, seed),
            Synthetic::Circles => circles(n, noise, seed),
            Synthetic::Spirals => spirals(n, noise, seed),
            Synthetic::Gaussians => gaussians(n, noise, seed),
        }
    }
}

impl FromStr for Synthetic {
    type Err = Error;

    /// Parses `xor`, `circles`, `spirals` or `gaussians`, ignoring case.
    fn from_str(text: &str) -> Result<Self> {
        Synthetic::ALL
            .into_iter()
            .find(|s| s.to_string().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown synthetic data set {text:?}: expected xor, circles, spirals or gaussians"
                ))
            })
    }
}

impl fmt::Display for Synthetic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Synthetic::Xor => "xor",
            Synthetic::Circles => "circles",
            Synthetic::Spirals => "spirals",
            Synthetic::Gaussians => "gaussians",
        })
    }
}

/// Builds a 2-feature data set of `n` points: `point(class, rng)` gives the clean point
/// of example i's class (i mod the number of classes), then noise is added.
fn generate_with(
    n: usize,
    noise: f32,
    seed: u64,
    class_names: &[&str],
    mut point: impl FnMut(usize, &mut Rng) -> (f32, f32),
) -> Result<Dataset> {
    if n == 0 {
        return Err(Error::Config(
            "a synthetic data set needs at least one example (n is 0)".into(),
        ));
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::Config(format!(
            "noise is a standard deviation: it must be finite and ≥ 0, found {noise}"
        )));
    }
    let classes = class_names.len();
    let mut rng = Rng::new(seed);
    let mut features = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % classes;
        let (x, y) = point(class, &mut rng);
        features.push(x + noise * rng.normal() as f32);
        features.push(y + noise * rng.normal() as f32);
        labels.push(class);
    }
    let names = class_names.iter().map(|n| n.to_string()).collect();
    Dataset::classification(features, 2, labels, names)
}

/// XOR: points uniform in a quadrant of [−1, 1]², the quadrants taken in turn; class 1
/// ("1") when sign(x) ≠ sign(y), else class 0 ("0").
///
/// # Errors
/// As [`Synthetic::generate`].
pub fn xor(n: usize, noise: f32, seed: u64) -> Result<Dataset> {
    let mut calls = 0usize;
    generate_with(n, noise, seed, &["0", "1"], |class, rng| {
        // Class 0 takes (−,−) and (+,+) in turn, class 1 (−,+) and (+,−). Classes
        // alternate, so calls / 2 counts the examples of this class so far.
        let sign_x = if (calls / 2).is_multiple_of(2) {
            -1.0
        } else {
            1.0
        };
        calls += 1;
        let sign_y = if class == 1 { -sign_x } else { sign_x };
        // 1 − u ∈ (0, 1]: never exactly on an axis, where the class would be ambiguous.
        (
            sign_x * (1.0 - rng.next_f32()),
            sign_y * (1.0 - rng.next_f32()),
        )
    })
}

/// Two concentric circles: class 0 ("outer") at radius 1, class 1 ("inner") at radius
/// 0.5, at uniform random angles.
///
/// # Errors
/// As [`Synthetic::generate`].
pub fn circles(n: usize, noise: f32, seed: u64) -> Result<Dataset> {
    generate_with(n, noise, seed, &["outer", "inner"], |class, rng| {
        let radius = if class == 0 { 1.0 } else { 0.5 };
        let angle = rng.uniform(0.0, 2.0 * PI);
        (radius * angle.cos(), radius * angle.sin())
    })
}

/// Two interleaved spirals ("0" and "1"), each of [`SPIRAL_TURNS`] turns:
/// r = 0.05 + 0.95·s, θ = 2π·turns·s + π·class, with s uniform in [0, 1).
///
/// # Errors
/// As [`Synthetic::generate`].
pub fn spirals(n: usize, noise: f32, seed: u64) -> Result<Dataset> {
    generate_with(n, noise, seed, &["0", "1"], |class, rng| {
        let s = rng.next_f32();
        let radius = 0.05 + 0.95 * s;
        let angle = 2.0 * PI * SPIRAL_TURNS * s + PI * class as f32;
        (radius * angle.cos(), radius * angle.sin())
    })
}

/// Three Gaussian blobs ("0", "1", "2") of standard deviation [`BLOB_SPREAD`] around
/// points at radius 0.7 and angles 90°, 210° and 330°.
///
/// # Errors
/// As [`Synthetic::generate`].
pub fn gaussians(n: usize, noise: f32, seed: u64) -> Result<Dataset> {
    generate_with(n, noise, seed, &["0", "1", "2"], |class, rng| {
        let angle = PI / 2.0 + 2.0 * PI / 3.0 * class as f32;
        (
            0.7 * angle.cos() + BLOB_SPREAD * rng.normal() as f32,
            0.7 * angle.sin() + BLOB_SPREAD * rng.normal() as f32,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_is_seeded_balanced_and_two_dimensional() {
        for kind in Synthetic::ALL {
            let data = kind.generate(300, 0.1, 5).unwrap();
            assert_eq!((data.len(), data.width()), (300, 2), "{kind}");
            assert_eq!(data, kind.generate(300, 0.1, 5).unwrap(), "{kind}");
            assert_ne!(data, kind.generate(300, 0.1, 6).unwrap(), "{kind}");
            let counts = data.class_counts();
            assert!(
                counts.iter().all(|&c| c == 300 / counts.len()),
                "{kind}: {counts:?}"
            );
            assert!(data.features().iter().all(|x| x.abs() < 2.0), "{kind}");
            assert_eq!(kind.to_string().parse::<Synthetic>().unwrap(), kind);
        }
        assert!("moons".parse::<Synthetic>().is_err());
        assert!(xor(0, 0.1, 1).is_err());
        assert!(circles(10, -0.1, 1).is_err());
        assert!(spirals(10, f32::NAN, 1).is_err());
    }

    #[test]
    fn noiseless_points_follow_their_rule() {
        let data = xor(400, 0.0, 3).unwrap();
        for i in 0..data.len() {
            let [x, y] = [data.row(i)[0], data.row(i)[1]];
            let expected = usize::from((x > 0.0) != (y > 0.0));
            assert_eq!(data.labels().unwrap()[i], expected, "({x}, {y})");
        }
        // All four quadrants are used.
        let quadrants: std::collections::BTreeSet<(bool, bool)> = (0..data.len())
            .map(|i| (data.row(i)[0] > 0.0, data.row(i)[1] > 0.0))
            .collect();
        assert_eq!(quadrants.len(), 4);

        let data = circles(100, 0.0, 3).unwrap();
        for i in 0..data.len() {
            let radius = data.row(i)[0].hypot(data.row(i)[1]);
            let expected = if data.labels().unwrap()[i] == 0 {
                1.0
            } else {
                0.5
            };
            assert!((radius - expected).abs() < 1e-5);
        }

        let data = spirals(100, 0.0, 3).unwrap();
        assert!(data.features().iter().all(|x| x.abs() <= 1.0));

        let data = gaussians(3000, 0.0, 3).unwrap();
        for class in 0..3 {
            let rows: Vec<usize> = (0..data.len())
                .filter(|&i| data.labels().unwrap()[i] == class)
                .collect();
            let mean_x = rows.iter().map(|&i| data.row(i)[0]).sum::<f32>() / rows.len() as f32;
            let angle = PI / 2.0 + 2.0 * PI / 3.0 * class as f32;
            assert!(
                (mean_x - 0.7 * angle.cos()).abs() < 0.03,
                "class {class}: {mean_x}"
            );
        }
    }
}
