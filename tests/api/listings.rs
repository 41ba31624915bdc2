//! Connections: cursor walks over a changing set, filters and orderings, and
//! the number of SQL statements a nested query costs.

use serde_json::{Value, json};

use crate::fixtures::{account, field, ids, ok, project, task};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    pages_walk_both_ways_without_gaps_or_repeats,
    filters_select_and_orderings_sort,
    nested_queries_cost_the_same_statements_at_any_size,
    nested_task_pages_match_the_listing_in_every_order,
);

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: { field: TITLE }) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id title } } } }";

async fn pages_walk_both_ways_without_gaps_or_repeats(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let make = "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id title } }";
    let input: Vec<Value> = (0..12)
        .map(|i| json!({ "projectId": p["id"], "title": format!("t{i:02}") }))
        .collect();
    let made = ok(&app, &a.token, make, json!({ "input": input })).await;
    let t01 = made["createTasks"][1]["id"].clone();

    // Forwards, 5 at a time, while the set changes behind and ahead of the cursor.
    let mut seen: Vec<String> = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let data = ok(&app, &a.token, PAGE, json!({ "first": 5, "after": after })).await;
        let conn = &data["tasks"];
        seen.extend(
            field(conn, "title")
                .iter()
                .map(|t| t.as_str().unwrap_or_default().to_owned()),
        );
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        if pages == 0 {
            assert_eq!(conn["totalCount"], 12);
            ok(
                &app,
                &a.token,
                "mutation($id: ID!) { deleteTask(id: $id) { id } }",
                json!({ "id": t01 }),
            )
            .await;
            task(&app, &a.token, &p["id"], "t00b", json!({})).await; // behind the cursor
            task(&app, &a.token, &p["id"], "t99", json!({})).await; // ahead of it
        }
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let mut expected: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    expected.push("t99".into());
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // Backwards from the end with last/before: the current set, reversed.
    let mut back: Vec<String> = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = ok(&app, &a.token, PAGE, json!({ "last": 4, "before": before })).await;
        let conn = &data["tasks"];
        let mut titles: Vec<String> = field(conn, "title")
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_owned())
            .collect();
        titles.reverse();
        back.extend(titles);
        if conn["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = conn["pageInfo"]["startCursor"].clone();
    }
    let mut current: Vec<String> = vec!["t00".into(), "t00b".into()];
    current.extend((2..12).map(|i| format!("t{i:02}")));
    current.push("t99".into());
    current.reverse();
    assert_eq!(back, current);
}

async fn filters_select_and_orderings_sort(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let q = project(&app, &a.token, "Garden").await;
    let t = |title: &'static str, extra: Value| {
        let (app, tok, pid) = (&app, a.token.clone(), p["id"].clone());
        async move {
            task(app, &tok, &pid, title, extra).await["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    let paint = t("Paint the WALLS", json!({ "status": "DONE", "priority": "LOW", "tags": ["diy"], "dueAt": "2027-01-01T00:00:00Z", "position": 3.0 })).await;
    let fix = t("Fix tap", json!({ "status": "IN_PROGRESS", "priority": "URGENT", "tags": ["diy", "water"], "dueAt": "2027-02-01T00:00:00Z", "position": 1.0 })).await;
    let call = t(
        "Call plumber",
        json!({ "description": "about the wall 100% soon", "priority": "HIGH", "position": 2.0 }),
    )
    .await;
    let plan = task(
        &app,
        &a.token,
        &q["id"],
        "Plan beds",
        json!({ "tags": ["garden"] }),
    )
    .await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let run = |filter: Value, order: Value| {
        let (app, tok) = (&app, a.token.clone());
        async move {
            let data = ok(app, &tok, "query($f: TaskFilter, $o: TaskOrder) { tasks(filter: $f, orderBy: $o) { totalCount edges { node { id } } } }",
                json!({ "f": filter, "o": order })).await;
            let conn = data["tasks"].clone();
            assert_eq!(
                conn["totalCount"].as_u64(),
                Some(ids(&conn).len() as u64),
                "{conn}"
            );
            ids(&conn)
        }
    };
    let by_title = json!({ "field": "TITLE" });
    assert_eq!(
        run(
            json!({ "status": ["DONE", "IN_PROGRESS"] }),
            by_title.clone()
        )
        .await,
        vec![fix.clone(), paint.clone()]
    );
    assert_eq!(
        run(json!({ "priority": ["HIGH", "URGENT"] }), by_title.clone()).await,
        vec![call.clone(), fix.clone()]
    );
    assert_eq!(
        run(json!({ "tag": "diy" }), by_title.clone()).await,
        vec![fix.clone(), paint.clone()]
    );
    assert_eq!(
        run(json!({ "tag": "water" }), by_title.clone()).await,
        vec![fix.clone()]
    );
    assert_eq!(
        run(json!({ "search": "wall" }), by_title.clone()).await,
        vec![call.clone(), paint.clone()],
        "title or description, any case, words by their start"
    );
    assert_eq!(
        run(json!({ "search": "100%" }), by_title.clone()).await,
        vec![call.clone()]
    );
    assert_eq!(
        run(json!({ "search": "0%" }), by_title.clone()).await,
        Vec::<String>::new(),
        "the start of a word, not any part of it"
    );
    assert_eq!(
        run(json!({ "search": "%" }), by_title.clone()).await,
        Vec::<String>::new(),
        "% is not a wildcard, and a search without a word finds nothing"
    );
    assert_eq!(
        run(
            json!({ "dueAfter": "2027-01-15T00:00:00Z" }),
            by_title.clone()
        )
        .await,
        vec![fix.clone()]
    );
    assert_eq!(
        run(
            json!({ "dueBefore": "2027-01-15T00:00:00Z" }),
            by_title.clone()
        )
        .await,
        vec![paint.clone()]
    );
    assert_eq!(
        run(json!({ "projectId": q["id"] }), by_title.clone()).await,
        vec![plan.clone()]
    );
    assert_eq!(
        run(
            json!({ "updatedSince": "2999-01-01T00:00:00Z" }),
            by_title.clone()
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        run(
            json!({ "updatedSince": "2000-01-01T00:00:00Z", "tag": "garden" }),
            by_title.clone()
        )
        .await,
        vec![plan.clone()]
    );

    // Orderings; tasks without the key come last either way.
    let all = Value::Null;
    assert_eq!(
        run(
            all.clone(),
            json!({ "field": "PRIORITY", "direction": "DESC" })
        )
        .await,
        vec![fix.clone(), call.clone(), paint.clone(), plan.clone()]
    );
    assert_eq!(
        run(all.clone(), json!({ "field": "PRIORITY" })).await,
        vec![paint.clone(), call.clone(), fix.clone(), plan.clone()]
    );
    assert_eq!(
        run(all.clone(), json!({ "field": "POSITION" })).await,
        vec![fix.clone(), call.clone(), paint.clone(), plan.clone()]
    );
    assert_eq!(
        run(
            all.clone(),
            json!({ "field": "DUE_AT", "direction": "DESC" })
        )
        .await[..2],
        [fix.clone(), paint.clone()]
    );
    assert_eq!(
        run(
            all.clone(),
            json!({ "field": "CREATED_AT", "direction": "DESC" })
        )
        .await,
        vec![plan.clone(), call.clone(), fix.clone(), paint.clone()]
    );
    assert_eq!(
        run(all.clone(), Value::Null).await,
        vec![paint.clone(), fix.clone(), call.clone(), plan.clone()]
    );

    // Keyset pages over a nullable key, both ways.
    let walk = "query($after: String, $before: String, $first: Int, $last: Int) { tasks(first: $first, after: $after, last: $last, before: $before, orderBy: { field: PRIORITY, direction: DESC }) {
        pageInfo { endCursor startCursor hasNextPage hasPreviousPage } edges { node { id } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = ok(&app, &a.token, walk, json!({ "first": 1, "after": after })).await;
        seen.extend(ids(&data["tasks"]));
        after = data["tasks"]["pageInfo"]["endCursor"].clone();
        if data["tasks"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
    }
    assert_eq!(
        seen,
        vec![fix.clone(), call.clone(), paint.clone(), plan.clone()]
    );
    let data = ok(&app, &a.token, walk, json!({ "last": 2, "before": after })).await;
    assert_eq!(ids(&data["tasks"]), vec![call.clone(), paint.clone()]);

    let data = ok(
        &app,
        &a.token,
        "{ projects(orderBy: { field: NAME }) { edges { node { name } } }
        s: projects(filter: { search: \"GARD\" }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        field(&data["projects"], "name"),
        vec![json!("Garden"), json!("Home")]
    );
    assert_eq!(data["s"]["totalCount"], 1);
}

async fn nested_queries_cost_the_same_statements_at_any_size(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let make = "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }";
    for n in 0..50 {
        let p = project(&app, &a.token, &format!("p{n:02}")).await;
        let input: Vec<Value> = (0..50)
            .map(|i| json!({ "projectId": p["id"], "title": format!("t{i}"), "tags": ["x"] }))
            .collect();
        ok(&app, &a.token, make, json!({ "input": input })).await;
    }
    let query = "query($n: Int!) { projects(first: $n) { edges { node { id name
        tasks(first: $n) { edges { node { id title status tags project { id name } } } } } } } }";
    let mut costs = Vec::new();
    for n in [1, 10, 50] {
        let before = app.database().statement_count();
        let data = ok(&app, &a.token, query, json!({ "n": n })).await;
        let after = app.database().statement_count();
        let projects = data["projects"]["edges"].as_array().expect("edges");
        assert_eq!(projects.len(), n);
        for p in projects {
            let tasks = p["node"]["tasks"]["edges"].as_array().expect("edges");
            assert_eq!(tasks.len(), n);
            assert!(
                tasks
                    .iter()
                    .all(|t| t["node"]["project"]["id"] == p["node"]["id"])
            );
        }
        costs.push(after - before);
    }
    assert!(
        costs.iter().all(|&c| c == costs[0] && c <= 3),
        "statements per request: {costs:?}"
    );
    assert!(costs[0] >= 1, "the counter counts: {costs:?}");
}

/// `Project.tasks`, loaded for every listed project at once, gives each
/// project the page that `tasks(filter: { projectId })` gives it: the same
/// rows, cursors and page info, in every ordering, both directions, from
/// either end and from a cursor (keys with ties, nulls and mixed case).
async fn nested_task_pages_match_the_listing_in_every_order(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let make = "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }";
    let titles = ["b", "A", "c", "a", "B", "a", "Z"];
    let priorities = [
        json!("HIGH"),
        Value::Null,
        json!("LOW"),
        json!("HIGH"),
        Value::Null,
        json!("URGENT"),
        json!("LOW"),
    ];
    let due = [
        json!("2026-01-02T00:00:00Z"),
        Value::Null,
        json!("2026-01-01T00:00:00Z"),
        json!("2026-01-02T00:00:00Z"),
        Value::Null,
        json!("2025-12-31T00:00:00Z"),
        Value::Null,
    ];
    let positions = [
        json!(2.5),
        json!(1.0),
        Value::Null,
        json!(2.5),
        json!(-3.0),
        Value::Null,
        json!(0.0),
    ];
    for name in ["One", "Two", "Three"] {
        let p = project(&app, &a.token, name).await;
        let input: Vec<Value> = (0..titles.len())
            .map(|i| {
                json!({ "projectId": p["id"], "title": titles[i], "priority": priorities[i],
                        "dueAt": due[i], "position": positions[i] })
            })
            .collect();
        ok(&app, &a.token, make, json!({ "input": input })).await;
    }
    let page = "edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";
    let nested = format!(
        "query($first: Int, $last: Int, $after: String, $before: String, $o: TaskOrder) {{
            projects(first: 10) {{ edges {{ node {{ id
                tasks(first: $first, last: $last, after: $after, before: $before, orderBy: $o) {{ {page} }} }} }} }} }}"
    );
    let listing = format!(
        "query($first: Int, $last: Int, $after: String, $before: String, $o: TaskOrder, $f: TaskFilter) {{
            tasks(first: $first, last: $last, after: $after, before: $before, orderBy: $o, filter: $f) {{ {page} }} }}"
    );
    for field in [
        "CREATED_AT",
        "UPDATED_AT",
        "TITLE",
        "DUE_AT",
        "PRIORITY",
        "POSITION",
    ] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            // The cursor of each project's third task, for pages that start there.
            let whole = ok(&app, &a.token, &nested, json!({ "first": 7, "o": order })).await;
            for args in [
                json!({ "first": 4 }),
                json!({ "last": 4 }),
                json!({ "first": 3, "after": "third" }),
                json!({ "last": 2, "before": "third" }),
            ] {
                // Each project's own cursor where the page starts from one.
                let projects = whole["projects"]["edges"].as_array().expect("projects");
                for (n, p) in projects.iter().enumerate() {
                    let mut vars = args.clone();
                    vars["o"] = order.clone();
                    for key in ["after", "before"] {
                        if vars.get(key).is_some() {
                            vars[key] = p["node"]["tasks"]["edges"][2]["cursor"].clone();
                        }
                    }
                    let got = ok(&app, &a.token, &nested, vars.clone()).await;
                    let got = &got["projects"]["edges"][n]["node"];
                    assert_eq!(got["id"], p["node"]["id"]);
                    vars["f"] = json!({ "projectId": p["node"]["id"] });
                    let want = ok(&app, &a.token, &listing, vars).await;
                    assert_eq!(
                        got["tasks"], want["tasks"],
                        "{field} {direction} {args}: project {n}"
                    );
                    assert!(!ids(&got["tasks"]).is_empty(), "{field} {direction} {args}");
                }
            }
        }
    }
}
