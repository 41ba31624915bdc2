//! A PostgreSQL that stops answering (SIGSTOP on a throwaway cluster of its
//! own, never the suite's): requests fail with SERVICE_UNAVAILABLE within
//! the pool timeout plus the statement timeout, `/ready` answers 503 within
//! a second, and service resumes by itself after SIGCONT.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::pg_pooler::free_port;
use crate::pg_support::config_for;
use crate::support::{PASSWORD, pg_admin_url};

const STATEMENT_TIMEOUT: Duration = Duration::from_millis(1000);
const POOL_TIMEOUT: Duration = Duration::from_millis(500);
/// Scheduling slack on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(750);

/// A cluster in a temporary directory, run by the `postgres` user; stopped
/// (and resumed first, if it was stopped) when dropped.
struct Cluster {
    port: u16,
    postmaster: Child,
    _dir: tempfile::TempDir,
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// The directory of PostgreSQL's programs (where `initdb` really lives).
fn bindir() -> PathBuf {
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .expect("sh runs");
    let initdb = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(!initdb.is_empty(), "initdb is not on PATH");
    let real = std::fs::canonicalize(&initdb).expect("initdb resolves");
    real.parent().expect("a directory").to_path_buf()
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let shown = |p: &Path| p.display().to_string();
        run("chown", &["postgres:", &shown(dir.path())]);
        let bin = bindir();
        let as_postgres = ["--reuid=postgres", "--regid=postgres", "--init-groups"];
        let mut initdb: Vec<String> = as_postgres.iter().map(|s| (*s).to_owned()).collect();
        initdb.extend([
            shown(&bin.join("initdb")),
            "-D".into(),
            shown(&data),
            "-U".into(),
            "postgres".into(),
            "-A".into(),
            "trust".into(),
            "--no-sync".into(),
        ]);
        let initdb: Vec<&str> = initdb.iter().map(String::as_str).collect();
        run("setpriv", &initdb);
        let port = free_port();
        // setpriv execs PostgreSQL itself: the child is the postmaster.
        let postmaster = Command::new("setpriv")
            .args(as_postgres)
            .arg(bin.join("postgres"))
            .args(["-D", &shown(&data), "-p", &port.to_string()])
            .args(["-k", &shown(dir.path()), "-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "max_connections=30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let cluster = Self {
            port,
            postmaster,
            _dir: dir,
        };
        let start = Instant::now();
        while !Command::new("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the throwaway cluster did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// The postmaster and every process it started, by id.
    fn processes(&self) -> Vec<String> {
        let parent = self.postmaster.id().to_string();
        let mut pids = vec![parent.clone()];
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …: comm may hold spaces, so after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(parent.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        pids
    }

    /// Signals the postmaster (which must work) and its processes (one
    /// may have exited meanwhile).
    fn signal(&self, signal: &str) {
        let mut pids = self.processes().into_iter();
        let postmaster = pids.next().expect("the postmaster");
        run("kill", &[signal, &postmaster]);
        for pid in pids {
            let _ = Command::new("kill")
                .args([signal, &pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.postmaster.id().to_string()])
            .status();
        let _ = self.postmaster.wait();
    }
}

async fn graphql(client: &reqwest::Client, addr: &str, query: &str, token: Option<&str>) -> Value {
    let mut request = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON")
}

async fn ready(client: &reqwest::Client, addr: &str) -> (u16, Duration) {
    let start = Instant::now();
    let status = client
        .get(format!("http://{addr}/ready"))
        .send()
        .await
        .expect("answers")
        .status()
        .as_u16();
    (status, start.elapsed())
}

const PROJECTS: &str = "{ projects(first: 5) { edges { node { name } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_fails_requests_fast_and_service_resumes() {
    if pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    let cluster = Cluster::start();
    let mut config = config_for(&cluster.url());
    config.pool.size = 3;
    config.pool.statement_timeout = STATEMENT_TIMEOUT;
    config.pool.checkout_timeout = POOL_TIMEOUT;
    let server = tasklane::start(config).await.expect("starts");
    let addr = server.addr.to_string();
    let client = reqwest::Client::new();
    let signup = graphql(
        &client,
        &addr,
        &format!(
            "mutation {{ signup(input: {{ email: \"h@example.com\", password: \"{PASSWORD}\", displayName: \"H\" }}) {{ accessToken }} }}"
        ),
        None,
    )
    .await;
    let token = signup["data"]["signup"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{signup}"))
        .to_owned();
    let create = "mutation { createProject(input: { name: \"During\" }) { id } }";
    let body = graphql(&client, &addr, PROJECTS, Some(&token)).await;
    assert_eq!(body["errors"], Value::Null, "{body}");

    cluster.signal("-STOP");
    let bound = POOL_TIMEOUT + STATEMENT_TIMEOUT + SLACK;
    for document in [PROJECTS, create, PROJECTS, PROJECTS] {
        let start = Instant::now();
        let body = graphql(&client, &addr, document, Some(&token)).await;
        let took = start.elapsed();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
            "{document}: {body}"
        );
        assert_eq!(
            body["errors"][0]["message"],
            "The database did not answer in time; try again shortly"
        );
        assert!(
            took < bound,
            "{document} took {took:?}, more than {bound:?}"
        );
    }
    let (status, took) = ready(&client, &addr).await;
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_secs(1) + SLACK,
        "/ready took {took:?}"
    );

    cluster.signal("-CONT");
    let start = Instant::now();
    while ready(&client, &addr).await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "/ready never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every pooled connection serves again: none of the dropped ones is
    // handed out (each would fail at once).
    for _ in 0..6 {
        let body = graphql(&client, &addr, create, Some(&token)).await;
        assert_eq!(body["errors"], Value::Null, "after SIGCONT: {body}");
    }
    let body = graphql(&client, &addr, PROJECTS, Some(&token)).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let status = server.state.services.db.status();
    assert!(status.size <= 3, "{status:?}");
    server.shutdown().await.expect("stops");
    drop(cluster);
}
