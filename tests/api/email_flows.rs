//! Email flows, with mail read from the file transport: verification,
//! password reset, magic links.

use std::time::Duration;

use serde_json::{Value, json};

use crate::account_helpers::{
    LOGIN, login, mails, me_or_code, spawn_with_mail, text, token_from_mail,
};
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, error_code, error_field};

const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str =
    "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) {
    accessToken refreshToken user { email emailVerified } } }";
const REQUEST_MAGIC: &str = "mutation($e: String!) { requestMagicLink(email: $e) }";
const MAGIC: &str = "mutation($t: String!) { loginWithMagicLink(token: $t) {
    accessToken user { email emailVerified } } }";
const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) { email emailVerified } }";
const NEW_PASSWORD: &str = "reset to something new";

on_both_databases!(
    email_verification_round_trip,
    password_reset_ends_every_session_and_signs_in,
    magic_link_signs_in_once,
    requests_for_unknown_addresses_answer_true_and_send_nothing,
    expired_links_are_refused,
);

async fn expired_links_are_refused(backend: Backend) {
    use diesel::ExpressionMethods as _;
    use diesel_async::RunQueryDsl as _;
    use tasklane::db::schema::one_time_tokens;
    use tasklane::db::types::Timestamp;

    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    app.signup("late@example.com").await;
    let body = app
        .gql(REQUEST_MAGIC, json!({ "e": "late@example.com" }), None)
        .await;
    assert_eq!(body["data"]["requestMagicLink"], true, "{body}");
    let body = app
        .gql(REQUEST_RESET, json!({ "e": "late@example.com" }), None)
        .await;
    assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    let magic = token_from_mail(dir.path(), "late@example.com", "Your sign-in link", 1).await;
    let reset = token_from_mail(dir.path(), "late@example.com", "Reset your password", 1).await;
    // Both links were issued for 15 minutes; move them a second into the past.
    let past = Timestamp::from(chrono::Utc::now() - chrono::Duration::seconds(1));
    let mut pooled = app.database().write().await.expect("connection");
    let mut conn = pooled.conn();
    let changed = tasklane::db_run!(&mut conn, |c| {
        diesel::update(one_time_tokens::table)
            .set(one_time_tokens::expires_at.eq(past))
            .execute(c)
            .await
    })
    .expect("update");
    assert_eq!(changed, 2);
    drop(pooled);
    let body = app.gql(MAGIC, json!({ "t": magic }), None).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let body = app
        .gql(RESET, json!({ "t": reset, "p": NEW_PASSWORD }), None)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_field(&body), "token");
}

async fn email_verification_round_trip(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |config| {
        config.public_url = "https://app.example.com".into();
    })
    .await
    .expect("app");
    let user = app.signup("verify@example.com").await;
    let token = user["accessToken"].as_str();
    let body = app
        .gql("mutation { requestEmailVerification }", json!({}), token)
        .await;
    assert_eq!(body["data"]["requestEmailVerification"], true, "{body}");
    let secret = token_from_mail(
        dir.path(),
        "verify@example.com",
        "Confirm your email address",
        1,
    )
    .await;
    let mail = mails(dir.path()).concat();
    assert!(
        mail.contains("https://app.example.com/verify-email?token="),
        "{mail}"
    );
    assert_eq!(secret.len(), 43, "256 bits in base64url: {secret}");

    let bad = app.gql(VERIFY, json!({ "t": "nope" }), None).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
    assert_eq!(error_field(&bad), "token");
    let ok = app.gql(VERIFY, json!({ "t": secret }), None).await;
    assert_eq!(
        ok["data"]["verifyEmail"],
        json!({ "email": "verify@example.com", "emailVerified": true }),
        "{ok}"
    );
    // The first proof of the address ends the sessions made before it
    // (see tests/api/takeover.rs); signed in again, the address is verified.
    assert_eq!(
        me_or_code(&app, token.expect("token")).await,
        "UNAUTHENTICATED"
    );
    let again = login(&app, "verify@example.com", PASSWORD, None).await;
    assert_eq!(again["user"]["emailVerified"], true, "{again}");
    // Single use.
    let again = app.gql(VERIFY, json!({ "t": secret }), None).await;
    assert_eq!(error_code(&again), "BAD_USER_INPUT", "{again}");
    // A verification token is not a reset token.
    let body = app
        .gql(RESET, json!({ "t": secret, "p": NEW_PASSWORD }), None)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let anonymous = app
        .gql("mutation { requestEmailVerification }", json!({}), None)
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn password_reset_ends_every_session_and_signs_in(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    let user = app.signup("reset@example.com").await;
    let laptop = login(&app, "reset@example.com", PASSWORD, None).await;
    let body = app
        .gql(REQUEST_RESET, json!({ "e": " Reset@Example.com " }), None)
        .await;
    assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    let first = token_from_mail(dir.path(), "reset@example.com", "Reset your password", 1).await;
    // A second request makes the first link stop working.
    let body = app
        .gql(REQUEST_RESET, json!({ "e": "reset@example.com" }), None)
        .await;
    assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    let second = token_from_mail(dir.path(), "reset@example.com", "Reset your password", 2).await;
    assert_ne!(first, second);
    let stale = app
        .gql(RESET, json!({ "t": first, "p": NEW_PASSWORD }), None)
        .await;
    assert_eq!(error_code(&stale), "BAD_USER_INPUT", "{stale}");
    assert_eq!(error_field(&stale), "token");

    let weak = app
        .gql(RESET, json!({ "t": second, "p": "short" }), None)
        .await;
    assert_eq!(error_code(&weak), "BAD_USER_INPUT", "{weak}");
    assert_eq!(error_field(&weak), "newPassword");

    let reset = app
        .gql(RESET, json!({ "t": second, "p": NEW_PASSWORD }), None)
        .await;
    let payload = &reset["data"]["resetPassword"];
    assert_eq!(payload["user"]["email"], "reset@example.com", "{reset}");
    assert_eq!(payload["user"]["emailVerified"], true);
    let access = text(&payload["accessToken"], "access");
    assert_eq!(me_or_code(&app, access).await, "reset@example.com");
    // Every earlier session ended at once.
    for old in [&user, &laptop] {
        assert_eq!(
            me_or_code(&app, text(&old["accessToken"], "access")).await,
            "UNAUTHENTICATED"
        );
    }
    let old_password = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "reset@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&old_password), "UNAUTHENTICATED");
    login(&app, "reset@example.com", NEW_PASSWORD, None).await;
    // The link works once.
    let reused = app
        .gql(RESET, json!({ "t": second, "p": NEW_PASSWORD }), None)
        .await;
    assert_eq!(error_code(&reused), "BAD_USER_INPUT", "{reused}");
    let malformed = app
        .gql(REQUEST_RESET, json!({ "e": "not an address" }), None)
        .await;
    assert_eq!(error_code(&malformed), "BAD_USER_INPUT", "{malformed}");
    assert_eq!(error_field(&malformed), "email");
}

async fn magic_link_signs_in_once(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    app.signup("magic@example.com").await;
    let body = app
        .gql(REQUEST_MAGIC, json!({ "e": "magic@example.com" }), None)
        .await;
    assert_eq!(body["data"]["requestMagicLink"], true, "{body}");
    let token = token_from_mail(dir.path(), "magic@example.com", "Your sign-in link", 1).await;
    assert!(mails(dir.path()).concat().contains("/magic-link?token="));
    let signed_in = app.gql(MAGIC, json!({ "t": token }), None).await;
    let payload = &signed_in["data"]["loginWithMagicLink"];
    assert_eq!(payload["user"]["email"], "magic@example.com", "{signed_in}");
    assert_eq!(payload["user"]["emailVerified"], true);
    assert_eq!(
        me_or_code(&app, text(&payload["accessToken"], "access")).await,
        "magic@example.com"
    );
    let again = app.gql(MAGIC, json!({ "t": token }), None).await;
    assert_eq!(error_code(&again), "UNAUTHENTICATED", "{again}");
    let garbage = app.gql(MAGIC, json!({ "t": "garbage" }), None).await;
    assert_eq!(error_code(&garbage), "UNAUTHENTICATED", "{garbage}");
    assert_eq!(garbage["data"], Value::Null);
}

async fn requests_for_unknown_addresses_answer_true_and_send_nothing(backend: Backend) {
    let (app, dir) = spawn_with_mail(backend, |_| {}).await.expect("app");
    app.signup("known@example.com").await;
    for query in [REQUEST_RESET, REQUEST_MAGIC] {
        let unknown = app
            .gql(query, json!({ "e": "unknown@example.com" }), None)
            .await;
        let known = app
            .gql(query, json!({ "e": "known@example.com" }), None)
            .await;
        assert_eq!(unknown["errors"], Value::Null, "{unknown}");
        // The same answer either way.
        assert_eq!(
            unknown["data"]
                .as_object()
                .map(|o| o.values().cloned().collect::<Vec<_>>()),
            known["data"]
                .as_object()
                .map(|o| o.values().cloned().collect::<Vec<_>>())
        );
    }
    token_from_mail(dir.path(), "known@example.com", "Your sign-in link", 1).await;
    token_from_mail(dir.path(), "known@example.com", "Reset your password", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all = mails(dir.path());
    assert_eq!(all.len(), 2, "only the known address gets mail");
    assert!(all.iter().all(|m| !m.contains("unknown@example.com")));
}
