//! Sharing: invitations mailed through the file transport and accepted by
//! token or by id, declined, revoked, replaced, expired and used twice; the
//! limits on members, pending invitations and invitations per inviter;
//! role changes, removal, leaving and ownership transfer; the members,
//! owner, role and invitations each role sees; and membership events on
//! `projectEvents`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tasklane::auth::rate_limit::Rate;
use tasklane::config::Config;
use tasklane::mail::INVITATION_SUBJECT;

use crate::account_helpers::{login, me_or_code, spawn_with_mail, token_from_mail};
use crate::fixtures::{Account, account, ok, project};
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, TestApp, error_code, error_field};
use crate::ws_support::{TRANSPORT_WS, Ws, subscriptions_reach};

const INVITE: &str = "mutation($input: InviteToProjectInput!) { inviteToProject(input: $input) {
    id projectId projectName email role invitedBy { id email displayName } expiresAt createdAt } }";
const ACCEPT: &str = "mutation($t: String, $id: ID) { acceptInvitation(token: $t, id: $id) {
    id name viewerRole owner { id } } }";
const MINE: &str =
    "{ myInvitations { id projectId projectName email role invitedBy { id email } } }";
const DECLINE: &str = "mutation($id: ID!) { declineInvitation(id: $id) }";
const REVOKE: &str = "mutation($id: ID!) { revokeInvitation(id: $id) }";
const SET_ROLE: &str = "mutation($p: ID!, $u: ID!, $r: ProjectRole!) {
    updateMemberRole(projectId: $p, userId: $u, role: $r) { role since user { id email } } }";
const REMOVE: &str = "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) }";
const LEAVE: &str = "mutation($p: ID!) { leaveProject(projectId: $p) }";
const TRANSFER: &str = "mutation($p: ID!, $u: ID!) { transferOwnership(projectId: $p, userId: $u) {
    id version viewerRole owner { id } } }";
const SHARED: &str = "query($id: ID!, $first: Int, $after: String) { project(id: $id) {
    id viewerRole owner { id email displayName }
    members(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { role since user { id email displayName } } } }
    invitations { id email role } } }";

on_both_databases!(
    an_invitation_mailed_to_any_address_is_accepted_by_token_once,
    invitations_by_id_need_the_verified_address,
    replaced_revoked_and_expired_invitations_are_refused,
    members_pending_invitations_and_invites_are_limited,
    owners_manage_roles_removal_and_transfer_others_leave,
    membership_changes_reach_project_events,
    visible_users_are_oneself_fellow_members_and_inviters,
    a_transfer_moves_the_tasks_and_is_announced,
    an_api_key_joins_without_verifying_the_address,
);

/// Invites `email` to `project` as `role` with `owner`'s token; the body.
async fn invite(app: &TestApp, owner: &str, project: &Value, email: &str, role: &str) -> Value {
    app.gql(
        INVITE,
        json!({ "input": { "projectId": project, "email": email, "role": role } }),
        Some(owner),
    )
    .await
}

/// The token of the `n`-th invitation mailed to `email`.
async fn mailed(dir: &Path, email: &str, n: usize) -> String {
    token_from_mail(dir, email, INVITATION_SUBJECT, n).await
}

/// Accepts with a token or an id; the body.
async fn accept(app: &TestApp, who: &str, token: Option<&str>, id: Option<&Value>) -> Value {
    app.gql(ACCEPT, json!({ "t": token, "id": id }), Some(who))
        .await
}

/// `email` signs up and proves its address (the proof ends the session
/// signup made, so it signs in again).
async fn verified_account(app: &TestApp, dir: &Path, email: &str) -> Account {
    let user = account(app, email).await;
    ok(
        app,
        &user.token,
        "mutation { requestEmailVerification }",
        json!({}),
    )
    .await;
    let token = token_from_mail(dir, email, "Confirm your email address", 1).await;
    let body = app
        .gql(
            "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
            json!({ "t": token }),
            None,
        )
        .await;
    assert_eq!(body["data"]["verifyEmail"]["emailVerified"], true, "{body}");
    let again = login(app, email, PASSWORD, None).await;
    Account {
        token: again["accessToken"].as_str().expect("token").to_owned(),
        id: user.id,
    }
}

/// `member` joins `project` as `role` by the token of the first
/// invitation `owner` mails to `email` (an address other than the
/// member's own, so that accepting verifies nothing and ends no session).
async fn join(
    app: &TestApp,
    dir: &Path,
    owner: &Account,
    project: &Value,
    member: &Account,
    email: &str,
    role: &str,
) {
    let body = invite(app, &owner.token, project, email, role).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let token = mailed(dir, email, 1).await;
    let body = accept(app, &member.token, Some(&token), None).await;
    assert_eq!(
        body["data"]["acceptInvitation"]["viewerRole"], role,
        "{body}"
    );
}

/// The error code and field of a document `who` runs, which must fail.
async fn refusal(app: &TestApp, who: &Account, query: &str, variables: Value) -> (String, String) {
    let body = app.gql(query, variables, Some(&who.token)).await;
    assert!(
        body["data"]
            .as_object()
            .is_none_or(|d| d.values().all(Value::is_null)),
        "{body}"
    );
    (error_code(&body).to_owned(), error_field(&body).to_owned())
}

/// The project as `who` sees it (`null` when it sees none).
async fn shared(app: &TestApp, who: &str, project: &Value) -> Value {
    ok(app, who, SHARED, json!({ "id": project })).await["project"].clone()
}

fn member_ids(project: &Value) -> Vec<Value> {
    project["members"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["user"]["id"].clone())
        .collect()
}

async fn an_invitation_mailed_to_any_address_is_accepted_by_token_once(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |config| {
        config.public_url = "https://app.example.com".into();
    })
    .await
    .expect("app");
    let owner = account(&app, "owner@example.com").await;
    let p = project(&app, &owner.token, "Garden").await;
    // One address has an account, one has none: the same answer.
    let existing = account(&app, "has@example.com").await;
    let with = invite(&app, &owner.token, &p["id"], "Has@Example.com", "EDITOR").await;
    let without = invite(&app, &owner.token, &p["id"], "new@example.com", "VIEWER").await;
    let (with, without) = (
        &with["data"]["inviteToProject"],
        &without["data"]["inviteToProject"],
    );
    assert_eq!(with["email"], "has@example.com", "{with}");
    assert_eq!(
        (
            &with["projectId"],
            &with["projectName"],
            &with["role"],
            &with["invitedBy"]["id"]
        ),
        (
            &p["id"],
            &json!("Garden"),
            &json!("EDITOR"),
            &json!(owner.id)
        )
    );
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(with), keys(without));
    assert_eq!(without["role"], "VIEWER");
    // Both are mailed a link under the public URL.
    let has_token = mailed(dir.path(), "has@example.com", 1).await;
    let new_token = mailed(dir.path(), "new@example.com", 1).await;
    let mail = crate::account_helpers::mails(dir.path()).concat();
    assert!(
        mail.contains("https://app.example.com/accept-invitation?token="),
        "{mail}"
    );
    assert!(mail.contains("\"Garden\""), "{mail}");
    // The owner sees both pending.
    let seen = shared(&app, &owner.token, &p["id"]).await;
    assert_eq!(
        seen["invitations"].as_array().map(Vec::len),
        Some(2),
        "{seen}"
    );
    // The address without an account signs up and accepts by the mailed
    // token: its address is the invited one, so accepting verifies it,
    // and (the first proof) ends the session made before.
    let newcomer = account(&app, "new@example.com").await;
    let body = accept(&app, &newcomer.token, Some(&new_token), None).await;
    let joined = &body["data"]["acceptInvitation"];
    assert_eq!(
        (&joined["id"], &joined["viewerRole"], &joined["owner"]["id"]),
        (&p["id"], &json!("VIEWER"), &json!(owner.id)),
        "{body}"
    );
    assert_eq!(me_or_code(&app, &newcomer.token).await, "UNAUTHENTICATED");
    let again = login(&app, "new@example.com", PASSWORD, None).await;
    assert_eq!(again["user"]["emailVerified"], true, "{again}");
    let newcomer_token = again["accessToken"].as_str().expect("token").to_owned();
    // Single use, whoever presents it.
    let twice = accept(&app, &existing.token, Some(&new_token), None).await;
    assert_eq!(error_code(&twice), "BAD_USER_INPUT", "{twice}");
    assert_eq!(error_field(&twice), "token");
    // The token works for whichever account holds it: an account of
    // another address joins, and its own address stays unverified.
    invite(&app, &owner.token, &p["id"], "third@example.com", "EDITOR").await;
    let third_token = mailed(dir.path(), "third@example.com", 1).await;
    let body = accept(&app, &existing.token, Some(&third_token), None).await;
    assert_eq!(
        body["data"]["acceptInvitation"]["viewerRole"], "EDITOR",
        "{body}"
    );
    let me = ok(
        &app,
        &existing.token,
        "{ me { email emailVerified } }",
        json!({}),
    )
    .await;
    assert_eq!(
        me["me"],
        json!({ "email": "has@example.com", "emailVerified": false })
    );
    let nonsense = accept(&app, &existing.token, Some("not-a-token"), None).await;
    assert_eq!(error_code(&nonsense), "BAD_USER_INPUT", "{nonsense}");
    // The invitation of has@ is still pending, its token good.
    assert_eq!(has_token.len(), 43);
    // Members in the order they joined; every member sees them and the owner.
    let seen = shared(&app, &newcomer_token, &p["id"]).await;
    assert_eq!(
        member_ids(&seen),
        vec![json!(owner.id), json!(newcomer.id), json!(existing.id)]
    );
    assert_eq!(seen["members"]["totalCount"], 3);
    assert_eq!(seen["owner"]["email"], "owner@example.com");
    assert_eq!(seen["viewerRole"], "VIEWER");
    assert_eq!(
        seen["invitations"],
        json!([]),
        "pending invitations are the owner's"
    );
    let seen = shared(&app, &owner.token, &p["id"]).await;
    assert_eq!(
        seen["invitations"],
        json!([{ "id": with["id"], "email": "has@example.com", "role": "EDITOR" }]),
        "the used ones are gone"
    );
    let roles: Vec<Value> = seen["members"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["role"].clone())
        .collect();
    assert_eq!(
        roles,
        vec![json!("OWNER"), json!("VIEWER"), json!("EDITOR")]
    );
    // Pages of one member follow the cursor.
    let mut after: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let data = ok(
            &app,
            &owner.token,
            SHARED,
            json!({ "id": p["id"], "first": 1, "after": after }),
        )
        .await;
        let members = &data["project"]["members"];
        paged.extend(member_ids(&data["project"]));
        if members["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = members["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(paged, member_ids(&seen));
    let body = app
        .gql(
            SHARED,
            json!({ "id": p["id"], "after": "bogus" }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

async fn invitations_by_id_need_the_verified_address(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let p = project(&app, &owner.token, "Shared").await;
    let q = project(&app, &owner.token, "Declined").await;
    let unverified = account(&app, "later@example.com").await;
    let body = invite(&app, &owner.token, &p["id"], "later@example.com", "EDITOR").await;
    let id = body["data"]["inviteToProject"]["id"].clone();
    // Unverified: nothing listed, the id is not enough.
    assert_eq!(
        ok(&app, &unverified.token, MINE, json!({})).await["myInvitations"],
        json!([])
    );
    let body = accept(&app, &unverified.token, None, Some(&id)).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    let invitee = verified_account(&app, dir.path(), "carol@example.com").await;
    let body = invite(&app, &owner.token, &p["id"], "CAROL@example.com", "VIEWER").await;
    let carols = body["data"]["inviteToProject"]["id"].clone();
    let body = invite(&app, &owner.token, &q["id"], "carol@example.com", "EDITOR").await;
    let declined = body["data"]["inviteToProject"]["id"].clone();
    let mine = ok(&app, &invitee.token, MINE, json!({})).await["myInvitations"].clone();
    assert_eq!(mine.as_array().map(Vec::len), Some(2), "{mine}");
    assert_eq!(
        mine[0],
        json!({ "id": carols, "projectId": p["id"], "projectName": "Shared",
                "email": "carol@example.com", "role": "VIEWER",
                "invitedBy": { "id": owner.id, "email": "owner@example.com" } })
    );
    // Until it accepts, the invitee sees nothing else of the project.
    assert_eq!(shared(&app, &invitee.token, &p["id"]).await, Value::Null);
    // Someone else's invitation answers as a missing one.
    let stranger = verified_account(&app, dir.path(), "eve@example.com").await;
    for body in [
        accept(&app, &stranger.token, None, Some(&carols)).await,
        app.gql(DECLINE, json!({ "id": carols }), Some(&stranger.token))
            .await,
        app.gql(REVOKE, json!({ "id": carols }), Some(&stranger.token))
            .await,
        accept(
            &app,
            &stranger.token,
            None,
            Some(&json!(uuid::Uuid::new_v4().to_string())),
        )
        .await,
    ] {
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    }
    // Anonymous: none of it.
    for (query, vars) in [
        (MINE, json!({})),
        (ACCEPT, json!({ "id": carols })),
        (DECLINE, json!({ "id": carols })),
    ] {
        let body = app.gql(query, vars, None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    // Exactly one of token and id.
    let both = accept(&app, &invitee.token, Some("t"), Some(&carols)).await;
    assert_eq!(
        (error_code(&both), error_field(&both)),
        ("BAD_USER_INPUT", "id"),
        "{both}"
    );
    let neither = accept(&app, &invitee.token, None, None).await;
    assert_eq!(
        (error_code(&neither), error_field(&neither)),
        ("BAD_USER_INPUT", "token")
    );

    let body = app
        .gql(DECLINE, json!({ "id": declined }), Some(&invitee.token))
        .await;
    assert_eq!(body["data"]["declineInvitation"], true, "{body}");
    let body = accept(&app, &invitee.token, None, Some(&declined)).await;
    assert_eq!(
        error_code(&body),
        "NOT_FOUND",
        "a declined invitation: {body}"
    );
    let body = accept(&app, &invitee.token, None, Some(&carols)).await;
    assert_eq!(
        body["data"]["acceptInvitation"]["viewerRole"], "VIEWER",
        "{body}"
    );
    let body = accept(&app, &invitee.token, None, Some(&carols)).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "used: {body}");
    assert_eq!(
        ok(&app, &invitee.token, MINE, json!({})).await["myInvitations"],
        json!([])
    );
    // The owner's listing shows neither any more.
    let seen = shared(&app, &owner.token, &q["id"]).await;
    assert_eq!(seen["invitations"], json!([]));
    // A member is not invited again.
    let body = invite(&app, &owner.token, &p["id"], "carol@example.com", "EDITOR").await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input.email"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is already a member")
    );
    let body = invite(&app, &owner.token, &p["id"], "owner@example.com", "EDITOR").await;
    assert_eq!(error_field(&body), "input.email", "{body}");
}

async fn replaced_revoked_and_expired_invitations_are_refused(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let editor = account(&app, "editor@example.com").await;
    let stranger = account(&app, "stranger@example.com").await;
    let p = project(&app, &owner.token, "P").await;
    join(
        &app,
        dir.path(),
        &owner,
        &p["id"],
        &editor,
        "editor-mail@example.com",
        "EDITOR",
    )
    .await;
    // Rules on the input.
    let body = invite(&app, &owner.token, &p["id"], "x@example.com", "OWNER").await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input.role")
    );
    let body = invite(&app, &owner.token, &p["id"], "not an address", "VIEWER").await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input.email")
    );
    // Only the owner invites and revokes.
    let body = invite(&app, &editor.token, &p["id"], "x@example.com", "VIEWER").await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = invite(&app, &stranger.token, &p["id"], "x@example.com", "VIEWER").await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    // Inviting again replaces the pending invitation: the first link stops working.
    // (Each mail is read before the next is sent: they go out in the
    // background, so two sent at once may land in either order.)
    invite(&app, &owner.token, &p["id"], "x@example.com", "VIEWER").await;
    let first_token = mailed(dir.path(), "x@example.com", 1).await;
    let body = invite(&app, &owner.token, &p["id"], "x@example.com", "EDITOR").await;
    let second = body["data"]["inviteToProject"]["id"].clone();
    let second_token = mailed(dir.path(), "x@example.com", 2).await;
    let seen = shared(&app, &owner.token, &p["id"]).await;
    assert_eq!(
        seen["invitations"],
        json!([{ "id": second, "email": "x@example.com", "role": "EDITOR" }])
    );
    let body = accept(&app, &stranger.token, Some(&first_token), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "replaced: {body}");

    let body = app
        .gql(REVOKE, json!({ "id": second }), Some(&editor.token))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = app
        .gql(REVOKE, json!({ "id": second }), Some(&stranger.token))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let body = app
        .gql(REVOKE, json!({ "id": second }), Some(&owner.token))
        .await;
    assert_eq!(body["data"]["revokeInvitation"], true, "{body}");
    let body = accept(&app, &stranger.token, Some(&second_token), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "revoked: {body}");
    let body = app
        .gql(REVOKE, json!({ "id": second }), Some(&owner.token))
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "id"),
        "{body}"
    );
    assert_eq!(shared(&app, &stranger.token, &p["id"]).await, Value::Null);

    // An invitation past its lifetime is refused.
    let (short, short_dir) = spawn_with_mail(backend, |config: &mut Config| {
        config.sharing.invitation_ttl = Duration::from_millis(400);
    })
    .await
    .expect("app");
    let owner = account(&short, "owner@example.com").await;
    let late = account(&short, "late@example.com").await;
    let p = project(&short, &owner.token, "P").await;
    invite(&short, &owner.token, &p["id"], "late@example.com", "VIEWER").await;
    let token = mailed(short_dir.path(), "late@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let body = accept(&short, &late.token, Some(&token), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "expired: {body}");
    assert_eq!(
        shared(&short, &owner.token, &p["id"]).await["invitations"],
        json!([])
    );
}

async fn members_pending_invitations_and_invites_are_limited(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |config: &mut Config| {
        config.sharing.max_members = 2;
        config.sharing.max_pending_invitations = 2;
        config.invite_rate = Rate {
            max: 4,
            window: Duration::from_secs(3600),
        };
    })
    .await
    .expect("app");
    let owner = account(&app, "owner@example.com").await;
    // Accounts of other addresses than the invited ones: accepting leaves
    // their sessions as they are.
    let a = account(&app, "account-a@example.com").await;
    let b = account(&app, "account-b@example.com").await;
    let p = project(&app, &owner.token, "Small").await;
    for email in ["a@example.com", "b@example.com"] {
        let body = invite(&app, &owner.token, &p["id"], email, "EDITOR").await;
        assert_eq!(body["errors"], Value::Null, "{body}");
    }
    let body = invite(&app, &owner.token, &p["id"], "c@example.com", "EDITOR").await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input.projectId")
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("TASKLANE_PROJECT_MAX_PENDING_INVITATIONS"),
        "{body}"
    );
    let token_a = mailed(dir.path(), "a@example.com", 1).await;
    let token_b = mailed(dir.path(), "b@example.com", 1).await;
    let body = accept(&app, &a.token, Some(&token_a), None).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    // Two members: the most this project may have.
    let body = accept(&app, &b.token, Some(&token_b), None).await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "token")
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("TASKLANE_PROJECT_MAX_MEMBERS"),
        "{body}"
    );
    assert_eq!(shared(&app, &b.token, &p["id"]).await, Value::Null);
    let body = invite(&app, &owner.token, &p["id"], "d@example.com", "EDITOR").await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "input.projectId")
    );
    // Four invitations counted for this inviter: the fifth is refused.
    let body = invite(&app, &owner.token, &p["id"], "e@example.com", "EDITOR").await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // Another inviter has a count of its own.
    let q = project(&app, &a.token, "Mine").await;
    let body = invite(&app, &a.token, &q["id"], "e@example.com", "EDITOR").await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}

async fn owners_manage_roles_removal_and_transfer_others_leave(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let editor = account(&app, "editor@example.com").await;
    let viewer = account(&app, "viewer@example.com").await;
    let stranger = account(&app, "stranger@example.com").await;
    let p = project(&app, &owner.token, "Team").await;
    let pid = &p["id"];
    join(
        &app,
        dir.path(),
        &owner,
        pid,
        &editor,
        "editor-mail@example.com",
        "EDITOR",
    )
    .await;
    join(
        &app,
        dir.path(),
        &owner,
        pid,
        &viewer,
        "viewer-mail@example.com",
        "VIEWER",
    )
    .await;
    invite(&app, &owner.token, pid, "pending@example.com", "VIEWER").await;

    // What each role sees.
    for (who, role, invitations) in [
        (&owner, "OWNER", 1),
        (&editor, "EDITOR", 0),
        (&viewer, "VIEWER", 0),
    ] {
        let seen = shared(&app, &who.token, pid).await;
        assert_eq!(seen["viewerRole"], role, "{seen}");
        assert_eq!(seen["owner"]["id"], json!(owner.id));
        assert_eq!(seen["members"]["totalCount"], 3);
        assert_eq!(
            seen["invitations"].as_array().map(Vec::len),
            Some(invitations)
        );
    }
    assert_eq!(shared(&app, &stranger.token, pid).await, Value::Null);
    // Listed together, each project has its own invitations.
    let side = project(&app, &owner.token, "Side").await;
    invite(
        &app,
        &owner.token,
        &side["id"],
        "side@example.com",
        "EDITOR",
    )
    .await;
    let listed = ok(
        &app,
        &owner.token,
        "{ projects(orderBy: {field: NAME}) { edges { node { name invitations { email } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["projects"]["edges"],
        json!([
            { "node": { "name": "Side", "invitations": [{ "email": "side@example.com" }] } },
            { "node": { "name": "Team", "invitations": [{ "email": "pending@example.com" }] } },
        ])
    );

    let on = |user: &Account| json!({ "p": pid, "u": user.id });
    let set = |user: &Account, role: &str| json!({ "p": pid, "u": user.id, "r": role });
    // Owner-only mutations: FORBIDDEN to members, NOT_FOUND to strangers.
    for (who, code) in [
        (&editor, "FORBIDDEN"),
        (&viewer, "FORBIDDEN"),
        (&stranger, "NOT_FOUND"),
    ] {
        for (query, vars) in [
            (SET_ROLE, set(&viewer, "EDITOR")),
            (REMOVE, on(&viewer)),
            (TRANSFER, on(&editor)),
            (
                INVITE,
                json!({ "input": { "projectId": pid, "email": "more@example.com", "role": "VIEWER" } }),
            ),
        ] {
            assert_eq!(refusal(&app, who, query, vars).await.0, code, "{query}");
        }
    }
    let left = json!({ "p": pid });
    assert_eq!(
        refusal(&app, &stranger, LEAVE, left.clone()).await.0,
        "NOT_FOUND"
    );

    // Roles.
    let data = ok(&app, &owner.token, SET_ROLE, set(&viewer, "EDITOR")).await;
    let member = &data["updateMemberRole"];
    assert_eq!(
        (&member["role"], &member["user"]["id"]),
        (&json!("EDITOR"), &json!(viewer.id))
    );
    assert_eq!(
        shared(&app, &viewer.token, pid).await["viewerRole"],
        "EDITOR"
    );
    ok(&app, &owner.token, SET_ROLE, set(&viewer, "VIEWER")).await;
    let bad = |field: &str| ("BAD_USER_INPUT".to_owned(), field.to_owned());
    assert_eq!(
        refusal(&app, &owner, SET_ROLE, set(&viewer, "OWNER")).await,
        bad("role")
    );
    assert_eq!(
        refusal(&app, &owner, SET_ROLE, set(&owner, "EDITOR")).await,
        bad("userId")
    );
    assert_eq!(
        refusal(&app, &owner, SET_ROLE, set(&stranger, "EDITOR"))
            .await
            .0,
        "NOT_FOUND"
    );

    // Removal and leaving.
    assert_eq!(
        refusal(&app, &owner, REMOVE, on(&owner)).await,
        bad("userId")
    );
    let body = app.gql(LEAVE, left.clone(), Some(&owner.token)).await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "projectId")
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("transferOwnership")
    );
    assert_eq!(
        ok(&app, &viewer.token, LEAVE, left.clone()).await["leaveProject"],
        true
    );
    assert_eq!(shared(&app, &viewer.token, pid).await, Value::Null);
    assert_eq!(
        refusal(&app, &viewer, LEAVE, left).await.0,
        "NOT_FOUND",
        "a former member"
    );
    assert_eq!(
        refusal(&app, &owner, REMOVE, on(&viewer)).await.0,
        "NOT_FOUND"
    );

    // Transfer: to a member only, not to oneself.
    assert_eq!(
        refusal(&app, &owner, TRANSFER, on(&stranger)).await.0,
        "NOT_FOUND"
    );
    assert_eq!(
        refusal(&app, &owner, TRANSFER, on(&owner)).await,
        bad("userId")
    );
    let before = p["version"].as_i64().expect("version");
    let data = ok(&app, &owner.token, TRANSFER, on(&editor)).await;
    let moved = &data["transferOwnership"];
    assert_eq!(
        (&moved["owner"]["id"], &moved["viewerRole"]),
        (&json!(editor.id), &json!("EDITOR")),
        "{moved}"
    );
    assert_eq!(moved["version"].as_i64(), Some(before + 1));
    assert_eq!(
        shared(&app, &editor.token, pid).await["viewerRole"],
        "OWNER"
    );
    // The former owner is an editor now: owner-only mutations are
    // FORBIDDEN, and the new owner may remove it.
    assert_eq!(
        refusal(&app, &owner, REMOVE, on(&editor)).await.0,
        "FORBIDDEN"
    );
    assert_eq!(
        refusal(&app, &owner, TRANSFER, on(&owner)).await.0,
        "FORBIDDEN"
    );
    assert_eq!(
        ok(&app, &editor.token, REMOVE, on(&owner)).await["removeMember"],
        true
    );
    assert_eq!(shared(&app, &owner.token, pid).await, Value::Null);
    assert_eq!(
        member_ids(&shared(&app, &editor.token, pid).await),
        vec![json!(editor.id)]
    );
}

async fn membership_changes_reach_project_events(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let member = account(&app, "member@example.com").await;
    let p = project(&app, &owner.token, "Live").await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &owner.token).await;
    ws.subscribe(
        "p",
        "subscription { projectEvents { type project { id name }
            member { role since user { id email } } } }",
        json!({}),
    )
    .await;
    subscriptions_reach(app.addr, 1).await;
    join(
        &app,
        dir.path(),
        &owner,
        &p["id"],
        &member,
        "member-mail@example.com",
        "EDITOR",
    )
    .await;
    ok(
        &app,
        &owner.token,
        SET_ROLE,
        json!({ "p": p["id"], "u": member.id, "r": "VIEWER" }),
    )
    .await;
    ok(
        &app,
        &owner.token,
        REMOVE,
        json!({ "p": p["id"], "u": member.id }),
    )
    .await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let payload = ws.data("p").await;
        assert_eq!(payload["errors"], Value::Null, "{payload}");
        let e = payload["data"]["projectEvents"].clone();
        // On PostgreSQL the project's creation may still arrive.
        if e["type"] == "CREATED" {
            continue;
        }
        assert_eq!(e["project"]["id"], p["id"], "{e}");
        assert_eq!(
            e["member"]["user"],
            json!({ "id": member.id, "email": "member@example.com" })
        );
        assert!(e["member"]["since"].is_string(), "{e}");
        seen.push((e["type"].clone(), e["member"]["role"].clone()));
    }
    assert_eq!(
        seen,
        vec![
            (json!("MEMBER_ADDED"), json!("EDITOR")),
            (json!("ROLE_CHANGED"), json!("VIEWER")),
            (json!("MEMBER_REMOVED"), json!("VIEWER")),
        ]
    );
    // A project change carries no member.
    ok(
        &app,
        &owner.token,
        "mutation($id: ID!) { updateProject(id: $id, input: { name: \"Renamed\" }) { id } }",
        json!({ "id": p["id"] }),
    )
    .await;
    let payload = ws.data("p").await;
    let e = &payload["data"]["projectEvents"];
    assert_eq!(
        (&e["type"], &e["member"]),
        (&json!("UPDATED"), &Value::Null),
        "{payload}"
    );
}

async fn visible_users_are_oneself_fellow_members_and_inviters(backend: Backend) {
    use tasklane::access::visible_users;
    use tasklane::auth::Viewer;
    use tasklane::db::types::Id;

    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let member = account(&app, "member@example.com").await;
    let other = account(&app, "other@example.com").await;
    let invitee = verified_account(&app, dir.path(), "invitee@example.com").await;
    let p = project(&app, &owner.token, "P").await;
    join(
        &app,
        dir.path(),
        &owner,
        &p["id"],
        &member,
        "member-mail@example.com",
        "VIEWER",
    )
    .await;
    // `other` invites the invitee to a project of its own.
    let q = project(&app, &other.token, "Q").await;
    let body = invite(
        &app,
        &other.token,
        &q["id"],
        "invitee@example.com",
        "VIEWER",
    )
    .await;
    let invitation = body["data"]["inviteToProject"]["id"].clone();
    let id = |a: &Account| Id::parse(&a.id).expect("uuid");
    let everyone = [id(&owner), id(&member), id(&other), id(&invitee)];
    let visible_to = |who: Id| {
        let db = app.database().clone();
        async move {
            let mut pooled = db.read().await.expect("connection");
            let mut found = visible_users(
                &mut pooled.conn(),
                &Viewer::of_session(who, Id::new()),
                &everyone,
            )
            .await
            .expect("visible");
            found.sort_by_key(|u| everyone.iter().position(|e| e == u));
            found
        }
    };
    assert_eq!(visible_to(id(&owner)).await, vec![id(&owner), id(&member)]);
    assert_eq!(visible_to(id(&member)).await, vec![id(&owner), id(&member)]);
    assert_eq!(
        visible_to(id(&other)).await,
        vec![id(&other)],
        "an invitee is not shown to its inviter"
    );
    assert_eq!(
        visible_to(id(&invitee)).await,
        vec![id(&other), id(&invitee)]
    );
    // Declined: the inviter is a stranger again.
    ok(&app, &invitee.token, DECLINE, json!({ "id": invitation })).await;
    assert_eq!(visible_to(id(&invitee)).await, vec![id(&invitee)]);
    // A member who leaves sees only itself.
    ok(&app, &member.token, LEAVE, json!({ "p": p["id"] })).await;
    assert_eq!(visible_to(id(&member)).await, vec![id(&member)]);
    assert_eq!(visible_to(id(&owner)).await, vec![id(&owner)]);
}

async fn a_transfer_moves_the_tasks_and_is_announced(backend: Backend) {
    use diesel::{ExpressionMethods as _, QueryDsl as _};
    use diesel_async::RunQueryDsl as _;
    use tasklane::db::schema::{projects, tasks};
    use tasklane::db::types::Id;

    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let heir = account(&app, "heir@example.com").await;
    let p = project(&app, &owner.token, "Estate").await;
    crate::fixtures::task(&app, &owner.token, &p["id"], "kept", json!({})).await;
    join(
        &app,
        dir.path(),
        &owner,
        &p["id"],
        &heir,
        "heir-mail@example.com",
        "EDITOR",
    )
    .await;
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, &heir.token).await;
    ws.subscribe(
        "p",
        "subscription { projectEvents { type project { id version owner { id } }
            member { role user { id } } } }",
        json!({}),
    )
    .await;
    subscriptions_reach(app.addr, 1).await;
    let data = ok(
        &app,
        &owner.token,
        TRANSFER,
        json!({ "p": p["id"], "u": heir.id }),
    )
    .await;
    let version = data["transferOwnership"]["version"].clone();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let payload = ws.data("p").await;
        assert_eq!(payload["errors"], Value::Null, "{payload}");
        let e = payload["data"]["projectEvents"].clone();
        assert_eq!(e["project"]["id"], p["id"], "{e}");
        assert_eq!(e["project"]["owner"]["id"], json!(heir.id), "{e}");
        seen.push((e["type"].clone(), e["member"].clone()));
    }
    assert_eq!(
        seen,
        vec![
            (json!("UPDATED"), Value::Null),
            (
                json!("ROLE_CHANGED"),
                json!({ "role": "EDITOR", "user": { "id": owner.id } })
            ),
            (
                json!("ROLE_CHANGED"),
                json!({ "role": "OWNER", "user": { "id": heir.id } })
            ),
        ]
    );
    assert_eq!(version, json!(2));
    // The project's tasks belong to the new owner too.
    let heir_id = Id::parse(&heir.id).expect("uuid");
    let project_id = Id::parse(p["id"].as_str().expect("id")).expect("uuid");
    let mut pooled = app.database().read().await.expect("connection");
    let mut conn = pooled.conn();
    let owners: Vec<Id> = tasklane::db_run!(&mut conn, |c| {
        tasks::table
            .filter(tasks::project_id.eq(project_id))
            .select(tasks::owner_id)
            .load(c)
            .await
    })
    .expect("tasks");
    assert_eq!(owners, vec![heir_id]);
    let owner_id: Id = tasklane::db_run!(&mut conn, |c| {
        projects::table
            .filter(projects::id.eq(project_id))
            .select(projects::owner_id)
            .first(c)
            .await
    })
    .expect("project");
    assert_eq!(owner_id, heir_id);
}

async fn an_api_key_joins_without_verifying_the_address(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let owner = account(&app, "owner@example.com").await;
    let invitee = account(&app, "keyed@example.com").await;
    let p = project(&app, &owner.token, "P").await;
    let key = ok(
        &app,
        &invitee.token,
        "mutation { createApiKey(input: {name: \"bot\", scopes: [READ, WRITE]}) { secret } }",
        json!({}),
    )
    .await["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    invite(&app, &owner.token, &p["id"], "keyed@example.com", "EDITOR").await;
    let token = mailed(dir.path(), "keyed@example.com", 1).await;
    let body = accept(&app, &key, Some(&token), None).await;
    assert_eq!(
        body["data"]["acceptInvitation"]["viewerRole"], "EDITOR",
        "{body}"
    );
    // The address stays unverified (an API key may not prove it), and no
    // credential ended.
    let me = ok(&app, &invitee.token, "{ me { emailVerified } }", json!({})).await;
    assert_eq!(me["me"]["emailVerified"], false);
    assert_eq!(shared(&app, &key, &p["id"]).await["viewerRole"], "EDITOR");
}
