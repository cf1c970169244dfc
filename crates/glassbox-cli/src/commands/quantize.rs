//! `glassbox quantize`: a float model made into an int8 one (see `glassbox::quant`).

use crate::args::QuantizeArgs;
use crate::model::Model;
use crate::outln;
use anyhow::{Context, Result};
use glassbox::quant::{self, QuantizedNetwork};

/// Runs `quantize`.
pub fn run(args: &QuantizeArgs) -> Result<()> {
    let model = Model::load(&args.model)?;
    let int8 = QuantizedNetwork::from_network(&model.network)
        .with_context(|| format!("{}: cannot quantize", args.model.display()))?;
    quant::save(&args.out, &int8, &model.info)?;
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let (before, after) = (size(&args.model), size(&args.out));
    outln!(
        "{}: int8 model of {} ({after} bytes, {:.1}% of {before}; kernel here: {})",
        args.out.display(),
        args.model.display(),
        100.0 * after as f64 / before.max(1) as f64,
        int8.kernel().name()
    );
    Ok(())
}
