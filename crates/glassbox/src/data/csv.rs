//! CSV files with a header row: numeric feature columns and one label column.
//!
//! ```text
//! sepal_length,sepal_width,petal_length,petal_width,species     ← line 1: the header
//! 5.1,3.5,1.4,0.2,setosa                                        ← line 2: one example
//! ```
//!
//! Every column but the label column is a feature, parsed as f32 and used as given (scale
//! it with [`Scaler`](super::Scaler), fitted on the training part). The label column is
//! chosen by [`LabelColumn`]. For classification, labels may be integers or any text: the
//! classes are the distinct labels, sorted numerically when every label is an integer and
//! lexicographically otherwise, and their names are the label texts. For regression
//! ([`CsvOptions::regression`]) the label is one real-valued target.
//!
//! Fields are read by the [`csv`](https://docs.rs/csv) crate: separated by commas, each
//! optionally in double quotes (RFC 4180: `""` inside quotes is one `"`, and a quoted field
//! may hold commas and line breaks), records ending in `\n` or `\r\n`. Spaces around a
//! field are trimmed; a quoted field starts with its quote (`a, "b, c"` has three fields).
//! Blank lines are skipped, a UTF-8 byte-order mark is ignored, and a double quote that is
//! never closed is an error. A file that starts with the gzip magic bytes is decompressed
//! first, whatever its name. Errors name the file and the line a record starts on (1-based,
//! counting blank lines), and the column.
//!
//! # Examples
//!
//! ```
//! use glassbox::data::csv::{self, CsvOptions};
//! # fn main() -> glassbox::Result<()> {
//! # let dir = tempfile::tempdir().map_err(|e| glassbox::Error::io("tempdir", e))?;
//! let path = dir.path().join("points.csv");
//! std::fs::write(&path, "x,y,label\n0.5,1.0,red\n-1.0,2.0,blue\n")
//!     .map_err(|e| glassbox::Error::io(&path, e))?;
//! let data = csv::load(&path, &CsvOptions::default())?;
//! assert_eq!((data.len(), data.width()), (2, 2));
//! assert_eq!(data.class_names(), ["blue", "red"]);
//! assert_eq!(data.labels(), Some(&[1, 0][..]));
//! # Ok(())
//! # }
//! ```

use super::{has_gz_name, read_text, write_file, Dataset, Targets};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Which column holds the label (or the regression target).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The column with this header name (exact match first, then ignoring case).
    Name(String),
    /// The column at this 0-based position.
    Index(usize),
    /// The first column named `label`, else `class`, else `target`, else `y` (ignoring
    /// case), else the last column.
    #[default]
    Auto,
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvOptions {
    /// Which column is the label; the others are features.
    pub label_column: LabelColumn,
    /// Read the label column as one real-valued target instead of a class.
    pub regression: bool,
}

/// The header names [`LabelColumn::Auto`] looks for, compared ignoring case.
const AUTO_LABEL_NAMES: [&str; 4] = ["label", "class", "target", "y"];

/// The records of a CSV text, read by the `csv` crate, with the line each starts on.
struct Records<'a> {
    path: &'a Path,
    text: &'a [u8],
    reader: ::csv::Reader<&'a [u8]>,
    record: ::csv::StringRecord,
}

impl<'a> Records<'a> {
    fn new(path: &'a Path, text: &'a [u8]) -> Self {
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false) // the header is read as a record, to report its errors
            .flexible(true) // rows of another length are reported with the header's count
            .from_reader(text);
        Records {
            path,
            text,
            reader,
            record: ::csv::StringRecord::new(),
        }
    }

    /// Reads the next record that is not blank; returns the line it starts on, or `None`
    /// at the end of the text. Its fields are then [`Records::field`].
    fn next(&mut self) -> Result<Option<usize>> {
        loop {
            let read = self.reader.read_record(&mut self.record);
            // Where the reader stood before the record, blank lines included.
            let start = self
                .record
                .position()
                .cloned()
                .unwrap_or_else(::csv::Position::new);
            let line = self.line_of(&start);
            match read {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.error(line, &e)),
            }
            if self.record.len() == 1 && self.record[0].trim().is_empty() {
                continue; // a line of spaces
            }
            if self.reader.position().byte() as usize == self.text.len() {
                self.check_quotes_closed(start.byte(), line)?;
            }
            return Ok(Some(line));
        }
    }

    /// The number of fields of the current record.
    fn len(&self) -> usize {
        self.record.len()
    }

    /// Field `i` of the current record, trimmed.
    fn field(&self, i: usize) -> &str {
        self.record[i].trim()
    }

    /// The fields of the current record, trimmed.
    fn fields(&self) -> impl Iterator<Item = &str> {
        self.record.iter().map(str::trim)
    }

    /// The line of the first record at or after `start`: the reader's position counts
    /// the blank lines it skips before a record as part of it.
    fn line_of(&self, start: &::csv::Position) -> usize {
        let skipped = self.text[start.byte() as usize..]
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .filter(|&&b| b == b'\n')
            .count();
        start.line() as usize + skipped
    }

    /// The crate reads a double quote that is never closed as a field running to the end
    /// of the text, without an error; a record that reached the end is checked for one
    /// here, from `start`, by following the quotes as the crate does.
    fn check_quotes_closed(&self, start: u64, line: usize) -> Result<()> {
        #[derive(PartialEq)]
        enum State {
            FieldStart,
            Unquoted,
            Quoted,
            QuoteInQuoted,
        }
        let mut state = State::FieldStart;
        let mut field = 1;
        for &b in &self.text[start as usize..] {
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::FieldStart | State::QuoteInQuoted, b'"') => State::Quoted,
                (_, b',') => {
                    field += 1;
                    State::FieldStart
                }
                (_, b'\n' | b'\r') => State::FieldStart,
                _ => State::Unquoted,
            };
        }
        if state == State::Quoted {
            return Err(Error::format(
                self.path,
                format!("line {line}"),
                format!("field {field} opens a double quote that is never closed"),
            ));
        }
        Ok(())
    }

    /// An error of the `csv` crate at the record starting on `line`.
    fn error(&self, line: usize, e: &::csv::Error) -> Error {
        let message = match e.kind() {
            ::csv::ErrorKind::Utf8 { err, .. } => {
                format!("field {} is not valid UTF-8 text", err.field() + 1)
            }
            _ => e.to_string(),
        };
        Error::format(self.path, format!("line {line}"), message)
    }
}

/// Columns named in a message before it shortens the list.
const LISTED_COLUMNS: usize = 10;

/// The header's names for a message: all of them when there are few, else the first
/// and the last few around "…" and the count, so that a 785-column image table gives
/// one short line.
fn list_columns(header: &[String]) -> String {
    let quoted = |names: &[String]| {
        names
            .iter()
            .map(|name| format!("{name:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if header.len() <= LISTED_COLUMNS {
        return quoted(header);
    }
    let (first, last) = (&header[..6], &header[header.len() - 3..]);
    format!(
        "{}, …, {} ({} columns)",
        quoted(first),
        quoted(last),
        header.len()
    )
}

/// Finds the label column in the header.
fn find_label_column(path: &Path, header: &[String], choice: &LabelColumn) -> Result<usize> {
    let listed = || list_columns(header);
    match choice {
        LabelColumn::Name(name) => header
            .iter()
            .position(|h| h == name)
            .or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
            .ok_or_else(|| {
                Error::format(
                    path,
                    "header",
                    format!("no label column {name:?}; the columns are {}", listed()),
                )
            }),
        LabelColumn::Index(index) if *index < header.len() => Ok(*index),
        LabelColumn::Index(index) => Err(Error::format(
            path,
            "header",
            format!(
                "no label column at index {index}: there are {} columns (0-based: {})",
                header.len(),
                listed()
            ),
        )),
        // In the order of AUTO_LABEL_NAMES, so that "x,y,label" picks "label".
        LabelColumn::Auto => Ok(AUTO_LABEL_NAMES
            .iter()
            .find_map(|n| header.iter().position(|h| h.eq_ignore_ascii_case(n)))
            .unwrap_or(header.len() - 1)),
    }
}

/// Loads a CSV file (or gzip-compressed CSV) with a header row as a data set.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::EmptyData`] when it has no header
/// or no rows after the header; [`Error::Format`] naming the file and line for text that
/// is not UTF-8, a double quote that is never closed, a non-numeric or non-finite (nan,
/// inf) feature (with the column name and the text), a row with a different number of
/// fields than the header, a label column that is not there (listing the columns), a
/// header with only the label column, or an empty label.
pub fn load(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = read_text(path)?;
    read_table(path, &bytes, options).map(|(data, _lines)| data)
}

/// Reads a CSV text with a header row: the data set, and the line each row starts on.
fn read_table(path: &Path, text: &[u8], options: &CsvOptions) -> Result<(Dataset, Vec<usize>)> {
    let mut records = Records::new(path, text);
    let Some(header_line) = records.next()? else {
        return Err(Error::EmptyData {
            what: path.display().to_string(),
            message: "the file is empty: expected a header row and then examples".into(),
        });
    };
    let header: Vec<String> = records.fields().map(str::to_string).collect();
    let label_column = find_label_column(path, &header, &options.label_column)?;
    let columns = header.len();
    if columns < 2 {
        return Err(Error::format(
            path,
            format!("line {header_line}"),
            format!(
                "only the label column {:?}: at least one feature column is needed",
                header[label_column]
            ),
        ));
    }
    let width = columns - 1;

    let mut features = Vec::new();
    let mut label_texts: Vec<String> = Vec::new();
    let mut targets = Vec::new();
    let mut lines = Vec::new();
    while let Some(line) = records.next()? {
        if records.len() != columns {
            return Err(Error::format(
                path,
                format!("line {line}"),
                format!(
                    "expected {columns} fields (as in the header), found {}",
                    records.len()
                ),
            ));
        }
        for (column, field) in records.fields().enumerate() {
            if column != label_column {
                features.push(parse_number(path, line, &header[column], field)?);
            }
        }
        let label = records.field(label_column);
        if options.regression {
            targets.push(parse_number(path, line, &header[label_column], label)?);
        } else if label.is_empty() {
            return Err(Error::format(
                path,
                format!("line {line}"),
                format!("the label column {:?} is empty", header[label_column]),
            ));
        } else {
            label_texts.push(label.to_string());
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(Error::EmptyData {
            what: path.display().to_string(),
            message: "only a header row: expected examples after it".into(),
        });
    }

    let data = if options.regression {
        Dataset::regression(features, width, targets, 1)?
    } else {
        let (labels, class_names) = classes_of(&label_texts);
        Dataset::classification(features, width, labels, class_names)?
    };
    Ok((data, lines))
}

/// Rows of features read from a CSV file to run a network on ([`load_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// `lines.len() × width` features, row-major.
    pub features: Vec<f32>,
    /// Features per row.
    pub width: usize,
    /// The line each row starts on (1-based).
    pub lines: Vec<usize>,
}

/// Reads the rows of a CSV file (or gzip-compressed CSV) as inputs for a network that
/// takes `width` features. When `label` is `None` and the first record has `width`
/// fields, every column is a feature and the first record is a header when none of its
/// fields is a number. Any other file is read as [`load`] reads it (a header, and a label
/// column chosen by `label`, else [`LabelColumn::Auto`]) and its labels are dropped; its
/// rows may then have another width than `width`, which the caller checks.
///
/// # Errors
/// As [`load`]; for a file of features alone, [`Error::Format`] naming the line for a row
/// of another length than `width` or a field that is not a finite number (with its
/// 1-based column), and [`Error::EmptyData`] when there are no rows.
pub fn load_inputs(
    path: impl AsRef<Path>,
    width: usize,
    label: Option<&LabelColumn>,
) -> Result<Inputs> {
    let path = path.as_ref();
    let bytes = read_text(path)?;
    let mut records = Records::new(path, &bytes);
    let features_only = label.is_none() && records.next()?.is_some() && records.len() == width;
    if !features_only {
        let options = CsvOptions {
            label_column: label.cloned().unwrap_or_default(),
            regression: false,
        };
        let (data, lines) = read_table(path, &bytes, &options)?;
        return Ok(Inputs {
            features: data.features().to_vec(),
            width: data.width(),
            lines,
        });
    }

    let finite = |field: &str| field.parse::<f32>().ok().filter(|x| x.is_finite());
    let mut records = Records::new(path, &bytes);
    let mut features = Vec::new();
    let mut lines = Vec::new();
    let mut first = true;
    while let Some(line) = records.next()? {
        if std::mem::take(&mut first) && records.fields().all(|f| finite(f).is_none()) {
            continue; // the header
        }
        if records.len() != width {
            return Err(Error::format(
                path,
                format!("line {line}"),
                format!(
                    "expected {width} fields (one per input), found {}",
                    records.len()
                ),
            ));
        }
        for (column, field) in records.fields().enumerate() {
            match finite(field) {
                Some(x) => features.push(x),
                None => {
                    return Err(Error::format(
                        path,
                        format!("line {line}"),
                        format!(
                            "column {}: expected a finite number, found {field:?}",
                            column + 1
                        ),
                    ))
                }
            }
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(Error::EmptyData {
            what: path.display().to_string(),
            message: "no rows of features".into(),
        });
    }
    Ok(Inputs {
        features,
        width,
        lines,
    })
}

/// Parses one numeric field, which must be a finite number.
fn parse_number(path: &Path, line: usize, column: &str, field: &str) -> Result<f32> {
    match field.parse::<f32>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(Error::format(
            path,
            format!("line {line}"),
            format!("column {column:?}: {field:?} is not a finite number"),
        )),
        Err(_) => Err(Error::format(
            path,
            format!("line {line}"),
            format!("column {column:?}: expected a number, found {field:?}"),
        )),
    }
}

/// Turns label texts into class indices and names: classes sorted numerically when every
/// label is an integer (named by the integer), else lexicographically (named by the text).
fn classes_of(texts: &[String]) -> (Vec<usize>, Vec<String>) {
    let integers: Option<Vec<i64>> = texts.iter().map(|t| t.parse::<i64>().ok()).collect();
    match integers {
        Some(values) => {
            let classes: BTreeMap<i64, usize> = values.iter().map(|&v| (v, 0)).collect();
            let index: BTreeMap<i64, usize> =
                classes.keys().enumerate().map(|(i, &v)| (v, i)).collect();
            let labels = values.iter().map(|v| index[v]).collect();
            (labels, index.keys().map(i64::to_string).collect())
        }
        None => {
            let index: BTreeMap<&str, usize> = {
                let mut names: Vec<&str> = texts.iter().map(String::as_str).collect();
                names.sort_unstable();
                names.dedup();
                names.into_iter().enumerate().map(|(i, n)| (n, i)).collect()
            };
            let labels = texts.iter().map(|t| index[t.as_str()]).collect();
            (labels, index.keys().map(|n| n.to_string()).collect())
        }
    }
}

/// Writes `data` as CSV with the header `x0,x1,…,label` that [`load`] reads back: class
/// names for classification (quoted by the `csv` crate when they hold a comma, a quote or
/// a line break), the value for regression. Floats are written in their shortest exact
/// form, so the round trip is exact (class names are trimmed when read back). A name
/// ending in `.gz` is gzip-compressed. The file is written atomically
/// ([`crate::file::write_atomically`]).
///
/// # Errors
/// [`Error::Shape`] for regression with more than one target per row (one label column
/// holds one value); [`Error::Io`] when the file cannot be written.
pub fn save(data: &Dataset, path: impl AsRef<Path>) -> Result<()> {
    use std::fmt::Write as _;
    let path = path.as_ref();
    if let Targets::Values { width, .. } = data.targets() {
        if *width != 1 {
            return Err(Error::Shape(format!(
                "CSV has one label column but the data set has {width} targets per row"
            )));
        }
    }
    let io_error = |e: ::csv::Error| Error::io(path, e.into());
    let mut writer = ::csv::Writer::from_writer(Vec::with_capacity(data.len() * data.width() * 8));
    let header = (0..data.width())
        .map(|j| format!("x{j}"))
        .chain(["label".to_string()]);
    writer.write_record(header).map_err(io_error)?;
    let mut field = String::new();
    for i in 0..data.len() {
        for x in data.row(i).iter() {
            field.clear();
            let _ = write!(field, "{x}"); // writing to a String cannot fail
            writer.write_field(&field).map_err(io_error)?;
        }
        match data.targets() {
            Targets::Classes(labels) => writer.write_field(&data.class_names()[labels[i]]),
            Targets::Values { values, .. } => writer.write_field(values[i].to_string()),
        }
        .map_err(io_error)?;
        writer.write_record(None::<&[u8]>).map_err(io_error)?;
    }
    let text = writer
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    write_file(path, &text, has_gz_name(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn error(text: &str, options: &CsvOptions) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "bad.csv", text);
        load(&path, options).unwrap_err().to_string()
    }

    #[test]
    fn parses_quotes_spaces_crlf_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "a.csv",
            "\"width, cm\" , height ,Class\r\n\r\n 1.5, 2 ,\"big, \"\"round\"\"\"\r\n3,4e-1,small\n\n",
        );
        let data = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(*data.features(), [1.5, 2.0, 3.0, 0.4]);
        assert_eq!(data.class_names(), ["big, \"round\"", "small"]);
        assert_eq!(data.labels(), Some(&[0, 1][..]));
    }

    #[test]
    fn integer_labels_sort_numerically_and_label_column_can_be_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "n.csv", "id,f,g\n10,1,2\n9,3,4\n-1,5,6\n9,7,8\n");
        let by_name = CsvOptions {
            label_column: LabelColumn::Name("ID".into()),
            regression: false,
        };
        let data = load(&path, &by_name).unwrap();
        assert_eq!(data.class_names(), ["-1", "9", "10"]);
        assert_eq!(data.labels(), Some(&[2, 1, 0, 1][..]));
        assert_eq!(*data.row(0), [1.0, 2.0]);
        let by_index = CsvOptions {
            label_column: LabelColumn::Index(0),
            regression: false,
        };
        assert_eq!(load(&path, &by_index).unwrap(), data);
        // Auto takes the last column when none is named label/class/target/y.
        let auto = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(auto.class_names(), ["2", "4", "6", "8"]);
        assert_eq!(*auto.row(2), [-1.0, 5.0]);
    }

    #[test]
    fn auto_prefers_label_over_a_y_feature() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "xy.csv", "x,Y,Label\n1,2,a\n");
        let data = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(*data.row(0), [1.0, 2.0]);
        assert_eq!(data.class_names(), ["a"]);
    }

    #[test]
    fn regression_reads_the_label_as_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "r.csv", "y,x\n0.5,1\n-2,3\n");
        let options = CsvOptions {
            regression: true,
            ..CsvOptions::default()
        };
        let data = load(&path, &options).unwrap();
        assert_eq!(*data.features(), [1.0, 3.0]);
        assert_eq!(
            data.targets(),
            &Targets::Values {
                width: 1,
                values: vec![0.5, -2.0]
            }
        );
        let saved = dir.path().join("saved.csv.gz");
        save(&data, &saved).unwrap();
        assert_eq!(load(&saved, &options).unwrap(), data);
    }

    #[test]
    fn save_then_load_round_trips_exactly_through_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let data = Dataset::classification(
            vec![0.1, -3.25e-7, 1.0 / 3.0, 12345.678],
            2,
            vec![1, 0],
            vec!["a, b".into(), "c".into()],
        )
        .unwrap();
        for name in ["out.csv", "out.csv.gz"] {
            let path = dir.path().join(name);
            save(&data, &path).unwrap();
            assert_eq!(load(&path, &CsvOptions::default()).unwrap(), data);
        }
        let bytes = std::fs::read(dir.path().join("out.csv.gz")).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn non_numeric_and_non_finite_features_name_line_and_column() {
        let options = CsvOptions::default();
        let message = error("a,b,label\n1,2,x\n3,abc,y\n", &options);
        assert!(
            message.contains("bad.csv: line 3: column \"b\": expected a number, found \"abc\""),
            "{message}"
        );
        let message = error("a,b,label\n1,nan,x\n", &options);
        assert!(
            message.contains("bad.csv: line 2: column \"b\": \"nan\" is not a finite number"),
            "{message}"
        );
        let message = error("a,b,label\n1,2,x\n-inf,2,x\n", &options);
        assert!(
            message.contains("line 3: column \"a\": \"-inf\" is not a finite number"),
            "{message}"
        );
    }

    #[test]
    fn ragged_rows_empty_files_and_missing_label_columns_are_rejected() {
        let options = CsvOptions::default();
        let message = error("a,b,label\n1,2,x\n\n1,2\n", &options);
        assert!(
            message.contains("bad.csv: line 4: expected 3 fields (as in the header), found 2"),
            "{message}"
        );
        let message = error("", &options);
        assert!(
            message.contains("bad.csv: the data set is empty (the file is empty"),
            "{message}"
        );
        let message = error("a,b,label\r\n\r\n", &options);
        assert!(
            message.contains("bad.csv: the data set is empty (only a header row"),
            "{message}"
        );
        let missing = CsvOptions {
            label_column: LabelColumn::Name("species".into()),
            regression: false,
        };
        let message = error("a,b,label\n1,2,x\n", &missing);
        assert!(message.contains("bad.csv: header: no label column \"species\"; the columns are \"a\", \"b\", \"label\""), "{message}");
        let out_of_range = CsvOptions {
            label_column: LabelColumn::Index(3),
            regression: false,
        };
        assert!(error("a,b,label\n1,2,x\n", &out_of_range).contains("no label column at index 3"));
        // A wide table (an image's 784 pixels and a label) is named in a few columns
        // and a count, not 785 names on one line.
        let wide: Vec<String> = std::iter::once("label".to_string())
            .chain((1..=784).map(|i| format!("pixel{i}")))
            .collect();
        let text = format!("{}\n{}\n", wide.join(","), vec!["0"; 785].join(","));
        let message = error(&text, &missing);
        assert!(
            message.contains(
                "the columns are \"label\", \"pixel1\", \"pixel2\", \"pixel3\", \"pixel4\", \
                 \"pixel5\", …, \"pixel782\", \"pixel783\", \"pixel784\" (785 columns)"
            ),
            "{message}"
        );
        assert!(
            message.len() < 300,
            "{} characters: {message}",
            message.len()
        );
        let message = error("label\nx\n", &options);
        assert!(
            message.contains("bad.csv: line 1: only the label column"),
            "{message}"
        );
        let message = error("a,label\n1,\"x\n", &options);
        assert!(
            message.contains("line 2: field 2 opens a double quote that is never closed"),
            "{message}"
        );
        let message = error("a,label\n1,\n", &options);
        assert!(
            message.contains("line 2: the label column \"label\" is empty"),
            "{message}"
        );
    }

    #[test]
    fn quoted_fields_may_hold_commas_quotes_and_line_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let text = "a,label\n1,\"x, \"\"y\"\"\"\n2,\"two\nlines\"\n3,z\n";
        let path = write(&dir, "q.csv", text);
        let data = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(*data.features(), [1.0, 2.0, 3.0]);
        assert_eq!(data.class_names(), ["two\nlines", "x, \"y\"", "z"]);
        // The line of a record after a multi-line field counts the field's lines.
        let message = error(
            "a,label\n1,\"two\nlines\"\nthree,z\n",
            &CsvOptions::default(),
        );
        assert!(
            message.contains("bad.csv: line 4: column \"a\""),
            "{message}"
        );
        // A quote that opens after a space is text: a plain field, cut at the comma.
        let message = error("a,b,label\n1, \"2,3\",x\n", &CsvOptions::default());
        assert!(
            message.contains("line 2: expected 3 fields (as in the header), found 4"),
            "{message}"
        );
    }

    #[test]
    fn lines_count_blank_lines_and_crlf_endings() {
        let options = CsvOptions::default();
        let message = error("\r\n\r\na,label\r\n\r\n1,x\r\n  \r\n\r\nz,y\r\n", &options);
        assert!(
            message.contains("bad.csv: line 8: column \"a\": expected a number, found \"z\""),
            "{message}"
        );
        let message = error("\n\nlabel\n", &options);
        assert!(
            message.contains("bad.csv: line 3: only the label column"),
            "{message}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "bom.csv", "\u{feff}label,x\nb,1\na,2\n");
        let data = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(data.class_names(), ["a", "b"]);
        assert_eq!(*data.features(), [1.0, 2.0]);
    }

    #[test]
    fn unclosed_quotes_and_bad_utf8_name_line_and_field() {
        let options = CsvOptions::default();
        // Without a final line break, and after a field with line breaks in it.
        let message = error("a,label\n1,x\n2,\"y", &options);
        assert!(
            message.contains("line 3: field 2 opens a double quote that is never closed"),
            "{message}"
        );
        let message = error("a,label\n\"1\n\",x\n\"2,y\n3,z\n", &options);
        assert!(
            message.contains("line 4: field 1 opens a double quote that is never closed"),
            "{message}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.csv");
        std::fs::write(&path, b"a,label\n1,x\n2,caf\xe9\n").unwrap();
        let message = load(&path, &options).unwrap_err().to_string();
        assert!(
            message.contains("latin1.csv: line 3: field 2 is not valid UTF-8 text"),
            "{message}"
        );
    }

    #[test]
    fn save_quotes_names_that_need_it_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        // In the order the loader gives classes: sorted.
        let names = ["a,b", "plain", "say \"hi\"", "two\nlines"];
        let data = Dataset::classification(
            vec![1.0, 2.0, 3.0, 4.0],
            1,
            vec![0, 1, 2, 3],
            names.iter().map(|n| n.to_string()).collect(),
        )
        .unwrap();
        let path = dir.path().join("names.csv");
        save(&data, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "x0,label\n1,\"a,b\"\n2,plain\n3,\"say \"\"hi\"\"\"\n4,\"two\nlines\"\n"
        );
        assert_eq!(load(&path, &CsvOptions::default()).unwrap(), data);
    }

    #[test]
    fn inputs_are_features_alone_or_a_table_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        // Two columns for a network of two inputs: all features, the header optional.
        for (name, text) in [
            ("bare.csv", "1,2\n\n3,\"4\"\n"),
            ("header.csv", "a,b\n1,2\n\n3,4\n"),
        ] {
            let inputs = load_inputs(write(&dir, name, text), 2, None).unwrap();
            assert_eq!(inputs.features, [1.0, 2.0, 3.0, 4.0], "{name}");
            assert_eq!(inputs.width, 2);
        }
        let inputs = load_inputs(write(&dir, "h.csv", "a,b\n1,2\n\n3,4\n"), 2, None).unwrap();
        assert_eq!(inputs.lines, [2, 4]);
        // One more column: a table whose label column is dropped.
        let path = write(&dir, "labelled.csv", "a,b,label\n1,2,x\n3,4,y\n");
        let inputs = load_inputs(&path, 2, None).unwrap();
        assert_eq!(
            (inputs.features, inputs.lines),
            (vec![1.0, 2.0, 3.0, 4.0], vec![2, 3])
        );
        let path = write(&dir, "id.csv", "id,f,g\n7,1,2\n8,3,4\n");
        let inputs = load_inputs(&path, 3, Some(&LabelColumn::Name("id".into()))).unwrap();
        assert_eq!(
            (inputs.width, inputs.features),
            (2, vec![1.0, 2.0, 3.0, 4.0])
        );

        let message = load_inputs(write(&dir, "bad.csv", "1,2\n3,x\n"), 2, None)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("bad.csv: line 2: column 2: expected a finite number, found \"x\""),
            "{message}"
        );
        let message = load_inputs(write(&dir, "ragged.csv", "1,2\n3\n"), 2, None)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("ragged.csv: line 2: expected 2 fields (one per input), found 1"),
            "{message}"
        );
        let message = load_inputs(write(&dir, "empty.csv", "a,b\n"), 2, None)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("empty.csv: the data set is empty"),
            "{message}"
        );
    }

    #[test]
    fn non_gzip_bytes_named_gz_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "plain.csv.gz", "a,label\n1,x\n");
        let message = load(&path, &CsvOptions::default()).unwrap_err().to_string();
        assert!(
            message.contains("plain.csv.gz: gzip header: the name ends in .gz"),
            "{message}"
        );
    }
}
