//! Helpers for the sync tests: the `changes` and `sync` documents and
//! server-side writes, as a client would make them.

use serde_json::{Value, json};

use crate::fixtures::ok;
use crate::support::TestApp;

const CHANGE_SET: &str = "projects { id name description archived deletedAt version }
    tasks { id title status tags deletedAt version project { id } }
    revokedProjectIds removedTaskIds cursor hasMore";

pub fn changes_query() -> String {
    format!(
        "query($since: String, $first: Int) {{ changes(since: $since, first: $first) {{ {CHANGE_SET} }} }}"
    )
}

pub fn sync_mutation() -> String {
    format!(
        "mutation($input: SyncInput!) {{ sync(input: $input) {{ applied
        conflicts {{ id reason serverProject {{ id name version deletedAt }}
            serverTask {{ id title version deletedAt }} }}
        changes {{ {CHANGE_SET} }} }} }}"
    )
}

/// One page of changes after `since`.
pub async fn changes(app: &TestApp, token: &str, since: &Value, first: Option<i64>) -> Value {
    let data = ok(
        app,
        token,
        &changes_query(),
        json!({ "since": since, "first": first }),
    )
    .await;
    data["changes"].clone()
}

/// Runs `sync` with `input`, which must succeed.
pub async fn sync(app: &TestApp, token: &str, input: Value) -> Value {
    let data = ok(app, token, &sync_mutation(), json!({ "input": input })).await;
    data["sync"].clone()
}

/// `field` of each object in a list.
pub fn list(items: &Value, field: &str) -> Vec<Value> {
    items
        .as_array()
        .expect("list")
        .iter()
        .map(|item| item[field].clone())
        .collect()
}

/// The object with this id in a list.
pub fn find<'a>(items: &'a Value, id: &Value) -> &'a Value {
    items
        .as_array()
        .expect("list")
        .iter()
        .find(|item| &item["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {items}"))
}

pub async fn update_task(app: &TestApp, token: &str, id: &Value, input: Value) -> Value {
    let data = ok(
        app,
        token,
        "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id version } }",
        json!({ "id": id, "input": input }),
    )
    .await;
    data["updateTask"].clone()
}

pub async fn delete_task(app: &TestApp, token: &str, id: &Value) -> Value {
    let data = ok(
        app,
        token,
        "mutation($id: ID!) { deleteTask(id: $id) { id version } }",
        json!({ "id": id }),
    )
    .await;
    data["deleteTask"].clone()
}

pub async fn restore_task(app: &TestApp, token: &str, id: &Value) -> Value {
    let data = ok(
        app,
        token,
        "mutation($id: ID!) { restoreTask(id: $id) { id version } }",
        json!({ "id": id }),
    )
    .await;
    data["restoreTask"].clone()
}

pub fn new_id() -> Value {
    Value::String(uuid::Uuid::new_v4().to_string())
}
