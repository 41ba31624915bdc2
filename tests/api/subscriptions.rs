//! Live updates over a real WebSocket, on both subprotocols: events of every
//! write, who receives them, close codes, keep-alive, expiry, revocation,
//! origins, limits, slow consumers, and instances sharing PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

use crate::bench_support::call as data_at;
use crate::fixtures::{account, ok, project, task};
use crate::support::{Backend, PASSWORD, TEST_SECRET, TestApp, TestDb};
use crate::ws_support::{
    Ended, LEGACY_WS, TRANSPORT_WS, Ws, gauge, open, ready_small_buffer, subscriptions_reach,
};
use crate::{on_both_backends, on_both_databases};

const TASK_EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) {
    type task { id title version deletedAt project { id name } } } }";
const PROJECT_EVENTS: &str =
    "subscription { projectEvents { type project { id name deletedAt } } }";

on_both_backends!(
    both_protocols_deliver_every_change_of_a_task,
    project_events_and_a_deleted_project_ends_its_task_events,
    another_users_events_are_never_delivered,
    a_revoked_session_or_api_key_closes_the_connection,
    a_task_moved_away_is_seen_leaving_its_old_project,
    subscribers_share_a_payload_only_with_the_same_document_and_user,
);
on_both_databases!(
    each_protocol_violation_has_its_close_code,
    keep_alive_pings_and_a_silent_peer_is_dropped,
    an_expired_access_token_closes_the_connection,
    origins_outside_the_allow_list_are_refused,
    limits_per_connection_and_per_user,
    a_slow_consumer_is_dropped_and_others_get_everything,
);

/// Renames task `id` (the write the subscription tests listen for).
pub async fn update_task(app: &TestApp, token: &str, id: &Value, title: &str) {
    ok(
        app,
        token,
        "mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) { id } }",
        json!({ "id": id, "t": title }),
    )
    .await;
}

fn event<'a>(payload: &'a Value, field: &str) -> &'a Value {
    assert_eq!(payload["errors"], Value::Null, "{payload}");
    &payload["data"][field]
}

async fn both_protocols_deliver_every_change_of_a_task(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let mut modern = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    // The older protocol, on /graphql with an Upgrade header.
    let mut legacy = open(app.addr, "/graphql", LEGACY_WS, None)
        .await
        .expect("upgrade on /graphql");
    legacy
        .init(json!({ "authorization": format!("Bearer {}", a.token) }))
        .await;
    assert_eq!(legacy.next().await.expect("ack")["type"], "connection_ack");
    modern
        .subscribe("1", TASK_EVENTS, json!({ "p": p["id"] }))
        .await;
    legacy.subscribe("a", TASK_EVENTS, json!({})).await;
    subscriptions_reach(app.addr, 2).await;
    assert_eq!(gauge(app.addr, "websocket_connections").await, 2);

    // Each event is read before the next write: an event shows the object
    // as loaded when it is delivered, so a later write must not race it.
    let mut seen: [Vec<(String, Value, Value, bool)>; 2] = [Vec::new(), Vec::new()];
    let take = async |modern: &mut Ws, legacy: &mut Ws, seen: &mut [Vec<_>; 2]| {
        for (i, (ws, sub)) in [(modern, "1"), (legacy, "a")].into_iter().enumerate() {
            let payload = ws.data(sub).await;
            let e = event(&payload, "taskEvents");
            assert_eq!(e["task"]["project"]["name"], "Home");
            seen[i].push((
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["task"]["title"].clone(),
                e["task"]["version"].clone(),
                e["task"]["deletedAt"].is_null(),
            ));
            assert!(!e["task"]["id"].is_null());
        }
    };
    let created = task(&app, &a.token, &p["id"], "first", json!({})).await;
    let id = &created["id"];
    take(&mut modern, &mut legacy, &mut seen).await;
    update_task(&app, &a.token, id, "second").await;
    take(&mut modern, &mut legacy, &mut seen).await;
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteTask(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    take(&mut modern, &mut legacy, &mut seen).await;
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { restoreTask(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    take(&mut modern, &mut legacy, &mut seen).await;
    for (i, protocol) in ["modern", "legacy"].into_iter().enumerate() {
        assert_eq!(
            seen[i],
            vec![
                ("CREATED".into(), json!("first"), json!(1), true),
                ("UPDATED".into(), json!("second"), json!(2), true),
                ("DELETED".into(), json!("second"), json!(3), false),
                ("RESTORED".into(), json!("second"), json!(4), true),
            ],
            "{protocol} protocol"
        );
    }
    // Bulk writes and sync announce each task.
    let data = ok(
        &app,
        &a.token,
        "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }",
        json!({ "input": [
            { "projectId": p["id"], "title": "x" },
            { "projectId": p["id"], "title": "y" }
        ] }),
    )
    .await;
    let bulk: Vec<Value> = data["createTasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    for _ in 0..2 {
        let payload = modern.data("1").await;
        let e = event(&payload, "taskEvents");
        assert_eq!(e["type"], "CREATED");
        assert!(bulk.contains(&e["task"]["id"]), "{e}");
    }
    let synced = uuid::Uuid::new_v4().to_string();
    ok(
        &app,
        &a.token,
        "mutation($input: SyncInput!) { sync(input: $input) { applied } }",
        json!({ "input": { "tasks": [{ "id": synced, "projectId": p["id"], "title": "offline" }] } }),
    )
    .await;
    let payload = modern.data("1").await;
    let e = event(&payload, "taskEvents");
    assert_eq!(
        (e["type"].clone(), e["task"]["id"].clone()),
        (json!("CREATED"), json!(synced))
    );

    // Complete: the subscription ends on the server too.
    modern.send(json!({ "type": "complete", "id": "1" })).await;
    subscriptions_reach(app.addr, 1).await;
}

async fn project_events_and_a_deleted_project_ends_its_task_events(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Doomed").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.subscribe("projects", PROJECT_EVENTS, json!({})).await;
    ws.subscribe("tasks", TASK_EVENTS, json!({ "p": p["id"] }))
        .await;
    subscriptions_reach(app.addr, 2).await;
    let q = project(&app, &a.token, "Other").await;
    // On PostgreSQL the notice of Doomed's creation, sent before the
    // subscription, may still arrive after it.
    let mut payload = ws.data("projects").await;
    if event(&payload, "projectEvents")["project"]["id"] == p["id"] {
        payload = ws.data("projects").await;
    }
    let e = event(&payload, "projectEvents");
    assert_eq!(
        (&e["type"], &e["project"]["id"]),
        (&json!("CREATED"), &q["id"])
    );

    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteProject(id: $id) { id } }",
        json!({ "id": p["id"] }),
    )
    .await;
    let mut completed = false;
    let mut deleted = false;
    for _ in 0..2 {
        let message = ws.next().await.expect("a message");
        match (message["type"].as_str(), message["id"].as_str()) {
            (Some("complete"), Some("tasks")) => completed = true,
            (Some("next"), Some("projects")) => {
                let e = event(&message["payload"], "projectEvents");
                assert_eq!(
                    (&e["type"], &e["project"]["id"]),
                    (&json!("DELETED"), &p["id"])
                );
                assert!(!e["project"]["deletedAt"].is_null());
                deleted = true;
            }
            _ => panic!("unexpected {message}"),
        }
    }
    assert!(completed && deleted);
    subscriptions_reach(app.addr, 1).await;

    // A project that can not be seen is NOT_FOUND, as in queries.
    ws.subscribe("again", TASK_EVENTS, json!({ "p": p["id"] }))
        .await;
    let payload = ws.data("again").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{payload}"
    );
    assert_eq!(ws.next().await.expect("complete")["type"], "complete");

    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { restoreProject(id: $id) { id } }",
        json!({ "id": p["id"] }),
    )
    .await;
    let payload = ws.data("projects").await;
    assert_eq!(event(&payload, "projectEvents")["type"], "RESTORED");
}

async fn another_users_events_are_never_delivered(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let mut owner = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut other = Ws::ready(app.addr, LEGACY_WS, &b.token).await;
    owner.subscribe("mine", TASK_EVENTS, json!({})).await;
    owner.subscribe("projects", PROJECT_EVENTS, json!({})).await;
    subscriptions_reach(app.addr, 2).await;
    let p = project(&app, &a.token, "A's").await;
    other.subscribe("all", TASK_EVENTS, json!({})).await;
    other.subscribe("projects", PROJECT_EVENTS, json!({})).await;
    // B can not even name A's project.
    other
        .subscribe("theirs", TASK_EVENTS, json!({ "p": p["id"] }))
        .await;
    let payload = other.data("theirs").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{payload}"
    );
    assert_eq!(other.next().await.expect("complete")["type"], "complete");
    subscriptions_reach(app.addr, 4).await;

    let t = task(&app, &a.token, &p["id"], "secret", json!({})).await;
    update_task(&app, &a.token, &t["id"], "still secret").await;
    project(&app, &a.token, "Another").await;
    // (Subscriptions of one connection are not ordered among themselves.)
    let mut tasks = 0;
    let mut projects = 0;
    for _ in 0..4 {
        let message = owner.next().await.expect("an event");
        match message["id"].as_str() {
            Some("mine") => {
                assert_eq!(
                    event(&message["payload"], "taskEvents")["task"]["id"],
                    t["id"]
                );
                tasks += 1;
            }
            Some("projects") => projects += 1,
            _ => panic!("unexpected {message}"),
        }
    }
    assert_eq!((tasks, projects), (2, 2));
    // Everything was delivered to the owner; B got nothing at all.
    other.silent_for(Duration::from_millis(300)).await;
}

async fn a_revoked_session_or_api_key_closes_the_connection(app: TestApp) {
    let signup = app.signup("a@example.com").await;
    let token = signup["accessToken"].as_str().expect("token").to_owned();
    let refresh = signup["refreshToken"].as_str().expect("refresh").to_owned();
    let key = ok(
        &app,
        &token,
        "mutation { createApiKey(input: { name: \"reader\", scopes: [READ] }) { secret apiKey { id } } }",
        json!({}),
    )
    .await;
    let secret = key["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let key_id = key["createApiKey"]["apiKey"]["id"].clone();

    // A READ key may subscribe (a read), with a bare key under `token`.
    let mut by_key = Ws::connect(app.addr, TRANSPORT_WS).await;
    by_key.init(json!({ "token": secret })).await;
    assert_eq!(by_key.next().await.expect("ack")["type"], "connection_ack");
    by_key.subscribe("k", PROJECT_EVENTS, json!({})).await;
    subscriptions_reach(app.addr, 1).await;
    project(&app, &token, "Seen by the key").await;
    assert_eq!(
        event(&by_key.data("k").await, "projectEvents")["type"],
        "CREATED"
    );

    let mut by_session = Ws::ready(app.addr, TRANSPORT_WS, &token).await;
    let mut other_session = {
        let login = app
            .gql(
                "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }",
                json!({ "e": "a@example.com", "p": PASSWORD }),
                None,
            )
            .await;
        let token = login["data"]["login"]["accessToken"]
            .as_str()
            .expect("login")
            .to_owned();
        Ws::ready(app.addr, TRANSPORT_WS, &token).await
    };

    ok(
        &app,
        &token,
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({ "id": key_id }),
    )
    .await;
    assert_eq!(by_key.ended().await, Ended::Closed(4403));

    ok(
        &app,
        &token,
        "mutation($r: String) { logout(refreshToken: $r) }",
        json!({ "r": refresh }),
    )
    .await;
    assert_eq!(by_session.ended().await, Ended::Closed(4403));
    // The other session of the same user goes on.
    other_session.send(json!({ "type": "ping" })).await;
    assert_eq!(other_session.next().await.expect("pong")["type"], "pong");
}

async fn each_protocol_violation_has_its_close_code(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.live.init_timeout = Duration::from_millis(300);
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        // No credential, a bad one: 4403.
        for payload in [json!({}), json!({ "Authorization": "Bearer nonsense" })] {
            let mut ws = Ws::connect(app.addr, protocol).await;
            ws.init(payload).await;
            assert_eq!(ws.ended().await, Ended::Closed(4403), "{protocol}");
        }
        // No connection_init in time: 4408.
        let mut ws = Ws::connect(app.addr, protocol).await;
        assert_eq!(ws.ended().await, Ended::Closed(4408), "{protocol}");
        // Not a protocol message: 4400.
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        ws.send_text("this is not JSON").await;
        assert_eq!(ws.ended().await, Ended::Closed(4400), "{protocol}");
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        ws.send(json!({ "type": "no_such_type" })).await;
        assert_eq!(ws.ended().await, Ended::Closed(4400), "{protocol}");
        // The same id twice: 4409.
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        ws.subscribe("same", PROJECT_EVENTS, json!({})).await;
        ws.subscribe("same", PROJECT_EVENTS, json!({})).await;
        assert_eq!(ws.ended().await, Ended::Closed(4409), "{protocol}");
        // Subscribing before connection_init: 4401.
        let mut ws = Ws::connect(app.addr, protocol).await;
        ws.subscribe("early", PROJECT_EVENTS, json!({})).await;
        assert_eq!(ws.ended().await, Ended::Closed(4401), "{protocol}");
        // A second connection_init: 4429.
        let mut ws = Ws::ready(app.addr, protocol, &a.token).await;
        ws.init(json!({ "Authorization": format!("Bearer {}", a.token) }))
            .await;
        assert_eq!(ws.ended().await, Ended::Closed(4429), "{protocol}");
    }
    // An id can be used again once its subscription completed.
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.subscribe("reused", "query { me { id } }", json!({}))
        .await;
    assert_eq!(ws.data("reused").await["data"]["me"]["id"], a.id);
    assert_eq!(ws.next().await.expect("complete")["type"], "complete");
    ws.subscribe("reused", "query { me { email } }", json!({}))
        .await;
    assert_eq!(
        ws.data("reused").await["data"]["me"]["email"],
        "a@example.com"
    );
}

async fn keep_alive_pings_and_a_silent_peer_is_dropped(backend: Backend) {
    use futures_util::StreamExt as _;
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.live.keepalive = Duration::from_millis(150);
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    // The server pings ...
    let ping = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match ws.socket.next().await {
                Some(Ok(tungstenite::Message::Ping(_))) => return,
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    })
    .await;
    assert!(ping.is_ok(), "a ping within two intervals");
    // ... answers the protocol's ping ...
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await.expect("pong")["type"], "pong");
    // ... keeps a peer that answers (by reading, the client pongs) ...
    ws.silent_for(Duration::from_millis(700)).await;
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await.expect("pong")["type"], "pong");
    // ... and drops one that stops answering.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ws.ended().await, Ended::Closed(1001));
}

async fn an_expired_access_token_closes_the_connection(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.access_token_ttl = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let started = tokio::time::Instant::now();
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.subscribe("p", PROJECT_EVENTS, json!({})).await;
    assert_eq!(ws.ended().await, Ended::Closed(4403));
    assert!(started.elapsed() <= Duration::from_secs(4), "closed at exp");
}

async fn origins_outside_the_allow_list_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.cors_origins = vec![http::HeaderValue::from_static("https://app.example.com")];
    })
    .await
    else {
        return;
    };
    match open(
        app.addr,
        "/graphql/ws",
        TRANSPORT_WS,
        Some("https://evil.example.com"),
    )
    .await
    {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected 403, got {other}"),
        Ok(_) => panic!("a foreign origin was accepted"),
    }
    let same = format!("http://{}", app.addr);
    for origin in [Some("https://app.example.com"), Some(same.as_str()), None] {
        assert!(
            open(app.addr, "/graphql/ws", TRANSPORT_WS, origin)
                .await
                .is_ok(),
            "{origin:?}"
        );
    }
}

async fn limits_per_connection_and_per_user(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.live.subscriptions_per_connection = 2;
        c.live.connections_per_user = 2;
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let mut first = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    first.subscribe("1", PROJECT_EVENTS, json!({})).await;
    first.subscribe("2", PROJECT_EVENTS, json!({})).await;
    first.subscribe("3", PROJECT_EVENTS, json!({})).await;
    // Operations start in no set order: one of the three is refused.
    let refused = first.next().await.expect("the refusal");
    assert_eq!(refused["type"], "next", "{refused}");
    let payload = &refused["payload"];
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{payload}"
    );
    let message = payload["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("2 subscriptions"), "{message}");
    subscriptions_reach(app.addr, 2).await;

    let _second = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut third = Ws::connect(app.addr, TRANSPORT_WS).await;
    third
        .init(json!({ "Authorization": format!("Bearer {}", a.token) }))
        .await;
    assert_eq!(third.ended().await, Ended::Closed(4429));
    // Another user is not affected.
    let b = account(&app, "b@example.com").await;
    Ws::ready(app.addr, TRANSPORT_WS, &b.token).await;
}

async fn a_slow_consumer_is_dropped_and_others_get_everything(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.live.buffer = 16;
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Busy").await;
    let mut slow = ready_small_buffer(app.addr, TRANSPORT_WS, &a.token).await;
    let mut fast = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    // Large events: the description is selected.
    let query = "subscription { taskEvents { type task { id description } } }";
    slow.subscribe("s", query, json!({})).await;
    fast.subscribe("f", query, json!({})).await;
    subscriptions_reach(app.addr, 2).await;

    const BATCHES: usize = 8;
    const PER_BATCH: usize = 100;
    let total = BATCHES * PER_BATCH;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < total {
            let payload = fast.data("f").await;
            event(&payload, "taskEvents");
            got += 1;
        }
        (got, fast)
    });
    let long = "x".repeat(9_000);
    for _ in 0..BATCHES {
        let input: Vec<Value> = (0..PER_BATCH)
            .map(|i| json!({ "projectId": p["id"], "title": format!("t{i}"), "description": long }))
            .collect();
        ok(
            &app,
            &a.token,
            "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }",
            json!({ "input": input }),
        )
        .await;
    }
    let (got, _fast) = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the fast reader finishes")
        .expect("reader");
    assert_eq!(got, total, "the fast consumer lost nothing");
    // The slow one is cut off once its queue has stayed full past the grace
    // period. Nothing is read from it before that: reading would make room
    // and save it. Its socket is torn down just after.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gauge(app.addr, "websocket_connections").await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow connection is gone from the gauge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What it can still read ends early.
    let mut read = 0;
    while let Some(Some(message)) = slow.next_within(Duration::from_secs(5)).await {
        if message["type"] == "next" {
            read += 1;
        }
    }
    assert!(
        read < total,
        "the slow consumer was dropped ({read} of {total})"
    );
}

/// Two instances on one PostgreSQL database: a write on one reaches a
/// subscriber on the other; a lost listener tells subscribers to resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_instances_and_a_lost_listener_resyncs() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    };
    let start = || async {
        let mut config =
            tasklane::Config::with_database(&db.url, Some(TEST_SECRET)).expect("config");
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.hash_concurrency = 2;
        tasklane::start(config).await.expect("starts")
    };
    let one = start().await;
    let two = start().await;
    let client = reqwest::Client::new();
    let url_one = format!("http://{}/graphql", one.addr);
    let signup = data_at(
        &client,
        &url_one,
        None,
        "mutation($e: String!, $p: String!) { signup(input: { email: $e, password: $p, displayName: \"A\" }) { accessToken } }",
        json!({ "e": "a@example.com", "p": PASSWORD }),
    )
    .await;
    let token = signup["signup"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let mut ws = Ws::ready(two.addr, TRANSPORT_WS, &token).await;
    ws.subscribe("p", PROJECT_EVENTS, json!({})).await;
    subscriptions_reach(two.addr, 1).await;
    let created = data_at(
        &client,
        &url_one,
        Some(&token),
        "mutation { createProject(input: { name: \"Shared\" }) { id } }",
        json!({}),
    )
    .await;
    let payload = ws.data("p").await;
    let e = event(&payload, "projectEvents");
    assert_eq!(
        (&e["type"], &e["project"]["id"]),
        (&json!("CREATED"), &created["createProject"]["id"])
    );

    // Cut every listener's connection: subscribers hear RESYNC, then events flow again.
    let (client_pg, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client_pg
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await
        .expect("terminate listeners");
    let payload = ws.data("p").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "RESYNC",
        "{payload}"
    );
    data_at(
        &client,
        &url_one,
        Some(&token),
        "mutation { createProject(input: { name: \"After\" }) { id } }",
        json!({}),
    )
    .await;
    let payload = ws.data("p").await;
    assert_eq!(event(&payload, "projectEvents")["project"]["name"], "After");
    drop((ws, one, two));
}

async fn a_task_moved_away_is_seen_leaving_its_old_project(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let from = project(&app, &a.token, "From").await;
    let to = project(&app, &a.token, "To").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut all = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    ws.subscribe("from", TASK_EVENTS, json!({ "p": from["id"] }))
        .await;
    ws.subscribe("to", TASK_EVENTS, json!({ "p": to["id"] }))
        .await;
    all.subscribe("all", TASK_EVENTS, json!({})).await;
    subscriptions_reach(app.addr, 3).await;
    let t = task(&app, &a.token, &from["id"], "mover", json!({})).await;
    assert_eq!(
        event(&ws.data("from").await, "taskEvents")["type"],
        "CREATED"
    );
    assert_eq!(
        event(&all.data("all").await, "taskEvents")["type"],
        "CREATED"
    );
    ok(
        &app,
        &a.token,
        "mutation($id: ID!, $p: ID!) { updateTask(id: $id, input: { projectId: $p }) { id } }",
        json!({ "id": t["id"], "p": to["id"] }),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = ws.next().await.expect("an event");
        let e = event(&message["payload"], "taskEvents");
        assert_eq!(e["type"], "UPDATED");
        assert_eq!(
            e["task"]["project"]["id"], to["id"],
            "shown where it is now"
        );
        seen.push(message["id"].as_str().unwrap_or_default().to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["from", "to"]);
    // Without a project filter, one event.
    let payload = all.data("all").await;
    assert_eq!(event(&payload, "taskEvents")["task"]["id"], t["id"]);
    all.silent_for(Duration::from_millis(200)).await;
}

/// Subscribers with the same document, variables and user share one
/// resolution per event; each still gets its own id, a different selection
/// its own payload, and another user with the same document nothing of it.
async fn subscribers_share_a_payload_only_with_the_same_document_and_user(app: TestApp) {
    const SMALL: &str = "subscription { taskEvents { type task { title } } }";
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let pa = project(&app, &a.token, "A's").await;
    let pb = project(&app, &b.token, "B's").await;
    let mut first = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut second = Ws::ready(app.addr, LEGACY_WS, &a.token).await;
    let mut small = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut other = Ws::ready(app.addr, TRANSPORT_WS, &b.token).await;
    first.subscribe("one", TASK_EVENTS, json!({})).await;
    first.subscribe("stopped", TASK_EVENTS, json!({})).await;
    second.subscribe("two", TASK_EVENTS, json!({})).await;
    small.subscribe("three", SMALL, json!({})).await;
    other.subscribe("one", TASK_EVENTS, json!({})).await;
    subscriptions_reach(app.addr, 5).await;
    // A stopped member completes and hears nothing more.
    first
        .send(json!({ "type": "complete", "id": "stopped" }))
        .await;
    assert_eq!(
        first.next().await.expect("complete"),
        json!({ "type": "complete", "id": "stopped" })
    );
    subscriptions_reach(app.addr, 4).await;

    let t = task(&app, &a.token, &pa["id"], "shared", json!({})).await;
    for (ws, id) in [(&mut first, "one"), (&mut second, "two")] {
        let payload = ws.data(id).await;
        let e = event(&payload, "taskEvents");
        assert_eq!(e["type"], "CREATED");
        assert_eq!(e["task"]["id"], t["id"]);
        assert_eq!(e["task"]["project"]["name"], "A's");
    }
    let payload = small.data("three").await;
    assert_eq!(
        payload,
        json!({ "data": { "taskEvents": { "type": "CREATED", "task": { "title": "shared" } } } })
    );
    other.silent_for(Duration::from_millis(300)).await;

    let u = task(&app, &b.token, &pb["id"], "b's own", json!({})).await;
    let payload = other.data("one").await;
    let e = event(&payload, "taskEvents");
    assert_eq!(e["task"]["id"], u["id"]);
    assert_eq!(e["task"]["project"]["name"], "B's");
    first.silent_for(Duration::from_millis(300)).await;
    second.silent_for(Duration::from_millis(100)).await;
    small.silent_for(Duration::from_millis(100)).await;
}
