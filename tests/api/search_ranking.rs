//! Ranking by relevance: the better match first, RELEVANCE only with a
//! search, and keyset pages by relevance, in the listing and in a
//! project's tasks, stable and complete; a task's score (in its cursor)
//! owes nothing to other users' tasks.

use serde_json::{Value, json};

use crate::fixtures::{account, ids, ok, project, task};
use crate::on_both_backends;
use crate::search::{SEARCH, id, search};
use crate::support::{TestApp, error_code, error_field};

on_both_backends!(
    relevance_puts_the_better_match_first,
    pages_by_relevance_are_stable_and_complete,
    a_projects_tasks_by_relevance_page_as_the_listing_does,
    scores_owe_nothing_to_other_users_tasks,
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
    // Seven matches, several with the same relevance (the three titles
    // "garden", and "weed the garden beds" as well, since a score does not
    // weigh the length of a text), and one other.
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

/// Every edge of `search` by relevance, walked two at a time: `(cursor,
/// id)` in order, with the `totalCount` each page gave.
async fn ranked_edges(app: &TestApp, token: &str, search: &str) -> (Vec<(String, String)>, i64) {
    let query = "query($first: Int, $after: String, $f: TaskFilter) {
        tasks(first: $first, after: $after, filter: $f, orderBy: { field: RELEVANCE }) {
            totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }";
    let mut edges = Vec::new();
    let mut total = None;
    let mut after = Value::Null;
    loop {
        let vars = json!({ "first": 2, "after": after, "f": { "search": search } });
        let conn = ok(app, token, query, vars).await["tasks"].clone();
        let count = conn["totalCount"].as_i64().expect("totalCount");
        assert_eq!(*total.get_or_insert(count), count, "{search}: {conn}");
        for edge in conn["edges"].as_array().expect("edges") {
            let cursor = edge["cursor"].as_str().expect("cursor").to_owned();
            let id = edge["node"]["id"].as_str().expect("id").to_owned();
            assert!(
                edges.iter().all(|(_, seen)| *seen != id),
                "{search}: {id} twice"
            );
            edges.push((cursor, id));
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let total = total.unwrap_or_default();
    assert_eq!(edges.len() as i64, total, "{search}: every match once");
    (edges, total)
}

/// The score a cursor holds (its JSON, which any client can decode).
fn cursor_score(cursor: &str) -> f64 {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .expect("base64url");
    let json: Value = serde_json::from_slice(&bytes).expect("JSON");
    json["k"].as_f64().expect("a score")
}

/// A's scores, and so A's cursors, are the same to the byte before and
/// after B fills the shared index with the same words and many others: a
/// score read from a cursor tells nothing about other users' tasks (as
/// FTS5's `bm25`, with its word frequencies and lengths over the whole
/// index, would).
async fn scores_owe_nothing_to_other_users_tasks(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let pa = project(&app, &a.token, "Trips").await;
    let a_tasks = [
        ("Zephyr: tune the zephyr rig", json!({})),
        (
            "Sail with the zephyr",
            json!({ "description": "long sail" }),
        ),
        ("Pack", json!({ "tags": ["zephyr", "sail"] })),
        (
            "Notes",
            json!({ "description": "a zephyr came up, we did not sail" }),
        ),
        ("Buy rope", json!({ "description": "for the sail" })),
    ];
    for (title, extra) in a_tasks {
        task(&app, &a.token, &pa["id"], title, extra).await;
    }
    // And more without those words, so that in an index of A's tasks
    // alone they are rare words.
    let errands: Vec<Value> = (0..12)
        .map(|i| json!({ "projectId": pa["id"], "title": format!("Errand {i}") }))
        .collect();
    let create = "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }";
    ok(&app, &a.token, create, json!({ "input": errands })).await;
    let searches = ["zephyr", "zeph sail", "sail"];
    let mut before = Vec::new();
    for search in searches {
        before.push(ranked_edges(&app, &a.token, search).await);
    }
    let (zephyr, total) = &before[0];
    assert_eq!(*total, 4);
    assert_eq!(zephyr.len(), 4);
    let scores: Vec<f64> = zephyr.iter().map(|(c, _)| cursor_score(c)).collect();
    assert!(
        scores.windows(2).all(|w| w[0] > w[1]),
        "four different scores, best first: {scores:?}"
    );

    // B's tasks: the same words, often and rarely, in every part, in short
    // and long texts, with words A never used.
    let pb = project(&app, &b.token, "Weather").await;
    let filler = "gale breeze squall drizzle ".repeat(40);
    let inputs: Vec<Value> = (0..120)
        .map(|i| {
            let title = match i % 4 {
                0 => format!("zephyr {i}"),
                1 => format!("zephyr zephyr sail {i}"),
                2 => format!("forecast {i}"),
                _ => format!("sail log {i}"),
            };
            json!({
                "projectId": pb["id"],
                "title": title,
                "description": format!("{filler} zephyr {i}"),
                "tags": if i % 3 == 0 { json!(["zephyr", "sail"]) } else { json!(["wind"]) },
            })
        })
        .collect();
    for chunk in inputs.chunks(40) {
        ok(&app, &b.token, create, json!({ "input": chunk })).await;
    }
    let (theirs, total) = ranked_edges(&app, &b.token, "zephyr").await;
    assert_eq!((theirs.len(), total), (120, 120), "B's tasks are indexed");

    for (search, was) in searches.iter().zip(&before) {
        let now = ranked_edges(&app, &a.token, search).await;
        assert_eq!(&now, was, "{search}: A's cursors, byte for byte");
    }
}
