//! Helpers for the project and task tests: users, projects and tasks made
//! through the API, as a client would.

use serde_json::{Value, json};

use crate::support::TestApp;

pub const TASK_FIELDS: &str = "id title description status priority tags dueAt position
    completedAt deletedAt version project { id }";

/// A signed-up user: token and id.
pub struct Account {
    pub token: String,
    pub id: String,
}

pub async fn account(app: &TestApp, email: &str) -> Account {
    let payload = app.signup(email).await;
    Account {
        token: payload["accessToken"].as_str().expect("token").to_owned(),
        id: payload["user"]["id"].as_str().expect("id").to_owned(),
    }
}

/// Runs a document that must succeed; returns `data`.
pub async fn ok(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = app.gql(query, variables, Some(token)).await;
    assert_eq!(body["errors"], Value::Null, "{query}: {body}");
    body["data"].clone()
}

pub async fn project(app: &TestApp, token: &str, name: &str) -> Value {
    let data = ok(
        app,
        token,
        "mutation($input: CreateProjectInput!) { createProject(input: $input) {
            id name description archived deletedAt version } }",
        json!({ "input": { "name": name } }),
    )
    .await;
    data["createProject"].clone()
}

/// Creates a task in `project_id`; `extra` adds fields to the input.
pub async fn task(
    app: &TestApp,
    token: &str,
    project_id: &Value,
    title: &str,
    extra: Value,
) -> Value {
    let mut input = json!({ "projectId": project_id, "title": title });
    for (k, v) in extra.as_object().expect("object") {
        input[k] = v.clone();
    }
    let data = ok(
        app,
        token,
        &format!(
            "mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {TASK_FIELDS} }} }}"
        ),
        json!({ "input": input }),
    )
    .await;
    data["createTask"].clone()
}

/// Ids of a connection's nodes, in order.
pub fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A field of each node, in order.
pub fn field(connection: &Value, name: &str) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"][name].clone())
        .collect()
}
