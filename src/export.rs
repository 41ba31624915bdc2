//! Backups and data exports: what an operator and a user take away.
//!
//! - [`backup`]: `tasklane backup PATH`, a consistent copy of the SQLite
//!   database while the server runs (`VACUUM INTO`).
//! - [`document`]: the export document, everything one user owns, as one
//!   JSON object.
//! - [`worker`]: `exportMyData` runs as an EXPORT_DATA operation, with
//!   progress; each batch copies tasks, the last one makes the document.
//! - [`graphql`]: `exportMyData` and `myDataExport`.
//! - [`store`]: the SQL of all of it.

pub mod backup;
pub mod document;
pub mod graphql;
pub mod store;
pub mod worker;

/// How long a finished export is kept (then `myDataExport` is null and the
/// document is deleted).
pub fn keep() -> chrono::Duration {
    chrono::Duration::hours(24)
}

/// The export document of the user with `email` (as stored: lower case),
/// made at once, for the operator's `tasklane export-user`; `None` when no
/// user has that email.
pub async fn export_user(
    db: &crate::db::Db,
    email: &str,
) -> crate::error::AppResult<Option<String>> {
    let mut pooled = db.read().await?;
    let conn = &mut pooled.conn();
    let Some(user_id) = store::user_by_email(conn, email).await? else {
        return Ok(None);
    };
    // The operator acts as the user, to read exactly what the user's own
    // export holds.
    let viewer = crate::auth::Viewer {
        user_id,
        session_id: None,
        api_key_id: None,
        scopes: vec![crate::auth::Scope::Read],
    };
    document::build(conn, &viewer).await.map(Some)
}
