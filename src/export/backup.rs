//! `tasklane backup PATH`: a consistent copy of the SQLite database, taken
//! while the server runs.
//!
//! `VACUUM INTO` copies the database as one read transaction sees it: with
//! WAL journaling, writers go on meanwhile and none of their later commits
//! reach the copy, which is a complete, compact database file of its own
//! (no `-wal` to carry along). The copy is created readable by this user
//! only (0600), in directories created 0700 when missing, and never over an
//! existing file. On PostgreSQL the answer is `pg_dump`.

use std::path::Path;

use diesel::connection::SimpleConnection as _;
use diesel::sql_types::Text;
use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};

use crate::db::DatabaseUrl;

/// Copies the database of `url` to `target`; returns the copy's size in
/// bytes. `Err` is one line for the operator.
pub fn backup(url: &DatabaseUrl, target: &Path) -> Result<u64, String> {
    let source = match url {
        DatabaseUrl::Postgres(_) => {
            return Err(format!(
                "backup copies an SQLite database; on PostgreSQL use pg_dump, e.g. \
                 pg_dump --format=custom --file=tasklane.dump '{url:?}'"
            ));
        }
        DatabaseUrl::Sqlite(path) => path,
    };
    if !source.is_file() {
        return Err(format!(
            "the database file {} does not exist",
            source.display()
        ));
    }
    if target.symlink_metadata().is_ok() {
        return Err(format!(
            "{} already exists; a backup never overwrites a file",
            target.display()
        ));
    }
    create_parent(target)?;
    create_empty(target)?;
    match copy(source, target) {
        Ok(()) => std::fs::metadata(target)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read {}: {e}", target.display())),
        Err(message) => {
            // The file this command created, so no one else's.
            let _ = std::fs::remove_file(target);
            Err(message)
        }
    }
}

/// The directories above `target`, created 0700 when missing.
fn create_parent(target: &Path) -> Result<(), String> {
    let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot create the directory {}: {e}", dir.display()))
}

/// The empty target, 0600; fails if it exists (even if it appeared just
/// now), so nothing is ever overwritten. `VACUUM INTO` accepts an empty file.
fn create_empty(target: &Path) -> Result<(), String> {
    create_private(target).map(drop).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists; a backup never overwrites a file",
                target.display()
            )
        } else {
            format!("cannot create {}: {e}", target.display())
        }
    })
}

/// A new file readable by its owner only (0600); an error if the path
/// exists, so nothing is ever overwritten.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn copy(source: &Path, target: &Path) -> Result<(), String> {
    let mut conn = SqliteConnection::establish(&source.to_string_lossy())
        .map_err(|e| format!("cannot open the database {}: {e}", source.display()))?;
    // Waits for a writer's checkpoint rather than failing on a busy file.
    conn.batch_execute("PRAGMA busy_timeout = 10000;")
        .map_err(|e| format!("cannot set up the connection: {e}"))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(target.to_string_lossy())
        .execute(&mut conn)
        .map(drop)
        .map_err(|e| format!("the copy to {} failed: {e}", target.display()))
}
