//! Every input that once broke a fuzz target (`fuzz/fuzz_targets/`), kept in
//! `tests/fuzz_regressions/TARGET/`, goes through the same loader here: it must return
//! (an error, usually), never panic or abort.

use glassbox::data::csv::{self, CsvOptions};
use glassbox::data::{idx, image_folder, ImageShape};
use glassbox::interop::torch::{self, Import};
use glassbox::Activation;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
}

#[test]
fn idx_inputs_that_broke_the_loader_are_errors_now() {
    for path in inputs("idx_images") {
        let _ = idx::load_images(&path);
    }
    for path in inputs("idx_labels") {
        let _ = idx::load_labels(&path);
    }
}

#[test]
fn csv_inputs_that_broke_the_loader_are_errors_now() {
    for path in inputs("csv") {
        let _ = csv::load(&path, &CsvOptions::default());
        let regression = CsvOptions {
            regression: true,
            ..CsvOptions::default()
        };
        let _ = csv::load(&path, &regression);
    }
}

#[test]
fn image_inputs_that_broke_the_loader_are_errors_now() {
    for path in inputs("image") {
        let _ = image_folder::load_image(&path, ImageShape::new(28, 28, 1));
    }
}

#[test]
fn model_files_that_broke_the_loader_are_errors_now() {
    for path in inputs("model") {
        if let Ok((net, _)) = glassbox::io::load(&path) {
            let _ = net.predict(&vec![0.5; net.inputs()]);
        }
        let _ = glassbox::train::Checkpoint::load(&path);
    }
    for path in inputs("torch_import") {
        for layers in 1..=3 {
            let options = Import {
                activations: vec![Activation::Relu; layers],
                class_names: Vec::new(),
                image_shape: None,
            };
            let _ = torch::import(&path, &options);
        }
    }
}
