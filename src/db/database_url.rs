//! Where the data lives: `TASKLANE_DATABASE_URL` parsed, and which backend
//! it names.

use std::path::{Path, PathBuf};

use super::pg;
use crate::error::AppError;

/// Where the data lives, parsed from `TASKLANE_DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH` and `postgres://…` / `postgresql://…`.
    ///
    /// ```
    /// use tasklane::db::{Backend, DatabaseUrl};
    ///
    /// let url = DatabaseUrl::parse("sqlite://./data/tasklane.db").unwrap();
    /// assert_eq!(url.backend(), Backend::Sqlite);
    /// assert_eq!(url.data_dir().unwrap(), std::path::Path::new("./data"));
    /// let pg = DatabaseUrl::parse("postgres://app:secret@db/tasklane").unwrap();
    /// assert_eq!(pg.backend(), Backend::Postgres);
    /// assert_eq!(format!("{pg:?}"), "postgres://app@db/tasklane"); // no password in logs
    /// assert!(DatabaseUrl::parse("mysql://db/x").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            // sslmode and sslrootcert are checked (and the root file read)
            // now, so a bad one stops the start with the setting's name.
            pg::PgTarget::parse(raw)?;
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .ok_or_else(|| "expected sqlite://PATH or postgres://…".to_owned())?;
        if path.is_empty() {
            return Err("the sqlite:// URL names no file".to_owned());
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Creates the SQLite file's directory and the file itself, if they are
    /// missing, readable by this user only: the directory 0700, the file
    /// 0600 (SQLite gives its `-wal` and `-shm` files the database file's
    /// mode). Nothing to do on PostgreSQL.
    pub fn ensure_files(&self) -> Result<(), AppError> {
        let Self::Sqlite(path) = self else {
            return Ok(());
        };
        let failed = |what: &str, target: &Path, e: std::io::Error| {
            AppError::internal(format!(
                "cannot create the {what} {}: {e}",
                target.display()
            ))
        };
        if let Some(dir) = self.data_dir()
            && !dir.exists()
        {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(dir)
                .map_err(|e| failed("data directory", dir, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(failed("database file", path, e)),
        }
    }

    /// The directory that holds the SQLite file (and the generated JWT key).
    pub fn data_dir(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(".")),
            ),
            Self::Postgres(_) => None,
        }
    }
}

/// The URL without its password, for logs.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => {
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        let userinfo = &url[scheme + 3..at];
                        let user = userinfo.split(':').next().unwrap_or_default();
                        format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
                    }
                    _ => url.clone(),
                };
                f.write_str(&shown)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}
