//! Pictures: the training history, the confusion matrix as a heat map, and the
//! first layer's weights as images — PNG (plotters' bitmap backend) or SVG, chosen by
//! the file's extension.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (plotters' `ab_glyph`
//! feature), so nothing has to be installed: no font-kit, no fontconfig. A picture is
//! drawn in memory and written with [`glassbox::file::write_atomically`], so an error
//! never leaves half a picture behind.

use anyhow::{anyhow, Context, Result};
use glassbox::data::ImageShape;
use glassbox::metrics::ConfusionMatrix;
use glassbox::train::History;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The family name the embedded font is registered under.
const FAMILY: &str = "sans-serif";

/// Registers the embedded font once.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF (checked by the tests); on failure text is
        // simply not drawn, which is better than no picture.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// A picture to draw.
pub enum Figure<'a> {
    /// Loss and accuracy per epoch.
    History(&'a History),
    /// A confusion matrix with its class names.
    Confusion(&'a ConfusionMatrix, &'a [String]),
    /// Each neuron's incoming weights (`neurons × inputs`, row-major) as a tile, drawn
    /// as an image when the inputs are one.
    Weights {
        /// The weights, one row per neuron.
        weights: &'a [f32],
        /// Inputs per neuron.
        inputs: usize,
        /// The inputs' image shape, if they are an image.
        shape: Option<ImageShape>,
    },
}

impl Figure<'_> {
    /// The picture's size in pixels.
    fn size(&self) -> (u32, u32) {
        match self {
            Figure::History(_) => (1200, 480),
            Figure::Confusion(m, _) => {
                let side = (m.classes() as u32 * 56 + 260).clamp(420, 1600);
                (side, side)
            }
            Figure::Weights {
                weights,
                inputs,
                shape,
            } => {
                let layout = tile_layout(weights.len() / inputs.max(&1), *inputs, *shape);
                (layout.width(), layout.height())
            }
        }
    }
}

/// Draws `figure` to `path` (.png or .svg).
pub fn save(path: &Path, figure: &Figure) -> Result<()> {
    register_font();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let size = figure.size();
    let drawn = match extension.as_str() {
        "svg" => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                draw(&root, figure)?;
                root.present().map_err(|e| anyhow!("{e}"))?;
            }
            Ok(text.into_bytes())
        }
        "png" => {
            let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3]; // RGB
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                draw(&root, figure)?;
                root.present().map_err(|e| anyhow!("{e}"))?;
            }
            encode_png(&pixels, size)
        }
        _ => Err(anyhow!("the file name must end in .png or .svg")),
    };
    drawn
        .and_then(|bytes| Ok(glassbox::file::write_atomically(path, &bytes)?))
        .with_context(|| format!("{}: cannot draw the picture", path.display()))
}

/// RGB pixels, row by row, as the bytes of a PNG file.
fn encode_png(pixels: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        pixels,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(bytes)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<()> {
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    match figure {
        Figure::History(history) => draw_history(root, history),
        Figure::Confusion(matrix, names) => draw_confusion(root, matrix, names),
        Figure::Weights {
            weights,
            inputs,
            shape,
        } => draw_weights(root, weights, *inputs, *shape),
    }
}

/// One line of the history: a name, a colour and a value per epoch.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn draw_history<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &History,
) -> Result<()> {
    let epochs = &history.epochs;
    let points = |pick: fn(&glassbox::train::EpochReport) -> Option<f64>| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .filter_map(|r| {
                pick(r)
                    .filter(|v| v.is_finite())
                    .map(|v| (r.epoch as f64, v))
            })
            .collect()
    };
    let losses: Vec<Series> = vec![
        ("train", BLUE, points(|r| Some(r.train_loss))),
        ("validation", GREEN, points(|r| r.validation_loss)),
        ("test", RED, points(|r| r.test_loss)),
    ];
    let accuracies: Vec<Series> = vec![
        (
            "train",
            BLUE,
            points(|r| r.train_accuracy.map(|a| 100.0 * a)),
        ),
        (
            "validation",
            GREEN,
            points(|r| r.validation_accuracy.map(|a| 100.0 * a)),
        ),
        ("test", RED, points(|r| r.test_accuracy.map(|a| 100.0 * a))),
    ];
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let last_epoch = epochs.last().map_or(1, |r| r.epoch).max(1) as f64;
    line_chart(
        &left,
        "loss per epoch",
        "loss",
        last_epoch,
        &losses,
        None,
        SeriesLabelPosition::UpperRight,
    )?;
    if accuracies.iter().any(|(_, _, p)| !p.is_empty()) {
        line_chart(
            &right,
            "accuracy per epoch",
            "accuracy (%)",
            last_epoch,
            &accuracies,
            Some(100.0),
            SeriesLabelPosition::LowerRight,
        )?;
    }
    Ok(())
}

fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    last_epoch: f64,
    series: &[Series],
    y_max: Option<f64>,
    legend: SeriesLabelPosition,
) -> Result<()> {
    let values = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, v)| v));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let (low, high) = if low.is_finite() {
        (low, high)
    } else {
        (0.0, 1.0)
    };
    let pad = ((high - low) * 0.05).max(1e-6);
    let top = y_max.map_or(high + pad, |m| (high + pad).min(m));
    let bottom = (low - pad).max(0.0);
    let first_epoch = if last_epoch > 1.0 { 1.0 } else { 0.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(first_epoch..last_epoch, bottom..top)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_label)
        .label_style((FAMILY, 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (name, color, points) in series.iter().filter(|(_, _, p)| !p.is_empty()) {
        let color = *color;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(legend)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// White to blue by `fraction` ∈ [0, 1].
fn blue_scale(fraction: f64) -> RGBColor {
    let f = fraction.clamp(0.0, 1.0);
    let channel = |full: f64| (255.0 - (255.0 - full) * f).round() as u8;
    RGBColor(channel(8.0), channel(48.0), channel(107.0))
}

fn draw_confusion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    matrix: &ConfusionMatrix,
    names: &[String],
) -> Result<()> {
    let n = matrix.classes().max(1);
    let (width, height) = root.dim_in_pixel();
    let (left, top) = (170i32, 110i32);
    let cell = ((width as i32 - left - 30).min(height as i32 - top - 30) / n as i32).max(4);
    let label = |i: usize| -> String {
        let name = names.get(i).cloned().unwrap_or_else(|| i.to_string());
        if name.chars().count() > 16 {
            name.chars().take(15).collect::<String>() + "…"
        } else {
            name
        }
    };
    let e = |e| anyhow!("{e}");
    let title = TextStyle::from((FAMILY, 22).into_font());
    root.draw(&Text::new(
        format!(
            "confusion matrix — accuracy {:.2}% of {}",
            100.0 * matrix.accuracy(),
            matrix.total()
        ),
        (20, 14),
        title,
    ))
    .map_err(e)?;
    let small = TextStyle::from((FAMILY, 14).into_font());
    root.draw(&Text::new("predicted →", (left, top - 50), small.clone()))
        .map_err(e)?;
    root.draw(&Text::new("true ↓", (20, top - 24), small.clone()))
        .map_err(e)?;
    for i in 0..n {
        // Row labels on the left, column labels above (rotated would need more than the
        // bitmap backend offers; short names fit).
        root.draw(&Text::new(
            label(i),
            (20, top + i as i32 * cell + cell / 2 - 7),
            small.clone(),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            label(i).chars().take(6).collect::<String>(),
            (left + i as i32 * cell + 2, top - 22),
            small.clone(),
        ))
        .map_err(e)?;
    }
    for (t, row) in matrix.counts.iter().enumerate() {
        let row_total: usize = row.iter().sum();
        for (p, &count) in row.iter().enumerate() {
            let fraction = if row_total == 0 {
                0.0
            } else {
                count as f64 / row_total as f64
            };
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                blue_scale(fraction).filled(),
            ))
            .map_err(e)?;
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                RGBColor(200, 200, 200),
            ))
            .map_err(e)?;
            if cell >= 24 {
                let color = if fraction > 0.5 { WHITE } else { BLACK };
                let size = (cell / 3).clamp(9, 16);
                root.draw(&Text::new(
                    count.to_string(),
                    (x + 4, y + cell / 2 - size / 2),
                    TextStyle::from((FAMILY, size).into_font()).color(&color),
                ))
                .map_err(e)?;
            }
        }
    }
    Ok(())
}

/// Where the tiles of a weights picture go.
struct TileLayout {
    /// Tiles per row.
    columns: usize,
    /// Rows of tiles.
    rows: usize,
    /// Tile size in pixels (width, height).
    tile: (usize, usize),
    /// Pixels per weight (width, height).
    pixel: (usize, usize),
    /// Space between tiles and around the picture.
    gap: usize,
}

impl TileLayout {
    fn width(&self) -> u32 {
        (self.columns * (self.tile.0 + self.gap) + self.gap) as u32
    }
    fn height(&self) -> u32 {
        (self.rows * (self.tile.1 + self.gap) + self.gap) as u32
    }
}

/// A roughly square grid of one tile per neuron; an image-shaped tile when the inputs
/// are an image, otherwise one strip per neuron.
fn tile_layout(neurons: usize, inputs: usize, shape: Option<ImageShape>) -> TileLayout {
    let neurons = neurons.max(1);
    match shape.filter(|s| s.feature_count() == inputs) {
        Some(s) => {
            let side = s.height.max(s.width).max(1);
            let scale = (96 / side).max(1);
            let columns = (neurons as f64).sqrt().ceil() as usize;
            TileLayout {
                columns,
                rows: neurons.div_ceil(columns),
                tile: (s.width * scale, s.height * scale),
                pixel: (scale, scale),
                gap: 6,
            }
        }
        None => {
            let pixel = (900 / inputs.max(1)).clamp(1, 24);
            TileLayout {
                columns: 1,
                rows: neurons,
                tile: (inputs.max(1) * pixel, 12),
                pixel: (pixel, 12),
                gap: 2,
            }
        }
    }
}

/// Red for positive, blue for negative, white for 0, by `value / scale`.
fn diverging(value: f32, scale: f32) -> RGBColor {
    let f = if scale > 0.0 {
        (value / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let fade = |c: f32| (255.0 - (255.0 - c) * f.abs()).round() as u8;
    if f >= 0.0 {
        RGBColor(fade(178.0), fade(24.0), fade(43.0))
    } else {
        RGBColor(fade(33.0), fade(102.0), fade(172.0))
    }
}

fn draw_weights<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    weights: &[f32],
    inputs: usize,
    shape: Option<ImageShape>,
) -> Result<()> {
    let inputs = inputs.max(1);
    let neurons = weights.len() / inputs;
    let layout = tile_layout(neurons, inputs, shape);
    let image = shape.filter(|s| s.feature_count() == inputs);
    for (neuron, row) in weights.chunks_exact(inputs).enumerate() {
        // Each tile has its own colour scale, its largest |w|, so that a neuron with
        // small weights still shows its pattern.
        let scale = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let (tx, ty) = (
            layout.gap + (neuron % layout.columns) * (layout.tile.0 + layout.gap),
            layout.gap + (neuron / layout.columns) * (layout.tile.1 + layout.gap),
        );
        let (pw, ph) = layout.pixel;
        let cell = |x: usize, y: usize, value: f32| {
            let (x0, y0) = ((tx + x * pw) as i32, (ty + y * ph) as i32);
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + pw as i32, y0 + ph as i32)],
                diverging(value, scale).filled(),
            ))
            .map_err(|e| anyhow!("{e}"))
        };
        match image {
            Some(s) => {
                for y in 0..s.height {
                    for x in 0..s.width {
                        // Channels last: a colour image's tile shows the channels' mean.
                        let at = (y * s.width + x) * s.channels;
                        let value =
                            row[at..at + s.channels].iter().sum::<f32>() / s.channels as f32;
                        cell(x, y, value)?;
                    }
                }
            }
            None => {
                for (x, &value) in row.iter().enumerate() {
                    cell(x, 0, value)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_is_a_font() {
        assert!(plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    }

    #[test]
    fn pictures_are_drawn_to_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = ConfusionMatrix::new(3);
        for (t, p) in [(0, 0), (1, 1), (2, 1), (2, 2)] {
            m.add(t, p);
        }
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        for ext in ["png", "svg"] {
            let path = dir.path().join(format!("m.{ext}"));
            save(&path, &Figure::Confusion(&m, &names)).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 100);
            let path = dir.path().join(format!("w.{ext}"));
            let weights: Vec<f32> = (0..4 * 16).map(|i| (i as f32 - 30.0) / 10.0).collect();
            let figure = Figure::Weights {
                weights: &weights,
                inputs: 16,
                shape: Some(ImageShape::new(4, 4, 1)),
            };
            save(&path, &figure).unwrap();
        }
        assert!(save(&dir.path().join("x.gif"), &Figure::Confusion(&m, &names)).is_err());
        // Nothing but the pictures is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }
}
