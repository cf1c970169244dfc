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
use glassbox::train::{History, StopReason};
use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, KeyPointWeight, NoDefaultFormatting, Ranged,
    ValueFormatter,
};
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
            Figure::Confusion(m, names) => {
                let (left, top) = confusion_margins(names);
                let grid = m.classes() as u32 * 56 + 30;
                (
                    (left + grid).clamp(420, 1800),
                    (top + grid).clamp(420, 1800),
                )
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

/// The picture formats, by file extension.
const EXTENSIONS: [&str; 2] = ["png", "svg"];

/// `path`'s extension, lower case.
fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// Fails when `path` does not name a picture format [`save`] writes, so that a command
/// can refuse it before its work rather than after.
pub fn check_extension(path: &Path) -> Result<()> {
    if EXTENSIONS.contains(&extension(path).as_str()) {
        Ok(())
    } else {
        Err(anyhow!(
            "{}: the file name must end in .png or .svg",
            path.display()
        ))
    }
}

/// Draws `figure` to `path` (.png or .svg).
pub fn save(path: &Path, figure: &Figure) -> Result<()> {
    register_font();
    let extension = extension(path);
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
    let last_epoch = epochs.last().map_or(1, |r| r.epoch).max(1);
    let best = match history.stop {
        StopReason::EarlyStopped { best_epoch } => Some(best_epoch),
        _ => None,
    };
    // The loss on a logarithmic axis: the first epoch's loss is often ten times the
    // last's, and on a linear axis it flattens every later epoch into the floor.
    let (low, high) = value_range(&losses);
    let positive = losses
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, v)| v))
        .all(|v| v > 0.0);
    if positive && low > 0.0 {
        let (bottom, top) = (low / 1.15, high * 1.15);
        line_chart(
            &left,
            "loss per epoch (log scale)",
            "loss",
            last_epoch,
            &losses,
            LogAxis {
                low: bottom,
                high: top,
            },
            (bottom, top),
            best,
            SeriesLabelPosition::UpperRight,
        )?;
    } else {
        let pad = ((high - low) * 0.05).max(1e-6);
        let (bottom, top) = (low - pad, high + pad);
        line_chart(
            &left,
            "loss per epoch",
            "loss",
            last_epoch,
            &losses,
            bottom..top,
            (bottom, top),
            best,
            SeriesLabelPosition::UpperRight,
        )?;
    }
    if accuracies.iter().any(|(_, _, p)| !p.is_empty()) {
        // From just below the lowest accuracy, not from 0%: 83–91% curves are not flat.
        let (low, high) = value_range(&accuracies);
        let pad = ((high - low) * 0.05).max(0.5);
        let (bottom, top) = ((low - pad).max(0.0), (high + pad).min(100.0));
        line_chart(
            &right,
            "accuracy per epoch",
            "accuracy (%)",
            last_epoch,
            &accuracies,
            bottom..top,
            (bottom, top),
            best,
            SeriesLabelPosition::LowerRight,
        )?;
    }
    Ok(())
}

/// The smallest and largest value of the series ((0, 1) when there is none).
fn value_range(series: &[Series]) -> (f64, f64) {
    let values = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, v)| v));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if low.is_finite() {
        (low, high)
    } else {
        (0.0, 1.0)
    }
}

/// An epoch axis from `first` to `last`, marked at `ticks` and nowhere else.
struct EpochAxis {
    first: usize,
    last: usize,
    ticks: Vec<usize>,
}

impl Ranged for EpochAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = usize;

    fn map(&self, value: &usize, (low, high): (i32, i32)) -> i32 {
        let span = (self.last - self.first).max(1) as f64;
        let t = (*value as f64 - self.first as f64) / span;
        low + (t * f64::from(high - low)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<usize> {
        match hint.weight() {
            KeyPointWeight::Bold => self.ticks.clone(),
            KeyPointWeight::Any => Vec::new(),
        }
    }

    fn range(&self) -> std::ops::Range<usize> {
        self.first..self.last
    }
}

/// A logarithmic axis from `low` to `high` (both > 0), marked at 1, 2 and 5 times the
/// powers of ten in between (or every digit when that gives too few marks).
struct LogAxis {
    low: f64,
    high: f64,
}

impl LogAxis {
    /// The marks within the axis, smallest first.
    fn ticks(&self) -> Vec<f64> {
        let within = |mantissas: &[f64]| -> Vec<f64> {
            let (first, last) = (
                self.low.log10().floor() as i32,
                self.high.log10().ceil() as i32,
            );
            (first..=last)
                // m / 10ᵏ rather than m · 10⁻ᵏ: 3 / 10 is 0.3 exactly as f64 shows it.
                .flat_map(|k| {
                    mantissas.iter().map(move |m| {
                        if k < 0 {
                            m / 10f64.powi(-k)
                        } else {
                            m * 10f64.powi(k)
                        }
                    })
                })
                .filter(|v| (self.low..=self.high).contains(v))
                .collect()
        };
        let ticks = within(&[1.0, 2.0, 5.0]);
        if ticks.len() < 3 {
            within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else if ticks.len() > 12 {
            within(&[1.0])
        } else {
            ticks
        }
    }
}

impl Ranged for LogAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (low, high): (i32, i32)) -> i32 {
        let (a, b) = (self.low.ln(), self.high.ln());
        let t = (value.max(f64::MIN_POSITIVE).ln() - a) / (b - a);
        low + (t * f64::from(high - low)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.ticks(),
            KeyPointWeight::Any => Vec::new(),
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.low..self.high
    }
}

impl ValueFormatter<f64> for LogAxis {
    /// As many decimals as the mark's first digit needs: 0.05, 0.2, 3, 20.
    fn format(value: &f64) -> String {
        let decimals = (-value.log10().floor()).max(0.0) as usize;
        format!("{value:.decimals$}")
    }
}

/// Whole epochs to mark on an axis from 1 to `last`: every epoch when there are few,
/// else every 2nd, 5th, 10th, 20th, … (at most 11 marks), so no label repeats.
fn epoch_ticks(last: usize) -> Vec<usize> {
    let last = last.max(1);
    let step = [1, 2, 5]
        .iter()
        .cycle()
        .zip((0..).flat_map(|k| std::iter::repeat_n(10usize.pow(k), 3)))
        .map(|(m, p)| m * p)
        .find(|step| last / step <= 10)
        .unwrap_or(1);
    let mut ticks = vec![1];
    ticks.extend((step..=last).step_by(step).filter(|&t| t > 1));
    ticks
}

/// A line per series over the epochs, on the y axis `y` spanning `(bottom, top)`, with
/// a dashed line at the best epoch when early stopping chose one.
#[allow(clippy::too_many_arguments)]
fn line_chart<DB: DrawingBackend, Y>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    last_epoch: usize,
    series: &[Series],
    y: Y,
    (bottom, top): (f64, f64),
    best: Option<usize>,
    legend: SeriesLabelPosition,
) -> Result<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    // Epochs are whole numbers: an integer axis marks whole epochs only, each once.
    let ticks = epoch_ticks(last_epoch);
    let (first, last) = if last_epoch > 1 {
        (1, last_epoch)
    } else {
        (0, 2)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(EpochAxis { first, last, ticks }, y)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_labels(8)
        .y_desc(y_label)
        .label_style((FAMILY, 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (name, color, points) in series.iter().filter(|(_, _, p)| !p.is_empty()) {
        let color = *color;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(epoch, v)| (epoch as usize, v)),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    if let Some(best) = best {
        let grey = RGBColor(90, 90, 90);
        chart
            .draw_series(DashedLineSeries::new(
                [(best, bottom), (best, top)],
                6,
                4,
                grey.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("best epoch {best} (kept by early stopping)"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2))
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
    let (left, top) = confusion_margins(names);
    let (left, top) = (left as i32, top as i32);
    let cell = ((width as i32 - left - 30).min(height as i32 - top - 30) / n as i32).max(4);
    let label = |i: usize| -> String { names.get(i).cloned().unwrap_or_else(|| i.to_string()) };
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
    root.draw(&Text::new("predicted →", (left, 44), small.clone()))
        .map_err(e)?;
    root.draw(&Text::new("true ↓", (20, top - 24), small.clone()))
        .map_err(e)?;
    // Column labels read upwards, so that whole names fit above narrow cells.
    let upwards = small.transform(FontTransform::Rotate270);
    for i in 0..n {
        // Full names: row labels on the left, column labels above.
        root.draw(&Text::new(
            label(i),
            (20, top + i as i32 * cell + cell / 2 - 7),
            small.clone(),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            label(i),
            (left + i as i32 * cell + cell / 2 - 7, top - 8),
            upwards.clone(),
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

/// Pixels left of and above the confusion matrix's cells: room for the longest class
/// name (DejaVu Sans at 14 px is at most about 9 px a character), written whole.
fn confusion_margins(names: &[String]) -> (u32, u32) {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(2) as u32;
    let text = longest * 9;
    ((40 + text).max(120), (72 + text).max(110))
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

/// Positive weights' colour, the playground's blue (`colour` in the page's app.js).
const POSITIVE: (f32, f32, f32) = (8.0, 119.0, 189.0);
/// Negative weights' colour, the playground's orange.
const NEGATIVE: (f32, f32, f32) = (245.0, 147.0, 34.0);

/// Blue for positive, orange for negative, white for 0, by `value / scale` — the page's
/// scheme, so a weight looks the same in a CLI picture and in the playground.
fn diverging(value: f32, scale: f32) -> RGBColor {
    let f = if scale > 0.0 {
        (value / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let fade = |c: f32| (255.0 - (255.0 - c) * f.abs()).round() as u8;
    let (r, g, b) = if f >= 0.0 { POSITIVE } else { NEGATIVE };
    RGBColor(fade(r), fade(g), fade(b))
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
    fn epoch_ticks_are_whole_epochs_without_repeats() {
        assert_eq!(epoch_ticks(5), [1, 2, 3, 4, 5]);
        assert_eq!(epoch_ticks(1), [1]);
        assert_eq!(epoch_ticks(12), [1, 2, 4, 6, 8, 10, 12]);
        assert_eq!(epoch_ticks(276), [1, 50, 100, 150, 200, 250]);
        for last in 1..2000 {
            let ticks = epoch_ticks(last);
            assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{last}: {ticks:?}");
            assert!(
                ticks.len() <= 11 && *ticks.last().unwrap() <= last,
                "{last}"
            );
            // Intermediate marks, not only the ends.
            assert!(last < 3 || ticks.len() >= 3, "{last}: {ticks:?}");
        }
    }

    #[test]
    fn the_log_loss_axis_is_marked_between_its_ends() {
        let axis = LogAxis {
            low: 0.015,
            high: 0.8,
        };
        assert_eq!(axis.ticks(), [0.02, 0.05, 0.1, 0.2, 0.5]);
        let labels: Vec<String> = axis.ticks().iter().map(LogAxis::format).collect();
        assert_eq!(labels, ["0.02", "0.05", "0.1", "0.2", "0.5"]);
        // A narrow range still gets marks between its ends.
        let narrow = LogAxis {
            low: 0.21,
            high: 0.48,
        };
        assert_eq!(narrow.ticks(), [0.3, 0.4]);
    }

    /// The texts of an SVG picture, in order.
    fn svg_texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
            .map(|(text, _)| text.trim().to_string())
            .collect()
    }

    #[test]
    fn the_history_marks_the_early_stopping_epoch_and_labels_each_epoch_once() {
        use glassbox::train::EpochReport;
        let report = |epoch: usize| EpochReport {
            epoch,
            train_loss: 0.2 / epoch as f64,
            train_accuracy: Some(0.8 + 0.01 * epoch as f64),
            validation_loss: Some(0.1 + (epoch as f64 - 3.0).powi(2) / 100.0),
            validation_accuracy: Some(0.83 + 0.01 * epoch as f64),
            test_loss: None,
            test_accuracy: None,
            learning_rate: 0.1,
            seconds: 0.01,
            threads: 1,
        };
        let history = History {
            epochs: (1..=5).map(report).collect(),
            stop: StopReason::EarlyStopped { best_epoch: 3 },
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.svg");
        save(&path, &Figure::History(&history)).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let texts = svg_texts(&svg);
        assert_eq!(
            texts
                .iter()
                .filter(|t| t.as_str() == "best epoch 3 (kept by early stopping)")
                .count(),
            2,
            "marked on both charts: {texts:?}"
        );
        // Each chart labels epochs 1 to 5, each once.
        for epoch in 1..=5 {
            let count = texts.iter().filter(|t| **t == epoch.to_string()).count();
            assert_eq!(count, 2, "epoch {epoch}: {texts:?}");
        }
        assert!(texts.iter().any(|t| t.contains("log scale")), "{texts:?}");
    }

    #[test]
    fn the_confusion_matrix_shows_whole_class_names() {
        let names: Vec<String> = [
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
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut m = ConfusionMatrix::new(10);
        for c in 0..10 {
            m.add(c, c);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        save(&path, &Figure::Confusion(&m, &names)).unwrap();
        let texts = svg_texts(&std::fs::read_to_string(&path).unwrap());
        for name in &names {
            // A row label and a column label, whole.
            let count = texts.iter().filter(|t| *t == name).count();
            assert_eq!(count, 2, "{name}: {texts:?}");
        }
    }

    #[test]
    fn weights_use_the_pages_blue_and_orange() {
        assert_eq!(diverging(1.0, 1.0), RGBColor(8, 119, 189));
        assert_eq!(diverging(-2.0, 1.0), RGBColor(245, 147, 34));
        assert_eq!(diverging(0.0, 1.0), RGBColor(255, 255, 255));
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
