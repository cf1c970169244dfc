//! Training progress: the observer that `train` hands to the library's trainer.
//!
//! It draws one indicatif bar per epoch (loss, the last epoch's accuracy, examples/s,
//! ETA) when stderr is a terminal, prints a line per finished epoch, and asks the
//! trainer to stop when Ctrl-C was pressed.
//!
//! `on_batch` runs after every batch — 60 000 times an epoch when Fashion-MNIST is
//! trained one example at a time — so it must cost nothing: it loads one atomic flag
//! and decrements a counter. Only when the counter runs out does it read the clock, and
//! only when ~100 ms have passed does it touch the bar. The counter's stride adapts so
//! that the clock is read about every 20 ms whatever the batch rate.

use glassbox::train::{BatchProgress, Control, EpochReport, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by the Ctrl-C handler; read by the observer after every batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How often the bar is redrawn at most.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// How often, roughly, the clock is read (the stride adapts to this).
const CLOCK_EVERY: Duration = Duration::from_millis(20);

/// Installs the Ctrl-C handler: the first press asks training to stop after saving the
/// last finished epoch; a second press quits at once (the one place the binary exits
/// outside `main`: the user asked twice).
pub fn install_ctrlc() {
    // An error here means a handler is already installed (tests, embedding): the
    // flag then just stays false, and training runs to the end.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: quitting without saving");
            std::process::exit(i32::from(crate::error::EXIT_INTERRUPTED));
        }
        if TRAINING_OVER.load(Ordering::SeqCst) {
            return; // only a dashboard was still being served
        }
        eprintln!(
            "\nCtrl-C: stopping; the model of the last finished epoch will be saved \
             (press Ctrl-C again to quit without saving)"
        );
    });
}

/// Set once training is over and saved: Ctrl-C then only ends the process.
static TRAINING_OVER: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C has been pressed since [`install_ctrlc`] (a dashboard waits for it
/// after training).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Says that training is over and its model saved, so Ctrl-C needs no warning.
pub fn training_over() {
    TRAINING_OVER.store(true, Ordering::SeqCst);
}

/// What the observer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Nothing (`--quiet`, `--json`).
    Nothing,
    /// A line per epoch on stderr (stderr is not a terminal).
    Lines,
    /// A bar per epoch and a line per finished epoch.
    Bar,
}

impl Display {
    /// The display for these flags and this stderr.
    pub fn choose(quiet: bool, json: bool) -> Display {
        if quiet || json {
            Display::Nothing
        } else if std::io::stderr().is_terminal() {
            Display::Bar
        } else {
            Display::Lines
        }
    }
}

/// The training observer.
pub struct Progress {
    display: Display,
    bar: Option<ProgressBar>,
    epoch: usize,
    /// Batches left before the clock is read again.
    countdown: u32,
    /// Batches between clock reads.
    stride: u32,
    last_clock: Instant,
    last_draw: Instant,
    /// When the current epoch's first batch was reported.
    epoch_started: Instant,
    /// The last finished epoch's accuracies, shown on the bar.
    last_accuracy: String,
}

impl Progress {
    /// An observer that shows `display`.
    pub fn new(display: Display) -> Progress {
        let bar = (display == Display::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            display,
            bar,
            epoch: 0,
            countdown: 1,
            stride: 1,
            last_clock: now,
            last_draw: now,
            epoch_started: now,
            last_accuracy: String::new(),
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Prints a line above the bar (or on stderr), unless showing nothing.
    pub fn line(&self, text: &str) {
        match (&self.bar, self.display) {
            (_, Display::Nothing) => {}
            (Some(bar), _) => bar.println(text),
            (None, _) => eprintln!("{text}"),
        }
    }

    fn draw(&mut self, p: &BatchProgress) {
        if let Some(bar) = &self.bar {
            let seconds = self.epoch_started.elapsed().as_secs_f64();
            let rate = if seconds > 0.0 {
                format!(" {:.0} examples/s", p.examples_done as f64 / seconds)
            } else {
                String::new()
            };
            bar.set_position(p.examples_done as u64);
            bar.set_message(format!("loss {:.4}{}{rate}", p.loss, self.last_accuracy));
        }
    }
}

/// `97.1%`, or `-` when there is no figure.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{:.2}%", 100.0 * v))
}

impl Observer for Progress {
    fn on_batch(&mut self, p: &BatchProgress) -> Control {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Control::Stop;
        }
        if self.bar.is_none() {
            return Control::Continue;
        }
        if p.epoch != self.epoch {
            // A new epoch: reset the bar (once per epoch, so not throttled).
            self.epoch = p.epoch;
            self.epoch_started = Instant::now();
            if let Some(bar) = &self.bar {
                bar.set_length(p.examples_total as u64);
                bar.set_prefix(format!("epoch {}/{}", p.epoch, p.epochs));
                bar.reset();
            }
            self.draw(p);
            return Control::Continue;
        }
        self.countdown -= 1;
        if self.countdown == 0 {
            let now = Instant::now();
            let since = now - self.last_clock;
            self.last_clock = now;
            if since < CLOCK_EVERY / 2 {
                self.stride = self.stride.saturating_mul(2).min(1 << 20);
            } else if since > CLOCK_EVERY * 4 {
                self.stride = (self.stride / 2).max(1);
            }
            self.countdown = self.stride;
            if now - self.last_draw >= REDRAW_EVERY {
                self.last_draw = now;
                self.draw(p);
            }
        }
        Control::Continue
    }

    fn on_epoch(&mut self, r: &EpochReport) -> Control {
        let mut line = format!(
            "epoch {:>3}  loss {:.4}  train {}",
            r.epoch,
            r.train_loss,
            percent(r.train_accuracy)
        );
        if let Some(loss) = r.validation_loss {
            line += &format!(
                "  validation loss {loss:.4} {}",
                percent(r.validation_accuracy)
            );
        }
        if let Some(loss) = r.test_loss {
            line += &format!("  test loss {loss:.4} {}", percent(r.test_accuracy));
        }
        line += &format!("  {:.3} s", r.seconds);
        self.line(&line);
        self.last_accuracy = match (r.train_accuracy, r.test_accuracy) {
            (Some(train), Some(test)) => format!(
                " (last epoch: train {} test {})",
                percent(Some(train)),
                percent(Some(test))
            ),
            (Some(train), None) => format!(" (last epoch: train {})", percent(Some(train))),
            _ => String::new(),
        };
        if INTERRUPTED.load(Ordering::Relaxed) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}
