//! Embedded migrations, one set per backend, applied at start and by
//! `tasklane migrate`. On PostgreSQL they run under an advisory lock, on
//! the direct URL when one is set (a transaction-mode pooler would not keep
//! the lock): instances started at once apply each migration once.

use diesel::Connection;
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DatabaseUrl, PoolSettings, URL_SETTING, pg::PgTarget};
use crate::error::AppError;

/// The advisory lock held while migrating ("tasklane" in ASCII).
const LOCK_KEY: i64 = 0x7461_736b_6c61_6e65;

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// What to do with the migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Apply every pending migration.
    Up,
    /// Revert every applied migration (tests and operators only).
    DownAll,
}

/// Applies (or reverts) the migrations on `url`; returns the versions it ran.
pub async fn run(url: &DatabaseUrl, direction: Direction) -> Result<Vec<String>, AppError> {
    run_on(url, URL_SETTING, direction).await
}

/// Like [`run`], on the session URL of `pool` (the direct URL when set).
pub async fn run_configured(
    url: &DatabaseUrl,
    pool: &PoolSettings,
    direction: Direction,
) -> Result<Vec<String>, AppError> {
    let (url, setting) = pool.session_url(url);
    run_on(url, setting, direction).await
}

async fn run_on(
    url: &DatabaseUrl,
    setting: &str,
    direction: Direction,
) -> Result<Vec<String>, AppError> {
    match url {
        DatabaseUrl::Postgres(raw) => {
            let target =
                PgTarget::parse(raw).map_err(|e| AppError::internal(format!("{setting}: {e}")))?;
            let conn = target
                .establish(setting)
                .await
                .map_err(|e| AppError::internal(format!("cannot connect to PostgreSQL: {e}")))?;
            blocking(move || {
                let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
                let locked = |conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, sql: &str| {
                    conn.batch_execute(sql).map_err(|e| {
                        AppError::internal(format!("cannot take the migration lock: {e}"))
                    })
                };
                locked(&mut conn, &format!("SELECT pg_advisory_lock({LOCK_KEY})"))?;
                let applied = apply(&mut conn, POSTGRES, direction);
                // Closing the connection would release it too.
                locked(&mut conn, &format!("SELECT pg_advisory_unlock({LOCK_KEY})"))?;
                applied
            })
            .await
        }
        DatabaseUrl::Sqlite(path) => {
            url.ensure_files()?;
            let path = path.clone();
            blocking(move || {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(|e| AppError::internal(format!("cannot open the SQLite file: {e}")))?;
                // Another process on the file (the instance a rolling
                // restart replaces) may hold the write lock for a moment.
                conn.batch_execute(super::SQLITE_PRAGMAS).map_err(|e| {
                    AppError::internal(format!("cannot set up the SQLite file: {e}"))
                })?;
                apply(&mut conn, SQLITE, direction)
            })
            .await
        }
    }
}

async fn blocking(
    work: impl FnOnce() -> Result<Vec<String>, AppError> + Send + 'static,
) -> Result<Vec<String>, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(format!("migration task failed: {e}")))?
}

fn apply<DB, C>(
    conn: &mut C,
    set: EmbeddedMigrations,
    direction: Direction,
) -> Result<Vec<String>, AppError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let versions = match direction {
        Direction::Up => conn.run_pending_migrations(set),
        Direction::DownAll => conn.revert_all_migrations(set),
    }
    .map_err(|e| AppError::internal(format!("migration failed: {e}")))?;
    Ok(versions.into_iter().map(|v| v.to_string()).collect())
}
