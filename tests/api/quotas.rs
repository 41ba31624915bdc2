//! Per-account quotas: one free account can not fill the disk. Each path
//! that creates projects, tasks or operation records stops at its quota
//! with QUOTA_EXCEEDED naming the setting and its value, and writes nothing.

use serde_json::{Value, json};
use tasklane::db::sql::Bind;
use tasklane::db::types::Id;

use crate::fixtures::{Account, account, ok, project, task};
use crate::on_both_databases;
use crate::operations_support::{count, start, start_mutation, wait};
use crate::support::{Backend, TestApp, error_code};
use crate::sync_support::{new_id, sync_mutation};

on_both_databases!(
    the_task_quota_holds_on_every_creating_path,
    the_project_quota_holds_on_every_creating_path,
    concurrent_creates_stop_at_the_quota,
    the_operation_record_quota_fails_a_batch_cleanly,
);

/// Asserts QUOTA_EXCEEDED for `quota` of `limit` (and no data).
fn assert_quota(body: &Value, quota: &str, limit: u64) {
    assert_eq!(error_code(body), "QUOTA_EXCEEDED", "{body}");
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["quota"], quota, "{body}");
    assert_eq!(extensions["limit"], limit, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(quota), "{body}");
}

async fn tasks_of(app: &TestApp, user: &Account) -> i64 {
    count(
        app.database(),
        "SELECT COUNT(*) AS n FROM tasks WHERE owner_id = ?",
        vec![Bind::Id(Id::parse(&user.id).expect("id"))],
    )
    .await
}

async fn projects_of(app: &TestApp, user: &Account) -> i64 {
    count(
        app.database(),
        "SELECT COUNT(*) AS n FROM projects WHERE owner_id = ?",
        vec![Bind::Id(Id::parse(&user.id).expect("id"))],
    )
    .await
}

async fn records_of(app: &TestApp, user: &Account) -> i64 {
    count(
        app.database(),
        "SELECT COUNT(*) AS n FROM operation_records r JOIN operations o \
         ON o.id = r.operation_id WHERE o.owner_id = ?",
        vec![Bind::Id(Id::parse(&user.id).expect("id"))],
    )
    .await
}

const CREATE_TASKS: &str =
    "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }";
const CREATE_TASK: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }";

fn new_tasks(project_id: &Value, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({ "projectId": project_id, "title": format!("t{i}") }))
            .collect(),
    )
}

async fn the_task_quota_holds_on_every_creating_path(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.quotas.tasks = 5).await else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let quota = "TASKLANE_QUOTA_TASKS";

    // createTasks is all or nothing: 6 of 5 writes none.
    let body = app
        .gql(
            CREATE_TASKS,
            json!({ "input": new_tasks(&home["id"], 6) }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 5);
    assert_eq!(tasks_of(&app, &a).await, 0);

    ok(
        &app,
        &a.token,
        CREATE_TASKS,
        json!({ "input": new_tasks(&home["id"], 4) }),
    )
    .await;
    let last = task(&app, &a.token, &home["id"], "fifth", json!({})).await;
    assert_eq!(tasks_of(&app, &a).await, 5);
    // A deleted task still counts.
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteTask(id: $id) { id } }",
        json!({ "id": last["id"] }),
    )
    .await;
    let body = app
        .gql(
            CREATE_TASK,
            json!({ "input": { "projectId": home["id"], "title": "sixth" } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 5);
    // A retry of a create is not a new task: still answered.
    let retried = app
        .gql(
            CREATE_TASK,
            json!({ "input": { "id": last["id"], "projectId": home["id"], "title": "fifth" } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(retried["errors"], Value::Null, "{retried}");

    // Sync push creating a task (with a project edit beside it: neither lands).
    let body = app
        .gql(
            &sync_mutation(),
            json!({ "input": {
                "projects": [{ "id": home["id"], "name": "Renamed", "baseVersion": home["version"] }],
                "tasks": [{ "id": new_id(), "projectId": home["id"], "title": "from sync" }],
            } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 5);
    let name = ok(
        &app,
        &a.token,
        "query($id: ID!) { project(id: $id) { name } }",
        json!({ "id": home["id"] }),
    )
    .await;
    assert_eq!(name["project"]["name"], "Home", "the push wrote nothing");

    // An import that would create a task is refused at its start.
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "IMPORT", "importData": {
                "projects": [],
                "tasks": [{ "id": new_id(), "projectId": home["id"], "title": "imported" }],
            } } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 5);
    assert_eq!(tasks_of(&app, &a).await, 5);

    // The quota is per account.
    let b = account(&app, "b@example.com").await;
    let theirs = project(&app, &b.token, "Theirs").await;
    ok(
        &app,
        &b.token,
        CREATE_TASKS,
        json!({ "input": new_tasks(&theirs["id"], 5) }),
    )
    .await;
    assert_eq!(tasks_of(&app, &b).await, 5);
}

async fn the_project_quota_holds_on_every_creating_path(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.quotas.projects = 2).await else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let quota = "TASKLANE_QUOTA_PROJECTS";
    project(&app, &a.token, "One").await;
    let two = project(&app, &a.token, "Two").await;
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteProject(id: $id) { id } }",
        json!({ "id": two["id"] }),
    )
    .await;
    let body = app
        .gql(
            "mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }",
            json!({ "input": { "name": "Three" } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 2);

    let body = app
        .gql(
            &sync_mutation(),
            json!({ "input": { "projects": [{ "id": new_id(), "name": "From sync" }] } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 2);

    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "IMPORT", "importData": {
                "projects": [{ "id": new_id(), "name": "Imported" }],
                "tasks": [],
            } } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 2);
    assert_eq!(projects_of(&app, &a).await, 2);
}

async fn concurrent_creates_stop_at_the_quota(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.quotas.tasks = 5).await else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let attempts = (0..12).map(|i| {
        app.gql(
            CREATE_TASK,
            json!({ "input": { "projectId": home["id"], "title": format!("t{i}") } }),
            Some(&a.token),
        )
    });
    let bodies = futures_util::future::join_all(attempts).await;
    let made = bodies.iter().filter(|b| b["errors"] == Value::Null).count();
    for body in bodies.iter().filter(|b| b["errors"] != Value::Null) {
        assert_quota(body, "TASKLANE_QUOTA_TASKS", 5);
    }
    assert_eq!(made, 5);
    assert_eq!(tasks_of(&app, &a).await, 5);
}

/// Two operations each fit at their start; together they do not: the batch
/// that would go over fails its operation, and nothing of that batch stays.
async fn the_operation_record_quota_fails_a_batch_cleanly(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.quotas.operation_records = 10;
        c.operations.batch_size = 4;
        c.operations.max_running = 2;
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    for tag in ["x", "y"] {
        for i in 0..6 {
            task(
                &app,
                &a.token,
                &home["id"],
                &format!("{tag}{i}"),
                json!({ "tags": [tag] }),
            )
            .await;
        }
    }
    let quota = "TASKLANE_QUOTA_OPERATION_RECORDS";
    // 12 records at once are over 10 from the start.
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "UPDATE_TASKS", "filter": {}, "patch": { "priority": "HIGH" } } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 10);

    let ops: Vec<Value> = futures_util::future::join_all(["x", "y"].map(|tag| {
        start(
            &app,
            &a.token,
            json!({ "kind": "UPDATE_TASKS", "filter": { "tag": tag }, "patch": { "priority": "HIGH" } }),
        )
    }))
    .await;
    let mut finished = Vec::new();
    for op in &ops {
        finished.push(wait(&app, &a.token, &op["id"]).await);
    }
    let failed: Vec<&Value> = finished
        .iter()
        .filter(|op| op["status"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{finished:?}");
    let message = failed[0]["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains(quota), "{message}");
    assert_eq!(records_of(&app, &a).await, 10);
    // Every record stored is a change made, and the other way round.
    let processed: i64 = finished
        .iter()
        .map(|op| op["processed"].as_i64().unwrap_or(-1))
        .sum();
    assert_eq!(processed, 10, "{finished:?}");
    let high = ok(
        &app,
        &a.token,
        "{ tasks(first: 100, filter: { priority: [HIGH] }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(high["tasks"]["totalCount"], 10);
    // The account is at its quota: another operation is refused at once.
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "UPDATE_TASKS", "filter": { "tag": "x" }, "patch": { "priority": "LOW" } } }),
            Some(&a.token),
        )
        .await;
    assert_quota(&body, quota, 10);
}
