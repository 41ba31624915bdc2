//! Storage over both backends: one pool type, one schema, one query body.
//!
//! Store functions take a [`Conn`] — from a pooled [`DbConn`] ([`Db::read`],
//! [`Db::write`]) or inside [`Db::transaction`] — and write each Diesel query
//! once inside [`db_run!`](crate::db_run), which compiles the body for each
//! backend. Per-backend differences stay in this module.
//!
//! On SQLite every write goes through a pool of one connection: writers queue
//! in the process instead of racing for the file lock, so a deferred
//! transaction can never hit `SQLITE_BUSY` while upgrading to a write.

mod conn;
pub mod counter;
mod database_url;
pub mod keyset;
pub mod migrate;
pub mod pg;
pub mod rows;
pub mod schema;
pub mod search;
pub mod sql;
pub mod sqlite_limit;
pub mod tls;
pub mod types;
pub mod watchdog;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::{ConnectionError, SqliteConnection};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
};
use futures_util::FutureExt;
use scoped_futures::ScopedBoxFuture;

use self::counter::StatementCounter;
use crate::error::AppError;

use self::conn::Pooled;
pub use self::conn::{Conn, DbConn};
pub use self::database_url::{Backend, DatabaseUrl};
pub use diesel_async::AsyncPgConnection as PgConn;
/// The SQLite connection as diesel-async drives it (on the blocking pool).
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// The setting that names the main database URL.
pub const URL_SETTING: &str = "TASKLANE_DATABASE_URL";
/// The setting that names the direct (session) URL, beside a pooler.
pub const DIRECT_URL_SETTING: &str = "TASKLANE_DATABASE_DIRECT_URL";

/// Pool settings from the configuration.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub size: usize,
    pub checkout_timeout: Duration,
    pub statement_timeout: Duration,
    /// Keep prepared statements per connection (PostgreSQL; off behind a
    /// transaction-mode pooler that can not carry them).
    pub statement_cache: bool,
    /// PostgreSQL: the URL for what needs a session of its own (`LISTEN`,
    /// the migrations and their lock), when it differs from the main one.
    pub direct_url: Option<DatabaseUrl>,
}

impl PoolSettings {
    /// The longest a PostgreSQL statement may wait for an answer before
    /// its connection is dropped: the statement timeout (which the server
    /// enforces, if it runs) plus the pool timeout for the answer to come.
    pub fn answer_limit(&self) -> Duration {
        self.statement_timeout + self.checkout_timeout
    }

    /// The URL (and the setting that gave it) for what needs a session:
    /// the direct URL when one is set, else `main`.
    pub fn session_url<'a>(&'a self, main: &'a DatabaseUrl) -> (&'a DatabaseUrl, &'static str) {
        match &self.direct_url {
            Some(direct @ DatabaseUrl::Postgres(_)) => (direct, DIRECT_URL_SETTING),
            _ => (main, URL_SETTING),
        }
    }
}

/// Where a connection that needs a whole session goes (`LISTEN`; see
/// [`PoolSettings::direct_url`]), and the setting that said so.
#[derive(Clone)]
pub struct SessionTarget {
    pub target: pg::PgTarget,
    pub setting: &'static str,
}

#[derive(Clone)]
enum Pools {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite {
        path: PathBuf,
        read: Pool<SqliteConn>,
        write: Pool<SqliteConn>,
    },
}

/// The database handle the whole application shares (cheap to clone).
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    url: DatabaseUrl,
    session: Option<SessionTarget>,
    checkout_timeout: Duration,
    statements: StatementCounter,
    /// PostgreSQL without the statement cache: how each checkout begins
    /// its transaction (see [`DbConn`]), the time limits set in it.
    pinned: Option<Arc<str>>,
}

/// Connections in use and idle, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
}

impl Db {
    /// Builds the pools. Connections are opened lazily; call [`Db::ping`] to
    /// find out whether the database answers.
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self, AppError> {
        let statements = StatementCounter::default();
        let mut session = None;
        let mut pinned = None;
        let pools = match url {
            DatabaseUrl::Postgres(raw) => {
                let target = pg::PgTarget::parse(raw)
                    .map_err(|e| AppError::internal(format!("{URL_SETTING}: {e}")))?;
                let (session_url, setting) = settings.session_url(url);
                let session_target = match session_url {
                    DatabaseUrl::Postgres(raw) => pg::PgTarget::parse(raw)
                        .map_err(|e| AppError::internal(format!("{setting}: {e}")))?,
                    DatabaseUrl::Sqlite(_) => target.clone(),
                };
                session = Some(SessionTarget {
                    target: session_target,
                    setting,
                });
                let statement_ms = settings.statement_timeout.as_millis();
                let statement_cache = settings.statement_cache;
                let answer_limit = settings.answer_limit();
                // A pooler shares server connections: the limits go into each
                // transaction rather than onto whichever connection a `SET`
                // would land on.
                let limits = format!(
                    "SET{local} statement_timeout = {statement_ms}; SET{local} lock_timeout = {statement_ms}",
                    local = if statement_cache { "" } else { " LOCAL" }
                );
                if !statement_cache {
                    pinned = Some(Arc::from(format!("BEGIN; {limits}")));
                }
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                config.recycling_method = RecyclingMethod::Fast;
                let counter = statements.clone();
                config.custom_setup = Box::new(move |_url| {
                    let target = target.clone();
                    let probe = counter.probe();
                    let limits = limits.clone();
                    async move {
                        let (mut conn, watch) = target
                            .establish_watched(URL_SETTING, statement_cache, answer_limit)
                            .await?;
                        conn.set_instrumentation(watchdog::WatchedProbe {
                            counter: probe,
                            watch,
                        });
                        if statement_cache {
                            conn.batch_execute(&limits)
                                .await
                                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                        }
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(raw.clone(), config);
                Pools::Postgres(build_pool(
                    manager,
                    settings.size,
                    settings.checkout_timeout,
                )?)
            }
            DatabaseUrl::Sqlite(path) => {
                url.ensure_files()?;
                let limit = settings.statement_timeout;
                let make = || {
                    let mut config = ManagerConfig::<SqliteConn>::default();
                    config.recycling_method = RecyclingMethod::Fast;
                    let counter = statements.clone();
                    config.custom_setup = Box::new(move |url| {
                        open_sqlite(url.to_owned(), limit, counter.probe()).boxed()
                    });
                    AsyncDieselConnectionManager::new_with_config(path.to_string_lossy(), config)
                };
                Pools::Sqlite {
                    path: path.clone(),
                    read: build_pool(make(), settings.size.max(1), settings.checkout_timeout)?,
                    write: build_pool(make(), 1, settings.checkout_timeout)?,
                }
            }
        };
        Ok(Self {
            pools,
            url: url.clone(),
            session,
            checkout_timeout: settings.checkout_timeout,
            statements,
            pinned,
        })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// PostgreSQL: where a connection that needs a session of its own
    /// goes (the direct URL behind a pooler). `None` on SQLite.
    pub fn session(&self) -> Option<&SessionTarget> {
        self.session.as_ref()
    }

    /// A connection for reading.
    pub async fn read(&self) -> Result<DbConn, AppError> {
        match &self.pools {
            Pools::Postgres(pool) => self.postgres(pool).await,
            Pools::Sqlite { read, .. } => Ok(DbConn(Some(Pooled::Sqlite(checkout(read).await?)))),
        }
    }

    /// A connection for writing (on SQLite, the single writer). A caller
    /// that writes calls [`DbConn::commit`] before it answers.
    pub async fn write(&self) -> Result<DbConn, AppError> {
        match &self.pools {
            Pools::Postgres(pool) => self.postgres(pool).await,
            Pools::Sqlite { write, .. } => Ok(DbConn(Some(Pooled::Sqlite(checkout(write).await?)))),
        }
    }

    /// A PostgreSQL connection, pinned inside a transaction when
    /// [`Db::pinned`] says so.
    async fn postgres(&self, pool: &Pool<AsyncPgConnection>) -> Result<DbConn, AppError> {
        let mut pooled = checkout(pool).await?;
        let Some(begin) = &self.pinned else {
            return Ok(DbConn(Some(Pooled::Postgres(pooled))));
        };
        AnsiTransactionManager::begin_transaction_sql(&mut *pooled, begin).await?;
        Ok(DbConn(Some(Pooled::Pinned(pooled))))
    }

    /// Does the database answer a query within `limit`? `Err` names the reason.
    pub async fn ping(&self, limit: Duration) -> Result<(), String> {
        if let Pools::Sqlite { path, .. } = &self.pools {
            // An open connection keeps answering on an unlinked file, and
            // everything written there would be lost: check the file itself.
            if !path.exists() {
                return Err(format!("database file {} is missing", path.display()));
            }
        }
        let probe = async {
            let mut conn = self
                .read()
                .await
                .map_err(|_| "no database connection".to_owned())?;
            let mut conn = conn.conn();
            crate::db_run!(&mut conn, |c| c.batch_execute("SELECT 1").await)
                .map_err(|_| "the database did not answer".to_owned())
        };
        match tokio::time::timeout(limit, probe).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the database did not answer within {} ms",
                limit.as_millis()
            )),
        }
    }

    /// Runs `work` in one write transaction: committed when it returns
    /// `Ok`, rolled back on `Err`.
    pub async fn transaction<'a, R, F>(&self, work: F) -> Result<R, AppError>
    where
        F: for<'r> FnOnce(Conn<'r>) -> ScopedBoxFuture<'a, 'r, Result<R, AppError>> + Send + 'a,
        R: Send + 'a,
    {
        let mut pooled = self.write().await?;
        match pooled.0.as_mut() {
            Some(Pooled::Postgres(conn)) => {
                conn.transaction(async move |c| work(Conn::Postgres(c)).await)
                    .await
            }
            Some(Pooled::Sqlite(conn)) => {
                conn.transaction(async move |c| work(Conn::Sqlite(c)).await)
                    .await
            }
            // Already inside the transaction its checkout began.
            Some(Pooled::Pinned(_)) => match work(pooled.conn()).await {
                Ok(value) => {
                    pooled.commit().await?;
                    Ok(value)
                }
                Err(err) => {
                    pooled.rollback().await;
                    Err(err)
                }
            },
            None => unreachable!("a DbConn holds its connection until it is dropped"),
        }
    }

    pub fn status(&self) -> PoolStatus {
        let of = |s: deadpool::Status| PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
        };
        match &self.pools {
            Pools::Postgres(pool) => of(pool.status()),
            Pools::Sqlite { read, write, .. } => {
                let (r, w) = (of(read.status()), of(write.status()));
                PoolStatus {
                    max_size: r.max_size + w.max_size,
                    size: r.size + w.size,
                    available: r.available + w.available,
                }
            }
        }
    }

    /// SQL statements sent so far over every pooled connection.
    pub fn statement_count(&self) -> u64 {
        self.statements.get()
    }

    pub fn checkout_timeout(&self) -> Duration {
        self.checkout_timeout
    }

    /// Closes every pool: later checkouts fail at once.
    pub fn close(&self) {
        match &self.pools {
            Pools::Postgres(pool) => pool.close(),
            Pools::Sqlite { read, write, .. } => {
                read.close();
                write.close();
            }
        }
    }
}

fn build_pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    size: usize,
    timeout: Duration,
) -> Result<Pool<C>, AppError>
where
    C: diesel_async::pooled_connection::PoolableConnection + Send + 'static,
    for<'a> diesel::dsl::select<diesel::dsl::AsExprOf<i32, diesel::sql_types::Integer>>:
        diesel_async::methods::LoadQuery<'a, C, i32>,
    diesel::query_builder::SqlQuery: diesel::query_builder::QueryFragment<C::Backend>,
{
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| AppError::internal(format!("cannot build the connection pool: {e}")))
}

async fn checkout<C>(pool: &Pool<C>) -> Result<Object<C>, AppError>
where
    C: diesel_async::pooled_connection::PoolableConnection + Send + 'static,
    for<'a> diesel::dsl::select<diesel::dsl::AsExprOf<i32, diesel::sql_types::Integer>>:
        diesel_async::methods::LoadQuery<'a, C, i32>,
    diesel::query_builder::SqlQuery: diesel::query_builder::QueryFragment<C::Backend>,
{
    use deadpool::managed::PoolError;
    pool.get().await.map_err(|e| match e {
        // No connection in time, or none could be opened: the database
        // is not answering (or the pool is exhausted); worth a retry.
        PoolError::Timeout(_) | PoolError::Backend(_) => {
            tracing::warn!(error = %e, "no database connection");
            AppError::unavailable()
        }
        other => AppError::internal(format!("database connection unavailable: {other}")),
    })
}

/// How every SQLite connection is set up (the pool's and the
/// migrations'): WAL, foreign keys, and a wait of up to 5 s for another
/// connection's (or another process's) write lock rather than a failure.
/// The wait comes first, so that it covers the pragmas after it too. The
/// first 256 MiB of the file are read through a shared memory map rather
/// than copied into each connection's own page cache (a member of many
/// projects reads rows scattered over the file: 1.2× the rps measured).
pub const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456;";

/// Opens one SQLite connection with the settings every connection needs,
/// the statement time limit (see [`sqlite_limit`]) and the functions of
/// the search statements ([`search::register_sqlite_functions`]) included.
async fn open_sqlite(
    path: String,
    limit: Duration,
    probe: counter::CountingProbe,
) -> diesel::ConnectionResult<SqliteConn> {
    let conn = tokio::task::spawn_blocking(move || {
        let mut conn = sqlite_limit::open(&path, limit, probe)?;
        diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        search::register_sqlite_functions(&mut conn)
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok::<_, ConnectionError>(conn)
    })
    .await
    .map_err(|e| ConnectionError::BadConnection(format!("sqlite open task failed: {e}")))??;
    Ok(SyncConnectionWrapper::new(conn))
}

/// Runs one query body against whichever backend a `&mut Conn` holds; the
/// body is compiled once per backend with `$c` bound to that backend's
/// connection.
#[macro_export]
macro_rules! db_run {
    ($conn:expr, |$c:ident| $body:expr) => {
        match &mut *$conn {
            $crate::db::Conn::Postgres($c) => {
                let $c: &mut $crate::db::PgConn = &mut **$c;
                $body
            }
            $crate::db::Conn::Sqlite($c) => {
                let $c: &mut $crate::db::SqliteConn = &mut **$c;
                $body
            }
        }
    };
}
