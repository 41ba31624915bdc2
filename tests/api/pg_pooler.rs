//! Behind a transaction-mode pooler: Debian's PgBouncer (1.18, which can
//! not carry prepared statements) in front of the test cluster, the
//! statement cache off, `LISTEN` and the migrations on the direct URL.
//!
//! diesel-async prepares every statement (named) in a round trip of its
//! own, then binds it in another; PgBouncer before 1.21 may hand the second
//! round trip to another server connection outside a transaction, where the
//! statement does not exist. With the cache off every checkout is pinned
//! inside a transaction (see `tasklane::db::DbConn`), which PgBouncer keeps
//! on one server connection: this PgBouncer has several per database, and
//! many requests run at once.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fixtures::{account, project, task};
use crate::pg_support::{database_name, pg_url};
use crate::support::{Backend, TestApp, pg_admin_url};
use crate::sync_support::{changes, list, new_id, sync};
use crate::ws_support::{TRANSPORT_WS, Ws, subscriptions_reach};

const TASK_EVENTS: &str =
    "subscription($p: ID) { taskEvents(projectId: $p) { type task { id title } } }";

/// A PgBouncer process in transaction mode, stopped when dropped.
pub struct Bouncer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian's `pgbouncer` package when the program is missing.
fn ensure_pgbouncer() {
    if on_path("pgbouncer") {
        return;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = ["install", "-y", "-q", "pgbouncer"];
    // Without package lists (a fresh image), read them first.
    let installed = apt(&install) || (apt(&["update", "-q"]) && apt(&install));
    assert!(installed, "apt-get install pgbouncer failed");
}

/// Starts PgBouncer in transaction mode on a free port, in front of the
/// cluster of `TASKLANE_TEST_DATABASE_URL` (any database, trusted), as the
/// `postgres` user (PgBouncer refuses to run as root).
pub fn start_bouncer(upstream_port: u16) -> Bouncer {
    ensure_pgbouncer();
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(path("users.txt"), "\"postgres\" \"\"\n").expect("auth file");
    std::fs::write(
        path("pgbouncer.ini"),
        format!(
            "[databases]\n* = host=127.0.0.1 port={upstream_port}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {}\n\
             pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 4\n\
             ignore_startup_parameters = extra_float_digits\nlogfile = {}\n",
            path("users.txt"),
            path("pgbouncer.log"),
        ),
    )
    .expect("ini");
    let chown = Command::new("chown")
        .args(["-R", "postgres:", &dir.path().display().to_string()])
        .status()
        .expect("chown runs");
    assert!(chown.success(), "chown to postgres failed");
    // setpriv execs PgBouncer itself, so the child is PgBouncer (runuser
    // would stay in between, and killing it would leave PgBouncer running).
    let child = Command::new("setpriv")
        .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
        .args(["pgbouncer", &path("pgbouncer.ini")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pgbouncer starts");
    let bouncer = Bouncer {
        port,
        child,
        _dir: dir,
    };
    wait_for_port(port, &bouncer._dir.path().join("pgbouncer.log"));
    bouncer
}

fn wait_for_port(port: u16, log: &Path) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pgbouncer did not listen: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The port of the test cluster.
fn upstream_port() -> u16 {
    let admin = pg_admin_url().expect("TASKLANE_TEST_DATABASE_URL");
    let parsed = url::Url::parse(&admin).expect("a URL");
    parsed.port().unwrap_or(5432)
}

/// A server whose main URL goes through `bouncer` and whose direct URL
/// is the cluster itself; statement cache off.
async fn behind(bouncer: &Bouncer) -> Option<TestApp> {
    let port = bouncer.port;
    TestApp::spawn_with(Backend::Postgres, move |config| {
        let direct = pg_url(config);
        let upstream = url::Url::parse(&direct).expect("a URL");
        let pooled = format!(
            "postgres://postgres@127.0.0.1:{port}/{}",
            database_name(&direct)
        );
        assert_ne!(upstream.port(), Some(port));
        config.database_url = tasklane::db::DatabaseUrl::parse(&pooled).expect("pooled URL");
        config.pool.direct_url = Some(tasklane::db::DatabaseUrl::parse(&direct).expect("direct"));
        config.pool.statement_cache = false;
        config.pool.statement_timeout = Duration::from_millis(4321);
    })
    .await
}

/// Writes, reads, sync and subscriptions through the pooler, many requests
/// at once over its several server connections;
/// events reach the subscriber over the direct `LISTEN`, which a
/// transaction-mode pooler would not keep. The pooled URL has no `sslmode`
/// (so `prefer`) and this PgBouncer refuses TLS: `prefer` falls back to
/// plain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_sync_and_events_pass_through_pgbouncer_in_transaction_mode() {
    if pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    let bouncer = start_bouncer(upstream_port());
    let app = behind(&bouncer).await.expect("PostgreSQL");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.subscribe("t", TASK_EVENTS, json!({ "p": home["id"] }))
        .await;
    subscriptions_reach(app.addr, 1).await;

    // Twenty writes at once, each its own transactions through the pooler.
    let writes = (0..20).map(|i| {
        let (app, token, id) = (&app, &a.token, &home["id"]);
        async move { task(app, token, id, &format!("Task {i}"), json!({})).await }
    });
    let created = futures_util::future::join_all(writes).await;
    let mut seen = Vec::new();
    while seen.len() < created.len() {
        let payload = ws.data("t").await;
        assert_eq!(payload["errors"], Value::Null, "{payload}");
        assert_eq!(payload["data"]["taskEvents"]["type"], "CREATED");
        seen.push(payload["data"]["taskEvents"]["task"]["id"].clone());
    }
    let mut expected = list(&json!(created), "id");
    expected.sort_by_key(Value::to_string);
    seen.sort_by_key(Value::to_string);
    assert_eq!(seen, expected, "every write's event arrived");

    // Reads at once, each outside any transaction of the code's own: every
    // one of them prepares and runs its statements in two round trips.
    let reads = (0..40).map(|_| changes(&app, &a.token, &Value::Null, None));
    for pulled in futures_util::future::join_all(reads).await {
        assert_eq!(
            pulled["tasks"].as_array().map(Vec::len),
            Some(20),
            "{pulled}"
        );
    }
    // The time limits hold inside each pinned transaction, not on whichever
    // server connection a session `SET` would have reached.
    assert_eq!(show_statement_timeout(app.database()).await, "4321ms");

    // Sync: an offline project with a task, then the pull.
    let offline = new_id();
    let pushed = sync(
        &app,
        &a.token,
        json!({ "projects": [{ "id": offline, "name": "Offline" }],
                "tasks": [{ "id": new_id(), "projectId": offline, "title": "Synced" }] }),
    )
    .await;
    assert_eq!(
        pushed["applied"].as_array().map(Vec::len),
        Some(2),
        "{pushed}"
    );
    let all = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(all["projects"].as_array().map(Vec::len), Some(2), "{all}");
    assert_eq!(all["tasks"].as_array().map(Vec::len), Some(21), "{all}");
    drop(ws);
    drop(app);
}

/// `TASKLANE_DATABASE_STATEMENT_CACHE=false`: a connection keeps no
/// prepared statement between statements (a pooler may hand its next
/// statement to another server connection); with the cache on it keeps
/// those it ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_cache_setting_decides_what_a_connection_keeps() {
    if pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    for cache in [true, false] {
        let app = TestApp::spawn_with(Backend::Postgres, move |config| {
            config.pool.size = 1;
            config.pool.statement_cache = cache;
        })
        .await
        .expect("PostgreSQL");
        let a = account(&app, "a@example.com").await;
        let home = project(&app, &a.token, "Home").await;
        task(&app, &a.token, &home["id"], "One", json!({})).await;
        // The count runs as a prepared statement of its own.
        let kept = prepared_statements(app.database()).await - 1;
        if cache {
            assert!(kept > 3, "the cache kept {kept}");
        } else {
            assert_eq!(kept, 0, "statements kept with the cache off");
        }
    }
}

/// One text value that `sql` (naming its column `v`) reads through a
/// pooled connection of `db`.
async fn read_text(db: &tasklane::db::Db, sql: &str) -> String {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut pooled = db.read().await.expect("a connection");
    let tasklane::db::Conn::Postgres(conn) = pooled.conn() else {
        panic!("a PostgreSQL test got a SQLite pool")
    };
    diesel::sql_query(sql)
        .get_result::<One>(conn)
        .await
        .expect("reads")
        .v
}

async fn show_statement_timeout(db: &tasklane::db::Db) -> String {
    read_text(db, "SELECT current_setting('statement_timeout') AS v").await
}

async fn prepared_statements(db: &tasklane::db::Db) -> i64 {
    let n = read_text(db, "SELECT count(*)::text AS v FROM pg_prepared_statements").await;
    n.parse().expect("a count")
}
