//! Query cost: lists multiply, so a nesting whose answer would be huge is
//! refused before execution, with its cost, over HTTP and at subscribe;
//! the queries clients really send still pass.

use serde_json::{Value, json};

use crate::fixtures::{account, ok, project, task};
use crate::on_both_backends;
use crate::support::{TestApp, error_code};
use crate::ws_support::{TRANSPORT_WS, Ws};

on_both_backends!(
    nested_pages_are_refused_with_their_cost,
    the_contract_queries_pass,
    a_costly_subscription_is_refused_at_subscribe,
);

/// `tasks(first:100)` three times through `project`: a million rows (55 MB).
const TRIPLE: &str = "{ tasks(first: 100) { edges { node { project {
    tasks(first: 100) { edges { node { project {
      tasks(first: 100) { edges { node { id } } } } } } } } } } } }";
/// Its cost: inner 2 + 100 × 2; middle 2 + 100 × (3 + inner);
/// outer 2 + 100 × (2 + middle).
const TRIPLE_COST: u64 = 2_040_402;
const LIMIT: u64 = 25_000;

fn assert_over_cost(body: &Value, cost: u64) {
    assert_eq!(error_code(body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["cost"], cost, "{body}");
    assert_eq!(error["extensions"]["limit"], LIMIT, "{body}");
    assert_eq!(
        error["message"],
        format!("Query cost {cost} is over the limit of {LIMIT} (TASKLANE_MAX_COMPLEXITY)")
    );
}

async fn nested_pages_are_refused_with_their_cost(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    task(&app, &a.token, &p["id"], "One", json!({})).await;

    let body = app.gql(TRIPLE, json!({}), Some(&a.token)).await;
    assert_over_cost(&body, TRIPLE_COST);

    // The same through variables, a fragment and an inline fragment.
    let hidden = "query($n: Int) { tasks(first: $n) { ...Deeper } }
        fragment Deeper on TaskConnection { edges { node { project {
          tasks(first: 100) { edges { node { ... on Task { project {
            tasks(last: $n) { edges { node { id } } } } } } } } } } } }";
    let body = app.gql(hidden, json!({ "n": 100 }), Some(&a.token)).await;
    assert_over_cost(&body, TRIPLE_COST);
    // Without `first`, a connection counts its largest page (100).
    let body = app.gql(hidden, json!({}), Some(&a.token)).await;
    assert_over_cost(&body, TRIPLE_COST);
    // Small pages make the same document cheap: it runs.
    let data = ok(&app, &a.token, hidden, json!({ "n": 2 })).await;
    let inner = &data["tasks"]["edges"][0]["node"]["project"]["tasks"]["edges"][0]["node"];
    assert!(
        inner["project"]["tasks"]["edges"][0]["node"]["id"].is_string(),
        "{data}"
    );

    // A mutation's result counts too: 500 tasks, each with 100 of its
    // project's tasks (the document is refused before anything is written).
    let bulk = "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) {
        project { tasks { edges { node { id title } } } } } }";
    let input: Vec<Value> = (0..500)
        .map(|i| json!({ "projectId": p["id"], "title": format!("t{i}") }))
        .collect();
    let body = app
        .gql(bulk, json!({ "input": input }), Some(&a.token))
        .await;
    assert_over_cost(&body, 1 + 500 * (1 + 2 + 100 * 3));
    let data = ok(&app, &a.token, "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(data["tasks"]["totalCount"], 1);
}

async fn the_contract_queries_pass(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    task(&app, &a.token, &p["id"], "One", json!({ "tags": ["x"] })).await;

    // benches/nested.sh: 10 projects × 20 tasks (cost 1,052).
    let nested = "query ProjectsWithTasks { projects(first: 10) { edges { node { id name
        tasks(first: 20) { edges { node { id title status tags } } } } } } }";
    let data = ok(&app, &a.token, nested, json!({})).await;
    let node = &data["projects"]["edges"][0]["node"];
    assert_eq!(node["tasks"]["edges"][0]["node"]["tags"], json!(["x"]));

    // The largest page of each list, with no `first` (the defaults).
    let pages = "{ me { id } projects { totalCount pageInfo { hasNextPage }
          edges { cursor node { id name taskCount tasks { totalCount } } } }
        tasks { edges { node { id title tags project { id name } } } }
        operations { edges { node { id status } } }
        changes { projects { id name } tasks { id title tags } cursor hasMore }
        sessions { id current } apiKeys { id name } }";
    let data = ok(&app, &a.token, pages, json!({})).await;
    assert_eq!(data["projects"]["totalCount"], 1);
}

async fn a_costly_subscription_is_refused_at_subscribe(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let costly = "subscription { taskEvents { task { project {
        tasks(first: 100) { edges { node { project {
          tasks(first: 100) { edges { node { project {
            tasks(first: 100) { edges { node { id } } } } } } } } } } } } } } }";
    ws.subscribe("big", costly, json!({})).await;
    let message = ws.next().await.expect("an answer");
    assert_eq!(message["id"], "big", "{message}");
    // `error` carries the errors; `next` carries a response with them.
    let errors = match message["type"].as_str() {
        Some("error") => message["payload"].clone(),
        _ => message["payload"]["errors"].clone(),
    };
    let body = json!({ "data": null, "errors": errors });
    // taskEvents, task and project around the same triple nesting.
    assert_over_cost(&body, TRIPLE_COST + 3);

    // The connection stays, and a subscription within the limit is served.
    ws.subscribe(
        "small",
        "subscription { taskEvents { type task { id title } } }",
        json!({}),
    )
    .await;
    // No event is missed once the server has the subscription: retry the
    // write until one arrives.
    let mut payload = None;
    for i in 0..20 {
        task(&app, &a.token, &p["id"], &format!("Seen {i}"), json!({})).await;
        if let Some(Some(message)) = ws.next_within(std::time::Duration::from_millis(250)).await {
            if message["id"] == "big" && message["type"] == "complete" {
                continue;
            }
            payload = Some(message);
            break;
        }
    }
    let message = payload.expect("an event for the small subscription");
    assert_eq!(message["id"], "small", "{message}");
    assert_eq!(message["payload"]["data"]["taskEvents"]["type"], "CREATED");
}
