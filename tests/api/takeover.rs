//! Account takeover: pre-hijacking (an attacker signs up with the victim's
//! address first and keeps a key and sessions), API keys managing
//! credentials, two tabs refreshing at once, and a logout racing a refresh.

use std::time::Duration;

use serde_json::{Value, json};

use crate::account_helpers::{
    LOGIN, login, me_or_code, post, spawn_with_mail, text, token_from_mail,
};
use crate::on_both_backends;
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, TestApp, error_code};

on_both_databases!(
    a_reset_ends_the_pre_hijackers_keys_and_sessions,
    a_magic_link_ends_the_pre_hijackers_keys_sessions_and_password,
    verification_ends_the_pre_hijackers_keys_and_sessions,
    two_tabs_refreshing_at_once_keep_the_session,
    a_logout_racing_a_refresh_leaves_no_live_token,
);
on_both_backends!(write_keys_can_not_manage_credentials);

const CREATE_KEY: &str = "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
    secret apiKey { id } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const WRITE: &str = "mutation { createProject(input: { name: \"mine now\" }) { id } }";
const VICTIM: &str = "victim@example.com";
const NEW_PASSWORD: &str = "the victim's own password";

/// What the attacker holds: a session's tokens, a second session, a WRITE key.
struct Foothold {
    access: String,
    refresh: String,
    other_access: String,
    key: String,
}

async fn pre_hijack(app: &TestApp) -> Foothold {
    let signup = app.signup(VICTIM).await;
    let access = text(&signup["accessToken"], "access").to_owned();
    let body = app
        .gql(
            CREATE_KEY,
            json!({ "input": { "name": "sleeper", "scopes": ["READ", "WRITE"] } }),
            Some(&access),
        )
        .await;
    let key = text(&body["data"]["createApiKey"]["secret"], "secret").to_owned();
    let other = login(app, VICTIM, PASSWORD, Some("attacker laptop")).await;
    let foothold = Foothold {
        refresh: text(&signup["refreshToken"], "refresh").to_owned(),
        other_access: text(&other["accessToken"], "access").to_owned(),
        access,
        key,
    };
    // It all works, reads and writes, until the victim proves the address.
    assert_eq!(me_or_code(app, &foothold.key).await, VICTIM);
    let wrote = app.gql(WRITE, json!({}), Some(&foothold.key)).await;
    assert_eq!(wrote["errors"], Value::Null, "{wrote}");
    foothold
}

/// Every credential of the foothold is refused: UNAUTHENTICATED.
async fn assert_locked_out(app: &TestApp, foothold: &Foothold) {
    assert_eq!(me_or_code(app, &foothold.key).await, "UNAUTHENTICATED");
    let wrote = app.gql(WRITE, json!({}), Some(&foothold.key)).await;
    assert_eq!(error_code(&wrote), "UNAUTHENTICATED", "{wrote}");
    assert_eq!(me_or_code(app, &foothold.access).await, "UNAUTHENTICATED");
    assert_eq!(
        me_or_code(app, &foothold.other_access).await,
        "UNAUTHENTICATED"
    );
    let refreshed = app
        .gql(REFRESH, json!({ "t": foothold.refresh }), None)
        .await;
    assert_eq!(error_code(&refreshed), "UNAUTHENTICATED", "{refreshed}");
}

async fn attacker_password_fails(app: &TestApp) {
    let body = app
        .gql(
            LOGIN,
            json!({ "input": { "email": VICTIM, "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

async fn a_reset_ends_the_pre_hijackers_keys_and_sessions(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let foothold = pre_hijack(&app).await;
    // The victim finds the address taken and resets the password.
    let asked = app
        .gql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": VICTIM }),
            None,
        )
        .await;
    assert_eq!(asked["data"]["requestPasswordReset"], true, "{asked}");
    let token = token_from_mail(dir.path(), VICTIM, "Reset your password", 1).await;
    let answer = reset(&app, &token).await;
    assert_locked_out(&app, &foothold).await;
    attacker_password_fails(&app).await;
    let victim = text(&answer["accessToken"], "access").to_owned();
    assert_eq!(me_or_code(&app, &victim).await, VICTIM);

    // On a verified account too, a reset ends every key.
    let body = app
        .gql(
            CREATE_KEY,
            json!({ "input": { "name": "mine", "scopes": ["READ"] } }),
            Some(&victim),
        )
        .await;
    let own_key = text(&body["data"]["createApiKey"]["secret"], "secret").to_owned();
    assert_eq!(me_or_code(&app, &own_key).await, VICTIM);
    app.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": VICTIM }),
        None,
    )
    .await;
    let token = token_from_mail(dir.path(), VICTIM, "Reset your password", 2).await;
    reset(&app, &token).await;
    assert_eq!(me_or_code(&app, &own_key).await, "UNAUTHENTICATED");
    assert_eq!(me_or_code(&app, &victim).await, "UNAUTHENTICATED");
}

async fn reset(app: &TestApp, token: &str) -> Value {
    let body = app
        .gql(
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) {
                accessToken refreshToken } }",
            json!({ "t": token, "p": NEW_PASSWORD }),
            None,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["resetPassword"].clone()
}

/// Asks for the `n`-th magic link to the victim and signs in with it.
async fn sign_in_by_magic_link(app: &TestApp, dir: &std::path::Path, n: usize) -> Value {
    let asked = app
        .gql(
            "mutation($e: String!) { requestMagicLink(email: $e) }",
            json!({ "e": VICTIM }),
            None,
        )
        .await;
    assert_eq!(asked["data"]["requestMagicLink"], true, "{asked}");
    let token = token_from_mail(dir, VICTIM, "Your sign-in link", n).await;
    let body = app
        .gql(
            "mutation($t: String!) { loginWithMagicLink(token: $t) { accessToken user { emailVerified } } }",
            json!({ "t": token }),
            None,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["loginWithMagicLink"].clone()
}

async fn a_magic_link_ends_the_pre_hijackers_keys_sessions_and_password(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let foothold = pre_hijack(&app).await;
    let signed_in = sign_in_by_magic_link(&app, dir.path(), 1).await;
    assert_eq!(signed_in["user"]["emailVerified"], true, "{signed_in}");
    assert_locked_out(&app, &foothold).await;
    // The password was the attacker's: it no longer signs in.
    attacker_password_fails(&app).await;
    let victim = text(&signed_in["accessToken"], "access");
    assert_eq!(me_or_code(&app, victim).await, VICTIM);
    // A later magic link on the now verified account ends nothing.
    sign_in_by_magic_link(&app, dir.path(), 2).await;
    assert_eq!(me_or_code(&app, victim).await, VICTIM);
}

async fn verification_ends_the_pre_hijackers_keys_and_sessions(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let foothold = pre_hijack(&app).await;
    // The attacker asks for a verification mail; the victim clicks the link.
    let asked = app
        .gql(
            "mutation { requestEmailVerification }",
            json!({}),
            Some(&foothold.access),
        )
        .await;
    assert_eq!(asked["data"]["requestEmailVerification"], true, "{asked}");
    let token = token_from_mail(dir.path(), VICTIM, "Confirm your email address", 1).await;
    let verified = app
        .gql(
            "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
            json!({ "t": token }),
            None,
        )
        .await;
    assert_eq!(
        verified["data"]["verifyEmail"]["emailVerified"], true,
        "{verified}"
    );
    assert_locked_out(&app, &foothold).await;
}

async fn write_keys_can_not_manage_credentials(app: TestApp) {
    let user = app.signup("owner@example.com").await;
    let access = text(&user["accessToken"], "access").to_owned();
    let other = login(&app, "owner@example.com", PASSWORD, Some("phone")).await;
    let other_access = text(&other["accessToken"], "access").to_owned();
    let body = app
        .gql(
            CREATE_KEY,
            json!({ "input": { "name": "ci", "scopes": ["READ", "WRITE"] } }),
            Some(&access),
        )
        .await;
    let key = text(&body["data"]["createApiKey"]["secret"], "secret").to_owned();
    let key_id = body["data"]["createApiKey"]["apiKey"]["id"].clone();
    let sessions = app
        .gql("{ sessions { id } }", json!({}), Some(&access))
        .await;
    let session_id = sessions["data"]["sessions"][0]["id"].clone();
    let attempts = [
        ("logoutAll", "mutation { logoutAll }".to_owned()),
        (
            "revokeApiKey",
            format!("mutation {{ revokeApiKey(id: {key_id}) {{ id }} }}"),
        ),
        (
            "revokeSession",
            format!("mutation {{ revokeSession(id: {session_id}) }}"),
        ),
        (
            "createApiKey",
            "mutation { createApiKey(input: { name: \"more\", scopes: [WRITE] }) { secret } }"
                .to_owned(),
        ),
        (
            "changePassword",
            format!(
                "mutation {{ changePassword(currentPassword: \"{PASSWORD}\", newPassword: \"something else entirely\") }}"
            ),
        ),
        (
            "updateProfile",
            "mutation { updateProfile(input: { displayName: \"Owned\" }) { id } }".to_owned(),
        ),
        (
            "deleteAccount",
            format!("mutation {{ deleteAccount(password: \"{PASSWORD}\") }}"),
        ),
        // Through a fragment, or next to an allowed mutation, alike.
        (
            "fragment",
            "mutation { ...F } fragment F on Mutation { logoutAll }".to_owned(),
        ),
        (
            "mixed",
            "mutation { createProject(input: { name: \"p\" }) { id } logoutAll }".to_owned(),
        ),
    ];
    for (what, query) in &attempts {
        let body = app.gql(query, json!({}), Some(&key)).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{what}: {body}");
        assert_eq!(body["data"], Value::Null, "{what}: nothing ran: {body}");
    }
    // A batch does not slip past either.
    let batch = json!([{ "query": WRITE }, { "query": "mutation { logoutAll }" }]);
    let answers = post(&app, &batch, &[], Some(&key)).await;
    assert_eq!(answers[0]["errors"], Value::Null, "{answers}");
    assert_eq!(error_code(&answers[1]), "FORBIDDEN", "{answers}");
    // Everything survived: both sessions, the key, the password, the name.
    assert_eq!(me_or_code(&app, &access).await, "owner@example.com");
    assert_eq!(me_or_code(&app, &other_access).await, "owner@example.com");
    assert_eq!(me_or_code(&app, &key).await, "owner@example.com");
    let listed = app
        .gql(
            "{ sessions { id } apiKeys { revokedAt } me { displayName } }",
            json!({}),
            Some(&access),
        )
        .await;
    assert_eq!(
        listed["data"]["sessions"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    assert_eq!(
        listed["data"]["apiKeys"],
        json!([{ "revokedAt": null }]),
        "{listed}"
    );
    assert_eq!(listed["data"]["me"]["displayName"], "Test User", "{listed}");
    login(&app, "owner@example.com", PASSWORD, None).await;
}

async fn two_tabs_refreshing_at_once_keep_the_session(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.refresh_grace = Duration::from_secs(1);
    })
    .await
    .expect("app");
    let user = app.signup("tabs@example.com").await;
    let first = user["refreshToken"].clone();
    let (a, b) = tokio::join!(
        app.gql(REFRESH, json!({ "t": first }), None),
        app.gql(REFRESH, json!({ "t": first }), None),
    );
    assert_eq!(a["errors"], Value::Null, "{a}");
    assert_eq!(b["errors"], Value::Null, "{b}");
    let (a, b) = (&a["data"]["refreshToken"], &b["data"]["refreshToken"]);
    assert_eq!(a["refreshToken"], b["refreshToken"], "the same new pair");
    for tab in [a, b] {
        let access = text(&tab["accessToken"], "access");
        assert_eq!(me_or_code(&app, access).await, "tabs@example.com");
    }
    // The successor goes on as usual.
    let next = app
        .gql(REFRESH, json!({ "t": a["refreshToken"] }), None)
        .await;
    assert_eq!(next["errors"], Value::Null, "{next}");
    let current = next["data"]["refreshToken"].clone();
    let sessions = app
        .gql(
            "{ sessions { id } }",
            json!({}),
            current["accessToken"].as_str(),
        )
        .await;
    assert_eq!(
        sessions["data"]["sessions"].as_array().map(Vec::len),
        Some(1)
    );

    // After the grace window, presenting a replaced token is theft: the
    // whole family ends.
    let second = current["refreshToken"].clone();
    let third = app.gql(REFRESH, json!({ "t": second }), None).await;
    assert_eq!(third["errors"], Value::Null, "{third}");
    let third = third["data"]["refreshToken"].clone();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let replay = app.gql(REFRESH, json!({ "t": second }), None).await;
    assert_eq!(error_code(&replay), "UNAUTHENTICATED", "{replay}");
    assert_eq!(
        me_or_code(&app, text(&third["accessToken"], "access")).await,
        "UNAUTHENTICATED"
    );
    let latest = app
        .gql(REFRESH, json!({ "t": third["refreshToken"] }), None)
        .await;
    assert_eq!(error_code(&latest), "UNAUTHENTICATED", "{latest}");
}

/// A logout (by refresh token, or of every session) racing a refresh of the
/// same session: whichever wins, no token from the refresh works after.
/// Before, on PostgreSQL, the logout's UPDATE could miss the row the
/// refresh was inserting, and that token lived on.
async fn a_logout_racing_a_refresh_leaves_no_live_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.rate_limits.refresh_ip =
            tasklane::auth::rate_limit::Rate::parse("1000/1m").expect("rate");
    })
    .await
    .expect("app");
    app.signup("racer@example.com").await;
    let mut refreshed = 0;
    for round in 0..40 {
        let session = login(&app, "racer@example.com", PASSWORD, None).await;
        let refresh = session["refreshToken"].clone();
        let access = text(&session["accessToken"], "access").to_owned();
        let logout = async {
            if round % 2 == 0 {
                app.gql(
                    "mutation($t: String) { logout(refreshToken: $t) }",
                    json!({ "t": refresh }),
                    None,
                )
                .await
            } else {
                app.gql("mutation { logoutAll }", json!({}), Some(&access))
                    .await
            }
        };
        let (rotated, ended) =
            tokio::join!(app.gql(REFRESH, json!({ "t": refresh }), None), logout);
        assert_eq!(ended["errors"], Value::Null, "round {round}: {ended}");
        let Some(new_refresh) = rotated["data"]["refreshToken"]["refreshToken"].as_str() else {
            continue;
        };
        refreshed += 1;
        let new_access = text(&rotated["data"]["refreshToken"]["accessToken"], "access");
        assert_eq!(
            me_or_code(&app, new_access).await,
            "UNAUTHENTICATED",
            "round {round}"
        );
        let again = app.gql(REFRESH, json!({ "t": new_refresh }), None).await;
        assert_eq!(
            error_code(&again),
            "UNAUTHENTICATED",
            "round {round}: {again}"
        );
    }
    eprintln!("{refreshed} of 40 refreshes won the race");
}
