//! The account: updateProfile, changePassword, deleteAccount.

use serde_json::{Value, json};

use crate::account_helpers::{LOGIN, login, me_or_code, text};
use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, error_code, error_field};

const UPDATE: &str = "mutation($input: UpdateProfileInput!) {
    updateProfile(input: $input) { id displayName username email } }";
const CHANGE: &str = "mutation($c: String!, $n: String!) {
    changePassword(currentPassword: $c, newPassword: $n) }";
const DELETE: &str = "mutation($p: String!) { deleteAccount(password: $p) }";
const NEW_PASSWORD: &str = "a brand new passphrase";

on_both_backends!(
    update_profile_changes_only_what_is_given,
    update_profile_rejects_each_bad_field,
    change_password_ends_the_other_sessions,
    change_password_refuses_wrong_or_weak_passwords,
    delete_account_removes_everything,
    delete_account_refuses_a_wrong_password,
);

async fn update_profile_changes_only_what_is_given(app: TestApp) {
    let user = app.signup("prof@example.com").await;
    let token = user["accessToken"].as_str();
    let body = app
        .gql(
            UPDATE,
            json!({ "input": { "displayName": "  Ada L. ", "username": "Ada" } }),
            token,
        )
        .await;
    let updated = &body["data"]["updateProfile"];
    assert_eq!(updated["displayName"], "Ada L.", "{body}");
    assert_eq!(updated["username"], "ada");
    assert_eq!(updated["email"], "prof@example.com");
    // Omitted: unchanged.
    let body = app
        .gql(UPDATE, json!({ "input": { "displayName": "Ada" } }), token)
        .await;
    assert_eq!(body["data"]["updateProfile"]["username"], "ada", "{body}");
    let body = app.gql(UPDATE, json!({ "input": {} }), token).await;
    assert_eq!(
        body["data"]["updateProfile"]["displayName"], "Ada",
        "{body}"
    );
    // null clears the username.
    let body = app
        .gql(UPDATE, json!({ "input": { "username": null } }), token)
        .await;
    assert_eq!(
        body["data"]["updateProfile"]["username"],
        Value::Null,
        "{body}"
    );
    let me = app
        .gql("{ me { username displayName } }", json!({}), token)
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "username": null, "displayName": "Ada" })
    );
}

async fn update_profile_rejects_each_bad_field(app: TestApp) {
    let user = app.signup("bad-prof@example.com").await;
    let token = user["accessToken"].as_str();
    let other = app.signup("taken@example.com").await;
    let claim = app
        .gql(
            UPDATE,
            json!({ "input": { "username": "taken" } }),
            other["accessToken"].as_str(),
        )
        .await;
    assert_eq!(claim["errors"], Value::Null, "{claim}");
    let cases = [
        (json!({ "displayName": "   " }), "input.displayName"),
        (
            json!({ "displayName": "x".repeat(101) }),
            "input.displayName",
        ),
        (json!({ "displayName": null }), "input.displayName"),
        (json!({ "username": "no" }), "input.username"),
        (json!({ "username": "bad name" }), "input.username"),
        (json!({ "username": "TAKEN" }), "input.username"),
        (
            json!({ "displayName": "Fine", "username": "x" }),
            "input.username",
        ),
    ];
    for (input, field) in cases {
        let body = app.gql(UPDATE, json!({ "input": input }), token).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(error_field(&body), field, "{input}: {body}");
    }
    // Nothing was written by the refused updates.
    let me = app
        .gql("{ me { username displayName } }", json!({}), token)
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "username": null, "displayName": "Test User" })
    );
    let anonymous = app
        .gql(UPDATE, json!({ "input": { "displayName": "X" } }), None)
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn change_password_ends_the_other_sessions(app: TestApp) {
    let first = app.signup("chpw@example.com").await;
    let second = login(&app, "chpw@example.com", PASSWORD, Some("phone")).await;
    let current = text(&second["accessToken"], "access");
    let body = app
        .gql(
            CHANGE,
            json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
            Some(current),
        )
        .await;
    assert_eq!(body["data"]["changePassword"], true, "{body}");
    // This session goes on; the other one ended at once.
    assert_eq!(me_or_code(&app, current).await, "chpw@example.com");
    assert_eq!(
        me_or_code(&app, text(&first["accessToken"], "access")).await,
        "UNAUTHENTICATED"
    );
    let refresh = app
        .gql(
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": first["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(error_code(&refresh), "UNAUTHENTICATED", "{refresh}");
    // The old password no longer works, the new one does.
    let old = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "chpw@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&old), "UNAUTHENTICATED", "{old}");
    login(&app, "chpw@example.com", NEW_PASSWORD, None).await;
}

async fn change_password_refuses_wrong_or_weak_passwords(app: TestApp) {
    let user = app.signup("weak@example.com").await;
    let token = user["accessToken"].as_str();
    let wrong = app
        .gql(
            CHANGE,
            json!({ "c": "not my password", "n": NEW_PASSWORD }),
            token,
        )
        .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT", "{wrong}");
    assert_eq!(error_field(&wrong), "currentPassword");
    let weak = app
        .gql(CHANGE, json!({ "c": PASSWORD, "n": "short" }), token)
        .await;
    assert_eq!(error_code(&weak), "BAD_USER_INPUT", "{weak}");
    assert_eq!(error_field(&weak), "newPassword");
    let anonymous = app
        .gql(CHANGE, json!({ "c": PASSWORD, "n": NEW_PASSWORD }), None)
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    // Nothing changed.
    login(&app, "weak@example.com", PASSWORD, None).await;
}

async fn delete_account_removes_everything(app: TestApp) {
    let user = app.signup("gone@example.com").await;
    let other_session = login(&app, "gone@example.com", PASSWORD, None).await;
    let token = user["accessToken"].as_str();
    let key = app
        .gql(
            "mutation { createApiKey(input: { name: \"ci\", scopes: [READ] }) { secret } }",
            json!({}),
            token,
        )
        .await;
    let secret = text(&key["data"]["createApiKey"]["secret"], "secret").to_owned();
    assert_eq!(me_or_code(&app, &secret).await, "gone@example.com");
    let bystander = app.signup("stays@example.com").await;

    let body = app.gql(DELETE, json!({ "p": PASSWORD }), token).await;
    assert_eq!(body["data"]["deleteAccount"], true, "{body}");
    for credential in [
        text(&user["accessToken"], "access"),
        text(&other_session["accessToken"], "access"),
        secret.as_str(),
    ] {
        assert_eq!(me_or_code(&app, credential).await, "UNAUTHENTICATED");
    }
    let relogin = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "gone@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&relogin), "UNAUTHENTICATED", "{relogin}");
    // The address is free again; the other user is untouched.
    app.signup("gone@example.com").await;
    assert_eq!(
        me_or_code(&app, text(&bystander["accessToken"], "access")).await,
        "stays@example.com"
    );
}

async fn delete_account_refuses_a_wrong_password(app: TestApp) {
    let user = app.signup("keep@example.com").await;
    let token = user["accessToken"].as_str();
    let body = app
        .gql(DELETE, json!({ "p": "wrong password!!" }), token)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_field(&body), "password");
    let anonymous = app.gql(DELETE, json!({ "p": PASSWORD }), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    assert_eq!(
        me_or_code(&app, text(&user["accessToken"], "access")).await,
        "keep@example.com"
    );
}
