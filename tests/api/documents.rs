//! The fast paths of a request: documents kept parsed (and validated once
//! when sent without variables), and listed tasks resolved without a
//! future per field. Each must answer exactly as the general path does.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, error_code};

on_both_backends!(
    listed_tasks_read_the_same_through_either_path,
    a_document_sent_again_is_checked_again
);

const TASK_FIELDS: &str = "__typename id title description status priority tags dueAt \
                           position completedAt deletedAt version createdAt updatedAt \
                           again: title";

async fn listed_tasks_read_the_same_through_either_path(app: TestApp) {
    let user = app.signup("plain@example.com").await;
    let token = user["accessToken"].as_str();
    let project = app
        .gql(
            "mutation { createProject(input: { name: \"P\" }) { id } }",
            json!({}),
            token,
        )
        .await;
    let project_id = project["data"]["createProject"]["id"].clone();
    let inputs = json!([
        { "projectId": project_id, "title": "plain" },
        { "projectId": project_id, "title": "full \"quoted\" ✓", "description": "d",
          "status": "DONE", "priority": "HIGH", "tags": ["a", "b"],
          "dueAt": "2027-01-02T03:04:05Z", "position": 1.5 },
        { "projectId": project_id, "title": "third", "status": "IN_PROGRESS", "tags": [] },
    ]);
    let created = app
        .gql(
            "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }",
            json!({ "input": inputs }),
            token,
        )
        .await;
    assert_eq!(created["errors"], Value::Null, "{created}");

    // The general path: the same fields behind fragments, which the fast
    // path leaves to async-graphql.
    let general =
        format!("... on TaskEdge {{ cursor node {{ ... on Task {{ {TASK_FIELDS} }} }} }}");
    let plain = format!("cursor node {{ {TASK_FIELDS} }}");
    for shape in [
        "{ projects(first: 5) { edges { node { tasks(first: 10) { edges { EDGE } } } } } }",
        "{ tasks(first: 10, orderBy: { field: TITLE, direction: ASC }) { edges { EDGE } } }",
    ] {
        let fast = app
            .gql(&shape.replace("EDGE", &plain), json!({}), token)
            .await;
        let slow = app
            .gql(&shape.replace("EDGE", &general), json!({}), token)
            .await;
        assert_eq!(fast["errors"], Value::Null, "{fast}");
        assert_eq!(fast, slow);
        let text = fast.to_string();
        for expected in [
            "\"tags\":[\"a\",\"b\"]",
            "\"__typename\":\"Task\"",
            "\"again\":\"plain\"",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    // Two listings of one document whose objects have the same fields in
    // another order, and one with fewer: each object keeps its own keys in
    // its own order (objects of one shape start from a copy of the last).
    let shapes = "{ x: tasks(first: 3) { edges { node { id title } } } \
                  y: tasks(first: 3) { edges { node { title id } } } \
                  z: tasks(first: 3) { edges { node { title } } } }";
    let raw = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token.expect("token"))
        .json(&json!({ "query": shapes }))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    let parsed: Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(parsed["errors"], Value::Null, "{raw}");
    for (list, opening) in [("x", "{\"node\":{\"id\":"), ("y", "{\"node\":{\"title\":")] {
        let part = &raw[raw.find(&format!("\"{list}\":")).expect("listed")..];
        assert!(
            part.starts_with(&format!("\"{list}\":{{\"edges\":[{opening}")),
            "{raw}"
        );
    }
    for edge in parsed["data"]["z"]["edges"].as_array().expect("edges") {
        assert_eq!(edge["node"].as_object().map(|o| o.len()), Some(1), "{raw}");
    }
    for i in 0..3 {
        assert_eq!(
            parsed["data"]["x"]["edges"][i],
            parsed["data"]["y"]["edges"][i]
        );
    }

    // A field that loads (the project) beside plain ones: the general path.
    let mixed = app
        .gql(
            "{ tasks(first: 1) { edges { node { id project { name } } } } }",
            json!({}),
            token,
        )
        .await;
    assert_eq!(
        mixed["data"]["tasks"]["edges"][0]["node"]["project"]["name"], "P",
        "{mixed}"
    );
}

async fn a_document_sent_again_is_checked_again(app: TestApp) {
    let user = app.signup("again@example.com").await;
    let token = user["accessToken"].as_str();

    // Valid, twice (the second time parsed and validated from before).
    let me = "{ me { id email } }";
    let first = app.gql(me, json!({}), token).await;
    let second = app.gql(me, json!({}), token).await;
    assert_eq!(first["errors"], Value::Null, "{first}");
    assert_eq!(first, second);

    // Invalid, twice: refused both times, nothing run.
    for _ in 0..2 {
        let body = app.gql("{ me { id nope } }", json!({}), token).await;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert_eq!(body["data"], Value::Null);
    }

    // A document that ran without variables, sent with a value of the
    // wrong type: validated against it again, as the first time.
    let paged = "query($n: Int = 2) { projects(first: $n) { edges { node { id } } } }";
    let ok = app.gql(paged, json!({}), token).await;
    assert_eq!(ok["errors"], Value::Null, "{ok}");
    let ok = app.gql(paged, json!({}), token).await;
    assert_eq!(ok["errors"], Value::Null, "{ok}");
    let wrong = app.gql(paged, json!({ "n": "two" }), token).await;
    assert_eq!(error_code(&wrong), "GRAPHQL_VALIDATION_FAILED", "{wrong}");
    assert_eq!(wrong["data"], Value::Null);

    // The limits hold for a document seen before: aliases and cost.
    let aliases: String = (0..1000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let costly = "query($n: Int) { tasks(first: $n) { edges { node { project { \
                  tasks(first: $n) { edges { node { project { \
                  tasks(first: $n) { edges { node { id } } } } } } } } } } } }";
    for _ in 0..2 {
        let body = app.gql(&format!("{{ {aliases} }}"), json!({}), token).await;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        let small = app.gql(costly, json!({ "n": 2 }), token).await;
        assert_eq!(small["errors"], Value::Null, "{small}");
        let large = app.gql(costly, json!({ "n": 100 }), token).await;
        assert_eq!(error_code(&large), "GRAPHQL_VALIDATION_FAILED", "{large}");
        assert!(
            large["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("cost")),
            "{large}"
        );
    }

    // Credentials are checked for every request, not once per document.
    let anonymous = app.gql(me, json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
}
