//! `glassbox explain` (placeholder until glassbox::explain lands).
use crate::args::ExplainArgs;
use anyhow::Result;

/// Runs `explain`.
pub fn run(_args: &ExplainArgs) -> Result<()> {
    anyhow::bail!("not yet")
}
