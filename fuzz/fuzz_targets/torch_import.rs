#![no_main]
//! PyTorch state dicts (safetensors) imported with `glassbox import --torch`.
use glassbox::interop::torch::{self, Import};
use glassbox::Activation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = glassbox_fuzz::file(data, "state.safetensors");
    for layers in 1..=3 {
        let options = Import {
            activations: vec![Activation::Relu; layers],
            class_names: Vec::new(),
            image_shape: None,
        };
        if let Ok((net, _)) = torch::import(&path, &options) {
            let _ = net.predict(&vec![0.5; net.inputs()]);
        }
    }
});
