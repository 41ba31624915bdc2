//! Rolling restarts: on shutdown `/ready` answers 503 (draining), every
//! WebSocket is told to go elsewhere
//! (close 1001), requests in flight finish, the process exits within
//! `TASKLANE_SHUTDOWN_TIMEOUT_SECS`, and a subscriber that reconnects to
//! another instance gets back through `changes` what it missed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::bench_support::call;
use crate::fixtures::{account, project, task};
use crate::on_both_backends;
use crate::support::{TEST_SECRET, TestApp};
use crate::ws_support::{Ended, LEGACY_WS, TRANSPORT_WS, Ws, subscriptions_reach};

on_both_backends!(
    a_subscriber_is_sent_elsewhere_and_catches_up_through_changes,
    a_shutdown_ends_within_its_timeout,
);

const EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) { type task { id } } }";
const CHANGES: &str = "query($since: String) { changes(since: $since) { tasks { id } cursor } }";
const CREATE: &str = "mutation($p: ID!, $t: String!) {
    createTask(input: { projectId: $p, title: $t }) { id } }";

/// (task ids, cursor) of a `changes` pull at `url`.
async fn pull(url: &str, token: &str, since: &Value) -> (Vec<Value>, Value) {
    let data = call(
        &reqwest::Client::new(),
        url,
        Some(token),
        CHANGES,
        json!({ "since": since }),
    )
    .await;
    let changes = &data["changes"];
    let ids = changes["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    (ids, changes["cursor"].clone())
}

async fn a_subscriber_is_sent_elsewhere_and_catches_up_through_changes(mut app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Rolling").await["id"].clone();
    let here = app.url("/graphql");
    let (_, start) = pull(&here, &a.token, &Value::Null).await;

    let mut subscriber = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    subscriber.subscribe("s", EVENTS, json!({ "p": p })).await;
    subscriptions_reach(app.addr, 1).await;
    // A socket that has not sent `connection_init` yet is told too.
    let mut pending = Ws::connect(app.addr, LEGACY_WS).await;
    let first = task(&app, &a.token, &p, "before the restart", json!({})).await;
    let event = subscriber.data("s").await;
    assert_eq!(event["data"]["taskEvents"]["task"]["id"], first["id"]);
    let (seen, cursor) = pull(&here, &a.token, &start).await;
    assert_eq!(seen, vec![first["id"].clone()]);

    // A request to /ready begun before the shutdown, finished during it.
    let mut probe = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    probe
        .write_all(b"GET /ready HTTP/1.1\r\nhost: test\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = tokio::spawn(app.server.take().expect("running").shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    probe
        .write_all(b"connection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    probe.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("draining"), "{answer}");
    assert_eq!(subscriber.ended().await, Ended::Closed(1001));
    assert_eq!(pending.ended().await, Ended::Closed(1001));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the shutdown ends in time")
        .expect("join")
        .expect("clean shutdown");

    // The client reconnects to another instance on the same database; a
    // task is written there before it subscribes again.
    let mut config =
        tasklane::Config::with_database(&app.db.url, Some(TEST_SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    let other = tasklane::start(config).await.expect("another instance");
    let there = format!("http://{}/graphql", other.addr);
    let client = reqwest::Client::new();
    let vars = json!({ "p": p, "t": "while away" });
    let missed = call(&client, &there, Some(&a.token), CREATE, vars).await["createTask"].clone();
    let mut subscriber = Ws::ready(other.addr, TRANSPORT_WS, &a.token).await;
    subscriber.subscribe("s", EVENTS, json!({ "p": p })).await;
    subscriptions_reach(other.addr, 1).await;
    let vars = json!({ "p": p, "t": "after the restart" });
    let live = call(&client, &there, Some(&a.token), CREATE, vars).await["createTask"].clone();
    let event = subscriber.data("s").await;
    assert_eq!(event["data"]["taskEvents"]["task"]["id"], live["id"]);

    // What the socket did not carry, `changes` since its last cursor does.
    let (caught_up, _) = pull(&there, &a.token, &cursor).await;
    assert_eq!(caught_up, vec![missed["id"].clone(), live["id"].clone()]);
    other.shutdown().await.expect("clean shutdown");
}

async fn a_shutdown_ends_within_its_timeout(app: TestApp) {
    let mut config =
        tasklane::Config::with_database(&app.db.url, Some(TEST_SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    config.shutdown_timeout = Duration::from_secs(1);
    let server = tasklane::start(config).await.expect("server");
    // A request that never finishes sending its body: without the bound
    // the shutdown would wait for it until the request timeout (30 s).
    let mut stuck = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"query\":";
    stuck.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.shutdown().await.expect("ends");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "{took:?}: it waited for the request"
    );
    assert!(
        took < Duration::from_secs(5),
        "{took:?}: bounded by the timeout"
    );
    drop(stuck);
}

/// The binary on SIGTERM: its WebSockets are closed with 1001 and it exits
/// with status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_websockets_with_1001_and_exits() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = crate::support::tasklane_binary();
    let mut server = command
        .arg("serve")
        .env(
            "TASKLANE_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("tasklane.db").display()),
        )
        .env("TASKLANE_LISTEN", "127.0.0.1:0")
        .env("TASKLANE_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = server.stdout.take().expect("stdout");
    let addr = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = line.split("GraphiQL at http://").nth(1)?;
                rest.split('/').next()?.parse::<std::net::SocketAddr>().ok()
            })
    })
    .await
    .expect("join")
    .expect("the serving line gives the address");
    let mut socket = Ws::connect(addr, TRANSPORT_WS).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert_eq!(socket.ended().await, Ended::Closed(1001));
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.try_wait().expect("wait") {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
}
