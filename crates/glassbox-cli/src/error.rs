//! The kinds of failure the binary tells apart by exit code.
//!
//! Every error travels as an [`anyhow::Error`] with context naming the file; `main`
//! prints the whole chain on one line. The exit code says what kind it was:
//!
//! ```text
//! 0    success (also when stdout is closed early: `glassbox predict … | head`)
//! 1    a failure: a file that cannot be read or is malformed, divergence, …
//! 2    a usage error: an impossible flag value, a network that cannot be trained
//! 130  interrupted by Ctrl-C (after saving the last finished epoch's model)
//! ```

use std::fmt;

/// Exit code of a usage or configuration error (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of any other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error in what the user asked for rather than in the data: exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Training stopped by Ctrl-C; the message says what was kept. Exit code 130.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// A usage error with this message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// A library error's own words, for a message that puts the flag at fault in front:
/// a configuration error without the "invalid configuration: " of its display.
pub fn library_message(e: glassbox::Error) -> String {
    match e {
        glassbox::Error::Config(message) => message,
        other => other.to_string(),
    }
}

/// The exit code for an error chain.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<Usage>() {
            return EXIT_USAGE;
        }
        if cause.is::<Interrupted>() {
            return EXIT_INTERRUPTED;
        }
        if let Some(e) = cause.downcast_ref::<glassbox::Error>() {
            if matches!(
                e,
                glassbox::Error::Config(_) | glassbox::Error::StepNotTrainable { .. }
            ) {
                return EXIT_USAGE;
            }
        }
    }
    EXIT_FAILURE
}

/// The chain as one line, causes joined by ": " — less a cause whose words the line
/// already ends with (a library error that writes its source into its own message, as
/// `path: No such file or directory` does, would otherwise say it twice).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line += ": ";
            line += &text;
        }
    }
    line
}

/// Whether the chain holds a broken pipe (the reader of stdout went away).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let words = missing.to_string();
        let err = anyhow::Error::new(glassbox::Error::io("missing.csv", missing));
        assert_eq!(one_line(&err), format!("missing.csv: {words}"));
        let err = err.context("--data");
        assert_eq!(one_line(&err), format!("--data: missing.csv: {words}"));
    }
}
