//! `glassbox playground`: serves the playground page (crate `glassbox-web`) until Ctrl-C.

use crate::args::PlaygroundArgs;
use anyhow::{Context, Result};

/// Binds the address, prints `playground: URL` as the first line, serves until Ctrl-C.
pub fn run(args: &PlaygroundArgs) -> Result<()> {
    super::listen(
        args.host,
        args.port,
        "playground",
        |listener, url| async move {
            let limits = glassbox_web::playground::SessionLimits {
                max_sessions: args.max_sessions as usize,
                idle: std::time::Duration::from_secs(args.session_idle),
                workers: args
                    .workers
                    .map_or_else(glassbox_web::playground::default_workers, |n| n as usize),
            };
            let mut app = glassbox_web::App::default().with_limits(limits);
            if !args.host.is_loopback() {
                eprintln!(
                "note: listening on {}: other machines that can reach it can use the playground; \
                 opening model files by path is off",
                args.host
            );
                app = app.without_paths();
            }
            if args.open {
                open_browser(&url);
            }
            glassbox_web::serve(listener, app)
                .await
                .context("serving the playground")
        },
    )
}

/// Asks the desktop to open `url`; failing that, the printed URL is enough.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("could not open a browser ({opener}: {e}); open {url} yourself");
    }
}
