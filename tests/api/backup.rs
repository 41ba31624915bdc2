//! `tasklane backup PATH`: a consistent copy of the SQLite database taken
//! while the server serves and is written to, restored into a fresh
//! directory and served again with the same data; the refusals (an
//! existing file, no database, PostgreSQL) are one line and exit code 1.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tasklane::config::Config;
use tasklane::db::DatabaseUrl;

use crate::fixtures::{account, ok, project, task};
use crate::operations_support::state;
use crate::support::{Backend, PASSWORD, TEST_SECRET, TestApp, TestDb, tasklane_binary};

/// Runs `tasklane backup target` against `database_url` off the runtime.
async fn backup(database_url: &str, target: &Path) -> Output {
    let (url, target) = (database_url.to_owned(), target.to_owned());
    tokio::task::spawn_blocking(move || {
        tasklane_binary()
            .arg("backup")
            .arg(&target)
            .env("TASKLANE_DATABASE_URL", url)
            .output()
            .expect("runs")
    })
    .await
    .expect("joined")
}

fn one_line_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).expect("utf-8");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn sqlite_path(db: &TestDb) -> PathBuf {
    match db.database_url() {
        DatabaseUrl::Sqlite(path) => path,
        DatabaseUrl::Postgres(_) => panic!("an SQLite test database"),
    }
}

async fn sign_in(app: &TestApp, email: &str) -> String {
    let body = app
        .gql(
            "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
            json!({ "input": { "email": email, "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Backs up while a client keeps creating tasks, restores the copy into a
/// fresh directory (as the README says), serves it, and finds the same
/// users, projects and tasks: everything written before the backup, and of
/// the concurrent writes exactly a first part, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_the_same_data() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let report = task(
        &app,
        &a.token,
        &home["id"],
        "Write the quarterly report",
        json!({ "tags": ["work"], "priority": "HIGH", "description": "Numbers first" }),
    )
    .await;
    let gone = task(&app, &a.token, &home["id"], "Old idea", json!({})).await;
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteTask(id: $id) { id } }",
        json!({ "id": gone["id"] }),
    )
    .await;
    project(&app, &b.token, "B's own").await;
    let before = state(&app, &a.token).await;

    // A writer keeps going during the backup.
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, stop, token, project) = (
            Arc::clone(&app),
            Arc::clone(&stop),
            a.token.clone(),
            home["id"].clone(),
        );
        tokio::spawn(async move {
            let mut written = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let title = format!("Live {}", written.len());
                let made = task(&app, &token, &project, &title, json!({})).await;
                written.push(made["id"].as_str().expect("id").to_owned());
            }
            written
        })
    };
    while state(&app, &a.token).await.len() < before.len() + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dir = tempfile::tempdir().expect("dir");
    // Missing directories are created.
    let target = dir
        .path()
        .join("nightly")
        .join("2026-12-01")
        .join("tasklane.db");
    let output = backup(&app.db.url, &target).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(stdout.contains("tasklane.db"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o600, "the copy is the owner's alone");
        assert_eq!(mode(target.parent().expect("dir")), 0o700);
    }
    let after = state(&app, &a.token).await;

    // Restore: a fresh data directory, the copy as its database file.
    let fresh = TestDb::create(Backend::Sqlite).await.expect("temp dir");
    std::fs::copy(&target, sqlite_path(&fresh)).expect("restored");
    let mut config = Config::with_database(&fresh.url, Some(TEST_SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    let server = tasklane::start(config).await.expect("serves the copy");
    let restored = TestApp {
        addr: server.addr,
        client: reqwest::Client::new(),
        server: Some(server),
        db: fresh,
    };
    // Both users sign in with their passwords.
    let token = sign_in(&restored, "a@example.com").await;
    let b_token = sign_in(&restored, "b@example.com").await;
    let copy = state(&restored, &token).await;
    for (id, object) in &before {
        assert_eq!(copy.get(id), Some(object), "{id} as before the backup");
    }
    for (id, object) in &copy {
        assert_eq!(after.get(id), Some(object), "{id} as the server has it");
    }
    // Of the concurrent writes, the first k: the copy is one moment.
    let live: Vec<&String> = written.iter().filter(|id| copy.contains_key(*id)).collect();
    assert_eq!(
        live,
        written.iter().take(live.len()).collect::<Vec<_>>(),
        "a first part of the writes, in order"
    );
    assert_eq!(copy.len(), before.len() + live.len());
    // B's data came along, and stays B's.
    let theirs = ok(
        &restored,
        &b_token,
        "{ projects(first: 10) { edges { node { name } } } }",
        json!({}),
    )
    .await;
    assert_eq!(theirs["projects"]["edges"][0]["node"]["name"], "B's own");
    // The search index came along too, and the copy takes writes.
    let found = ok(
        &restored,
        &token,
        "{ tasks(filter: { search: \"quarter rep\" }) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(found["tasks"]["edges"][0]["node"]["id"], report["id"]);
    let added = task(
        &restored,
        &token,
        &home["id"],
        "After the restore",
        json!({}),
    )
    .await;
    assert_eq!(added["title"], "After the restore");
}

/// An existing file is never overwritten, not even an empty one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_overwrites_a_file() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let dir = tempfile::tempdir().expect("dir");
    for content in ["precious", ""] {
        let target = dir.path().join(format!("taken-{}.db", content.len()));
        std::fs::write(&target, content).expect("written");
        let output = backup(&app.db.url, &target).await;
        let stderr = one_line_error(&output);
        assert!(stderr.contains("already exists"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&target).expect("kept"), content);
    }
}

/// No database file: nothing is created, neither the database nor the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_missing_database_fails() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("none.db");
    let target = dir.path().join("copy.db");
    let output = backup(&format!("sqlite://{}", missing.display()), &target).await;
    let stderr = one_line_error(&output);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!missing.exists() && !target.exists());
}

/// On PostgreSQL the answer is pg_dump, with an example, and no password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_on_postgres_points_to_pg_dump() {
    let dir = tempfile::tempdir().expect("dir");
    let target = dir.path().join("copy.db");
    let output = backup("postgres://app:hunter2@db.example.com/tasklane", &target).await;
    let stderr = one_line_error(&output);
    assert!(stderr.contains("pg_dump --format=custom"), "{stderr}");
    assert!(
        stderr.contains("postgres://app@db.example.com/tasklane"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!target.exists());
}
