//! One WebSocket connection, as a state machine of three phases:
//!
//! 1. **awaiting `connection_init`** ([`Connection::awaiting_init`]): only
//!    the init, pings and protocol chatter are taken; a subscribe is 4401,
//!    and no init within `TASKLANE_WS_INIT_TIMEOUT_MS` is 4408;
//! 2. **running** ([`Connection::running`]): operations start and stop,
//!    shared subscriptions are delivered, the credential is watched;
//! 3. **closing** ([`Connection::closing`]): subscriptions end, the
//!    connection leaves the hub, and the close frame says why.
//!
//! Every phase ends in the next one; nothing goes back.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use async_graphql::http::{
    ClientMessage, DefaultOnConnInitType, DefaultOnPingType, WebSocket as ProtocolSocket,
    WebSocketProtocols as Protocols, WsMessage,
};
use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::{SplitStream, Stream};
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, Interval};

use super::super::AppState;
use super::super::drain::SocketDrain;
use super::executor::{ConnectionExecutor, Session, is_subscription};
use super::frames::complete_frame;
use super::subscriptions::Subscriptions;
use super::writer::{Writer, queue, slow_consumer};
use super::{CLOSE_WAIT, MAX_CLIENT_MESSAGE, credential};
use crate::auth::AuthState;
use crate::config::LiveLimits;
use crate::db::types::Timestamp;
use crate::graphql::RequestMeta;
use crate::live::LiveConnection;
use crate::live::hub::{CONNECTION_QUEUE, Close, Closer, ConnectionGuard, Outlet, Shared, close};
use crate::live::pending::PendingGuard;

/// The protocol's input: the client messages the connection passes on.
/// Boxed: a channel allocates its first block of 32 slots at once, and a
/// `ClientMessage` is 368 bytes (12 KiB per connection, unboxed).
struct ProtocolInput(mpsc::UnboundedReceiver<Box<ClientMessage>>);

impl Stream for ProtocolInput {
    type Item = serde_json::Result<ClientMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .poll_recv(cx)
            .map(|message| message.map(|message| Ok(*message)))
    }
}

/// async-graphql's side of the protocol: it runs queries and mutations and
/// answers `connection_init`, pings and stops of what it runs.
type Protocol =
    ProtocolSocket<ProtocolInput, ConnectionExecutor, DefaultOnConnInitType, DefaultOnPingType>;

/// Where a connection is.
enum Phase {
    AwaitingInit,
    Running,
    Closing(Ending),
}

/// How a connection ends.
enum Ending {
    /// The server closes it, saying why.
    Close(Close),
    /// The client closed it.
    ByClient,
    /// The socket failed or ended.
    Gone,
}

impl Ending {
    fn close(code: u16, reason: impl Into<String>) -> Self {
        Self::Close(Close::new(code, reason))
    }
}

/// The socket refused a message over `MAX_CLIENT_MESSAGE` (the socket
/// itself still works: the client is told why).
fn too_long(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// The server is shutting down: the client should reconnect, to another
/// instance, and catch up through `changes`.
fn going_away() -> Ending {
    Ending::close(close::GOING_AWAY, "Server shutting down; reconnect")
}

/// Serves one upgraded socket until it ends.
pub(super) async fn serve(
    state: Arc<AppState>,
    socket: WebSocket,
    protocol: Protocols,
    meta: RequestMeta,
    pending: Option<PendingGuard>,
) {
    let _open = state.services.live.socket_opened();
    let mut connection = Connection::new(state, socket, protocol, meta, pending);
    let mut phase = Phase::AwaitingInit;
    let ending = loop {
        phase = match phase {
            Phase::AwaitingInit => connection.awaiting_init().await,
            Phase::Running => Phase::Closing(connection.running().await),
            Phase::Closing(ending) => break ending,
        };
    };
    connection.closing(ending).await;
}

struct Connection {
    state: Arc<AppState>,
    protocol: Protocols,
    incoming: SplitStream<WebSocket>,
    /// The send queue, and the task that writes it into the socket.
    out: mpsc::Sender<Message>,
    writer: Writer,
    session: Arc<Session>,
    executor: ConnectionExecutor,
    to_protocol: mpsc::UnboundedSender<Box<ClientMessage>>,
    graphql: Protocol,
    /// How the hub (and the connection's own tasks) ask it to close.
    closer: Closer,
    /// Shared subscriptions' frames the hub could not write straight into
    /// the send queue.
    shared_frames: mpsc::Receiver<Shared>,
    outlet: Outlet,
    /// Counted against the client's address until `connection_init`.
    pending: Option<PendingGuard>,
    /// Registered with the hub, from `connection_init` on.
    registered: Option<ConnectionGuard>,
    operations: Subscriptions,
    keepalive: Interval,
    last_seen: Instant,
    /// When the credential stops being valid.
    expires: Option<Instant>,
    /// Tells the connection the server is shutting down.
    drain: SocketDrain,
}

impl Connection {
    fn new(
        state: Arc<AppState>,
        socket: WebSocket,
        protocol: Protocols,
        meta: RequestMeta,
        pending: Option<PendingGuard>,
    ) -> Self {
        let limits = &state.services.config.live;
        let (sink, incoming) = socket.split();
        let (out, writer) = Writer::start(sink, limits.buffer);
        let session = Arc::new(Session {
            accepted: OnceLock::new(),
            meta,
            inflight: Arc::new(Semaphore::new(limits.inflight_per_connection.max(1))),
        });
        let executor = ConnectionExecutor {
            state: state.clone(),
            session: session.clone(),
        };
        let (to_protocol, input) = mpsc::unbounded_channel();
        let graphql =
            Protocol::from_message_stream(executor.clone(), ProtocolInput(input), protocol);
        let (queue_tx, shared_frames) = mpsc::channel::<Shared>(CONNECTION_QUEUE);
        let outlet = Outlet {
            direct: out.clone(),
            queue: queue_tx,
            pending: Default::default(),
        };
        let keepalive =
            tokio::time::interval_at(Instant::now() + limits.keepalive, limits.keepalive);
        let drain = state.drain.socket();
        Self {
            state,
            protocol,
            incoming,
            out,
            writer,
            session,
            executor,
            to_protocol,
            graphql,
            closer: Closer::default(),
            shared_frames,
            outlet,
            pending,
            registered: None,
            operations: Subscriptions::new(),
            keepalive,
            last_seen: Instant::now(),
            expires: None,
            drain,
        }
    }

    fn limits(&self) -> &LiveLimits {
        &self.state.services.config.live
    }

    /// Phase 1: until `connection_init` is accepted.
    async fn awaiting_init(&mut self) -> Phase {
        let deadline = tokio::time::sleep(self.limits().init_timeout);
        tokio::pin!(deadline);
        loop {
            let next = tokio::select! {
                frame = self.incoming.next() => match self.read(frame) {
                    Err(ending) => Some(Phase::Closing(ending)),
                    Ok(None) => None,
                    Ok(Some(message)) => self.before_init(message).await,
                },
                sent = self.graphql.next() => self.on_sent(sent).await.map(Phase::Closing),
                () = &mut deadline => Some(Phase::Closing(Ending::close(
                    close::INIT_TIMEOUT,
                    "Connection initialisation timeout",
                ))),
                _ = self.keepalive.tick() => self.on_tick().await.map(Phase::Closing),
                () = self.drain.started() => Some(Phase::Closing(going_away())),
            };
            if let Some(phase) = next {
                return phase;
            }
        }
    }

    /// A client message before `connection_init` was accepted.
    async fn before_init(&mut self, message: ClientMessage) -> Option<Phase> {
        match message {
            ClientMessage::ConnectionInit { payload } => Some(match self.init(payload).await {
                Ok(()) => Phase::Running,
                Err(close) => Phase::Closing(Ending::Close(close)),
            }),
            ClientMessage::Start { .. } => Some(Phase::Closing(Ending::close(
                close::UNAUTHORIZED,
                "Unauthorized",
            ))),
            message => {
                self.forward(message);
                None
            }
        }
    }

    /// `connection_init`: its credential is checked as an HTTP request's,
    /// and the connection registers with the hub.
    async fn init(&mut self, payload: Option<serde_json::Value>) -> Result<(), Close> {
        let services = &self.state.services;
        let header = credential(payload.as_ref());
        let (auth, expires) = services.auth.authenticate_until(header.as_deref()).await;
        let AuthState::Authenticated(viewer) = &auth else {
            return Err(Close::new(close::FORBIDDEN, "Forbidden"));
        };
        let guard =
            services
                .live
                .connect(viewer, self.closer.clone(), Some(self.outlet.clone()))?;
        let _ = self
            .session
            .accepted
            .set((auth.clone(), LiveConnection { id: guard.id }));
        self.registered = Some(guard);
        // No longer pending for its address.
        self.pending.take();
        self.expires = expires.map(deadline);
        // The protocol answers it (`connection_ack`).
        self.forward(ClientMessage::ConnectionInit { payload });
        Ok(())
    }

    /// Phase 2: until something ends the connection. While as many
    /// subscribes as the in-flight limit are being joined, no further
    /// message is read.
    async fn running(&mut self) -> Ending {
        let never = Instant::now() + Duration::from_secs(86_400 * 365);
        let expiry = tokio::time::sleep_until(self.expires.unwrap_or(never));
        tokio::pin!(expiry);
        let joining_limit = self.limits().inflight_per_connection.max(1);
        loop {
            let ending = tokio::select! {
                frame = self.incoming.next(), if self.operations.joining() < joining_limit => {
                    match self.read(frame) {
                        Err(ending) => Some(ending),
                        Ok(None) => None,
                        Ok(Some(message)) => self.on_message(message).await,
                    }
                }
                () = self.operations.progress(&self.out, &self.closer) => None,
                sent = self.graphql.next() => self.on_sent(sent).await,
                close = self.closer.asked() => Some(Ending::Close(close)),
                Some(delivery) = self.shared_frames.recv() => self.on_delivery(delivery).await,
                () = &mut expiry => Some(Ending::close(close::FORBIDDEN, "Token expired")),
                _ = self.keepalive.tick() => self.on_tick().await,
                () = self.drain.started() => Some(going_away()),
            };
            if let Some(ending) = ending {
                return ending;
            }
        }
    }

    /// A client message once the connection runs.
    async fn on_message(&mut self, message: ClientMessage) -> Option<Ending> {
        match message {
            ClientMessage::ConnectionInit { .. } => Some(Ending::close(
                close::TOO_MANY,
                "Too many initialisation requests",
            )),
            ClientMessage::Start { id, mut payload } => {
                if let Err(close) = self.operations.start(&id) {
                    return Some(Ending::Close(close));
                }
                if is_subscription(&self.executor, &mut payload) {
                    let executor = self.executor.clone();
                    self.operations.join(executor, self.protocol, id, payload);
                } else {
                    self.forward(ClientMessage::Start { id, payload });
                }
                None
            }
            ClientMessage::Stop { id } if self.operations.stop(&id) => {
                self.send(Message::Text(complete_frame(&id).into())).await
            }
            message => {
                self.forward(message);
                None
            }
        }
    }

    /// Phase 3: subscriptions end, the connection leaves the hub, and the
    /// client learns why.
    async fn closing(self, ending: Ending) {
        let Self {
            mut incoming,
            writer,
            operations,
            graphql,
            registered,
            outlet,
            out,
            ..
        } = self;
        // Subscriptions end before the connection is unregistered.
        drop(operations);
        drop(graphql);
        drop(registered);
        drop(outlet);
        drop(out);
        match ending {
            Ending::Close(close) => {
                if writer.close(close).await {
                    // The closing handshake: the client answers with its own close.
                    let _ = tokio::time::timeout(CLOSE_WAIT, async {
                        while let Some(Ok(frame)) = incoming.next().await {
                            if matches!(frame, Message::Close(_)) {
                                break;
                            }
                        }
                    })
                    .await;
                }
            }
            Ending::ByClient => {
                writer.finish().await;
                // The answer to the client's close was queued when it was
                // read; reading once more sends it.
                let _ = incoming.next().now_or_never();
            }
            Ending::Gone => {
                writer.finish().await;
            }
        }
    }

    /// A frame from the client: its protocol message, `None` for a control
    /// frame, or how the connection ends.
    fn read(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
    ) -> Result<Option<ClientMessage>, Ending> {
        let frame = match frame {
            Some(Ok(frame)) => frame,
            Some(Err(error)) if too_long(&error) => {
                return Err(Ending::close(
                    close::MESSAGE_TOO_BIG,
                    format!("Message too big: at most {MAX_CLIENT_MESSAGE} bytes"),
                ));
            }
            Some(Err(_)) | None => return Err(Ending::Gone),
        };
        self.last_seen = Instant::now();
        let message = match &frame {
            Message::Text(text) => serde_json::from_str::<ClientMessage>(text.as_str()),
            Message::Binary(bytes) => serde_json::from_slice::<ClientMessage>(bytes),
            Message::Ping(_) | Message::Pong(_) => return Ok(None),
            Message::Close(_) => return Err(Ending::ByClient),
        };
        match message {
            Ok(message) => Ok(Some(message)),
            Err(_) => Err(Ending::close(close::INVALID_MESSAGE, "Invalid message")),
        }
    }

    /// Passes `message` on to the protocol.
    fn forward(&self, message: ClientMessage) {
        let _ = self.to_protocol.send(Box::new(message));
    }

    /// Queues `message`; a client too slow to take it is closed.
    async fn send(&mut self, message: Message) -> Option<Ending> {
        if queue(&self.out, message).await {
            None
        } else {
            Some(Ending::Close(slow_consumer()))
        }
    }

    /// What the protocol sends.
    async fn on_sent(&mut self, sent: Option<WsMessage>) -> Option<Ending> {
        match sent {
            None => Some(Ending::Gone),
            Some(WsMessage::Close(code, reason)) => Some(Ending::close(code, reason)),
            Some(WsMessage::Text(text)) => {
                self.operations.sent(&text);
                self.send(Message::Text(text.into())).await
            }
        }
    }

    /// A shared subscription's frame that waited for room in the send queue.
    async fn on_delivery(&mut self, delivery: Shared) -> Option<Ending> {
        let frame = match delivery {
            Shared::Frame(sub, id, frame) => self.operations.is_current(sub, &id).then_some(frame),
            // Its project was deleted: the subscription completes.
            Shared::Ended(sub, id) => self.operations.ended(sub, &id),
        };
        let queued = match frame {
            Some(frame) => queue(&self.out, Message::Text(frame.into())).await,
            None => true,
        };
        // Only now may the hub write past this queue again.
        self.outlet.pending.fetch_sub(1, Ordering::AcqRel);
        (!queued).then(|| Ending::Close(slow_consumer()))
    }

    /// The keep-alive: a peer silent for two intervals is gone, a revoked
    /// credential closes the connection, and everyone else is pinged.
    async fn on_tick(&mut self) -> Option<Ending> {
        if self.last_seen.elapsed() > self.limits().keepalive * 2 {
            return Some(Ending::close(close::PING_TIMEOUT, "Ping timeout"));
        }
        if let Some((AuthState::Authenticated(viewer), _)) = self.session.accepted.get() {
            let auth = &self.state.services.auth;
            if auth.is_revoked(viewer.user_id)
                || viewer.session_id.is_some_and(|s| auth.is_revoked(s))
                || viewer.api_key_id.is_some_and(|k| auth.is_revoked(k))
            {
                return Some(Ending::close(close::FORBIDDEN, "Credential revoked"));
            }
        }
        if let Some(ending) = self.send(Message::Ping(Default::default())).await {
            return Some(ending);
        }
        if self.protocol == Protocols::SubscriptionsTransportWS && self.registered.is_some() {
            return self.send(Message::Text(r#"{"type":"ka"}"#.into())).await;
        }
        None
    }
}

fn deadline(at: Timestamp) -> Instant {
    let left = (at.get() - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}
