//! Crash safety: the real binary, killed with SIGKILL in the middle of a
//! 10,000-task operation, resumes it after a restart; every task ends fully
//! changed, and the counters match the records.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tasklane::db::sql::Bind;
use tasklane::db::types::Id;
use tasklane::db::{DatabaseUrl, Db, PoolSettings};

use crate::bench_support::call as gql;
use crate::operations_support::{count, seed_tasks};
use crate::support::{Backend, PASSWORD, TEST_SECRET, TestDb, pg_admin_url};

const TASKS: usize = 10_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Instance {
    child: Child,
    url: String,
}

fn spawn(database_url: &str) -> Instance {
    let port = free_port();
    let mut command = crate::support::tasklane_binary();
    let child = command
        .env("TASKLANE_DATABASE_URL", database_url)
        .env("TASKLANE_JWT_SECRET", TEST_SECRET)
        .env("TASKLANE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TASKLANE_OPERATION_BATCH_SIZE", "100")
        .env("TASKLANE_OPERATION_STALE_SECS", "1")
        .env("TASKLANE_OPERATION_POLL_MS", "50")
        .env("TASKLANE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    Instance {
        child,
        url: format!("http://127.0.0.1:{port}/graphql"),
    }
}

async fn ready(client: &reqwest::Client, instance: &Instance) {
    let health = instance.url.replace("/graphql", "/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(&health).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const OP: &str = "query($id: ID!) { operation(id: $id) { status total processed skipped failed
    records(first: 1) { totalCount } } }";

/// One crash and recovery; returns how many tasks were done at the kill.
/// `kill_after`: how many tasks must be done before the kill.
pub async fn crash_once(backend: Backend, kill_after: i64) -> i64 {
    let test_db = TestDb::create(backend).await.expect("database");
    let client = reqwest::Client::new();
    let mut first = spawn(&test_db.url);
    ready(&client, &first).await;
    let signup = gql(
        &client,
        &first.url,
        None,
        "mutation($input: SignupInput!) { signup(input: $input) { accessToken user { id } } }",
        json!({ "input": { "email": "crash@example.com", "password": PASSWORD, "displayName": "C" } }),
    )
    .await;
    let token = signup["signup"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let user = signup["signup"]["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let project = gql(
        &client,
        &first.url,
        Some(&token),
        "mutation { createProject(input: { name: \"Big\" }) { id } }",
        json!({}),
    )
    .await["createProject"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let db = Db::connect(
        &DatabaseUrl::parse(&test_db.url).expect("url"),
        &PoolSettings {
            size: 2,
            checkout_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            statement_cache: true,
            direct_url: None,
        },
    )
    .expect("pool");
    seed_tasks(&db, &user, &project, "Crash", TASKS).await;
    let op = gql(
        &client,
        &first.url,
        Some(&token),
        "mutation($input: StartOperationInput!) { startOperation(input: $input) { id total } }",
        json!({ "input": { "kind": "UPDATE_TASKS", "filter": { "projectId": project },
            "patch": { "priority": "HIGH", "addTags": ["bulk"], "status": "IN_PROGRESS" } } }),
    )
    .await;
    assert_eq!(op["startOperation"]["total"], TASKS);
    let id = op["startOperation"]["id"].clone();
    // Kill once some batches committed, well before the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let now = gql(&client, &first.url, Some(&token), OP, json!({ "id": id })).await;
        let processed = now["operation"]["processed"].as_i64().unwrap_or(0);
        if processed >= kill_after.max(1) {
            first.child.kill().expect("SIGKILL");
            let _ = first.child.wait();
            break processed;
        }
        assert!(Instant::now() < deadline, "never started: {now}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut second = spawn(&test_db.url);
    ready(&client, &second).await;
    // Generous: the suite shares two cores with its own builds.
    let deadline = Instant::now() + Duration::from_secs(600);
    let done = loop {
        let now = gql(&client, &second.url, Some(&token), OP, json!({ "id": id })).await;
        if now["operation"]["status"] != "RUNNING" && now["operation"]["status"] != "PENDING" {
            break now["operation"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "never finished after the restart: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = second.child.kill();
    let _ = second.child.wait();
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["processed"], TASKS, "{done}");
    assert_eq!(
        done["records"]["totalCount"], done["processed"],
        "counters == records"
    );
    let owner = Bind::Id(Id::parse(&user).expect("id"));
    let changed = count(
        &db,
        "SELECT COUNT(*) AS n FROM tasks WHERE owner_id = ? AND version = 2 AND priority = 3 AND status = 2",
        vec![owner.clone()],
    )
    .await;
    let untouched = count(
        &db,
        "SELECT COUNT(*) AS n FROM tasks WHERE owner_id = ? AND version = 1 AND priority IS NULL AND status = 1",
        vec![owner.clone()],
    )
    .await;
    assert_eq!(
        changed + untouched,
        TASKS as i64,
        "each task fully changed or untouched"
    );
    assert_eq!(
        changed, TASKS as i64,
        "the resumed run changed every task once"
    );
    let records = count(
        &db,
        "SELECT COUNT(DISTINCT entity_id) AS n FROM operation_records WHERE operation_id = ?",
        vec![Bind::Id(Id::parse(id.as_str().expect("id")).expect("id"))],
    )
    .await;
    assert_eq!(records, TASKS as i64, "one record per task, none twice");
    db.close();
    at_kill
}

/// Two rounds, or `TASKLANE_TEST_CRASH_ROUNDS` (benches/ops_crash.sh runs
/// 20); each kills at another point of the run.
async fn crash_twice(backend: Backend) {
    let rounds: usize = std::env::var("TASKLANE_TEST_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    for round in 0..rounds {
        let kill_after = i64::try_from(round * 2_999 % 9_000).unwrap_or(0);
        let started = Instant::now();
        let at_kill = crash_once(backend, kill_after).await;
        eprintln!(
            "crash {backend:?} round {}/{rounds}: killed at {at_kill} of {TASKS} processed, \
             resumed and verified in {:.1} s",
            round + 1,
            started.elapsed().as_secs_f64()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_the_operation_sqlite() {
    crash_twice(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_the_operation_postgres() {
    if pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    crash_twice(Backend::Postgres).await;
}
