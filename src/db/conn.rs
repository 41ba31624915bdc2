//! The connections store code runs on: a pooled [`DbConn`] and the
//! [`Conn`] it lends, on either backend.

use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};

use super::{Backend, SqliteConn};
#[cfg(doc)]
use super::{Db, PoolSettings};
use crate::error::AppError;

/// A pooled connection to one of the two backends.
///
/// Behind a transaction-mode pooler (the statement cache off, see
/// [`PoolSettings::statement_cache`]) a PostgreSQL connection is *pinned*:
/// it was checked out inside a transaction, so that every round trip of its
/// statements (tokio-postgres prepares by name in one and runs in the next)
/// reaches the same server connection. [`DbConn::commit`] ends that
/// transaction; a connection dropped without it commits on its own task
/// before it goes back to the pool: enough for a read; a caller that wrote
/// calls `commit` before it answers, so that the answer follows the commit.
pub struct DbConn(pub(super) Option<Pooled>);

pub(super) enum Pooled {
    Postgres(Object<AsyncPgConnection>),
    /// Inside the transaction [`Db::read`] or [`Db::write`] began.
    Pinned(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteConn>),
}

impl DbConn {
    /// The connection to hand to store functions.
    pub fn conn(&mut self) -> Conn<'_> {
        match self.0.as_mut() {
            Some(Pooled::Postgres(pooled) | Pooled::Pinned(pooled)) => Conn::Postgres(pooled),
            Some(Pooled::Sqlite(pooled)) => Conn::Sqlite(pooled),
            None => unreachable!("a DbConn holds its connection until it is dropped"),
        }
    }

    /// Ends the pinned transaction, if this connection is pinned: what was
    /// written is committed when this returns. Without a pin, statements
    /// committed as they ran and this does nothing.
    pub async fn commit(mut self) -> Result<(), AppError> {
        if let Some(Pooled::Pinned(mut pooled)) = self.0.take() {
            AnsiTransactionManager::commit_transaction(&mut *pooled).await?;
        }
        Ok(())
    }

    /// Undoes the pinned transaction (see [`DbConn::commit`]).
    pub(super) async fn rollback(mut self) {
        if let Some(Pooled::Pinned(mut pooled)) = self.0.take()
            && let Err(err) = AnsiTransactionManager::rollback_transaction(&mut *pooled).await
        {
            // Still inside the transaction: the pool discards it.
            tracing::warn!(error = %err, "rolling back a pinned connection failed");
        }
    }
}

impl Drop for DbConn {
    fn drop(&mut self) {
        if let Some(Pooled::Pinned(mut pooled)) = self.0.take() {
            // Outside a runtime (the process ending) the connection goes
            // back still in its transaction, and the pool discards it.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(err) = AnsiTransactionManager::commit_transaction(&mut *pooled).await
                    {
                        tracing::warn!(error = %err, "committing a pinned connection failed");
                    }
                });
            }
        }
    }
}

/// A borrowed connection, pooled or inside a transaction: what every store
/// function takes, and what [`db_run!`](crate::db_run) dispatches on.
pub enum Conn<'c> {
    Postgres(&'c mut AsyncPgConnection),
    Sqlite(&'c mut SqliteConn),
}

impl Conn<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}
