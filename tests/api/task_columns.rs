//! A task listing reads only the columns its selection shows: each field of
//! `Task`, selected alone (plainly, in a named fragment, in an inline one),
//! shows what a read of the whole task shows, in the viewer's listing and
//! in a project's. The fields come from the schema, so a field added later
//! is checked too.

use serde_json::{Value, json};

use crate::fixtures::{account, ok, project, task};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    each_task_field_listed_alone_shows_what_the_whole_task_does,
    a_search_snippet_listed_alone_reads_the_text_it_quotes,
);

/// Each field of `Task` as a selection (an object's as `{ id }`).
async fn task_fields(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let data = ok(
        app,
        token,
        r#"{ __type(name: "Task") { fields { name type { kind ofType { kind ofType { kind } } } } } }"#,
        json!({}),
    )
    .await;
    let fields = data["__type"]["fields"].as_array().expect("fields").clone();
    fields
        .iter()
        .map(|field| {
            let name = field["name"].as_str().expect("name").to_owned();
            let mut kind = &field["type"];
            while kind["ofType"].is_object() {
                kind = &kind["ofType"];
            }
            let selection = match kind["kind"].as_str() {
                Some("OBJECT" | "INTERFACE") => format!("{name} {{ id }}"),
                _ => name.clone(),
            };
            (name, selection)
        })
        .collect()
}

/// The listings a selection of one task (`{node}`) is read through: the
/// viewer's, and each project's, with deleted tasks, oldest first.
fn listings(node: &str, fragment: &str) -> [(&'static str, String); 2] {
    let args = "first: 10, filter: { includeDeleted: true }, orderBy: { field: CREATED_AT }";
    [
        (
            "tasks",
            format!("{{ tasks({args}) {{ edges {{ node {node} }} }} }} {fragment}"),
        ),
        (
            "projects",
            format!(
                "{{ projects(first: 10) {{ edges {{ node {{ tasks({args}) {{ edges {{ node {node} }} }} }} }} }} }} {fragment}"
            ),
        ),
    ]
}

/// The nodes a listing's answer holds, in order.
fn nodes(data: &Value, listing: &str) -> Vec<Value> {
    let connections: Vec<&Value> = match listing {
        "tasks" => vec![&data["tasks"]],
        _ => data["projects"]["edges"]
            .as_array()
            .expect("projects")
            .iter()
            .map(|edge| &edge["node"]["tasks"])
            .collect(),
    };
    connections
        .into_iter()
        .flat_map(|c| c["edges"].as_array().expect("edges").clone())
        .map(|edge| edge["node"].clone())
        .collect()
}

async fn each_task_field_listed_alone_shows_what_the_whole_task_does(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let fields = task_fields(&app, &a.token).await;
    assert!(fields.len() >= 18, "{fields:?}");
    let whole: Vec<&str> = fields
        .iter()
        .filter(|(name, _)| name != "searchSnippet")
        .map(|(_, selection)| selection.as_str())
        .collect();
    let whole = whole.join(" ");

    // Every column set, none at its type's default.
    let every = json!({ "description": "two litres", "priority": "HIGH",
        "tags": ["home", "shop"], "dueAt": "2026-12-24T10:00:00Z", "position": 2.5,
        "assigneeId": a.id, "status": "IN_PROGRESS" });
    let live = task(&app, &a.token, &p["id"], "Buy milk", every.clone()).await;
    let update = "mutation($id: ID!) { updateTask(id: $id, input: { status: DONE }) { id } }";
    ok(&app, &a.token, update, json!({ "id": live["id"] })).await;
    let gone = task(&app, &a.token, &p["id"], "Old", every).await;
    let delete = format!("mutation($id: ID!) {{ deleteTask(id: $id) {{ {whole} }} }}");
    let gone = ok(&app, &a.token, &delete, json!({ "id": gone["id"] })).await["deleteTask"].clone();
    let read = format!("query($id: ID!) {{ task(id: $id) {{ {whole} }} }}");
    let live = ok(&app, &a.token, &read, json!({ "id": live["id"] })).await["task"].clone();
    assert_eq!(live["version"], 2);
    assert!(live["completedAt"].is_string() && gone["deletedAt"].is_string());
    let expected = [live, gone];

    for (name, selection) in fields.iter().filter(|(name, _)| name != "searchSnippet") {
        let shapes = [
            (format!("{{ {selection} }}"), String::new()),
            (
                "{ ...F }".to_owned(),
                format!("fragment F on Task {{ {selection} }}"),
            ),
            (
                format!("{{ ... on Task {{ {selection} }} }}"),
                String::new(),
            ),
        ];
        for (node, fragment) in &shapes {
            for (listing, query) in listings(node, fragment) {
                let data = ok(&app, &a.token, &query, json!({})).await;
                let got: Vec<Value> = nodes(&data, listing)
                    .iter()
                    .map(|node| node[name.as_str()].clone())
                    .collect();
                let want: Vec<Value> = expected.iter().map(|t| t[name.as_str()].clone()).collect();
                assert_eq!(got, want, "{name} through {query}");
            }
        }
    }
}

async fn a_search_snippet_listed_alone_reads_the_text_it_quotes(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let extra = json!({ "description": "two litres of oat", "tags": ["groceries"] });
    task(&app, &a.token, &p["id"], "Buy milk", extra).await;
    for (word, quoted) in [
        ("milk", "<b>milk</b>"),
        ("oat", "<b>oat</b>"),
        ("groceries", "<b>groceries</b>"),
    ] {
        let node = "{ searchSnippet }";
        for (listing, query) in listings(node, "") {
            let query = query.replace(
                "includeDeleted: true",
                &format!("includeDeleted: true, search: \"{word}\""),
            );
            let data = ok(&app, &a.token, &query, json!({})).await;
            let snippets = nodes(&data, listing);
            assert_eq!(snippets.len(), 1, "{query}: {data}");
            let snippet = snippets[0]["searchSnippet"].as_str().unwrap_or_default();
            assert!(
                snippet.contains(quoted),
                "{word} through {listing}: {snippet}"
            );
        }
    }
}
