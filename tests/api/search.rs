//! Full-text search of tasks: words matched by their start, all required,
//! in titles, descriptions and tags; snippets; any text searched without
//! error; another user's tasks never found. (Ranking and its pages:
//! `search_ranking.rs`; the index following each kind of write:
//! `search_writes.rs`.)

use serde_json::{Value, json};
use tasklane::access::ProjectRole;

use crate::fixtures::{account, ids, ok, project, task};
use crate::on_both_backends;
use crate::sharing_support::{share, unshare};
use crate::support::{TestApp, error_code, error_field};

on_both_backends!(
    words_match_by_their_start_and_all_must_match,
    snippets_mark_the_words_found_and_escape_the_text,
    any_text_is_searched_without_error,
    another_users_tasks_are_never_found,
);

/// A search's listing: ids in order, `totalCount` (checked against the
/// rows) and each snippet.
pub struct Found {
    pub ids: Vec<String>,
    pub snippets: Vec<Value>,
}

pub const SEARCH: &str = "query($f: TaskFilter, $o: TaskOrder) { tasks(filter: $f, orderBy: $o) {
    totalCount edges { node { id searchSnippet } } } }";

/// The viewer's tasks that `text` finds, ordered by `order` (null: the
/// default), every one on one page.
pub async fn search(app: &TestApp, token: &str, text: &str, order: Value) -> Found {
    let vars = json!({ "f": { "search": text }, "o": order });
    let data = ok(app, token, SEARCH, vars).await;
    let conn = &data["tasks"];
    let found = ids(conn);
    assert_eq!(conn["totalCount"], json!(found.len()), "{text}: {conn}");
    let snippets = conn["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["searchSnippet"].clone())
        .collect();
    Found {
        ids: found,
        snippets,
    }
}

/// The ids `text` finds, by title (so the order is known).
pub async fn found(app: &TestApp, token: &str, text: &str) -> Vec<String> {
    search(app, token, text, json!({ "field": "TITLE" }))
        .await
        .ids
}

pub fn id(task: &Value) -> String {
    task["id"].as_str().expect("id").to_owned()
}

async fn words_match_by_their_start_and_all_must_match(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t = |title: &'static str, extra: Value| {
        let (app, tok, pid) = (&app, a.token.clone(), p["id"].clone());
        async move { id(&task(app, &tok, &pid, title, extra).await) }
    };
    let design = t("Design review", json!({})).await;
    let notes = t(
        "Notes",
        json!({ "description": "Agenda: the DESIGN of the new café" }),
    )
    .await;
    let tagged = t("Paint", json!({ "tags": ["redesign", "Kitchen-2027"] })).await;
    let other = t("Water the plants", json!({})).await;

    assert_eq!(
        found(&app, &a.token, "desi").await,
        [design.as_str(), notes.as_str()]
    );
    assert_eq!(
        found(&app, &a.token, "DESIGN").await,
        [design.as_str(), notes.as_str()],
        "case does not count"
    );
    assert_eq!(
        found(&app, &a.token, "desi rev").await,
        [design.as_str()],
        "every word must match"
    );
    assert_eq!(found(&app, &a.token, "agenda caf").await, [notes.as_str()]);
    assert_eq!(found(&app, &a.token, "café").await, [notes.as_str()]);
    assert_eq!(
        found(&app, &a.token, "redes").await,
        [tagged.as_str()],
        "tags"
    );
    assert_eq!(
        found(&app, &a.token, "kitchen 2027").await,
        [tagged.as_str()]
    );
    assert_eq!(
        found(&app, &a.token, "sign").await,
        Vec::<String>::new(),
        "the start of a word, not its middle"
    );
    assert_eq!(found(&app, &a.token, "water plant").await, [other.as_str()]);
    assert_eq!(
        found(&app, &a.token, "water desi").await,
        Vec::<String>::new()
    );

    // A search combines with the other filters, in a project's tasks too.
    let data = ok(
        &app,
        &a.token,
        "query($p: ID!) { project(id: $p) { tasks(filter: { search: \"desi\", tag: \"none\" }) {
            totalCount } all: tasks(filter: { search: \"desi\" }) { totalCount edges { node { id } } } } }",
        json!({ "p": p["id"] }),
    )
    .await;
    assert_eq!(data["project"]["tasks"]["totalCount"], 0);
    assert_eq!(data["project"]["all"]["totalCount"], 2);
    assert_eq!(ids(&data["project"]["all"]).len(), 2);
}

async fn snippets_mark_the_words_found_and_escape_the_text(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let script = id(&task(
        &app,
        &a.token,
        &p["id"],
        "<script>alert(\"x\")</script> Design & build",
        json!({ "description": "<b>not</b> a mark" }),
    )
    .await);
    let long = id(&task(
        &app,
        &a.token,
        &p["id"],
        "Notes",
        json!({ "description": "one two three four five six seven eight nine ten eleven twelve thirteen \
            fourteen: the <img src=x> design review, then fifteen sixteen seventeen eighteen nineteen twenty" }),
    )
    .await);

    let hit = search(&app, &a.token, "desi", json!({ "field": "TITLE" })).await;
    assert_eq!(hit.ids, [script.as_str(), long.as_str()]);
    assert_eq!(
        hit.snippets,
        [
            json!("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <b>Design</b> &amp; build"),
            json!(
                "…img src=x&gt; <b>design</b> review, then fifteen sixteen seventeen eighteen \
                 nineteen twenty"
            ),
        ]
    );
    let marks = search(&app, &a.token, "not mark", Value::Null).await;
    assert_eq!(
        marks.snippets,
        [json!("&lt;b&gt;<b>not</b>&lt;/b&gt; a <b>mark</b>")],
        "the task's own tags are text"
    );

    // No search, no snippet; a project's tasks carry them as the listing does.
    let data = ok(
        &app,
        &a.token,
        "query($p: ID!) { tasks(orderBy: { field: TITLE }) { edges { node { searchSnippet } } }
            project(id: $p) { tasks(filter: { search: \"build\" }) { edges { node { searchSnippet } } } } }",
        json!({ "p": p["id"] }),
    )
    .await;
    assert_eq!(
        data["tasks"]["edges"],
        json!([{ "node": { "searchSnippet": null } }, { "node": { "searchSnippet": null } }])
    );
    assert_eq!(
        data["project"]["tasks"]["edges"][0]["node"]["searchSnippet"],
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Design &amp; <b>build</b>"
    );
}

async fn any_text_is_searched_without_error(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let near = id(&task(
        &app,
        &a.token,
        &p["id"],
        "Near the NOT gate: a OR b",
        json!({}),
    )
    .await);
    let emoji = id(&task(&app, &a.token, &p["id"], "Party 🎉 日本語 naïve", json!({})).await);
    let ranked = json!({ "field": "RELEVANCE" });
    let texts = [
        "\"",
        "\"near",
        "near\"",
        "*",
        "near*",
        "^near",
        ":",
        "title:near",
        "near:*",
        "NEAR(a b)",
        "NEAR/2",
        "(near",
        "near)",
        "a OR b",
        "NOT gate",
        "-gate",
        "+gate",
        "a & b | !c",
        "'",
        "\\",
        "near\\",
        "{near}",
        "[near]",
        "%_",
        "🎉",
        "🎉party",
        "日本",
        "NAÏVE",
        "naive",
        "near\tgate\n",
        "x'; DROP TABLE tasks; --",
    ];
    for text in texts {
        let hit = search(&app, &a.token, text, ranked.clone()).await;
        let by_title = found(&app, &a.token, text).await;
        let mut sorted = hit.ids.clone();
        sorted.sort_by_key(|id| usize::from(id != &near));
        assert_eq!(by_title, sorted, "{text:?}: the same tasks in any order");
    }
    assert_eq!(
        found(&app, &a.token, "near*").await,
        [near.as_str()],
        "* is text"
    );
    assert_eq!(found(&app, &a.token, "NEAR(a b)").await, [near.as_str()]);
    assert_eq!(
        found(&app, &a.token, "NOT gate").await,
        [near.as_str()],
        "NOT is a word"
    );
    assert_eq!(found(&app, &a.token, "-gate").await, [near.as_str()]);
    assert_eq!(found(&app, &a.token, "🎉party").await, [emoji.as_str()]);
    assert_eq!(found(&app, &a.token, "日本").await, [emoji.as_str()]);
    assert_eq!(found(&app, &a.token, "NAÏVE").await, [emoji.as_str()]);
    assert_eq!(
        found(&app, &a.token, "naive").await,
        Vec::<String>::new(),
        "accents count"
    );
    // U+0000, which PostgreSQL can not hold, is refused as in any text.
    let nul = app
        .gql(
            "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }",
            json!({ "f": { "search": "near\u{0}" } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&nul), "BAD_USER_INPUT", "{nul}");
    assert_eq!(error_field(&nul), "$f.search", "{nul}");
    for nothing in ["🎉", "*", "\"", "%_", "'"] {
        let hit = search(&app, &a.token, nothing, ranked.clone()).await;
        assert!(
            hit.ids.is_empty(),
            "{nothing:?} has no word and finds nothing"
        );
    }
}

async fn another_users_tasks_are_never_found(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let mine = project(&app, &a.token, "Mine").await;
    let theirs = project(&app, &b.token, "Theirs").await;
    let own = id(&task(&app, &a.token, &mine["id"], "secret plan", json!({})).await);
    let hidden = id(&task(
        &app,
        &b.token,
        &theirs["id"],
        "secret plan secret",
        json!({ "description": "secret" }),
    )
    .await);
    let ranked = json!({ "field": "RELEVANCE" });

    let hit = search(&app, &a.token, "secret", ranked.clone()).await;
    assert_eq!(
        hit.ids,
        [own.as_str()],
        "only the viewer's task, and totalCount 1"
    );
    assert_eq!(hit.snippets, [json!("<b>secret</b> plan")]);
    let data = ok(
        &app,
        &a.token,
        "query($p: ID!) { project(id: $p) { tasks(filter: { search: \"secret\" }) { totalCount } } }",
        json!({ "p": theirs["id"] }),
    )
    .await;
    assert_eq!(data["project"], Value::Null);

    // Shared, their task is found; unshared, it is gone again.
    share(
        &app,
        theirs["id"].as_str().expect("id"),
        &a.id,
        ProjectRole::Viewer,
    )
    .await;
    let shared = search(&app, &a.token, "secret", ranked.clone()).await;
    assert_eq!(shared.ids, [hidden.as_str(), own.as_str()]);
    unshare(&app, theirs["id"].as_str().expect("id"), &a.id).await;
    let hit = search(&app, &a.token, "secret", ranked).await;
    assert_eq!(hit.ids, [own.as_str()]);
    assert_eq!(found(&app, &b.token, "secret").await, [hidden.as_str()]);
}
