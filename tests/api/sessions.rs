//! Sessions: listing, revoking one, logging out everywhere, and revocation
//! that takes effect at once — on this instance, on another instance
//! sharing the PostgreSQL database, and after a restart.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use serde_json::{Value, json};

use crate::account_helpers::{LOGIN, TestApp2, login, me_or_code, post, second_instance, text};
use crate::on_both_backends;
use crate::support::{Backend, PASSWORD, TestApp, error_code, error_field};

const SESSIONS: &str = "{ sessions { id deviceName userAgent createdAt lastUsedAt current } }";
const REVOKE: &str = "mutation($id: ID!) { revokeSession(id: $id) }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

crate::on_both_databases!(
    reused_refresh_token_refuses_the_family_access_tokens,
    open_sessions_are_limited_per_account,
);
on_both_backends!(
    sessions_are_listed_with_the_current_one_marked,
    revoke_session_ends_it_at_once,
    revoke_session_refuses_bad_ids,
    logout_all_ends_every_session,
    logout_refuses_the_access_token_at_once,
    revocations_are_loaded_at_start,
    revocation_reaches_a_second_instance_within_a_second,
    a_lost_listener_reconnects_and_catches_up,
);

/// Waits up to `limit` for `instance` to refuse `token`.
async fn refused_within(instance: &TestApp2, token: &str, limit: Duration) {
    let started = Instant::now();
    while instance.me_or_code(token).await != "UNAUTHENTICATED" {
        assert!(
            started.elapsed() < limit,
            "the second instance still accepts the credential after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sessions_are_listed_with_the_current_one_marked(app: TestApp) {
    let signup = app.signup("ses@example.com").await;
    let body = json!({ "query": LOGIN, "variables": { "input": {
        "email": "ses@example.com", "password": PASSWORD, "deviceName": "laptop" } } });
    let answer = post(&app, &body, &[("user-agent", "TestBrowser/1.0")], None).await;
    let laptop = answer["data"]["login"].clone();
    let token = text(&laptop["accessToken"], "access");
    let body = app.gql(SESSIONS, json!({}), Some(token)).await;
    let list = body["data"]["sessions"].as_array().expect("list");
    assert_eq!(list.len(), 2, "{body}");
    // Newest first: the laptop, marked current.
    assert_eq!(list[0]["deviceName"], "laptop");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["deviceName"], Value::Null);
    assert_eq!(list[1]["current"], false);
    assert_eq!(list[0]["userAgent"], "TestBrowser/1.0", "{body}");
    assert!(list[0]["createdAt"].is_string() && list[0]["lastUsedAt"].is_string());

    // A refresh keeps the session's id.
    let refreshed = app
        .gql(REFRESH, json!({ "t": signup["refreshToken"] }), None)
        .await;
    let new_access = text(&refreshed["data"]["refreshToken"]["accessToken"], "access");
    let after = app.gql(SESSIONS, json!({}), Some(new_access)).await;
    let ids = |b: &Value| {
        let mut ids: Vec<String> = b["data"]["sessions"]
            .as_array()
            .expect("list")
            .iter()
            .map(|s| s["id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&after), ids(&body));
    assert_eq!(after["data"]["sessions"][1]["current"], true, "{after}");

    // Another user's sessions are not listed.
    let other = app.signup("other@example.com").await;
    let theirs = app
        .gql(SESSIONS, json!({}), other["accessToken"].as_str())
        .await;
    assert_eq!(theirs["data"]["sessions"].as_array().map(Vec::len), Some(1));
    let anonymous = app.gql(SESSIONS, json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn revoke_session_ends_it_at_once(app: TestApp) {
    let phone = app.signup("rev@example.com").await;
    let laptop = login(&app, "rev@example.com", PASSWORD, Some("laptop")).await;
    let laptop_token = text(&laptop["accessToken"], "access");
    let phone_token = text(&phone["accessToken"], "access");
    let list = app.gql(SESSIONS, json!({}), Some(laptop_token)).await;
    let phone_id = list["data"]["sessions"][1]["id"].clone();
    assert_eq!(me_or_code(&app, phone_token).await, "rev@example.com");

    let body = app
        .gql(REVOKE, json!({ "id": phone_id }), Some(laptop_token))
        .await;
    assert_eq!(body["data"]["revokeSession"], true, "{body}");
    // The very next request with the phone's access token is refused…
    assert_eq!(me_or_code(&app, phone_token).await, "UNAUTHENTICATED");
    // …and so is its refresh token; the laptop goes on.
    let refresh = app
        .gql(REFRESH, json!({ "t": phone["refreshToken"] }), None)
        .await;
    assert_eq!(error_code(&refresh), "UNAUTHENTICATED", "{refresh}");
    assert_eq!(me_or_code(&app, laptop_token).await, "rev@example.com");

    // Revoking it again: there is no such live session.
    let again = app
        .gql(REVOKE, json!({ "id": phone_id }), Some(laptop_token))
        .await;
    assert_eq!(error_code(&again), "NOT_FOUND", "{again}");
}

async fn revoke_session_refuses_bad_ids(app: TestApp) {
    let mine = app.signup("ids@example.com").await;
    let token = mine["accessToken"].as_str();
    let bad = app.gql(REVOKE, json!({ "id": "not-a-uuid" }), token).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
    assert_eq!(error_field(&bad), "id");
    let unknown = app
        .gql(
            REVOKE,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            token,
        )
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
    // Another user's session is as unknown as a missing one.
    let other = app.signup("ids2@example.com").await;
    let list = app
        .gql(SESSIONS, json!({}), other["accessToken"].as_str())
        .await;
    let theirs = list["data"]["sessions"][0]["id"].clone();
    let body = app.gql(REVOKE, json!({ "id": theirs }), token).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    assert_eq!(
        me_or_code(&app, text(&other["accessToken"], "access")).await,
        "ids2@example.com"
    );
    let anonymous = app.gql(REVOKE, json!({ "id": theirs }), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn logout_all_ends_every_session(app: TestApp) {
    let first = app.signup("all@example.com").await;
    let second = login(&app, "all@example.com", PASSWORD, None).await;
    let third = login(&app, "all@example.com", PASSWORD, None).await;
    let bystander = app.signup("bystander@example.com").await;
    let body = app
        .gql(
            "mutation { logoutAll }",
            json!({}),
            third["accessToken"].as_str(),
        )
        .await;
    assert_eq!(body["data"]["logoutAll"], 3, "{body}");
    for payload in [&first, &second, &third] {
        let access = text(&payload["accessToken"], "access");
        assert_eq!(me_or_code(&app, access).await, "UNAUTHENTICATED");
        let refresh = app
            .gql(REFRESH, json!({ "t": payload["refreshToken"] }), None)
            .await;
        assert_eq!(error_code(&refresh), "UNAUTHENTICATED", "{refresh}");
    }
    assert_eq!(
        me_or_code(&app, text(&bystander["accessToken"], "access")).await,
        "bystander@example.com"
    );
    // A fresh login works, and counts alone.
    let fresh = login(&app, "all@example.com", PASSWORD, None).await;
    let body = app
        .gql(
            "mutation { logoutAll }",
            json!({}),
            fresh["accessToken"].as_str(),
        )
        .await;
    assert_eq!(body["data"]["logoutAll"], 1, "{body}");
    let anonymous = app.gql("mutation { logoutAll }", json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn logout_refuses_the_access_token_at_once(app: TestApp) {
    let user = app.signup("out@example.com").await;
    let access = text(&user["accessToken"], "access");
    let body = app
        .gql(
            "mutation($t: String) { logout(refreshToken: $t) }",
            json!({ "t": user["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    assert_eq!(me_or_code(&app, access).await, "UNAUTHENTICATED");
}

async fn reused_refresh_token_refuses_the_family_access_tokens(backend: Backend) {
    // No grace window: a replay at once is already theft.
    let app = TestApp::spawn_with(backend, |config| config.refresh_grace = Duration::ZERO)
        .await
        .expect("app");
    let user = app.signup("reuse@example.com").await;
    let first = user["refreshToken"].clone();
    let rotated = app.gql(REFRESH, json!({ "t": first }), None).await;
    let access = text(&rotated["data"]["refreshToken"]["accessToken"], "access").to_owned();
    assert_eq!(me_or_code(&app, &access).await, "reuse@example.com");
    let replay = app.gql(REFRESH, json!({ "t": first }), None).await;
    assert_eq!(error_code(&replay), "UNAUTHENTICATED", "{replay}");
    // Every access token of the family is refused from now on.
    assert_eq!(me_or_code(&app, &access).await, "UNAUTHENTICATED");
    assert_eq!(
        me_or_code(&app, text(&user["accessToken"], "access")).await,
        "UNAUTHENTICATED"
    );
}

async fn revocations_are_loaded_at_start(app: TestApp) {
    let user = app.signup("restart@example.com").await;
    let kept = login(&app, "restart@example.com", PASSWORD, None).await;
    let access = text(&user["accessToken"], "access");
    let body = app
        .gql("mutation { logout }", json!({}), Some(access))
        .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    // A server started afterwards knows of the revocation from the database.
    let later = second_instance(&app).await;
    assert_eq!(later.me_or_code(access).await, "UNAUTHENTICATED");
    assert_eq!(
        later.me_or_code(text(&kept["accessToken"], "access")).await,
        "restart@example.com"
    );
}

async fn revocation_reaches_a_second_instance_within_a_second(app: TestApp) {
    if app.db.backend == Backend::Sqlite {
        // One SQLite file is served by one instance; nothing to reach.
        return;
    }
    let other = second_instance(&app).await;
    let user = app.signup("fanout@example.com").await;
    let laptop = login(&app, "fanout@example.com", PASSWORD, None).await;
    let access = text(&user["accessToken"], "access");
    let laptop_access = text(&laptop["accessToken"], "access");
    assert_eq!(other.me_or_code(access).await, "fanout@example.com");
    assert_eq!(other.me_or_code(laptop_access).await, "fanout@example.com");

    let body = app
        .gql("mutation { logout }", json!({}), Some(access))
        .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    refused_within(&other, access, Duration::from_secs(1)).await;
    // The other session is untouched there.
    assert_eq!(other.me_or_code(laptop_access).await, "fanout@example.com");

    // An API key, already cached by the second instance, likewise.
    let created = app
        .gql(
            "mutation { createApiKey(input: { name: \"k\", scopes: [READ] }) { secret apiKey { id } } }",
            json!({}),
            Some(laptop_access),
        )
        .await;
    let key = text(&created["data"]["createApiKey"]["secret"], "secret").to_owned();
    assert_eq!(other.me_or_code(&key).await, "fanout@example.com");
    let revoked = app
        .gql(
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": created["data"]["createApiKey"]["apiKey"]["id"] }),
            Some(laptop_access),
        )
        .await;
    assert_eq!(revoked["errors"], Value::Null, "{revoked}");
    refused_within(&other, &key, Duration::from_secs(1)).await;

    let body = app
        .gql("mutation { logoutAll }", json!({}), Some(laptop_access))
        .await;
    assert_eq!(body["data"]["logoutAll"], 1, "{body}");
    refused_within(&other, laptop_access, Duration::from_secs(1)).await;
}

async fn a_lost_listener_reconnects_and_catches_up(app: TestApp) {
    if app.db.backend == Backend::Sqlite {
        return;
    }
    let other = second_instance(&app).await;
    let user = app.signup("relisten@example.com").await;
    let second = login(&app, "relisten@example.com", PASSWORD, None).await;
    let access = text(&user["accessToken"], "access");
    let second_access = text(&second["accessToken"], "access");
    assert_eq!(other.me_or_code(access).await, "relisten@example.com");
    // Cut every listening connection, then revoke while they are down: the
    // notification is lost, and the reload after reconnecting catches up.
    let mut admin = AsyncPgConnection::establish(&app.db.url)
        .await
        .expect("connect");
    let cut: Vec<bool> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .load::<Terminated>(&mut admin)
    .await
    .expect("terminate")
    .into_iter()
    .map(|t| t.done)
    .collect();
    assert_eq!(cut, vec![true, true], "both instances were listening");
    let body = app
        .gql("mutation { logout }", json!({}), Some(access))
        .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    refused_within(&other, access, Duration::from_secs(3)).await;
    // Listening again: the next revocation arrives as a notification.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let body = app
        .gql("mutation { logout }", json!({}), Some(second_access))
        .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    refused_within(&other, second_access, Duration::from_secs(1)).await;
}

#[derive(diesel::QueryableByName)]
struct Terminated {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    done: bool,
}

async fn open_sessions_are_limited_per_account(backend: Backend) {
    use crate::account_helpers::{spawn_with_mail, token_from_mail};

    let (app, dir) = spawn_with_mail(backend, |config| config.quotas.sessions = 3)
        .await
        .expect("app");
    let email = "many@example.com";
    let user = app.signup(email).await;
    let mut sessions = vec![user];
    for _ in 0..2 {
        sessions.push(login(&app, email, PASSWORD, None).await);
    }
    let wrong_or_over = |body: &Value| {
        assert_eq!(error_code(body), "QUOTA_EXCEEDED", "{body}");
        let extensions = &body["errors"][0]["extensions"];
        assert_eq!(extensions["quota"], "TASKLANE_QUOTA_SESSIONS", "{body}");
        assert_eq!(extensions["limit"], 3, "{body}");
    };
    let fourth = app
        .gql(
            LOGIN,
            json!({ "input": { "email": email, "password": PASSWORD } }),
            None,
        )
        .await;
    wrong_or_over(&fourth);
    // A refresh keeps its session: still allowed at the quota.
    let refreshed = app
        .gql(REFRESH, json!({ "t": sessions[2]["refreshToken"] }), None)
        .await;
    assert_eq!(refreshed["errors"], Value::Null, "{refreshed}");
    let access = text(&refreshed["data"]["refreshToken"]["accessToken"], "access").to_owned();
    // A magic link over the quota is refused and stays unused.
    let asked = app
        .gql(
            "mutation($e: String!) { requestMagicLink(email: $e) }",
            json!({ "e": email }),
            None,
        )
        .await;
    assert_eq!(asked["data"]["requestMagicLink"], true, "{asked}");
    let link = token_from_mail(dir.path(), email, "Your sign-in link", 1).await;
    const MAGIC: &str = "mutation($t: String!) { loginWithMagicLink(token: $t) { accessToken } }";
    // (the first proof of the address ends the earlier sessions: verify first)
    let verified = app
        .gql(
            "mutation { requestEmailVerification }",
            json!({}),
            Some(&access),
        )
        .await;
    assert_eq!(verified["errors"], Value::Null, "{verified}");
    let proof = token_from_mail(dir.path(), email, "Confirm your email address", 1).await;
    let body = app
        .gql(
            "mutation($t: String!) { verifyEmail(token: $t) { id } }",
            json!({ "t": proof }),
            None,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(login(&app, email, PASSWORD, None).await);
    }
    wrong_or_over(&app.gql(MAGIC, json!({ "t": link }), None).await);
    let listed = app
        .gql(
            "{ sessions { id } }",
            json!({}),
            open[0]["accessToken"].as_str(),
        )
        .await;
    assert_eq!(
        listed["data"]["sessions"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    // One session ends: the same link now signs in.
    let ended = app
        .gql(
            "mutation($t: String) { logout(refreshToken: $t) }",
            json!({ "t": open[1]["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(ended["data"]["logout"], true, "{ended}");
    let body = app.gql(MAGIC, json!({ "t": link }), None).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}
