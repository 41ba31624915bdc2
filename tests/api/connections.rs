//! Connection-level abuse: clients that hold sockets without finishing a
//! request, more connections than the server will serve, WebSockets that
//! never initialise, operations that never end or come in floods, and a
//! subscription that used to hold its connection's loop.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;

use crate::fixtures::{account, ok, project};
use crate::on_both_databases;
use crate::operations_support::start;
use crate::support::{Backend, TestApp};
use crate::ws_support::{Ended, TRANSPORT_WS, Ws, open};

on_both_databases!(
    a_client_that_never_finishes_its_headers_is_closed,
    connections_past_the_cap_wait_unanswered_until_one_closes,
    websockets_waiting_for_init_are_capped_per_address,
    websocket_operations_obey_the_request_timeout_and_the_inflight_cap,
    a_waiting_progress_subscription_does_not_hold_its_connection,
);

/// Reads until the server closes the socket (EOF or reset); `None` if it is
/// still open after `wait`.
async fn closed_within(socket: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

async fn a_client_that_never_finishes_its_headers_is_closed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.connections.header_timeout = Duration::from_millis(300);
    })
    .await
    .expect("backend available");
    // Half a request head, then nothing.
    let mut partial = TcpStream::connect(app.addr).await.expect("connects");
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: tasklane\r\nX-Slow: ")
        .await
        .expect("written");
    // Nothing at all.
    let mut silent = TcpStream::connect(app.addr).await.expect("connects");
    let began = Instant::now();
    assert!(
        closed_within(&mut partial, Duration::from_secs(3))
            .await
            .is_some(),
        "a partial request head holds its socket"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(3))
            .await
            .is_some(),
        "a silent connection holds its socket"
    );
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );

    // A whole request is answered as before.
    let mut whole = TcpStream::connect(app.addr).await.expect("connects");
    whole
        .write_all(b"GET /health HTTP/1.1\r\nHost: tasklane\r\nConnection: close\r\n\r\n")
        .await
        .expect("written");
    let answer = closed_within(&mut whole, Duration::from_secs(3))
        .await
        .expect("answered and closed");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

async fn connections_past_the_cap_wait_unanswered_until_one_closes(backend: Backend) {
    const CAP: usize = 3;
    let app = TestApp::spawn_with(backend, |c| c.connections.max_connections = CAP)
        .await
        .expect("backend available");
    // CAP idle connections take every permit.
    let mut idle = Vec::new();
    for _ in 0..CAP {
        idle.push(TcpStream::connect(app.addr).await.expect("connects"));
    }
    // Let the server accept them all before the next one arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(app.addr)
        .await
        .expect("the kernel queues it");
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: tasklane\r\nConnection: close\r\n\r\n")
        .await
        .expect("written");
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), extra.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "connection {} was served past the cap",
        CAP + 1
    );

    // One closes: the waiting one is accepted and answered.
    drop(idle.pop());
    let answer = closed_within(&mut extra, Duration::from_secs(3))
        .await
        .expect("answered once a permit is free");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

async fn websockets_waiting_for_init_are_capped_per_address(backend: Backend) {
    const CAP: usize = 2;
    let app = TestApp::spawn_with(backend, |c| c.live.pending_per_ip = CAP)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let mut waiting = Vec::new();
    for _ in 0..CAP {
        waiting.push(
            open(app.addr, "/graphql/ws", TRANSPORT_WS, None)
                .await
                .expect("under the cap"),
        );
    }
    let refused = open(app.addr, "/graphql/ws", TRANSPORT_WS, None).await;
    match refused {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        Err(other) => panic!("refused the wrong way: {other}"),
        Ok(_) => panic!("WebSocket {} waiting for init was accepted", CAP + 1),
    }
    // The same over `/graphql` with an Upgrade header.
    assert!(
        open(app.addr, "/graphql", TRANSPORT_WS, None)
            .await
            .is_err()
    );

    // One initialises: it no longer counts, and another may open.
    let mut first = waiting.remove(0);
    first
        .init(json!({ "Authorization": format!("Bearer {}", a.token) }))
        .await;
    assert_eq!(first.next().await.expect("ack")["type"], "connection_ack");
    let mut third = open(app.addr, "/graphql/ws", TRANSPORT_WS, None)
        .await
        .expect("room after an init");
    // A closed one no longer counts either.
    let _ = third.socket.close(None).await;
    drop(third);
    let closing = waiting.remove(0);
    drop(closing);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _again = open(app.addr, "/graphql/ws", TRANSPORT_WS, None)
        .await
        .expect("room after closes");
    // An initialised connection is not affected.
    first.subscribe("q", "{ me { email } }", json!({})).await;
    assert_eq!(
        first.data("q").await["data"]["me"]["email"],
        "a@example.com"
    );
}

async fn websocket_operations_obey_the_request_timeout_and_the_inflight_cap(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.request_timeout = Duration::from_millis(700);
        c.live.inflight_per_connection = 1;
        c.pool.size = 1;
        c.pool.checkout_timeout = Duration::from_secs(10);
    })
    .await
    .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    // The database's only reading connection is taken: a query waits.
    let held = app.database().read().await.expect("a connection");
    let began = Instant::now();
    ws.subscribe("slow", "{ projects { totalCount } }", json!({}))
        .await;
    ws.subscribe("second", "{ projects { totalCount } }", json!({}))
        .await;
    // One at a time on this connection: the second is refused at once.
    let refused = ws.data("second").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("TASKLANE_WS_MAX_INFLIGHT"))
    );
    assert_eq!(ws.next().await.expect("complete")["id"], "second");
    // The first ends at the request timeout, not at the pool's.
    let timed_out = ws.data("slow").await;
    let took = began.elapsed();
    assert_eq!(
        timed_out["errors"][0]["extensions"]["code"], "TIMEOUT",
        "{timed_out}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(took >= Duration::from_millis(600), "took {took:?}");
    assert_eq!(ws.next().await.expect("complete")["id"], "slow");

    // With the connection back, queries run again on the same socket.
    drop(held);
    ws.subscribe("again", "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(ws.data("again").await["data"]["projects"]["totalCount"], 0);
}

const PROGRESS: &str = "subscription($id: ID!) { operationProgress(id: $id) { id status } }";

async fn a_waiting_progress_subscription_does_not_hold_its_connection(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.operations.worker = false)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    crate::fixtures::task(&app, &a.token, &home["id"], "One", json!({})).await;
    // Nobody runs it: it stays PENDING and its progress waits.
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "status": "DONE" } }),
    )
    .await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.subscribe("op", PROGRESS, json!({ "id": op["id"] }))
        .await;
    let first = ws.data("op").await;
    assert_eq!(
        first["data"]["operationProgress"]["status"], "PENDING",
        "{first}"
    );

    // The connection still answers while the subscription waits. (The
    // start's own progress event may still arrive, as PENDING again, when
    // PostgreSQL's LISTEN delivers it after the subscription began.)
    ws.send(json!({ "type": "ping" })).await;
    let pong = loop {
        let message = ws.next().await.expect("pong");
        if message["id"] == "op" {
            let status = &message["payload"]["data"]["operationProgress"]["status"];
            assert_eq!(status, "PENDING", "{message}");
            continue;
        }
        break message;
    };
    assert_eq!(pong["type"], "pong");
    ws.subscribe("q", "{ me { email } }", json!({})).await;
    assert_eq!(ws.data("q").await["data"]["me"]["email"], "a@example.com");
    assert_eq!(ws.next().await.expect("complete")["id"], "q");

    // And a revoked session closes it at once.
    let began = Instant::now();
    ok(&app, &a.token, "mutation { logout }", json!({})).await;
    assert_eq!(ws.ended().await, Ended::Closed(4403));
    assert!(began.elapsed() < Duration::from_secs(2));
}
