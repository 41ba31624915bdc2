//! Operations on shared projects: every batch reads the owner's role again,
//! so a member demoted or removed while its operation waits writes nothing
//! there; a rollback never reverts another member's later change.

use serde_json::{Value, json};
use tasklane::access::ProjectRole;
use tasklane::operations::engine::Worker;

use crate::fixtures::{account, ok, project, task};
use crate::operations_support::{rollback, start, wait};
use crate::sharing_support::set_member;
use crate::support::{Backend, TestApp};
use crate::{on_both_backends, on_both_databases};

on_both_backends!(a_rollback_never_reverts_another_members_later_change);
on_both_databases!(a_member_demoted_or_removed_mid_operation_writes_nothing_there);

/// Starts a worker on `app`'s database, as the server would.
async fn worker(app: &TestApp) -> Worker {
    let services = &app.server.as_ref().expect("running").state.services;
    Worker::start(
        &services.db,
        services.events.clone(),
        services.config.operations.clone(),
        services.config.quotas,
        &services.config.pool,
    )
    .await
}

async fn titles_and_statuses(app: &TestApp, token: &str, project: &Value) -> Vec<(String, String)> {
    let data = ok(
        app,
        token,
        "query($p: ID!) { project(id: $p) { tasks(first: 20, orderBy: { field: TITLE, direction: ASC }) {
            edges { node { title status } } } } }",
        json!({ "p": project }),
    )
    .await;
    data["project"]["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["title"].as_str().expect("title").to_owned(),
                n["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

async fn a_member_demoted_or_removed_mid_operation_writes_nothing_there(backend: Backend) {
    // No worker yet: the operations wait, PENDING, while roles change.
    let Some(app) = TestApp::spawn_with(backend, |c| c.operations.worker = false).await else {
        return;
    };
    let owner = account(&app, "owner@example.com").await;
    let demoted = account(&app, "demoted@example.com").await;
    let removed = account(&app, "removed@example.com").await;
    let p = project(&app, &owner.token, "Shared").await;
    for title in ["a", "b", "c"] {
        task(&app, &owner.token, &p["id"], title, json!({})).await;
    }
    set_member(
        &app,
        &p["id"],
        &json!(demoted.id),
        Some(ProjectRole::Editor),
    )
    .await;
    set_member(
        &app,
        &p["id"],
        &json!(removed.id),
        Some(ProjectRole::Editor),
    )
    .await;
    let input = json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": p["id"] },
        "patch": { "status": "DONE" } });
    let by_demoted = start(&app, &demoted.token, input.clone()).await;
    let by_removed = start(&app, &removed.token, input).await;
    assert_eq!(by_demoted["total"], 3, "{by_demoted}");
    assert_eq!(by_removed["total"], 3, "{by_removed}");
    set_member(
        &app,
        &p["id"],
        &json!(demoted.id),
        Some(ProjectRole::Viewer),
    )
    .await;
    set_member(&app, &p["id"], &json!(removed.id), None).await;
    let running = worker(&app).await;
    let done = wait(&app, &demoted.token, &by_demoted["id"]).await;
    assert_eq!(
        (&done["status"], &done["processed"], &done["failed"]),
        (&json!("COMPLETED"), &json!(0), &json!(3)),
        "{done}"
    );
    // The removed member's items are out of its sight: skipped.
    let done = wait(&app, &removed.token, &by_removed["id"]).await;
    assert_eq!(
        (&done["status"], &done["processed"], &done["skipped"]),
        (&json!("COMPLETED"), &json!(0), &json!(3)),
        "{done}"
    );
    running.stop().await;
    let todo = |t: &str| (t.to_owned(), "TODO".to_owned());
    assert_eq!(
        titles_and_statuses(&app, &owner.token, &p["id"]).await,
        vec![todo("a"), todo("b"), todo("c")]
    );
}

async fn a_rollback_never_reverts_another_members_later_change(app: TestApp) {
    let owner = account(&app, "owner@example.com").await;
    let editor = account(&app, "editor@example.com").await;
    let p = project(&app, &owner.token, "Shared").await;
    let a = task(&app, &owner.token, &p["id"], "a", json!({})).await;
    task(&app, &owner.token, &p["id"], "b", json!({})).await;
    set_member(&app, &p["id"], &json!(editor.id), Some(ProjectRole::Editor)).await;
    let op = start(
        &app,
        &owner.token,
        json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": p["id"] },
            "patch": { "status": "IN_PROGRESS" } }),
    )
    .await;
    let done = wait(&app, &owner.token, &op["id"]).await;
    assert_eq!(done["processed"], 2, "{done}");
    // The editor finishes task a after the operation.
    ok(
        &app,
        &editor.token,
        "mutation($id: ID!) { updateTask(id: $id, input: { status: DONE }) { id } }",
        json!({ "id": a["id"] }),
    )
    .await;
    let undo = rollback(&app, &owner.token, &op["id"]).await;
    let undone = wait(&app, &owner.token, &undo["id"]).await;
    assert_eq!(
        (&undone["processed"], &undone["skipped"]),
        (&json!(1), &json!(1)),
        "{undone}"
    );
    assert_eq!(
        titles_and_statuses(&app, &owner.token, &p["id"]).await,
        vec![
            ("a".to_owned(), "DONE".to_owned()),
            ("b".to_owned(), "TODO".to_owned())
        ]
    );
}
