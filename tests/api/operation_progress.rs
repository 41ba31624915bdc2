//! `operationProgress(id)` over a real WebSocket: the owner sees the
//! counters grow batch by batch until the operation has finished, then the
//! stream completes; another user can not follow it.

use serde_json::{Value, json};

use crate::fixtures::{account, project};
use crate::on_both_databases;
use crate::operations_support::{seed_tasks, start};
use crate::support::{Backend, TestApp};
use crate::ws_support::{LEGACY_WS, TRANSPORT_WS, Ws};

on_both_databases!(progress_streams_to_the_owner_until_the_operation_ends);

const PROGRESS: &str = "subscription($id: ID!) { operationProgress(id: $id) {
    id status total processed skipped failed } }";
const TASKS: usize = 600;

async fn progress_streams_to_the_owner_until_the_operation_ends(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.operations.batch_size = 10)
        .await
        .expect("backend available");
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    seed_tasks(
        app.database(),
        &a.id,
        home["id"].as_str().expect("id"),
        "Bulk",
        TASKS,
    )
    .await;
    let mut owner = Ws::ready(app.addr, TRANSPORT_WS, &a.token).await;
    let mut other = Ws::ready(app.addr, LEGACY_WS, &b.token).await;
    let op = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "status": "DONE" } }),
    )
    .await;
    owner
        .subscribe("op", PROGRESS, json!({ "id": op["id"] }))
        .await;
    other
        .subscribe("op", PROGRESS, json!({ "id": op["id"] }))
        .await;

    // B learns nothing: the operation does not exist for B.
    let refused = other.data("op").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    assert_eq!(other.next().await.expect("complete")["type"], "complete");

    let mut seen: Vec<Value> = Vec::new();
    loop {
        let message = owner.next().await.expect("progress, then complete");
        if message["type"] == "complete" {
            break;
        }
        assert_eq!(message["type"], "next", "{message}");
        let now = message["payload"]["data"]["operationProgress"].clone();
        assert_eq!(now["id"], op["id"], "{message}");
        assert_eq!(now["total"], TASKS, "{message}");
        seen.push(now);
    }
    let processed: Vec<i64> = seen
        .iter()
        .map(|s| s["processed"].as_i64().expect("processed"))
        .collect();
    assert!(
        processed.windows(2).all(|w| w[0] <= w[1]),
        "counters never go back: {processed:?}"
    );
    // 60 batches: the subscriber sees some of them go by.
    assert!(
        processed.iter().any(|&n| n > 0 && n < TASKS as i64),
        "progress between batches: {processed:?}"
    );
    let last = seen.last().expect("at least the current state");
    assert_eq!(last["status"], "COMPLETED", "{seen:?}");
    assert_eq!(last["processed"], TASKS);
    assert!(
        seen[..seen.len() - 1]
            .iter()
            .all(|s| s["status"] != "COMPLETED"),
        "only the last item is the finished operation: {seen:?}"
    );
    // A later subscription to the finished operation gets it once and ends.
    owner
        .subscribe("again", PROGRESS, json!({ "id": op["id"] }))
        .await;
    let again = owner.data("again").await;
    assert_eq!(again["data"]["operationProgress"]["status"], "COMPLETED");
    assert_eq!(owner.next().await.expect("complete")["type"], "complete");
}
