//! Jobs already in the database keep running: operation rows written with
//! the parameters exactly as the first format stored them (no version tag;
//! the literal JSON of each kind below) are claimed and run to completion,
//! and a rollback stored that way undoes its original.

use serde_json::{Value, json};
use tasklane::db::DbConn;
use tasklane::db::sql::{Bind, SqlBuilder};
use tasklane::db::types::{Id, JsonDoc, Timestamp};
use tasklane::events::changes::{OPERATIONS, Progress};

use crate::fixtures::{account, ok, project, task};
use crate::on_both_backends;
use crate::operations_support::{records, state, wait};
use crate::support::TestApp;

on_both_backends!(jobs_stored_in_the_first_format_run_to_completion);

/// A stored job: its kind, its params document and its items.
struct Job {
    kind: &'static str,
    params: Value,
    items: Vec<(&'static str, String)>,
    rollback_of: Option<String>,
}

fn id(text: &str) -> Id {
    Id::parse(text).expect("an id")
}

fn str_of(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

/// Inserts the job as PENDING, with its items, straight into the database;
/// returns its id.
async fn insert(app: &TestApp, owner: &str, job: &Job) -> String {
    let op = Id::new();
    let mut pooled: DbConn = app.database().write().await.expect("connection");
    let mut conn = pooled.conn();
    let mut b = SqlBuilder::new(conn.backend());
    b.push(
        "INSERT INTO operations (id, owner_id, kind, status, params, total, rollback_of, \
         created_at) VALUES (",
    )
    .bind(Bind::Id(op))
    .push(", ")
    .bind(Bind::Id(id(owner)))
    .push(", ")
    .bind(Bind::Text(job.kind.into()))
    .push(", 'PENDING', ")
    .bind(Bind::Json(JsonDoc(job.params.clone())))
    .push(", ")
    .bind(Bind::I64(job.items.len() as i64));
    match &job.rollback_of {
        Some(of) => b.push(", ").bind(Bind::Id(id(of))),
        None => b.push(", NULL"),
    };
    b.push(", ").bind(Bind::Time(Timestamp::now())).push(")");
    b.execute(&mut conn).await.expect("operation row");
    for (idx, (entity, entity_id)) in job.items.iter().enumerate() {
        let mut b = SqlBuilder::new(conn.backend());
        b.push("INSERT INTO operation_items (operation_id, idx, entity_type, entity_id) VALUES (")
            .bind(Bind::Id(op))
            .push(", ")
            .bind(Bind::I64(idx as i64))
            .push(", ")
            .bind(Bind::Text((*entity).into()))
            .push(", ")
            .bind(Bind::Id(id(entity_id)))
            .push(")");
        b.execute(&mut conn).await.expect("item row");
    }
    op.to_string()
}

/// Tells the worker that work is waiting (as a start would).
async fn wake(app: &TestApp, op: &str, owner: &str) {
    let progress = Progress {
        id: id(op),
        owner_id: id(owner),
    };
    let services = &app.server.as_ref().expect("running").state.services;
    services
        .events
        .publish(OPERATIONS, json!(progress))
        .await
        .expect("published");
}

/// Runs the stored jobs; each must complete having changed `processed` items.
async fn run(app: &TestApp, token: &str, owner: &str, jobs: &[(Job, i64)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (job, _) in jobs {
        ids.push(insert(app, owner, job).await);
    }
    wake(app, &ids[0], owner).await;
    for ((job, processed), op) in jobs.iter().zip(&ids) {
        let done = wait(app, token, &json!(op)).await;
        assert_eq!(done["kind"], job.kind, "{done}");
        assert_eq!(done["status"], "COMPLETED", "{}: {done}", job.kind);
        assert_eq!(done["processed"], *processed, "{}: {done}", job.kind);
        assert_eq!(done["failed"], 0, "{}: {done}", job.kind);
    }
    ids
}

/// The task filter as the first format stored it: every key, null when unset.
fn filter(project: &Value, search: &str) -> Value {
    json!({
        "project_id": project, "status": [1], "priority": null, "tag": null,
        "search": search, "due_before": null, "due_after": null,
        "updated_since": null, "include_deleted": false
    })
}

/// The task or project `id` as its owner sees it, deleted or not.
async fn read_task(app: &TestApp, token: &str, id: &Value) -> Value {
    state(app, token).await[id.as_str().expect("an id")].clone()
}

async fn jobs_stored_in_the_first_format_run_to_completion(app: TestApp) {
    let user = account(&app, "stored@example.com").await;
    let (token, owner) = (user.token.as_str(), user.id.as_str());
    let home = project(&app, token, "Home").await;
    let shelf = project(&app, token, "Shelf").await;
    let doomed = project(&app, token, "Doomed").await;
    let alpha = task(&app, token, &home["id"], "Alpha", json!({})).await;
    let beta = task(&app, token, &home["id"], "Beta", json!({})).await;
    task(&app, token, &home["id"], "Twin", json!({})).await;
    let twin = task(&app, token, &home["id"], "Twin", json!({})).await;
    let inside = task(&app, token, &doomed["id"], "Inside", json!({})).await;
    let (new_project, new_task) = (Id::new().to_string(), Id::new().to_string());
    let t = |v: &Value| ("task", str_of(&v["id"]));
    let p = |v: &Value| ("project", str_of(&v["id"]));
    let jobs = [
        (
            Job {
                kind: "UPDATE_TASKS",
                params: json!({ "kind": "UPDATE_TASKS", "filter": filter(&home["id"], "Alpha"),
                    "patch": { "status": 2, "priority": null, "addTags": ["moved"] } }),
                items: vec![t(&alpha)],
                rollback_of: None,
            },
            1,
        ),
        (
            Job {
                kind: "DELETE_TASKS",
                params: json!({ "kind": "DELETE_TASKS", "filter": filter(&home["id"], "Beta") }),
                items: vec![t(&beta)],
                rollback_of: None,
            },
            1,
        ),
        (
            Job {
                kind: "ARCHIVE_PROJECT",
                params: json!({ "kind": "ARCHIVE_PROJECT", "project_id": shelf["id"] }),
                items: vec![p(&shelf)],
                rollback_of: None,
            },
            1,
        ),
        (
            Job {
                kind: "DELETE_PROJECT",
                params: json!({ "kind": "DELETE_PROJECT", "project_id": doomed["id"] }),
                items: vec![t(&inside), p(&doomed)],
                rollback_of: None,
            },
            2,
        ),
        (
            Job {
                kind: "DEDUPLICATE_TASKS",
                params: json!({ "kind": "DEDUPLICATE_TASKS", "project_id": home["id"] }),
                items: vec![t(&twin)],
                rollback_of: None,
            },
            1,
        ),
        (
            Job {
                kind: "IMPORT",
                params: json!({ "kind": "IMPORT",
                    "projects": [{ "field": "input.importData.projects[0]", "id": new_project,
                        "name": "Imported", "description": null, "archived": false,
                        "deleted": false, "base_version": null }],
                    "tasks": [{ "field": "input.importData.tasks[0]", "id": new_task,
                        "project_id": new_project, "title": "Carried over", "description": "d",
                        "status": 3, "priority": 2, "tags": ["x"],
                        "due_at": "2027-01-02T03:04:05Z", "position": 1.5, "deleted": false,
                        "base_version": null }] }),
                items: vec![("project", new_project.clone()), ("task", new_task.clone())],
                rollback_of: None,
            },
            2,
        ),
    ];
    let ids = run(&app, token, owner, &jobs).await;

    let alpha_now = read_task(&app, token, &alpha["id"]).await;
    assert_eq!(alpha_now["status"], "IN_PROGRESS", "{alpha_now}");
    assert_eq!(alpha_now["tags"], json!(["moved"]));
    for gone in [&beta, &twin, &inside] {
        assert!(read_task(&app, token, &gone["id"]).await["deletedAt"].is_string());
    }
    let imported = read_task(&app, token, &json!(new_task)).await;
    assert_eq!(imported["title"], "Carried over");
    assert_eq!(imported["status"], "DONE");
    assert_eq!(imported["tags"], json!(["x"]));
    assert_eq!(imported["project"]["id"], json!(new_project));
    let shelf_now = ok(
        &app,
        token,
        "query($id: ID!) { project(id: $id) { archived } }",
        json!({ "id": shelf["id"] }),
    )
    .await;
    assert_eq!(shelf_now["project"]["archived"], true);

    // A rollback stored in the first format: its items are the original's
    // records, newest first.
    let update = &ids[0];
    let items = records(&app, token, &json!(update))
        .await
        .iter()
        .rev()
        .map(|r| {
            let entity = if r["entityType"] == "project" {
                "project"
            } else {
                "task"
            };
            (entity, str_of(&r["entityId"]))
        })
        .collect();
    let undo = Job {
        kind: "ROLLBACK",
        params: json!({ "kind": "ROLLBACK", "of": update }),
        items,
        rollback_of: Some(update.clone()),
    };
    run(&app, token, owner, &[(undo, 1)]).await;
    let alpha_back = read_task(&app, token, &alpha["id"]).await;
    assert_eq!(alpha_back["status"], "TODO", "{alpha_back}");
    assert_eq!(alpha_back["tags"], json!([]));
    let original = wait(&app, token, &json!(update)).await;
    assert_eq!(original["status"], "ROLLED_BACK");
}
