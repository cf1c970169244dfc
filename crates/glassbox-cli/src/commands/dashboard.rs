//! `glassbox train … --dashboard PORT`: the run's live dashboard, served by
//! `glassbox-web` on a thread of its own while the main thread trains.

use crate::outln;
use crate::progress;
use anyhow::{Context, Result};
use glassbox::train::{History, StopReason};
use glassbox_web::dashboard::Dashboard;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A dashboard being served.
pub struct Served {
    url: String,
    run: Arc<Dashboard>,
}

/// Binds 127.0.0.1:`port`, prints `dashboard: URL` and serves the dashboard of a run
/// (`title`, `epochs` epochs over `examples` training examples) from a thread of its own.
pub fn start(port: u16, title: String, epochs: usize, examples: usize) -> Result<Served> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("--dashboard {port}: cannot listen on 127.0.0.1:{port}"))?;
    listener
        .set_nonblocking(true)
        .context("--dashboard: setting up the socket")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let run = Arc::new(Dashboard::new(title, epochs, examples));
    let app = glassbox_web::App::with_dashboard(run.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("--dashboard: starting the server's runtime")?;
    std::thread::Builder::new()
        .name("dashboard".into())
        .spawn(move || {
            runtime.block_on(async move {
                let served = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        // Serves until the process ends.
                        glassbox_web::serve_until(listener, app, std::future::pending()).await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = served {
                    eprintln!("dashboard: the server stopped: {e}");
                }
            })
        })
        .context("--dashboard: starting the server's thread")?;
    // The first line printed: scripts and tests read the URL (and the port of 0) here.
    outln!("dashboard: {url}");
    Ok(Served { url, run })
}

impl Served {
    /// The run's record, for the trainer's observer.
    pub fn run(&self) -> &Dashboard {
        &self.run
    }

    /// Marks the run finished and, unless Ctrl-C already stopped it, keeps the
    /// dashboard up until Ctrl-C.
    pub fn finish_and_wait(&self, history: &History, model: &Path) {
        let status = match history.stop {
            StopReason::Completed => format!(
                "finished: {} epochs; model saved to {}",
                history.epochs.len(),
                model.display()
            ),
            StopReason::EarlyStopped { best_epoch } => format!(
                "stopped early: the best epoch was {best_epoch}; model saved to {}",
                model.display()
            ),
            StopReason::Interrupted => format!(
                "interrupted after {} epochs; model saved to {}",
                history.epochs.len(),
                model.display()
            ),
        };
        match history.stop {
            StopReason::EarlyStopped { best_epoch } => self.run.stopped_early(best_epoch, status),
            _ => self.run.finish(status),
        }
        if history.stop == StopReason::Interrupted {
            return;
        }
        progress::training_over();
        progress::install_ctrlc();
        eprintln!(
            "dashboard: training is over; still serving {} — Ctrl-C to quit",
            self.url
        );
        while !progress::interrupted() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
