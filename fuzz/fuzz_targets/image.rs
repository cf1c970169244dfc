#![no_main]
//! Single PNG / JPEG / other image files, as `glassbox predict` and the playground read
//! them (decoded, converted to the model's shape).
use glassbox::data::{image_folder, ImageShape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in ["x.png", "x.jpg"] {
        let path = glassbox_fuzz::file(data, name);
        let _ = image_folder::load_image(&path, ImageShape::new(28, 28, 1));
    }
});
