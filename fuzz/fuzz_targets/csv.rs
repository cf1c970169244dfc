#![no_main]
//! CSV data files, classification and regression.
use glassbox::data::csv::{self, CsvOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = glassbox_fuzz::file(data, "data.csv");
    let _ = csv::load(&path, &CsvOptions::default());
    let regression = CsvOptions {
        regression: true,
        ..CsvOptions::default()
    };
    let _ = csv::load(&path, &regression);
});
