//! The limits of data exports: the rate per user, the size of the
//! document, its lifetime; and the progress a large one shows.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tasklane::access::ProjectRole;
use tasklane::auth::rate_limit::Rate;
use tasklane::db::schema::{data_export_parts, data_exports};
use tasklane::db::types::{Id, Timestamp};
use tasklane::db_run;

use crate::export::{DOCUMENT, EXPORT, export, exported, id};
use crate::fixtures::{account, ok, project};
use crate::operations_support::{seed_tasks, wait};
use crate::sharing_support::{share, unshare};
use crate::support::{Backend, TestApp, error_code, error_field};
use crate::ws_support::{TRANSPORT_WS, Ws};
use crate::{on_both_backends, on_both_databases};

on_both_backends!(
    an_export_over_its_size_fails_and_keeps_nothing,
    an_expired_export_is_gone,
);
on_both_databases!(
    exports_are_rate_limited_per_user,
    a_large_export_reports_progress,
    an_export_holds_at_most_the_items_of_an_operation,
    a_cancelled_export_leaves_nothing_behind,
    tasks_out_of_reach_since_the_start_are_skipped
);

/// B's tasks in A's project, while B is a member, are B's to export. When
/// A ends the membership while B's export runs, the tasks of the batches
/// still to come are counted as skipped and left out of the document.
async fn tasks_out_of_reach_since_the_start_are_skipped(backend: Backend) {
    const TASKS: i64 = 400;
    let app = TestApp::spawn_with(backend, |c| c.operations.batch_size = 1)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let shared = project(&app, &a.token, "Shared").await;
    share(&app, &id(&shared), &b.id, ProjectRole::Editor).await;
    seed_tasks(app.database(), &a.id, &id(&shared), "By B", TASKS as usize).await;
    made_by(&app, &id(&shared), &b.id).await;

    let op = export(&app, &b.token).await;
    assert_eq!(op["total"], TASKS, "{op}");
    loop {
        let now = crate::operations_support::operation(&app, &b.token, &op["id"]).await;
        if now["processed"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    unshare(&app, &id(&shared), &b.id).await;
    let done = wait(&app, &b.token, &op["id"]).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let processed = done["processed"].as_i64().expect("processed");
    let skipped = done["skipped"].as_i64().expect("skipped");
    assert!(skipped > 0, "nothing skipped: {done}");
    assert_eq!(processed + skipped, TASKS, "{done}");
    assert_eq!(done["failed"], 0, "{done}");
    let doc = ok(&app, &b.token, DOCUMENT, json!({ "id": op["id"] })).await;
    let tasks = doc["myDataExport"]["tasks"].as_array().expect("tasks");
    assert_eq!(
        tasks.len() as i64,
        processed,
        "the document holds what was read"
    );
}

/// Marks every task of `project` as made by `user`.
async fn made_by(app: &TestApp, project: &str, user: &str) {
    use tasklane::db::schema::tasks;
    let (project, user) = (
        Id::parse(project).expect("project id"),
        Id::parse(user).expect("user id"),
    );
    let mut pooled = app.database().write().await.expect("connection");
    let conn = &mut pooled.conn();
    db_run!(conn, |c| {
        diesel::update(tasks::table.filter(tasks::project_id.eq(project)))
            .set(tasks::created_by.eq(Some(user)))
            .execute(c)
            .await
    })
    .expect("made by");
    pooled.commit().await.expect("committed");
}

/// A cancelled export keeps its parts only until the next export starts;
/// it has no document.
async fn a_cancelled_export_leaves_nothing_behind(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.operations.batch_size = 1)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    seed_tasks(app.database(), &a.id, &id(&home), "Task", 2000).await;
    let op = export(&app, &a.token).await;
    loop {
        let now = crate::operations_support::operation(&app, &a.token, &op["id"]).await;
        if now["processed"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let cancelled = ok(
        &app,
        &a.token,
        "mutation($id: ID!) { cancelOperation(id: $id) { status } }",
        json!({ "id": op["id"] }),
    )
    .await;
    assert_eq!(cancelled["cancelOperation"]["status"], "CANCELLED");
    wait(&app, &a.token, &op["id"]).await;
    assert!(
        parts_of(&app, &op["id"]).await > 0,
        "parts of the batches done"
    );
    let doc = ok(&app, &a.token, DOCUMENT, json!({ "id": op["id"] })).await;
    assert_eq!(doc["myDataExport"], Value::Null);
    let next = export(&app, &a.token).await;
    let cancel_next = ok(
        &app,
        &a.token,
        "mutation($id: ID!) { cancelOperation(id: $id) { status } }",
        json!({ "id": next["id"] }),
    )
    .await;
    assert_eq!(cancel_next["cancelOperation"]["status"], "CANCELLED");
    wait(&app, &a.token, &next["id"]).await;
    // The first one's parts went when the second started.
    assert_eq!(parts_of(&app, &op["id"]).await, 0);
}

async fn parts_of(app: &TestApp, operation: &Value) -> i64 {
    let operation = Id::parse(operation.as_str().expect("id")).expect("uuid");
    let mut pooled = app.database().read().await.expect("connection");
    let conn = &mut pooled.conn();
    db_run!(conn, |c| {
        data_export_parts::table
            .filter(data_export_parts::operation_id.eq(operation))
            .count()
            .get_result::<i64>(c)
            .await
    })
    .expect("count")
}

/// `TASKLANE_OPERATION_MAX_ITEMS` bounds an export's tasks as any
/// operation's items: past it, nothing starts (the operator's
/// `tasklane export-user` has no such bound).
async fn an_export_holds_at_most_the_items_of_an_operation(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.operations.max_items = 5)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    seed_tasks(app.database(), &a.id, &id(&home), "Task", 5).await;
    exported(&app, &a.token).await;
    seed_tasks(app.database(), &a.id, &id(&home), "One more", 1).await;
    let refused = app.gql(EXPORT, json!({}), Some(&a.token)).await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    assert_eq!(error_field(&refused), "exportMyData");
    let message = refused["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains("more than 5"), "{message}");
}

/// `TASKLANE_RATE_EXPORT_USER`: the third export in the window is refused
/// for that user only.
async fn exports_are_rate_limited_per_user(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.export_rate = Rate {
            max: 2,
            window: std::time::Duration::from_secs(3600),
        }
    })
    .await
    .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    for _ in 0..2 {
        let op = export(&app, &a.token).await;
        wait(&app, &a.token, &op["id"]).await;
    }
    let refused = app.gql(EXPORT, json!({}), Some(&a.token)).await;
    assert_eq!(error_code(&refused), "RATE_LIMITED", "{refused}");
    assert!(refused["errors"][0]["extensions"]["retryAfter"].as_u64() > Some(0));
    // Another user is counted on its own.
    export(&app, &b.token).await;
}

/// With batches of 10, an export of 400 tasks is seen going by over the
/// operation's progress subscription, and its document holds them all.
async fn a_large_export_reports_progress(backend: Backend) {
    const TASKS: usize = 400;
    let app = TestApp::spawn_with(backend, |c| c.operations.batch_size = 10)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    seed_tasks(app.database(), &a.id, &id(&home), "Bulk", TASKS).await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let op = export(&app, &a.token).await;
    assert_eq!(op["total"], TASKS, "{op}");
    ws.subscribe(
        "op",
        "subscription($id: ID!) { operationProgress(id: $id) { status total processed } }",
        json!({ "id": op["id"] }),
    )
    .await;
    let mut processed = Vec::new();
    let mut last = Value::Null;
    loop {
        let message = ws.next().await.expect("progress, then complete");
        if message["type"] == "complete" {
            break;
        }
        last = message["payload"]["data"]["operationProgress"].clone();
        processed.push(last["processed"].as_i64().expect("processed"));
    }
    assert!(
        processed.windows(2).all(|w| w[0] <= w[1]),
        "never back: {processed:?}"
    );
    assert!(
        processed.iter().any(|&n| n > 0 && n < TASKS as i64),
        "progress between batches: {processed:?}"
    );
    assert_eq!(last["status"], "COMPLETED");
    assert_eq!(last["processed"], TASKS);
    let doc = ok(&app, &a.token, DOCUMENT, json!({ "id": op["id"] })).await;
    let tasks = doc["myDataExport"]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), TASKS);
    // The parts are gone once the document is made.
    assert_eq!(count(&app, Table::Parts).await, 0);
}

/// `TASKLANE_EXPORT_MAX_BYTES`: an export whose document would be larger
/// fails with a message naming the setting, and leaves nothing stored.
async fn an_export_over_its_size_fails_and_keeps_nothing(app: TestApp) {
    let app = restart_with(app, |c| c.operations.export_max_bytes = 4096).await;
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    seed_tasks(app.database(), &a.id, &id(&home), "A task with a title", 60).await;
    let op = export(&app, &a.token).await;
    let done = wait(&app, &a.token, &op["id"]).await;
    assert_eq!(done["status"], "FAILED", "{done}");
    let message = done["errorMessage"].as_str().expect("message");
    assert!(message.contains("TASKLANE_EXPORT_MAX_BYTES"), "{message}");
    assert!(message.contains("4096"), "{message}");
    let doc = ok(&app, &a.token, DOCUMENT, json!({ "id": op["id"] })).await;
    assert_eq!(doc["myDataExport"], Value::Null);
    assert_eq!(count(&app, Table::Parts).await, 0);
    assert_eq!(count(&app, Table::Exports).await, 0);
    // A small one still fits.
    let b = account(&app, "b@example.com").await;
    exported(&app, &b.token).await;
}

/// A document is kept 24 hours: past `expires_at` it is null, and the next
/// export deletes it.
async fn an_expired_export_is_gone(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let op = export(&app, &a.token).await;
    wait(&app, &a.token, &op["id"]).await;
    let kept = {
        let mut pooled = app.database().read().await.expect("connection");
        let conn = &mut pooled.conn();
        db_run!(conn, |c| {
            data_exports::table
                .select((data_exports::created_at, data_exports::expires_at))
                .first::<(Timestamp, Timestamp)>(c)
                .await
        })
        .expect("stored")
    };
    assert_eq!((kept.1.get() - kept.0.get()).num_hours(), 24);
    {
        let past = Timestamp::from(Timestamp::now().get() - chrono::Duration::seconds(1));
        let mut pooled = app.database().write().await.expect("connection");
        let conn = &mut pooled.conn();
        db_run!(conn, |c| {
            diesel::update(data_exports::table)
                .set(data_exports::expires_at.eq(past))
                .execute(c)
                .await
        })
        .expect("expired");
    }
    let doc = ok(&app, &a.token, DOCUMENT, json!({ "id": op["id"] })).await;
    assert_eq!(doc["myDataExport"], Value::Null);
    let next = export(&app, &a.token).await;
    wait(&app, &a.token, &next["id"]).await;
    assert_eq!(count(&app, Table::Exports).await, 1, "only the new one");
}

enum Table {
    Parts,
    Exports,
}

async fn count(app: &TestApp, table: Table) -> i64 {
    let mut pooled = app.database().read().await.expect("connection");
    let conn = &mut pooled.conn();
    match table {
        Table::Parts => db_run!(conn, |c| {
            data_export_parts::table.count().get_result::<i64>(c).await
        }),
        Table::Exports => db_run!(conn, |c| {
            data_exports::table.count().get_result::<i64>(c).await
        }),
    }
    .expect("count")
}

/// The same app's database, served again with `adjust`ed settings.
async fn restart_with(mut app: TestApp, adjust: impl FnOnce(&mut tasklane::Config)) -> TestApp {
    if let Some(server) = app.server.take() {
        server.shutdown().await.expect("stopped");
    }
    let mut config =
        tasklane::Config::with_database(&app.db.url, Some(crate::support::TEST_SECRET))
            .expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    adjust(&mut config);
    let server = tasklane::start(config).await.expect("server starts");
    app.addr = server.addr;
    app.server = Some(server);
    app
}
