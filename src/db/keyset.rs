//! Keyset pagination, once for every listing (projects, tasks, operations):
//! the ORDER BY of a listing, the condition "after / before this cursor"
//! with the id as tie-break and NULL keys last, and the page's LIMIT (one
//! row more than the page, to tell whether more follow).
//!
//! A listing built as SQL text ([`SqlBuilder`]) pushes these into its
//! statement; a Diesel query takes them as [`SqlFragment`]s. Column names
//! come from the schema ([`SqlColumn::of`]), never from a string.

use super::Backend;
pub use super::sql::SqlColumn;
use super::sql::{Bind, SqlBuilder, SqlFragment};
use super::types::Id;

/// How a listing is sorted.
#[derive(Debug, Clone, Copy)]
pub struct SortKey {
    pub column: SqlColumn,
    pub nullable: bool,
    pub id_column: SqlColumn,
    pub descending: bool,
}

/// Where a page starts: the key of the cursor's row (`None` when NULL) and its id.
#[derive(Debug, Clone)]
pub struct KeyPosition {
    pub key: Option<Bind>,
    pub id: Id,
}

/// The rows a page reads: one more than it shows, to tell whether more follow.
pub fn page_limit(size: usize) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX - 1) + 1
}

impl SortKey {
    /// The ORDER BY terms (without the keywords); `reverse` scans from the end.
    pub fn push_order(&self, b: &mut SqlBuilder, reverse: bool) {
        let dir = if self.descending != reverse {
            " DESC"
        } else {
            " ASC"
        };
        if self.nullable {
            b.push("(");
            b.column(self.column).push(" IS NULL)").push(if reverse {
                " DESC, "
            } else {
                " ASC, "
            });
        }
        b.column(self.column).push(dir).push(", ");
        b.column(self.id_column).push(dir);
    }

    /// Rows after `at` in this order (`later`), or before it.
    pub fn push_beyond(&self, b: &mut SqlBuilder, at: &KeyPosition, later: bool) {
        let cmp = if self.descending == later {
            " < "
        } else {
            " > "
        };
        let (col, id) = (self.column, self.id_column);
        let id_beyond = |b: &mut SqlBuilder| {
            b.column(id).push(cmp).bind(Bind::Id(at.id));
        };
        b.push("(");
        match (&at.key, self.nullable, later) {
            (None, _, true) => {
                b.column(col).push(" IS NULL AND ");
                id_beyond(b);
            }
            (None, _, false) => {
                b.column(col).push(" IS NOT NULL OR ");
                id_beyond(b);
            }
            (Some(key), nullable, _) => {
                if nullable && later {
                    b.column(col).push(" IS NULL OR ");
                }
                if nullable && !later {
                    b.column(col).push(" IS NOT NULL AND (");
                }
                b.column(col).push(cmp).bind(key.clone()).push(" OR (");
                b.column(col).push(" = ").bind(key.clone()).push(" AND ");
                id_beyond(b);
                b.push(")");
                if nullable && !later {
                    b.push(")");
                }
            }
        }
        b.push(")");
    }

    /// ` AND …` for each cursor given: rows after `after`, before `before`.
    pub fn push_bounds(
        &self,
        b: &mut SqlBuilder,
        after: Option<&KeyPosition>,
        before: Option<&KeyPosition>,
    ) {
        for (at, later) in [(after, true), (before, false)] {
            if let Some(at) = at {
                b.push(" AND ");
                self.push_beyond(b, at, later);
            }
        }
    }

    /// ` ORDER BY … LIMIT …` of a page of `size` rows.
    pub fn push_order_limit(&self, b: &mut SqlBuilder, reverse: bool, size: usize) {
        b.push(" ORDER BY ");
        self.push_order(b, reverse);
        b.push(" LIMIT ").bind(Bind::I64(page_limit(size)));
    }

    /// [`Self::push_order`], for a Diesel query's `order`.
    pub fn order(&self, backend: Backend, reverse: bool) -> SqlFragment {
        let mut b = SqlBuilder::new(backend);
        self.push_order(&mut b, reverse);
        b.into_fragment()
    }

    /// [`Self::push_beyond`], for a Diesel query's `filter`.
    pub fn beyond(&self, backend: Backend, at: &KeyPosition, later: bool) -> SqlFragment {
        let mut b = SqlBuilder::new(backend);
        self.push_beyond(&mut b, at, later);
        b.into_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::tasks;

    fn key(nullable: bool, descending: bool) -> SortKey {
        SortKey {
            column: SqlColumn::of::<tasks::due_at>(Some("t")),
            nullable,
            id_column: SqlColumn::of::<tasks::id>(Some("t")),
            descending,
        }
    }

    fn sql(f: impl FnOnce(&mut SqlBuilder)) -> String {
        let mut b = SqlBuilder::new(Backend::Sqlite);
        f(&mut b);
        b.sql().to_owned()
    }

    #[test]
    fn the_order_puts_null_keys_last_and_breaks_ties_by_id() {
        assert_eq!(
            sql(|b| key(true, false).push_order(b, false)),
            "(t.due_at IS NULL) ASC, t.due_at ASC, t.id ASC"
        );
        assert_eq!(
            sql(|b| key(false, true).push_order(b, true)),
            "t.due_at ASC, t.id ASC"
        );
    }

    #[test]
    fn the_bounds_compare_key_then_id() {
        let at = KeyPosition {
            key: Some(Bind::I64(5)),
            id: Id::new(),
        };
        assert_eq!(
            sql(|b| key(false, true).push_bounds(b, Some(&at), None)),
            " AND (t.due_at < ? OR (t.due_at = ? AND t.id < ?))"
        );
        assert_eq!(
            sql(|b| key(true, false).push_bounds(b, None, Some(&at))),
            " AND (t.due_at IS NOT NULL AND (t.due_at < ? OR (t.due_at = ? AND t.id < ?)))"
        );
        let null = KeyPosition {
            key: None,
            id: at.id,
        };
        assert_eq!(
            sql(|b| key(true, false).push_bounds(b, Some(&null), None)),
            " AND (t.due_at IS NULL AND t.id > ?)"
        );
    }
}
