//! Operations: each kind's dry run equals its run, rollback restores the
//! prior state, limits, isolation, import idempotence, inputs.

use serde_json::{Value, json};

use crate::fixtures::{account, ok, project, task};
use crate::on_both_backends;
use crate::operations_support::{records, rollback, start, start_mutation, state, wait};
use crate::support::{Backend, TestApp, error_code, error_field};

on_both_backends!(
    every_kind_matches_its_dry_run_and_rolls_back_exactly,
    rollback_skips_objects_changed_since,
    import_is_idempotent_and_undoable,
    another_user_can_not_see_cancel_or_roll_back,
    invalid_inputs_name_the_field,
    progress_is_published_on_the_bus,
);

/// A user with two projects: "Home" holds duplicates and mixed tasks.
async fn sample(app: &TestApp, token: &str) -> (Value, Value) {
    let home = project(app, token, "Home").await;
    let work = project(app, token, "Work").await;
    for i in 0..25 {
        let extra = match i % 3 {
            0 => json!({ "status": "DONE", "tags": ["a"], "priority": "LOW" }),
            1 => json!({ "dueAt": "2027-01-02T03:04:05Z", "description": "d", "position": 2.5 }),
            _ => json!({ "status": "IN_PROGRESS", "tags": ["a", "b"] }),
        };
        task(app, token, &home["id"], &format!("Task {}", i % 20), extra).await;
    }
    task(app, token, &work["id"], "Other", json!({})).await;
    (home, work)
}

/// What the dry run shows is what the run records; rollback undoes it all.
async fn check_kind(app: &TestApp, token: &str, input: Value) {
    let before = state(app, token).await;
    let mut dry_input = input.clone();
    dry_input["dryRun"] = json!(true);
    let dry = start(app, token, dry_input).await;
    assert_eq!(dry["status"], "COMPLETED", "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert_eq!(state(app, token).await, before, "a dry run writes nothing");
    let op = start(app, token, input.clone()).await;
    assert_eq!(op["total"], dry["total"]);
    let done = wait(app, token, &op["id"]).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let recs = records(app, token, &op["id"]).await;
    assert_eq!(recs.len() as i64, done["processed"].as_i64().expect("n"));
    assert!(!recs.is_empty(), "{input}: changed nothing");
    let preview = dry["preview"].as_array().expect("preview");
    assert_eq!(preview.len(), recs.len().min(20));
    for (shown, made) in preview.iter().zip(&recs) {
        assert_eq!(shown["entityId"], made["entityId"]);
        assert_eq!(shown["action"], made["action"]);
        assert_eq!(shown["before"], made["before"]);
        // Timestamps the run sets (deletedAt, archivedAt, completedAt) are
        // its own; the rest must match.
        let strip = |v: &Value| {
            let mut v = v.clone();
            for key in ["deletedAt", "archivedAt", "completedAt"] {
                if let Some(o) = v.as_object_mut() {
                    o.insert(key.into(), json!(o.get(key).is_some_and(|x| !x.is_null())));
                }
            }
            v
        };
        assert_eq!(strip(&shown["after"]), strip(&made["after"]));
    }
    let changed = state(app, token).await;
    assert_ne!(changed, before, "{input}");
    let undo = rollback(app, token, &op["id"]).await;
    assert_eq!(undo["kind"], "ROLLBACK");
    assert_eq!(undo["rollbackOf"]["id"], op["id"]);
    let undone = wait(app, token, &undo["id"]).await;
    assert_eq!(undone["status"], "COMPLETED");
    assert_eq!(undone["processed"], done["processed"]);
    assert_eq!(undone["skipped"], 0);
    assert_eq!(
        state(app, token).await,
        before,
        "{input}: rollback restores all"
    );
    let original = wait(app, token, &op["id"]).await;
    assert_eq!(original["status"], "ROLLED_BACK");
}

async fn every_kind_matches_its_dry_run_and_rolls_back_exactly(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let (home, _) = sample(&app, &a.token).await;
    let inputs = [
        json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": home["id"] },
            "patch": { "status": "DONE", "priority": null, "addTags": ["bulk"], "removeTags": ["a"],
                "dueAt": "2030-01-01T00:00:00Z" } }),
        json!({ "kind": "DELETE_TASKS", "filter": { "tag": "a" } }),
        json!({ "kind": "ARCHIVE_PROJECT", "projectId": home["id"] }),
        json!({ "kind": "DELETE_PROJECT", "projectId": home["id"] }),
        json!({ "kind": "DEDUPLICATE_TASKS", "projectId": home["id"] }),
        json!({ "kind": "DEDUPLICATE_TASKS" }),
    ];
    for input in inputs {
        check_kind(&app, &a.token, input).await;
    }
}

async fn rollback_skips_objects_changed_since(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let (home, _) = sample(&app, &a.token).await;
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": home["id"] },
            "patch": { "priority": "URGENT" } }),
    )
    .await;
    let done = wait(&app, &a.token, &op["id"]).await;
    assert_eq!(done["processed"], 25);
    let recs = records(&app, &a.token, &op["id"]).await;
    let touched = recs[3]["entityId"].clone();
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { updateTask(id: $id, input: { title: \"Mine now\" }) { id } }",
        json!({ "id": touched }),
    )
    .await;
    let undo = rollback(&app, &a.token, &op["id"]).await;
    let undone = wait(&app, &a.token, &undo["id"]).await;
    assert_eq!(
        (undone["processed"].clone(), undone["skipped"].clone()),
        (json!(24), json!(1))
    );
    let after = state(&app, &a.token).await;
    let kept = &after[touched.as_str().expect("id")];
    assert_eq!(kept["title"], "Mine now", "never overwritten");
    assert_eq!(kept["priority"], "URGENT");
    let restored: Vec<&Value> = after
        .values()
        .filter(|t| t["project"]["id"] == home["id"] && t["priority"] == "URGENT")
        .collect();
    assert_eq!(restored.len(), 1, "only the skipped one keeps the change");
    // Rolled back already; a dry run and a rollback can not be rolled back.
    let again = app
        .gql(
            "mutation($id: ID!) { rollbackOperation(id: $id) { id } }",
            json!({ "id": op["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    let undo_undo = app
        .gql(
            "mutation($id: ID!) { rollbackOperation(id: $id) { id } }",
            json!({ "id": undo["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&undo_undo), "CONFLICT");
    let dry = start(
        &app,
        &a.token,
        json!({ "kind": "DELETE_TASKS", "dryRun": true, "filter": {} }),
    )
    .await;
    assert_eq!(dry["total"], 26);
    assert_eq!(dry["processed"], 0);
    let refused = app
        .gql(
            "mutation($id: ID!) { rollbackOperation(id: $id) { id } }",
            json!({ "id": dry["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&refused), "CONFLICT");
    let cancel_done = app
        .gql(
            "mutation($id: ID!) { cancelOperation(id: $id) { id } }",
            json!({ "id": op["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&cancel_done), "CONFLICT");
}

fn import_data(project_id: &Value, task_ids: &[Value]) -> Value {
    json!({
        "projects": [{ "id": project_id, "name": "Offline", "description": "kept locally" }],
        "tasks": task_ids.iter().enumerate().map(|(i, id)| json!({
            "id": id, "projectId": project_id, "title": format!("Local {i}"),
            "status": if i == 0 { "DONE" } else { "TODO" }, "tags": ["local"],
        })).collect::<Vec<_>>(),
    })
}

async fn import_is_idempotent_and_undoable(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let before = state(&app, &a.token).await;
    let pid = json!(uuid::Uuid::new_v4().to_string());
    let tids: Vec<Value> = (0..3)
        .map(|_| json!(uuid::Uuid::new_v4().to_string()))
        .collect();
    let input = json!({ "kind": "IMPORT", "importData": import_data(&pid, &tids) });
    let mut dry_input = input.clone();
    dry_input["dryRun"] = json!(true);
    let dry = start(&app, &a.token, dry_input).await;
    assert_eq!(dry["total"], 4);
    assert_eq!(dry["preview"].as_array().map(Vec::len), Some(4));
    assert_eq!(dry["preview"][0]["action"], "CREATED");
    assert_eq!(dry["preview"][0]["before"], Value::Null);
    let first = wait(
        &app,
        &a.token,
        &start(&app, &a.token, input.clone()).await["id"],
    )
    .await;
    assert_eq!(
        (first["processed"].clone(), first["skipped"].clone()),
        (json!(4), json!(0))
    );
    let imported = state(&app, &a.token).await;
    assert_eq!(imported.len(), 4);
    assert_eq!(imported[tids[0].as_str().expect("id")]["title"], "Local 0");
    assert_eq!(imported[tids[0].as_str().expect("id")]["status"], "DONE");
    let second = wait(
        &app,
        &a.token,
        &start(&app, &a.token, input.clone()).await["id"],
    )
    .await;
    assert_eq!(
        (second["processed"].clone(), second["skipped"].clone()),
        (json!(0), json!(4)),
        "importing twice creates nothing twice"
    );
    assert_eq!(state(&app, &a.token).await, imported);
    // Another user importing the same ids gets nothing of A's.
    let b = account(&app, "b@example.com").await;
    let theirs = wait(&app, &b.token, &start(&app, &b.token, input).await["id"]).await;
    assert_eq!(theirs["failed"], 4, "{theirs}");
    assert!(state(&app, &b.token).await.is_empty());
    // Undo: what the import created is gone (deleted) again.
    let undo = rollback(&app, &a.token, &first["id"]).await;
    wait(&app, &a.token, &undo["id"]).await;
    let after = state(&app, &a.token).await;
    assert!(
        after.values().all(|o| o["deletedAt"].is_string()),
        "{after:?}"
    );
    assert!(before.is_empty());
}

async fn another_user_can_not_see_cancel_or_roll_back(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let (home, _) = sample(&app, &a.token).await;
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "addTags": ["x"] } }),
    )
    .await;
    wait(&app, &a.token, &op["id"]).await;
    let seen = ok(
        &app,
        &b.token,
        "query($id: ID!) { operation(id: $id) { id } node(id: $id) { id }
            operations(first: 10) { totalCount edges { node { id } } } }",
        json!({ "id": op["id"] }),
    )
    .await;
    assert_eq!(seen["operation"], Value::Null);
    assert_eq!(seen["node"], Value::Null);
    assert_eq!(seen["operations"]["totalCount"], 0);
    for mutation in ["cancelOperation", "rollbackOperation"] {
        let body = app
            .gql(
                &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
                json!({ "id": op["id"] }),
                Some(&b.token),
            )
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{mutation}: {body}");
    }
    // B's operations never reach A's objects.
    let before = state(&app, &a.token).await;
    let theirs = start(
        &app,
        &b.token,
        json!({ "kind": "DELETE_TASKS", "filter": {} }),
    )
    .await;
    assert_eq!(theirs["total"], 0);
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "ARCHIVE_PROJECT", "projectId": home["id"] } }),
            Some(&b.token),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    wait(&app, &b.token, &theirs["id"]).await;
    assert_eq!(state(&app, &a.token).await, before);
    // A sees its own, newest first, through node too.
    let mine = ok(
        &app,
        &a.token,
        "query($id: ID!) { node(id: $id) { ... on Operation { id kind } }
            operations(first: 1) { totalCount edges { node { id } } pageInfo { hasNextPage } } }",
        json!({ "id": op["id"] }),
    )
    .await;
    assert_eq!(mine["node"]["kind"], "UPDATE_TASKS");
    assert_eq!(mine["operations"]["totalCount"], 1);
    let filtered = ok(
        &app,
        &a.token,
        "{ done: operations(filter: { status: [COMPLETED], kind: [UPDATE_TASKS] }) { totalCount }
           none: operations(filter: { kind: [IMPORT] }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(filtered["done"]["totalCount"], 1);
    assert_eq!(filtered["none"]["totalCount"], 0);
}

async fn invalid_inputs_name_the_field(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let (home, _) = sample(&app, &a.token).await;
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let cases = [
        (
            json!({ "kind": "UPDATE_TASKS", "filter": {} }),
            "input.patch",
        ),
        (
            json!({ "kind": "UPDATE_TASKS", "patch": { "priority": "LOW" } }),
            "input.filter",
        ),
        (
            json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": {} }),
            "input.patch",
        ),
        (
            json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "addTags": many } }),
            "input.patch.addTags",
        ),
        (
            json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": "nope" }, "patch": { "priority": "LOW" } }),
            "input.filter.projectId",
        ),
        (json!({ "kind": "DELETE_TASKS" }), "input.filter"),
        (json!({ "kind": "ARCHIVE_PROJECT" }), "input.projectId"),
        (
            json!({ "kind": "DELETE_PROJECT", "projectId": "x" }),
            "input.projectId",
        ),
        (json!({ "kind": "IMPORT" }), "input.importData"),
        (
            json!({ "kind": "IMPORT", "importData": { "projects": [], "tasks": [
            { "id": uuid::Uuid::new_v4().to_string(), "projectId": home["id"], "title": "  " }] } }),
            "input.importData.tasks[0].title",
        ),
        (
            json!({ "kind": "IMPORT", "importData": { "projects": [], "tasks": [
            { "id": uuid::Uuid::new_v4().to_string(), "projectId": uuid::Uuid::new_v4().to_string(), "title": "x" }] } }),
            "input.importData.tasks[0].projectId",
        ),
        (json!({ "kind": "ROLLBACK" }), "input.kind"),
    ];
    for (input, field) in cases {
        let body = app
            .gql(&start_mutation(), json!({ "input": input }), Some(&a.token))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(error_field(&body), field, "{input}: {body}");
    }
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "DELETE_PROJECT", "projectId": uuid::Uuid::new_v4().to_string() } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let ops = ok(&app, &a.token, "{ operations { totalCount } }", json!({})).await;
    assert_eq!(ops["operations"]["totalCount"], 0, "nothing half-started");
}

async fn progress_is_published_on_the_bus(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let (home, _) = sample(&app, &a.token).await;
    let services = &app.server.as_ref().expect("running").state.services;
    let mut progress = services
        .events
        .subscribe(tasklane::events::changes::OPERATIONS);
    let mut changes = services
        .events
        .subscribe(tasklane::events::changes::CHANGES);
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "ARCHIVE_PROJECT", "projectId": home["id"] }),
    )
    .await;
    wait(&app, &a.token, &op["id"]).await;
    let id = op["id"].as_str().expect("id").to_owned();
    let mut seen = 0;
    while let Ok(Some(tasklane::events::Delivery::Event(event))) =
        tokio::time::timeout(std::time::Duration::from_secs(2), progress.recv()).await
    {
        if event.payload["id"] == id {
            seen += 1;
        }
        if seen >= 3 {
            break;
        }
    }
    assert!(
        seen >= 3,
        "start, batch and finish each publish progress ({seen})"
    );
    // On PostgreSQL the events of `sample`'s creates, committed before the
    // subscription, may still be on their way from LISTEN: skip those.
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(2), changes.recv()).await {
            Ok(Some(tasklane::events::Delivery::Event(event)))
                if event.payload["type"] == "CREATED" => {}
            Ok(Some(tasklane::events::Delivery::Event(event))) => {
                assert_eq!(event.payload["id"], home["id"]);
                assert_eq!(event.payload["type"], "UPDATED");
                break;
            }
            other => panic!("no change event: {other:?}"),
        }
    }
}

/// Limits: items per operation and operations per user; cancel keeps the
/// work done, which can be rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_cancel_and_rollback_of_a_cancelled_operation_sqlite() {
    limits_and_cancel(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_cancel_and_rollback_of_a_cancelled_operation_postgres() {
    if crate::support::pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    limits_and_cancel(Backend::Postgres).await;
}

async fn limits_and_cancel(backend: Backend) {
    // An instance that runs no operations: they stay PENDING.
    let app = TestApp::spawn_with(backend, |c| {
        c.operations.max_running = 1;
        c.operations.max_items = 30;
        c.operations.worker = false;
    })
    .await
    .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let (home, _) = sample(&app, &a.token).await;
    crate::operations_support::seed_tasks(
        app.database(),
        &a.id,
        home["id"].as_str().expect("id"),
        "Bulk",
        10,
    )
    .await;
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "DELETE_TASKS", "filter": {} } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_field(&body), "input.filter");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("30"),
        "{body}"
    );
    let first = start(
        &app,
        &a.token,
        json!({ "kind": "DELETE_TASKS", "filter": { "tag": "a" } }),
    )
    .await;
    assert_eq!(first["status"], "PENDING");
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "DELETE_TASKS", "filter": { "tag": "b" } } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let dry = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "DELETE_TASKS", "dryRun": true, "filter": { "tag": "b" } } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&dry), "CONFLICT", "a dry run counts too: {dry}");
    let body = app
        .gql(
            "mutation($id: ID!) { rollbackOperation(id: $id) { id } }",
            json!({ "id": first["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "an unfinished op: {body}");
    let cancelled = ok(
        &app,
        &a.token,
        "mutation($id: ID!) { cancelOperation(id: $id) { status processed finishedAt } }",
        json!({ "id": first["id"] }),
    )
    .await;
    assert_eq!(cancelled["cancelOperation"]["status"], "CANCELLED");
    let again = start(
        &app,
        &a.token,
        json!({ "kind": "DELETE_TASKS", "filter": { "tag": "b" } }),
    )
    .await;
    assert_eq!(again["status"], "PENDING");
}

/// Cancel mid-run: the batches done stay done, and roll back exactly.
async fn cancel_mid_run(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.operations.batch_size = 5;
        c.operations.poll = std::time::Duration::from_millis(20);
    })
    .await
    .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    crate::operations_support::seed_tasks(
        app.database(),
        &a.id,
        home["id"].as_str().expect("id"),
        "Bulk",
        3000,
    )
    .await;
    let before = state(&app, &a.token).await;
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "status": "IN_PROGRESS" } }),
    )
    .await;
    loop {
        let now = crate::operations_support::operation(&app, &a.token, &op["id"]).await;
        if now["processed"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let cancelled = ok(
        &app,
        &a.token,
        "mutation($id: ID!) { cancelOperation(id: $id) { status } }",
        json!({ "id": op["id"] }),
    )
    .await;
    assert_eq!(cancelled["cancelOperation"]["status"], "CANCELLED");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopped = crate::operations_support::operation(&app, &a.token, &op["id"]).await;
    let processed = stopped["processed"].as_i64().expect("n");
    assert!(processed > 0 && processed < 3000, "{stopped}");
    let changed = state(&app, &a.token).await;
    let in_progress = changed
        .values()
        .filter(|t| t["status"] == "IN_PROGRESS")
        .count();
    assert_eq!(
        in_progress as i64, processed,
        "the work done stays, nothing more"
    );
    let undo = rollback(&app, &a.token, &op["id"]).await;
    let undone = wait(&app, &a.token, &undo["id"]).await;
    assert_eq!(undone["processed"].as_i64(), Some(processed));
    assert_eq!(state(&app, &a.token).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_run_keeps_its_batches_sqlite() {
    cancel_mid_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_run_keeps_its_batches_postgres() {
    if crate::support::pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    cancel_mid_run(Backend::Postgres).await;
}

/// A graceful stop hands the running operation back between batches; the
/// next server resumes it at once and does each task once.
async fn stop_and_resume(backend: Backend) {
    let mut app = TestApp::spawn_with(backend, |c| {
        c.operations.batch_size = 2;
        c.operations.poll = std::time::Duration::from_millis(20);
    })
    .await
    .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let home_id = home["id"].as_str().expect("id");
    crate::operations_support::seed_tasks(app.database(), &a.id, home_id, "Bulk", 1000).await;
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "priority": "LOW" } }),
    )
    .await;
    loop {
        let now = crate::operations_support::operation(&app, &a.token, &op["id"]).await;
        if now["processed"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let server = app.server.take().expect("running");
    let db = server.state.services.db.clone();
    server.shutdown().await.expect("stops");
    // A restart is a new process: let go of this one's SQLite connections.
    db.close();
    drop(db);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut config =
        tasklane::Config::with_database(&app.db.url, Some(crate::support::TEST_SECRET))
            .expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.operations.poll = std::time::Duration::from_millis(20);
    config.operations.stale_after = std::time::Duration::from_secs(3600);
    let server = tasklane::start(config).await.expect("restarts");
    app.addr = server.addr;
    app.server = Some(server);
    let done = wait(&app, &a.token, &op["id"]).await;
    assert_eq!(
        done["status"], "COMPLETED",
        "resumed without waiting for staleness"
    );
    assert_eq!(done["processed"], 1000);
    assert_eq!(records(&app, &a.token, &op["id"]).await.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_hands_its_operation_back_sqlite() {
    stop_and_resume(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_hands_its_operation_back_postgres() {
    if crate::support::pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    stop_and_resume(Backend::Postgres).await;
}
