//! Hand-built SQL for the statements Diesel's DSL does not express on both
//! backends (a page per parent through LATERAL or a UNION ALL of parts, a
//! filter on a window function, a multi-row insert on SQLite, a claim with
//! `FOR UPDATE SKIP LOCKED`); each caller says why in one line. A
//! [`SqlBuilder`] collects text and typed binds and owns every per-backend
//! difference in syntax (JSON array membership, case-insensitive search), so
//! the domain folders never see one. Column names come from the schema
//! ([`SqlColumn`]); [`SqlFragment`] hands built text to a Diesel query.
//!
//! Unlike `diesel::sql_query`, the query it runs may be kept as a prepared
//! statement: Diesel caches it by its SQL text (the placeholders are
//! Diesel's own), so a listing of the same shape is parsed once per
//! connection.

use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Double, SmallInt, Text, Untyped};
use diesel::sqlite::Sqlite;
use diesel::{Column, QueryResult, QueryableByName};
use diesel_async::RunQueryDsl;

use super::types::{DbJson, DbTime, DbUuid, Id, JsonDoc, Timestamp};
use super::{Backend, Conn};
use crate::error::AppResult;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Bind {
    Id(Id),
    Time(Timestamp),
    Text(String),
    Json(JsonDoc),
    I64(i64),
    I16(i16),
    F64(f64),
}

/// A column of the schema, as a listing's SQL names it: `alias.name`, or
/// the bare name in a query of one table.
#[derive(Debug, Clone, Copy)]
pub struct SqlColumn {
    alias: Option<&'static str>,
    name: &'static str,
}

impl SqlColumn {
    /// Column `C` of the table the query calls `alias` (`None`: by its name
    /// alone).
    pub fn of<C: Column>(alias: Option<&'static str>) -> Self {
        Self {
            alias,
            name: C::NAME,
        }
    }

    /// A column a statement computes, such as `t.relevance` of a derived
    /// table (not a column of the schema).
    pub const fn computed(alias: Option<&'static str>, name: &'static str) -> Self {
        Self { alias, name }
    }

    /// The column's own name (`created_at`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The column as the statement reads (`t.created_at`).
    pub fn qualified(&self) -> String {
        match self.alias {
            Some(alias) => format!("{alias}.{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

/// SQL text with its binds, for one backend.
#[derive(Debug, Clone)]
pub struct SqlBuilder {
    backend: Backend,
    /// The text as it reads on this backend (for tests and logs).
    sql: String,
    binds: Vec<Bind>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Sql(String),
    Bind(Bind),
}

impl SqlBuilder {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            sql: String::with_capacity(512),
            binds: Vec::new(),
            segments: Vec::new(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The text as it reads on this backend (for tests and logs).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Appends SQL text (never text from a request).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        match self.segments.last_mut() {
            Some(Segment::Sql(text)) => text.push_str(sql),
            _ => self.segments.push(Segment::Sql(sql.to_owned())),
        }
        self
    }

    /// Appends the name of `column`.
    pub fn column(&mut self, column: SqlColumn) -> &mut Self {
        if let Some(alias) = column.alias {
            self.push(alias).push(".");
        }
        self.push(column.name)
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.segments.push(Segment::Bind(value.clone()));
        self.binds.push(value);
        match self.backend {
            Backend::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.binds.len().to_string());
            }
            Backend::Sqlite => self.sql.push('?'),
        }
        self
    }

    /// `column IN (…)`; false when `values` is empty.
    pub fn in_list(
        &mut self,
        column: SqlColumn,
        values: impl IntoIterator<Item = Bind>,
    ) -> &mut Self {
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return self.push("1 = 0");
        }
        self.column(column).push(" IN (");
        for (i, value) in values.enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self.push(")")
    }

    /// `INSERT INTO table (columns) VALUES (…), (…)`: one tuple of binds per
    /// row, `None` written as NULL. (Diesel's batch insert is one statement
    /// per row on SQLite, and diesel-async has none there.)
    pub fn insert_values(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: impl IntoIterator<Item = Vec<Option<Bind>>>,
    ) -> &mut Self {
        self.push("INSERT INTO ")
            .push(table)
            .push(" (")
            .push(&columns.join(", "))
            .push(") VALUES ");
        for (i, row) in rows.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            for (j, value) in row.into_iter().enumerate() {
                if j > 0 {
                    self.push(", ");
                }
                match value {
                    Some(value) => self.bind(value),
                    None => self.push("NULL"),
                };
            }
            self.push(")");
        }
        self
    }

    /// The JSON array in `column` holds the string `item`.
    pub fn json_array_contains(&mut self, column: SqlColumn, item: &str) -> &mut Self {
        match self.backend {
            Backend::Postgres => {
                self.column(column).push(" @> ");
                self.bind(Bind::Json(JsonDoc(serde_json::json!([item]))))
            }
            Backend::Sqlite => {
                self.push("EXISTS (SELECT 1 FROM json_each(")
                    .column(column)
                    .push(") AS tag WHERE tag.value = ");
                self.bind(Bind::Text(item.to_owned())).push(")")
            }
        }
    }

    /// One of `columns` contains `needle`, ignoring case; a column flagged
    /// `true` may be NULL (it reads as empty).
    pub fn contains_ignoring_case(
        &mut self,
        columns: &[(SqlColumn, bool)],
        needle: &str,
    ) -> &mut Self {
        let mut pattern = String::with_capacity(needle.len() + 2);
        pattern.push('%');
        for ch in needle.to_lowercase().chars() {
            if matches!(ch, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(ch);
        }
        pattern.push('%');
        self.push("(");
        for (i, (column, nullable)) in columns.iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            self.push("lower(");
            if *nullable {
                self.push("COALESCE(").column(*column).push(", '')");
            } else {
                self.column(*column);
            }
            self.push(") LIKE ");
            self.bind(Bind::Text(pattern.clone())).push(" ESCAPE '\\'");
        }
        self.push(")")
    }

    /// Runs the query and reads each row by column name. On SQLite the rows
    /// are read in the blocking call itself, straight from SQLite's row, not
    /// from a copy of every value made to carry the row out of it.
    pub async fn load<T>(self, conn: &mut Conn<'_>) -> AppResult<Vec<T>>
    where
        T: QueryableByName<Pg> + QueryableByName<Sqlite> + Send + 'static,
    {
        self.load_expecting(conn, 0).await
    }

    /// `load`, into room made for `expected` rows at once rather than grown
    /// (and the rows moved) as they come.
    pub async fn load_expecting<T>(self, conn: &mut Conn<'_>, expected: usize) -> AppResult<Vec<T>>
    where
        T: QueryableByName<Pg> + QueryableByName<Sqlite> + Send + 'static,
    {
        use futures_util::TryStreamExt as _;
        let query = Prepared(self.segments);
        let rows = match conn {
            Conn::Postgres(c) => {
                query
                    .load_stream::<T>(&mut **c)
                    .await?
                    .try_fold(Vec::with_capacity(expected), |mut rows, row| {
                        rows.push(row);
                        std::future::ready(Ok(rows))
                    })
                    .await
            }
            Conn::Sqlite(c) => {
                c.spawn_blocking(move |sqlite| {
                    diesel::RunQueryDsl::load_iter::<T, diesel::connection::DefaultLoadingMode>(
                        query, sqlite,
                    )?
                    .try_fold(
                        Vec::with_capacity(expected),
                        |mut rows, row| {
                            rows.push(row?);
                            Ok(rows)
                        },
                    )
                })
                .await
            }
        }?;
        Ok(rows)
    }
}

impl SqlBuilder {
    /// Runs a statement that returns no rows; the number of rows it touched.
    pub async fn execute(self, conn: &mut Conn<'_>) -> AppResult<usize> {
        let query = Prepared(self.segments);
        let n = match conn {
            Conn::Postgres(c) => query.execute(&mut **c).await,
            Conn::Sqlite(c) => query.execute(&mut **c).await,
        }?;
        Ok(n)
    }
}

impl SqlBuilder {
    /// What was built, as a piece of a Diesel query (see [`SqlFragment`]).
    pub fn into_fragment(self) -> SqlFragment {
        SqlFragment(self.segments)
    }
}

/// The query a builder made, as Diesel runs it.
struct Prepared(Vec<Segment>);

/// Text and binds from a builder, given to a Diesel query as a condition
/// (`filter`) or as the terms of its `order`: the keyset of a listing is
/// written once ([`super::keyset`]) for the hand-built listings and the
/// Diesel ones alike. Its columns must be on the query's table.
#[derive(Debug, Clone)]
pub struct SqlFragment(Vec<Segment>);

impl Expression for SqlFragment {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for SqlFragment {}

impl<QS> SelectableExpression<QS> for SqlFragment {}

impl ValidGrouping<()> for SqlFragment {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for SqlFragment {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared {
    type SqlType = Untyped;
}

impl<C> diesel::RunQueryDsl<C> for Prepared {}

macro_rules! walk_segments {
    ($node:ty, $db:ty) => {
        impl QueryFragment<$db> for $node {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $db>) -> QueryResult<()> {
                for segment in &self.0 {
                    match segment {
                        Segment::Sql(text) => out.push_sql(text),
                        Segment::Bind(value) => match value {
                            Bind::Id(v) => out.push_bind_param::<DbUuid, _>(v)?,
                            Bind::Time(v) => out.push_bind_param::<DbTime, _>(v)?,
                            Bind::Text(v) => out.push_bind_param::<Text, _>(v)?,
                            Bind::Json(v) => out.push_bind_param::<DbJson, _>(v)?,
                            Bind::I64(v) => out.push_bind_param::<BigInt, _>(v)?,
                            Bind::I16(v) => out.push_bind_param::<SmallInt, _>(v)?,
                            Bind::F64(v) => out.push_bind_param::<Double, _>(v)?,
                        },
                    }
                }
                Ok(())
            }
        }
    };
}

walk_segments!(Prepared, Pg);
walk_segments!(Prepared, Sqlite);
walk_segments!(SqlFragment, Pg);
walk_segments!(SqlFragment, Sqlite);

/// SQLite refuses a compound query of more than 500 parts.
const SQLITE_PARENTS_PER_STATEMENT: usize = 200;

/// The parents each statement of a page per parent reads: all of them in
/// one statement on PostgreSQL (LATERAL), at most 200 per statement on
/// SQLite (one part of a UNION ALL each); none for no parents.
pub fn parents_per_statement(backend: Backend, parents: &[Id]) -> Vec<&[Id]> {
    match backend {
        Backend::Postgres if parents.is_empty() => Vec::new(),
        Backend::Postgres => vec![parents],
        Backend::Sqlite => parents.chunks(SQLITE_PARENTS_PER_STATEMENT).collect(),
    }
}

/// A row of `SELECT COUNT(*) AS n`.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// A row of `SELECT … AS id`.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct IdRow {
    #[diesel(sql_type = DbUuid)]
    pub id: Id,
}

/// A row of a count grouped by an id: `SELECT key, COUNT(*) AS n … GROUP BY key`.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct IdCountRow {
    #[diesel(sql_type = DbUuid)]
    pub key: Id,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::tasks;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut pg = SqlBuilder::new(Backend::Postgres);
        pg.push("a = ")
            .bind(Bind::I64(1))
            .push(" AND b = ")
            .bind(Bind::I64(2));
        assert_eq!(pg.sql, "a = $1 AND b = $2");
        let mut lite = SqlBuilder::new(Backend::Sqlite);
        lite.push("a = ").bind(Bind::I64(1));
        assert_eq!(lite.sql, "a = ?");
    }

    #[test]
    fn search_patterns_escape_wildcards() {
        let mut b = SqlBuilder::new(Backend::Sqlite);
        b.contains_ignoring_case(&[(SqlColumn::of::<tasks::title>(None), false)], "50%_Off");
        assert_eq!(b.sql, "(lower(title) LIKE ? ESCAPE '\\')");
        assert!(matches!(&b.binds[0], Bind::Text(p) if p == "%50\\%\\_off%"));
    }

    #[test]
    fn empty_lists_match_nothing() {
        let mut b = SqlBuilder::new(Backend::Postgres);
        b.in_list(SqlColumn::of::<tasks::id>(None), Vec::new());
        assert_eq!(b.sql, "1 = 0");
    }
}
