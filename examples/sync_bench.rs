//! How long does one offline sync of 100 changed tasks take, push and pull
//! together?
//!
//! Starts a server (SQLite in a temp directory, or the PostgreSQL database
//! given as the first argument), imports a project with 100 tasks through
//! `sync`, then 200 times (after 10 warm-up runs) changes all 100 titles on
//! the client side and sends one `sync` with them and the last cursor. The
//! response carries the 100 new versions back. Prints p50, p95 and max of
//! the round trip as the client sees it.
//!
//! ```sh
//! cargo run --release --example sync_bench
//! cargo run --release --example sync_bench -- postgres://postgres@127.0.0.1:5432/bench
//! ```
// The schema's merged objects nest deeper than the default limit.
#![recursion_limit = "256"]

mod bench_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use bench_support::call;
use tasklane::config::Config;

const RUNS: usize = 200;
const WARM_UP: usize = 10;
const TASKS: usize = 100;
const SECRET: &str = "bench-secret-bench-secret-bench-secret!";
const PASSWORD: &str = "correct horse battery";

const SYNC: &str = "mutation($input: SyncInput!) { sync(input: $input) { applied
    conflicts { id reason }
    changes { projects { id version } tasks { id title version deletedAt } cursor hasMore } } }";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let mut config = Config::with_database(&database, Some(SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    let server = tasklane::start(config).await.expect("server");
    let http = reqwest::Client::new();
    let url = format!("http://{}/graphql", server.addr);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let signup = call(
        &http,
        &url,
        None,
        "mutation($input: SignupInput!) { signup(input: $input) { accessToken } }",
        json!({ "input": { "email": format!("sync-{run}@example.com"), "password": PASSWORD,
            "displayName": "Bench" } }),
    )
    .await;
    let token = signup["signup"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    let project = uuid::Uuid::new_v4().to_string();
    let ids: Vec<String> = (0..TASKS)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let import = json!({ "clientId": "bench", "projects": [{ "id": project, "name": "Bench" }],
        "tasks": ids.iter().enumerate().map(|(i, id)| json!({ "id": id, "projectId": project,
            "title": format!("Task {i}"), "tags": ["bench"], "position": i })).collect::<Vec<_>>() });
    let data = call(&http, &url, Some(&token), SYNC, json!({ "input": import })).await;
    let mut cursor = data["sync"]["changes"]["cursor"].clone();

    let mut times = Vec::with_capacity(RUNS);
    for n in 0..RUNS + WARM_UP {
        // The server's version of every task before this run.
        let version = n + 1;
        let tasks: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                json!({ "id": id, "projectId": project, "title": format!("Task {i} run {n}"),
                "tags": ["bench"], "position": i, "baseVersion": version })
            })
            .collect();
        let input = json!({ "since": cursor, "clientId": "bench", "tasks": tasks });
        let started = Instant::now();
        let data = call(&http, &url, Some(&token), SYNC, json!({ "input": input })).await;
        let took = started.elapsed();
        let sync = &data["sync"];
        assert_eq!(
            sync["applied"].as_array().map(Vec::len),
            Some(TASKS),
            "{sync}"
        );
        assert_eq!(
            sync["changes"]["tasks"].as_array().map(Vec::len),
            Some(TASKS)
        );
        cursor = sync["changes"]["cursor"].clone();
        if n >= WARM_UP {
            times.push(took);
        }
    }
    times.sort();
    println!(
        "sync of {TASKS} changed tasks (push + pull), {RUNS} runs on {}: p50 {:.2} ms  p95 {:.2} ms  max {:.2} ms",
        database.split(':').next().unwrap_or_default(),
        percentile(&times, 0.50),
        percentile(&times, 0.95),
        percentile(&times, 1.0),
    );
    server.shutdown().await.expect("shutdown");
}
