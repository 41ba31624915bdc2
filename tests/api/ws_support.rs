//! A GraphQL WebSocket client for the tests, over a real socket, speaking
//! either subprotocol. Every wait has a timeout, so a failure never hangs.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{Backend, TEST_SECRET, TestApp};

/// The longest any single wait on the socket may take.
pub const WAIT: Duration = Duration::from_secs(5);

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

pub struct Ws {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub protocol: &'static str,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Closed(u16),
    /// The server dropped the connection without a close frame.
    Dropped,
}

/// Opens a WebSocket on `path`; the `Err` is the refusal (e.g. HTTP 403).
pub async fn open(
    addr: SocketAddr,
    path: &str,
    protocol: &'static str,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    let headers = request.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
    if let Some(origin) = origin {
        headers.insert("Origin", HeaderValue::from_str(origin).expect("origin"));
    }
    let (socket, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")?;
    check_protocol(&response, protocol);
    Ok(Ws { socket, protocol })
}

/// Opens an initialised connection whose socket takes little before the
/// client reads it (the kernel would otherwise buffer megabytes).
pub async fn ready_small_buffer(addr: SocketAddr, protocol: &'static str, token: &str) -> Ws {
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(16 * 1024).expect("buffer size");
    let stream = tcp.connect(addr).await.expect("connects");
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
    let (socket, response) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)),
    )
    .await
    .expect("handshake in time")
    .expect("handshake");
    check_protocol(&response, protocol);
    let mut ws = Ws { socket, protocol };
    ws.init(json!({ "Authorization": format!("Bearer {token}") }))
        .await;
    assert_eq!(ws.next().await.expect("ack")["type"], "connection_ack");
    ws
}

fn check_protocol(response: &tungstenite::handshake::client::Response, protocol: &str) {
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some(protocol),
        "the server speaks the protocol asked for"
    );
}

impl Ws {
    pub async fn connect(addr: SocketAddr, protocol: &'static str) -> Self {
        open(addr, "/graphql/ws", protocol, None)
            .await
            .expect("WebSocket opens")
    }

    /// Opens and initialises with `token`, expecting the ack.
    pub async fn ready(addr: SocketAddr, protocol: &'static str, token: &str) -> Self {
        let mut ws = Self::connect(addr, protocol).await;
        ws.init(json!({ "Authorization": format!("Bearer {token}") }))
            .await;
        let ack = ws.next().await.expect("an answer to connection_init");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        ws
    }

    pub async fn send(&mut self, message: Value) {
        tokio::time::timeout(WAIT, self.socket.send(Message::text(message.to_string())))
            .await
            .expect("sent in time")
            .expect("sent");
    }

    pub async fn send_text(&mut self, text: &str) {
        tokio::time::timeout(WAIT, self.socket.send(Message::text(text)))
            .await
            .expect("sent in time")
            .expect("sent");
    }

    pub async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
    }

    /// Starts an operation under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        self.send(json!({ "type": kind, "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (keep-alives and control frames skipped);
    /// `None` when the connection ends. Panics after [`WAIT`].
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no message within {WAIT:?}"))
    }

    /// Like [`Self::next`]; the outer `None` when nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Option<Value>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    if value["type"] == "ka" {
                        continue;
                    }
                    return Some(Some(value));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Some(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The payload of the next data message for `id` (`next` or `data`).
    pub async fn data(&mut self, id: &str) -> Value {
        let message = self.next().await.expect("a message, not the end");
        assert!(
            message["type"] == "next" || message["type"] == "data",
            "expected data, got {message}"
        );
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }

    /// Waits for the end of the connection, skipping messages.
    pub async fn ended(&mut self) -> Ended {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("the connection ends in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return Ended::Closed(frame.code.into()),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Ended::Dropped,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Asserts no protocol message arrives within `wait`.
    pub async fn silent_for(&mut self, wait: Duration) {
        if let Some(message) = self.next_within(wait).await {
            panic!("expected silence, got {message:?}");
        }
    }
}

/// A gauge's value from `/metrics` of the server at `addr`.
pub async fn gauge(addr: SocketAddr, name: &str) -> i64 {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("tasklane_{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the server at `addr` has `n` active subscriptions (so that
/// what follows is not raced by the registration).
pub async fn subscriptions_reach(addr: SocketAddr, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if gauge(addr, "subscriptions").await == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached {n} subscriptions"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The app, and where a second writer and subscriber connect: on
/// PostgreSQL a second instance on the same database, on SQLite the same one.
pub async fn two_instances(backend: Backend) -> (TestApp, Option<tasklane::Server>, SocketAddr) {
    let app = TestApp::spawn(backend).await.expect("backend available");
    if backend == Backend::Sqlite {
        let addr = app.addr;
        return (app, None, addr);
    }
    let mut config =
        tasklane::Config::with_database(&app.db.url, Some(TEST_SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    let second = tasklane::start(config).await.expect("second instance");
    let addr = second.addr;
    (app, Some(second), addr)
}
