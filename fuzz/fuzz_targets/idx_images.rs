#![no_main]
//! IDX image files, plain or gzip (the loader detects gzip by its magic bytes).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = glassbox_fuzz::file(data, "images.idx");
    let _ = glassbox::data::idx::load_images(&path);
});
