//! The enumerations of tasks, and how each is stored: a `SMALLINT` code
//! (read back strictly: an unknown code is an error, not a default), the
//! same code in serde, and the GraphQL enum of the same name.

use async_graphql::Enum;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::sql_types::SmallInt;

use crate::db::types::StoredCode;
use crate::stored_code;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, AsExpression, FromSqlRow)]
#[diesel(sql_type = SmallInt)]
pub enum TaskStatus {
    #[default]
    Todo,
    InProgress,
    Done,
}

impl StoredCode for TaskStatus {
    const KIND: &'static str = "task status";
    const ALL: &'static [Self] = &[Self::Todo, Self::InProgress, Self::Done];

    fn code(self) -> i16 {
        match self {
            Self::Todo => 1,
            Self::InProgress => 2,
            Self::Done => 3,
        }
    }
}

stored_code!(TaskStatus);

impl TaskStatus {
    pub fn code(self) -> i16 {
        StoredCode::code(self)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Todo => "TODO",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
        }
    }
}

/// Ordered from LOW to URGENT (the stored codes sort the same way).
#[derive(
    Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow,
)]
#[diesel(sql_type = SmallInt)]
pub enum TaskPriority {
    Low,
    Medium,
    High,
    Urgent,
}

impl StoredCode for TaskPriority {
    const KIND: &'static str = "task priority";
    const ALL: &'static [Self] = &[Self::Low, Self::Medium, Self::High, Self::Urgent];

    fn code(self) -> i16 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
            Self::Urgent => 4,
        }
    }
}

stored_code!(TaskPriority);

impl TaskPriority {
    pub fn code(self) -> i16 {
        StoredCode::code(self)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Urgent => "URGENT",
        }
    }
}

/// The stored code, as a listing's sort key holds it.
impl From<TaskPriority> for i64 {
    fn from(priority: TaskPriority) -> Self {
        priority.code().into()
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    DueAt,
    Priority,
    Position,
    /// How well the task matches `filter.search` (required with this
    /// order); without a direction, the best match comes first.
    Relevance,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::UnknownCode;

    #[test]
    fn codes_round_trip_and_an_unknown_one_is_an_error() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::from_code(status.code()), Ok(*status));
        }
        for priority in TaskPriority::ALL {
            assert_eq!(TaskPriority::from_code(priority.code()), Ok(*priority));
        }
        let unknown = TaskStatus::from_code(7);
        assert_eq!(
            unknown,
            Err(UnknownCode {
                kind: "task status",
                code: 7
            })
        );
        assert!(TaskStatus::from_code(0).is_err());
        assert!(TaskPriority::from_code(5).is_err());
    }

    /// A code no status has, read from the database, fails the read (the
    /// request then answers INTERNAL and logs it) instead of reading as TODO.
    #[test]
    fn an_unknown_stored_code_fails_the_read() {
        use diesel::prelude::*;
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        let read = |conn: &mut diesel::SqliteConnection, code: i16| {
            diesel::select(diesel::dsl::sql::<SmallInt>(&code.to_string()))
                .get_result::<TaskStatus>(conn)
        };
        assert_eq!(read(&mut conn, 3).ok(), Some(TaskStatus::Done));
        let err = read(&mut conn, 9).err().map(crate::error::AppError::from);
        assert!(
            matches!(&err, Some(crate::error::AppError::Internal(detail))
                if detail.ends_with("unknown task status code 9")),
            "{err:?}"
        );
    }

    #[test]
    fn serde_uses_the_stored_code() {
        assert_eq!(serde_json::json!(TaskStatus::Done), serde_json::json!(3));
        let back: Result<TaskStatus, _> = serde_json::from_value(serde_json::json!(9));
        assert!(back.is_err());
    }
}
