//! `glassbox import --torch`: a PyTorch state dict (safetensors) as a glassbox model
//! file that `evaluate`, `predict`, `explain` and `inspect` use.
//!
//! The library reads and checks the state dict ([`glassbox::interop::torch::import`]:
//! names sorted as numbers, shapes chained, weight/bias pairs); this command parses the
//! flags that say what the state dict cannot (activations, image shape, class names)
//! and writes the model atomically.

use crate::args::ImportArgs;
use crate::commands::train::{architecture, check_output_path};
use crate::error::usage;
use crate::outln;
use anyhow::Result;
use glassbox::data::ImageShape;
use glassbox::interop::torch::{self, Import};

/// Runs `import`.
pub fn run(args: &ImportArgs) -> Result<()> {
    let image_shape = args.inputs_shape.as_deref().map(parse_shape).transpose()?;
    check_output_path(&args.out, "--out")?;
    let options = Import {
        activations: args.activations.clone(),
        class_names: args.classes.clone().unwrap_or_default(),
        image_shape,
    };
    // The library's errors name the file and the tensor.
    let (network, info) = torch::import(&args.torch, &options)?;
    glassbox::io::save(&args.out, &network, &info)?;
    outln!(
        "{}: {} from the PyTorch state dict {}{}",
        args.out.display(),
        architecture(&network),
        args.torch.display(),
        if info.class_names.is_empty() {
            String::new()
        } else {
            format!(", classes {}", info.class_names.join(","))
        }
    );
    Ok(())
}

/// `28x28` (one channel) or `32x32x3`; `×` works as well as `x`.
fn parse_shape(text: &str) -> Result<ImageShape> {
    let bad = || {
        usage(format!(
            "--inputs-shape {text:?}: expected HxW or HxWxC with positive whole numbers, e.g. 28x28"
        ))
    };
    let parts: Vec<usize> = text
        .split(['x', 'X', '×'])
        .map(|p| p.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match parts[..] {
        [height, width] => Ok(ImageShape::new(height, width, 1)),
        [height, width, channels] => Ok(ImageShape::new(height, width, channels)),
        _ => Err(bad()),
    }
}
