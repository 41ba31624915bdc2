//! Loads the benchmark data set into either backend: the shape of
//! `../shared/bench/seed.sql` (1,000 users x 10 projects x 20 tasks), with
//! user n's id `00000000-0000-4000-8000-<n, 12 digits>`, then prints an
//! access token for one user. With a third argument M, one more user (n =
//! 1,001) owns nothing but is an EDITOR of M projects of other owners, as
//! many tasks in each; a second line prints its token (the sharing case of
//! `benches/nested.sh`).
//!
//! ```sh
//! TASKLANE_JWT_SECRET=... cargo run --release --example seed -- sqlite:///tmp/bench.db 7 100
//! ```
//! Existing users, projects and tasks in that database are deleted first.

mod seed_support;

use seed_support::describe;
use std::time::Instant;

use diesel::ExpressionMethods as _;
use diesel_async::RunQueryDsl;
use scoped_futures::ScopedFutureExt as _;
use tasklane::access::ProjectRole;
use tasklane::db::Conn;
use tasklane::db::schema::{change_counters, project_members, projects, tasks, users};
use tasklane::db::types::{Id, JsonDoc, Timestamp};
use tasklane::db_run;
use tasklane::error::AppError;
use tasklane::projects::model::ProjectRow;
use tasklane::tasks::kinds::{TaskPriority, TaskStatus};
use tasklane::tasks::model::TaskRow;
use tasklane::users::User;

const USERS: u64 = 1_000;
const PROJECTS_PER_USER: u64 = 10;
const TASKS_PER_PROJECT: u64 = 20;
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNhbHRzZWVkc2FsdA$KzJ0cHpuY1F3bVl2eE1xR0d6b2VxV2h0Yk5mU1R1dkE";
const DESCRIPTION: &str =
    "Seeded task description, long enough to look like a real sentence or two.";

/// Multi-row INSERTs on PostgreSQL; one row per INSERT on SQLite, where
/// Diesel does not batch rows with optional columns (all in one transaction).
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match &mut *$conn {
            Conn::Postgres(c) => {
                for chunk in $rows.chunks(1_000) {
                    diesel::insert_into($table)
                        .values(chunk)
                        .execute(&mut **c)
                        .await?;
                }
            }
            Conn::Sqlite(c) => {
                for row in $rows.iter() {
                    diesel::insert_into($table)
                        .values(row)
                        .execute(&mut **c)
                        .await?;
                }
            }
        }
    };
}

fn user_id(n: u64) -> Id {
    Id(uuid::Uuid::from_u128(
        0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n),
    ))
}

fn decimal_id(n: u64) -> Id {
    // seed.sql spells n in decimal digits inside the last group.
    let text = format!("00000000-0000-4000-8000-{n:012}");
    Id::parse(&text).unwrap_or_else(|| user_id(n))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: seed DATABASE_URL [USER_N]")?;
    let token_for: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(7);
    let member_of: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let started = Instant::now();
    let db = seed_support::open(&url).await?;
    db.transaction(|mut conn| {
        async move { load(&mut conn, token_for, member_of).await }.scope_boxed()
    })
    .await
    .map_err(describe)?;
    seed_support::analyze(&db).await?;
    eprintln!(
        "seeded {USERS} users, {} projects, {} tasks in {:.1} s",
        USERS * PROJECTS_PER_USER,
        USERS * PROJECTS_PER_USER * TASKS_PER_PROJECT,
        started.elapsed().as_secs_f64()
    );
    println!("{}", seed_support::token(decimal_id(token_for))?);
    if member_of > 0 {
        println!("{}", seed_support::token(decimal_id(MEMBER))?);
    }
    Ok(())
}

/// The sharing case's user: a member of other owners' projects only.
const MEMBER: u64 = USERS + 1;

async fn load(conn: &mut Conn<'_>, token_for: u64, member_of: usize) -> Result<(), AppError> {
    db_run!(conn, |c| {
        diesel::delete(tasks::table).execute(c).await?;
        diesel::delete(projects::table).execute(c).await?;
        diesel::delete(change_counters::table).execute(c).await?;
        diesel::delete(users::table).execute(c).await
    })?;
    let now = Timestamp::now();
    let ago = |secs: u64| now + chrono::Duration::seconds(-i64::try_from(secs).unwrap_or(0));
    let last = if member_of > 0 { MEMBER } else { USERS };
    let users_rows: Vec<User> = (1..=last)
        .map(|n| User {
            id: decimal_id(n),
            email: format!("user{n}@example.com"),
            username: None,
            display_name: format!("User {n}"),
            password_hash: Some(HASH.to_owned()),
            email_verified_at: None,
            is_active: true,
            created_at: ago(n * 60),
            updated_at: ago(n * 60),
            last_login_at: None,
        })
        .collect();
    insert_rows!(conn, users::table, &users_rows);
    let counters: Vec<_> = users_rows
        .iter()
        .map(|u| {
            (
                change_counters::owner_id.eq(u.id),
                change_counters::value.eq(0i64),
            )
        })
        .collect();
    insert_rows!(conn, change_counters::table, &counters);
    let mut project_rows = Vec::new();
    for user in users_rows.iter().filter(|u| u.id != decimal_id(MEMBER)) {
        for p in 1..=PROJECTS_PER_USER {
            project_rows.push(ProjectRow {
                id: Id(uuid::Uuid::new_v4()),
                owner_id: user.id,
                name: format!("Project {p} of {}", user.display_name),
                description: Some(format!("Seeded project number {p}")),
                archived_at: None,
                deleted_at: None,
                version: 1,
                seq: 0,
                client_mutation_id: None,
                created_at: ago(p * 7 * 86_400),
                updated_at: ago(p * 3 * 3_600),
            });
        }
    }
    insert_rows!(conn, projects::table, &project_rows);
    // Each owner is its project's OWNER member: the guard's one access path.
    let members: Vec<_> = project_rows
        .iter()
        .map(|p| {
            (
                project_members::project_id.eq(p.id),
                project_members::user_id.eq(p.owner_id),
                project_members::role.eq(ProjectRole::Owner),
                project_members::created_at.eq(p.created_at),
            )
        })
        .collect();
    insert_rows!(conn, project_members::table, &members);
    // The sharing case: an EDITOR of the first `member_of` projects whose
    // owner is not the benchmark's owner.
    let shared: Vec<_> = project_rows
        .iter()
        .filter(|p| p.owner_id != decimal_id(token_for))
        .take(member_of)
        .map(|p| {
            (
                project_members::project_id.eq(p.id),
                project_members::user_id.eq(decimal_id(MEMBER)),
                project_members::role.eq(ProjectRole::Editor),
                project_members::created_at.eq(p.created_at),
            )
        })
        .collect();
    insert_rows!(conn, project_members::table, &shared);
    // Task-number-major, as seed.sql: a project's tasks are spread over the table.
    let tags = |t: u64| -> Vec<&str> {
        match t % 4 {
            0 => vec![],
            1 => vec!["backend"],
            2 => vec!["backend", "urgent"],
            _ => vec!["frontend", "design", "needs-review"],
        }
    };
    let mut batch: Vec<TaskRow> = Vec::with_capacity(1_000);
    for t in 1..=TASKS_PER_PROJECT {
        for project in &project_rows {
            batch.push(TaskRow {
                id: Id(uuid::Uuid::new_v4()),
                project_id: project.id,
                owner_id: project.owner_id,
                title: format!("Task {t} in {}", project.name),
                description: (t % 2 == 0).then(|| DESCRIPTION.to_owned()),
                status: [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done]
                    [usize::try_from(t % 3).unwrap_or(0)],
                priority: [
                    Some(TaskPriority::Low),
                    Some(TaskPriority::Medium),
                    Some(TaskPriority::High),
                    None,
                ][usize::try_from(t % 4).unwrap_or(3)],
                tags: JsonDoc(serde_json::json!(tags(t))),
                due_at: None,
                position: None,
                completed_at: None,
                deleted_at: None,
                version: 1,
                seq: 0,
                client_id: None,
                client_mutation_id: None,
                created_at: ago(t * 5 * 3_600),
                assignee_id: None,
                created_by: Some(project.owner_id),
                updated_by: Some(project.owner_id),
                updated_at: ago((t * 7_919 + project.id.as_u128() as u64 % 7_776_000) % 7_776_000),
            });
            if batch.len() == 1_000 {
                insert_tasks(conn, &batch).await?;
                batch.clear();
            }
        }
    }
    insert_tasks(conn, &batch).await
}

async fn insert_tasks(conn: &mut Conn<'_>, rows: &[TaskRow]) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    insert_rows!(conn, tasks::table, rows);
    Ok(())
}
