//! Per-account quotas: the one place that knows each quota, the setting that
//! fixes it and how it is counted. They are per-account limits today and
//! become the per-plan limits later (one [`Quotas`] per plan).
//!
//! | Quota | Setting | Counted |
//! | --- | --- | --- |
//! | projects | `TASKLANE_QUOTA_PROJECTS` | every project ever created (deleted ones too) |
//! | tasks | `TASKLANE_QUOTA_TASKS` | every task ever created (deleted ones too) |
//! | operation records | `TASKLANE_QUOTA_OPERATION_RECORDS` | stored `operation_records` rows (dry-run previews included) |
//! | sessions | `TASKLANE_QUOTA_SESSIONS` | open sessions (counted in `auth/`) |
//! | API keys | `TASKLANE_QUOTA_API_KEYS` | unrevoked keys (counted in `auth/`) |
//!
//! **How the stored ones are counted.** Not with `COUNT(*)` per write: at
//! 100,000 tasks that reads 100,000 index entries for every `createTask`.
//! Instead `account_usage` keeps one row of running counts per account,
//! raised by [`charge`] in the transaction that writes the rows. Every
//! writing transaction first takes the owner's `change_counters` row, so
//! two writes of one account never check the same count at once (and the
//! upsert is atomic besides); when the transaction rolls back, so does the
//! charge. Nothing of an account is deleted but the whole account (tasks and
//! projects are soft-deleted, records are kept), so the counts only grow and
//! can not drift below what is stored. The migration that made the table
//! filled it from the rows already there. The read path never touches it.

use diesel::QueryableByName;
use diesel::sql_types::BigInt;

use crate::auth::Viewer;
use crate::config::Quotas;
use crate::db::Conn;
use crate::db::sql::{Bind, SqlBuilder};
use crate::error::{AppError, AppResult};
use crate::events::changes::{Change, ChangeType, Entity};

/// One per-account quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Projects,
    Tasks,
    Sessions,
    ApiKeys,
    OperationRecords,
}

impl Quota {
    /// The setting that fixes it (named in `QUOTA_EXCEEDED`).
    pub fn setting(self) -> &'static str {
        match self {
            Self::Projects => "TASKLANE_QUOTA_PROJECTS",
            Self::Tasks => "TASKLANE_QUOTA_TASKS",
            Self::Sessions => "TASKLANE_QUOTA_SESSIONS",
            Self::ApiKeys => "TASKLANE_QUOTA_API_KEYS",
            Self::OperationRecords => "TASKLANE_QUOTA_OPERATION_RECORDS",
        }
    }

    /// Its column in `account_usage` (sessions and API keys are counted
    /// where they are stored, in `auth/`).
    fn column(self) -> &'static str {
        match self {
            Self::Projects => "projects",
            Self::Tasks => "tasks",
            Self::OperationRecords => "operation_records",
            Self::Sessions => "sessions",
            Self::ApiKeys => "api_keys",
        }
    }

    pub fn limit(self, quotas: &Quotas) -> u64 {
        match self {
            Self::Projects => quotas.projects,
            Self::Tasks => quotas.tasks,
            Self::Sessions => quotas.sessions,
            Self::ApiKeys => quotas.api_keys,
            Self::OperationRecords => quotas.operation_records,
        }
    }

    /// QUOTA_EXCEEDED when an account that holds `held` may not add one more.
    pub fn check_one_more(self, quotas: &Quotas, held: u64) -> AppResult<()> {
        if held >= self.limit(quotas) {
            return Err(self.exceeded(quotas));
        }
        Ok(())
    }

    /// QUOTA_EXCEEDED for this quota.
    pub fn exceeded(self, quotas: &Quotas) -> AppError {
        AppError::QuotaExceeded {
            quota: self.setting(),
            limit: self.limit(quotas),
        }
    }
}

/// Stored rows of an account that count against its quotas: what it holds,
/// or what a write adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Usage {
    #[diesel(sql_type = BigInt)]
    pub projects: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks: i64,
    #[diesel(sql_type = BigInt)]
    pub operation_records: i64,
}

impl Usage {
    pub fn projects(n: usize) -> Self {
        Self {
            projects: count(n),
            ..Self::default()
        }
    }

    pub fn tasks(n: usize) -> Self {
        Self {
            tasks: count(n),
            ..Self::default()
        }
    }

    pub fn operation_records(n: usize) -> Self {
        Self {
            operation_records: count(n),
            ..Self::default()
        }
    }

    /// The objects `changes` created (a sync push's, for example).
    pub fn created(changes: &[Change]) -> Self {
        let created = |entity: Entity| {
            changes
                .iter()
                .filter(|c| c.change_type == ChangeType::Created && c.entity == entity)
                .count()
        };
        Self::projects(created(Entity::Project)) + Self::tasks(created(Entity::Task))
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn parts(&self) -> [(Quota, i64); 3] {
        [
            (Quota::Projects, self.projects),
            (Quota::Tasks, self.tasks),
            (Quota::OperationRecords, self.operation_records),
        ]
    }
}

impl std::ops::Add for Usage {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            projects: self.projects.saturating_add(other.projects),
            tasks: self.tasks.saturating_add(other.tasks),
            operation_records: self
                .operation_records
                .saturating_add(other.operation_records),
        }
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn limit_of(quota: Quota, quotas: &Quotas) -> i64 {
    i64::try_from(quota.limit(quotas)).unwrap_or(i64::MAX)
}

/// The first quota that `used + added` goes over, as QUOTA_EXCEEDED.
pub fn check(quotas: &Quotas, used: Usage, added: Usage) -> AppResult<()> {
    for ((quota, held), (_, more)) in used.parts().into_iter().zip(added.parts()) {
        if more > 0 && held.saturating_add(more) > limit_of(quota, quotas) {
            return Err(quota.exceeded(quotas));
        }
    }
    Ok(())
}

/// What the viewer's account holds now.
pub async fn used(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Usage> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push(
        "SELECT projects AS projects, tasks AS tasks, operation_records AS operation_records \
         FROM account_usage WHERE owner_id = ",
    )
    .bind(Bind::Id(viewer.user_id));
    let rows: Vec<Usage> = b.load(conn).await?;
    Ok(rows.into_iter().next().unwrap_or_default())
}

/// Counts `added` against the viewer's quotas, inside the caller's writing
/// transaction (after its `change_counters` row is taken): QUOTA_EXCEEDED,
/// with nothing counted, when any of them would be exceeded. The caller
/// returns the error, so its transaction writes nothing either.
pub async fn charge(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    quotas: &Quotas,
    added: Usage,
) -> AppResult<()> {
    if added.is_empty() {
        return Ok(());
    }
    // Over a quota on its own: no need to ask the database.
    check(quotas, Usage::default(), added)?;
    // One statement: the first charge makes the row, a later one raises it
    // only if every count stays within its quota.
    let mut b = SqlBuilder::new(conn.backend());
    b.push("INSERT INTO account_usage (owner_id, projects, tasks, operation_records) VALUES (")
        .bind(Bind::Id(viewer.user_id))
        .push(", ")
        .bind(Bind::I64(added.projects))
        .push(", ")
        .bind(Bind::I64(added.tasks))
        .push(", ")
        .bind(Bind::I64(added.operation_records))
        .push(
            ") ON CONFLICT (owner_id) DO UPDATE SET \
             projects = account_usage.projects + excluded.projects, \
             tasks = account_usage.tasks + excluded.tasks, \
             operation_records = account_usage.operation_records + excluded.operation_records \
             WHERE ",
        );
    // Only what grows is checked: an account over a lowered quota may still
    // add to the others.
    let mut first = true;
    for (quota, more) in added.parts() {
        if more > 0 {
            let column = quota.column();
            b.push(if first { "" } else { " AND " })
                .push(&format!("account_usage.{column} + excluded.{column} <= "))
                .bind(Bind::I64(limit_of(quota, quotas)));
            first = false;
        }
    }
    b.push(
        " RETURNING projects AS projects, tasks AS tasks, \
         operation_records AS operation_records",
    );
    let raised: Vec<Usage> = b.load(conn).await?;
    if raised.is_empty() {
        // Refused: say which quota.
        check(quotas, used(conn, viewer).await?, added)?;
        return Err(AppError::internal(
            "account usage refused a charge within quota",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas() -> Quotas {
        Quotas {
            projects: 2,
            tasks: 5,
            sessions: 10,
            api_keys: 3,
            operation_records: 100,
        }
    }

    fn quota_of(result: AppResult<()>) -> Option<(&'static str, u64)> {
        match result {
            Err(AppError::QuotaExceeded { quota, limit }) => Some((quota, limit)),
            _ => None,
        }
    }

    #[test]
    fn up_to_the_limit_is_allowed_one_more_is_not() {
        let q = quotas();
        let used = Usage::tasks(3);
        assert!(check(&q, used, Usage::tasks(2)).is_ok());
        assert_eq!(
            quota_of(check(&q, used, Usage::tasks(3))),
            Some(("TASKLANE_QUOTA_TASKS", 5))
        );
    }

    #[test]
    fn only_what_is_added_can_exceed() {
        // Already over (the quota was lowered): adding something else is fine.
        let q = quotas();
        let used = Usage::projects(9);
        assert!(check(&q, used, Usage::tasks(1)).is_ok());
        assert_eq!(
            quota_of(check(&q, used, Usage::projects(1))),
            Some(("TASKLANE_QUOTA_PROJECTS", 2))
        );
        assert_eq!(
            quota_of(check(&q, Usage::default(), Usage::operation_records(101))),
            Some(("TASKLANE_QUOTA_OPERATION_RECORDS", 100))
        );
    }

    #[test]
    fn every_quota_names_its_setting() {
        let q = quotas();
        for (quota, setting, limit) in [
            (Quota::Projects, "TASKLANE_QUOTA_PROJECTS", 2),
            (Quota::Tasks, "TASKLANE_QUOTA_TASKS", 5),
            (Quota::Sessions, "TASKLANE_QUOTA_SESSIONS", 10),
            (Quota::ApiKeys, "TASKLANE_QUOTA_API_KEYS", 3),
            (
                Quota::OperationRecords,
                "TASKLANE_QUOTA_OPERATION_RECORDS",
                100,
            ),
        ] {
            assert_eq!(quota.setting(), setting);
            assert_eq!(quota.limit(&q), limit);
        }
    }
}
