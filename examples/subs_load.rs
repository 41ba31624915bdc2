//! Subscription fan-out under load, against a running server.
//!
//! Signs up `--users` users, opens `--subscriptions` WebSocket connections
//! (graphql-transport-ws, one `taskEvents` subscription each, spread evenly
//! over the users), then for `--duration` seconds a writer updates one task
//! per user in turn, `--rate` updates per second. Each event should reach
//! every subscriber of its user. Prints: connections made, events expected
//! and received (lost = the difference), delivery latency p50 / p99 / max
//! from the task's `updatedAt` (stamped inside the writing transaction, just
//! before its commit) to the client, and the server's RSS when `--pid` is
//! given, with the CPU time the server and this client used per event
//! while writing. `--threads N` runs this client on N runtime threads
//! (default 2: with one, reading 100,000 events a second in turn, p99 was
//! a third higher on this 2-core machine).
//!
//! ```sh
//! cargo run --release --example subs_load -- --url http://127.0.0.1:8080 \
//!     --subscriptions 1000 --users 1 --rate 10 --duration 30 --pid $SERVER_PID
//! ```
//! With `--js PATH`, the subscribers are one Node.js process running the
//! shared `graphql-ws` client (`../shared/bench/subs-load.mjs`, all of them
//! the first user's), closer to what a real frontend runs; this program then
//! only writes and reads that client's result.
//!
//! The server must allow the connections per user (`TASKLANE_WS_MAX_CONNECTIONS_PER_USER`)
//! and the signups (`TASKLANE_RATE_SIGNUP_IP`); `benches/subs-load.sh` sets both.

mod bench_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use bench_support::{call, cpu_ms, rss_kib};

const PASSWORD: &str = "correct horse battery";
const SUBSCRIPTION: &str =
    "subscription { taskEvents { type task { id title version updatedAt } } }";

struct Args {
    url: String,
    subscriptions: usize,
    users: usize,
    rate: f64,
    duration: u64,
    pid: Option<u32>,
    js: Option<String>,
    threads: usize,
}

fn bad<T>(name: &str, value: &str) -> T {
    panic!("bad value for {name}: {value:?}")
}

fn args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:8080".into(),
        subscriptions: 1000,
        users: 1,
        rate: 10.0,
        duration: 30,
        pid: None,
        js: None,
        threads: 2,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        let name = pair[0].as_str();
        match pair[0].as_str() {
            "--url" => args.url = value.trim_end_matches('/').to_owned(),
            "--subscriptions" => {
                args.subscriptions = value.parse().unwrap_or_else(|_| bad(name, value))
            }
            "--users" => args.users = value.parse().unwrap_or_else(|_| bad(name, value)),
            "--rate" => args.rate = value.parse().unwrap_or_else(|_| bad(name, value)),
            "--duration" => args.duration = value.parse().unwrap_or_else(|_| bad(name, value)),
            "--pid" => args.pid = Some(value.parse().unwrap_or_else(|_| bad(name, value))),
            "--js" => args.js = Some(value.to_owned()),
            "--threads" => {
                args.threads = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| bad(name, value))
            }
            other => panic!("unknown option {other}"),
        }
    }
    args
}

/// One subscriber: latencies in microseconds of what it received.
async fn subscriber(
    ws_url: String,
    token: String,
    ready: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<u32> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = ws_url.into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // A small read buffer: tungstenite zero-fills the whole buffer (128 KiB
    // by default) before every read, which made this client spend a third of
    // its CPU in memset and delay the very deliveries it measures.
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    config.read_buffer_size = 4096;
    let connected =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await;
    let (mut socket, _) = match connected {
        Ok(ok) => ok,
        Err(err) => {
            eprintln!("connect failed: {err}");
            return Vec::new();
        }
    };
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": SUBSCRIPTION } });
    if socket.send(Message::text(init.to_string())).await.is_err()
        || socket
            .send(Message::text(subscribe.to_string()))
            .await
            .is_err()
    {
        return Vec::new();
    }
    let mut latencies = Vec::new();
    let mut acked = false;
    // One wait for the stop, not a timer per message.
    let stopped = stop.wait_for(|stop| *stop);
    tokio::pin!(stopped);
    loop {
        let frame = tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(frame)) => frame,
                _ => break,
            },
            _ = &mut stopped => break,
        };
        let Message::Text(text) = frame else { continue };
        let received = chrono::Utc::now();
        // An event: only its type and `updatedAt` are needed.
        if let Some(stamped) = event_stamp(text.as_str()) {
            let micros = (received - stamped).num_microseconds().unwrap_or(0).max(0);
            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
            continue;
        }
        let value: Value = match serde_json::from_str(text.as_str()) {
            Ok(v) => v,
            Err(_) => continue,
        };
        match value["type"].as_str() {
            Some("connection_ack") if !acked => {
                acked = true;
                ready.fetch_add(1, Ordering::Relaxed);
            }
            Some("next") => {
                let stamped = value["payload"]["data"]["taskEvents"]["task"]["updatedAt"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                if let Some(at) = stamped {
                    let micros = (received - at.with_timezone(&chrono::Utc))
                        .num_microseconds()
                        .unwrap_or(0)
                        .max(0);
                    latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                } else {
                    eprintln!("unexpected payload: {value}");
                }
            }
            Some("error") | Some("complete") => {
                eprintln!("subscription ended: {value}");
                break;
            }
            _ => {}
        }
    }
    latencies
}

/// Who listens: this program's own sockets, or the Node.js client.
enum Subscribers {
    Rust {
        connected: usize,
        stop: tokio::sync::watch::Sender<bool>,
        tasks: Vec<tokio::task::JoinHandle<Vec<u32>>>,
    },
    Js(JsClient),
}

struct JsClient {
    connected: usize,
    child: tokio::process::Child,
}

impl Subscribers {
    fn connected(&self) -> usize {
        match self {
            Self::Rust { connected, .. } | Self::Js(JsClient { connected, .. }) => *connected,
        }
    }

    /// Stops listening; what was received.
    async fn finish(&mut self) -> Heard {
        match self {
            Self::Rust { stop, tasks, .. } => {
                let _ = stop.send(true);
                let mut latencies = Vec::new();
                for task in tasks.drain(..) {
                    latencies.extend(task.await.unwrap_or_default());
                }
                latencies.sort_unstable();
                Heard {
                    received: latencies.len(),
                    min: percentile(&latencies, 0.0),
                    p50: percentile(&latencies, 0.50),
                    p99: percentile(&latencies, 0.99),
                    max: percentile(&latencies, 1.0),
                }
            }
            Self::Js(client) => js_heard(client).await,
        }
    }
}

/// Events received, and their delivery latency in milliseconds.
struct Heard {
    received: usize,
    min: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

/// Opens `--subscriptions` sockets, 100 at a time, spread over the users.
async fn rust_subscribers(ws_url: &str, users: &[(String, String)], args: &Args) -> Subscribers {
    let ready = Arc::new(AtomicUsize::new(0));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let opening = Arc::new(Semaphore::new(100));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.subscriptions);
    for i in 0..args.subscriptions {
        let token = users[i % users.len()].0.clone();
        let permit = opening.clone().acquire_owned().await.expect("semaphore");
        let (ws_url, ready, stop) = (ws_url.to_owned(), ready.clone(), stopping.clone());
        let before = ready.load(Ordering::Relaxed);
        tasks.push(tokio::spawn(async move {
            let watch = ready.clone();
            let handle = tokio::spawn(subscriber(ws_url, token, ready, stop));
            // The permit is released once this one is acknowledged (or 5 s).
            let deadline = Instant::now() + Duration::from_secs(5);
            while watch.load(Ordering::Relaxed) <= before && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            drop(permit);
            handle.await.unwrap_or_default()
        }));
    }
    while ready.load(Ordering::Relaxed) < args.subscriptions
        && started.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = ready.load(Ordering::Relaxed);
    // Let the last subscriptions register.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "connected {connected} of {} in {:.1} s",
        args.subscriptions,
        started.elapsed().as_secs_f64()
    );
    Subscribers::Rust {
        connected,
        stop,
        tasks,
    }
}

/// Starts the Node.js client with every subscription as `token`'s, and
/// waits until it has connected them; it listens for the writes and 5 s more.
async fn js_subscribers(script: &str, ws_url: &str, token: &str, args: &Args) -> JsClient {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .args(["--url", ws_url, "--token", token, "--query", SUBSCRIPTION])
        .args(["--connections", &args.subscriptions.to_string()])
        .args(["--ramp", "1000", "--connect-timeout", "20000"])
        .args(["--duration", &(args.duration + 7).to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs the graphql-ws client");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut connected = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        println!("js: {line}");
        if let Some(rest) = line.strip_prefix("connecting done") {
            connected = rest
                .split("established ")
                .nth(1)
                .and_then(|n| n.split(',').next())
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            break;
        }
    }
    // Let the last subscriptions register.
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.stdout = Some(lines.into_inner().into_inner());
    JsClient { connected, child }
}

/// The Node.js client's result, as it reports it.
async fn js_heard(client: &mut JsClient) -> Heard {
    use tokio::io::AsyncReadExt as _;
    let mut out = String::new();
    if let Some(mut stdout) = client.child.stdout.take() {
        let _ = stdout.read_to_string(&mut out).await;
    }
    let _ = client.child.wait().await;
    for line in out.lines().filter(|l| !l.starts_with("RESULT ")) {
        println!("js: {line}");
    }
    let result: Value = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let ms = |p: &str| result["latency_ms"][p].as_f64().unwrap_or(f64::NAN);
    Heard {
        received: result["events_with_timestamp"].as_u64().unwrap_or(0) as usize,
        min: ms("min"),
        p50: ms("p50"),
        p99: ms("p99"),
        max: ms("max"),
    }
}

/// The `updatedAt` of a `next` frame, read without parsing the frame.
fn event_stamp(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if !text.starts_with(r#"{"type":"next""#) {
        return None;
    }
    const KEY: &str = r#""updatedAt":""#;
    let start = text.find(KEY)? + KEY.len();
    let end = start + text[start..].find('"')?;
    let at = chrono::DateTime::parse_from_rfc3339(&text[start..end]).ok()?;
    Some(at.with_timezone(&chrono::Utc))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1e3
}

fn main() {
    let args = args();
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    }
    .enable_all()
    .build()
    .expect("runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let http = reqwest::Client::new();
    let url = args.url.clone();
    let ws_url = format!("{}/graphql/ws", url.replacen("http://", "ws://", 1));
    let url = format!("{url}/graphql");
    let run = uuid::Uuid::new_v4().simple().to_string();

    // Users, each with a project and one task the writer updates.
    let mut users = Vec::new();
    for n in 0..args.users {
        let data = call(
            &http,
            &url,
            None,
            "mutation($e: String!, $p: String!) { signup(input: { email: $e, password: $p, displayName: \"Load\" }) { accessToken } }",
            json!({ "e": format!("load-{run}-{n}@example.com"), "p": PASSWORD }),
        )
        .await;
        let token = data["signup"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        let project = call(
            &http,
            &url,
            Some(&token),
            "mutation { createProject(input: { name: \"Load\" }) { id } }",
            json!({}),
        )
        .await;
        let task = call(
            &http,
            &url,
            Some(&token),
            "mutation($p: ID!) { createTask(input: { projectId: $p, title: \"t\" }) { id } }",
            json!({ "p": project["createProject"]["id"] }),
        )
        .await;
        users.push((
            token,
            task["createTask"]["id"].as_str().expect("id").to_owned(),
        ));
    }

    assert!(
        args.js.is_none() || users.len() == 1,
        "--js subscribes as one user: --users 1"
    );
    let mut subscribers = match &args.js {
        Some(script) => Subscribers::Js(js_subscribers(script, &ws_url, &users[0].0, &args).await),
        None => rust_subscribers(&ws_url, &users, &args).await,
    };
    let connected = subscribers.connected();
    let rss_idle = args.pid.and_then(rss_kib);

    // The writer.
    let per_user: Vec<usize> = (0..users.len())
        .map(|u| (0..connected).filter(|i| i % users.len() == u).count())
        .collect();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let mut ticker = tokio::time::interval(interval);
    let mut expected = 0usize;
    let mut writes = 0usize;
    let mut rss_peak = 0;
    let me = std::process::id();
    let cpu_before = (args.pid.and_then(cpu_ms), cpu_ms(me));
    let writing = Instant::now();
    while writing.elapsed() < Duration::from_secs(args.duration) {
        ticker.tick().await;
        let u = writes % users.len();
        let (token, task) = &users[u];
        call(
            &http,
            &url,
            Some(token),
            "mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) { version } }",
            json!({ "id": task, "t": format!("w{writes}") }),
        )
        .await;
        writes += 1;
        expected += per_user[u];
        if let Some(rss) = args.pid.and_then(rss_kib) {
            rss_peak = rss_peak.max(rss);
        }
    }
    // Let the last events arrive, then stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_after = (args.pid.and_then(cpu_ms), cpu_ms(me));
    let heard = subscribers.finish().await;
    let received = heard.received;
    println!(
        "subscriptions={} users={} writes={writes} ({:.1}/s) expected={expected} received={received} lost={}",
        connected,
        users.len(),
        writes as f64 / args.duration as f64,
        expected.saturating_sub(received)
    );
    // The Node.js client reports no lowest latency.
    let ms = |v: f64| match v.is_nan() {
        true => "-".to_owned(),
        false => format!("{v:.1}"),
    };
    println!(
        "latency_ms min={} p50={} p99={} max={}",
        ms(heard.min),
        ms(heard.p50),
        ms(heard.p99),
        ms(heard.max)
    );
    // CPU per event, from the first write until the last event is in
    // (the Node.js client's is its own process's, not counted here).
    let per_event = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) if writes > 0 => format!("{:.1}", (a - b) as f64 / writes as f64),
        _ => "-".to_owned(),
    };
    println!(
        "cpu_ms_per_event server={} client={}",
        per_event(cpu_before.0, cpu_after.0),
        match args.js {
            Some(_) => "-".to_owned(),
            None => per_event(cpu_before.1, cpu_after.1),
        }
    );
    if let Some(idle) = rss_idle {
        println!(
            "server_rss_mib connected_idle={:.0} peak_while_writing={:.0}",
            idle as f64 / 1024.0,
            rss_peak as f64 / 1024.0
        );
    }
}
