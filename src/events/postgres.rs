//! The PostgreSQL side of the bus: one connection per instance, opened with
//! `tokio-postgres` directly (a pooled connection can not be kept listening)
//! on the session URL (the direct one beside a pooler, whose transaction
//! mode would drop the `LISTEN`), that `LISTEN`s on [`CHANNEL`](super::CHANNEL) and forwards every
//! notification in process. A reference to a spooled event
//! ([`super::spool`]) is read back on the same connection before anything
//! after it is forwarded, so events keep their order. When the connection
//! fails it is opened again, with a growing pause, and subscribers are told
//! to resync (they may have missed events meanwhile).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use super::{CHANNEL, Event, Message, spool};
use crate::db::SessionTarget;

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);
/// Longest wait for the connection and for `LISTEN`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long start-up waits for the first `LISTEN`.
const READY_WAIT: Duration = Duration::from_secs(5);

/// Spawns the listener; returns once it listens (or after [`READY_WAIT`]).
pub(super) async fn spawn_listener(
    session: SessionTarget,
    sender: broadcast::Sender<Message>,
) -> JoinHandle<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let session = SessionTarget {
        target: session.target.named(crate::db::pg::LISTENER_NAME),
        ..session
    };
    let task = tokio::spawn(listen_forever(session, sender, ready_tx));
    if tokio::time::timeout(READY_WAIT, ready_rx).await.is_err() {
        tracing::warn!("event listener not connected yet; events from other instances may be late");
    }
    task
}

async fn listen_forever(
    session: SessionTarget,
    sender: broadcast::Sender<Message>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut pause = FIRST_PAUSE;
    loop {
        match listen_once(&session, &sender, &mut ready).await {
            Ok(()) => pause = FIRST_PAUSE,
            Err(err) => tracing::warn!(error = %err, "event listener connection failed"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// One connection's life: connect, `LISTEN`, forward until it ends. `Ok`
/// when it had been listening (so the next attempt starts without delay).
async fn listen_once(
    session: &SessionTarget,
    sender: &broadcast::Sender<Message>,
    ready: &mut Option<oneshot::Sender<()>>,
) -> Result<(), String> {
    let (client, mut connection) =
        tokio::time::timeout(CONNECT_TIMEOUT, session.target.connect(session.setting))
            .await
            .map_err(|_| "timed out connecting".to_owned())??;
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    // The connection is driven here; the client only sends LISTEN.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if notes_tx.send(note.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(err) => return err.to_string(),
            }
        }
        "connection closed".to_owned()
    });
    let abort = driver.abort_handle();
    let statement = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&statement);
    match tokio::time::timeout(CONNECT_TIMEOUT, listen).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            abort.abort();
            return Err(err.to_string());
        }
        Err(_) => {
            abort.abort();
            return Err("timed out sending LISTEN".into());
        }
    }
    tracing::debug!("event listener connected");
    // Anything published while no connection listened may be lost.
    let _ = sender.send(Message::Resync);
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    while let Some(note) = notes.recv().await {
        let payload = match spool::referred(&note) {
            None => note,
            Some(id) => match resolve(&client, id).await {
                Ok(Some(text)) => text,
                Ok(None) => {
                    tracing::warn!(%id, "a spooled event was pruned before it was read");
                    let _ = sender.send(Message::Resync);
                    continue;
                }
                Err(err) => {
                    abort.abort();
                    return Err(err);
                }
            },
        };
        match serde_json::from_str::<Event>(&payload) {
            Ok(event) => {
                let _ = sender.send(Message::Event(Arc::new(event)));
            }
            Err(err) => tracing::warn!(error = %err, "ignored a malformed event"),
        }
    }
    let reason = driver.await.unwrap_or_else(|e| e.to_string());
    drop(client);
    tracing::warn!(reason = %reason, "event listener disconnected; reconnecting");
    Ok(())
}

/// The spooled event `id`, read on the listener's connection.
async fn resolve(
    client: &tokio_postgres::Client,
    id: crate::db::types::Id,
) -> Result<Option<String>, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, spool::resolve(client, id)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("timed out reading a spooled event".into()),
    }
}
