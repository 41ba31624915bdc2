//! Opening PostgreSQL connections: the URL's `sslmode` and `sslrootcert`
//! (libpq's names and meanings) over rustls, and TCP keepalive. Every
//! PostgreSQL connection — the pool's, the event listener's, the
//! migrations' — is opened by [`PgTarget::connect`].
//!
//! | `sslmode`     | encrypted            | certificate checked                         |
//! |---------------|----------------------|---------------------------------------------|
//! | `disable`     | never                | —                                           |
//! | `prefer`      | when the server can  | no (plain only when the server refuses TLS) |
//! | `require`     | always               | no                                          |
//! | `verify-ca`   | always               | chain to `sslrootcert` (or the web roots)   |
//! | `verify-full` | always               | chain, and the host name                    |
//!
//! `prefer` is the default, as in libpq. Unverified modes still check the
//! handshake's signatures against the certificate the server presented.

use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use diesel::ConnectionError;
use diesel::connection::CacheSize;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres::{Client, Connection, Socket};

pub use super::tls::SslMode;
use super::tls::{RustlsConnect, RustlsStream};
use super::watchdog::{self, Watch};

/// Idle time after which the kernel probes a database connection, so a
/// peer that vanished (a dropped NAT entry, a host gone) is noticed.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// `application_name` of the pool's connections, unless the URL sets one.
pub const APPLICATION_NAME: &str = "tasklane";
/// `application_name` of the event listener's connection (unless the URL
/// sets one), to tell it apart in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "tasklane-listener";

/// Where and how to connect: a parsed `postgres://` URL.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    mode: SslMode,
    root_cert: Option<PathBuf>,
    tls: RustlsConnect,
}

impl PgTarget {
    /// Parses `url`, reads `sslrootcert` if it names one; `Err` says what
    /// is wrong with the URL (never its password).
    pub fn parse(url: &str) -> Result<Self, String> {
        let mut parsed =
            url::Url::parse(url).map_err(|e| format!("is not a valid postgres:// URL: {e}"))?;
        let mut mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            match &*key {
                "sslmode" => mode = SslMode::parse(&value)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(&*value)),
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(&kept);
        }
        let mut config = tokio_postgres::Config::from_str(parsed.as_str())
            .map_err(|e| format!("is not a valid postgres:// URL: {e}"))?;
        config
            .ssl_mode(match mode {
                SslMode::Disable => WireMode::Disable,
                SslMode::Prefer => WireMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
            })
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let tls = RustlsConnect::new(mode, root_cert.as_ref())?;
        Ok(Self {
            config,
            mode,
            root_cert,
            tls,
        })
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// The same target under another `application_name`, unless the URL
    /// chose one.
    pub fn named(&self, name: &str) -> Self {
        let mut named = self.clone();
        if named.config.get_application_name() == Some(APPLICATION_NAME) {
            named.config.application_name(name);
        }
        named
    }

    /// Opens a connection; the caller drives the returned [`Connection`].
    /// `Err` is one line, naming `setting` when TLS is what failed.
    pub async fn connect(
        &self,
        setting: &str,
    ) -> Result<(Client, Connection<Socket, RustlsStream>), String> {
        self.config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.describe(setting, &e))
    }

    /// A Diesel connection of its own (the migrations'), not watched.
    pub async fn establish(&self, setting: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
        let (client, connection) = self
            .connect(setting)
            .await
            .map_err(ConnectionError::BadConnection)?;
        AsyncPgConnection::try_from_client_and_connection(client, connection).await
    }

    /// A pooled connection, with or without its prepared-statement cache,
    /// driven by a task that drops it when a statement waits longer than
    /// `limit` (see [`super::watchdog`]); the returned [`Watch`] goes into
    /// its instrumentation.
    pub async fn establish_watched(
        &self,
        setting: &str,
        statement_cache: bool,
        limit: Duration,
    ) -> diesel::ConnectionResult<(AsyncPgConnection, Arc<Watch>)> {
        let (client, connection) = self
            .connect(setting)
            .await
            .map_err(ConnectionError::BadConnection)?;
        let watch = Arc::new(Watch::default());
        tokio::spawn(watchdog::drive(connection, watch.clone(), limit));
        if statement_cache {
            return Ok((AsyncPgConnection::try_from(client).await?, watch));
        }
        // Behind a transaction-mode pooler: diesel-async's own setup
        // statements take two round trips each (see [`super::DbConn`]), so
        // they run inside a transaction, which the pooler keeps on one
        // server connection.
        let setup = |e: tokio_postgres::Error| ConnectionError::BadConnection(e.to_string());
        client.batch_execute("BEGIN").await.map_err(setup)?;
        let mut conn = AsyncPgConnection::try_from(client).await?;
        conn.batch_execute("COMMIT")
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        Ok((conn, watch))
    }

    /// `err` on one line; a failed certificate check names the setting,
    /// the mode and the root certificate.
    fn describe(&self, setting: &str, err: &tokio_postgres::Error) -> String {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        let mut certificate = false;
        while let Some(cause) = source {
            if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
                certificate |= matches!(tls, rustls::Error::InvalidCertificate(_));
            }
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        let text = text.replace(['\n', '\r'], " ");
        if certificate {
            let roots = match &self.root_cert {
                Some(path) => format!("sslrootcert {}", path.display()),
                None => "the built-in web roots (no sslrootcert)".to_owned(),
            };
            format!(
                "{setting}: sslmode={} refused the server's certificate (checked against {roots}): {text}",
                self.mode.name()
            )
        } else if text.contains("TLS") || text.contains("tls") {
            format!("{setting}: sslmode={}: {text}", self.mode.name())
        } else {
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_leave_the_url_tokio_postgres_reads() {
        let target = PgTarget::parse(
            "postgres://app:pw@db.example:6432/tasks?sslmode=verify-ca&connect_timeout=3",
        );
        // verify-ca without sslrootcert uses the web roots: no file to read.
        let target = target.expect("parses");
        assert_eq!(target.ssl_mode(), SslMode::VerifyCa);
        assert_eq!(target.config.get_ssl_mode(), WireMode::Require);
        assert_eq!(target.config.get_dbname(), Some("tasks"));
        assert_eq!(
            target.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(target.config.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(target.config.get_application_name(), Some("tasklane"));
        let listener = target.named(LISTENER_NAME);
        assert_eq!(
            listener.config.get_application_name(),
            Some("tasklane-listener")
        );
        let chosen = PgTarget::parse("postgres://db/t?application_name=mine").expect("parses");
        assert_eq!(
            chosen.named(LISTENER_NAME).config.get_application_name(),
            Some("mine")
        );
    }

    #[test]
    fn prefer_is_the_default_and_unknown_modes_are_named() {
        let target = PgTarget::parse("postgres://app@db/tasks").expect("parses");
        assert_eq!(target.ssl_mode(), SslMode::Prefer);
        let err = PgTarget::parse("postgres://app@db/tasks?sslmode=allow")
            .err()
            .expect("refused");
        assert_eq!(
            err,
            "sslmode \"allow\" is not one of disable, prefer, require, verify-ca or verify-full"
        );
    }

    #[test]
    fn a_missing_root_certificate_is_named() {
        let err = PgTarget::parse(
            "postgres://app@db/tasks?sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
        )
        .err()
        .expect("refused");
        assert!(
            err.starts_with("sslrootcert /nonexistent/root.crt can not be read"),
            "{err}"
        );
    }
}
