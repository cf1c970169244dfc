//! Writes a training set bigger than the machine should hold in a process: Fashion-MNIST's
//! 60 000 training images shifted by every (dx, dy) with |dx|, |dy| ≤ 2 — 25 copies,
//! 1 500 000 images, 1.18 GB of uncompressed IDX — with its labels, and the usual test
//! set beside them, for `glassbox train --data DIR --stream` (bench/stream.sh).
//!
//! ```text
//! cargo run --release -p glassbox --example augment_fashion -- OUT_DIR
//! ```
//!
//! The copies follow one another (all images shifted by the first (dx, dy), then by the
//! next, …); pixels shifted in from outside the image are 0. Written as it goes: the
//! process holds Fashion-MNIST (55 MB of bytes) and a write buffer, not the output.

use glassbox::data::idx::{self, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// The largest shift, in pixels, in each direction.
const SHIFT: isize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: augment_fashion OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let (train, _) = idx::fashion_mnist(FASHION_MNIST_DIR)?;
    let shape = train
        .image_shape()
        .ok_or("Fashion-MNIST has an image shape")?;
    let (h, w) = (shape.height, shape.width);
    let pixels = train.pixels().ok_or("Fashion-MNIST is kept as bytes")?;
    let labels = train.labels().ok_or("Fashion-MNIST has labels")?;
    let shifts: Vec<(isize, isize)> = (-SHIFT..=SHIFT)
        .flat_map(|dy| (-SHIFT..=SHIFT).map(move |dx| (dx, dy)))
        .collect();
    let count = train.len() * shifts.len();

    let mut images = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(out.join("train-images-idx3-ubyte"))?,
    );
    for v in [idx::IMAGES_MAGIC, count as u32, h as u32, w as u32] {
        images.write_all(&v.to_be_bytes())?;
    }
    let mut shifted = vec![0u8; h * w];
    for &(dx, dy) in &shifts {
        for image in pixels.chunks_exact(h * w) {
            for (r, row) in shifted.chunks_exact_mut(w).enumerate() {
                for (c, p) in row.iter_mut().enumerate() {
                    let (sr, sc) = (r as isize - dy, c as isize - dx);
                    let inside = (0..h as isize).contains(&sr) && (0..w as isize).contains(&sc);
                    *p = if inside {
                        image[sr as usize * w + sc as usize]
                    } else {
                        0
                    };
                }
            }
            images.write_all(&shifted)?;
        }
    }
    images.flush()?;

    let mut label_file =
        BufWriter::new(std::fs::File::create(out.join("train-labels-idx1-ubyte"))?);
    for v in [idx::LABELS_MAGIC, count as u32] {
        label_file.write_all(&v.to_be_bytes())?;
    }
    for _ in &shifts {
        label_file.write_all(&labels.iter().map(|&l| l as u8).collect::<Vec<_>>())?;
    }
    label_file.flush()?;

    for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(PathBuf::from(FASHION_MNIST_DIR).join(name), out.join(name))?;
    }
    std::fs::write(
        out.join("classes.txt"),
        FASHION_MNIST_CLASSES.join("\n") + "\n",
    )?;
    println!(
        "{}: {count} training images ({} shifted copies of {}), {} bytes of pixels",
        out.display(),
        shifts.len(),
        train.len(),
        count * h * w
    );
    Ok(())
}
