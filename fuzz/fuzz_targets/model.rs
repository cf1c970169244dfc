#![no_main]
//! safetensors model files (and checkpoints).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = glassbox_fuzz::file(data, "model.safetensors");
    if let Ok((net, _)) = glassbox::io::load(&path) {
        // A model that loads must run.
        let _ = net.predict(&vec![0.5; net.inputs()]);
    }
    let _ = glassbox::train::Checkpoint::load(&path);
});
