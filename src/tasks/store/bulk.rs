//! Many task updates at once, each conditional on its own base version: one
//! statement on PostgreSQL, one call of the blocking pool on SQLite.
//!
//! The PostgreSQL statement is `UPDATE … FROM unnest(…)`, which Diesel's
//! query builder can not express (it has no `UPDATE … FROM`), so its text is
//! built here, once, from [`COLUMNS`]: every column the update form of
//! [`TaskRow`] writes, named by the schema and bound as one array whose SQL
//! type is the schema's. A test checks the list against the update form.

use std::sync::LazyLock;

use diesel::expression::Expression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, Integer};
use diesel_async::RunQueryDsl;

use crate::access::{self, Need, projects_for};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::tasks;
use crate::db::types::DbUuid;
use crate::error::AppResult;
use crate::tasks::model::TaskRow;

type PgQuery<'a> = BoxedSqlQuery<'a, Pg, SqlQuery>;
type Updates = [(TaskRow, i32)];

/// One updated column: its name, the PostgreSQL type of its array of
/// values, and how that array is bound.
struct Column {
    name: &'static str,
    array: &'static str,
    bind: for<'a> fn(PgQuery<'a>, &'a Updates) -> PgQuery<'a>,
}

/// The column `$col` of `tasks`, its values the field of the same name of
/// each row (so a field and a column that disagree do not compile).
macro_rules! column {
    ($col:ident, $array:literal) => {
        Column {
            name: <tasks::$col as diesel::Column>::NAME,
            array: $array,
            bind: |query, rows| {
                let values: Vec<_> = rows.iter().map(|(row, _)| &row.$col).collect();
                query.bind::<Array<<tasks::$col as Expression>::SqlType>, _>(values)
            },
        }
    };
}

/// Every column the update form of [`TaskRow`] writes.
const COLUMNS: [Column; 16] = [
    column!(project_id, "uuid[]"),
    column!(title, "text[]"),
    column!(description, "text[]"),
    column!(status, "int2[]"),
    column!(priority, "int2[]"),
    column!(tags, "jsonb[]"),
    column!(due_at, "timestamptz[]"),
    column!(position, "float8[]"),
    column!(completed_at, "timestamptz[]"),
    column!(deleted_at, "timestamptz[]"),
    column!(version, "int4[]"),
    column!(seq, "int8[]"),
    column!(client_id, "text[]"),
    column!(updated_at, "timestamptz[]"),
    column!(assignee_id, "uuid[]"),
    column!(updated_by, "uuid[]"),
];

/// The statement for a writer whose role must allow `need`: `$1` the
/// writer (its access is the guard's), `$2` the ids, `$3` the base
/// versions, then one array per column of [`COLUMNS`].
fn write_tasks_pg(need: Need) -> String {
    let names = || COLUMNS.iter().map(|c| c.name);
    let set: Vec<String> = names().map(|n| format!("{n} = v.{n}")).collect();
    let arrays: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 4, c.array))
        .collect();
    format!(
        "UPDATE tasks AS t SET {set} \
         FROM unnest($2::uuid[], $3::int4[], {arrays}) AS v(id, base_version, {names}) \
         WHERE t.id = v.id AND t.version = v.base_version AND {guard} \
         RETURNING t.*",
        guard = access::guard_sql("t.project_id", "$1", need),
        set = set.join(", "),
        arrays = arrays.join(", "),
        names = names().collect::<Vec<_>>().join(", "),
    )
}

/// [`write_tasks_pg`] for each need, built once.
static WRITE_TASKS_PG: LazyLock<[String; 3]> =
    LazyLock::new(|| [Need::Read, Need::Write, Need::Manage].map(write_tasks_pg));

/// The statement of [`write_tasks_as`] for `need` on PostgreSQL.
fn statement(need: Need) -> &'static str {
    let built = match need {
        Need::Read => 0,
        Need::Write => 1,
        Need::Manage => 2,
    };
    &WRITE_TASKS_PG[built]
}

/// Writes each `(row, base_version)` as [`super::write_task`] does — in one
/// statement on PostgreSQL, in one call of the blocking pool on SQLite.
/// Returns the rows written; a row whose stored version moved on, or that
/// the viewer may not write, is missing from the result.
pub async fn write_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    rows: &Updates,
) -> AppResult<Vec<TaskRow>> {
    write_tasks_as(conn, viewer, Need::Write, rows).await
}

/// [`write_tasks`] for a write the viewer makes with a role that allows
/// `need` only (a member leaving a project, whose assignments are cleared
/// as its own writes even when it is a VIEWER).
pub async fn write_tasks_as(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    need: Need,
    rows: &Updates,
) -> AppResult<Vec<TaskRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        Conn::Postgres(c) => {
            let ids: Vec<_> = rows.iter().map(|(row, _)| row.id).collect();
            let bases: Vec<_> = rows.iter().map(|(_, base)| *base).collect();
            let query = diesel::sql_query(statement(need))
                .into_boxed::<Pg>()
                .bind::<DbUuid, _>(viewer.user_id)
                .bind::<Array<DbUuid>, _>(ids)
                .bind::<Array<Integer>, _>(bases);
            let query = COLUMNS
                .iter()
                .fold(query, |query, column| (column.bind)(query, rows));
            Ok(query.load::<TaskRow>(*c).await?)
        }
        Conn::Sqlite(c) => {
            // Every row in one trip to the blocking pool.
            let owner = viewer.user_id;
            let rows = rows.to_vec();
            let written = c
                .spawn_blocking(move |sqlite| {
                    let mut written = Vec::with_capacity(rows.len());
                    for (row, base) in &rows {
                        let update = diesel::update(
                            tasks::table
                                .filter(tasks::id.eq(row.id))
                                .filter(tasks::project_id.eq_any(projects_for(owner, need)))
                                .filter(tasks::version.eq(*base)),
                        )
                        .set(row)
                        .returning(TaskRow::as_returning());
                        written.extend(diesel::RunQueryDsl::get_result(update, sqlite).optional()?);
                    }
                    Ok(written)
                })
                .await?;
            Ok(written)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::{Id, Timestamp};
    use crate::tasks::model::TaskFields;

    /// The columns bound are exactly those the update form writes.
    #[test]
    fn the_columns_are_the_update_forms() {
        let row = TaskRow::new(
            Id::new(),
            Id::new(),
            Id::new(),
            TaskFields::titled("t"),
            Timestamp::now(),
        );
        let sql = diesel::debug_query::<Pg, _>(&diesel::update(tasks::table).set(&row)).to_string();
        let set = sql
            .split(" SET ")
            .nth(1)
            .and_then(|rest| rest.split(" -- ").next())
            .unwrap_or_default();
        let written: Vec<String> = set
            .split(", ")
            .filter_map(|part| part.split(" = ").next())
            .map(|name| name.trim_matches('"').to_owned())
            .collect();
        let bound: Vec<String> = COLUMNS.iter().map(|c| c.name.to_owned()).collect();
        assert_eq!(written, bound);
        assert!(statement(Need::Write).contains("$17::timestamptz[]"));
        assert!(statement(Need::Write).contains("m.role <> 'viewer'"));
        assert!(statement(Need::Read).ends_with("m.user_id = $1) RETURNING t.*"));
    }
}
