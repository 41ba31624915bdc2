//! Instances started at once on one empty PostgreSQL database: the
//! migrations run under an advisory lock, so each is applied once and
//! every instance comes up.

use crate::pg_support::{config_for, count};
use crate::support::{Backend, TestDb};

/// The migrations shipped for PostgreSQL.
fn shipped() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    let entries = std::fs::read_dir(dir).expect("migrations/postgres");
    let dirs = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("up.sql").is_file())
        .count();
    i64::try_from(dirs).expect("a few")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_started_at_once_apply_each_migration_once() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    };
    let start = || {
        let config = config_for(&db.url);
        tokio::spawn(async move { tasklane::start(config).await })
    };
    let (one, two, three) = tokio::join!(start(), start(), start());
    let servers: Vec<tasklane::Server> = [one, two, three]
        .into_iter()
        .map(|joined| {
            joined
                .expect("the start task")
                .unwrap_or_else(|e| panic!("an instance failed to start: {e:?}"))
        })
        .collect();
    assert_eq!(servers.len(), 3);
    let applied = count(
        &db.url,
        "SELECT count(*) AS value FROM __diesel_schema_migrations",
    )
    .await;
    assert_eq!(applied, shipped(), "each migration once");
    let client = reqwest::Client::new();
    for server in servers {
        let ready = client
            .get(format!("http://{}/ready", server.addr))
            .send()
            .await
            .expect("answers");
        assert_eq!(ready.status(), 200);
        server.shutdown().await.expect("stops");
    }
}
