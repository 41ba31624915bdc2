//! How long does an operation over 10,000 tasks take, and its rollback, and
//! does the server's memory stay flat?
//!
//! Starts the release binary (`target/release/tasklane`) as a child on SQLite
//! in a temp directory, or on the PostgreSQL database given as the first
//! argument (it must exist and be empty), signs a user up, seeds 10,000 tasks
//! with bulk SQL, then `ROUNDS` times: UPDATE_TASKS on all of them (a status,
//! a priority and a tag), and its ROLLBACK. Each is timed from the mutation to
//! COMPLETED as a polling client sees it (poll every 20 ms). Prints the
//! server's RSS (VmRSS from /proc) before the first round and after each
//! operation.
//!
//! ```sh
//! cargo build --release --bin tasklane --example ops_bench
//! target/release/examples/ops_bench
//! target/release/examples/ops_bench postgres://postgres@127.0.0.1:5432/ops_bench
//! ```
// The schema's merged objects nest deeper than the default limit.
#![recursion_limit = "256"]

mod bench_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use bench_support::{call, rss_kib};
use tasklane::db::sql::{Bind, SqlBuilder};
use tasklane::db::types::{Id, JsonDoc, Timestamp};
use tasklane::db::{DatabaseUrl, Db, PoolSettings};

const TASKS: usize = 10_000;
const ROUNDS: usize = 3;
const SECRET: &str = "bench-secret-bench-secret-bench-secret!";

async fn seed(db: &Db, owner: Id, project: Id) {
    let mut pooled = db.write().await.expect("connection");
    let mut conn = pooled.conn();
    let now = Timestamp::now();
    for start in (0..TASKS).step_by(200) {
        let mut b = SqlBuilder::new(conn.backend());
        b.push(
            "INSERT INTO tasks (id, project_id, owner_id, title, status, tags, version, seq, \
             created_at, updated_at) VALUES ",
        );
        for i in start..(start + 200).min(TASKS) {
            if i > start {
                b.push(", ");
            }
            b.push("(")
                .bind(Bind::Id(Id::new()))
                .push(", ")
                .bind(Bind::Id(project))
                .push(", ")
                .bind(Bind::Id(owner))
                .push(", ")
                .bind(Bind::Text(format!("Task {i}")))
                .push(", 1, ")
                .bind(Bind::Json(JsonDoc(json!(["seed"]))))
                .push(", 1, 0, ")
                .bind(Bind::Time(now))
                .push(", ")
                .bind(Bind::Time(now))
                .push(")");
        }
        b.execute(&mut conn).await.expect("seed");
    }
}

const OP: &str = "query($id: ID!) { operation(id: $id) { status total processed skipped failed } }";

/// Runs until COMPLETED; the seconds it took and the final operation.
async fn run(http: &reqwest::Client, url: &str, token: &str, started: Value) -> (f64, Value) {
    let t0 = Instant::now();
    let id = started["id"].clone();
    loop {
        let op = call(http, url, Some(token), OP, json!({ "id": id })).await["operation"].clone();
        if op["status"] != "PENDING" && op["status"] != "RUNNING" {
            return (t0.elapsed().as_secs_f64(), op);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("tasklane.db").display()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let binary = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/tasklane");
    let mut child = Command::new(binary)
        .env("TASKLANE_DATABASE_URL", &database_url)
        .env("TASKLANE_JWT_SECRET", SECRET)
        .env("TASKLANE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TASKLANE_LOG", "warn")
        .env("TASKLANE_OPERATION_POLL_MS", "20")
        .stdout(Stdio::null())
        .spawn()
        .expect("the release binary (cargo build --release --bin tasklane)");
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let health = format!("http://127.0.0.1:{port}/health");
    while http.get(&health).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signup = call(
        &http,
        &url,
        None,
        "mutation($input: SignupInput!) { signup(input: $input) { accessToken user { id } } }",
        json!({ "input": { "email": "bench@example.com", "password": "correct horse battery", "displayName": "B" } }),
    )
    .await;
    let token = signup["signup"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let owner = Id::parse(signup["signup"]["user"]["id"].as_str().expect("id")).expect("id");
    let project = call(
        &http,
        &url,
        Some(&token),
        "mutation { createProject(input: { name: \"Bench\" }) { id } }",
        json!({}),
    )
    .await;
    let project_id = project["createProject"]["id"].clone();
    let db = Db::connect(
        &DatabaseUrl::parse(&database_url).expect("url"),
        &PoolSettings {
            size: 1,
            checkout_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(60),
            statement_cache: true,
            direct_url: None,
        },
    )
    .expect("pool");
    seed(
        &db,
        owner,
        Id::parse(project_id.as_str().expect("id")).expect("id"),
    )
    .await;
    db.close();
    let backend = if database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    println!("backend {backend}, {TASKS} tasks, batch size 500 (default)");
    println!(
        "server RSS before: {} KiB",
        rss_kib(child.id()).unwrap_or(0)
    );
    let start = "mutation($input: StartOperationInput!) { startOperation(input: $input) { id } }";
    let undo = "mutation($id: ID!) { rollbackOperation(id: $id) { id } }";
    for round in 1..=ROUNDS {
        let started = call(&http, &url, Some(&token), start, json!({ "input": {
            "kind": "UPDATE_TASKS", "filter": { "projectId": project_id },
            "patch": { "status": "IN_PROGRESS", "priority": "HIGH", "addTags": [format!("round{round}")] } } }))
        .await["startOperation"]
            .clone();
        let (secs, op) = run(&http, &url, &token, started.clone()).await;
        assert_eq!(op["processed"], TASKS, "{op}");
        println!(
            "round {round}: update   {secs:.2} s  (processed {}), RSS {} KiB",
            op["processed"],
            rss_kib(child.id()).unwrap_or(0)
        );
        let rolled = call(
            &http,
            &url,
            Some(&token),
            undo,
            json!({ "id": started["id"] }),
        )
        .await["rollbackOperation"]
            .clone();
        let (secs, op) = run(&http, &url, &token, rolled).await;
        assert_eq!(op["processed"], TASKS, "{op}");
        println!(
            "round {round}: rollback {secs:.2} s  (processed {}), RSS {} KiB",
            op["processed"],
            rss_kib(child.id()).unwrap_or(0)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
