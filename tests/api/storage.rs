//! Storage: every row type round-trips on both backends, and migrations go
//! up, down and up again.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use scoped_futures::ScopedFutureExt as _;
use serde_json::json;
use tasklane::access::ProjectRole;
use tasklane::auth::api_keys::ApiKeyRow;
use tasklane::auth::one_time_tokens::OneTimeTokenRow;
use tasklane::auth::sessions::SessionRow;
use tasklane::db::migrate::{self, Direction};
use tasklane::db::schema::*;
use tasklane::db::sql::{Bind, CountRow, SqlBuilder};
use tasklane::db::types::{Id, JsonDoc, Timestamp};
use tasklane::db::{Db, PoolSettings};
use tasklane::db_run;
use tasklane::members::model::{InvitationRow, MemberRow};
use tasklane::operations::kinds::{OperationKind, OperationStatus};
use tasklane::operations::model::{OperationRecordRow, OperationRow};
use tasklane::projects::model::ProjectRow;
use tasklane::sync::model::ChangeCounterRow;
use tasklane::tasks::kinds::{TaskPriority, TaskStatus};
use tasklane::tasks::model::TaskRow;
use tasklane::users::User;

use crate::on_both_databases;
use crate::support::{Backend, TestDb};

on_both_databases!(every_row_type_round_trips, migrations_go_up_down_and_up);

async fn migrated(backend: Backend) -> (TestDb, Db) {
    let test_db = TestDb::create(backend).await.expect("database");
    let url = test_db.database_url();
    migrate::run(&url, Direction::Up).await.expect("migrate");
    let settings = PoolSettings {
        size: 2,
        checkout_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
        statement_cache: true,
        direct_url: None,
    };
    let db = Db::connect(&url, &settings).expect("pool");
    (test_db, db)
}

/// Inserts `$row` into `$table`, reads it back by `$filter`, and compares.
macro_rules! round_trip {
    ($conn:expr, $table:ident, $row:expr, $ty:ty, $filter:expr) => {{
        let row: $ty = $row;
        db_run!($conn, |c| diesel::insert_into($table::table)
            .values(&row)
            .execute(c)
            .await)
        .expect("insert");
        let back: $ty = db_run!($conn, |c| {
            $table::table
                .filter($filter)
                .select(<$ty>::as_select())
                .first(c)
                .await
        })
        .expect("read back");
        assert_eq!(back, row, "{} round trip", stringify!($table));
    }};
}

async fn every_row_type_round_trips(backend: Backend) {
    let (_test_db, db) = migrated(backend).await;
    let mut pooled = db.write().await.expect("connection");
    let mut conn = pooled.conn();
    let conn = &mut conn;
    let now = Timestamp::now();
    let later = now + chrono::Duration::days(3);
    let (user_id, other_id) = (Id::new(), Id::new());

    for (id, full) in [(user_id, true), (other_id, false)] {
        round_trip!(
            conn,
            users,
            User {
                id,
                email: format!("{id}@example.com"),
                username: full.then(|| format!("u{}", id.simple())),
                display_name: "Zoë «quoted» 名前".into(),
                password_hash: full.then(|| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                email_verified_at: full.then_some(now),
                is_active: full,
                created_at: now,
                updated_at: later,
                last_login_at: full.then_some(later),
            },
            User,
            users::id.eq(id)
        );
    }
    round_trip!(
        conn,
        change_counters,
        ChangeCounterRow {
            owner_id: user_id,
            value: i64::MAX - 1
        },
        ChangeCounterRow,
        change_counters::owner_id.eq(user_id)
    );
    let (family, session_id, next_id) = (Id::new(), Id::new(), Id::new());
    round_trip!(
        conn,
        sessions,
        SessionRow {
            id: next_id,
            user_id,
            family_id: family,
            token_hash: vec![0u8, 255, 1, 2, 3],
            device_name: None,
            user_agent: None,
            created_at: now,
            last_used_at: None,
            expires_at: later,
            revoked_at: None,
            replaced_by: None,
        },
        SessionRow,
        sessions::id.eq(next_id)
    );
    round_trip!(
        conn,
        sessions,
        SessionRow {
            id: session_id,
            user_id,
            family_id: family,
            token_hash: (0u8..32).collect(),
            device_name: Some("Pixel 9".into()),
            user_agent: Some("Mozilla/5.0".into()),
            created_at: now,
            last_used_at: Some(now),
            expires_at: later,
            revoked_at: Some(later),
            replaced_by: Some(next_id),
        },
        SessionRow,
        sessions::id.eq(session_id)
    );
    let key_id = Id::new();
    round_trip!(
        conn,
        api_keys,
        ApiKeyRow {
            id: key_id,
            user_id,
            name: "ci".into(),
            prefix: "tl_abc123".into(),
            key_hash: vec![9; 32],
            scopes: JsonDoc(json!(["READ", "WRITE"])),
            created_at: now,
            last_used_at: Some(now),
            expires_at: Some(later),
            revoked_at: Some(later),
        },
        ApiKeyRow,
        api_keys::id.eq(key_id)
    );
    let token_id = Id::new();
    round_trip!(
        conn,
        one_time_tokens,
        OneTimeTokenRow {
            id: token_id,
            user_id,
            kind: "magic_link".into(),
            token_hash: vec![7; 32],
            created_at: now,
            expires_at: later,
            used_at: Some(later),
        },
        OneTimeTokenRow,
        one_time_tokens::id.eq(token_id)
    );
    let project_id = Id::new();
    round_trip!(
        conn,
        projects,
        ProjectRow {
            id: project_id,
            owner_id: user_id,
            name: "Launch".into(),
            description: Some("multi\nline ✓".into()),
            archived_at: Some(now),
            deleted_at: Some(later),
            version: 7,
            seq: 42,
            client_mutation_id: Some("m-1".into()),
            created_at: now,
            updated_at: later,
        },
        ProjectRow,
        projects::id.eq(project_id)
    );
    for (user, role) in [
        (user_id, ProjectRole::Owner),
        (other_id, ProjectRole::Viewer),
    ] {
        round_trip!(
            conn,
            project_members,
            MemberRow {
                project_id,
                user_id: user,
                role,
                created_at: now,
            },
            MemberRow,
            project_members::project_id
                .eq(project_id)
                .and(project_members::user_id.eq(user))
        );
    }
    for (invitation_id, full) in [(Id::new(), true), (Id::new(), false)] {
        round_trip!(
            conn,
            invitations,
            InvitationRow {
                id: invitation_id,
                project_id,
                email: format!("{}@example.com", invitation_id.simple()),
                role: if full {
                    ProjectRole::Editor
                } else {
                    ProjectRole::Viewer
                },
                invited_by: user_id,
                token_hash: if full { vec![5; 32] } else { vec![0, 255, 6] },
                created_at: now,
                expires_at: later,
                accepted_at: full.then_some(now),
                declined_at: full.then_some(later),
                revoked_at: full.then_some(later),
            },
            InvitationRow,
            invitations::id.eq(invitation_id)
        );
    }
    for (task_id, full) in [(Id::new(), true), (Id::new(), false)] {
        round_trip!(
            conn,
            tasks,
            TaskRow {
                id: task_id,
                project_id,
                owner_id: user_id,
                title: "Write the \"spec\"".into(),
                description: full.then(|| "details".into()),
                status: if full {
                    TaskStatus::Done
                } else {
                    TaskStatus::Todo
                },
                priority: full.then_some(TaskPriority::Urgent),
                tags: JsonDoc(if full {
                    json!(["a", "b c", "ü"])
                } else {
                    json!([])
                }),
                due_at: full.then_some(later),
                position: full.then_some(1.5e-3),
                completed_at: full.then_some(now),
                deleted_at: full.then_some(later),
                version: 2,
                seq: 43,
                client_id: full.then(|| "phone".into()),
                client_mutation_id: full.then(|| "m-2".into()),
                created_at: now,
                updated_at: later,
                assignee_id: full.then_some(user_id),
                created_by: Some(user_id),
                updated_by: full.then_some(user_id),
            },
            TaskRow,
            tasks::id.eq(task_id)
        );
    }
    let (op_id, undo_id) = (Id::new(), Id::new());
    for (id, rollback_of) in [(op_id, None), (undo_id, Some(op_id))] {
        round_trip!(
            conn,
            operations,
            OperationRow {
                id,
                owner_id: user_id,
                kind: if rollback_of.is_some() {
                    OperationKind::Rollback
                } else {
                    OperationKind::UpdateTasks
                },
                status: OperationStatus::Completed,
                dry_run: rollback_of.is_none(),
                params: JsonDoc(
                    json!({ "filter": { "status": ["TODO"] }, "patch": { "addTags": ["x"] }, "n": 1.5 })
                ),
                total: 10,
                processed: 8,
                skipped: 1,
                failed: 1,
                error: Some("one failed".into()),
                rollback_of,
                created_at: now,
                started_at: Some(now),
                finished_at: Some(later),
                heartbeat_at: Some(later),
                claimed_by: Some(Id::new()),
            },
            OperationRow,
            operations::id.eq(id)
        );
    }
    for (seq, before) in [
        (1, Some(JsonDoc(json!({ "status": 1, "tags": [] })))),
        (2, None),
    ] {
        round_trip!(
            conn,
            operation_records,
            OperationRecordRow {
                operation_id: op_id,
                seq,
                entity_type: "task".into(),
                entity_id: Id::new(),
                action: "update".into(),
                before,
                after: Some(JsonDoc(
                    json!({ "status": 3, "tags": ["x"], "nested": { "k": null } })
                )),
            },
            OperationRecordRow,
            operation_records::operation_id
                .eq(op_id)
                .and(operation_records::seq.eq(seq))
        );
    }

    // Timestamps compare and sort the same way on both backends.
    let newest: Vec<Id> = db_run!(conn, |c| {
        users::table
            .filter(users::created_at.le(later))
            .order((users::updated_at.desc(), users::id.asc()))
            .select(users::id)
            .load(c)
            .await
    })
    .expect("ordered");
    assert_eq!(newest.len(), 2);
}

async fn migrations_go_up_down_and_up(backend: Backend) {
    let (test_db, db) = migrated(backend).await;
    let url = test_db.database_url();
    let count = async |db: &Db| {
        let mut pooled = db.read().await.expect("connection");
        let mut conn = pooled.conn();
        db_run!(&mut conn, |c| users::table
            .count()
            .get_result::<i64>(c)
            .await)
    };
    assert_eq!(count(&db).await.expect("tables exist after up"), 0);
    drop(db);

    let reverted = migrate::run(&url, Direction::DownAll).await.expect("down");
    assert!(!reverted.is_empty());
    let settings = PoolSettings {
        size: 1,
        checkout_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
        statement_cache: true,
        direct_url: None,
    };
    let db = Db::connect(&url, &settings).expect("pool");
    assert!(count(&db).await.is_err(), "tables are gone after down");
    drop(db);

    let applied = migrate::run(&url, Direction::Up).await.expect("up again");
    assert_eq!(applied, reverted.into_iter().rev().collect::<Vec<_>>());
    let db = Db::connect(&url, &settings).expect("pool");
    assert_eq!(count(&db).await.expect("tables exist again"), 0);
    // Applying again is a no-op.
    assert!(
        migrate::run(&url, Direction::Up)
            .await
            .expect("idempotent")
            .is_empty()
    );
}

on_both_databases!(a_statement_over_the_time_limit_fails_and_the_connection_serves_again);

/// Counts to a hundred billion: minutes of work for either backend.
const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT CAST(1 AS BIGINT) UNION ALL \
     SELECT x + 1 FROM c WHERE x < 100000000000) SELECT COUNT(*) AS n FROM c";

async fn count_with(
    conn: &mut tasklane::db::Conn<'_>,
    sql: &str,
) -> tasklane::error::AppResult<i64> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push(sql);
    let rows: Vec<CountRow> = b.load(conn).await?;
    Ok(rows[0].n)
}

/// TASKLANE_STATEMENT_TIMEOUT_MS holds on SQLite as on PostgreSQL: the
/// statement is stopped, and the pool's only connection (reader and, on
/// SQLite, the single writer) answers the next query. Before, on SQLite the
/// statement ran on and kept its connection.
async fn a_statement_over_the_time_limit_fails_and_the_connection_serves_again(backend: Backend) {
    let test_db = TestDb::create(backend).await.expect("database");
    let url = test_db.database_url();
    migrate::run(&url, Direction::Up).await.expect("migrate");
    let settings = PoolSettings {
        size: 1,
        checkout_timeout: std::time::Duration::from_secs(60),
        statement_timeout: std::time::Duration::from_millis(300),
        statement_cache: true,
        direct_url: None,
    };
    let db = Db::connect(&url, &settings).expect("pool");
    {
        let mut pooled = db.read().await.expect("connection");
        let mut conn = pooled.conn();
        assert!(
            count_with(&mut conn, ENDLESS).await.is_err(),
            "the statement was stopped"
        );
    }
    let mut pooled = db.read().await.expect("connection again");
    let mut conn = pooled.conn();
    assert_eq!(
        count_with(&mut conn, "SELECT COUNT(*) AS n FROM users")
            .await
            .expect("answers"),
        0
    );
    drop(pooled);

    // In a write transaction: it rolls back, and the writer writes again.
    let failed = db
        .transaction(|mut conn| async move { count_with(&mut conn, ENDLESS).await }.scope_boxed())
        .await;
    assert!(failed.is_err());
    let written = db
        .transaction(|mut conn| {
            async move {
                let mut b = SqlBuilder::new(conn.backend());
                b.push("INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('x', ")
                    .bind(Bind::Time(Timestamp::now()))
                    .push(", 1)");
                b.execute(&mut conn).await?;
                count_with(&mut conn, "SELECT COUNT(*) AS n FROM rate_limits").await
            }
            .scope_boxed()
        })
        .await;
    assert_eq!(written.expect("the writer works"), 1);
}

/// The SQLite database, its -wal and -shm files and the directory Tasklane
/// makes for them are this user's only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data/tasklane");
    let file = data.join("tasklane.db");
    let url =
        tasklane::db::DatabaseUrl::parse(&format!("sqlite://{}", file.display())).expect("url");
    migrate::run(&url, Direction::Up).await.expect("migrate");
    let settings = PoolSettings {
        size: 1,
        checkout_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
        statement_cache: true,
        direct_url: None,
    };
    let db = Db::connect(&url, &settings).expect("pool");
    let mut pooled = db.write().await.expect("connection");
    let mut conn = pooled.conn();
    let mut b = SqlBuilder::new(conn.backend());
    b.push("INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('x', ")
        .bind(Bind::Time(Timestamp::now()))
        .push(", 1)");
    b.execute(&mut conn).await.expect("a write");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(
        mode(data.parent().expect("parent")),
        0o700,
        "every directory made"
    );
    for name in ["tasklane.db", "tasklane.db-wal", "tasklane.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}
