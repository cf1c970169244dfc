//! Folders of images, one sub-folder per class.
//!
//! ```text
//! pets/                 ← the directory given to `load`
//!   cat/  001.png  002.jpg …
//!   dog/  a.jpeg   b.PNG  …
//! ```
//!
//! The class names are the sub-folder names, sorted; hidden entries (starting with `.`)
//! and files with other extensions are ignored. PNG and JPEG files are recognised by
//! extension, ignoring case. Each image becomes one row of height · width · channels
//! features, row-major with channels last, each pixel p ∈ 0..=255 scaled to x = p / 255:
//!
//! - **channels**: 1 (grayscale) when every image is grayscale, else 3 (RGB); an alpha
//!   channel is dropped;
//! - **size**: the most common size among the images (on a tie, the size of the first
//!   image read, in sorted order); others are resized to it with a triangle (bilinear)
//!   filter.
//!
//! # Examples
//!
//! ```no_run
//! use glassbox::data::image_folder;
//! # fn main() -> glassbox::Result<()> {
//! let data = image_folder::load("pets")?;
//! let shape = data.image_shape().expect("image folders set the shape");
//! // One more image, made to fit a model trained on `data`:
//! let row = image_folder::load_image("new-pet.jpg", shape)?;
//! assert_eq!(row.len(), data.width());
//! # Ok(())
//! # }
//! ```

use super::{write_file, Dataset, ImageShape};
use crate::{Error, Result};
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Whether `path` has a PNG or JPEG extension (ignoring case).
fn is_image_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["png", "jpg", "jpeg"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Whether a directory entry's name starts with a dot.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        entries.push(entry.path());
    }
    entries.sort();
    Ok(entries)
}

/// Decodes one image file (the format is guessed from its bytes, not its name).
fn decode(path: &Path) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_bytes(&bytes).map_err(|message| Error::format(path, "image", message))
}

/// Decodes a PNG or JPEG held in memory, the format guessed from its bytes.
///
/// The size in the header is checked before any pixel memory is taken: a PNG that claims
/// 100 000 × 100 000 is refused, not allocated.
fn decode_bytes(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the image: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => format!(
            "the image is larger than glassbox reads ({MAX_IMAGE_SIDE} pixels a side, \
             {} MiB decoded): {e}",
            MAX_IMAGE_BYTES >> 20
        ),
        e => format!("cannot decode the image: {e}"),
    })
}

/// Decodes a PNG or JPEG held in memory (a request body, say) under the same limits as
/// the loaders, and converts it to `channels` (1: grayscale, 3: RGB; alpha dropped).
/// Returns (width, height, pixels), the pixels row-major with channels last, as bytes.
///
/// # Errors
/// A message saying why the bytes are not an image glassbox reads (unknown format,
/// damaged data, larger than [`MAX_IMAGE_SIDE`] a side or [`MAX_IMAGE_BYTES`] decoded),
/// or that `channels` is not 1 or 3.
pub fn decode_pixels(
    bytes: &[u8],
    channels: usize,
) -> std::result::Result<(u32, u32, Vec<u8>), String> {
    let image = decode_bytes(bytes)?;
    let (width, height) = (image.width(), image.height());
    let raw = match channels {
        1 => image.to_luma8().into_raw(),
        3 => image.to_rgb8().into_raw(),
        c => return Err(format!("images have 1 or 3 channels, not {c}")),
    };
    Ok((width, height, raw))
}

/// The widest and tallest image a loader decodes.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// The most memory one decoded image may take.
pub const MAX_IMAGE_BYTES: u64 = 256 << 20;

/// Converts an image to `shape` (1 or 3 channels, resized when its size differs) and
/// appends its pixels, scaled to [0, 1], to `out`.
fn push_pixels(
    image: &DynamicImage,
    shape: ImageShape,
    (width, height): (u32, u32),
    out: &mut Vec<f32>,
) {
    let resize = image.width() != width || image.height() != height;
    let raw = if shape.channels == 1 {
        let mut gray: GrayImage = image.to_luma8();
        if resize {
            gray = image::imageops::resize(&gray, width, height, FilterType::Triangle);
        }
        gray.into_raw()
    } else {
        let mut rgb: RgbImage = image.to_rgb8();
        if resize {
            rgb = image::imageops::resize(&rgb, width, height, FilterType::Triangle);
        }
        rgb.into_raw()
    };
    out.extend(raw.iter().map(|&p| f32::from(p) / 255.0));
}

/// Checks that `shape` is one an image can be converted to, and gives its size as u32s.
fn image_size(shape: ImageShape) -> Result<(u32, u32)> {
    if shape.channels != 1 && shape.channels != 3 {
        return Err(Error::Shape(format!(
            "images have 1 (grayscale) or 3 (RGB) channels, not {}",
            shape.channels
        )));
    }
    match (u32::try_from(shape.width), u32::try_from(shape.height)) {
        (Ok(width), Ok(height)) if width > 0 && height > 0 => Ok((width, height)),
        _ => Err(Error::Shape(format!("an image of {shape} cannot be made"))),
    }
}

/// Loads a folder of class sub-folders of PNG / JPEG images as a classification data set
/// with its [`ImageShape`] set.
///
/// # Errors
/// [`Error::Io`] when `dir` is not a readable directory; [`Error::Format`] naming the
/// folder when there are no class sub-folders or a class folder holds no images, and
/// naming the file when an image cannot be decoded.
pub fn load(dir: impl AsRef<Path>) -> Result<Dataset> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let class_dirs: Vec<PathBuf> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect();
    if class_dirs.is_empty() {
        return Err(Error::format(
            dir,
            "directory",
            "no class sub-folders: expected one folder of images per class",
        ));
    }

    let mut class_names = Vec::with_capacity(class_dirs.len());
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (label, class_dir) in class_dirs.iter().enumerate() {
        let name = class_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files: Vec<PathBuf> = sorted_entries(class_dir)?
            .into_iter()
            .filter(|p| p.is_file() && !is_hidden(p) && is_image_file(p))
            .collect();
        if files.is_empty() {
            return Err(Error::format(
                class_dir,
                format!("class {name:?}"),
                "no images in this class folder (expected files ending in .png, .jpg or .jpeg)",
            ));
        }
        for file in files {
            images.push(decode(&file)?);
            labels.push(label);
        }
        class_names.push(name);
    }

    // The most common size; on a tie, the one seen first.
    let mut sizes: Vec<((u32, u32), usize)> = Vec::new();
    for image in &images {
        let size = (image.width(), image.height());
        match sizes.iter_mut().find(|(s, _)| *s == size) {
            Some((_, count)) => *count += 1,
            None => sizes.push((size, 1)),
        }
    }
    let mut size = sizes[0];
    for candidate in &sizes[1..] {
        if candidate.1 > size.1 {
            size = *candidate;
        }
    }
    let (width, height) = size.0;
    let channels = if images.iter().all(|i| !i.color().has_color()) {
        1
    } else {
        3
    };
    let shape = ImageShape::new(height as usize, width as usize, channels);

    let mut features = Vec::with_capacity(images.len() * shape.feature_count());
    for image in &images {
        push_pixels(image, shape, (width, height), &mut features);
    }
    Dataset::classification(features, shape.feature_count(), labels, class_names)?
        .with_image_shape(shape)
}

/// Loads one image and converts it to `shape` (channels and size, as [`load`] does), for
/// a model trained on images of that shape. Returns `shape.feature_count()` values in
/// [0, 1].
///
/// # Errors
/// [`Error::Shape`] when `shape` does not have 1 or 3 channels or has a zero side;
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] when it cannot be
/// decoded.
pub fn load_image(path: impl AsRef<Path>, shape: ImageShape) -> Result<Vec<f32>> {
    let size = image_size(shape)?;
    let image = decode(path.as_ref())?;
    let mut pixels = Vec::with_capacity(shape.feature_count());
    push_pixels(&image, shape, size, &mut pixels);
    Ok(pixels)
}

/// Checks that a class name can be a folder name.
fn check_folder_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
    {
        return Err(Error::Config(format!(
            "class name {name:?} cannot be a folder name"
        )));
    }
    Ok(())
}

/// Writes `data` as an image folder that [`load`] reads back: one sub-folder per class
/// (created even when empty) of PNG files `00000.png`, `00001.png`, … in row order, with
/// pixels p = round(x · 255), x clamped to [0, 1]. Creates `dir`.
///
/// [`load`] sorts the class folders by name, so labels come back the same when the class
/// names are already in sorted order; a class with no rows leaves an empty folder, which
/// [`load`] rejects.
///
/// # Errors
/// [`Error::Config`] when the data set has no image shape, is regression, or has a class
/// name that cannot be a folder name; [`Error::Shape`] when the image shape does not
/// have 1 or 3 channels; [`Error::Io`] when a file cannot be written.
pub fn save(data: &Dataset, dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    let shape = data.image_shape().ok_or_else(|| {
        Error::Config("the data set has no image shape, so it cannot be saved as images".into())
    })?;
    let (width, height) = image_size(shape)?;
    let labels = data.labels().ok_or_else(|| {
        Error::Config("a regression data set has no classes to make folders of".into())
    })?;
    for name in data.class_names() {
        check_folder_name(name)?;
    }
    let class_dirs: Vec<PathBuf> = data.class_names().iter().map(|n| dir.join(n)).collect();
    for class_dir in &class_dirs {
        std::fs::create_dir_all(class_dir).map_err(|e| Error::io(class_dir, e))?;
    }
    // Zero-padded so that names sort in row order: 5 digits, more for big classes.
    let digits = data
        .class_counts()
        .iter()
        .max()
        .map_or(1, |m| m.to_string().len())
        .max(5);
    let mut written = vec![0usize; data.classes()];
    for (i, &label) in labels.iter().enumerate() {
        let path = class_dirs[label].join(format!("{:0digits$}.png", written[label]));
        written[label] += 1;
        let bytes: Vec<u8> = data
            .row(i)
            .iter()
            .map(|&x| (x.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        let image = if shape.channels == 1 {
            GrayImage::from_raw(width, height, bytes).map(DynamicImage::ImageLuma8)
        } else {
            RgbImage::from_raw(width, height, bytes).map(DynamicImage::ImageRgb8)
        }
        .ok_or_else(|| Error::Shape(format!("row {i} does not fill an image of {shape}")))?;
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| Error::format(&path, "image", format!("cannot encode PNG: {e}")))?;
        write_file(&path, &png, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(rows: usize, shape: ImageShape) -> Dataset {
        let width = shape.feature_count();
        let pixels = (0..rows * width)
            .map(|i| ((i * 53) % 256) as f32 / 255.0)
            .collect();
        let labels = (0..rows).map(|i| i % 2).collect();
        Dataset::classification(pixels, width, labels, vec!["ant".into(), "bee".into()])
            .unwrap()
            .with_image_shape(shape)
            .unwrap()
    }

    #[test]
    fn save_then_load_round_trips_gray_and_rgb() {
        for shape in [ImageShape::new(4, 3, 1), ImageShape::new(2, 5, 3)] {
            let dir = tempfile::tempdir().unwrap();
            // Rows 0, 2, 4 are class 0 and 1, 3 class 1: loading groups them by class.
            let data = images(5, shape);
            save(&data, dir.path()).unwrap();
            assert!(dir.path().join("bee").join("00001.png").is_file());
            let loaded = load(dir.path()).unwrap();
            assert_eq!(loaded, data.subset(&[0, 2, 4, 1, 3]));
        }
    }

    #[test]
    fn mixed_sizes_resize_to_the_most_common_and_color_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        GrayImage::from_pixel(4, 2, image::Luma([255]))
            .save(a.join("1.png"))
            .unwrap();
        GrayImage::from_pixel(3, 3, image::Luma([0]))
            .save(a.join("2.PNG"))
            .unwrap();
        RgbImage::from_pixel(3, 3, image::Rgb([255, 0, 0]))
            .save(b.join("x.jpg"))
            .unwrap();
        std::fs::write(b.join("notes.txt"), "ignored").unwrap();
        let data = load(dir.path()).unwrap();
        assert_eq!(data.image_shape(), Some(ImageShape::new(3, 3, 3)));
        assert_eq!(data.class_names(), ["a", "b"]);
        assert_eq!(data.class_counts(), vec![2, 1]);
        // The white 4×2 image, resized to 3×3, stays white in every channel.
        assert!(data.row(0).iter().all(|&x| (x - 1.0).abs() < 1e-6));
        // The red JPEG is mostly red.
        assert!(data.row(2)[0] > 0.9 && data.row(2)[1] < 0.1);
        // load_image converts one file to a model's shape.
        let row = load_image(b.join("x.jpg"), ImageShape::new(2, 2, 1)).unwrap();
        assert_eq!(row.len(), 4);
        assert!(load_image(b.join("x.jpg"), ImageShape::new(2, 2, 4)).is_err());
    }

    #[test]
    fn undecodable_images_and_empty_class_folders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("cat");
        std::fs::create_dir_all(&cat).unwrap();
        std::fs::write(cat.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let message = load(dir.path()).unwrap_err().to_string();
        assert!(
            message.contains("broken.png: image: cannot decode the image"),
            "{message}"
        );

        std::fs::remove_file(cat.join("broken.png")).unwrap();
        std::fs::write(cat.join("readme.txt"), "no images here").unwrap();
        let message = load(dir.path()).unwrap_err().to_string();
        assert!(
            message.contains("cat: class \"cat\": no images in this class folder"),
            "{message}"
        );

        let empty = tempfile::tempdir().unwrap();
        let message = load(empty.path()).unwrap_err().to_string();
        assert!(
            message.contains("directory: no class sub-folders"),
            "{message}"
        );
        let message = load(empty.path().join("missing")).unwrap_err().to_string();
        assert!(message.contains("missing: not a directory"), "{message}");
    }

    #[test]
    fn save_rejects_what_cannot_be_folders_of_images() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Dataset::classification(vec![0.5; 4], 4, vec![0], vec!["a".into()]).unwrap();
        assert!(matches!(save(&plain, dir.path()), Err(Error::Config(_))));
        let bad_name = Dataset::classification(vec![0.5; 4], 4, vec![0], vec!["a/b".into()])
            .unwrap()
            .with_image_shape(ImageShape::new(2, 2, 1))
            .unwrap();
        assert!(matches!(save(&bad_name, dir.path()), Err(Error::Config(_))));
    }
}
