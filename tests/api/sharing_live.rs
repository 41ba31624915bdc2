//! Live delivery when membership changes: a member removed on one instance
//! stops receiving on another within a second — its subscription to the
//! project's tasks completes, its other subscriptions stay open and hear
//! nothing more of the project — while the remaining members hear the
//! removal itself on `projectEvents`.

use std::time::{Duration, Instant};

use serde_json::json;
use tasklane::access::ProjectRole;

use crate::fixtures::{account, ok, project, task};
use crate::on_both_databases;
use crate::sharing_support::set_member;
use crate::subscriptions::update_task;
use crate::support::Backend;
use crate::ws_support::{TRANSPORT_WS, Ws, subscriptions_reach, two_instances};

on_both_databases!(a_removal_on_one_instance_stops_delivery_on_another);

const TASK_EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) {
    type task { id title } } }";
const PROJECT_EVENTS: &str = "subscription { projectEvents { type project { id }
    member { role user { id } } } }";

async fn a_removal_on_one_instance_stops_delivery_on_another(backend: Backend) {
    let (app, _second, there) = two_instances(backend).await;
    let owner = account(&app, "owner@example.com").await;
    let member = account(&app, "member@example.com").await;
    let p = project(&app, &owner.token, "Shared").await;
    let t = task(&app, &owner.token, &p["id"], "first", json!({})).await;
    set_member(&app, &p["id"], &json!(member.id), Some(ProjectRole::Editor)).await;
    // The member listens on the other instance; the owner here.
    let mut theirs = Ws::ready(there, TRANSPORT_WS, &member.token).await;
    theirs
        .subscribe("one", TASK_EVENTS, json!({ "p": p["id"] }))
        .await;
    theirs.subscribe("all", TASK_EVENTS, json!({})).await;
    let mut mine = Ws::ready(app.addr, TRANSPORT_WS, &owner.token).await;
    mine.subscribe("projects", PROJECT_EVENTS, json!({})).await;
    subscriptions_reach(there, if there == app.addr { 3 } else { 2 }).await;
    subscriptions_reach(app.addr, if there == app.addr { 3 } else { 1 }).await;
    update_task(&app, &owner.token, &t["id"], "heard").await;
    let mut heard = Vec::new();
    for _ in 0..2 {
        let message = theirs.next().await.expect("an event");
        assert_eq!(
            message["payload"]["data"]["taskEvents"]["task"]["title"], "heard",
            "{message}"
        );
        heard.push(message["id"].as_str().expect("id").to_owned());
    }
    heard.sort();
    assert_eq!(heard, ["all", "one"]);

    let removed_at = Instant::now();
    let removed = ok(
        &app,
        &owner.token,
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) }",
        json!({ "p": p["id"], "u": member.id }),
    )
    .await;
    assert_eq!(removed["removeMember"], true);
    // The project subscription completes on the other instance, at once.
    let ended = theirs.next().await.expect("complete");
    assert_eq!(
        (&ended["type"], &ended["id"]),
        (&json!("complete"), &json!("one")),
        "{ended}"
    );
    let took = removed_at.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // The owner hears the removal, naming the member.
    let event = mine.data("projects").await;
    let event = &event["data"]["projectEvents"];
    assert_eq!(event["type"], "MEMBER_REMOVED", "{event}");
    assert_eq!(event["member"]["user"]["id"], json!(member.id), "{event}");
    // Later writes reach the owner's side only; the member's socket stays
    // open for its other subscriptions and hears nothing of the project.
    update_task(&app, &owner.token, &t["id"], "unheard").await;
    if let Some(message) = theirs.next_within(Duration::from_millis(500)).await {
        panic!("a removed member heard {message:?}");
    }
    theirs.subscribe("me", "{ me { email } }", json!({})).await;
    assert_eq!(
        theirs.data("me").await["data"]["me"]["email"],
        "member@example.com"
    );
}
