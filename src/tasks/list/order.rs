//! The orders of a task listing: each order's sort key, how rows compare
//! in it, and its cursors. Ordered by relevance, the key is the task's
//! relevance to the search, read with the row ([`ListedTask`]).

use std::cmp::Ordering;
use std::sync::Arc;

use diesel::backend::Backend as DieselBackend;
use diesel::deserialize::{FromSql, QueryableByName};
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::Double;

use crate::db::keyset::{KeyPosition, SortKey, SqlColumn};
use crate::db::rows::ReadPresent;
use crate::db::schema::tasks;
use crate::db::sql::Bind;
use crate::db::types::Timestamp;
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::{Cursor, KeyValue, OrderDirection, PageRequest};
use crate::projects::list::ListOrder;
use crate::tasks::kinds::TaskOrderField;
use crate::tasks::model::TaskRow;

use super::TASK;

/// Column `$c` of `tasks`, as the statements of listings name it (`t.$c`).
macro_rules! t {
    ($c:ident) => {
        SqlColumn::of::<tasks::$c>(Some(TASK))
    };
}

/// The relevance a ranked listing computes for each task (`t.relevance`).
pub(super) const RELEVANCE: SqlColumn = SqlColumn::computed(Some(TASK), "relevance");

/// A task as a listing reads it: the row (the columns the listing selects;
/// see `TaskColumns`), and its relevance when the listing is ordered by it
/// (the column after the row's, `relevance`).
#[derive(Debug, Clone)]
pub struct ListedTask {
    pub row: Arc<TaskRow>,
    pub relevance: Option<f64>,
}

impl<DB> QueryableByName<DB> for ListedTask
where
    DB: DieselBackend,
    TaskRow: ReadPresent<DB>,
    f64: FromSql<Double, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> diesel::deserialize::Result<Self> {
        let (task, read) = TaskRow::build_present(row)?;
        let relevance = match Row::get(row, read) {
            Some(field) if field.field_name() == Some("relevance") => {
                Some(f64::from_nullable_sql(field.value())?)
            }
            _ => None,
        };
        Ok(Self {
            row: Arc::new(task),
            relevance,
        })
    }
}

pub type TaskOrderSpec = ListOrder<TaskOrderField>;

impl TaskOrderSpec {
    /// The direction an order takes when the client gives none: ascending,
    /// but by relevance descending (the best match first).
    pub fn default_direction(field: TaskOrderField) -> OrderDirection {
        match field {
            TaskOrderField::Relevance => OrderDirection::Desc,
            _ => OrderDirection::Asc,
        }
    }

    pub(super) fn sort_key(&self) -> SortKey {
        let (column, nullable) = match self.field {
            TaskOrderField::CreatedAt => (t!(created_at), false),
            TaskOrderField::UpdatedAt => (t!(updated_at), false),
            TaskOrderField::Title => (t!(title), false),
            TaskOrderField::DueAt => (t!(due_at), true),
            TaskOrderField::Priority => (t!(priority), true),
            TaskOrderField::Position => (t!(position), true),
            TaskOrderField::Relevance => (RELEVANCE, false),
        };
        SortKey {
            column,
            nullable,
            id_column: t!(id),
            descending: self.direction == OrderDirection::Desc,
        }
    }

    /// How `a` and `b` compare in the order a page is scanned in (reversed
    /// for `last`), as `sort_key().push_order` sorts them in SQLite: rows
    /// with no key last, then the key (text by its bytes), then the id.
    pub fn scan_order(&self, a: &ListedTask, b: &ListedTask, backward: bool) -> Ordering {
        fn key<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                (a, b) => a.is_none().cmp(&b.is_none()),
            }
        }
        let (x, y) = (&a.row, &b.row);
        let by_key = match self.field {
            TaskOrderField::CreatedAt => x.created_at.cmp(&y.created_at),
            TaskOrderField::UpdatedAt => x.updated_at.cmp(&y.updated_at),
            TaskOrderField::Title => x.title.cmp(&y.title),
            TaskOrderField::DueAt => key(x.due_at, y.due_at),
            TaskOrderField::Priority => key(x.priority, y.priority),
            TaskOrderField::Position => key(x.position, y.position),
            TaskOrderField::Relevance => key(a.relevance, b.relevance),
        };
        let nulls = match self.field {
            TaskOrderField::DueAt => x.due_at.is_none().cmp(&y.due_at.is_none()),
            TaskOrderField::Priority => x.priority.is_none().cmp(&y.priority.is_none()),
            TaskOrderField::Position => x.position.is_none().cmp(&y.position.is_none()),
            _ => Ordering::Equal,
        };
        let descending = (self.direction == OrderDirection::Desc) != backward;
        let directed = |o: Ordering| if descending { o.reverse() } else { o };
        let nulls = if backward { nulls.reverse() } else { nulls };
        nulls.then(directed(by_key)).then(directed(x.id.cmp(&y.id)))
    }

    /// The cursor of `row` in this order (`relevance`: the row's, when
    /// listed by relevance).
    pub fn cursor(&self, row: &TaskRow, relevance: Option<f64>) -> String {
        let micros = |t: Timestamp| KeyValue::Int(t.timestamp_micros());
        let key = match self.field {
            TaskOrderField::CreatedAt => micros(row.created_at),
            TaskOrderField::UpdatedAt => micros(row.updated_at),
            TaskOrderField::Title => KeyValue::Text(row.title.clone()),
            TaskOrderField::DueAt => row.due_at.map_or(KeyValue::Null, micros),
            TaskOrderField::Priority => row
                .priority
                .map_or(KeyValue::Null, |p| KeyValue::Int(p.into())),
            TaskOrderField::Position => row.position.map_or(KeyValue::Null, KeyValue::Float),
            TaskOrderField::Relevance => relevance.map_or(KeyValue::Null, KeyValue::Float),
        };
        self.cursor_at(key, row.id)
    }

    /// Where the cursor passed as `argument` points.
    pub(super) fn position(&self, argument: &str, text: &str) -> AppResult<KeyPosition> {
        let cursor = Cursor::decode(argument, text, &self.name())?;
        let invalid = || AppError::bad_input(argument, "is not a valid cursor");
        let time = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| Bind::Time(t.into()))
                .ok_or_else(invalid)
        };
        use TaskOrderField as F;
        let key = match (self.field, cursor.key) {
            (_, KeyValue::Null) if self.sort_key().nullable => None,
            (F::CreatedAt | F::UpdatedAt | F::DueAt, KeyValue::Int(v)) => Some(time(v)?),
            (F::Title, KeyValue::Text(v)) => Some(Bind::Text(v)),
            (F::Priority, KeyValue::Int(v)) => {
                Some(Bind::I16(i16::try_from(v).map_err(|_| invalid())?))
            }
            (F::Position | F::Relevance, KeyValue::Float(v)) => Some(Bind::F64(v)),
            (F::Position | F::Relevance, KeyValue::Int(v)) => Some(Bind::F64(v as f64)),
            _ => return Err(invalid()),
        };
        Ok(KeyPosition { key, id: cursor.id })
    }

    /// Checks the cursors of a page request (so errors surface before loading).
    pub fn check(&self, page: &PageRequest) -> AppResult<()> {
        if let Some(after) = &page.after {
            self.position("after", after)?;
        }
        if let Some(before) = &page.before {
            self.position("before", before)?;
        }
        Ok(())
    }
}
