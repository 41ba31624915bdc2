//! A member removed from a project, or leaving it, is no longer anyone's
//! assignee there: each of its live tasks loses its assignee in the same
//! transaction, as a write of the remover (or the leaver) with a new
//! version and `seq`, so that the other members pull it and hear it
//! (UPDATED) while the member who went hears nothing more of the project.

use std::time::Duration;

use serde_json::{Value, json};
use tasklane::access::ProjectRole;

use crate::fixtures::{Account, account, ok, project, task};
use crate::on_both_backends;
use crate::sharing_support::share;
use crate::support::TestApp;
use crate::ws_support::{TRANSPORT_WS, Ws, subscriptions_reach};

on_both_backends!(
    a_removed_member_is_unassigned_and_the_others_hear_it,
    a_member_leaving_unassigns_itself
);

const REMOVE: &str = "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) }";
const LEAVE: &str = "mutation($p: ID!) { leaveProject(projectId: $p) }";
const TASKS: &str = "query($p: ID!) { tasks(filter: { projectId: $p, includeDeleted: true }) {
    edges { node { id version deletedAt assignee { id } updatedBy { id } } } } }";
const ASSIGNED: &str = "query($u: ID!) { tasks(filter: { assigneeId: $u }) { totalCount } }";
const CHANGES: &str = "query($since: String) { changes(since: $since) {
    tasks { id version assignee { id } updatedBy { id } } cursor } }";
const TASK_EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) {
    type task { id version assignee { id } } } }";

/// Alice's project, shared with Bob (EDITOR) and Carol (VIEWER), who
/// also share a second project of Alice's (so that each stays a user the
/// others see after leaving the first).
struct Team {
    alice: Account,
    bob: Account,
    carol: Account,
    project: Value,
}

async fn team(app: &TestApp) -> Team {
    let alice = account(app, "alice@example.com").await;
    let bob = account(app, "bob@example.com").await;
    let carol = account(app, "carol@example.com").await;
    let shared = project(app, &alice.token, "Shared").await;
    let other = project(app, &alice.token, "Other").await;
    for p in [&shared, &other] {
        let id = p["id"].as_str().expect("id");
        share(app, id, &bob.id, ProjectRole::Editor).await;
        share(app, id, &carol.id, ProjectRole::Viewer).await;
    }
    Team {
        alice,
        bob,
        carol,
        project: shared,
    }
}

/// A task of `team.project` assigned to `assignee` (none: `None`).
async fn assigned(app: &TestApp, team: &Team, title: &str, assignee: Option<&str>) -> Value {
    let extra = json!({ "assigneeId": assignee });
    task(app, &team.alice.token, &team.project["id"], title, extra).await
}

/// The project's tasks (deleted ones too) as `who` sees them, by id.
async fn tasks_seen(app: &TestApp, who: &Account, project: &Value) -> Vec<Value> {
    let data = ok(app, &who.token, TASKS, json!({ "p": project["id"] })).await;
    let edges = data["tasks"]["edges"].as_array().expect("edges");
    edges.iter().map(|e| e["node"].clone()).collect()
}

fn find<'a>(tasks: &'a [Value], t: &Value) -> &'a Value {
    tasks
        .iter()
        .find(|seen| seen["id"] == t["id"])
        .unwrap_or_else(|| panic!("{} not in {tasks:?}", t["id"]))
}

/// How many live tasks `who` sees assigned to `user` (as stored: the
/// filter is by id, whoever it names).
async fn assigned_count(app: &TestApp, who: &Account, user: &str) -> i64 {
    let data = ok(app, &who.token, ASSIGNED, json!({ "u": user })).await;
    data["tasks"]["totalCount"].as_i64().expect("count")
}

/// `who`'s `changes` since `since`: its tasks and its next cursor.
async fn pull(app: &TestApp, who: &Account, since: &Value) -> (Vec<Value>, Value) {
    let data = ok(app, &who.token, CHANGES, json!({ "since": since })).await;
    let tasks = data["changes"]["tasks"].as_array().expect("tasks").clone();
    (tasks, data["changes"]["cursor"].clone())
}

async fn a_removed_member_is_unassigned_and_the_others_hear_it(app: TestApp) {
    let team = team(&app).await;
    let (alice, bob, carol) = (&team.alice, &team.bob, &team.carol);
    let bobs = [
        assigned(&app, &team, "bob 1", Some(&bob.id)).await,
        assigned(&app, &team, "bob 2", Some(&bob.id)).await,
    ];
    let carols = assigned(&app, &team, "carol", Some(&carol.id)).await;
    let alices = assigned(&app, &team, "alice", Some(&alice.id)).await;
    let nobodys = assigned(&app, &team, "nobody", None).await;
    // A deleted task is no live task: it keeps its assignee.
    let deleted = assigned(&app, &team, "deleted", Some(&bob.id)).await;
    ok(
        &app,
        &alice.token,
        "mutation($id: ID!) { deleteTask(id: $id) { id } }",
        json!({ "id": deleted["id"] }),
    )
    .await;
    // Bob's task elsewhere stays his.
    let elsewhere = project(&app, &bob.token, "Bob's own").await;
    let extra = json!({ "assigneeId": bob.id });
    task(&app, &bob.token, &elsewhere["id"], "his", extra).await;
    let before = tasks_seen(&app, alice, &team.project).await;
    let (_, cursor) = pull(&app, carol, &Value::Null).await;

    // Carol listens to the project; Bob to all his tasks.
    let mut carols_ws = Ws::ready(app.addr, TRANSPORT_WS, &carol.token).await;
    carols_ws
        .subscribe("p", TASK_EVENTS, json!({ "p": team.project["id"] }))
        .await;
    let mut bobs_ws = Ws::ready(app.addr, TRANSPORT_WS, &bob.token).await;
    bobs_ws.subscribe("all", TASK_EVENTS, json!({})).await;
    subscriptions_reach(app.addr, 2).await;

    let removed = ok(
        &app,
        &alice.token,
        REMOVE,
        json!({ "p": team.project["id"], "u": bob.id }),
    )
    .await;
    assert_eq!(removed["removeMember"], true);

    // Bob's live tasks there: no assignee, one version more, Alice's write.
    let after = tasks_seen(&app, alice, &team.project).await;
    for t in &bobs {
        let (was, now) = (find(&before, t), find(&after, t));
        assert_eq!(now["assignee"], Value::Null, "{now}");
        assert_eq!(now["version"], was["version"].as_i64().unwrap() + 1);
        assert_eq!(now["updatedBy"]["id"], json!(alice.id), "{now}");
    }
    // The others' assignments, the unassigned and the deleted one: as they were.
    for t in [&carols, &alices, &nobodys, &deleted] {
        assert_eq!(find(&after, t), find(&before, t));
    }
    assert_eq!(find(&after, &carols)["assignee"]["id"], json!(carol.id));
    // Cleared as stored, not only hidden: no live task there names Bob.
    assert_eq!(assigned_count(&app, alice, &bob.id).await, 0);
    assert_eq!(assigned_count(&app, bob, &bob.id).await, 1);

    // Carol pulls exactly Bob's two tasks, unassigned, at their new version.
    let (pulled, _) = pull(&app, carol, &cursor).await;
    let mut pulled_ids: Vec<&Value> = pulled.iter().map(|t| &t["id"]).collect();
    let mut expected: Vec<&Value> = bobs.iter().map(|t| &t["id"]).collect();
    pulled_ids.sort_by_key(|id| id.to_string());
    expected.sort_by_key(|id| id.to_string());
    assert_eq!(pulled_ids, expected, "{pulled:?}");
    for t in &pulled {
        assert_eq!(t["assignee"], Value::Null, "{t}");
        assert_eq!(t["version"], find(&after, t)["version"]);
    }

    // Carol hears both as UPDATED; Bob hears nothing of the project.
    let mut heard = Vec::new();
    for _ in &bobs {
        let event = carols_ws.data("p").await;
        let event = &event["data"]["taskEvents"];
        assert_eq!(event["type"], "UPDATED", "{event}");
        assert_eq!(event["task"]["assignee"], Value::Null, "{event}");
        heard.push(event["task"]["id"].clone());
    }
    heard.sort_by_key(|id| id.to_string());
    assert_eq!(heard.iter().collect::<Vec<_>>(), expected);
    bobs_ws.silent_for(Duration::from_millis(300)).await;
}

async fn a_member_leaving_unassigns_itself(app: TestApp) {
    let team = team(&app).await;
    let (alice, bob, carol) = (&team.alice, &team.bob, &team.carol);
    // Carol, a VIEWER, may not write tasks, yet leaving clears her own.
    let carols = assigned(&app, &team, "carol", Some(&carol.id)).await;
    let bobs = assigned(&app, &team, "bob", Some(&bob.id)).await;
    let before = tasks_seen(&app, alice, &team.project).await;
    let (_, cursor) = pull(&app, bob, &Value::Null).await;
    let mut bobs_ws = Ws::ready(app.addr, TRANSPORT_WS, &bob.token).await;
    bobs_ws
        .subscribe("p", TASK_EVENTS, json!({ "p": team.project["id"] }))
        .await;
    subscriptions_reach(app.addr, 1).await;

    let left = ok(
        &app,
        &carol.token,
        LEAVE,
        json!({ "p": team.project["id"] }),
    )
    .await;
    assert_eq!(left["leaveProject"], true);

    let after = tasks_seen(&app, alice, &team.project).await;
    let now = find(&after, &carols);
    assert_eq!(now["assignee"], Value::Null, "{now}");
    let was = find(&before, &carols)["version"].as_i64().unwrap();
    assert_eq!(now["version"], was + 1);
    // Her write (she is still seen: she shares the other project).
    assert_eq!(now["updatedBy"]["id"], json!(carol.id), "{now}");
    assert_eq!(find(&after, &bobs), find(&before, &bobs));
    assert_eq!(assigned_count(&app, alice, &carol.id).await, 0);

    // Bob pulls it and hears it.
    let (pulled, _) = pull(&app, bob, &cursor).await;
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    assert_eq!(pulled[0]["id"], carols["id"]);
    assert_eq!(pulled[0]["assignee"], Value::Null);
    assert_eq!(pulled[0]["updatedBy"]["id"], json!(carol.id));
    let event = bobs_ws.data("p").await;
    let event = &event["data"]["taskEvents"];
    assert_eq!(event["type"], "UPDATED", "{event}");
    assert_eq!(event["task"]["id"], carols["id"], "{event}");
    assert_eq!(event["task"]["assignee"], Value::Null, "{event}");
}
