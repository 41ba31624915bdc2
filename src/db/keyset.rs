//! Keyset pagination in SQL: the ORDER BY of a listing and the condition
//! "after / before this cursor", with the id as tie-break and NULL keys last.

use super::sql::{Bind, SqlBuilder};
use super::types::Id;

/// How a listing is sorted.
#[derive(Debug, Clone, Copy)]
pub struct SortKey<'a> {
    pub column: &'a str,
    pub nullable: bool,
    pub id_column: &'a str,
    pub descending: bool,
}

/// Where a page starts: the key of the cursor's row (`None` when NULL) and its id.
#[derive(Debug, Clone)]
pub struct KeyPosition {
    pub key: Option<Bind>,
    pub id: Id,
}

impl SortKey<'_> {
    /// The ORDER BY terms (without the keywords); `reverse` scans from the end.
    pub fn push_order(&self, b: &mut SqlBuilder, reverse: bool) {
        let dir = if self.descending != reverse {
            " DESC"
        } else {
            " ASC"
        };
        if self.nullable {
            b.push("(")
                .push(self.column)
                .push(" IS NULL)")
                .push(if reverse { " DESC, " } else { " ASC, " });
        }
        b.push(self.column)
            .push(dir)
            .push(", ")
            .push(self.id_column)
            .push(dir);
    }

    /// Rows after `at` in this order (`later`), or before it.
    pub fn push_beyond(&self, b: &mut SqlBuilder, at: &KeyPosition, later: bool) {
        let cmp = if self.descending == later {
            " < "
        } else {
            " > "
        };
        let (col, id) = (self.column, self.id_column);
        match (&at.key, self.nullable, later) {
            (None, _, true) => {
                b.push("(")
                    .push(col)
                    .push(" IS NULL AND ")
                    .push(id)
                    .push(cmp);
                b.bind(Bind::Id(at.id)).push(")");
            }
            (None, _, false) => {
                b.push("(")
                    .push(col)
                    .push(" IS NOT NULL OR ")
                    .push(id)
                    .push(cmp);
                b.bind(Bind::Id(at.id)).push(")");
            }
            (Some(key), nullable, _) => {
                b.push("(");
                if nullable && later {
                    b.push(col).push(" IS NULL OR ");
                }
                if nullable && !later {
                    b.push(col).push(" IS NOT NULL AND (");
                }
                b.push(col).push(cmp);
                b.bind(key.clone()).push(" OR (").push(col).push(" = ");
                b.bind(key.clone()).push(" AND ").push(id).push(cmp);
                b.bind(Bind::Id(at.id)).push("))");
                if nullable && !later {
                    b.push(")");
                }
            }
        }
    }
}
