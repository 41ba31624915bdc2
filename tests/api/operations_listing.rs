//! The operations listing pages through every operation once, newest
//! first, with `first` and `after`, filters applied on every page.

use serde_json::{Value, json};

use crate::fixtures::{account, ok, project};
use crate::on_both_backends;
use crate::operations_support::start;
use crate::support::TestApp;

on_both_backends!(operations_page_newest_first_through_cursors);

const PAGE: &str = "query($after: String, $f: OperationFilter) {
    operations(first: 2, after: $after, filter: $f) {
        totalCount edges { node { id kind } cursor } pageInfo { hasNextPage endCursor } } }";

/// Every id the listing gives, page by page.
async fn walk(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = ok(app, token, PAGE, json!({ "after": after, "f": filter })).await;
        let page = &data["operations"];
        for edge in page["edges"].as_array().expect("edges") {
            ids.push(edge["node"]["id"].as_str().expect("id").to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

async fn operations_page_newest_first_through_cursors(app: TestApp) {
    let user = account(&app, "listing@example.com").await;
    let token = user.token.as_str();
    let home = project(&app, token, "Home").await;
    let mut started = Vec::new();
    for i in 0..5 {
        let input = if i % 2 == 0 {
            json!({ "kind": "ARCHIVE_PROJECT", "projectId": home["id"], "dryRun": true })
        } else {
            json!({ "kind": "DEDUPLICATE_TASKS", "dryRun": true })
        };
        let op = start(&app, token, input).await;
        started.push(op["id"].as_str().expect("id").to_owned());
    }
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();
    assert_eq!(walk(&app, token, Value::Null).await, newest_first);
    let archives: Vec<String> = newest_first
        .iter()
        .enumerate()
        .filter(|(i, _)| (4 - i) % 2 == 0)
        .map(|(_, id)| id.clone())
        .collect();
    let filter = json!({ "kind": ["ARCHIVE_PROJECT"] });
    assert_eq!(walk(&app, token, filter).await, archives);
}
