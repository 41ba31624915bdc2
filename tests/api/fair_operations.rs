//! Operations share the worker fairly, and a dry run is an operation like
//! any other for the per-user limit.

use serde_json::{Value, json};

use crate::fixtures::{account, ok, project, task};
use crate::on_both_databases;
use crate::operations_support::{operation, seed_tasks, start, start_mutation, wait};
use crate::support::{Backend, TestApp, error_code};

on_both_databases!(
    one_owners_large_job_does_not_hold_back_anothers,
    a_dry_run_counts_against_the_running_limit,
);

/// A starts a job of 600 batches; B starts a 1-item job after it. Before,
/// the worker ran A's job to its end first; now runnable jobs take turns
/// batch by batch, so B's finishes while A's still runs.
async fn one_owners_large_job_does_not_hold_back_anothers(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.operations.batch_size = 2;
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let home_id = home["id"].as_str().expect("id");
    seed_tasks(app.database(), &a.id, home_id, "bulk", 1200).await;
    let large = start(
        &app,
        &a.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "priority": "LOW" } }),
    )
    .await;
    assert_eq!(large["total"], 1200);
    // A's job is under way before B's starts.
    loop {
        let op = operation(&app, &a.token, &large["id"]).await;
        if op["processed"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            matches!(op["status"].as_str(), Some("PENDING" | "RUNNING")),
            "{op}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let b = account(&app, "b@example.com").await;
    let theirs = project(&app, &b.token, "Theirs").await;
    task(&app, &b.token, &theirs["id"], "only", json!({})).await;
    let small = start(
        &app,
        &b.token,
        json!({ "kind": "UPDATE_TASKS", "filter": {}, "patch": { "priority": "HIGH" } }),
    )
    .await;
    let small = wait(&app, &b.token, &small["id"]).await;
    assert_eq!(small["status"], "COMPLETED");
    assert_eq!(small["processed"], 1);

    let large_now = operation(&app, &a.token, &large["id"]).await;
    assert_eq!(
        large_now["status"], "RUNNING",
        "B's 1-item job waited for A's whole job: {large_now}"
    );
    assert!(large_now["processed"].as_i64().unwrap_or(0) < 1200);
    // A's job still finishes, every item once.
    let large_done = wait(&app, &a.token, &large["id"]).await;
    assert_eq!(large_done["status"], "COMPLETED");
    assert_eq!(large_done["processed"], 1200);
}

/// With one operation allowed and one waiting, a dry run is refused as a
/// run would be; once the slot is free, it runs (and frees it again).
async fn a_dry_run_counts_against_the_running_limit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.operations.max_running = 1;
        // No worker: the first operation stays PENDING.
        c.operations.worker = false;
    })
    .await
    else {
        return;
    };
    let a = account(&app, "a@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    task(&app, &a.token, &home["id"], "one", json!({})).await;
    let input = json!({ "kind": "DELETE_TASKS", "filter": {} });
    let pending = start(&app, &a.token, input.clone()).await;
    assert_eq!(pending["status"], "PENDING");

    let real = app
        .gql(&start_mutation(), json!({ "input": input }), Some(&a.token))
        .await;
    let mut dry_input = input.clone();
    dry_input["dryRun"] = json!(true);
    let dry = app
        .gql(
            &start_mutation(),
            json!({ "input": dry_input }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&real), "CONFLICT", "{real}");
    assert_eq!(error_code(&dry), "CONFLICT", "{dry}");
    assert_eq!(dry["errors"][0]["message"], real["errors"][0]["message"]);
    let count = ok(&app, &a.token, "{ operations { totalCount } }", json!({})).await;
    assert_eq!(
        count["operations"]["totalCount"], 1,
        "the refused dry run left nothing"
    );

    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { cancelOperation(id: $id) { status } }",
        json!({ "id": pending["id"] }),
    )
    .await;
    let dry = start(&app, &a.token, dry_input.clone()).await;
    assert_eq!(dry["status"], "COMPLETED", "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["total"], 1);
    assert_eq!(dry["preview"].as_array().map(Vec::len), Some(1));
    // Finished, it no longer takes the slot.
    let again = start(&app, &a.token, dry_input).await;
    assert_eq!(again["status"], "COMPLETED");
    // A dry run that fails to plan leaves nothing behind either.
    let body = app
        .gql(
            &start_mutation(),
            json!({ "input": { "kind": "ARCHIVE_PROJECT", "dryRun": true,
                "projectId": uuid::Uuid::new_v4().to_string() } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let count = ok(&app, &a.token, "{ operations { totalCount } }", json!({})).await;
    assert_eq!(count["operations"]["totalCount"], Value::from(3));
}
