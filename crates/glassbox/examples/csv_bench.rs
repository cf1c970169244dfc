//! How long `data::csv::load` takes on a large file: Fashion-MNIST's 60 000 training
//! images as CSV, in the layout of the common Kaggle copy (`label,pixel1,…,pixel784`,
//! integer pixels 0–255, about 130 MB). The file is written once from the IDX files, then
//! loaded several times; prints the median and the fastest load.
//!
//! Run: `cargo run --release --example csv_bench -- [--data DIR] [--csv FILE] [--runs N]`

use glassbox::data::csv::{self, CsvOptions};
use glassbox::data::idx;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = idx::FASHION_MNIST_DIR.to_string();
    let mut file = std::env::temp_dir().join("glassbox-fashion-mnist-train.csv");
    let mut runs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => dir = value,
            "--csv" => file = PathBuf::from(value),
            "--runs" => runs = value.parse()?,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    if !file.exists() {
        let (train, _) = idx::load_dir(&dir)?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        write!(out, "label")?;
        for j in 1..=train.width() {
            write!(out, ",pixel{j}")?;
        }
        writeln!(out)?;
        let labels = train.labels().ok_or("Fashion-MNIST has classes")?;
        for (i, &label) in labels.iter().enumerate() {
            write!(out, "{label}")?;
            for x in train.row(i).iter() {
                write!(out, ",{}", (x * 255.0).round() as u8)?;
            }
            writeln!(out)?;
        }
        out.flush()?;
    }
    let megabytes = std::fs::metadata(&file)?.len() as f64 / 1e6;
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let data = csv::load(&file, &CsvOptions::default())?;
        seconds.push(started.elapsed().as_secs_f64());
        assert_eq!((data.len(), data.width()), (60_000, 784));
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "{} ({megabytes:.0} MB): {runs} loads, median {:.3} s ({:.0} MB/s), fastest {:.3} s",
        file.display(),
        seconds[seconds.len() / 2],
        megabytes / seconds[seconds.len() / 2],
        seconds[0]
    );
    Ok(())
}
