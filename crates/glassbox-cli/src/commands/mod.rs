//! One module per subcommand; each has `run(&Args) -> anyhow::Result<()>`.

pub mod dashboard;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod import;
pub mod inspect;
pub mod playground;
pub mod predict;
pub mod quantize;
pub mod serve;
pub mod train;

/// What `playground` and `serve` share: starts the async runtime, binds `host:port`,
/// prints `{label}: URL` as the first line (scripts and tests read the URL, and the port
/// of `--port 0`, there), then runs `serve(listener, url)` until it returns.
pub fn listen<F, Fut>(
    host: std::net::IpAddr,
    port: u16,
    label: &str,
    serve: F,
) -> anyhow::Result<()>
where
    F: FnOnce(tokio::net::TcpListener, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        let url = format!("http://{}/", listener.local_addr()?);
        crate::outln!("{label}: {url}");
        serve(listener, url).await
    })
}
