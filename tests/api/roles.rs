//! The role matrix: for every query, mutation, sync and operation kind that
//! touches a project or its tasks, what each of OWNER, EDITOR, VIEWER, a
//! former member, a stranger and an anonymous caller gets. Whatever a role
//! may not do answers NOT_FOUND (or null, or absent from a listing) when it
//! can not see the object, FORBIDDEN when it can see it but not write it.
//!
//! Every cell runs on objects of its own: the owner makes a fresh project
//! with a live and a deleted task (and a deleted project) and shares them,
//! so no cell sees what another changed. Membership is set in the database
//! (`sync_sharing::set_member`): the invitation API has tests of its own.

use std::time::Duration;

use serde_json::{Value, json};
use tasklane::access::ProjectRole;

use crate::fixtures::{Account, account, ok, project, task};
use crate::on_both_backends;
use crate::sharing_support::set_member;
use crate::support::TestApp;
use crate::ws_support::{TRANSPORT_WS, Ws, subscriptions_reach};

on_both_backends!(every_role_gets_what_it_may, subscriptions_follow_the_role);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Editor,
    Viewer,
    Former,
    Stranger,
    Anonymous,
}

const EVERYONE: [Who; 6] = [
    Who::Owner,
    Who::Editor,
    Who::Viewer,
    Who::Former,
    Who::Stranger,
    Who::Anonymous,
];

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Data, no error.
    Ok,
    /// No error; the field is null.
    Null,
    /// No error; the fresh project is among the listed ids.
    Listed,
    /// No error; it is not.
    Unlisted,
    /// A sync conflict with this reason.
    Conflict(&'static str),
    NotFound,
    Forbidden,
    BadInput,
    Unauthenticated,
}

use Expect::*;

/// One row of the matrix: a document whose variables name the cell's
/// objects (`$P` the project, `$T` a live task, `$DT` a deleted task, `$DP`
/// a deleted project), the field it answers in, and what each caller gets,
/// in the order of [`EVERYONE`].
struct Case {
    name: &'static str,
    query: &'static str,
    variables: Value,
    field: &'static str,
    expect: [Expect; 6],
}

/// A writer's row: owner and editor may, a viewer sees but may not, the
/// others do not see.
const WRITE: [Expect; 6] = [Ok, Ok, Forbidden, NotFound, NotFound, Unauthenticated];
/// The owner's alone.
const MANAGE: [Expect; 6] = [
    Ok,
    Forbidden,
    Forbidden,
    NotFound,
    NotFound,
    Unauthenticated,
];
/// Any member may read.
const READ: [Expect; 6] = [Ok, Ok, Ok, Null, Null, Unauthenticated];
/// Another address's invitation: nobody here may take it.
const INVITEE_ONLY: [Expect; 6] = [
    NotFound,
    NotFound,
    NotFound,
    NotFound,
    NotFound,
    Unauthenticated,
];
const LISTED: [Expect; 6] = [Listed, Listed, Listed, Unlisted, Unlisted, Unauthenticated];

fn cases() -> Vec<Case> {
    let operation =
        "mutation($input: StartOperationInput!) { startOperation(input: $input) { id } }";
    vec![
        Case {
            name: "project",
            query: "query($id: ID!) { project(id: $id) { id tasks(first: 5) { edges { node { id } } } } }",
            variables: json!({ "id": "$P" }),
            field: "project",
            expect: READ,
        },
        Case {
            name: "task",
            query: "query($id: ID!) { task(id: $id) { id project { id } } }",
            variables: json!({ "id": "$T" }),
            field: "task",
            expect: READ,
        },
        Case {
            name: "node",
            query: "query($id: ID!) { node(id: $id) { id } }",
            variables: json!({ "id": "$T" }),
            field: "node",
            expect: READ,
        },
        Case {
            name: "projects",
            query: "{ projects(first: 50) { edges { node { id } } } }",
            variables: json!({}),
            field: "projects",
            expect: LISTED,
        },
        Case {
            name: "tasks",
            query: "{ tasks(first: 50) { edges { node { id project { id } } } } }",
            variables: json!({}),
            field: "tasks",
            expect: LISTED,
        },
        Case {
            name: "changes",
            query: "{ changes { projects { id } tasks { id } cursor } }",
            variables: json!({}),
            field: "changes",
            expect: LISTED,
        },
        Case {
            name: "updateProject",
            query: "mutation($id: ID!) { updateProject(id: $id, input: { name: \"renamed\" }) { id } }",
            variables: json!({ "id": "$P" }),
            field: "updateProject",
            expect: WRITE,
        },
        Case {
            name: "archiveProject",
            query: "mutation($id: ID!) { archiveProject(id: $id, archived: true) { id } }",
            variables: json!({ "id": "$P" }),
            field: "archiveProject",
            expect: WRITE,
        },
        Case {
            name: "deleteProject",
            query: "mutation($id: ID!) { deleteProject(id: $id) { id } }",
            variables: json!({ "id": "$P" }),
            field: "deleteProject",
            expect: MANAGE,
        },
        Case {
            name: "restoreProject",
            query: "mutation($id: ID!) { restoreProject(id: $id) { id } }",
            variables: json!({ "id": "$DP" }),
            field: "restoreProject",
            expect: MANAGE,
        },
        Case {
            name: "createTask",
            query: "mutation($p: ID!) { createTask(input: { projectId: $p, title: \"new\" }) { id } }",
            variables: json!({ "p": "$P" }),
            field: "createTask",
            expect: WRITE,
        },
        Case {
            name: "createTasks",
            query: "mutation($p: ID!) { createTasks(input: [{ projectId: $p, title: \"new\" }]) { id } }",
            variables: json!({ "p": "$P" }),
            field: "createTasks",
            expect: WRITE,
        },
        Case {
            name: "updateTask",
            query: "mutation($id: ID!) { updateTask(id: $id, input: { title: \"changed\" }) { id } }",
            variables: json!({ "id": "$T" }),
            field: "updateTask",
            expect: WRITE,
        },
        Case {
            name: "updateTasks",
            query: "mutation($id: ID!) { updateTasks(ids: [$id], patch: { status: DONE }) { id } }",
            variables: json!({ "id": "$T" }),
            field: "updateTasks",
            expect: WRITE,
        },
        Case {
            name: "deleteTask",
            query: "mutation($id: ID!) { deleteTask(id: $id) { id } }",
            variables: json!({ "id": "$T" }),
            field: "deleteTask",
            expect: WRITE,
        },
        Case {
            name: "restoreTask",
            query: "mutation($id: ID!) { restoreTask(id: $id) { id } }",
            variables: json!({ "id": "$DT" }),
            field: "restoreTask",
            expect: WRITE,
        },
        Case {
            name: "sync",
            query: "mutation($t: ID!, $p: ID!) { sync(input: { tasks: [{ id: $t, projectId: $p,
                title: \"synced\", baseVersion: 1 }] }) { applied conflicts { reason } } }",
            variables: json!({ "t": "$T", "p": "$P" }),
            field: "sync",
            expect: [
                Ok,
                Ok,
                Conflict("forbidden"),
                Conflict("missing"),
                Conflict("missing"),
                Unauthenticated,
            ],
        },
        Case {
            name: "startOperation UPDATE_TASKS",
            query: operation,
            variables: json!({ "input": { "kind": "UPDATE_TASKS",
                "filter": { "projectId": "$P" }, "patch": { "status": "DONE" } } }),
            field: "startOperation",
            expect: WRITE,
        },
        Case {
            name: "startOperation DELETE_TASKS",
            query: operation,
            variables: json!({ "input": { "kind": "DELETE_TASKS", "filter": { "projectId": "$P" } } }),
            field: "startOperation",
            expect: WRITE,
        },
        Case {
            name: "startOperation ARCHIVE_PROJECT",
            query: operation,
            variables: json!({ "input": { "kind": "ARCHIVE_PROJECT", "projectId": "$P" } }),
            field: "startOperation",
            expect: WRITE,
        },
        Case {
            name: "startOperation DELETE_PROJECT",
            query: operation,
            variables: json!({ "input": { "kind": "DELETE_PROJECT", "projectId": "$P" } }),
            field: "startOperation",
            expect: MANAGE,
        },
        Case {
            name: "startOperation DEDUPLICATE_TASKS",
            query: operation,
            variables: json!({ "input": { "kind": "DEDUPLICATE_TASKS", "projectId": "$P" } }),
            field: "startOperation",
            expect: WRITE,
        },
        Case {
            name: "project members, viewerRole, invitations",
            query: "query($id: ID!) { project(id: $id) { viewerRole owner { id }
                members(first: 10) { edges { node { role user { id } } } } invitations { id } } }",
            variables: json!({ "id": "$P" }),
            field: "project",
            expect: READ,
        },
        Case {
            name: "inviteToProject",
            query: "mutation($p: ID!, $e: String!) { inviteToProject(input: { projectId: $p,
                email: $e, role: VIEWER }) { id } }",
            variables: json!({ "p": "$P", "e": "$EMAIL" }),
            field: "inviteToProject",
            expect: MANAGE,
        },
        Case {
            name: "revokeInvitation",
            query: "mutation($id: ID!) { revokeInvitation(id: $id) }",
            variables: json!({ "id": "$I" }),
            field: "revokeInvitation",
            expect: MANAGE,
        },
        // The invitation names an address none of them has: only its
        // holder may accept or decline it, whatever its role elsewhere.
        Case {
            name: "acceptInvitation by id",
            query: "mutation($id: ID!) { acceptInvitation(id: $id) { id } }",
            variables: json!({ "id": "$I" }),
            field: "acceptInvitation",
            expect: INVITEE_ONLY,
        },
        Case {
            name: "declineInvitation",
            query: "mutation($id: ID!) { declineInvitation(id: $id) }",
            variables: json!({ "id": "$I" }),
            field: "declineInvitation",
            expect: INVITEE_ONLY,
        },
        Case {
            name: "myInvitations",
            query: "{ myInvitations { id projectId } }",
            variables: json!({}),
            field: "myInvitations",
            expect: [
                Unlisted,
                Unlisted,
                Unlisted,
                Unlisted,
                Unlisted,
                Unauthenticated,
            ],
        },
        Case {
            name: "updateMemberRole",
            query: "mutation($p: ID!, $u: ID!) { updateMemberRole(projectId: $p, userId: $u, role: EDITOR) { role } }",
            variables: json!({ "p": "$P", "u": "$V" }),
            field: "updateMemberRole",
            expect: MANAGE,
        },
        Case {
            name: "removeMember",
            query: "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) }",
            variables: json!({ "p": "$P", "u": "$V" }),
            field: "removeMember",
            expect: MANAGE,
        },
        Case {
            name: "transferOwnership",
            query: "mutation($p: ID!, $u: ID!) { transferOwnership(projectId: $p, userId: $u) { id } }",
            variables: json!({ "p": "$P", "u": "$E" }),
            field: "transferOwnership",
            expect: MANAGE,
        },
        Case {
            name: "leaveProject",
            query: "mutation($p: ID!) { leaveProject(projectId: $p) }",
            variables: json!({ "p": "$P" }),
            field: "leaveProject",
            expect: [BadInput, Ok, Ok, NotFound, NotFound, Unauthenticated],
        },
        Case {
            name: "startOperation IMPORT",
            query: operation,
            variables: json!({ "input": { "kind": "IMPORT", "importData": { "projects": [], "tasks": [
                { "id": "$NEW", "projectId": "$P", "title": "imported" }] } } }),
            field: "startOperation",
            expect: [Ok, Ok, Forbidden, BadInput, BadInput, Unauthenticated],
        },
    ]
}

/// The people of the matrix.
struct People {
    owner: Account,
    editor: Account,
    viewer: Account,
    former: Account,
    stranger: Account,
}

impl People {
    async fn sign_up(app: &TestApp) -> Self {
        Self {
            owner: account(app, "owner@example.com").await,
            editor: account(app, "editor@example.com").await,
            viewer: account(app, "viewer@example.com").await,
            former: account(app, "former@example.com").await,
            stranger: account(app, "stranger@example.com").await,
        }
    }

    fn token(&self, who: Who) -> Option<&str> {
        let account = match who {
            Who::Owner => &self.owner,
            Who::Editor => &self.editor,
            Who::Viewer => &self.viewer,
            Who::Former => &self.former,
            Who::Stranger => &self.stranger,
            Who::Anonymous => return None,
        };
        Some(&account.token)
    }
}

/// The objects of one cell, shared with the editor and the viewer (the
/// former member was an editor, then removed).
async fn objects(app: &TestApp, people: &People) -> Value {
    let owner = &people.owner.token;
    let live = project(app, owner, "Shared").await;
    let gone = project(app, owner, "Gone").await;
    let t = task(app, owner, &live["id"], "live", json!({})).await;
    let dt = task(app, owner, &live["id"], "deleted", json!({})).await;
    ok(
        app,
        owner,
        "mutation($t: ID!, $p: ID!) { deleteTask(id: $t) { id } deleteProject(id: $p) { id } }",
        json!({ "t": dt["id"], "p": gone["id"] }),
    )
    .await;
    for p in [&live["id"], &gone["id"]] {
        for (who, role) in [
            (&people.editor, ProjectRole::Editor),
            (&people.viewer, ProjectRole::Viewer),
            (&people.former, ProjectRole::Editor),
        ] {
            set_member(app, p, &json!(who.id), Some(role)).await;
        }
        set_member(app, p, &json!(people.former.id), None).await;
    }
    json!({ "$P": live["id"], "$DP": gone["id"], "$T": t["id"], "$DT": dt["id"],
        "$NEW": uuid::Uuid::new_v4().to_string(), "$E": people.editor.id, "$V": people.viewer.id,
        "$EMAIL": format!("{}@example.com", uuid::Uuid::new_v4().simple()) })
}

/// A pending invitation of the cell's project, made by its owner.
async fn invitation(app: &TestApp, people: &People, project: &Value) -> Value {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    ok(
        app,
        &people.owner.token,
        "mutation($p: ID!, $e: String!) { inviteToProject(input: { projectId: $p, email: $e,
            role: EDITOR }) { id } }",
        json!({ "p": project, "e": email }),
    )
    .await["inviteToProject"]["id"]
        .clone()
}

/// `template` with each placeholder string replaced by the cell's id.
fn fill(template: &Value, ids: &Value) -> Value {
    match template {
        Value::String(s) if s.starts_with('$') => ids[s.as_str()].clone(),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, ids)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, ids))).collect())
        }
        other => other.clone(),
    }
}

/// What `body` answered, as the matrix names it.
fn answer(body: &Value, field: &str, project: &Value) -> Expect {
    if let Some(code) = body["errors"][0]["extensions"]["code"].as_str() {
        return match code {
            "NOT_FOUND" => NotFound,
            "FORBIDDEN" => Forbidden,
            "BAD_USER_INPUT" => BadInput,
            "UNAUTHENTICATED" => Unauthenticated,
            other => panic!("unexpected code {other}: {body}"),
        };
    }
    let data = &body["data"][field];
    if data.is_null() {
        return Null;
    }
    if let Some(reason) = data["conflicts"][0]["reason"].as_str() {
        return Conflict(match reason {
            "forbidden" => "forbidden",
            "missing" => "missing",
            other => panic!("unexpected conflict {other}: {body}"),
        });
    }
    let text = data.to_string();
    match field {
        "projects" | "tasks" | "changes" | "myInvitations" => {
            match text.contains(project.as_str().expect("id")) {
                true => Listed,
                false => Unlisted,
            }
        }
        _ => Ok,
    }
}

async fn every_role_gets_what_it_may(app: TestApp) {
    let people = People::sign_up(&app).await;
    let mut cells = 0;
    let mut wrong = Vec::new();
    for case in cases() {
        for (who, expected) in EVERYONE.into_iter().zip(case.expect) {
            let mut ids = objects(&app, &people).await;
            if case.variables.to_string().contains("$I") {
                ids["$I"] = invitation(&app, &people, &ids["$P"]).await;
            }
            let body = app
                .gql(case.query, fill(&case.variables, &ids), people.token(who))
                .await;
            let got = answer(&body, case.field, &ids["$P"]);
            if got != expected {
                wrong.push(format!(
                    "{} as {who:?}: expected {expected:?}, got {got:?}: {body}",
                    case.name
                ));
            }
            // Whatever was refused left the objects as they were.
            if !matches!(got, Ok | Listed | Null | Unlisted) {
                let seen = app
                    .gql(
                        "query($id: ID!) { task(id: $id) { title version } }",
                        json!({ "id": ids["$T"] }),
                        Some(&people.owner.token),
                    )
                    .await;
                assert_eq!(
                    seen["data"]["task"],
                    json!({ "title": "live", "version": 1 }),
                    "{} as {who:?} changed nothing",
                    case.name
                );
            }
            cells += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cells, cases().len() * EVERYONE.len());
}

const TASK_EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) {
    type task { id title project { id } } } }";

/// Subscriptions follow the same rule: every member receives a shared
/// project's events (whoever wrote them), through `taskEvents(projectId)`
/// and through the unscoped `taskEvents`; a former member and a stranger
/// can not name the project (NOT_FOUND) and receive nothing of it.
async fn subscriptions_follow_the_role(app: TestApp) {
    let people = People::sign_up(&app).await;
    let ids = objects(&app, &people).await;
    let mut members = Vec::new();
    for who in [Who::Owner, Who::Editor, Who::Viewer] {
        let mut ws = Ws::ready(app.addr, TRANSPORT_WS, people.token(who).expect("token")).await;
        ws.subscribe("one", TASK_EVENTS, json!({ "p": ids["$P"] }))
            .await;
        ws.subscribe("all", TASK_EVENTS, json!({})).await;
        members.push((who, ws));
    }
    let mut outsiders = Vec::new();
    for who in [Who::Former, Who::Stranger] {
        let mut ws = Ws::ready(app.addr, TRANSPORT_WS, people.token(who).expect("token")).await;
        ws.subscribe("one", TASK_EVENTS, json!({ "p": ids["$P"] }))
            .await;
        let payload = ws.data("one").await;
        assert_eq!(
            payload["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{who:?}: {payload}"
        );
        assert_eq!(ws.next().await.expect("complete")["type"], "complete");
        ws.subscribe("all", TASK_EVENTS, json!({})).await;
        outsiders.push((who, ws));
    }
    subscriptions_reach(app.addr, 8).await;
    // The editor writes; every member hears it, twice (both subscriptions).
    ok(
        &app,
        people.token(Who::Editor).expect("token"),
        "mutation($id: ID!) { updateTask(id: $id, input: { title: \"by the editor\" }) { id } }",
        json!({ "id": ids["$T"] }),
    )
    .await;
    for (who, ws) in &mut members {
        let mut heard = Vec::new();
        for _ in 0..2 {
            let message = ws.next().await.expect("an event");
            let task = &message["payload"]["data"]["taskEvents"]["task"];
            assert_eq!(task["title"], "by the editor", "{who:?}: {message}");
            heard.push(message["id"].as_str().expect("id").to_owned());
        }
        heard.sort();
        assert_eq!(heard, ["all", "one"], "{who:?}");
    }
    for (who, ws) in &mut outsiders {
        if let Some(message) = ws.next_within(Duration::from_millis(300)).await {
            panic!("{who:?} heard {message:?}");
        }
    }
}
