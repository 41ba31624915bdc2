//! A client-side bound on every statement of a pooled PostgreSQL
//! connection. The server's `statement_timeout` cannot fire on a server
//! that stopped answering (a frozen host, a network partition): then a
//! request would hold its connection until the request timeout. Each
//! pooled connection is driven by a task that also watches it: when a
//! statement has been waiting longer than the limit, the task drops the
//! connection. The statement then fails at once (the client sees the
//! connection closed: [`AppError::Unavailable`](crate::error::AppError)),
//! and the pool discards the connection instead of handing it out again.
//!
//! Statements on one connection run one after another here, so the
//! watched state is "waiting since": set when a statement starts, cleared
//! when it finishes. A statement whose future was dropped never finishes:
//! the next statement's start resets the clock, or the idle connection is
//! dropped when the limit passes (one reconnect later, nothing lost).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_postgres::Connection;
use tokio_postgres::tls::TlsStream;

use super::counter::CountingProbe;

/// What the watching task and the connection's instrumentation share.
#[derive(Debug, Default)]
pub struct Watch {
    waiting_since: Mutex<Option<Instant>>,
    started: Notify,
}

impl Watch {
    fn set(&self, since: Option<Instant>) {
        *self
            .waiting_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = since;
    }

    fn since(&self) -> Option<Instant> {
        *self
            .waiting_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Drives `connection` until it ends, or until a statement has waited
/// longer than `limit` (then it is dropped, which closes it).
pub async fn drive<S, T>(connection: Connection<S, T>, watch: Arc<Watch>, limit: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: TlsStream + Unpin,
{
    tokio::pin!(connection);
    loop {
        let deadline = watch.since().map(|since| since + limit);
        tokio::select! {
            ended = &mut connection => {
                if let Err(err) = ended {
                    tracing::debug!(error = %err, "database connection ended");
                }
                return;
            }
            () = watch.started.notified() => {}
            () = sleep_until(deadline) => {
                if watch.since().is_some_and(|since| since + limit <= Instant::now()) {
                    tracing::warn!(
                        limit_ms = limit.as_millis(),
                        "the database did not answer in time; its connection is dropped"
                    );
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The instrumentation of a watched pooled connection: it counts
/// statements (see [`super::counter`]) and tells the watch when one
/// starts and ends.
pub struct WatchedProbe {
    pub counter: CountingProbe,
    pub watch: Arc<Watch>,
}

impl Instrumentation for WatchedProbe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.watch.set(Some(Instant::now()));
                self.watch.started.notify_one();
            }
            InstrumentationEvent::FinishQuery { .. } => self.watch.set(None),
            _ => {}
        }
        self.counter.on_connection_event(event);
    }
}
