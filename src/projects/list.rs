//! Project listings: filters, orderings and keyset pages.
//!
//! SQL text, not Diesel's DSL: the search is the same case-insensitive
//! match as the task listing's, which the builder writes for each backend.

use async_graphql::Enum;

use crate::access::{self, Need};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::keyset::{KeyPosition, SortKey, SqlColumn};
use crate::db::schema::projects;
use crate::db::sql::{Bind, CountRow, SqlBuilder};
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::{Cursor, KeyValue, OrderDirection, Page, PageRequest};

use super::model::ProjectRow;

/// The alias of `projects` in every statement here.
const PROJECT: &str = "p";

/// Column `$c` of `projects`, as the statements here name it (`p.$c`).
macro_rules! p {
    ($c:ident) => {
        SqlColumn::of::<projects::$c>(Some(PROJECT))
    };
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProjectOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProjectFilterSpec {
    pub search: Option<String>,
    pub archived: Option<bool>,
    pub include_deleted: bool,
}

/// How a listing is ordered: by `field` (then by id), in `direction`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ListOrder<F> {
    pub field: F,
    pub direction: OrderDirection,
}

impl<F: std::fmt::Debug> ListOrder<F> {
    /// The name cursors carry.
    pub fn name(&self) -> String {
        format!("{:?}:{:?}", self.field, self.direction)
    }

    /// The cursor of the row with `key` and `id` in this order.
    pub fn cursor_at(&self, key: KeyValue, id: Id) -> String {
        Cursor {
            ordering: self.name(),
            key,
            id,
        }
        .encode()
    }
}

pub type ProjectOrderSpec = ListOrder<ProjectOrderField>;

impl ProjectOrderSpec {
    fn sort_key(&self) -> SortKey {
        let column = match self.field {
            ProjectOrderField::CreatedAt => p!(created_at),
            ProjectOrderField::UpdatedAt => p!(updated_at),
            ProjectOrderField::Name => p!(name),
        };
        SortKey {
            column,
            nullable: false,
            id_column: p!(id),
            descending: self.direction == OrderDirection::Desc,
        }
    }

    pub fn cursor(&self, row: &ProjectRow) -> String {
        let key = match self.field {
            ProjectOrderField::CreatedAt => KeyValue::Int(row.created_at.timestamp_micros()),
            ProjectOrderField::UpdatedAt => KeyValue::Int(row.updated_at.timestamp_micros()),
            ProjectOrderField::Name => KeyValue::Text(row.name.clone()),
        };
        self.cursor_at(key, row.id)
    }

    fn position(&self, argument: &str, text: &str) -> AppResult<KeyPosition> {
        let cursor = Cursor::decode(argument, text, &self.name())?;
        let invalid = || AppError::bad_input(argument, "is not a valid cursor");
        let key = match (self.field, cursor.key) {
            (ProjectOrderField::Name, KeyValue::Text(v)) => Bind::Text(v),
            (ProjectOrderField::CreatedAt | ProjectOrderField::UpdatedAt, KeyValue::Int(v)) => {
                let time = chrono::DateTime::from_timestamp_micros(v).ok_or_else(invalid)?;
                Bind::Time(Timestamp::from(time))
            }
            _ => return Err(invalid()),
        };
        Ok(KeyPosition {
            key: Some(key),
            id: cursor.id,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectListQuery {
    pub filter: ProjectFilterSpec,
    pub order: ProjectOrderSpec,
    pub page: PageRequest,
}

fn push_conditions(b: &mut SqlBuilder, viewer: &Viewer, filter: &ProjectFilterSpec) {
    access::push_guard(b, p!(id), viewer, Need::Read);
    push_filters(b, filter);
}

/// The filter's conditions, each after ` AND `.
fn push_filters(b: &mut SqlBuilder, filter: &ProjectFilterSpec) {
    if !filter.include_deleted {
        b.push(" AND ").column(p!(deleted_at)).push(" IS NULL");
    }
    if let Some(archived) = filter.archived {
        b.push(" AND ").column(p!(archived_at));
        b.push(if archived { " IS NOT NULL" } else { " IS NULL" });
    }
    if let Some(search) = &filter.search {
        let columns = [(p!(name), false), (p!(description), true)];
        b.push(" AND ").contains_ignoring_case(&columns, search);
    }
}

/// One page of the viewer's projects.
pub async fn page(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    query: &ProjectListQuery,
) -> AppResult<Page<ProjectRow>> {
    let (order, page) = (&query.order, &query.page);
    let after = page.after.as_deref().map(|c| order.position("after", c));
    let before = page.before.as_deref().map(|c| order.position("before", c));
    let (after, before) = (after.transpose()?, before.transpose()?);
    let key = order.sort_key();
    // The page's ids are chosen first, from the viewer's memberships,
    // sorting only their keys; then just those rows are read whole. (A
    // member of many projects would otherwise have every one of its
    // projects' whole rows sorted to keep a page.)
    let mut b = SqlBuilder::new(conn.backend());
    b.push("SELECT p.* FROM projects p WHERE p.id IN (SELECT p.id FROM projects p");
    access::push_member_join(&mut b, p!(id), viewer, Need::Read);
    b.push(" WHERE 1 = 1");
    push_filters(&mut b, &query.filter);
    key.push_bounds(&mut b, after.as_ref(), before.as_ref());
    key.push_order_limit(&mut b, page.backward, page.size);
    b.push(")");
    key.push_order_limit(&mut b, page.backward, page.size);
    let rows = b.load::<ProjectRow>(conn).await?;
    Ok(Page::from_scan(rows, &query.page))
}

pub async fn count(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    filter: &ProjectFilterSpec,
) -> AppResult<i64> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push("SELECT COUNT(*) AS n FROM projects p WHERE ");
    push_conditions(&mut b, viewer, filter);
    let rows = b.load::<CountRow>(conn).await?;
    Ok(rows.first().map_or(0, |r| r.n))
}
