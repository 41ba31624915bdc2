//! What a connection has started: the operation ids in use, the
//! subscribes being joined, and the subscriptions running (in a group, or
//! on a task of their own).

use std::collections::HashMap;

use async_graphql::http::WebSocketProtocols as Protocols;
use axum::extract::ws::Message;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, FuturesUnordered};
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::executor::{ConnectionExecutor, Joined, join_group_within};
use super::frames::{complete_frame, completed_id};
use super::writer::{queue, slow_consumer};
use crate::live::hub::{Close, Closer, SharedGuard, close};

/// A subscription running on a task of its own; dropping it stops it.
struct OwnTask {
    start: u64,
    task: AbortHandle,
}

impl Drop for OwnTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A shared subscription: its start, and its place in the group.
struct SharedSub {
    start: u64,
    guard: SharedGuard,
}

/// A subscribe whose resolver is checking its arguments.
type Joining = BoxFuture<'static, (String, u64, Joined)>;

/// The operations of one connection.
pub(super) struct Subscriptions {
    /// Operation ids in use, each with the number of its start (an id may
    /// be stopped and used again while its first start is still joining).
    ids: HashMap<String, u64>,
    starts: u64,
    /// Subscribes being joined (their resolvers run beside the loop).
    joining: FuturesUnordered<Joining>,
    /// Subscriptions in a group, by their id.
    shared: HashMap<String, SharedSub>,
    /// Subscriptions with streams of their own (`operationProgress`), by id.
    own: HashMap<String, OwnTask>,
    /// Own subscriptions that completed: (id, start).
    done_tx: mpsc::UnboundedSender<(String, u64)>,
    done: mpsc::UnboundedReceiver<(String, u64)>,
}

impl Subscriptions {
    pub fn new() -> Self {
        let (done_tx, done) = mpsc::unbounded_channel();
        Self {
            ids: HashMap::new(),
            starts: 0,
            joining: FuturesUnordered::new(),
            shared: HashMap::new(),
            own: HashMap::new(),
            done_tx,
            done,
        }
    }

    /// Subscribes being joined.
    pub fn joining(&self) -> usize {
        self.joining.len()
    }

    /// Takes `id` for a new operation; refused while it is in use.
    pub fn start(&mut self, id: &str) -> Result<(), Close> {
        if self.ids.contains_key(id) {
            return Err(Close::new(
                close::DUPLICATE_ID,
                format!("Subscriber for {id} already exists"),
            ));
        }
        self.starts += 1;
        self.ids.insert(id.to_owned(), self.starts);
        Ok(())
    }

    /// Joins the subscription just started under `id`, beside the loop.
    pub fn join(
        &mut self,
        executor: ConnectionExecutor,
        protocol: Protocols,
        id: String,
        request: async_graphql::Request,
    ) {
        let start = self.starts;
        let limit = executor.state.services.config.request_timeout;
        self.joining.push(
            async move {
                let joined =
                    join_group_within(limit, executor, protocol, id.clone(), request).await;
                (id, start, joined)
            }
            .boxed(),
        );
    }

    /// Stops `id`: `true` when it was a subscription of the connection's
    /// own (then its `complete` is the connection's to send), `false` when
    /// the protocol runs it (or nothing does).
    pub fn stop(&mut self, id: &str) -> bool {
        self.ids.remove(id);
        self.shared.remove(id).is_some() || self.own.remove(id).is_some()
    }

    /// The protocol sent `text`: a `complete` frees its id.
    pub fn sent(&mut self, text: &str) {
        if let Some(id) = completed_id(text) {
            self.ids.remove(&id);
        }
    }

    /// Waits until a subscribe has joined or an own subscription has
    /// completed, and takes note of it. (Cancel-safe: nothing is lost if
    /// another event comes first.)
    pub async fn progress(&mut self, out: &mpsc::Sender<Message>, closer: &Closer) {
        tokio::select! {
            Some(joined) = self.joining.next(), if !self.joining.is_empty() => {
                self.joined(joined, out, closer);
            }
            Some(done) = self.done.recv() => self.done(done),
        }
    }

    /// Keeps a subscription that has joined; one stopped (or whose id was
    /// used again) while it was joining is dropped. A stream of its own
    /// runs on a task of its own, into `out`.
    fn joined(
        &mut self,
        (id, start, joined): (String, u64, Joined),
        out: &mpsc::Sender<Message>,
        closer: &Closer,
    ) {
        if self.ids.get(&id) != Some(&start) {
            return;
        }
        match joined {
            Joined::Shared(guard) => {
                self.shared.insert(id, SharedSub { start, guard });
            }
            Joined::Own(frames) => {
                let task = spawn_own(
                    frames,
                    out.clone(),
                    closer.clone(),
                    self.done_tx.clone(),
                    id.clone(),
                    start,
                );
                self.own.insert(id, OwnTask { start, task });
            }
        }
    }

    /// An own subscription completed: its id is free again.
    fn done(&mut self, (id, start): (String, u64)) {
        if self.own.get(&id).is_some_and(|task| task.start == start) {
            self.own.remove(&id);
            self.ids.remove(&id);
        }
    }

    /// Is shared subscription `sub` still the one under `id`? (Nothing
    /// follows the `complete` of a stopped subscription.)
    pub fn is_current(&self, sub: u64, id: &str) -> bool {
        self.shared.get(id).is_some_and(|s| s.guard.id() == sub)
    }

    /// Shared subscription `sub` ended (its project was deleted): its
    /// `complete`, unless it is no longer the one under `id`.
    pub fn ended(&mut self, sub: u64, id: &str) -> Option<String> {
        if !self.is_current(sub, id) {
            return None;
        }
        let start = self.shared.remove(id).map(|s| s.start);
        if start.is_some() && self.ids.get(id) == start.as_ref() {
            self.ids.remove(id);
        }
        Some(complete_frame(id))
    }
}

/// Runs a subscription's own frames into the send queue; its `complete` is
/// the last frame. A client too slow to take them is closed.
fn spawn_own(
    frames: BoxStream<'static, String>,
    out: mpsc::Sender<Message>,
    closer: Closer,
    done: mpsc::UnboundedSender<(String, u64)>,
    id: String,
    start: u64,
) -> AbortHandle {
    tokio::spawn(async move {
        let mut frames = frames;
        while let Some(frame) = frames.next().await {
            if !queue(&out, Message::Text(frame.into())).await {
                closer.close(slow_consumer());
                return;
            }
        }
        let _ = done.send((id, start));
    })
    .abort_handle()
}
