//! `glassbox`: the command line over the glassbox library.
//!
//! This file is the error boundary (ripgrep's shape): every command returns an
//! [`anyhow::Result`]; here an error becomes one line on stderr, `error: ` and the chain
//! of causes ([`error::one_line`]), and an exit code (see [`error`]). A closed stdout (`| head`) is success.
//! Nothing else in the binary exits.

mod args;
mod commands;
mod error;
mod model;
mod mpi;
mod plot;
mod progress;
mod spec;

use clap::Parser;
use std::process::ExitCode;

/// Writes a line to stdout, returning the I/O error (a broken pipe) instead of
/// panicking as `println!` does.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

fn main() -> ExitCode {
    let argv = match commands::train::expand_resume(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(err) => {
            eprintln!("error: {}", error::one_line(&err));
            return ExitCode::from(error::exit_code(&err));
        }
    };
    let cli = match args::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are "errors" that go to stdout and succeed.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(error::EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = error::exit_code(&err);
            let message = error::one_line(&err);
            if code == error::EXIT_INTERRUPTED {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(code)
        }
    }
}

/// Runs one subcommand.
fn run(cli: args::Cli) -> anyhow::Result<()> {
    // A thread count in the environment that is not a number is a usage error, not
    // silently ignored.
    glassbox::threads::from_env().map_err(error::usage)?;
    match cli.command {
        args::Command::Train(a) => commands::train::run(&a),
        args::Command::Evaluate(a) => commands::evaluate::run(&a),
        args::Command::Predict(a) => commands::predict::run(&a),
        args::Command::Explain(a) => commands::explain::run(&a),
        args::Command::Inspect(a) => commands::inspect::run(&a),
        args::Command::Playground(a) => commands::playground::run(&a),
        args::Command::Export(a) => commands::export::run(&a),
        args::Command::Import(a) => commands::import::run(&a),
        args::Command::Quantize(a) => commands::quantize::run(&a),
        args::Command::Serve(a) => commands::serve::run(&a),
    }
}
