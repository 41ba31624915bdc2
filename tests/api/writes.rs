//! Project and task writes: updates, optimistic locking, bulk all-or-nothing.

use serde_json::{Value, json};

use crate::fixtures::{TASK_FIELDS, account, ok, project, task};
use crate::on_both_backends;
use crate::support::{TestApp, error_code, error_field};

on_both_backends!(
    updates_change_given_fields_and_clear_nulls,
    stale_versions_conflict_with_the_current_object,
    concurrent_updates_with_one_version_let_exactly_one_win,
    bulk_writes_are_all_or_nothing,
);

fn update_task() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateTaskInput!) {{ updateTask(id: $id, input: $input) {{ {TASK_FIELDS} }} }}"
    )
}

async fn updates_change_given_fields_and_clear_nulls(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let q = project(&app, &a.token, "Work").await;
    let t = task(&app, &a.token, &p["id"], "Paint", json!({ "description": "walls",
        "priority": "HIGH", "tags": ["diy", "diy", "home"], "dueAt": "2027-01-02T03:04:05Z", "position": 1.5 })).await;
    assert_eq!(t["tags"], json!(["diy", "home"]));
    assert_eq!(t["version"], 1);
    let data = ok(
        &app,
        &a.token,
        &update_task(),
        json!({ "id": t["id"], "input": {
        "description": null, "status": "DONE", "priority": null, "projectId": q["id"] } }),
    )
    .await;
    let u = &data["updateTask"];
    assert_eq!(u["title"], "Paint", "omitted: unchanged");
    assert_eq!(u["description"], Value::Null, "null: cleared");
    assert_eq!(u["priority"], Value::Null);
    assert_eq!(u["tags"], json!(["diy", "home"]));
    assert_eq!(u["dueAt"], "2027-01-02T03:04:05+00:00");
    assert_eq!(u["status"], "DONE");
    assert!(u["completedAt"].is_string());
    assert_eq!(u["project"]["id"], q["id"]);
    assert_eq!(u["version"], 2);
    let data = ok(
        &app,
        &a.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "status": "TODO", "tags": null, "dueAt": null } }),
    )
    .await;
    let u = &data["updateTask"];
    assert_eq!(
        (
            u["completedAt"].clone(),
            u["tags"].clone(),
            u["dueAt"].clone()
        ),
        (Value::Null, json!([]), Value::Null)
    );
    let body = app
        .gql(
            &update_task(),
            json!({ "id": t["id"], "input": { "title": null } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input.title"),
        "{body}"
    );

    let data = ok(&app, &a.token, "mutation($id: ID!) { updateProject(id: $id, input: { name: \" Home 2 \", description: \"d\" }) { name description version } }", json!({ "id": p["id"] })).await;
    assert_eq!(
        data["updateProject"],
        json!({ "name": "Home 2", "description": "d", "version": 2 })
    );
    let data = ok(&app, &a.token, "mutation($id: ID!) { updateProject(id: $id, input: { description: null }) { name description version } }", json!({ "id": p["id"] })).await;
    assert_eq!(
        data["updateProject"],
        json!({ "name": "Home 2", "description": null, "version": 3 })
    );
}

async fn stale_versions_conflict_with_the_current_object(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t = task(&app, &a.token, &p["id"], "Paint", json!({})).await;
    ok(
        &app,
        &a.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "title": "Paint twice", "expectedVersion": 1 } }),
    )
    .await;
    let body = app
        .gql(
            &update_task(),
            json!({ "id": t["id"], "input": { "title": "lost", "expectedVersion": 1 } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let current = &body["errors"][0]["extensions"]["current"];
    assert_eq!(current["title"], "Paint twice");
    assert_eq!(current["version"], 2);
    assert_eq!(current["id"], t["id"]);
    let body = app
        .gql(
            "mutation($id: ID!) { deleteTask(id: $id, expectedVersion: 1) { id } }",
            json!({ "id": t["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let body = app.gql("mutation($id: ID!) { updateProject(id: $id, input: { name: \"x\", expectedVersion: 7 }) { id } }", json!({ "id": p["id"] }), Some(&a.token)).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["current"]["name"], "Home");
    let data = ok(
        &app,
        &a.token,
        "query($id: ID!) { task(id: $id) { title version } }",
        json!({ "id": t["id"] }),
    )
    .await;
    assert_eq!(
        data["task"],
        json!({ "title": "Paint twice", "version": 2 })
    );
}

async fn concurrent_updates_with_one_version_let_exactly_one_win(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t = task(&app, &a.token, &p["id"], "Race", json!({})).await;
    let query = update_task();
    let calls = (0..50).map(|i| {
        app.gql(&query, json!({ "id": t["id"], "input": { "title": format!("writer {i}"), "expectedVersion": 1 } }), Some(&a.token))
    });
    let results = futures_util::future::join_all(calls).await;
    let won: Vec<&Value> = results.iter().filter(|b| b["errors"].is_null()).collect();
    let conflicts = results
        .iter()
        .filter(|b| error_code(b) == "CONFLICT")
        .count();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(conflicts, 49);
    let data = ok(
        &app,
        &a.token,
        "query($id: ID!) { task(id: $id) { title version } }",
        json!({ "id": t["id"] }),
    )
    .await;
    assert_eq!(data["task"]["version"], 2);
    assert_eq!(data["task"]["title"], won[0]["data"]["updateTask"]["title"]);
}

async fn bulk_writes_are_all_or_nothing(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let foreign = project(&app, &b.token, "Bob's").await;
    let create =
        "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id title tags } }";
    let good = |title: &str| json!({ "projectId": p["id"], "title": title });
    let body = app
        .gql(
            create,
            json!({ "input": [good("one"), good(" "), good("three")] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input[1].title"),
        "{body}"
    );
    let body = app.gql(create, json!({ "input": [good("one"), good("two"), { "projectId": foreign["id"], "title": "x" }] }), Some(&a.token)).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let count = "{ tasks { totalCount } }";
    assert_eq!(
        ok(&app, &a.token, count, json!({})).await["tasks"]["totalCount"],
        0
    );
    let too_many: Vec<Value> = (0..501).map(|i| good(&format!("t{i}"))).collect();
    let body = app
        .gql(create, json!({ "input": too_many }), Some(&a.token))
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input"),
        "{body}"
    );

    let made = ok(
        &app,
        &a.token,
        create,
        json!({ "input": [good("one"), good("two"), good("three")] }),
    )
    .await;
    let mut ids: Vec<Value> = made["createTasks"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    let update = "mutation($ids: [ID!]!, $patch: TaskPatch!) { updateTasks(ids: $ids, patch: $patch) { title status tags version } }";
    let data = ok(
        &app,
        &a.token,
        update,
        json!({ "ids": ids, "patch": { "status": "IN_PROGRESS", "addTags": ["x", "y"] } }),
    )
    .await;
    assert_eq!(
        data["updateTasks"][2],
        json!({ "title": "three", "status": "IN_PROGRESS", "tags": ["x", "y"], "version": 2 })
    );
    let data = ok(
        &app,
        &a.token,
        update,
        json!({ "ids": ids, "patch": { "removeTags": ["x"] } }),
    )
    .await;
    assert_eq!(data["updateTasks"][0]["tags"], json!(["y"]));
    // One id that is not the viewer's: nothing changes.
    let other = task(&app, &b.token, &foreign["id"], "Bob's task", json!({})).await;
    ids.push(other["id"].clone());
    let body = app
        .gql(
            update,
            json!({ "ids": ids, "patch": { "status": "DONE" } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let data = ok(
        &app,
        &a.token,
        "{ tasks(filter: { status: [DONE] }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["tasks"]["totalCount"], 0);
}
