//! GraphQL over WebSocket on `/graphql/ws` (and `/graphql` with an Upgrade
//! header), in both subprotocols: `graphql-transport-ws` and the older
//! `graphql-ws` (the default when a client names neither).
//!
//! async-graphql runs the protocol; this module stands between it and the
//! socket. Every client message is read here first, which enforces what the
//! library does not:
//!
//! | close | when |
//! | --- | --- |
//! | 4400 | a message that is not JSON or not a protocol message |
//! | 4401 | a subscribe before `connection_init` was accepted |
//! | 4403 | no valid credential in `connection_init`; the access token expired; the session, API key or user was revoked |
//! | 4408 | no `connection_init` within `TASKLANE_WS_INIT_TIMEOUT_MS` |
//! | 4409 | a subscribe with an id already in use on the connection |
//! | 4429 | more connections of the user than `TASKLANE_WS_MAX_CONNECTIONS_PER_USER`, or a second `connection_init` |
//! | 1008 | the client reads too slowly: more than `TASKLANE_WS_BUFFER` messages waiting |
//! | 1001 | the client stopped answering pings for two keep-alive intervals |
//!
//! Before the upgrade, a client address with `TASKLANE_WS_MAX_PENDING_PER_IP`
//! sockets still waiting for `connection_init` gets 429 (`RATE_LIMITED`).
//! After it, nothing a client starts holds the connection's loop: queries
//! and mutations run in the protocol, beside it, under the request timeout
//! and at most `TASKLANE_WS_MAX_INFLIGHT` at once (see [`executor`]);
//! subscriptions are joined beside it (at most as many at once; past that
//! the loop reads no further messages until one is joined) and a
//! subscription with a stream of its own runs on a task of its own. So
//! pings are answered and a revoked credential closes the socket whatever
//! its subscriptions wait for.
//!
//! The credential is read from the `connection_init` payload (`Authorization`,
//! `authorization` or `token`, with or without `Bearer `) and checked by the
//! same [`Authenticator`](crate::auth::Authenticator) as HTTP requests.
//!
//! Origins: a request with an `Origin` header is accepted when that origin is
//! in `TASKLANE_CORS_ORIGINS` or is the server's own (its host is the `Host`
//! header); any other is refused with 403 before the upgrade. A request
//! without `Origin` comes from a non-browser client, which no browser page
//! can forge, and is accepted.

mod executor;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocket as Protocol, WebSocketProtocols as Protocols,
    WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, FuturesUnordered};
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::AppState;
use super::graphql_http::{self, request_meta};
use crate::auth::AuthState;
use crate::db::types::Timestamp;
use crate::error::code;
use crate::graphql::RequestMeta;
use crate::live::LiveConnection;
use crate::live::hub::{CONNECTION_QUEUE, Close, Closer, ConnectionGuard, Outlet, Shared, close};
use crate::live::pending::PendingGuard;
pub use executor::TIMEOUT;
use executor::{ConnectionExecutor, Joined, Session, is_subscription, join_group_within};

/// How long a full send queue may stay full before its client counts as
/// too slow: a reading client frees room in microseconds (a burst larger
/// than the queue is fine); a stalled one does not.
const SLOW_GRACE: Duration = Duration::from_secs(1);

/// Puts `message` in the send queue; `false` when the client is too slow
/// (or gone).
async fn queue(out: &mpsc::Sender<Message>, message: Message) -> bool {
    match out.try_send(message) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(message)) => {
            matches!(
                tokio::time::timeout(SLOW_GRACE, out.send(message)).await,
                Ok(Ok(()))
            )
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Bytes read from the socket at a time: the buffer is filled (so resident)
/// on every connection, and what clients send is small (a larger message
/// takes a few reads).
const READ_BUFFER: usize = 1024;
/// Bytes gathered before a write.
const WRITE_BUFFER: usize = 4 * 1024;
/// Largest message a client may send (a subscribe carries one document).
const MAX_CLIENT_MESSAGE: usize = 1024 * 1024;

/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// `GET /graphql`: a WebSocket when asked to upgrade, else GraphQL over GET.
pub async fn get_or_upgrade(state: State<Arc<AppState>>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        upgrade(state, request).await
    } else {
        graphql_http::get(state, request).await
    }
}

/// `GET /graphql/ws`.
pub async fn upgrade(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if !origin_allowed(&parts.headers, &state.services.config.cors_origins) {
        let body = json!({ "errors": [{ "message": "Origin not allowed", "extensions": { "code": "FORBIDDEN" } }] });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    // Small socket buffers: the defaults (128 KiB each way) cost a quarter
    // of a megabyte per idle connection. Messages from clients are small.
    let ws = ws
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE);
    let protocol = ws
        .selected_protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(|p| p.parse::<Protocols>().ok())
        .unwrap_or(Protocols::SubscriptionsTransportWS);
    let meta = request_meta(&parts, &state.services.config.trusted_proxies);
    let pending = match meta.client_ip {
        Some(ip) => match state.pending.open(ip) {
            Some(guard) => Some(guard),
            None => return too_many_pending(&state),
        },
        None => None,
    };
    ws.on_upgrade(move |socket| serve(state, socket, protocol, meta, pending))
}

/// 429: this address has too many sockets waiting for `connection_init`.
fn too_many_pending(state: &AppState) -> Response {
    let limit = state.pending.limit();
    let retry = state.services.config.live.init_timeout.as_secs().max(1);
    let body = json!({ "errors": [{
        "message": format!(
            "This address already has {limit} WebSockets waiting for connection_init, \
             the limit per address (TASKLANE_WS_MAX_PENDING_PER_IP)"
        ),
        "extensions": { "code": code::RATE_LIMITED, "retryAfter": retry },
    }] });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    response
}

fn origin_allowed(headers: &HeaderMap, allowed: &[HeaderValue]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/').eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// The credential of a `connection_init` payload, as an `Authorization` value.
fn credential(payload: Option<&serde_json::Value>) -> Option<String> {
    let object = payload?.as_object()?;
    fn find(object: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
        ["Authorization", "authorization", "token"]
            .iter()
            .find_map(|key| object.get(*key)?.as_str().map(str::trim))
    }
    let value = find(object).or_else(|| object.get("headers")?.as_object().and_then(find))?;
    let bearer = value
        .split_once(' ')
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    Some(if bearer {
        value.to_owned()
    } else {
        format!("Bearer {value}")
    })
}

fn complete_frame(id: &str) -> String {
    json!({ "type": "complete", "id": id }).to_string()
}

/// The id of a `complete` message the server sends.
fn completed_id(text: &str) -> Option<String> {
    if !text.starts_with(r#"{"type":"complete""#) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("id")?.as_str().map(str::to_owned)
}

fn deadline(at: Timestamp) -> Instant {
    let left = (at.get() - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}

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
    guard: crate::live::hub::SharedGuard,
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
                closer.close(Close::new(close::SLOW_CONSUMER, "Slow consumer"));
                return;
            }
        }
        let _ = done.send((id, start));
    })
    .abort_handle()
}

async fn serve(
    state: Arc<AppState>,
    socket: WebSocket,
    protocol: Protocols,
    meta: RequestMeta,
    mut pending: Option<PendingGuard>,
) {
    let services = state.services.clone();
    let limits = services.config.live.clone();
    let _open = services.live.socket_opened();
    let (mut sink, mut incoming) = socket.split();

    // The writer: a bounded queue in front of the socket, so that a client
    // that does not read fills its own queue and nobody else's.
    let (out, mut waiting) = mpsc::channel::<Message>(limits.buffer);
    let mut writer = tokio::spawn(async move {
        // What is queued goes out together, with one flush.
        while let Some(message) = waiting.recv().await {
            let mut last = matches!(message, Message::Close(_));
            let mut ok = sink.feed(message).await.is_ok();
            while ok && !last {
                let Ok(message) = waiting.try_recv() else {
                    break;
                };
                last = matches!(message, Message::Close(_));
                ok = sink.feed(message).await.is_ok();
            }
            if !ok || sink.flush().await.is_err() || last {
                break;
            }
        }
    });

    let session = Arc::new(Session {
        accepted: OnceLock::new(),
        meta,
        inflight: Arc::new(Semaphore::new(limits.inflight_per_connection.max(1))),
    });
    let executor = ConnectionExecutor {
        state: state.clone(),
        session: session.clone(),
    };
    let protocol_executor = executor.clone();
    // Boxed: a channel allocates its first block of 32 slots at once, and a
    // `ClientMessage` is 368 bytes (12 KiB per connection, unboxed).
    let (to_protocol, mut protocol_input) = mpsc::unbounded_channel::<Box<ClientMessage>>();
    let input = futures_util::stream::poll_fn(move |cx| {
        protocol_input
            .poll_recv(cx)
            .map(|message| message.map(|message| Ok(*message)))
    });
    let mut graphql = Protocol::from_message_stream(protocol_executor, input, protocol);

    let closer = Closer::default();
    let (queue_tx, mut shared_frames) = mpsc::channel::<Shared>(CONNECTION_QUEUE);
    let outlet = Outlet {
        direct: out.clone(),
        queue: queue_tx,
        pending: Default::default(),
    };
    let mut connection: Option<ConnectionGuard> = None;
    // Operation ids in use, each with the number of its start (an id may be
    // stopped and used again while its first start is still joining).
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut starts: u64 = 0;
    // Subscribes being joined (their resolvers run beside the loop); while
    // as many as the in-flight limit are, the loop reads no more messages.
    let mut joining: FuturesUnordered<BoxFuture<'static, (String, u64, Joined)>> =
        FuturesUnordered::new();
    // Subscriptions in a group, by their id.
    let mut shared: HashMap<String, SharedSub> = HashMap::new();
    // Subscriptions with streams of their own (`operationProgress`), by id.
    let mut own: HashMap<String, OwnTask> = HashMap::new();
    let (done_tx, mut done) = mpsc::unbounded_channel::<(String, u64)>();
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(init_deadline);
    let expiry = tokio::time::sleep(Duration::from_secs(86_400 * 365));
    tokio::pin!(expiry);
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + limits.keepalive, limits.keepalive);
    let mut last_seen = Instant::now();
    let joining_limit = limits.inflight_per_connection.max(1);

    let close: Option<Close> = loop {
        tokio::select! {
            frame = incoming.next(), if joining.len() < joining_limit => {
                let Some(Ok(frame)) = frame else { break None };
                last_seen = Instant::now();
                let message = match &frame {
                    Message::Text(text) => serde_json::from_str::<ClientMessage>(text.as_str()),
                    Message::Binary(bytes) => serde_json::from_slice::<ClientMessage>(bytes),
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Close(_) => break None,
                };
                let Ok(message) = message else {
                    break Some(Close::new(close::INVALID_MESSAGE, "Invalid message"));
                };
                match &message {
                    ClientMessage::ConnectionInit { .. } if connection.is_some() => {
                        break Some(Close::new(close::TOO_MANY, "Too many initialisation requests"));
                    }
                    ClientMessage::ConnectionInit { payload } => {
                        let header = credential(payload.as_ref());
                        let (auth, expires) =
                            services.auth.authenticate_until(header.as_deref()).await;
                        let AuthState::Authenticated(viewer) = &auth else {
                            break Some(Close::new(close::FORBIDDEN, "Forbidden"));
                        };
                        let guard = match services.live.connect(viewer, closer.clone(), Some(outlet.clone())) {
                            Ok(guard) => guard,
                            Err(refused) => break Some(refused),
                        };
                        let _ = session
                            .accepted
                            .set((auth.clone(), LiveConnection { id: guard.id }));
                        connection = Some(guard);
                        // No longer pending for its address.
                        pending.take();
                        if let Some(at) = expires {
                            expiry.as_mut().reset(deadline(at));
                        }
                    }
                    ClientMessage::Start { id, .. } => {
                        if connection.is_none() {
                            break Some(Close::new(close::UNAUTHORIZED, "Unauthorized"));
                        }
                        if ids.contains_key(id) {
                            break Some(Close::new(
                                close::DUPLICATE_ID,
                                format!("Subscriber for {id} already exists"),
                            ));
                        }
                        starts += 1;
                        ids.insert(id.clone(), starts);
                    }
                    ClientMessage::Stop { id } => {
                        ids.remove(id);
                        if shared.remove(id).is_some() || own.remove(id).is_some() {
                            if !queue(&out, Message::Text(complete_frame(id).into())).await {
                                break Some(Close::new(close::SLOW_CONSUMER, "Slow consumer"));
                            }
                            continue;
                        }
                    }
                    _ => {}
                }
                let message = match message {
                    ClientMessage::Start { id, mut payload } => {
                        if is_subscription(&executor, &mut payload) {
                            let executor = executor.clone();
                            let start = starts;
                            let limit = services.config.request_timeout;
                            joining.push(
                                async move {
                                    let joined = join_group_within(limit, executor, protocol, id.clone(), payload).await;
                                    (id, start, joined)
                                }
                                .boxed(),
                            );
                            continue;
                        }
                        ClientMessage::Start { id, payload }
                    }
                    message => message,
                };
                let _ = to_protocol.send(Box::new(message));
            }
            Some((id, start, joined)) = joining.next(), if !joining.is_empty() => {
                // Stopped (or its id reused) while it was joining: dropped.
                if ids.get(&id) != Some(&start) {
                    continue;
                }
                match joined {
                    Joined::Shared(guard) => {
                        shared.insert(id, SharedSub { start, guard });
                    }
                    Joined::Own(frames) => {
                        let task = spawn_own(frames, out.clone(), closer.clone(), done_tx.clone(), id.clone(), start);
                        own.insert(id, OwnTask { start, task });
                    }
                }
            }
            Some((id, start)) = done.recv() => {
                if own.get(&id).is_some_and(|task| task.start == start) {
                    own.remove(&id);
                    ids.remove(&id);
                }
            }
            sent = graphql.next() => match sent {
                None => break None,
                Some(WsMessage::Close(code, reason)) => break Some(Close::new(code, reason)),
                Some(WsMessage::Text(text)) => {
                    if let Some(id) = completed_id(&text) {
                        ids.remove(&id);
                    }
                    if !queue(&out, Message::Text(text.into())).await {
                        break Some(Close::new(close::SLOW_CONSUMER, "Slow consumer"));
                    }
                }
            },
            request = closer.asked() => break Some(request),
            Some(delivery) = shared_frames.recv() => {
                let frame = match delivery {
                    // Nothing follows the `complete` of a stopped subscription.
                    Shared::Frame(sub, id, frame) => {
                        shared.get(&*id).is_some_and(|s| s.guard.id() == sub).then_some(frame)
                    }
                    // Its project was deleted: the subscription completes.
                    Shared::Ended(sub, id) => {
                        let ended = shared.get(&*id).is_some_and(|s| s.guard.id() == sub);
                        if ended {
                            let start = shared.remove(&*id).map(|s| s.start);
                            if start.is_some() && ids.get(&*id) == start.as_ref() {
                                ids.remove(&*id);
                            }
                            Some(complete_frame(&id))
                        } else {
                            None
                        }
                    }
                };
                let queued = match frame {
                    Some(frame) => queue(&out, Message::Text(frame.into())).await,
                    None => true,
                };
                // Only now may the hub write past this queue again.
                outlet.pending.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                if !queued {
                    break Some(Close::new(close::SLOW_CONSUMER, "Slow consumer"));
                }
            }
            () = &mut init_deadline, if connection.is_none() => {
                break Some(Close::new(close::INIT_TIMEOUT, "Connection initialisation timeout"));
            }
            () = &mut expiry => break Some(Close::new(close::FORBIDDEN, "Token expired")),
            _ = keepalive.tick() => {
                if last_seen.elapsed() > limits.keepalive * 2 {
                    break Some(Close::new(close::PING_TIMEOUT, "Ping timeout"));
                }
                if let Some((AuthState::Authenticated(viewer), _)) = session.accepted.get() {
                    let auth = &services.auth;
                    if auth.is_revoked(viewer.user_id)
                        || viewer.session_id.is_some_and(|s| auth.is_revoked(s))
                        || viewer.api_key_id.is_some_and(|k| auth.is_revoked(k))
                    {
                        break Some(Close::new(close::FORBIDDEN, "Credential revoked"));
                    }
                }
                let mut pings = vec![Message::Ping(Default::default())];
                if protocol == Protocols::SubscriptionsTransportWS && connection.is_some() {
                    pings.push(Message::Text(r#"{"type":"ka"}"#.into()));
                }
                let mut queued = true;
                for ping in pings {
                    queued = queued && queue(&out, ping).await;
                }
                if !queued {
                    break Some(Close::new(close::SLOW_CONSUMER, "Slow consumer"));
                }
            }
        }
    };

    // Subscriptions end before the connection is unregistered.
    drop(joining);
    drop(own);
    drop(shared);
    drop(graphql);
    drop(connection);
    drop(outlet);
    if let Some(close) = close {
        let frame = Message::Close(Some(CloseFrame {
            code: close.code,
            reason: close.reason.into(),
        }));
        // A client too slow to take its queue gets no close frame, just the end.
        if out.try_send(frame).is_ok() {
            drop(out);
            // The closing handshake: the client answers with its own close.
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                let _ = (&mut writer).await;
                while let Some(Ok(frame)) = incoming.next().await {
                    if matches!(frame, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_found_under_each_key_with_or_without_bearer() {
        let of = |payload: serde_json::Value| credential(Some(&payload));
        assert_eq!(
            of(json!({ "Authorization": "Bearer a" })).as_deref(),
            Some("Bearer a")
        );
        assert_eq!(
            of(json!({ "authorization": "bearer b" })).as_deref(),
            Some("bearer b")
        );
        assert_eq!(
            of(json!({ "token": "tl_key" })).as_deref(),
            Some("Bearer tl_key")
        );
        assert_eq!(
            of(json!({ "headers": { "Authorization": "Bearer c" } })).as_deref(),
            Some("Bearer c")
        );
        assert_eq!(of(json!({ "other": "x" })), None);
        assert_eq!(of(json!("Bearer a")), None);
        assert_eq!(credential(None), None);
    }

    #[test]
    fn origins_are_the_allow_list_or_the_servers_own() {
        let allowed = [HeaderValue::from_static("https://app.example.com")];
        let check = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("api.example.com"));
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            origin_allowed(&headers, &allowed)
        };
        assert!(check(None), "non-browser clients send no Origin");
        assert!(check(Some("https://app.example.com")));
        assert!(check(Some("https://api.example.com")), "same origin");
        assert!(!check(Some("https://evil.example.com")));
        assert!(!check(Some("https://api.example.com.evil.net")));
        assert!(!check(Some("null")));
    }
}
