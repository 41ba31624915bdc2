//! Relay connections: page arguments, opaque cursors, `PageInfo`.
//!
//! A cursor is the sort key of its row and the row's id (the tie-break),
//! with the name of the ordering it belongs to, as base64url JSON. Clients
//! must treat it as opaque; a cursor from another ordering is refused.

use std::cmp::Ordering;
use std::collections::HashMap;

use async_graphql::{Enum, SimpleObject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use serde::{Deserialize, Serialize};

use crate::db::sql::{SqlBuilder, parents_per_statement};
use crate::db::types::Id;
use crate::db::{Backend, Conn};
use crate::error::{AppError, AppResult};

/// Sort direction of an ordering.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// Which slice of a listing a request asks for (arguments already checked).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// Rows in the page (first or last).
    pub size: usize,
    /// `last`: scan from the end of the order.
    pub backward: bool,
    pub after: Option<String>,
    pub before: Option<String>,
}

impl PageRequest {
    /// Checks `first/after/last/before` against the largest page `max`.
    /// Without `first` or `last` the page is the first `max` rows.
    pub fn from_args(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        max: usize,
    ) -> AppResult<Self> {
        let check = |name: &str, n: i32| -> AppResult<usize> {
            let n = usize::try_from(n)
                .map_err(|_| AppError::bad_input(name, "must not be negative"))?;
            if n > max {
                return Err(AppError::bad_input(
                    name,
                    format!("must be at most {max} (the page size limit)"),
                ));
            }
            Ok(n)
        };
        let (size, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input(
                    "last",
                    "can not be combined with first",
                ));
            }
            (Some(n), None) => (check("first", n)?, false),
            (None, Some(n)) => (check("last", n)?, true),
            (None, None) => (max, false),
        };
        Ok(Self {
            size,
            backward,
            after,
            before,
        })
    }
}

/// The sort key of a row as a cursor keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The ordering: field name and direction.
    #[serde(rename = "o")]
    pub ordering: String,
    #[serde(rename = "k")]
    pub key: KeyValue,
    #[serde(rename = "i")]
    pub id: Id,
}

impl Cursor {
    pub fn encode(&self) -> String {
        // Serialising plain data can not fail; an empty cursor would be refused later.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads the cursor passed as `argument`, which must belong to `ordering`.
    pub fn decode(argument: &str, text: &str, ordering: &str) -> AppResult<Self> {
        let invalid = || AppError::bad_input(argument, "is not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.ordering != ordering {
            return Err(AppError::bad_input(
                argument,
                "belongs to another ordering; start again without it",
            ));
        }
        Ok(cursor)
    }
}

#[derive(SimpleObject, Debug, Clone, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Rows of one page in display order, and whether more lie on either side.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
}

impl<T> Page<T> {
    /// The same page, each row turned into `U`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
        }
    }

    /// From up to `size + 1` rows fetched in scan order (reversed for `last`).
    pub fn from_scan(mut rows: Vec<T>, request: &PageRequest) -> Self {
        let more = rows.len() > request.size;
        rows.truncate(request.size);
        if request.backward {
            rows.reverse();
            Self {
                rows,
                has_next: request.before.is_some(),
                has_previous: more,
            }
        } else {
            Self {
                rows,
                has_next: more,
                has_previous: request.after.is_some(),
            }
        }
    }

    /// `PageInfo`, given the cursor of each row.
    pub fn info(&self, cursor: impl Fn(&T) -> String) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next,
            has_previous_page: self.has_previous,
            start_cursor: self.rows.first().map(&cursor),
            end_cursor: self.rows.last().map(&cursor),
        }
    }
}

/// The same page for each of `parents`, read together: `statement` builds
/// the statement for some of them (all of them on PostgreSQL, a LATERAL
/// join; up to 200 on SQLite, a UNION ALL of one ordered part per parent),
/// `parent_of` tells which parent a row belongs to, `scan_order` is the
/// order each part scans in. A compound statement promises no order
/// without an ORDER BY over all of it, which would sort every row again,
/// so on SQLite each parent's rows (in that order already, in practice)
/// are put in scan order here.
pub async fn pages_per_parent<R>(
    conn: &mut Conn<'_>,
    parents: &[Id],
    request: &PageRequest,
    statement: impl Fn(&[Id]) -> AppResult<SqlBuilder>,
    parent_of: impl Fn(&R) -> Id,
    scan_order: impl Fn(&R, &R) -> Ordering,
) -> AppResult<HashMap<Id, Page<R>>>
where
    R: QueryableByName<Pg> + QueryableByName<Sqlite> + Send + 'static,
{
    // Each parent has at most a page and one row more (to tell whether
    // there is a next page): room for that, up to a point, at once.
    let per_parent = (request.size + 1).min(32);
    let mut grouped: HashMap<Id, Vec<R>> = HashMap::with_capacity(parents.len());
    for some in parents_per_statement(conn.backend(), parents) {
        let expected = (some.len() * per_parent).min(1024);
        for row in statement(some)?.load_expecting::<R>(conn, expected).await? {
            grouped
                .entry(parent_of(&row))
                .or_insert_with(|| Vec::with_capacity(per_parent))
                .push(row);
        }
    }
    let compound = conn.backend() == Backend::Sqlite;
    Ok(parents
        .iter()
        .map(|id| {
            let mut rows = grouped.remove(id).unwrap_or_default();
            if compound {
                rows.sort_by(&scan_order);
            }
            (*id, Page::from_scan(rows, request))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_orderings() {
        let cursor = Cursor {
            ordering: "CREATED_AT:ASC".into(),
            key: KeyValue::Int(42),
            id: Id::new(),
        };
        let text = cursor.encode();
        assert_eq!(
            Cursor::decode("after", &text, "CREATED_AT:ASC").ok(),
            Some(cursor)
        );
        assert!(Cursor::decode("after", &text, "TITLE:ASC").is_err());
        assert!(Cursor::decode("after", "not a cursor!", "CREATED_AT:ASC").is_err());
    }

    #[test]
    fn page_sizes_are_checked() {
        let err = PageRequest::from_args(Some(101), None, None, None, 100).err();
        assert!(matches!(err, Some(AppError::BadInput { field, message })
            if field == "first" && message.contains("100")));
        assert!(PageRequest::from_args(None, None, Some(-1), None, 100).is_err());
        let ok = PageRequest::from_args(None, None, Some(5), None, 100).ok();
        assert_eq!(ok.map(|r| (r.size, r.backward)), Some((5, true)));
    }

    #[test]
    fn pages_know_their_neighbours() {
        let forward = PageRequest::from_args(Some(2), None, None, None, 10).ok();
        let page = forward.map(|r| Page::from_scan(vec![1, 2, 3], &r));
        assert_eq!(
            page.map(|p| (p.rows, p.has_next, p.has_previous)),
            Some((vec![1, 2], true, false))
        );
        let backward = PageRequest::from_args(None, None, Some(2), None, 10).ok();
        let page = backward.map(|r| Page::from_scan(vec![3, 2, 1], &r));
        assert_eq!(
            page.map(|p| (p.rows, p.has_next, p.has_previous)),
            Some((vec![2, 3], false, true))
        );
    }
}
