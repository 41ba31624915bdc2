//! The event bus: `publish(topic, payload)` and `subscribe(topic)`, shared by
//! every instance that uses the same database.
//!
//! - SQLite (one instance): an in-process broadcast.
//! - PostgreSQL: `NOTIFY` on one channel, and on each instance one dedicated
//!   connection that `LISTEN`s and fans the notifications out in process
//!   (see [`postgres`]). An event published on one instance reaches the
//!   subscribers of every instance, the publisher's own included.
//!
//! Inside a transaction, [`stage`] queues an event so that it is delivered
//! only if the transaction commits: on PostgreSQL `pg_notify` does exactly
//! that (in commit order); on SQLite the event waits in an [`Outbox`] that
//! [`EventBus::flush`] delivers after the commit, in commit order too
//! ([`order`]).
//!
//! A subscriber can miss events (it fell behind, or the listener connection
//! was lost and re-established); it is then told [`Delivery::Resync`] and
//! should reload whatever state it keeps from the database.
//!
//! Payloads are JSON documents. A notification must stay under
//! PostgreSQL's 8000-byte limit: [`Event::new`] refuses anything larger
//! than [`MAX_EVENT_BYTES`] on both backends alike. Only a change event
//! ([`Event::large`], carrying the row it wrote) may be larger, up to
//! [`MAX_LARGE_EVENT_BYTES`]: on PostgreSQL such an event is written to the
//! spool table in the same transaction and the notification carries a
//! reference that every listener resolves, in order, before fanning out
//! ([`spool`]).

pub mod changes;
mod order;
pub mod postgres;
pub mod spool;

use std::sync::Arc;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::db::types::Id;
use crate::db::{Backend, Conn, Db};
use crate::error::{AppError, AppResult};

/// The one PostgreSQL channel all topics travel on.
pub const CHANNEL: &str = "tasklane_events";
/// Largest serialised event (topic and payload), below PostgreSQL's 8000 bytes.
pub const MAX_EVENT_BYTES: usize = 7900;
/// Largest serialised change event (a task of 10,000 characters of
/// description, each escaped at worst, fits several times over).
pub const MAX_LARGE_EVENT_BYTES: usize = 1 << 20;
/// Events buffered per subscriber before it is told to resync.
const BUFFER: usize = 1024;

/// One event: what it is about, and a small JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub topic: String,
    pub payload: serde_json::Value,
}

impl Event {
    /// An event that fits in one notification.
    pub fn new(topic: &str, payload: serde_json::Value) -> AppResult<Self> {
        Self::at_most(topic, payload, MAX_EVENT_BYTES)
    }

    /// An event that may be larger than a notification (spooled on
    /// PostgreSQL when it is).
    pub fn large(topic: &str, payload: serde_json::Value) -> AppResult<Self> {
        Self::at_most(topic, payload, MAX_LARGE_EVENT_BYTES)
    }

    fn at_most(topic: &str, payload: serde_json::Value, limit: usize) -> AppResult<Self> {
        let event = Self {
            topic: topic.to_owned(),
            payload,
        };
        let bytes = event.encode()?.len();
        if bytes > limit {
            return Err(AppError::internal(format!(
                "event on {topic} is {bytes} bytes, more than {limit}"
            )));
        }
        Ok(event)
    }

    /// The wire form.
    fn encode(&self) -> AppResult<String> {
        serde_json::to_string(self)
            .map_err(|e| AppError::internal(format!("event does not serialise: {e}")))
    }
}

/// What travels inside the process.
#[derive(Debug, Clone)]
pub(crate) enum Message {
    Event(Arc<Event>),
    /// Events may have been missed (the listener reconnected).
    Resync,
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<Event>),
    /// Events may have been missed: reload state from the database.
    Resync,
}

/// Events of one topic.
pub struct Subscription {
    topic: String,
    receiver: broadcast::Receiver<Message>,
}

impl Subscription {
    /// The next delivery; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            match self.receiver.recv().await {
                Ok(Message::Event(event)) if event.topic == self.topic => {
                    return Some(Delivery::Event(event));
                }
                Ok(Message::Event(_)) => {}
                Ok(Message::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(Delivery::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Events staged in a transaction, delivered by [`EventBus::flush`] after
/// it commits (needed on SQLite only; on PostgreSQL the commit delivers
/// them), in commit order ([`order`]). Dropped unflushed (the transaction
/// rolled back), its events are never delivered.
#[derive(Debug, Default)]
#[must_use = "flush the outbox after the commit"]
pub struct Outbox {
    events: Vec<Event>,
    /// Its place in commit order, taken with the first staged event.
    turn: Option<u64>,
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Some(turn) = self.turn.take() {
            order::settle(turn, None);
        }
    }
}

/// Queues `event` in the current transaction: on PostgreSQL a `pg_notify`,
/// sent by the commit; on SQLite kept in `outbox` for [`EventBus::flush`].
pub async fn stage(conn: &mut Conn<'_>, outbox: &mut Outbox, event: Event) -> AppResult<()> {
    stage_all(conn, outbox, vec![event]).await
}

/// Queues every one of `events` in the current transaction, in order, as
/// [`stage`] does: on PostgreSQL one statement notifies them all (and one
/// more spools those too large for a notification).
pub async fn stage_all(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    events: Vec<Event>,
) -> AppResult<()> {
    match conn {
        Conn::Postgres(c) => {
            if events.is_empty() {
                return Ok(());
            }
            let mut notes = Vec::with_capacity(events.len());
            let mut spooled = Vec::new();
            for event in &events {
                let text = event.encode()?;
                if text.len() <= MAX_EVENT_BYTES {
                    notes.push(text);
                } else {
                    let id = Id::new();
                    notes.push(spool::reference(id));
                    spooled.push((id.to_string(), text));
                }
            }
            spool::store(c, spooled).await?;
            diesel::sql_query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
                .bind::<Text, _>(CHANNEL)
                .bind::<diesel::sql_types::Array<Text>, _>(notes)
                .execute(*c)
                .await?;
        }
        Conn::Sqlite(_) => {
            if outbox.turn.is_none() && !events.is_empty() {
                outbox.turn = Some(order::take());
            }
            outbox.events.extend(events);
        }
    }
    Ok(())
}

/// The bus (cheap to clone).
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Message>,
    db: Db,
    /// The PostgreSQL listener task.
    listener: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.listener {
            task.abort();
        }
    }
}

impl EventBus {
    /// Starts the bus for `db`. On PostgreSQL this waits (a few seconds at
    /// most) for the listener connection, so that events published by other
    /// instances from then on are seen.
    pub async fn start(db: Db) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        let listener = match db.session() {
            Some(session) => Some(postgres::spawn_listener(session.clone(), sender.clone()).await),
            None => None,
        };
        Self {
            inner: Arc::new(Inner {
                sender,
                db,
                listener,
            }),
        }
    }

    pub fn subscribe(&self, topic: &str) -> Subscription {
        Subscription {
            topic: topic.to_owned(),
            receiver: self.inner.sender.subscribe(),
        }
    }

    /// Publishes outside any transaction.
    pub async fn publish(&self, topic: &str, payload: serde_json::Value) -> AppResult<()> {
        let event = Event::new(topic, payload)?;
        let mut outbox = Outbox::default();
        if self.inner.db.backend() == Backend::Postgres {
            let mut pooled = self.inner.db.write().await?;
            stage(&mut pooled.conn(), &mut outbox, event).await?;
            pooled.commit().await?;
        } else {
            outbox.events.push(event);
        }
        self.flush(outbox);
        Ok(())
    }

    /// Delivers what a committed transaction staged (SQLite), once every
    /// transaction that committed before it has been flushed too.
    pub fn flush(&self, mut outbox: Outbox) {
        let events = std::mem::take(&mut outbox.events);
        match outbox.turn.take() {
            Some(turn) => order::settle(turn, Some((self.inner.sender.clone(), events))),
            None => {
                for event in events {
                    // No subscriber is not an error.
                    let _ = self.inner.sender.send(Message::Event(Arc::new(event)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_larger_than_a_notification_are_refused() {
        assert!(Event::new("t", json!({ "x": "y".repeat(100) })).is_ok());
        assert!(Event::new("t", json!({ "x": "y".repeat(MAX_EVENT_BYTES) })).is_err());
    }

    #[test]
    fn outboxes_are_delivered_in_the_order_they_staged() {
        let (sender, mut receiver) = broadcast::channel(8);
        let event = |n: i32| Event::new("order", json!(n)).expect("ok");
        let staged = |n: i32| Outbox {
            events: vec![event(n)],
            turn: Some(order::take()),
        };
        let (first, rolled_back, third) = (staged(1), staged(2), staged(3));
        let flush = |mut outbox: Outbox| {
            let turn = outbox.turn.take().expect("a turn");
            order::settle(
                turn,
                Some((sender.clone(), std::mem::take(&mut outbox.events))),
            );
        };
        flush(third);
        drop(rolled_back);
        assert!(
            receiver.try_recv().is_err(),
            "the third waits for the first"
        );
        flush(first);
        let mut got = Vec::new();
        while let Ok(Message::Event(event)) = receiver.try_recv() {
            got.push(event.payload.clone());
        }
        assert_eq!(got, [json!(1), json!(3)]);
    }

    #[tokio::test]
    async fn subscribers_get_their_topic_and_resync_after_lagging() {
        let (sender, _) = broadcast::channel(2);
        let mut mine = Subscription {
            topic: "a".into(),
            receiver: sender.subscribe(),
        };
        let event =
            |topic: &str| Message::Event(Arc::new(Event::new(topic, json!(1)).expect("ok")));
        sender.send(event("b")).expect("sent");
        sender.send(event("a")).expect("sent");
        match mine.recv().await {
            Some(Delivery::Event(e)) => assert_eq!(e.topic, "a"),
            other => panic!("expected the event on a, got {other:?}"),
        }
        for _ in 0..3 {
            sender.send(event("a")).expect("sent");
        }
        assert!(matches!(mine.recv().await, Some(Delivery::Resync)));
        drop(sender);
        let mut rest = 0;
        while let Some(delivery) = mine.recv().await {
            assert!(matches!(delivery, Delivery::Event(_)), "{delivery:?}");
            rest += 1;
        }
        assert_eq!(rest, 2, "the two newest events are kept");
    }
}
