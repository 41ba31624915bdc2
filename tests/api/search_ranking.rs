//! Ranking by relevance: the better match first, RELEVANCE only with a
//! search, and keyset pages by relevance, in the listing and in a
//! project's tasks, stable and complete.

use serde_json::{Value, json};

use crate::fixtures::{account, ids, ok, project, task};
use crate::on_both_backends;
use crate::search::{SEARCH, id, search};
use crate::support::{TestApp, error_code, error_field};

on_both_backends!(
    relevance_puts_the_better_match_first,
    pages_by_relevance_are_stable_and_complete,
    a_projects_tasks_by_relevance_page_as_the_listing_does,
);

async fn relevance_puts_the_better_match_first(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t = |title: &'static str, extra: Value| {
        let (app, tok, pid) = (&app, a.token.clone(), p["id"].clone());
        async move { id(&task(app, &tok, &pid, title, extra).await) }
    };
    let once = t(
        "Notes",
        json!({ "description": "we talked about the garden and the budget" }),
    )
    .await;
    let twice = t("Garden: plan the garden", json!({})).await;
    let tag = t("Shopping", json!({ "tags": ["garden"] })).await;

    let best_first = [twice.clone(), tag.clone(), once.clone()];
    let by = |direction: Value| json!({ "field": "RELEVANCE", "direction": direction });
    let ranked = search(&app, &a.token, "garden", by(Value::Null)).await;
    assert_eq!(ranked.ids, best_first, "without a direction, best first");
    let desc = search(&app, &a.token, "garden", by(json!("DESC"))).await;
    assert_eq!(desc.ids, best_first);
    let asc = search(&app, &a.token, "gard", by(json!("ASC"))).await;
    let worst_first: Vec<String> = best_first.iter().rev().cloned().collect();
    assert_eq!(asc.ids, worst_first);

    // Relevance needs a search to rank by.
    for filter in [
        json!({}),
        json!({ "search": "   " }),
        json!({ "tag": "garden" }),
    ] {
        let body = app
            .gql(
                SEARCH,
                json!({ "f": filter, "o": { "field": "RELEVANCE" } }),
                Some(&a.token),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(error_field(&body), "orderBy.field", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("filter.search"), "{message}");
    }
}

const RANKED_PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
    tasks(first: $first, after: $after, last: $last, before: $before,
          filter: { search: \"garden\" }, orderBy: { field: RELEVANCE }) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } } } }";

async fn pages_by_relevance_are_stable_and_complete(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    // Seven matches, three of them with the same relevance, and one other.
    let titles = [
        "garden garden garden",
        "garden",
        "garden",
        "garden",
        "weed the garden beds",
        "water",
    ];
    for title in titles {
        task(&app, &a.token, &p["id"], title, json!({})).await;
    }
    task(
        &app,
        &a.token,
        &p["id"],
        "Notes",
        json!({ "description": "garden" }),
    )
    .await;
    task(
        &app,
        &a.token,
        &p["id"],
        "Seeds",
        json!({ "tags": ["garden"] }),
    )
    .await;
    let all = search(&app, &a.token, "garden", json!({ "field": "RELEVANCE" })).await;
    assert_eq!(all.ids.len(), 7);

    let mut forward = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let vars = json!({ "first": 2, "after": after });
        let conn = ok(&app, &a.token, RANKED_PAGE, vars).await["tasks"].clone();
        assert_eq!(conn["totalCount"], 7);
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        forward.extend(ids(&conn));
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 4);
    assert_eq!(
        forward, all.ids,
        "every match once, in the order of one page"
    );

    let mut backward = Vec::new();
    let mut before = Value::Null;
    loop {
        let vars = json!({ "last": 3, "before": before });
        let conn = ok(&app, &a.token, RANKED_PAGE, vars).await["tasks"].clone();
        let mut page = ids(&conn);
        page.reverse();
        backward.extend(page);
        if conn["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = conn["pageInfo"]["startCursor"].clone();
    }
    backward.reverse();
    assert_eq!(backward, all.ids, "backwards too");

    // A cursor of another order is refused, by name.
    let by_title = ok(
        &app,
        &a.token,
        "{ tasks(first: 1, orderBy: { field: TITLE }) { pageInfo { endCursor } } }",
        json!({}),
    )
    .await;
    let cursor = &by_title["tasks"]["pageInfo"]["endCursor"];
    let body = app
        .gql(
            RANKED_PAGE,
            json!({ "first": 2, "after": cursor }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_field(&body), "after", "{body}");
}

/// A project's tasks by relevance read as one statement for every project
/// (on SQLite, parts put back in order in Rust): each page equals the
/// listing's page of that project.
async fn a_projects_tasks_by_relevance_page_as_the_listing_does(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let titles = [
        "garden",
        "garden garden",
        "plan the garden beds",
        "garden",
        "roses",
    ];
    for name in ["One", "Two"] {
        let p = project(&app, &a.token, name).await;
        for title in titles {
            task(&app, &a.token, &p["id"], title, json!({})).await;
        }
        let extra = json!({ "description": "the garden shed", "tags": ["garden"] });
        task(&app, &a.token, &p["id"], "Notes", extra).await;
    }
    let page = "edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";
    let args =
        "$first: Int, $last: Int, $after: String, $before: String, $o: TaskOrder, $f: TaskFilter";
    let span =
        "first: $first, last: $last, after: $after, before: $before, orderBy: $o, filter: $f";
    let nested = format!(
        "query({args}) {{ projects(first: 10) {{ edges {{ node {{ id tasks({span}) {{ {page} }} }} }} }} }}"
    );
    let listing = format!("query({args}) {{ tasks({span}) {{ {page} }} }}");
    for direction in ["ASC", "DESC"] {
        let order = json!({ "field": "RELEVANCE", "direction": direction });
        let search = json!({ "search": "gard" });
        let whole = ok(
            &app,
            &a.token,
            &nested,
            json!({ "first": 9, "o": order, "f": search }),
        )
        .await;
        let projects = whole["projects"]["edges"].as_array().expect("projects");
        assert_eq!(projects.len(), 2);
        for page_args in [
            json!({ "first": 3 }),
            json!({ "last": 3 }),
            json!({ "first": 2, "after": "third" }),
            json!({ "last": 2, "before": "third" }),
        ] {
            for (n, p) in projects.iter().enumerate() {
                assert_eq!(ids(&p["node"]["tasks"]).len(), 5, "{direction}");
                let mut vars = page_args.clone();
                vars["o"] = order.clone();
                vars["f"] = search.clone();
                for key in ["after", "before"] {
                    if vars.get(key).is_some() {
                        vars[key] = p["node"]["tasks"]["edges"][2]["cursor"].clone();
                    }
                }
                let got = ok(&app, &a.token, &nested, vars.clone()).await;
                let got = &got["projects"]["edges"][n]["node"];
                vars["f"]["projectId"] = p["node"]["id"].clone();
                let want = ok(&app, &a.token, &listing, vars).await;
                assert_eq!(
                    got["tasks"], want["tasks"],
                    "{direction} {page_args}: project {n}"
                );
                assert!(!ids(&got["tasks"]).is_empty(), "{direction} {page_args}");
            }
        }
    }
}
