//! Embedded migrations, one set per backend, applied at start and by
//! `tasklane migrate`.

use diesel::Connection;
use diesel::SqliteConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DatabaseUrl;
use crate::error::AppError;

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

/// Applies (or reverts) the migrations; returns the versions it ran.
pub async fn run(url: &DatabaseUrl, direction: Direction) -> Result<Vec<String>, AppError> {
    let url = url.clone();
    tokio::task::spawn_blocking(move || match &url {
        DatabaseUrl::Postgres(raw) => {
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(raw)
                .map_err(|e| AppError::internal(format!("cannot connect to PostgreSQL: {e}")))?;
            apply(&mut conn, POSTGRES, direction)
        }
        DatabaseUrl::Sqlite(path) => {
            url.ensure_files()?;
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| AppError::internal(format!("cannot open the SQLite file: {e}")))?;
            apply(&mut conn, SQLITE, direction)
        }
    })
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
