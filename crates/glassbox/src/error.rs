//! The library's one error type.
//!
//! Every variant carries what a user needs to fix the input: the file, the record
//! (line, image index) and what was expected. The library never panics on user input;
//! shape checks happen at the public entry points and come back as these values.

use std::path::PathBuf;

/// Everything that can go wrong in glassbox, as a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // === Files ===
    /// Occurs when a file cannot be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// Occurs when a data or model file holds something other than what was expected.
    /// `record` names the place: "line 12", "image 3 071", "header", ….
    #[error("{path}: {record}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Where in the file: a line, an image index, a header field.
        record: String,
        /// What was expected and what was found.
        message: String,
    },

    /// Occurs when a data set holds no examples (or no features).
    #[error("{what}: the data set is empty ({message})")]
    EmptyData {
        /// The file or data set name.
        what: String,
        /// What is missing.
        message: String,
    },

    // === Shapes ===
    /// Occurs when an input's width does not fit the network's first layer.
    #[error("input has {found} features but the network's first layer takes {expected}")]
    InputWidth {
        /// The network's input width.
        expected: usize,
        /// The width given.
        found: usize,
    },

    /// Occurs when two things that must agree in size do not (targets and outputs,
    /// saved weights and architecture, …).
    #[error("shape mismatch: {0}")]
    Shape(String),

    // === Configuration ===
    /// Occurs when a hyper-parameter or architecture is impossible (a negative learning
    /// rate, a zero batch size, a layer of width 0, …).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// Occurs when training is asked of a network that has a step activation: the step's
    /// derivative is 0 wherever it exists, so no gradient reaches the weights.
    /// The message counts layers from 1, as `explain`, the page and the README do.
    #[error(
        "layer {} uses the step activation, which cannot be trained by back-propagation: \
         its derivative is 0 everywhere (and undefined at 0), so no gradient reaches the weights; \
         use sigmoid, tanh or relu to train, and step only to run a network forward",
        .layer + 1
    )]
    StepNotTrainable {
        /// The layer's index, from the input side (0 is the first hidden layer; the
        /// message says "layer 1").
        layer: usize,
    },

    // === Training ===
    /// Occurs when the loss becomes NaN or infinite; the network keeps the weights it had
    /// at the end of the last good epoch.
    #[error(
        "training diverged at epoch {epoch} (loss = {loss}); the weights of the last good epoch \
         are kept — try a smaller learning rate"
    )]
    Diverged {
        /// The epoch (1-based) in which the loss stopped being finite.
        epoch: usize,
        /// The loss that was seen.
        loss: f64,
    },

    /// Occurs when the workers of a data-parallel run cannot sum their gradients (a peer
    /// died or cannot be reached): see [`crate::train::AllReduce`]. The weights of the
    /// last good epoch are kept.
    #[error("data-parallel training failed at epoch {epoch}: {message}")]
    Workers {
        /// The epoch (1-based) that failed.
        epoch: usize,
        /// What the transport said.
        message: String,
    },
}

/// `Result` with [`Error`] as its error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Format`] for `path` at `record`.
    pub fn format(
        path: impl Into<PathBuf>,
        record: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Format {
            path: path.into(),
            record: record.into(),
            message: message.into(),
        }
    }
}
