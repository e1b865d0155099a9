//! Running the operations service on a bound listener until a shutdown signal, then draining with a deadline.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long open connections may take to finish once shutdown is signalled; after it `serve` returns anyway
/// and the remaining connections are dropped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` (bind port 0 in tests) until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish for up to [`DRAIN_TIMEOUT`], and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // The signal is needed twice (graceful stop and drain deadline), so it is turned into a watch flag.
    let trigger = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let mut graceful_rx = stop_rx.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        // An error means the trigger task is gone without signalling (it panicked): stop too.
        let _ = graceful_rx.wait_for(|stop| *stop).await;
    });
    let mut deadline_rx = stop_rx;
    let deadline = async move {
        // Drop the watch guard before sleeping: it is not `Send`.
        let signalled = deadline_rx.wait_for(|stop| *stop).await.is_ok();
        if signalled {
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };

    let result = tokio::select! {
        result = server.into_future() => result,
        () = deadline => {
            tracing::warn!(target: "ops", timeout = ?DRAIN_TIMEOUT, "admin server drain timed out; dropping connections");
            Ok(())
        }
    };
    trigger.abort();
    result
}
