//! What the seeding examples (`seed`, `search_seed`) share: a database
//! migrated and pooled for one long load, its planner statistics afterwards,
//! and a token for the seeded user.

use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use tasklane::auth::TokenKeys;
use tasklane::db::migrate::{self, Direction};
use tasklane::db::types::Id;
use tasklane::db::{Backend, DatabaseUrl, Db, PoolSettings};
use tasklane::db_run;
use tasklane::error::AppError;

pub fn describe(err: AppError) -> String {
    format!("{err:?}")
}

/// `url` migrated, and a small pool whose timeouts suit one long load.
pub async fn open(url: &str) -> Result<Db, String> {
    let url = DatabaseUrl::parse(url)?;
    migrate::run(&url, Direction::Up).await.map_err(describe)?;
    let settings = PoolSettings {
        size: 2,
        checkout_timeout: Duration::from_secs(30),
        statement_timeout: Duration::from_secs(600),
        statement_cache: true,
        direct_url: None,
    };
    Db::connect(&url, &settings).map_err(describe)
}

/// On PostgreSQL, fresh statistics for the planner after the load.
pub async fn analyze(db: &Db) -> Result<(), String> {
    if db.backend() == Backend::Postgres {
        let mut pooled = db.write().await.map_err(describe)?;
        let mut conn = pooled.conn();
        db_run!(&mut conn, |c| c.batch_execute("ANALYZE").await).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A day-long access token for `user`, signed with `TASKLANE_JWT_SECRET`.
pub fn token(user: Id) -> Result<String, String> {
    let secret =
        std::env::var("TASKLANE_JWT_SECRET").map_err(|_| "TASKLANE_JWT_SECRET is not set")?;
    let keys = TokenKeys::new(secret.as_bytes(), Duration::from_secs(24 * 3600));
    keys.issue(user, Id::new()).map_err(describe)
}
