//! `glassbox serve`: a model behind HTTP, and gRPC with `--grpc-port` (crate
//! `glassbox-web`, module `serve`) until Ctrl-C or SIGTERM.

use crate::args::{resolve_threads, ServeArgs};
use crate::outln;
use anyhow::{anyhow, Context, Result};
use glassbox_web::serve::{self, ApiKey, Limits, ServeOptions, ServedModel, Server};
use std::time::Duration;

/// Loads the model, binds the address, prints `serving: URL` as the first line (and
/// `grpc: HOST:PORT` as the second with `--grpc-port`), serves.
pub fn run(args: &ServeArgs) -> Result<()> {
    if !args.model.exists() {
        return Err(anyhow!("{}: no such model file", args.model.display()));
    }
    let mut options = options(args)?;
    if options.api_key.is_none() && !args.host.is_loopback() {
        eprintln!(
            "warning: serving on {} without --api-key-file: anyone who can reach this port \
             can use the model. Put a token in a private file (`openssl rand -hex 32 > key; \
             chmod 600 key`) and pass --api-key-file key; see the README's \"Serving on a \
             network\".",
            args.host
        );
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
            if let Some(port) = args.grpc_port {
                let grpc = tokio::net::TcpListener::bind((args.host, port))
                    .await
                    .with_context(|| {
                        format!("--grpc-port: cannot listen on {}:{port}", args.host)
                    })?;
                outln!("grpc: {}", grpc.local_addr()?);
                options.grpc = Some(grpc);
            }
            outln!(
                "model {name:?}: POST {url}v2/models/{name}/infer or {url}predict; Ctrl-C stops"
            );
            serve::serve_with(
                listener,
                Server::new(model),
                options,
                serve::shutdown_signal(),
            )
            .await
            .context("serving the model")
        },
    )
}

/// The limits and token from the flags, each checked.
fn options(args: &ServeArgs) -> Result<ServeOptions> {
    let mut limits = Limits::default();
    let count = |flag: &str, value: Option<usize>, into: &mut usize| -> Result<()> {
        match value {
            Some(0) => Err(anyhow!("--{flag} 0: give at least 1")),
            Some(n) => {
                *into = n;
                Ok(())
            }
            None => Ok(()),
        }
    };
    count(
        "max-connections",
        args.max_connections,
        &mut limits.max_connections,
    )?;
    count(
        "max-inflight-requests",
        args.max_inflight_requests,
        &mut limits.max_inflight_requests,
    )?;
    count(
        "max-inflight-bytes",
        args.max_inflight_bytes,
        &mut limits.max_inflight_bytes,
    )?;
    let seconds = |flag: &str, value: Option<f64>, into: &mut Duration| -> Result<()> {
        if let Some(s) = value {
            *into = Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero() && s <= 1e9)
                .ok_or_else(|| anyhow!("--{flag} {s}: give a number of seconds above 0"))?;
        }
        Ok(())
    };
    seconds(
        "header-timeout",
        args.header_timeout,
        &mut limits.header_timeout,
    )?;
    seconds("idle-timeout", args.idle_timeout, &mut limits.idle_timeout)?;
    seconds("body-grace", args.body_grace, &mut limits.body_grace)?;
    seconds(
        "drain-timeout",
        args.drain_timeout,
        &mut limits.drain_timeout,
    )?;
    match args.min_body_rate {
        Some(0) => {
            return Err(anyhow!(
                "--min-body-rate 0: give at least 1 byte per second"
            ))
        }
        Some(rate) => limits.min_body_rate = rate,
        None => {}
    }
    let api_key = match &args.api_key_file {
        Some(path) => Some(ApiKey::from_file(path).map_err(|e| anyhow!("--api-key-file {e}"))?),
        None => None,
    };
    Ok(ServeOptions {
        limits,
        api_key,
        grpc: None,
    })
}
