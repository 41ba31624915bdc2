//! Helpers of the PostgreSQL-only tests (TLS, poolers, migrations, a hung
//! database): URLs with extra parameters, what PostgreSQL says about a
//! connection, and the binary started as an operator would.

use std::process::Stdio;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tasklane::config::Config;
use tasklane::db::{Conn, DatabaseUrl, Db};

use crate::support::{TEST_SECRET, pg_admin_url};

/// `url` with `params` (`key=value&…`) added to its query.
pub fn with_params(url: &str, params: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{params}")
}

/// `url` with its host replaced (`127.0.0.1` by `localhost`, say).
pub fn with_host(url: &str, from: &str, to: &str) -> String {
    url.replacen(&format!("@{from}"), &format!("@{to}"), 1)
}

/// The test configuration for `url` (any PostgreSQL URL).
pub fn config_for(url: &str) -> Config {
    let mut config = Config::with_database(url, Some(TEST_SECRET)).expect("test config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    config
}

/// The main URL of `config`, which must be PostgreSQL.
pub fn pg_url(config: &Config) -> String {
    match &config.database_url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(_) => panic!("a PostgreSQL test got a SQLite URL"),
    }
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[derive(QueryableByName)]
struct Word {
    #[diesel(sql_type = Text)]
    value: String,
}

/// Is the pooled connection `db` hands out encrypted? (PostgreSQL's own
/// view: `pg_stat_ssl` of the connection's backend.)
pub async fn pool_is_encrypted(db: &Db) -> bool {
    let mut pooled = db.read().await.expect("a pooled connection");
    let Conn::Postgres(conn) = pooled.conn() else {
        panic!("a PostgreSQL test got a SQLite pool")
    };
    diesel::sql_query("SELECT ssl AS value FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<Flag>(conn)
        .await
        .expect("pg_stat_ssl answers")
        .value
}

/// A connection of the test cluster's administrator.
pub async fn admin() -> AsyncPgConnection {
    let url = pg_admin_url().expect("TASKLANE_TEST_DATABASE_URL");
    AsyncPgConnection::establish(&url)
        .await
        .expect("the administrator connects")
}

/// Whether each event listener's connection to `database` is encrypted
/// (one entry per such connection).
pub async fn listeners_encrypted(database: &str) -> Vec<bool> {
    let mut conn = admin().await;
    diesel::sql_query(
        "SELECT s.ssl AS value FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid \
         WHERE a.datname = $1 AND a.application_name = 'tasklane-listener'",
    )
    .bind::<Text, _>(database)
    .load::<Flag>(&mut conn)
    .await
    .expect("pg_stat_activity answers")
    .into_iter()
    .map(|row| row.value)
    .collect()
}

/// The file of the cluster's server certificate (`ssl_cert_file`).
pub async fn server_certificate() -> String {
    let mut conn = admin().await;
    diesel::sql_query("SELECT setting AS value FROM pg_settings WHERE name = 'ssl_cert_file'")
        .get_result::<Word>(&mut conn)
        .await
        .expect("ssl_cert_file")
        .value
}

/// `SELECT count(*) …` on `url`.
pub async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(url).await.expect("connects");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .expect("counts")
        .value
}

/// The database name at the end of a test URL.
pub fn database_name(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    base.rsplit('/').next().unwrap_or(base).to_owned()
}

/// What the `tasklane` binary printed when it stopped on its own within
/// `limit`: its exit code and its standard error. `None` when it was still
/// running (then it is killed).
pub fn run_binary(env: &[(&str, &str)], limit: Duration) -> Option<(Option<i32>, String)> {
    let mut command = crate::support::tasklane_binary();
    command
        .envs(env.iter().copied())
        .env("TASKLANE_JWT_SECRET", TEST_SECRET)
        .env("TASKLANE_LISTEN", "127.0.0.1:0")
        .env("TASKLANE_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            let output = child.wait_with_output().expect("output");
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            return Some((status.code(), stderr));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
