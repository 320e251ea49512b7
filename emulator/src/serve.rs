//! A spawned axum server that stops gracefully: shared by the emulator and
//! the demo upstream.

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server task on the caller's runtime. Dropping it asks the server to stop.
pub(crate) struct Served {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Served {
    /// Serves `app` on `listener` until stopped; `what` names it in the log.
    pub(crate) fn spawn(listener: TcpListener, app: Router, what: &'static str) -> Served {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::error!(error = %e, "{what} stopped with an error");
            }
        });
        Served {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops accepting connections and waits (at most 5 s) for in-flight
    /// requests; whatever is still open after that is cut.
    pub(crate) async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
