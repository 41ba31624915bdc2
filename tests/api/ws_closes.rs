//! Every close says why: a connection the server ends gets a close frame
//! with its code and a reason, a client too slow to read included (1008,
//! not a bare drop that a client cannot tell from a lost network).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::fixtures::{account, project};
use crate::on_both_databases;
use crate::support::{Backend, TestApp};
use crate::ws_support::{LEGACY_WS, TRANSPORT_WS, Ws, ready_small_buffer};

on_both_databases!(
    a_client_that_stops_reading_is_told_it_was_too_slow,
    each_close_of_the_server_carries_a_reason,
);

/// The close frame that ends the connection (messages before it skipped):
/// its code and reason; `None` when the connection ended without one.
async fn close_frame(ws: &mut Ws) -> Option<(u16, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.socket.next())
            .await
            .expect("the connection ends in time");
        match frame {
            Some(Ok(Message::Close(Some(frame)))) => {
                return Some((frame.code.into(), frame.reason.to_string()));
            }
            Some(Ok(Message::Close(None))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Active subscriptions on the server at `addr`, from `/metrics`.
async fn active_subscriptions(addr: SocketAddr) -> i64 {
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics answered")
        .text()
        .await
        .expect("metrics text");
    let value = metrics.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == "tasklane_subscriptions").then_some(value)
    });
    value.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

const CREATE_TASKS: &str =
    "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }";

async fn a_client_that_stops_reading_is_told_it_was_too_slow(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.live.buffer = 4)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Busy").await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut slow = ready_small_buffer(app.addr, protocol, &a.token).await;
        // Large events: the description is selected.
        let query = "subscription { taskEvents { type task { id description } } }";
        slow.subscribe("s", query, json!({})).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while active_subscriptions(app.addr).await != 1 {
            assert!(tokio::time::Instant::now() < deadline, "subscribed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // From here on the client reads nothing while events are made ...
        let http = app.client.clone();
        let endpoint = format!("http://{}/graphql", app.addr);
        let (token, project_id) = (a.token.clone(), p["id"].clone());
        let producer = tokio::spawn(async move {
            let long = "x".repeat(9_000);
            loop {
                let input: Vec<Value> = (0..50)
                    .map(|i| json!({ "projectId": project_id, "title": format!("t{i}"), "description": long }))
                    .collect();
                // A write refused on a busy machine (a statement timeout)
                // only means fewer events: the next one is tried.
                let _ = http
                    .post(&endpoint)
                    .bearer_auth(&token)
                    .json(&json!({ "query": CREATE_TASKS, "variables": { "input": input } }))
                    .send()
                    .await;
            }
        });
        // ... until the server gives up on it: its subscription ends.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while active_subscriptions(app.addr).await != 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{protocol}: the client that reads nothing was never found too slow"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        producer.abort();

        // It reads again: what was already on its way, then the close frame.
        let close = close_frame(&mut slow).await;
        let (code, reason) = close.unwrap_or_else(|| {
            panic!("{protocol}: the slow client got no close frame, just the end")
        });
        assert_eq!(code, 1008, "{protocol}: {reason}");
        assert!(
            reason.to_lowercase().contains("slow"),
            "{protocol}: the reason says why: {reason:?}"
        );
    }
}

async fn each_close_of_the_server_carries_a_reason(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.live.init_timeout = Duration::from_millis(300);
    })
    .await
    .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let bearer = json!({ "Authorization": format!("Bearer {}", a.token) });
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut closes = Vec::new();
        let mut ws = Ws::connect(app.addr, protocol).await;
        closes.push((4408, close_frame(&mut ws).await));
        let mut ws = Ws::connect(app.addr, protocol).await;
        ws.init(json!({ "Authorization": "Bearer nonsense" })).await;
        closes.push((4403, close_frame(&mut ws).await));
        let mut ws = Ws::connect(app.addr, protocol).await;
        ws.subscribe("early", "{ me { id } }", json!({})).await;
        closes.push((4401, close_frame(&mut ws).await));
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        ws.send_text("this is not JSON").await;
        closes.push((4400, close_frame(&mut ws).await));
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        ws.init(bearer.clone()).await;
        closes.push((4429, close_frame(&mut ws).await));
        // Over the 1 MiB a message may have (found by the fuzzed-schema
        // test: the socket was dropped without a word).
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        let document = format!("{{ me {{ id }} }} # {}", "x".repeat(1024 * 1024));
        ws.subscribe("big", &document, json!({})).await;
        closes.push((1009, close_frame(&mut ws).await));
        for (code, close) in closes {
            let (got, reason) =
                close.unwrap_or_else(|| panic!("{protocol}: {code} came without a close frame"));
            assert_eq!(got, code, "{protocol}: {reason}");
            assert!(!reason.is_empty(), "{protocol}: {code} says why");
        }
    }

    // A client that closes is answered with a close.
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.socket
        .close(None)
        .await
        .expect("the client's close is sent");
    let answered = tokio::time::timeout(Duration::from_secs(5), ws.socket.next())
        .await
        .expect("answered in time");
    assert!(
        matches!(answered, Some(Ok(Message::Close(_)))),
        "{answered:?}"
    );
}
