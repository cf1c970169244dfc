#![no_main]
//! IDX label files, plain or gzip.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = glassbox_fuzz::file(data, "labels.idx");
    let _ = glassbox::data::idx::load_labels(&path);
});
