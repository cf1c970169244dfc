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
//! The format accepted: fields separated by commas, each optionally in double quotes
//! (`""` inside quotes is one `"`; a quoted field cannot span lines), spaces around fields
//! trimmed, blank lines skipped, a trailing `\r` allowed. A file that starts with the gzip
//! magic bytes is decompressed first, whatever its name. Errors name the file and the line
//! (1-based; the header is line 1 when the file does not start with blank lines).
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

use super::{has_gz_name, read_maybe_gzip, write_file, Dataset, Targets};
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

/// Splits one line into trimmed fields, honouring double quotes. `Err` holds a message.
fn split_fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        // One field: skip leading spaces, then either a quoted or a plain run.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(format!(
                            "field {} opens a double quote that is never closed",
                            fields.len() + 1
                        ))
                    }
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.peek() {
                None | Some(',') => {}
                Some(c) => {
                    return Err(format!(
                        "field {}: unexpected {c:?} after the closing double quote",
                        fields.len() + 1
                    ))
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
            field.truncate(field.trim_end().len());
        }
        fields.push(field);
        match chars.next() {
            Some(',') => continue,
            _ => return Ok(fields),
        }
    }
}

/// Finds the label column in the header.
fn find_label_column(path: &Path, header: &[String], choice: &LabelColumn) -> Result<usize> {
    let listed = || {
        header
            .iter()
            .map(|name| format!("{name:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
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
/// is not UTF-8, a non-numeric or non-finite (nan, inf) feature (with the column name
/// and the text), a row with a different number of fields than the header, a label
/// column that is not there (listing the columns), a header with only the label column,
/// or an empty label.
pub fn load(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = read_maybe_gzip(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::format(path, format!("line {line}"), "the text is not valid UTF-8")
    })?;

    // Lines numbered from 1, blank ones skipped.
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty());

    let (header_line, header_text) = lines.next().ok_or_else(|| Error::EmptyData {
        what: path.display().to_string(),
        message: "the file is empty: expected a header row and then examples".into(),
    })?;
    let header = split_fields(header_text)
        .map_err(|message| Error::format(path, format!("line {header_line}"), message))?;
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
    for (line_number, line) in lines {
        let record = || format!("line {line_number}");
        let fields =
            split_fields(line).map_err(|message| Error::format(path, record(), message))?;
        if fields.len() != columns {
            return Err(Error::format(
                path,
                record(),
                format!(
                    "expected {columns} fields (as in the header), found {}",
                    fields.len()
                ),
            ));
        }
        for (column, field) in fields.iter().enumerate() {
            if column == label_column {
                continue;
            }
            features.push(parse_number(path, line_number, &header[column], field)?);
        }
        let label = &fields[label_column];
        if options.regression {
            targets.push(parse_number(
                path,
                line_number,
                &header[label_column],
                label,
            )?);
        } else if label.is_empty() {
            return Err(Error::format(
                path,
                record(),
                format!("the label column {:?} is empty", header[label_column]),
            ));
        } else {
            label_texts.push(label.clone());
        }
    }
    if features.is_empty() {
        return Err(Error::EmptyData {
            what: path.display().to_string(),
            message: "only a header row: expected examples after it".into(),
        });
    }

    if options.regression {
        return Dataset::regression(features, width, targets, 1);
    }
    let (labels, class_names) = classes_of(&label_texts);
    Dataset::classification(features, width, labels, class_names)
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

/// Quotes a field when it holds a comma, a quote or surrounding spaces.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) || field.trim() != field {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Writes `data` as CSV with the header `x0,x1,…,label` that [`load`] reads back: class
/// names for classification, the value for regression. Floats are written in their
/// shortest exact form, so the round trip is exact. A name ending in `.gz` is
/// gzip-compressed.
///
/// # Errors
/// [`Error::Shape`] for regression with more than one target per row (one label column
/// holds one value); [`Error::Io`] when the file cannot be written.
pub fn save(data: &Dataset, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if let Targets::Values { width, .. } = data.targets() {
        if *width != 1 {
            return Err(Error::Shape(format!(
                "CSV has one label column but the data set has {width} targets per row"
            )));
        }
    }
    let mut text = String::with_capacity(data.features().len() * 8);
    for j in 0..data.width() {
        text.push_str(&format!("x{j},"));
    }
    text.push_str("label\n");
    for i in 0..data.len() {
        for x in data.row(i) {
            text.push_str(&format!("{x},"));
        }
        match data.targets() {
            Targets::Classes(labels) => text.push_str(&quote(&data.class_names()[labels[i]])),
            Targets::Values { values, .. } => text.push_str(&values[i].to_string()),
        }
        text.push('\n');
    }
    write_file(path, text.as_bytes(), has_gz_name(path))
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
        assert_eq!(data.features(), &[1.5, 2.0, 3.0, 0.4]);
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
        assert_eq!(data.row(0), &[1.0, 2.0]);
        let by_index = CsvOptions {
            label_column: LabelColumn::Index(0),
            regression: false,
        };
        assert_eq!(load(&path, &by_index).unwrap(), data);
        // Auto takes the last column when none is named label/class/target/y.
        let auto = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(auto.class_names(), ["2", "4", "6", "8"]);
        assert_eq!(auto.row(2), &[-1.0, 5.0]);
    }

    #[test]
    fn auto_prefers_label_over_a_y_feature() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "xy.csv", "x,Y,Label\n1,2,a\n");
        let data = load(&path, &CsvOptions::default()).unwrap();
        assert_eq!(data.row(0), &[1.0, 2.0]);
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
        assert_eq!(data.features(), &[1.0, 3.0]);
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
