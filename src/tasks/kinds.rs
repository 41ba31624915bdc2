//! The enumerations of tasks, and how each is stored.

use async_graphql::Enum;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub fn code(self) -> i16 {
        match self {
            Self::Todo => 1,
            Self::InProgress => 2,
            Self::Done => 3,
        }
    }

    pub fn from_code(code: i16) -> Self {
        match code {
            2 => Self::InProgress,
            3 => Self::Done,
            _ => Self::Todo,
        }
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
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskPriority {
    Low,
    Medium,
    High,
    Urgent,
}

impl TaskPriority {
    pub fn code(self) -> i16 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
            Self::Urgent => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(Self::Low),
            2 => Some(Self::Medium),
            3 => Some(Self::High),
            4 => Some(Self::Urgent),
            _ => None,
        }
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

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    DueAt,
    Priority,
    Position,
}
