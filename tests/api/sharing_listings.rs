//! `Project.members` in a listing: the members of every project listed
//! are loaded in one statement, and counted in one, whatever the number of
//! projects; each project's page (rows, cursors, page info, total) is the
//! one the project gets on its own.

use serde_json::{Value, json};
use tasklane::access::ProjectRole;

use crate::fixtures::{account, ok, project};
use crate::on_both_backends;
use crate::sharing_support::share;
use crate::support::TestApp;

on_both_backends!(members_of_a_listing_cost_the_same_statements_at_any_size);

const MEMBERS: &str = "members(first: $first, after: $after) { totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { role since user { id email } } } }";

fn listing() -> String {
    format!(
        "query($n: Int!, $first: Int, $after: String) {{
        projects(first: $n, orderBy: {{ field: NAME }}) {{ edges {{ node {{ id {MEMBERS} }} }} }} }}"
    )
}

fn one_project() -> String {
    format!(
        "query($id: ID!, $first: Int, $after: String) {{ project(id: $id) {{ id {MEMBERS} }} }}"
    )
}

async fn members_of_a_listing_cost_the_same_statements_at_any_size(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let bob = account(&app, "bob@example.com").await;
    let carol = account(&app, "carol@example.com").await;
    for n in 0..30 {
        let p = project(&app, &alice.token, &format!("p{n:02}")).await;
        let id = p["id"].as_str().expect("id");
        share(&app, id, &bob.id, ProjectRole::Editor).await;
        if n % 2 == 0 {
            share(&app, id, &carol.id, ProjectRole::Viewer).await;
        }
    }
    let mut costs = Vec::new();
    for n in [1, 10, 30] {
        let vars = json!({ "n": n, "first": 2 });
        let before = app.database().statement_count();
        let data = ok(&app, &alice.token, &listing(), vars).await;
        costs.push(app.database().statement_count() - before);
        let projects = data["projects"]["edges"].as_array().expect("edges");
        assert_eq!(projects.len(), n);
        for (i, p) in projects.iter().enumerate() {
            let members = &p["node"]["members"];
            let emails: Vec<&Value> = members["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| &e["node"]["user"]["email"])
                .collect();
            assert_eq!(emails, ["alice@example.com", "bob@example.com"]);
            assert_eq!(members["totalCount"], if i % 2 == 0 { 3 } else { 2 });
            assert_eq!(members["pageInfo"]["hasNextPage"], i % 2 == 0);
        }
    }
    assert!(
        costs.iter().all(|&c| c == costs[0] && c <= 4),
        "statements per request: {costs:?}"
    );
    assert!(costs[0] >= 2, "the counter counts: {costs:?}");

    // Each project's page, from the start and from a cursor, as on its own.
    let vars = json!({ "n": 4, "first": 1 });
    let data = ok(&app, &bob.token, &listing(), vars).await;
    let listed = data["projects"]["edges"].as_array().expect("edges");
    let after = listed[0]["node"]["members"]["pageInfo"]["endCursor"].clone();
    let vars = json!({ "n": 4, "first": 1, "after": after });
    let next = ok(&app, &bob.token, &listing(), vars).await;
    let next = next["projects"]["edges"].as_array().expect("edges");
    for (start, from_cursor) in listed.iter().zip(next) {
        let id = &start["node"]["id"];
        let alone = |after: &Value| json!({ "id": id, "first": 1, "after": after });
        let own = ok(&app, &bob.token, &one_project(), alone(&Value::Null)).await;
        assert_eq!(own["project"], start["node"]);
        let own = ok(&app, &bob.token, &one_project(), alone(&after)).await;
        assert_eq!(own["project"], from_cursor["node"]);
        assert_eq!(
            from_cursor["node"]["members"]["pageInfo"]["hasPreviousPage"],
            true
        );
    }
    // The cursor was the first project's: there, Bob follows Alice.
    let second = &next[0]["node"]["members"]["edges"][0]["node"];
    assert_eq!(second["user"]["id"], json!(bob.id), "{second}");
}
