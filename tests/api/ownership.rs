//! The guard: owner / another user / anonymous / deleted object, for every
//! project and task query, mutation and nested field.

use serde_json::{Value, json};

use crate::fixtures::{account, ids, ok, project, task};
use crate::on_both_backends;
use crate::support::{TestApp, error_code};

on_both_backends!(
    queries_show_only_the_viewers_objects,
    mutations_on_others_objects_are_not_found,
    anonymous_callers_are_unauthenticated,
    deleted_objects_are_hidden_until_restored,
);

const NESTED: &str = "query($id: ID!) {
    project(id: $id) { id owner { id } taskCount
        tasks { totalCount edges { node { id project { id owner { id } } } } } }
    task(id: $id) { id project { id } }
    node(id: $id) { id __typename }
}";

async fn queries_show_only_the_viewers_objects(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let bob = account(&app, "bob@example.com").await;
    let p = project(&app, &alice.token, "Alice's").await;
    let t = task(&app, &alice.token, &p["id"], "secret", json!({})).await;

    // The owner sees everything, nested fields included.
    let data = ok(&app, &alice.token, NESTED, json!({ "id": p["id"] })).await;
    assert_eq!(data["project"]["id"], p["id"]);
    assert_eq!(data["project"]["owner"]["id"], alice.id.as_str());
    assert_eq!(data["project"]["taskCount"], 1);
    assert_eq!(data["project"]["tasks"]["totalCount"], 1);
    assert_eq!(
        ids(&data["project"]["tasks"]),
        vec![t["id"].as_str().unwrap_or_default()]
    );
    assert_eq!(data["node"]["__typename"], "Project");
    let data = ok(&app, &alice.token, NESTED, json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["project"]["id"], p["id"]);
    assert_eq!(data["node"]["__typename"], "Task");
    let data = ok(&app, &alice.token, NESTED, json!({ "id": alice.id })).await;
    assert_eq!(data["node"]["__typename"], "User");

    // Another user gets exactly what a missing id gets: null, empty lists.
    let missing = "0190f0f0-0000-7000-8000-000000000000";
    for id in [
        p["id"].clone(),
        t["id"].clone(),
        json!(alice.id),
        json!(missing),
    ] {
        let data = ok(&app, &bob.token, NESTED, json!({ "id": id })).await;
        assert_eq!(
            data,
            json!({ "project": null, "task": null, "node": null }),
            "{id}"
        );
    }
    let lists = "query($p: ID!) { projects { totalCount edges { node { id } } }
        tasks(filter: { projectId: $p }) { totalCount edges { node { id } } }
        all: tasks { totalCount } }";
    let data = ok(&app, &bob.token, lists, json!({ "p": p["id"] })).await;
    assert_eq!(data["projects"]["totalCount"], 0);
    assert_eq!(data["tasks"]["totalCount"], 0);
    assert_eq!(data["tasks"]["edges"], json!([]));
    assert_eq!(data["all"]["totalCount"], 0);
    let data = ok(&app, &alice.token, lists, json!({ "p": p["id"] })).await;
    assert_eq!(data["projects"]["totalCount"], 1);
    assert_eq!(data["tasks"]["totalCount"], 1);
}

async fn mutations_on_others_objects_are_not_found(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let bob = account(&app, "bob@example.com").await;
    let p = project(&app, &alice.token, "Alice's").await;
    let t = task(&app, &alice.token, &p["id"], "secret", json!({})).await;
    let (pid, tid) = (p["id"].clone(), t["id"].clone());
    let attempts: Vec<(&str, Value)> = vec![
        (
            "mutation($id: ID!) { updateProject(id: $id, input: { name: \"x\" }) { id } }",
            json!({ "id": pid }),
        ),
        (
            "mutation($id: ID!) { archiveProject(id: $id, archived: true) { id } }",
            json!({ "id": pid }),
        ),
        (
            "mutation($id: ID!) { deleteProject(id: $id) { id } }",
            json!({ "id": pid }),
        ),
        (
            "mutation($id: ID!) { restoreProject(id: $id) { id } }",
            json!({ "id": pid }),
        ),
        (
            "mutation($id: ID!) { updateTask(id: $id, input: { title: \"x\" }) { id } }",
            json!({ "id": tid }),
        ),
        (
            "mutation($id: ID!) { deleteTask(id: $id) { id } }",
            json!({ "id": tid }),
        ),
        (
            "mutation($id: ID!) { restoreTask(id: $id) { id } }",
            json!({ "id": tid }),
        ),
        (
            "mutation($id: ID!) { updateTasks(ids: [$id], patch: { status: DONE }) { id } }",
            json!({ "id": tid }),
        ),
        (
            "mutation($id: ID!) { createTask(input: { projectId: $id, title: \"x\" }) { id } }",
            json!({ "id": pid }),
        ),
        (
            "mutation($id: ID!) { createTasks(input: [{ projectId: $id, title: \"x\" }]) { id } }",
            json!({ "id": pid }),
        ),
    ];
    for (query, vars) in &attempts {
        let body = app.gql(query, vars.clone(), Some(&bob.token)).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{query}: {body}");
        assert_eq!(body["data"], Value::Null, "{query}: {body}");
    }
    // Choosing the id of someone else's object never returns it.
    let body = app
        .gql(
            "mutation($id: ID!, $p: ID!) { createTask(input: { id: $id, projectId: $p, title: \"mine\" }) { id title } }",
            json!({ "id": tid, "p": project(&app, &bob.token, "Bob's").await["id"] }),
            Some(&bob.token),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(!body.to_string().contains("secret"), "{body}");
    // Nothing changed.
    let data = ok(
        &app,
        &alice.token,
        "query($p: ID!, $t: ID!) { project(id: $p) { name version archived } task(id: $t) { title version status } }",
        json!({ "p": pid, "t": tid }),
    )
    .await;
    assert_eq!(
        data["project"],
        json!({ "name": "Alice's", "version": 1, "archived": false })
    );
    assert_eq!(
        data["task"],
        json!({ "title": "secret", "version": 1, "status": "TODO" })
    );
}

async fn anonymous_callers_are_unauthenticated(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let p = project(&app, &alice.token, "Alice's").await;
    let t = task(&app, &alice.token, &p["id"], "secret", json!({})).await;
    let docs = [
        "query($id: ID!) { project(id: $id) { id } }",
        "query($id: ID!) { task(id: $id) { id } }",
        "query($id: ID!) { node(id: $id) { id } }",
        "query { projects { totalCount } }",
        "query { tasks { totalCount } }",
        "mutation { createProject(input: { name: \"x\" }) { id } }",
        "mutation($id: ID!) { updateProject(id: $id, input: { name: \"x\" }) { id } }",
        "mutation($id: ID!) { archiveProject(id: $id, archived: true) { id } }",
        "mutation($id: ID!) { deleteProject(id: $id) { id } }",
        "mutation($id: ID!) { restoreProject(id: $id) { id } }",
        "mutation($id: ID!) { createTask(input: { projectId: $id, title: \"x\" }) { id } }",
        "mutation($id: ID!) { updateTask(id: $id, input: { title: \"x\" }) { id } }",
        "mutation($id: ID!) { deleteTask(id: $id) { id } }",
        "mutation($id: ID!) { restoreTask(id: $id) { id } }",
        "mutation($id: ID!) { createTasks(input: [{ projectId: $id, title: \"x\" }]) { id } }",
        "mutation($id: ID!) { updateTasks(ids: [$id], patch: { status: DONE }) { id } }",
    ];
    for doc in docs {
        let id = if doc.contains("Task(id") || doc.contains("task(") || doc.contains("ids:") {
            &t["id"]
        } else {
            &p["id"]
        };
        let vars = if doc.contains("$id") {
            json!({ "id": id })
        } else {
            json!({})
        };
        let body = app.gql(doc, vars, None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{doc}: {body}");
        assert!(!body.to_string().contains("secret"), "{body}");
    }
}

async fn deleted_objects_are_hidden_until_restored(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let tok = alice.token.as_str();
    let p = project(&app, tok, "Doomed").await;
    let t = task(&app, tok, &p["id"], "inside", json!({})).await;
    let gone = task(&app, tok, &p["id"], "gone", json!({})).await;
    let deleted = ok(
        &app,
        tok,
        "mutation($id: ID!) { deleteTask(id: $id) { deletedAt version } }",
        json!({ "id": gone["id"] }),
    )
    .await;
    assert!(deleted["deleteTask"]["deletedAt"].is_string());
    assert_eq!(deleted["deleteTask"]["version"], 2);

    let data = ok(&app, tok, NESTED, json!({ "id": gone["id"] })).await;
    assert_eq!(data, json!({ "project": null, "task": null, "node": null }));
    let body = app
        .gql(
            "mutation($id: ID!) { updateTask(id: $id, input: { title: \"x\" }) { id } }",
            json!({ "id": gone["id"] }),
            Some(tok),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    // Deleting the project hides it and its tasks, everywhere.
    ok(
        &app,
        tok,
        "mutation($id: ID!) { deleteProject(id: $id) { id } }",
        json!({ "id": p["id"] }),
    )
    .await;
    for id in [&p["id"], &t["id"]] {
        let data = ok(&app, tok, NESTED, json!({ "id": id })).await;
        assert_eq!(
            data,
            json!({ "project": null, "task": null, "node": null }),
            "{id}"
        );
    }
    let lists = "{ projects { totalCount } tasks { totalCount }
        withDeleted: tasks(filter: { includeDeleted: true }) { totalCount }
        deletedProjects: projects(filter: { includeDeleted: true }) { edges { node { id deletedAt taskCount tasks { totalCount } } } } }";
    let data = ok(&app, tok, lists, json!({})).await;
    assert_eq!(data["projects"]["totalCount"], 0);
    assert_eq!(data["tasks"]["totalCount"], 0);
    assert_eq!(data["withDeleted"]["totalCount"], 2);
    let node = &data["deletedProjects"]["edges"][0]["node"];
    assert!(node["deletedAt"].is_string(), "{data}");
    assert_eq!(node["taskCount"], 0);
    assert_eq!(node["tasks"]["totalCount"], 0);
    for doc in [
        "mutation($id: ID!) { updateProject(id: $id, input: { name: \"x\" }) { id } }",
        "mutation($id: ID!) { deleteProject(id: $id) { id } }",
    ] {
        let body = app.gql(doc, json!({ "id": p["id"] }), Some(tok)).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{doc}: {body}");
    }
    let body = app
        .gql(
            "mutation($id: ID!) { restoreTask(id: $id) { id } }",
            json!({ "id": gone["id"] }),
            Some(tok),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "NOT_FOUND",
        "a task of a deleted project stays deleted: {body}"
    );

    // Restoring the project brings back its live task, not the deleted one.
    let restored = ok(
        &app,
        tok,
        "mutation($id: ID!) { restoreProject(id: $id) { deletedAt version } }",
        json!({ "id": p["id"] }),
    )
    .await;
    assert_eq!(
        restored["restoreProject"],
        json!({ "deletedAt": null, "version": 3 })
    );
    let data = ok(&app, tok, NESTED, json!({ "id": p["id"] })).await;
    assert_eq!(
        ids(&data["project"]["tasks"]),
        vec![t["id"].as_str().unwrap_or_default()]
    );
    let data = ok(
        &app,
        tok,
        "mutation($id: ID!) { restoreTask(id: $id) { deletedAt version } }",
        json!({ "id": gone["id"] }),
    )
    .await;
    assert_eq!(
        data["restoreTask"],
        json!({ "deletedAt": null, "version": 3 })
    );
    let data = ok(&app, tok, "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(data["tasks"]["totalCount"], 2);

    // Archive is not delete: an archived project stays visible.
    ok(
        &app,
        tok,
        "mutation($id: ID!) { archiveProject(id: $id, archived: true) { id } }",
        json!({ "id": p["id"] }),
    )
    .await;
    let data = ok(&app, tok, "{ all: projects { totalCount } archived: projects(filter: { archived: true }) { totalCount }
        active: projects(filter: { archived: false }) { totalCount } tasks { totalCount } }", json!({})).await;
    assert_eq!(
        data,
        json!({ "all": { "totalCount": 1 }, "archived": { "totalCount": 1 },
        "active": { "totalCount": 0 }, "tasks": { "totalCount": 2 } })
    );
}
