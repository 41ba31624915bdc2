//! Each delivered event is the state its own change wrote: under a burst of
//! updates by two writers (on PostgreSQL, on two instances sharing the
//! database), every subscriber sees every version once, in order, each with
//! the title and `updatedAt` that version was written with; and an event
//! too large for a PostgreSQL notification arrives whole.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::bench_support::call;
use crate::fixtures::{account, project};
use crate::on_both_databases;
use crate::support::Backend;
use crate::ws_support::{LEGACY_WS, TRANSPORT_WS, Ws, subscriptions_reach, two_instances};

on_both_databases!(
    a_burst_of_updates_by_two_writers_reaches_everyone_version_by_version,
    an_event_larger_than_a_notification_arrives_whole,
);

const EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) {
    type task { id title description version updatedAt } } }";
const UPDATE: &str = "mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) {
    title version updatedAt } }";
const CREATE: &str = "mutation($p: ID!, $t: String!, $d: String) {
    createTask(input: { projectId: $p, title: $t, description: $d }) {
    id title description version updatedAt } }";
const UPDATES: usize = 50;

/// The task of the next event for `id`, after checking it is one.
async fn next_task(ws: &mut Ws, id: &str) -> Value {
    let payload = ws.data(id).await;
    assert_eq!(payload["errors"], Value::Null, "{payload}");
    payload["data"]["taskEvents"]["task"].clone()
}

/// (title, updatedAt) of a task as a write answered it.
fn written(task: &Value) -> (i64, (Value, Value)) {
    let version = task["version"].as_i64().expect("version");
    (version, (task["title"].clone(), task["updatedAt"].clone()))
}

async fn a_burst_of_updates_by_two_writers_reaches_everyone_version_by_version(backend: Backend) {
    let (app, second, there) = two_instances(backend).await;
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Busy").await["id"].clone();
    let mut subscribers = [
        Ws::ready(app.addr, TRANSPORT_WS, &a.token).await,
        Ws::ready(there, LEGACY_WS, &a.token).await,
        Ws::ready(there, TRANSPORT_WS, &a.token).await,
    ];
    // Two documents: one group of two members, one group of its own.
    let small = "subscription { taskEvents { task { title version updatedAt } } }";
    subscribers[0]
        .subscribe("s", EVENTS, json!({ "p": p }))
        .await;
    subscribers[1]
        .subscribe("s", EVENTS, json!({ "p": p }))
        .await;
    subscribers[2].subscribe("s", small, json!({})).await;
    match second {
        Some(_) => {
            subscriptions_reach(app.addr, 1).await;
            subscriptions_reach(there, 2).await;
        }
        None => subscriptions_reach(app.addr, 3).await,
    }

    let client = reqwest::Client::new();
    let urls = [app.url("/graphql"), format!("http://{there}/graphql")];
    let vars = json!({ "p": p, "t": "v1", "d": null });
    let created = call(&client, &urls[0], Some(&a.token), CREATE, vars).await["createTask"].clone();
    let id = created["id"].clone();
    let mut expected: BTreeMap<i64, (Value, Value)> = BTreeMap::from([written(&created)]);
    // Two writers, one per instance, as fast as they are answered.
    let writers = urls.iter().enumerate().map(|(w, url)| {
        let (client, token, id) = (client.clone(), a.token.clone(), id.clone());
        async move {
            let mut answers = Vec::new();
            for i in 0..UPDATES / 2 {
                let vars = json!({ "id": id, "t": format!("writer {w} update {i}") });
                answers.push(
                    call(&client, url, Some(&token), UPDATE, vars).await["updateTask"].clone(),
                );
            }
            answers
        }
    });
    for answers in futures_util::future::join_all(writers).await {
        expected.extend(answers.iter().map(written));
    }
    let versions: Vec<i64> = expected.keys().copied().collect();
    assert_eq!(versions, (1..=1 + UPDATES as i64).collect::<Vec<_>>());

    for (n, ws) in subscribers.iter_mut().enumerate() {
        for (version, (title, updated_at)) in &expected {
            let task = next_task(ws, "s").await;
            assert_eq!(
                (&task["version"], &task["title"], &task["updatedAt"]),
                (&json!(version), title, updated_at),
                "subscriber {n}: the event of version {version} is that version's state"
            );
        }
        ws.silent_for(Duration::from_millis(200)).await;
    }
    drop(second);
}

async fn an_event_larger_than_a_notification_arrives_whole(backend: Backend) {
    let (app, second, there) = two_instances(backend).await;
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Long reads").await["id"].clone();
    let mut here = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut far = Ws::ready(there, TRANSPORT_WS, &a.token).await;
    here.subscribe("s", EVENTS, json!({ "p": p })).await;
    far.subscribe("s", EVENTS, json!({ "p": p })).await;
    match second {
        Some(_) => {
            subscriptions_reach(app.addr, 1).await;
            subscriptions_reach(there, 1).await;
        }
        None => subscriptions_reach(app.addr, 2).await,
    }

    // 10,000 characters, 15,000 bytes of UTF-8 and more once escaped.
    let long: String = "é\"\\ lines\n".repeat(1_000);
    assert_eq!(long.chars().count(), 10_000);
    let client = reqwest::Client::new();
    let url = app.url("/graphql");
    let vars = json!({ "p": p, "t": "long", "d": long });
    let created = call(&client, &url, Some(&a.token), CREATE, vars).await["createTask"].clone();
    // A small event after it keeps its place behind it.
    let vars = json!({ "id": created["id"], "t": "after" });
    let updated = call(&client, &url, Some(&a.token), UPDATE, vars).await["updateTask"].clone();
    for ws in [&mut here, &mut far] {
        let task = next_task(ws, "s").await;
        assert_eq!(task["description"], json!(long));
        assert_eq!(
            (&task["version"], &task["updatedAt"]),
            (&json!(1), &created["updatedAt"])
        );
        let task = next_task(ws, "s").await;
        assert_eq!(
            (&task["title"], &task["version"], &task["updatedAt"]),
            (&json!("after"), &json!(2), &updated["updatedAt"])
        );
        assert_eq!(task["description"], json!(long));
    }
    if backend == Backend::Postgres {
        // It travelled through the spool.
        let (pg, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let row = pg
            .query_one("SELECT count(*) FROM event_snapshots", &[])
            .await
            .expect("count");
        assert!(row.get::<_, i64>(0) >= 2, "the large events were spooled");
    }
    drop(second);
}
