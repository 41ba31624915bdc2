//! The test harness: a real server on port 0 with a fresh database per test.
//! SQLite: a temp file. PostgreSQL: a new database created from
//! `TASKLANE_TEST_DATABASE_URL` and dropped when the test ends.

use std::net::SocketAddr;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::{Value, json};
use tasklane::config::Config;
use tasklane::db::{DatabaseUrl, Db};

pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret!!";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

pub fn pg_admin_url() -> Option<String> {
    std::env::var("TASKLANE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = path_start.map_or(base, |i| &base[..i]);
    match query {
        Some(q) => format!("{host}/{name}?{q}"),
        None => format!("{host}/{name}"),
    }
}

impl TestDb {
    /// `None` for PostgreSQL when `TASKLANE_TEST_DATABASE_URL` is not set.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("tasklane.db").display());
                Some(Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    pg_drop: None,
                })
            }
            Backend::Postgres => {
                let admin = pg_admin_url()?;
                let name = format!("tasklane_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = AsyncPgConnection::establish(&admin)
                    .await
                    .expect("TASKLANE_TEST_DATABASE_URL must reach PostgreSQL");
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                Some(Self {
                    url: with_database(&admin, &name),
                    backend,
                    _dir: None,
                    pg_drop: Some((admin, name)),
                })
            }
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url).expect("test url parses")
    }

    /// Drops the PostgreSQL database now (e.g. to see the server notice).
    pub async fn drop_now(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            drop_pg(&admin, &name).await;
        }
    }
}

async fn drop_pg(admin: &str, name: &str) {
    if let Ok(mut conn) = AsyncPgConnection::establish(admin).await {
        let _ = conn
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Async work can not run in Drop: use a runtime of its own.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg(&admin, &name));
                }
            })
            .join();
        }
    }
}

/// A running server with its own database and an HTTP client.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub server: Option<tasklane::Server>,
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server after `adjust` has changed the default configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = TestDb::create(backend).await?;
        let mut config = Config::with_database(&db.url, Some(TEST_SECRET)).expect("test config");
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.hash_concurrency = 2;
        adjust(&mut config);
        let server = tasklane::start(config).await.expect("server starts");
        Some(Self {
            addr: server.addr,
            client: reqwest::Client::new(),
            server: Some(server),
            db,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn database(&self) -> &Db {
        &self.server.as_ref().expect("running").state.services.db
    }

    /// POSTs one operation; returns the whole JSON body.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        response.json().await.expect("JSON body")
    }

    /// Signs a new user up; returns the `signup` payload.
    pub async fn signup(&self, email: &str) -> Value {
        let body = self
            .gql(
                "mutation($input: SignupInput!) { signup(input: $input) {
                    accessToken refreshToken tokenType expiresIn user { id email displayName } } }",
                json!({ "input": { "email": email, "password": PASSWORD, "displayName": "Test User" } }),
                None,
            )
            .await;
        assert_eq!(body["errors"], Value::Null, "signup failed: {body}");
        body["data"]["signup"].clone()
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

pub fn error_field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("<none>")
}

/// Generates `NAME::sqlite` and `NAME::postgres` from `async fn NAME(app: TestApp)`.
/// The PostgreSQL variant runs when `TASKLANE_TEST_DATABASE_URL` is set (CI
/// sets it); without it there is no PostgreSQL to test against.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await {
                        Some(app) => super::$name(app).await,
                        None => eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested"),
                    }
                }
            }
        )+
    };
}

/// Like `on_both_backends!`, for tests that take a `Backend` and set up
/// their own database.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::support::pg_admin_url().is_none() {
                        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
                        return;
                    }
                    super::$name($crate::support::Backend::Postgres).await;
                }
            }
        )+
    };
}

#[test]
fn database_name_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

/// The `tasklane` binary, with none of this process's `TASKLANE_*`
/// settings (each test gives its own).
pub fn tasklane_binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tasklane"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TASKLANE_") {
            command.env_remove(key);
        }
    }
    command
}
