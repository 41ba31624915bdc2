//! Which columns of a task a listing reads. A page of tasks whose
//! selection shows a few fields (`id title status tags`) need not read,
//! send and decode the other columns of each row: on a nested page of 200
//! tasks, decoding all 21 columns was about a quarter of the request's CPU.
//! A listing reads the columns its selection needs (see
//! `tasks::graphql::columns`), and always those it needs itself: the id,
//! the project (the page's parent) and its order's key. A column left out
//! holds its type's default in the row read, so a listing's rows go only to
//! the objects of that selection.

use super::TaskOrderSpec;
use crate::tasks::kinds::TaskOrderField;
use crate::tasks::model::TaskRow;

/// A set of `TaskRow::COLUMNS`, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskColumns(u32);

const _: () = assert!(TaskRow::COLUMNS.len() <= u32::BITS as usize);

impl TaskColumns {
    /// Every column (a listing's default).
    pub const ALL: Self = Self(u32::MAX >> (u32::BITS as usize - TaskRow::COLUMNS.len()));

    /// No column.
    pub const NONE: Self = Self(0);

    /// Also column `name`; an unknown name reads every column (reading too
    /// much is only slower).
    #[must_use]
    pub fn with(self, name: &str) -> Self {
        match TaskRow::COLUMNS.iter().position(|column| *column == name) {
            Some(at) => Self(self.0 | 1 << at),
            None => Self::ALL,
        }
    }

    /// The columns of both.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// These and what a listing in `order` needs itself: the id, the
    /// project and the order's key (a relevance is computed, not read).
    #[must_use]
    pub fn listed_in(self, order: &TaskOrderSpec) -> Self {
        let read = self.with("id").with("project_id");
        match order.field {
            TaskOrderField::Relevance => read,
            // The column the order sorts by, as its statement names it.
            _ => read.with(order.sort_key().column.name()),
        }
    }

    /// The names of the columns, in the order `TaskRow` reads them.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        TaskRow::COLUMNS
            .iter()
            .enumerate()
            .filter(move |(at, _)| self.0 & 1 << at != 0)
            .map(|(_, name)| *name)
    }
}

impl Default for TaskColumns {
    fn default() -> Self {
        Self::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::pagination::OrderDirection;

    #[test]
    fn all_is_every_column_and_an_unknown_name_reads_them_all() {
        assert!(
            TaskColumns::ALL
                .names()
                .eq(TaskRow::COLUMNS.iter().copied())
        );
        assert_eq!(TaskColumns::NONE.names().count(), 0);
        assert_eq!(TaskColumns::NONE.with("titel"), TaskColumns::ALL);
        let some = TaskColumns::NONE.with("tags").with("id");
        assert_eq!(some.names().collect::<Vec<_>>(), ["id", "tags"]);
        assert_eq!(
            some.union(TaskColumns::NONE.with("title")).names().count(),
            3
        );
    }

    #[test]
    fn a_listing_reads_its_id_project_and_order_key() {
        let order = TaskOrderSpec {
            field: TaskOrderField::DueAt,
            direction: OrderDirection::Desc,
        };
        let names: Vec<_> = TaskColumns::NONE.listed_in(&order).names().collect();
        assert_eq!(names, ["id", "project_id", "due_at"]);
        let ranked = TaskOrderSpec {
            field: TaskOrderField::Relevance,
            direction: OrderDirection::Desc,
        };
        let names: Vec<_> = TaskColumns::NONE.listed_in(&ranked).names().collect();
        assert_eq!(names, ["id", "project_id"]);
    }
}
