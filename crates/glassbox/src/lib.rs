//! glassbox
pub mod activation;
pub mod data;
pub mod error;
pub mod explain;
pub mod gradcheck;
pub mod init;
pub mod io;
pub mod layer;
pub mod loss;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod rng;
pub mod tensor;
pub mod train;

pub use activation::Activation;
pub use error::{Error, Result};
pub use explain::{explain, Explanation, LayerTrace};
pub use gradcheck::GradientReport;
pub use init::Init;
pub use io::ModelInfo;
pub use layer::{Dense, DenseGrads};
pub use loss::Loss;
pub use network::{Network, Workspace};
pub use optim::{Adam, Momentum, Optimizer, Rprop, Schedule, Sgd};
pub use train::{TrainConfig, Trainer};
