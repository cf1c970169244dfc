//! The IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//!
//! An IDX file is a big-endian header and then the values, row-major:
//!
//! ```text
//! bytes 0–1   0x00 0x00
//! byte  2     value type: 0x08 = unsigned byte (the only type read here)
//! byte  3     number of dimensions: 3 for images, 1 for labels
//! then        one u32 (big-endian) per dimension: count [, rows, columns]
//! then        count · rows · columns bytes
//! ```
//!
//! So the magic number (bytes 0–3 as a big-endian u32) is `0x00000803` for a file of
//! images and `0x00000801` for a file of labels. Pixels 0–255 become x = p / 255 ∈ [0, 1];
//! an image of `rows × columns` becomes one row of `rows · columns` features
//! ([`ImageShape`] `rows × columns × 1`).
//!
//! Gzip is detected by the file's first two bytes (1f 8b), not by its name. A data set
//! directory holds the four files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each possibly ending in `.gz`,
//! and optionally a `classes.txt` with one class name per line.
//!
//! # Examples
//!
//! ```no_run
//! use glassbox::data::idx;
//! # fn main() -> glassbox::Result<()> {
//! let (train, test) = idx::fashion_mnist(idx::FASHION_MNIST_DIR)?;
//! assert_eq!((train.len(), test.len(), train.width()), (60_000, 10_000, 784));
//! assert_eq!(train.class_names()[9], "Ankle boot");
//! # Ok(())
//! # }
//! ```

use super::{open_maybe_gzip, pixel_value, write_file, Dataset, ImageShape};
use crate::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs the four Fashion-MNIST files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten Fashion-MNIST classes, indexed by label (Zalando Research, MIT licence).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The magic number of an IDX file of images: unsigned bytes, 3 dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

/// The magic number of an IDX file of labels: unsigned bytes, 1 dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The file name of the optional class names in an IDX directory, one name per line.
pub const CLASSES_FILE: &str = "classes.txt";

/// What an IDX magic number says, for error messages.
fn describe_magic(magic: u32) -> String {
    if magic >> 16 != 0 {
        return "not an IDX file (the first two bytes must be 0)".into();
    }
    let value_type = match (magic >> 8) & 0xff {
        0x08 => "unsigned bytes",
        0x09 => "signed bytes",
        0x0b => "16-bit integers",
        0x0c => "32-bit integers",
        0x0d => "32-bit floats",
        0x0e => "64-bit floats",
        _ => "an unknown value type",
    };
    format!("IDX of {value_type} in {} dimensions", magic & 0xff)
}

/// Reads the big-endian u32 at `offset` (the caller has checked the length).
fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

/// Parses an IDX header from the first bytes of a file whose total length is `total`
/// (or not known yet, when the rest is streamed: then the caller checks it with
/// [`check_length`]).
fn parse_header_of(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    what: &str,
    item: &str,
    total: Option<usize>,
) -> Result<Vec<usize>> {
    let dimensions = (magic & 0xff) as usize;
    let header_len = 4 + 4 * dimensions;
    if bytes.len() < 4 {
        return Err(Error::format(
            path,
            "header",
            format!(
                "truncated: an IDX file starts with a 4-byte magic number, found {} bytes",
                bytes.len()
            ),
        ));
    }
    let found = read_u32(bytes, 0);
    if found != magic {
        return Err(Error::format(
            path,
            "header",
            format!(
                "wrong magic number {found:#010x} ({}): expected {magic:#010x} ({}, a file of {what})",
                describe_magic(found),
                describe_magic(magic)
            ),
        ));
    }
    if bytes.len() < header_len {
        return Err(Error::format(
            path,
            "header",
            format!(
                "truncated: expected a {header_len}-byte header, found {} bytes",
                bytes.len()
            ),
        ));
    }
    let sizes: Vec<usize> = (0..dimensions)
        .map(|d| read_u32(bytes, 4 + 4 * d) as usize)
        .collect();
    if let Some(d) = sizes.iter().position(|&s| s == 0) {
        return Err(Error::format(
            path,
            "header",
            format!("dimension {d} is 0 (sizes {sizes:?}); every dimension must be at least 1"),
        ));
    }
    let values = sizes
        .iter()
        .try_fold(1usize, |product, &s| product.checked_mul(s))
        .and_then(|v| v.checked_add(header_len))
        .ok_or_else(|| {
            Error::format(
                path,
                "header",
                format!("dimensions {sizes:?} are too large"),
            )
        })?;
    if let Some(total) = total {
        check_length(path, &sizes, header_len, values, total, item)?;
    }
    Ok(sizes)
}

/// Checks that a file of `total` bytes is exactly the `expected` bytes its header
/// announces.
fn check_length(
    path: &Path,
    sizes: &[usize],
    header_len: usize,
    expected: usize,
    total: usize,
    item: &str,
) -> Result<()> {
    if total == expected {
        return Ok(());
    }
    let per_item: usize = sizes[1..].iter().product();
    let complete = total.saturating_sub(header_len) / per_item.max(1);
    let (record, problem) = if total < expected {
        (format!("{item} {complete}"), "truncated")
    } else {
        ("end of file".to_string(), "unexpected bytes after the data")
    };
    Err(Error::format(
        path,
        record,
        format!(
            "{problem}: the header announces {} {item}s, so expected {expected} bytes, found {total}",
            sizes[0]
        ),
    ))
}

/// How many values a loader sets aside before the data arrives (4 Mi values): a
/// header that claims 10¹² images takes no more memory than the file really holds.
const RESERVE_AHEAD: usize = 1 << 22;

/// Reads an IDX file of images (magic `0x00000803`), plain or gzip.
///
/// Returns the pixels scaled to [0, 1] (`count × rows · columns`, row-major), the shape of
/// one image (`rows × columns × 1`) and the number of images.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the file and
/// record when it is corrupt gzip, has the wrong magic number, a zero dimension, or is
/// truncated (with the number of bytes expected and found).
pub fn load_images(path: impl AsRef<Path>) -> Result<(Vec<f32>, ImageShape, usize)> {
    let (pixels, shape, count) = load_image_bytes(path)?;
    let values = pixels.iter().map(|&p| pixel_value(p)).collect();
    Ok((values, shape, count))
}

/// Reads an IDX file of images as [`load_images`] does, but returns the pixels as the
/// file's bytes (`count × rows · columns`, row-major; p stands for p / 255): a quarter of
/// the memory of f32. [`load_pair`] and the directory loaders keep them so.
///
/// # Errors
/// As [`load_images`].
pub fn load_image_bytes(path: impl AsRef<Path>) -> Result<(Vec<u8>, ImageShape, usize)> {
    let path = path.as_ref();
    let mut reader = open_maybe_gzip(path)?;
    let mut header = Vec::with_capacity(16);
    read_up_to(path, &mut reader, &mut header, 16)?;
    let sizes = parse_header_of(path, &header, IMAGES_MAGIC, "images", "image", None)?;
    let (count, rows, columns) = (sizes[0], sizes[1], sizes[2]);
    let values = count * rows * columns;
    let expected = header.len() + values;
    // The header's count is a claim: memory is taken as the pixels arrive (at most
    // RESERVE_AHEAD values before the first of them), never on the claim alone.
    let too_big = || {
        Error::format(
            path,
            "header",
            format!("{values} pixels ({count} images of {rows}×{columns}) do not fit in memory"),
        )
    };
    let mut pixels: Vec<u8> = Vec::new();
    pixels
        .try_reserve_exact(values.min(RESERVE_AHEAD))
        .map_err(|_| too_big())?;
    let mut chunk = vec![0u8; 1 << 16];
    let mut total = header.len();
    loop {
        let n = read_some(path, &mut reader, &mut chunk)?;
        if n == 0 {
            break;
        }
        total += n;
        if total > expected {
            // Too long: count the rest for the message, without keeping it.
            loop {
                match read_some(path, &mut reader, &mut chunk)? {
                    0 => break,
                    more => total += more,
                }
            }
            break;
        }
        pixels.try_reserve(n).map_err(|_| too_big())?;
        pixels.extend_from_slice(&chunk[..n]);
    }
    check_length(path, &sizes, header.len(), expected, total, "image")?;
    Ok((pixels, ImageShape::new(rows, columns, 1), count))
}

/// Reads into `buf`, naming the file on failure (a corrupt gzip stream shows up here).
fn read_some(path: &Path, reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::format(
                    path,
                    "gzip stream",
                    format!("corrupt or truncated gzip data: {e}"),
                ))
            }
        }
    }
}

/// Reads until `out` holds `len` bytes or the file ends.
fn read_up_to(path: &Path, reader: &mut dyn Read, out: &mut Vec<u8>, len: usize) -> Result<()> {
    let mut byte = [0u8; 16];
    while out.len() < len {
        let want = (len - out.len()).min(byte.len());
        let n = read_some(path, reader, &mut byte[..want])?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&byte[..n]);
    }
    Ok(())
}

/// Reads an IDX file of labels (magic `0x00000801`), plain or gzip.
///
/// # Errors
/// As [`load_images`].
pub fn load_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let mut reader = open_maybe_gzip(path)?;
    let mut header = Vec::with_capacity(8);
    read_up_to(path, &mut reader, &mut header, 8)?;
    let sizes = parse_header_of(path, &header, LABELS_MAGIC, "labels", "label", None)?;
    let count = sizes[0];
    // At most one byte more than announced is read (to say the file is too long), and
    // memory is taken as the labels arrive, never on the header's claim alone.
    let mut labels = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let mut total = header.len();
    loop {
        let n = read_some(path, &mut reader, &mut chunk)?;
        if n == 0 {
            break;
        }
        total += n;
        if labels.len() + n > count {
            // Too long: count the rest for the message, without keeping it.
            loop {
                match read_some(path, &mut reader, &mut chunk)? {
                    0 => break,
                    more => total += more,
                }
            }
            break;
        }
        labels.try_reserve(n).map_err(|_| {
            Error::format(
                path,
                "header",
                format!("{count} labels do not fit in memory"),
            )
        })?;
        labels.extend_from_slice(&chunk[..n]);
    }
    check_length(
        path,
        &sizes,
        header.len(),
        header.len() + count,
        total,
        "label",
    )?;
    Ok(labels)
}

/// The default class names "0", "1", … up to the largest label.
fn default_class_names(largest_label: u8) -> Vec<String> {
    (0..=largest_label).map(|l| l.to_string()).collect()
}

/// Builds a data set from loaded images and labels, checking counts and class names.
fn build(
    (pixels, shape, count): (Pixels, ImageShape, usize),
    labels: Vec<u8>,
    images_path: &Path,
    labels_path: &Path,
    class_names: Vec<String>,
) -> Result<Dataset> {
    if count != labels.len() {
        return Err(Error::format(
            images_path,
            "header",
            format!(
                "{count} images but {} holds {} labels; the two files must describe the same examples",
                labels_path.display(),
                labels.len()
            ),
        ));
    }
    if let Some(i) = labels
        .iter()
        .position(|&l| usize::from(l) >= class_names.len())
    {
        return Err(Error::format(
            labels_path,
            format!("label {i}"),
            format!(
                "label {} but there are only {} class names",
                labels[i],
                class_names.len()
            ),
        ));
    }
    let labels = labels.into_iter().map(usize::from).collect();
    let width = shape.feature_count();
    match pixels {
        Pixels::InMemory(pixels) => {
            Dataset::classification_pixels(pixels, width, labels, class_names)?
        }
        Pixels::InFile(offset) => {
            Dataset::classification_streamed(images_path, offset, width, labels, class_names)?
        }
    }
    .with_image_shape(shape)
}

/// Loads a pair of IDX files, images and labels, as one classification data set.
///
/// `class_names` defaults to "0", "1", … up to the largest label.
///
/// # Errors
/// As [`load_images`] and [`load_labels`], and [`Error::Format`] when the two files hold
/// different numbers of examples (the message names both files) or a label has no class
/// name.
pub fn load_pair(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    class_names: Option<Vec<String>>,
) -> Result<Dataset> {
    let (images, labels_path) = (images.as_ref(), labels.as_ref());
    let (pixels, shape, count) = load_image_bytes(images)?;
    let loaded = (Pixels::InMemory(pixels), shape, count);
    let labels = load_labels(labels_path)?;
    let class_names = class_names
        .unwrap_or_else(|| default_class_names(labels.iter().copied().max().unwrap_or(0)));
    build(loaded, labels, images, labels_path, class_names)
}

/// Finds `stem` in `dir`, plain or `.gz`; the MNIST site's alternative spelling with a
/// dot (`train-images.idx3-ubyte`) is accepted too.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    for name in [stem, &dotted] {
        for suffix in ["", ".gz"] {
            let candidate = dir.join(format!("{name}{suffix}"));
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(Error::format(
        dir,
        stem,
        format!("file not found: the directory has neither {stem} nor {stem}.gz"),
    ))
}

/// Reads `classes.txt` in `dir` when there is one: one class name per line, blank lines
/// skipped.
fn read_class_names(dir: &Path) -> Result<Option<Vec<String>>> {
    let path = dir.join(CLASSES_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(Error::format(
            &path,
            "line 1",
            "no class names: expected one name per line",
        ));
    }
    Ok(Some(names))
}

/// Loads the train and test sets of an IDX directory with the given class names (or
/// `classes.txt`, or "0".."largest label" over both sets).
fn load_dir_named(
    dir: &Path,
    class_names: Option<Vec<String>>,
    stream: bool,
) -> Result<(Dataset, Dataset)> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let paths = [
        find(dir, "train-images-idx3-ubyte")?,
        find(dir, "train-labels-idx1-ubyte")?,
        find(dir, "t10k-images-idx3-ubyte")?,
        find(dir, "t10k-labels-idx1-ubyte")?,
    ];
    let class_names = match class_names {
        Some(names) => Some(names),
        None => read_class_names(dir)?,
    };
    let train_images = if stream {
        open_images_streamed(&paths[0])?
    } else {
        let (pixels, shape, count) = load_image_bytes(&paths[0])?;
        (Pixels::InMemory(pixels), shape, count)
    };
    let train_labels = load_labels(&paths[1])?;
    let test_images = {
        let (pixels, shape, count) = load_image_bytes(&paths[2])?;
        (Pixels::InMemory(pixels), shape, count)
    };
    let test_labels = load_labels(&paths[3])?;
    if train_images.1 != test_images.1 {
        return Err(Error::format(
            &paths[2],
            "header",
            format!(
                "images of {} but the training images ({}) are {}",
                test_images.1,
                paths[0].display(),
                train_images.1
            ),
        ));
    }
    // One list of names for both parts, so that label l means the same class in each.
    let class_names = class_names.unwrap_or_else(|| {
        let largest = train_labels.iter().chain(&test_labels).copied().max();
        default_class_names(largest.unwrap_or(0))
    });
    let train = build(
        train_images,
        train_labels,
        &paths[0],
        &paths[1],
        class_names.clone(),
    )?;
    let test = build(test_images, test_labels, &paths[2], &paths[3], class_names)?;
    Ok((train, test))
}

/// Loads an IDX directory as `(train, test)`: `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
/// plain or `.gz`. Class names come from `classes.txt` in the directory when it exists
/// (one per line), else "0", "1", … up to the largest label of either part.
///
/// # Errors
/// [`Error::Io`] when `dir` is not a directory; [`Error::Format`] naming the missing file
/// when one of the four is absent; otherwise as [`load_pair`], and when the train and
/// test images differ in size.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    load_dir_named(dir.as_ref(), None, false)
}

/// Loads an IDX directory as [`load_dir`] does, but leaves the training images in their
/// file, read as the trainer uses them ([`Dataset::classification_streamed`],
/// [`crate::data::stream`]): memory holds the labels and the test set, whatever the size
/// of the training file. The training images must be uncompressed
/// (`train-images-idx3-ubyte`): rows are read from their place in the file.
///
/// # Errors
/// As [`load_dir`], and [`Error::Format`] when the training images are gzip.
pub fn load_dir_streamed(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    load_dir_named(dir.as_ref(), None, true)
}

/// Where a part's pixels are: read into memory, or left in the file after its header.
enum Pixels {
    InMemory(Vec<u8>),
    InFile(u64),
}

/// Checks the header and length of an uncompressed IDX images file whose pixels will be
/// read in place: (where they are, the image shape, the number of images).
fn open_images_streamed(path: &Path) -> Result<(Pixels, ImageShape, usize)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let length = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut header = Vec::with_capacity(16);
    read_up_to(path, &mut file, &mut header, 16)?;
    if header.starts_with(&super::GZIP_MAGIC) {
        return Err(Error::format(
            path,
            "file",
            "gzip data cannot be streamed (rows are read from their place in the file): \
             decompress it first, e.g. `gunzip -k FILE`",
        ));
    }
    let total = usize::try_from(length).unwrap_or(usize::MAX);
    let sizes = parse_header_of(path, &header, IMAGES_MAGIC, "images", "image", Some(total))?;
    Ok((
        Pixels::InFile(header.len() as u64),
        ImageShape::new(sizes[1], sizes[2], 1),
        sizes[0],
    ))
}

/// Loads Fashion-MNIST from `dir` (usually [`FASHION_MNIST_DIR`]) as `(train, test)`,
/// 60 000 and 10 000 images of 28 × 28, named by [`FASHION_MNIST_CLASSES`].
///
/// # Errors
/// As [`load_dir`].
pub fn fashion_mnist(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    let names = FASHION_MNIST_CLASSES
        .iter()
        .map(|&n| n.to_string())
        .collect();
    load_dir_named(dir.as_ref(), Some(names), false)
}

/// The bytes of an IDX images file for `data` (pixels p = round(x · 255), clamped).
fn images_bytes(data: &Dataset, shape: ImageShape) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + data.len() * data.width());
    bytes.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for size in [data.len(), shape.height, shape.width] {
        bytes.extend_from_slice(&(size as u32).to_be_bytes());
    }
    match data.pixels() {
        Some(pixels) => bytes.extend_from_slice(pixels),
        None => bytes.extend(
            data.features()
                .iter()
                .map(|&x| (x.clamp(0.0, 1.0) * 255.0).round() as u8),
        ),
    }
    bytes
}

/// The bytes of an IDX labels file for `labels`.
fn labels_bytes(labels: &[usize]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + labels.len());
    bytes.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend(labels.iter().map(|&l| l as u8));
    bytes
}

/// Checks that `data` can be written as IDX: grayscale images, classes, labels < 256,
/// fewer than 2³² rows.
fn check_writable<'a>(data: &'a Dataset, part: &str) -> Result<(ImageShape, &'a [usize])> {
    let shape = data.image_shape().ok_or_else(|| {
        Error::Config(format!(
            "the {part} set has no image shape; IDX stores images"
        ))
    })?;
    if shape.channels != 1 {
        return Err(Error::Config(format!(
            "the {part} set has {} channels; IDX images here are grayscale (1 channel)",
            shape.channels
        )));
    }
    let labels = data.labels().ok_or_else(|| {
        Error::Config(format!(
            "the {part} set is a regression set; IDX labels are classes"
        ))
    })?;
    if data.classes() > 256 {
        return Err(Error::Config(format!(
            "the {part} set has {} classes; IDX labels are bytes (at most 256)",
            data.classes()
        )));
    }
    if u32::try_from(data.len()).is_err() {
        return Err(Error::Config(format!(
            "the {part} set has too many rows for IDX"
        )));
    }
    Ok((shape, labels))
}

/// Writes `train` and `test` as an IDX directory that [`load_dir`] reads back: the four
/// files (with `.gz` and gzip-compressed when `gzip` is true) and `classes.txt`.
/// Pixels are stored as p = round(x · 255) with x clamped to [0, 1]. Creates `dir`.
///
/// # Errors
/// [`Error::Config`] when a part has no image shape, is not grayscale, is regression or
/// has more than 256 classes; [`Error::Io`] when a file cannot be written.
pub fn save_dir(train: &Dataset, test: &Dataset, dir: impl AsRef<Path>, gzip: bool) -> Result<()> {
    let dir = dir.as_ref();
    let (train_shape, train_labels) = check_writable(train, "training")?;
    let (test_shape, test_labels) = check_writable(test, "test")?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let suffix = if gzip { ".gz" } else { "" };
    let files = [
        ("train-images-idx3-ubyte", images_bytes(train, train_shape)),
        ("train-labels-idx1-ubyte", labels_bytes(train_labels)),
        ("t10k-images-idx3-ubyte", images_bytes(test, test_shape)),
        ("t10k-labels-idx1-ubyte", labels_bytes(test_labels)),
    ];
    for (name, bytes) in files {
        write_file(&dir.join(format!("{name}{suffix}")), &bytes, gzip)?;
    }
    let mut names = train.class_names().join("\n");
    names.push('\n');
    write_file(&dir.join(CLASSES_FILE), names.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(rows: usize, seed: usize) -> Dataset {
        // 2×3 images whose pixels are multiples of 1/255, so they survive the round trip.
        let pixels = (0..rows * 6)
            .map(|i| ((i * 37 + seed) % 256) as f32 / 255.0)
            .collect();
        let labels = (0..rows).map(|i| i % 3).collect();
        let names = vec!["cat".into(), "dog".into(), "owl".into()];
        Dataset::classification(pixels, 6, labels, names)
            .unwrap()
            .with_image_shape(ImageShape::new(2, 3, 1))
            .unwrap()
    }

    #[test]
    fn save_dir_then_load_dir_round_trips_plain_and_gzip() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let (train, test) = (tiny(7, 1), tiny(4, 5));
            save_dir(&train, &test, dir.path(), gzip).unwrap();
            let suffix = if gzip { ".gz" } else { "" };
            assert!(dir
                .path()
                .join(format!("t10k-labels-idx1-ubyte{suffix}"))
                .is_file());
            let (train2, test2) = load_dir(dir.path()).unwrap();
            assert_eq!(train2, train);
            assert_eq!(test2, test);
        }
    }

    #[test]
    fn load_pair_defaults_class_names_to_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny(5, 0);
        let images = dir.path().join("images.idx");
        let labels = dir.path().join("labels.idx");
        write_file(
            &images,
            &images_bytes(&data, ImageShape::new(2, 3, 1)),
            false,
        )
        .unwrap();
        write_file(&labels, &labels_bytes(data.labels().unwrap()), true).unwrap();
        let loaded = load_pair(&images, &labels, None).unwrap();
        assert_eq!(loaded.class_names(), &["0", "1", "2"]);
        assert_eq!(loaded.features(), data.features());
        let named = load_pair(&images, &labels, Some(vec!["a".into(), "b".into()]));
        let message = named.unwrap_err().to_string();
        assert!(
            message.contains("labels.idx: label 2: label 2 but there are only 2 class names"),
            "{message}"
        );
    }

    #[test]
    fn truncated_images_name_the_file_the_image_and_the_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-images-idx3-ubyte");
        let mut bytes = images_bytes(&tiny(5, 0), ImageShape::new(2, 3, 1));
        bytes.truncate(16 + 6 * 3 + 2); // three whole images and part of the fourth
        write_file(&path, &bytes, false).unwrap();
        let message = load_images(&path).unwrap_err().to_string();
        assert!(
            message.contains("train-images-idx3-ubyte: image 3: truncated"),
            "{message}"
        );
        assert!(message.contains("expected 46 bytes, found 36"), "{message}");
        // The header itself cut short.
        write_file(&path, &bytes[..10], false).unwrap();
        let message = load_images(&path).unwrap_err().to_string();
        assert!(
            message.contains("header: truncated: expected a 16-byte header, found 10"),
            "{message}"
        );
    }

    #[test]
    fn non_gzip_bytes_in_a_gz_name_and_corrupt_gzip_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.gz");
        write_file(&path, &labels_bytes(&[1, 2]), false).unwrap();
        let message = load_labels(&path).unwrap_err().to_string();
        assert!(
            message.contains(
                "labels.gz: gzip header: the name ends in .gz but the file is not gzip data"
            ),
            "{message}"
        );
        let mut compressed = Vec::new();
        {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(&mut compressed, flate2::Compression::default());
            encoder.write_all(&labels_bytes(&[1; 100])).unwrap();
        }
        compressed.truncate(compressed.len() / 2);
        write_file(&path, &compressed, false).unwrap();
        let message = load_labels(&path).unwrap_err().to_string();
        assert!(
            message.contains("labels.gz: gzip stream: corrupt or truncated gzip data"),
            "{message}"
        );
    }

    #[test]
    fn wrong_magic_says_what_was_expected_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swapped");
        write_file(&path, &labels_bytes(&[1, 2]), false).unwrap();
        let message = load_images(&path).unwrap_err().to_string();
        assert!(message.contains("swapped: header: wrong magic number 0x00000801 (IDX of unsigned bytes in 1 dimensions): expected 0x00000803 (IDX of unsigned bytes in 3 dimensions, a file of images)"), "{message}");
        write_file(&path, b"PNG\0 and more", false).unwrap();
        let message = load_labels(&path).unwrap_err().to_string();
        assert!(message.contains("not an IDX file"), "{message}");
    }

    #[test]
    fn zero_dimensions_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty-images");
        let mut bytes = IMAGES_MAGIC.to_be_bytes().to_vec();
        for size in [0u32, 28, 28] {
            bytes.extend_from_slice(&size.to_be_bytes());
        }
        write_file(&path, &bytes, false).unwrap();
        let message = load_images(&path).unwrap_err().to_string();
        assert!(
            message.contains("empty-images: header: dimension 0 is 0"),
            "{message}"
        );
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (train, test) = (tiny(6, 0), tiny(3, 0));
        save_dir(&train, &test, dir.path(), false).unwrap();
        std::fs::write(
            dir.path().join("t10k-labels-idx1-ubyte"),
            labels_bytes(&[0, 1]),
        )
        .unwrap();
        let message = load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            message.contains("t10k-images-idx3-ubyte: header: 3 images but "),
            "{message}"
        );
        assert!(
            message.contains("t10k-labels-idx1-ubyte holds 2 labels"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        save_dir(&tiny(3, 0), &tiny(3, 0), dir.path(), true).unwrap();
        std::fs::remove_file(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
        let message = load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            message.contains("train-labels-idx1-ubyte: file not found"),
            "{message}"
        );
        let message = load_dir(dir.path().join("nowhere"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("nowhere: not a directory"), "{message}");
    }

    #[test]
    fn real_fashion_mnist_loads_when_installed() {
        if !Path::new(FASHION_MNIST_DIR).is_dir() {
            eprintln!(
                "skipped: {FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)"
            );
            return;
        }
        let (train, test) = fashion_mnist(FASHION_MNIST_DIR).unwrap();
        assert_eq!((train.len(), test.len()), (60_000, 10_000));
        assert_eq!((train.width(), test.width()), (784, 784));
        assert_eq!((train.classes(), test.classes()), (10, 10));
        assert_eq!(train.image_shape(), Some(ImageShape::new(28, 28, 1)));
        assert_eq!(train.class_counts(), vec![6_000; 10]);
        assert_eq!(test.class_counts(), vec![1_000; 10]);
        assert_eq!(train.class_names()[0], "T-shirt/top");
        // Kept as bytes: 47 MB for the training images, not 188 MB of f32.
        assert_eq!(train.pixels().map(<[u8]>::len), Some(60_000 * 784));
        assert!(test.pixels().is_some());
        let (plain, _) = load_dir(FASHION_MNIST_DIR).unwrap();
        assert_eq!(plain.class_names()[9], "9");
    }
}
