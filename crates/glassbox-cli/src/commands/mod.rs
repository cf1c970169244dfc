//! One module per subcommand; each has `run(&Args) -> anyhow::Result<()>`.

pub mod dashboard;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod import;
pub mod inspect;
pub mod playground;
pub mod predict;
pub mod quantize;
pub mod serve;
pub mod train;
