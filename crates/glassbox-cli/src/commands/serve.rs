//! `glassbox serve`: a model behind HTTP (crate `glassbox-web`, module `serve`) until
//! Ctrl-C or SIGTERM.

use crate::args::{resolve_threads, ServeArgs};
use crate::outln;
use anyhow::{anyhow, Context, Result};
use glassbox_web::serve::{self, ServedModel, Server};

/// Loads the model, binds the address, prints `serving: URL` as the first line, serves.
pub fn run(args: &ServeArgs) -> Result<()> {
    if !args.model.exists() {
        return Err(anyhow!("{}: no such model file", args.model.display()));
    }
    let threads = match args.threads {
        None => serve::DEFAULT_THREADS,
        Some(_) => {
            let (threads, note) = resolve_threads(args.threads)?;
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            threads
        }
    };
    let model =
        ServedModel::load(&args.model, args.name.clone(), threads).map_err(|e| anyhow!(e))?;
    let name = model.name.clone();
    super::listen(
        args.host,
        args.port,
        "serving",
        |listener, url| async move {
            outln!(
                "model {name:?}: POST {url}v2/models/{name}/infer or {url}predict; Ctrl-C stops"
            );
            serve::serve(listener, Server::new(model))
                .await
                .context("serving the model")
        },
    )
}
