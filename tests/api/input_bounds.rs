//! Input bounds at the size of a whole request body (1 MiB): every list is
//! counted before any of its items is looked at, so a list that is too long
//! is refused as a whole (the list named, not its first bad item), and the
//! filter strings have length limits.

use serde_json::{Value, json};

use crate::fixtures::{account, ok, project, task};
use crate::support::{Backend, TestApp, error_code, error_field};
use crate::{on_both_backends, on_both_databases};

on_both_backends!(
    tag_lists_are_counted_before_their_tags,
    filters_are_bounded,
    no_text_holds_a_nul_character,
);
on_both_databases!(an_import_is_counted_before_its_items);

/// 170,000 tags in about 850 KB; the first is empty, so a check of each tag
/// before the count would name `…tags[0]`.
fn many_tags() -> Vec<String> {
    let mut tags = vec![String::new()];
    tags.extend((1..170_000).map(|i| format!("{}{}", (b'a' + (i % 26) as u8) as char, i % 10)));
    tags
}

fn assert_refused(body: &Value, field: &str, rule: &str) {
    assert_eq!(
        (error_code(body), error_field(body)),
        ("BAD_USER_INPUT", field),
        "{}",
        &body.to_string()[..body.to_string().len().min(400)]
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(rule), "{message}");
}

async fn tag_lists_are_counted_before_their_tags(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t = task(&app, &a.token, &p["id"], "One", json!({ "tags": ["keep"] })).await;
    let tags = many_tags();
    let at_most = "at most 20 tags";

    let body = app
        .gql(
            "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            json!({ "input": { "projectId": p["id"], "title": "x", "tags": tags } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input.tags", at_most);

    let body = app
        .gql(
            "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }",
            json!({ "id": t["id"], "input": { "tags": tags } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input.tags", at_most);

    let body = app
        .gql(
            "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }",
            json!({ "input": [{ "projectId": p["id"], "title": "x", "tags": tags }] }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input[0].tags", at_most);

    // removeTags had no limit at all: 170,000 were accepted.
    let update = "mutation($ids: [ID!]!, $patch: TaskPatch!) { updateTasks(ids: $ids, patch: $patch) { id tags } }";
    for name in ["addTags", "removeTags"] {
        let body = app
            .gql(
                update,
                json!({ "ids": [t["id"]], "patch": { name: tags } }),
                Some(&a.token),
            )
            .await;
        assert_refused(&body, &format!("patch.{name}"), at_most);
    }
    // The id list of updateTasks at body size: 25,000 ids.
    let ids = vec![t["id"].clone(); 25_000];
    let body = app
        .gql(
            update,
            json!({ "ids": ids, "patch": { "status": "DONE" } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "ids", "at most 500");

    // sync: each change's tags.
    let change = json!({ "id": "01900000-0000-7000-8000-000000000001",
        "projectId": p["id"], "title": "s", "tags": tags });
    let body = app
        .gql(
            "mutation($input: SyncInput!) { sync(input: $input) { applied } }",
            json!({ "input": { "tasks": [change] } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input.tasks[0].tags", at_most);
    // An operation's patch and imported tasks.
    let start = "mutation($input: StartOperationInput!) { startOperation(input: $input) { id } }";
    let body = app
        .gql(
            start,
            json!({ "input": { "kind": "UPDATE_TASKS", "filter": {}, "patch": { "removeTags": tags } } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input.patch.removeTags", at_most);
    let body = app
        .gql(
            start,
            json!({ "input": { "kind": "IMPORT", "dryRun": true,
                "importData": { "projects": [], "tasks": [change] } } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input.importData.tasks[0].tags", at_most);

    // Nothing was written; a tag list with repeats still collapses.
    let data = ok(
        &app,
        &a.token,
        update,
        json!({ "ids": [t["id"], t["id"]], "patch": { "addTags": ["b", "b", " b "], "removeTags": ["keep"] } }),
    )
    .await;
    assert_eq!(
        data["updateTasks"],
        json!([{ "id": t["id"], "tags": ["b"] }])
    );
}

async fn filters_are_bounded(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    task(
        &app,
        &a.token,
        &p["id"],
        "Paint the fence",
        json!({ "tags": ["diy"] }),
    )
    .await;
    let tasks = "query($f: TaskFilter) { tasks(first: 1, filter: $f) { totalCount } }";
    let huge = "x".repeat(1_000_000);

    // An enum list as long as the body: one bind parameter each, before.
    let body = app
        .gql(
            tasks,
            json!({ "f": { "status": vec!["TODO"; 140_000] } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "filter.status", "at most 3 values");
    let body = app
        .gql(
            tasks,
            json!({ "f": { "priority": vec!["LOW"; 140_000] } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "filter.priority", "at most 4 values");
    let body = app
        .gql(
            "query($f: OperationFilter) { operations(first: 1, filter: $f) { totalCount } }",
            json!({ "f": { "status": vec!["RUNNING"; 100_000] } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "filter.status", "at most 6 values");

    // Search and tag strings.
    let body = app
        .gql(tasks, json!({ "f": { "search": huge } }), Some(&a.token))
        .await;
    assert_refused(&body, "filter.search", "at most 200 characters");
    let body = app
        .gql(tasks, json!({ "f": { "tag": huge } }), Some(&a.token))
        .await;
    assert_refused(&body, "filter.tag", "at most 50 characters");
    let body = app
        .gql(
            "query($f: ProjectFilter) { projects(first: 1, filter: $f) { totalCount } }",
            json!({ "f": { "search": huge } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "filter.search", "at most 200 characters");

    // Within the limits, the filters work as before.
    let data = ok(
        &app,
        &a.token,
        tasks,
        json!({ "f": { "status": ["TODO", "TODO", "DONE"], "tag": " diy ", "search": "x".repeat(200) } }),
    )
    .await;
    assert_eq!(data["tasks"]["totalCount"], 0);
    let data = ok(
        &app,
        &a.token,
        tasks,
        json!({ "f": { "status": ["TODO", "TODO"], "tag": "diy", "search": "fence" } }),
    )
    .await;
    assert_eq!(data["tasks"]["totalCount"], 1);
}

async fn an_import_is_counted_before_its_items(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.operations.max_items = 10).await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    // The first item is invalid: counting first names the whole import.
    let items: Vec<Value> = (0..11)
        .map(|i| json!({ "id": if i == 0 { "nope".to_owned() } else { format!("01900000-0000-7000-8000-{i:012}") },
            "projectId": p["id"], "title": "i" }))
        .collect();
    let body = app
        .gql(
            "mutation($input: StartOperationInput!) { startOperation(input: $input) { id } }",
            json!({ "input": { "kind": "IMPORT", "dryRun": true,
                "importData": { "projects": [], "tasks": items } } }),
            Some(&a.token),
        )
        .await;
    assert_refused(&body, "input.importData", "more than 10 items");
}

/// U+0000 (which PostgreSQL can not store) is refused in any argument, as
/// a literal or in a variable, before anything runs, naming where it was;
/// found by the fuzzed-schema test (an INTERNAL error on PostgreSQL).
async fn no_text_holds_a_nul_character(app: TestApp) {
    let a = account(&app, "nul@example.com").await;
    let p = project(&app, &a.token, "Clean").await;
    let search = app
        .gql(
            "{ projects(filter: { search: \"a\\u0000b\" }) { totalCount } }",
            json!({}),
            Some(&a.token),
        )
        .await;
    assert_refused(&search, "filter.search", "U+0000");
    let create = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }";
    let input = json!({ "input": { "projectId": p["id"], "title": "nul\u{0}inside" } });
    let created = app.gql(create, input, Some(&a.token)).await;
    assert_refused(&created, "$input.title", "U+0000");
    let listed = ok(&app, &a.token, "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(listed["tasks"]["totalCount"], 0, "nothing written");
    let tags = "mutation { createTask(input: { projectId: \"x\", title: \"t\", tags: [\"ok\", \"\\u0000\"] }) { id } }";
    assert_refused(
        &app.gql(tags, json!({}), Some(&a.token)).await,
        "input.tags[1]",
        "U+0000",
    );
}
