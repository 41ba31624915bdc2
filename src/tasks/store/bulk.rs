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

use crate::access::{self, Need, writable_projects};
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

/// `$1` the writer (its write access is the guard's), `$2` the ids, `$3` the base versions, then one array per
/// column of [`COLUMNS`].
static WRITE_TASKS_PG: LazyLock<String> = LazyLock::new(|| {
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
        guard = access::guard_sql("t.project_id", "$1", Need::Write),
        set = set.join(", "),
        arrays = arrays.join(", "),
        names = names().collect::<Vec<_>>().join(", "),
    )
});

/// Writes each `(row, base_version)` as [`super::write_task`] does — in one
/// statement on PostgreSQL, in one call of the blocking pool on SQLite.
/// Returns the rows written; a row whose stored version moved on, or that
/// the viewer may not write, is missing from the result.
pub async fn write_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    rows: &Updates,
) -> AppResult<Vec<TaskRow>> {
    match conn {
        Conn::Postgres(c) => {
            let ids: Vec<_> = rows.iter().map(|(row, _)| row.id).collect();
            let bases: Vec<_> = rows.iter().map(|(_, base)| *base).collect();
            let query = diesel::sql_query(WRITE_TASKS_PG.as_str())
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
                                .filter(tasks::project_id.eq_any(writable_projects(owner)))
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
            TaskFields {
                project_id: Id::new(),
                title: "t".into(),
                description: None,
                status: Default::default(),
                priority: None,
                tags: Vec::new(),
                due_at: None,
                position: None,
                assignee_id: None,
            },
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
        assert!(WRITE_TASKS_PG.contains("$17::timestamptz[]"));
    }
}
