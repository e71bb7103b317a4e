//! The wake-up: a dedicated connection that `LISTEN`s on `ocsp_status` and asks the
//! prober for a probe when a writer commits for this issuer (the payload is the issuer
//! id). Never the source of truth: a notification only makes the next probe sooner, and
//! notifications lost while disconnected are made up for by one probe after each
//! (re)connection. The connection never opens a transaction, so it never holds back the
//! server's notification queue.

use super::{jitter, Inner, CONNECT_TIMEOUT, MAX_BACKOFF};
use crate::StatusError;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;
use tokio_postgres::AsyncMessage;

/// Start listening on the current runtime; the task ends when the source is dropped or
/// the returned handle is aborted.
pub(super) fn spawn(weak: Weak<Inner>) -> Result<tokio::task::JoinHandle<()>, StatusError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| {
        StatusError::Internal("the postgres listener needs the async runtime".into())
    })?;
    Ok(handle.spawn(listen(weak)))
}

async fn listen(weak: Weak<Inner>) {
    let mut backoff = Duration::ZERO;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let url = inner.url.clone();
        drop(inner);
        match tokio::time::timeout(CONNECT_TIMEOUT, connect(&url)).await {
            Ok(Ok(session)) => {
                backoff = Duration::ZERO;
                if !session.run(&weak).await {
                    return;
                }
            }
            Ok(Err(e)) => tracing::debug!("database listener: {e}"),
            Err(_) => tracing::debug!("database listener: connection timed out"),
        }
        backoff = (backoff * 2).clamp(Duration::from_millis(50), MAX_BACKOFF);
        tokio::time::sleep(jitter(backoff)).await;
    }
}

/// A listening connection: its client and the notifications its connection pumps.
struct Session {
    client: tokio_postgres::Client,
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    pump: tokio::task::JoinHandle<()>,
}

/// Connect and LISTEN.
async fn connect(url: &crate::postgres::DatabaseUrl) -> Result<Session, String> {
    let tls = crate::postgres::connect::tls(url).map_err(|e| e.to_string())?;
    let (client, mut conn) = url.config().connect(tls).await.map_err(|e| e.to_string())?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let pump = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                if tx.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
        }
    });
    if let Err(e) = client.batch_execute("LISTEN ocsp_status").await {
        pump.abort();
        return Err(e.to_string());
    }
    Ok(Session { client, rx, pump })
}

impl Session {
    /// Wake one probe (for what was committed while not listening), then one per
    /// notification for this issuer, until the connection ends. False when the source
    /// is gone.
    async fn run(mut self, weak: &Weak<Inner>) -> bool {
        match weak.upgrade() {
            Some(inner) => {
                inner.demand();
            }
            None => return false,
        }
        while let Some(payload) = self.rx.recv().await {
            let Some(inner) = weak.upgrade() else {
                return false;
            };
            let ours = payload.trim().parse::<i32>().ok();
            if ours.is_none() || ours == Some(inner.issuer_id.load(Ordering::Relaxed)) {
                inner.demand();
            }
        }
        drop(self.client);
        self.pump.abort();
        true
    }
}
